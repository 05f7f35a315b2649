//! The image's entry point as a child process (on the shared harness's `Server` and HTTP
//! client), a `graphql-transport-ws` client, and SQL probes of the database.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::{Command, ExitStatus, Stdio};
use std::time::Duration;

pub use concierge_tests::server::{Scratch, free_port};
use concierge_tests::server::{Server, binary, free_address};
use diesel::QueryableByName;
use diesel::sql_types::{BigInt, Nullable, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

use crate::deploy;

/// How long a start may take: migrations, then the bootstrap's Argon2id hash at full cost.
const START_TIMEOUT: Duration = Duration::from_secs(120);

// ---------------------------------------------------------------------------------------------
// The container, as a process
// ---------------------------------------------------------------------------------------------

/// The image's entry point running as a process (the shared harness's [`Server`]), and the
/// binary it found on `PATH`.
pub struct Container {
    server: Server,
    pub binary: PathBuf,
}

impl std::ops::Deref for Container {
    type Target = Server;
    fn deref(&self) -> &Server {
        &self.server
    }
}

impl Container {
    /// Starts the entry point with the image's environment plus `env`, without waiting.
    pub async fn spawn(scratch: &Scratch, name: &str, env: &[(&str, &str)]) -> Container {
        let binary = binary().await;
        let bin_dir = binary.parent().expect("the binary's directory");
        let addr = free_address();
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
            .current_dir(scratch.path());
        for (key, value) in env {
            command.env(key, value);
        }
        Container {
            server: Server::spawn(command, addr, scratch, name),
            binary,
        }
    }

    /// Starts it and waits until `/healthz` answers 200.
    pub async fn start(scratch: &Scratch, name: &str, env: &[(&str, &str)]) -> Container {
        let mut container = Self::spawn(scratch, name, env).await;
        container.wait_until_healthy().await;
        container
    }

    /// Waits until `/healthz` answers 200 (migrations, then the bootstrap's Argon2id hash at
    /// full cost, may come first).
    pub async fn wait_until_healthy(&mut self) {
        self.server.wait_until_healthy(START_TIMEOUT).await;
    }

    /// Sends SIGTERM (as `docker stop` and the kubelet do) to the process the entry point
    /// started as, and waits at most `within` for it to exit; returns its status and how long
    /// it took.
    pub async fn terminate(self, within: Duration) -> (ExitStatus, Duration) {
        self.server.terminate_timed(within).await
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
