//! The real `concierge` binary as a child process on PostgreSQL, talked to over HTTP
//! (`crate::http`): for the tests that need a whole server (restart, shutdown, several replicas
//! on one database, the image's entry point).
//!
//! Which binary: `CARGO_BIN_EXE_concierge` exists only for tests of the package that owns the
//! binary (`concierge-api`), and a path guessed from `current_exe()` may hold a stale binary (a
//! `cargo test -p concierge-tests` after editing `api/` does not rebuild it) or none at all. So
//! the test asks cargo for it, as `escargot` does: `cargo build -p concierge-api --bin
//! concierge --message-format=json` with the cargo running the tests (`$CARGO`), the same profile
//! and target directory as this test binary (read from `current_exe()`), and takes the
//! executable's path from cargo's `compiler-artifact` message. Under `cargo test --workspace` the
//! binary is already built and the call is a no-op of a fraction of a second; cargo holds no lock
//! while tests run, so this cannot deadlock.

use std::fs::File;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::Gql;
use crate::http::{self, Response};

pub const OPERATOR_EMAIL: &str = "operator@server.test";
pub const OPERATOR_PASSWORD: &str = "operator-password-1";
/// The keys every server started here shares: a token one of them issues, another accepts.
pub const JWT_SECRET: &str = "server-tests-jwt-secret";
pub const CODE_PEPPER: &str = "server-tests-pepper";
/// How long a start may take (migrations, bootstrap) before the test fails.
pub const START_TIMEOUT: Duration = Duration::from_secs(60);
/// Pause between two polls of a process or an endpoint.
const POLL: Duration = Duration::from_millis(50);

static BINARY: OnceLock<PathBuf> = OnceLock::new();

/// The `concierge` executable, built (or found up to date) by cargo once per test process.
pub async fn binary() -> PathBuf {
    if let Some(path) = BINARY.get() {
        return path.clone();
    }
    let path = tokio::task::spawn_blocking(build_binary)
        .await
        .expect("the build thread");
    BINARY.get_or_init(|| path).clone()
}

fn build_binary() -> PathBuf {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tests crate lives in the workspace");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut command = Command::new(cargo);
    command
        .arg("build")
        .arg("--manifest-path")
        .arg(workspace.join("Cargo.toml"))
        .args(["-p", "concierge-api", "--bin", "concierge"])
        .arg("--message-format=json-render-diagnostics");
    // This test binary is `<target dir>/<profile dir>/deps/<name>-<hash>`: build into the same
    // target directory with the same profile, so that a workspace build is reused as is.
    let exe = std::env::current_exe().expect("the test binary's path");
    if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
        match profile_dir.file_name().and_then(|n| n.to_str()) {
            Some("debug") | None => {}
            Some("release") => {
                command.arg("--release");
            }
            Some(profile) => {
                command.args(["--profile", profile]);
            }
        }
        if let Some(target_dir) = profile_dir.parent() {
            command.arg("--target-dir").arg(target_dir);
        }
    }
    // Cargo describes the package under test to this process (`CARGO_MANIFEST_DIR`,
    // `CARGO_PKG_NAME`…); build scripts that watch those variables (ring's) would take them for a
    // change and rebuild half the workspace. The nested cargo gets the environment of a shell.
    for (key, _) in std::env::vars_os() {
        let Some(key) = key.to_str() else { continue };
        if key.starts_with("CARGO_PKG_")
            || [
                "CARGO_MANIFEST_DIR",
                "CARGO_MANIFEST_PATH",
                "CARGO_MANIFEST_LINKS",
                "CARGO_CRATE_NAME",
                "CARGO_BIN_NAME",
                "CARGO_PRIMARY_PACKAGE",
                "CARGO_TARGET_TMPDIR",
                "OUT_DIR",
            ]
            .contains(&key)
        {
            command.env_remove(key);
        }
    }
    let output = command
        .stdin(Stdio::null())
        .output()
        .expect("cargo runs (is it on PATH, or $CARGO set?)");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "cargo could not build the concierge binary: {}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| {
            message["reason"] == json!("compiler-artifact")
                && message["target"]["name"] == json!("concierge")
        })
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .unwrap_or_else(|| panic!("cargo named no concierge executable:\n{stdout}"))
}

/// A port nobody listens on right now: bound to port 0, read, released.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// A loopback address on a [`free_port`].
pub fn free_address() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], free_port()))
}

