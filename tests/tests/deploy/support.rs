//! The image's entry point as a child process, a minimal HTTP/1.1 client, a
//! `graphql-transport-ws` client, and SQL probes of the database.

use std::fs::File;
use std::io::Read as _;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use concierge_tests::Gql;
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::deploy;

/// How long a start may take: migrations, then the bootstrap's Argon2id hash at full cost.
const START_TIMEOUT: Duration = Duration::from_secs(120);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(50);

// ---------------------------------------------------------------------------------------------
// The binary
// ---------------------------------------------------------------------------------------------

/// The workspace's `concierge` binary, built once per test process (the shared harness).
pub async fn binary() -> PathBuf {
    concierge_tests::server::binary().await
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

// ---------------------------------------------------------------------------------------------
// The container, as a process
// ---------------------------------------------------------------------------------------------

/// A scratch directory (working directory, mailbox, logs), removed on drop.
pub struct Scratch(PathBuf);

impl Scratch {
    pub fn new() -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "concierge-deploy-{}-{}",
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

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// `deploy/entrypoint.sh serve` run as the image runs it: the image's environment (the
/// Dockerfile's ENV, listening on loopback here), `concierge` found on `PATH`, nothing
/// inherited. SIGKILLed if dropped while running.
pub struct Container {
    child: Child,
    pub addr: SocketAddr,
    log: PathBuf,
    pub binary: PathBuf,
}

impl Container {
    /// Starts the entry point with the image's environment plus `env`, without waiting.
    pub async fn spawn(scratch: &Scratch, name: &str, env: &[(&str, &str)]) -> Container {
        let binary = binary().await;
        let bin_dir = binary.parent().expect("the binary's directory");
        let addr: SocketAddr = format!("127.0.0.1:{}", free_port())
            .parse()
            .expect("an address");
        let log = scratch.path().join(format!("{name}.log"));
        let stdout = File::create(&log).expect("a log file");
        let stderr = stdout.try_clone().expect("the log file, again");
        let mut path = std::ffi::OsString::from(bin_dir);
        path.push(":/usr/local/bin:/usr/bin:/bin");
        let mut command = Command::new(deploy("entrypoint.sh"));
        command
            // The Dockerfile's CMD.
            .arg("serve")
            .env_clear()
            .env("PATH", path)
            // The Dockerfile's ENV (the address on loopback: a test opens no public port).
            .env("LISTEN_ADDR", addr.to_string())
            .env("APP_ENV", "production")
            .env("LOG_FORMAT", "json")
            .env("MAIL_DIR", scratch.path().join("mailbox"))
            .env("RUST_LOG", "info")
            .current_dir(scratch.path())
            .stdin(Stdio::null())
            .stdout(stdout)
            .stderr(stderr);
        for (key, value) in env {
            command.env(key, value);
        }
        let child = command
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run deploy/entrypoint.sh: {e}"));
        Container {
            child,
            addr,
            log,
            binary,
        }
    }

    /// Starts it and waits until `/healthz` answers 200.
    pub async fn start(scratch: &Scratch, name: &str, env: &[(&str, &str)]) -> Container {
        let mut container = Self::spawn(scratch, name, env).await;
        container.wait_until_healthy().await;
        container
    }

    pub async fn wait_until_healthy(&mut self) {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            if let Some(status) = self.child.try_wait().expect("the status") {
                panic!(
                    "the container exited at start with {status}:\n{}",
                    self.log()
                );
            }
            if let Ok(response) = self.request("GET", "/healthz", None, None).await
                && response.status == 200
            {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "/healthz did not answer within {START_TIMEOUT:?}:\n{}",
                self.log()
            );
            tokio::time::sleep(POLL).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// What the process wrote to stdout and stderr so far.
    pub fn log(&self) -> String {
        let mut text = String::new();
        let _ = File::open(&self.log).and_then(|mut f| f.read_to_string(&mut text));
        text
    }

    /// Sends SIGTERM (as `docker stop` and the kubelet do) to the process the entry point
    /// started as, and waits at most `within` for it to exit; returns its status and how long
    /// it took.
    pub async fn terminate(mut self, within: Duration) -> (ExitStatus, Duration) {
        let sent = Command::new("kill")
            .args(["-s", "TERM", &self.child.id().to_string()])
            .status()
            .expect("kill(1) runs");
        assert!(sent.success(), "kill -s TERM failed: {sent}");
        let started = Instant::now();
        loop {
            if let Some(status) = self.child.try_wait().expect("the status") {
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

    pub async fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<&Value>,
    ) -> std::io::Result<Response> {
        request(self.addr, method, path, token, body).await
    }

    /// A GraphQL operation over `POST /graphql`.
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let body = json!({"query": query, "variables": variables});
        let response = self
            .request("POST", "/graphql", token, Some(&body))
            .await
            .unwrap_or_else(|e| panic!("POST /graphql failed: {e}\n{}", self.log()));
        let value: Value = serde_json::from_slice(&response.body).unwrap_or_else(|e| {
            panic!(
                "POST /graphql answered {} with no JSON ({e}): {}",
                response.status,
                String::from_utf8_lossy(&response.body)
            )
        });
        Gql {
            data: value.get("data").cloned().unwrap_or(Value::Null),
            errors: value
                .get("errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Runs `deploy/healthcheck.sh` as Docker's HEALTHCHECK does, with `LISTEN_ADDR` set; its status.
pub fn run_healthcheck(listen_addr: &str) -> ExitStatus {
    Command::new(deploy("healthcheck.sh"))
        .env_clear()
        .env("PATH", "/usr/local/bin:/usr/bin:/bin")
        .env("LISTEN_ADDR", listen_addr)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("deploy/healthcheck.sh runs")
}

// ---------------------------------------------------------------------------------------------
// HTTP
// ---------------------------------------------------------------------------------------------

pub struct Response {
    pub status: u16,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 exchange with `Connection: close`.
pub async fn request(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    tokio::time::timeout(REQUEST_TIMEOUT, exchange(addr, method, path, token, body))
        .await
        .unwrap_or_else(|_| Err(std::io::Error::other("the request timed out")))
}

async fn exchange(
    addr: SocketAddr,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<&Value>,
) -> std::io::Result<Response> {
    let body = body.map(Value::to_string).unwrap_or_default();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nAccept: application/json\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\n",
        body.len()
    );
    if let Some(token) = token {
        head.push_str(&format!("Authorization: Bearer {token}\r\n"));
    }
    head.push_str("\r\n");
    let mut stream = TcpStream::connect(addr).await?;
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(body.as_bytes()).await?;
    let mut raw = Vec::new();
    stream.read_to_end(&mut raw).await?;
    parse_response(&raw)
}

fn parse_response(raw: &[u8]) -> std::io::Result<Response> {
    let invalid =
        |what: &str| std::io::Error::new(std::io::ErrorKind::InvalidData, what.to_owned());
    let split = raw
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .ok_or_else(|| invalid("no end of headers"))?;
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split_whitespace().nth(1))
        .and_then(|code| code.parse::<u16>().ok())
        .ok_or_else(|| invalid("no status line"))?;
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(n, v)| n == "transfer-encoding" && v.to_ascii_lowercase().contains("chunked"));
    let mut body = raw[split + 4..].to_vec();
    if chunked {
        let mut decoded = Vec::new();
        let mut rest = body.as_slice();
        loop {
            let end = rest
                .windows(2)
                .position(|w| w == b"\r\n")
                .ok_or_else(|| invalid("truncated chunk size"))?;
            let size_text = String::from_utf8_lossy(&rest[..end]).to_string();
            let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
                .map_err(|_| invalid("bad chunk size"))?;
            rest = &rest[end + 2..];
            if size == 0 {
                break;
            }
            if rest.len() < size + 2 {
                return Err(invalid("truncated chunk"));
            }
            decoded.extend_from_slice(&rest[..size]);
            rest = &rest[size + 2..];
        }
        body = decoded;
    }
    Ok(Response {
        status,
        headers,
        body,
    })
}

// ---------------------------------------------------------------------------------------------
// graphql-transport-ws
// ---------------------------------------------------------------------------------------------

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Opens `ws://addr/graphql` and completes `connection_init` (with a bearer token, or
/// anonymously), as graphql-ws clients and websocat do.
pub async fn subscribe_socket(addr: SocketAddr, token: Option<&str>) -> Socket {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (mut socket, _) = tokio_tungstenite::connect_async(request)
        .await
        .expect("WebSocket connect");
    let payload = match token {
        Some(token) => json!({"authorization": format!("Bearer {token}")}),
        None => json!({}),
    };
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": payload}),
    )
    .await;
    let ack = receive(&mut socket, Duration::from_secs(10))
        .await
        .expect("an answer to connection_init");
    assert_eq!(ack["type"], json!("connection_ack"), "{ack}");
    socket
}

pub async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next protocol message within `within` (pings answered, other frames skipped); `None`
/// when the socket closed or nothing came.
pub async fn receive(socket: &mut Socket, within: Duration) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    loop {
        let frame = tokio::time::timeout_at(deadline, socket.next())
            .await
            .ok()??;
        match frame.ok()? {
            Message::Text(text) => return serde_json::from_str(&text).ok(),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SQL probes
// ---------------------------------------------------------------------------------------------

#[derive(QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

#[derive(QueryableByName)]
struct Name {
    #[diesel(sql_type = Nullable<Text>)]
    name: Option<String>,
}

async fn connect(url: &str) -> AsyncPgConnection {
    AsyncPgConnection::establish(url)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database: {e}"))
}

/// How many migrations diesel recorded as applied; `None` when its table does not exist.
pub async fn applied_migrations(url: &str) -> Option<i64> {
    let mut conn = connect(url).await;
    let table: Name =
        diesel::sql_query("SELECT to_regclass('__diesel_schema_migrations')::text AS name")
            .get_result(&mut conn)
            .await
            .expect("to_regclass");
    table.name?;
    let count: Count = diesel::sql_query("SELECT count(*) AS n FROM __diesel_schema_migrations")
        .get_result(&mut conn)
        .await
        .expect("count migrations");
    Some(count.n)
}

/// Whether an extension is installed in the database.
pub async fn has_extension(url: &str, extension: &str) -> bool {
    let mut conn = connect(url).await;
    let count: Count =
        diesel::sql_query("SELECT count(*) AS n FROM pg_extension WHERE extname = $1")
            .bind::<Text, _>(extension)
            .get_result(&mut conn)
            .await
            .expect("pg_extension");
    count.n == 1
}

/// The connections to database `name` that carry `application_name`.
pub async fn connections_named(url: &str, database: &str, application_name: &str) -> i64 {
    let mut conn = connect(url).await;
    let count: Count = diesel::sql_query(
        "SELECT count(*) AS n FROM pg_stat_activity WHERE datname = $1 AND application_name = $2",
    )
    .bind::<Text, _>(database)
    .bind::<Text, _>(application_name)
    .get_result(&mut conn)
    .await
    .expect("pg_stat_activity");
    count.n
}

/// The number of migrations the binary embeds: the folders of storage-postgres/migrations.
pub fn embedded_migrations() -> i64 {
    let dir = crate::workspace().join("storage-postgres/migrations");
    let count = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(Result::ok)
        .filter(|e| e.path().join("up.sql").is_file())
        .count();
    i64::try_from(count).expect("a small number")
}
