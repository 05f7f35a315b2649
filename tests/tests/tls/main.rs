//! PostgreSQL over TLS (`sslmode` in `DATABASE_URL`, storage-postgres/src/tls.rs), against a
//! throwaway server that each test starts for itself: `initdb` in a temporary directory, `ssl=on`
//! with a server certificate signed by a CA made for the test (the `openssl` command), and
//! `pg_hba.conf` accepting TCP connections over TLS only (`hostssl`). The server is stopped and
//! its directory removed by a guard, even when the test fails. Without PostgreSQL's binaries the
//! tests fail saying what to install; they never skip.
//!
//! - `verify-full` with the test CA: migrations, the store's pool, its booking-event listener and
//!   the real `concierge` binary (root from `PGSSLROOTCERT`) all work over TLS.
//! - `require` encrypts without checking the certificate; `verify-full` with another CA fails
//!   saying the certificate was refused, without the URL's password; `disable` is refused by a
//!   server that wants TLS, with the setting to change.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concierge_domain::storage::Storage;
use concierge_storage_postgres::{PgStore, run_migrations};
use concierge_tests::bookings::{book, floor, iso, tomorrow};
use concierge_tests::server::{Bootstrap, Scratch, Server};
use concierge_tests::{OPERATOR_EMAIL, OPERATOR_PASSWORD, TestApp};
use serde_json::json;

/// A password in every URL: no error message may repeat it (the server trusts, ignoring it).
const PASSWORD: &str = "pw-that-must-not-leak";

static NEXT: AtomicUsize = AtomicUsize::new(0);

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The newest `/usr/lib/postgresql/<version>/bin` that has `initdb`.
fn postgres_binaries() -> PathBuf {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            let bin = entry.path().join("bin");
            bin.join("initdb").exists().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, bin)| bin).unwrap_or_else(|| {
        panic!(
            "no initdb under /usr/lib/postgresql/*/bin: these tests start a PostgreSQL server of \
             their own. Install PostgreSQL (Debian/Ubuntu: apt-get install -y postgresql \
             postgresql-contrib), or run ./scripts/test, which installs it"
        )
    })
}

/// A throwaway PostgreSQL with `ssl=on` that accepts TLS connections only; stopped and removed
/// when dropped.
struct TlsServer {
    dir: PathBuf,
    bin: PathBuf,
    port: u16,
    root: bool,
}

