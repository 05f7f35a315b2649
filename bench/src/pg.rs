//! PostgreSQL for the run: a fresh database (created, migrated, dropped at the end), a plain
//! deadpool/diesel-async pool for the hand-written ceilings, and a loopback proxy that counts
//! the statements a store sends.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use concierge_storage_postgres::{LISTENER_APPLICATION_NAME, run_migrations};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::SimpleAsyncConnection as _;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "concierge_bench_";

pub type PgPool = Pool<AsyncPgConnection>;

/// The server URL of the run (`DATABASE_URL`, else the local default).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// This run's own database; [`BenchDatabase::drop_now`] removes it.
pub struct BenchDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl BenchDatabase {
    /// Creates and migrates `concierge_bench_<pid>` on the server at `admin_url`, after dropping
    /// the databases of earlier runs whose process is gone.
    pub async fn create(admin_url: &str) -> Result<Self, String> {
        let mut admin = connect(admin_url).await?;
        sweep_stale(&mut admin).await;
        let name = format!("{PREFIX}{}", std::process::id());
        // Two statements: neither may run inside a (multi-statement) transaction block.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .map_err(|e| format!("cannot create database {name}: {e}"))?;
        }
        let url = with_database(admin_url, &name);
        let database = BenchDatabase {
            name,
            url,
            admin_url: admin_url.to_owned(),
        };
        if let Err(error) = run_migrations(&database.url).await {
            database.drop_now().await;
            return Err(format!("migrations failed: {error}"));
        }
        Ok(database)
    }

    /// Drops the database (ending whatever connection is still open on it).
    pub async fn drop_now(&self) {
        let dropped = async {
            let mut admin = connect(&self.admin_url).await?;
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await
                .map_err(|e| e.to_string())
        };
        match dropped.await {
            Ok(()) => eprintln!("dropped database {}", self.name),
            Err(error) => eprintln!("could not drop database {}: {error}", self.name),
        }
    }
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn sweep_stale(admin: &mut AsyncPgConnection) {
    // Scoped: `RunQueryDsl::load` would shadow `AtomicU64::load` in this module.
    use diesel_async::RunQueryDsl as _;
    let Ok(names) = diesel::sql_query("SELECT datname::text AS datname FROM pg_database")
        .load::<DatabaseName>(admin)
        .await
    else {
        return;
    };
    for DatabaseName { datname } in names {
        let Some(pid) = datname
            .strip_prefix(PREFIX)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {datname}"))
                .await;
        }
    }
}

pub async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(format!(
            "PostgreSQL unreachable at {}: {error}",
            redact(url)
        )),
        Err(_) => Err(format!(
            "PostgreSQL unreachable at {}: timed out",
            redact(url)
        )),
    }
}

/// A pool like the store's (same size), for the hand-written ceilings.
pub fn pool(url: &str, size: usize) -> Result<PgPool, String> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| format!("pool: {e}"))
}

/// `url` with its database (the path) replaced, query parameters kept.
pub fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The `host:port` of a URL and the URL with that part replaced by `replacement`; `None` when the
/// URL names no TCP host (a Unix socket in the query, say).
fn split_host(url: &str, replacement: &str) -> Option<(String, String)> {
    let authority_start = url.find("://")? + 3;
    let rest = &url[authority_start..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let host_port = &authority[host_start..];
    if host_port.is_empty() || url.contains("host=") {
        return None;
    }
    let target = if host_port.contains(':') {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    };
    let replaced = format!(
        "{}{}{}",
        &url[..authority_start + host_start],
        replacement,
        &rest[authority_end..]
    );
    Some((target, replaced))
}

/// `url` with `sslmode=disable`, replacing any `sslmode` it had.
fn without_tls(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("sslmode="))
        .collect();
    params.push("sslmode=disable");
    format!("{base}?{}", params.join("&"))
}

fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..])
        }
        _ => url.to_owned(),
    }
}