/// A scratch directory (the server's working directory and mailbox, its logs), removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "concierge-server-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(path.join("mailbox")).expect("a scratch directory");
        Scratch(path)
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Default for Scratch {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether a start creates the platform operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bootstrap {
    /// `BOOTSTRAP_ADMIN_EMAIL` and `BOOTSTRAP_ADMIN_PASSWORD` set to [`OPERATOR_EMAIL`] and
    /// [`OPERATOR_PASSWORD`].
    Operator,
    /// Neither variable set.
    Nothing,
}

/// A running server process (`concierge serve`, or the image's entry point), its output in a
/// log file of its scratch directory. Killed (SIGKILL) if dropped while still running, so a
/// failing test never leaves a server behind.
pub struct Server {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    /// Starts the binary on `database_url` with a fixed configuration, creating the platform
    /// operator ([`OPERATOR_EMAIL`]) if absent, and waits until `/healthz` answers. `run` names
    /// the start (its log file) within `scratch`.
    pub async fn start(database_url: &str, scratch: &Scratch, run: &str) -> Server {
        Self::launch(database_url, scratch, run, Bootstrap::Operator).await
    }

    /// As [`Server::start`], with or without the bootstrap of the operator (a second replica
    /// leaves it to the first).
    pub async fn launch(
        database_url: &str,
        scratch: &Scratch,
        run: &str,
        bootstrap: Bootstrap,
    ) -> Server {
        Self::launch_with(database_url, scratch, run, bootstrap, &[]).await
    }

    /// As [`Server::launch`], with extra environment (e.g. `RUST_LOG=debug`) set last.
    pub async fn launch_with(
        database_url: &str,
        scratch: &Scratch,
        run: &str,
        bootstrap: Bootstrap,
        extra_env: &[(&str, &str)],
    ) -> Server {
        let binary = binary().await;
        let addr = free_address();
        // Only what this test sets: nothing inherited (CONFIG_FILE, SMTP_URL…) changes the run.
        let mut command = Command::new(&binary);
        command
            .arg("serve")
            .env_clear()
            .env("DATABASE_URL", database_url)
            .env("LISTEN_ADDR", addr.to_string())
            .env("ARGON2_COST", "fast-insecure")
            .env("JWT_SECRET", JWT_SECRET)
            .env("CODE_PEPPER", CODE_PEPPER)
            .env("MAIL_DIR", scratch.path().join("mailbox"))
            .env("RUST_LOG", "info")
            .current_dir(scratch.path());
        if bootstrap == Bootstrap::Operator {
            command
                .env("BOOTSTRAP_ADMIN_EMAIL", OPERATOR_EMAIL)
                .env("BOOTSTRAP_ADMIN_PASSWORD", OPERATOR_PASSWORD);
        }
        command.envs(extra_env.iter().copied());
        let mut server = Server::spawn(command, addr, scratch, run);
        server.wait_until_healthy(START_TIMEOUT).await;
        server
    }

    /// Runs `command`, which must serve HTTP at `addr`, with its output to `<run>.log` in
    /// `scratch`; does not wait for it to answer.
    pub fn spawn(mut command: Command, addr: SocketAddr, scratch: &Scratch, run: &str) -> Server {
        let log = scratch.path().join(format!("{run}.log"));
        let stdout = File::create(&log).expect("a log file");
        let stderr = stdout.try_clone().expect("the log file, again");
        let child = command
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start {:?}: {e}", command.get_program()));
        Server { child, addr, log }
    }

    /// Waits until `/healthz` answers 200; fails the test if the process exits first or
    /// `within` passes.
    pub async fn wait_until_healthy(&mut self, within: Duration) {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                panic!("the server exited at start with {status}:\n{}", self.log());
            }
            if let Ok(response) = self.request("GET", "/healthz", None, None).await
                && response.status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/healthz did not answer within {within:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the server wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        let _ = File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Sends SIGTERM and waits at most `within` for the process to exit; returns its status.
    pub async fn terminate(self, within: Duration) -> ExitStatus {
        self.terminate_timed(within).await.0
    }

    /// As [`Server::terminate`], with how long the process took to exit.
    pub async fn terminate_timed(mut self, within: Duration) -> (ExitStatus, Duration) {
        let sent = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -s TERM failed: {sent}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the server's status") {
                return (status, started.elapsed());
            }
            assert!(
                started.elapsed() < within,
                "the server did not exit within {within:?} of SIGTERM:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    /// One HTTP exchange with the server.
    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<Response> {
        http::request(self.addr, method, path, token, body).await
    }

    /// A GraphQL operation over `POST /graphql`, as a client sees it; the test fails (with the
    /// server's log) if no GraphQL response comes.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        http::gql(self.addr, token, query, variables)
            .await
            .unwrap_or_else(|e| panic!("POST /graphql failed: {e}\n{}", self.log()))
    }

    /// Signs in; returns the access token.
    pub async fn login(&self, login: &str, password: &str) -> String {
        let r = self
            .gql(
                None,
                "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
                json!({"l": login, "p": password}),
            )
            .await;
        r.ok()["login"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    /// Signs in with a temporary password and changes it to `new_password`, as a newcomer must;
    /// returns the new session's access token.
    pub async fn first_sign_in(&self, login: &str, temporary: &str, new_password: &str) -> String {
        let token = self.login(login, temporary).await;
        let r = self
            .gql(
                Some(&token),
                "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { accessToken } }",
                json!({"c": temporary, "n": new_password}),
            )
            .await;
        r.ok()["changePassword"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}