impl TlsServer {
    fn start() -> TlsServer {
        let bin = postgres_binaries();
        let root = is_root();
        let dir = std::env::temp_dir().join(format!(
            "concierge-tls-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        // From here on the guard removes it, whatever fails.
        let server = TlsServer {
            dir,
            bin,
            port: free_port(),
            root,
        };
        if root {
            // initdb and the server refuse to run as root: the `postgres` user does it all.
            server.run("chmod", &["755", server.path("")]);
            let owned = Command::new("chown")
                .args(["postgres", server.path("")])
                .status();
            assert!(
                owned.is_ok_and(|s| s.success()),
                "cannot give {} to the `postgres` user (running as root, the server runs as \
                 `postgres`, which the postgresql package creates)",
                server.dir.display()
            );
        }
        server.make_certificates();
        let initdb = server.bin.join("initdb");
        server.as_postgres(
            initdb.to_str().expect("a UTF-8 path"),
            &[
                "-D",
                server.path("data"),
                "-U",
                "postgres",
                "--auth=trust",
                "--no-sync",
            ],
        );
        // TCP over TLS only (and the Unix socket, local to the test).
        server.as_postgres(
            "sh",
            &[
                "-c",
                &format!(
                    "printf 'local all all trust\\nhostssl all all 127.0.0.1/32 trust\\n' > {}",
                    server.path("data/pg_hba.conf")
                ),
            ],
        );
        let options = format!(
            "-p {} -k {} -c listen_addresses=127.0.0.1 -c ssl=on -c ssl_cert_file={} -c \
             ssl_key_file={} -c fsync=off",
            server.port,
            server.path(""),
            server.path("server.pem"),
            server.path("server.key"),
        );
        let pg_ctl = server.bin.join("pg_ctl");
        server.as_postgres(
            pg_ctl.to_str().expect("a UTF-8 path"),
            &[
                "-D",
                server.path("data"),
                "-o",
                &options,
                "-l",
                server.path("log"),
                "-w",
                "start",
            ],
        );
        server
    }

    fn path(&self, name: &str) -> &'static str {
        // Leaked: a handful of short strings per test, for tidy argument lists.
        Box::leak(
            self.dir
                .join(name)
                .to_str()
                .expect("a UTF-8 path")
                .to_owned()
                .into_boxed_str(),
        )
    }

    /// Two CAs (the server's and another one) and the server's certificate, valid for
    /// `localhost` and 127.0.0.1, signed by the first.
    fn make_certificates(&self) {
        let ca = |name: &str, subject: &str| {
            self.as_postgres(
                "openssl",
                &[
                    "req",
                    "-x509",
                    "-newkey",
                    "ec",
                    "-pkeyopt",
                    "ec_paramgen_curve:prime256v1",
                    "-nodes",
                    "-days",
                    "2",
                    "-subj",
                    subject,
                    "-addext",
                    "basicConstraints=critical,CA:TRUE",
                    "-addext",
                    "keyUsage=critical,keyCertSign,cRLSign",
                    "-keyout",
                    self.path(&format!("{name}.key")),
                    "-out",
                    self.path(&format!("{name}.pem")),
                ],
            )
        };
        ca("ca", "/CN=Concierge test CA");
        ca("other-ca", "/CN=Some other CA");
        self.as_postgres(
            "openssl",
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-subj",
                "/CN=localhost",
                "-keyout",
                self.path("server.key"),
                "-out",
                self.path("server.csr"),
            ],
        );
        self.as_postgres(
            "sh",
            &[
                "-c",
                &format!(
                    "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n\
                     keyUsage=critical,digitalSignature\\nextendedKeyUsage=serverAuth\\n' > {}",
                    self.path("server.ext")
                ),
            ],
        );
        self.as_postgres(
            "openssl",
            &[
                "x509",
                "-req",
                "-in",
                self.path("server.csr"),
                "-CA",
                self.path("ca.pem"),
                "-CAkey",
                self.path("ca.key"),
                "-CAcreateserial",
                "-days",
                "2",
                "-extfile",
                self.path("server.ext"),
                "-out",
                self.path("server.pem"),
            ],
        );
        // The server refuses a key that others may read.
        self.as_postgres("chmod", &["600", self.path("server.key")]);
    }

    /// Runs `program` (as the `postgres` user when this process is root); fails the test with
    /// its output if it fails.
    fn as_postgres(&self, program: &str, args: &[&str]) {
        if self.root {
            let mut all = vec!["-u", "postgres", "--", program];
            all.extend_from_slice(args);
            self.run("runuser", &all);
        } else {
            self.run(program, args);
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = Command::new(program)
            .args(args)
            .current_dir(&self.dir)
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run {program}: {e} (these tests need PostgreSQL's binaries and the \
                     openssl command: apt-get install -y postgresql openssl)"
                )
            });
        assert!(
            out.status.success(),
            "{program} {args:?} failed ({}):\n{}{}\nserver log:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
        );
    }

    /// The server's URL with `query` (e.g. `sslmode=require`).
    fn url(&self, query: &str) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres?{query}",
            self.port
        )
    }

    fn ca(&self) -> &'static str {
        self.path("ca.pem")
    }

    fn other_ca(&self) -> &'static str {
        self.path("other-ca.pem")
    }
}