/// Frontend messages seen by the proxy, split by connection kind.
#[derive(Debug, Default)]
pub struct Counters {
    /// Execute ('E') and simple Query ('Q') messages on pool connections: statements run.
    pub statements: AtomicU64,
    /// Sync ('S') and simple Query messages on pool connections: round trips that wait.
    pub round_trips: AtomicU64,
    /// Parse ('P') messages on pool connections: statements prepared (not found in a cache).
    pub parses: AtomicU64,
    /// Statements on the booking-event listener's connection.
    pub listener_statements: AtomicU64,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub statements: u64,
    pub round_trips: u64,
    pub parses: u64,
    pub listener_statements: u64,
}

impl Counters {
    pub fn snapshot(&self) -> Counts {
        Counts {
            statements: self.statements.load(Ordering::SeqCst),
            round_trips: self.round_trips.load(Ordering::SeqCst),
            parses: self.parses.load(Ordering::SeqCst),
            listener_statements: self.listener_statements.load(Ordering::SeqCst),
        }
    }
}

impl std::ops::Sub for Counts {
    type Output = Counts;
    fn sub(self, rhs: Counts) -> Counts {
        Counts {
            statements: self.statements - rhs.statements,
            round_trips: self.round_trips - rhs.round_trips,
            parses: self.parses - rhs.parses,
            listener_statements: self.listener_statements - rhs.listener_statements,
        }
    }
}

/// A loopback TCP proxy in front of PostgreSQL that reads the frontend protocol messages going
/// to the server (type byte and length; the bytes are forwarded untouched) and counts them.
pub struct CountingProxy {
    /// The database URL through the proxy.
    pub url: String,
    pub counters: Arc<Counters>,
    task: tokio::task::JoinHandle<()>,
}

impl CountingProxy {
    pub async fn start(url: &str) -> Result<Self, String> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| format!("proxy: {e}"))?;
        let local = listener.local_addr().map_err(|e| format!("proxy: {e}"))?;
        let (target, proxied) = split_host(url, &local.to_string())
            .ok_or_else(|| "DATABASE_URL names no TCP host: statements not counted".to_owned())?;
        let counters = Arc::new(Counters::default());
        let shared = Arc::clone(&counters);
        let task = tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let (target, counters) = (target.clone(), Arc::clone(&shared));
                tokio::spawn(async move {
                    if let Ok(server) = TcpStream::connect(&target).await {
                        let _ = client.set_nodelay(true);
                        let _ = server.set_nodelay(true);
                        relay(client, server, counters).await;
                    }
                });
            }
        });
        Ok(CountingProxy {
            // The proxy reads the protocol, so its clients must not encrypt (it is loopback).
            url: without_tls(&proxied),
            counters,
            task,
        })
    }
}

impl CountingProxy {
    /// One statement sent through the proxy must count as one (round trips vary: an unnamed
    /// statement is parsed and described before it is bound and executed).
    pub async fn self_check(&self) -> Result<(), String> {
        use diesel_async::RunQueryDsl as _;
        let mut conn = connect(&self.url).await?;
        let before = self.counters.snapshot();
        diesel::sql_query("SELECT 1")
            .execute(&mut conn)
            .await
            .map_err(|e| format!("proxy self-check: {e}"))?;
        let counted = self.counters.snapshot() - before;
        if counted.statements == 1 {
            Ok(())
        } else {
            Err(format!(
                "proxy self-check: one statement counted as {}",
                counted.statements
            ))
        }
    }
}

impl Drop for CountingProxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn relay(client: TcpStream, server: TcpStream, counters: Arc<Counters>) {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let downstream = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
        let _ = client_write.shutdown().await;
    });
    let mut parser = FrontendParser::default();
    let mut buffer = vec![0u8; 64 * 1024];
    loop {
        let read = match client_read.read(&mut buffer).await {
            Ok(0) | Err(_) => break,
            Ok(read) => read,
        };
        parser.feed(&buffer[..read], &counters);
        if server_write.write_all(&buffer[..read]).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = downstream.await;
}

/// Splits the client-to-server byte stream into protocol messages.
#[derive(Default)]
struct FrontendParser {
    pending: Vec<u8>,
    /// After the StartupMessage every message starts with a type byte.
    started: bool,
    /// The connection is the booking-event listener's (it names itself in its first query).
    listener: bool,
}

const PROTOCOL_3: u32 = 196_608;

impl FrontendParser {
    fn feed(&mut self, bytes: &[u8], counters: &Counters) {
        self.pending.extend_from_slice(bytes);
        let mut at = 0;
        loop {
            let rest = &self.pending[at..];
            if !self.started {
                // Untyped: length (4, itself included) then a code (SSLRequest, StartupMessage…).
                if rest.len() < 8 {
                    break;
                }
                let length = u32::from_be_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
                if rest.len() < length {
                    break;
                }
                let code = u32::from_be_bytes([rest[4], rest[5], rest[6], rest[7]]);
                self.started = code == PROTOCOL_3;
                at += length.max(8);
                continue;
            }
            if rest.len() < 5 {
                break;
            }
            let kind = rest[0];
            let length = u32::from_be_bytes([rest[1], rest[2], rest[3], rest[4]]) as usize;
            if rest.len() < 1 + length {
                break;
            }
            if kind == b'Q' && !self.listener {
                let text = &rest[5..1 + length];
                let name = LISTENER_APPLICATION_NAME.as_bytes();
                self.listener = text.windows(name.len()).any(|w| w == name);
            }
            let (statement, round_trip) = match kind {
                b'Q' => (true, true),
                b'E' => (true, false),
                b'S' => (false, true),
                _ => (false, false),
            };
            if self.listener {
                if statement {
                    counters.listener_statements.fetch_add(1, Ordering::SeqCst);
                }
            } else {
                if statement {
                    counters.statements.fetch_add(1, Ordering::SeqCst);
                }
                if round_trip {
                    counters.round_trips.fetch_add(1, Ordering::SeqCst);
                }
                if kind == b'P' {
                    counters.parses.fetch_add(1, Ordering::SeqCst);
                }
            }
            at += 1 + length.max(4);
        }
        self.pending.drain(..at);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            split_host("postgres://u:p@db:6543/x?sslmode=disable", "127.0.0.1:9"),
            Some((
                "db:6543".to_owned(),
                "postgres://u:p@127.0.0.1:9/x?sslmode=disable".to_owned()
            ))
        );
        assert_eq!(
            split_host("postgres://localhost/x", "127.0.0.1:9"),
            Some((
                "localhost:5432".to_owned(),
                "postgres://127.0.0.1:9/x".to_owned()
            ))
        );
    }

    #[test]
    fn frontend_messages_are_counted_across_reads() {
        let mut stream = Vec::new();
        // StartupMessage: length, protocol 3.0, "user\0postgres\0\0".
        let params = b"user\0postgres\0\0";
        stream.extend_from_slice(&((8 + params.len()) as u32).to_be_bytes());
        stream.extend_from_slice(&PROTOCOL_3.to_be_bytes());
        stream.extend_from_slice(params);
        let message = |kind: u8, body: &[u8]| {
            let mut m = vec![kind];
            m.extend_from_slice(&((4 + body.len()) as u32).to_be_bytes());
            m.extend_from_slice(body);
            m
        };
        for m in [
            message(b'P', b"\0SELECT 1\0\0\0"),
            message(b'B', b"\0\0\0\0\0\0\0\0"),
            message(b'E', b"\0\0\0\0\0"),
            message(b'S', b""),
            message(b'Q', b"BEGIN\0"),
        ] {
            stream.extend(m);
        }
        let counters = Counters::default();
        let mut parser = FrontendParser::default();
        for chunk in stream.chunks(3) {
            parser.feed(chunk, &counters);
        }
        let counts = counters.snapshot();
        assert_eq!(
            (counts.statements, counts.round_trips, counts.parses),
            (2, 2, 1)
        );
    }
}

#[cfg(test)]
mod tls_tests {
    #[test]
    fn the_counting_proxy_url_never_asks_for_tls() {
        assert_eq!(
            super::without_tls("postgres://u@127.0.0.1:1/db"),
            "postgres://u@127.0.0.1:1/db?sslmode=disable"
        );
        assert_eq!(
            super::without_tls("postgres://u@127.0.0.1:1/db?sslmode=require&application_name=x"),
            "postgres://u@127.0.0.1:1/db?application_name=x&sslmode=disable"
        );
    }
}