impl Drop for TlsServer {
    fn drop(&mut self) {
        let pg_ctl = self.bin.join("pg_ctl");
        let data = self.dir.join("data");
        let mut command = if self.root {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(pg_ctl);
            c
        } else {
            Command::new(pg_ctl)
        };
        if data.join("postmaster.pid").exists() {
            let stopped = command
                .arg("-D")
                .arg(&data)
                .args(["-m", "immediate", "-w", "stop"])
                .output();
            if !stopped.is_ok_and(|out| out.status.success()) {
                eprintln!(
                    "could not stop the TLS test server in {}",
                    self.dir.display()
                );
            }
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .expect("a free port")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_full_with_the_servers_ca_serves_the_store_its_events_and_the_binary() {
    let server = TlsServer::start();
    let url = server.url(&format!("sslmode=verify-full&sslrootcert={}", server.ca()));

    run_migrations(&url)
        .await
        .unwrap_or_else(|e| panic!("migrations over verify-full: {e}"));
    let store = PgStore::connect(&url, 4)
        .await
        .unwrap_or_else(|e| panic!("the store over verify-full: {e}"));
    let mut events = store.booking_events();

    // A booking made through the API lands in the database and comes back as an event through
    // the listener's own TLS connection.
    let app = TestApp::on_storage(Arc::new(store.clone())).await;
    let place = floor(&app, "Tls").await;
    let booked = book(
        &app,
        &place.booker_token,
        json!({"roomId": place.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0)),
            "title": "Over TLS"}),
    )
    .await;
    booked.ok();
    let event = tokio::time::timeout(Duration::from_secs(15), events.recv())
        .await
        .expect("the booking event arrives over the listener's TLS connection")
        .expect("an event");
    assert_eq!(event.booking.title.as_deref(), Some("Over TLS"));

    // Every connection above was encrypted: the server accepts TCP connections over TLS only.

    // The real binary: sslmode in the URL, the root from PGSSLROOTCERT, migrations at start.
    let scratch = Scratch::new();
    let binary = Server::launch_with(
        &server.url("sslmode=verify-full"),
        &scratch,
        "tls",
        Bootstrap::Operator,
        &[("PGSSLROOTCERT", server.ca())],
    )
    .await;
    let token = binary.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    assert!(!token.is_empty());
    let log = binary.log();
    assert!(
        !log.contains(PASSWORD),
        "the server's log shows the password:\n{log}"
    );
    drop(binary);
    drop(app);
    drop(store);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn require_encrypts_and_a_wrong_ca_or_no_tls_fails_clearly() {
    let server = TlsServer::start();

    // require: encrypted, the certificate (signed by a CA nobody trusts here) is not checked.
    let store = PgStore::connect(&server.url("sslmode=require"), 2)
        .await
        .unwrap_or_else(|e| panic!("sslmode=require: {e}"));
    store.ping().await.expect("a query over sslmode=require");
    drop(store);
    // prefer (libpq's default, and ours without sslmode) takes the TLS the server offers.
    let store = PgStore::connect(&server.url("application_name=tls-test"), 2)
        .await
        .unwrap_or_else(|e| panic!("without sslmode (prefer): {e}"));
    store.ping().await.expect("a query without sslmode");
    drop(store);

    // verify-full with another CA: the certificate is refused, and the error says so.
    let wrong = server.url(&format!(
        "sslmode=verify-full&sslrootcert={}",
        server.other_ca()
    ));
    let error = PgStore::connect(&wrong, 2)
        .await
        .err()
        .map(|e| e.to_string())
        .expect("verify-full with another CA must fail");
    assert!(
        error.contains("TLS certificate was refused") && error.contains("other-ca.pem"),
        "the error does not say the certificate is wrong: {error}"
    );
    println!("verify-full with another CA: {error}");
    assert!(
        !error.contains(PASSWORD),
        "the error shows the password: {error}"
    );
    let error = run_migrations(&wrong)
        .await
        .err()
        .map(|e| e.to_string())
        .expect("migrations with another CA must fail");
    assert!(error.contains("TLS certificate was refused"), "{error}");
    assert!(!error.contains(PASSWORD), "{error}");

    // verify-ca with the right CA passes (same chain check, host name not compared).
    let store = PgStore::connect(
        &server.url(&format!("sslmode=verify-ca&sslrootcert={}", server.ca())),
        2,
    )
    .await
    .unwrap_or_else(|e| panic!("sslmode=verify-ca: {e}"));
    store.ping().await.expect("a query over verify-ca");
    drop(store);

    // disable against a server that accepts TLS connections only.
    let error = PgStore::connect(&server.url("sslmode=disable"), 2)
        .await
        .err()
        .map(|e| e.to_string())
        .expect("sslmode=disable must be refused by a hostssl-only server");
    assert!(
        error.contains("no encryption") && error.contains("sslmode=require"),
        "the refusal does not say TLS is needed: {error}"
    );
    println!("disable against hostssl: {error}");
    assert!(!error.contains(PASSWORD), "{error}");
}
