//! A loopback TCP proxy in front of PostgreSQL that counts the statements a store sends: the
//! benchmarks print the count beside each ratio, and the statement-budget tests assert it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use concierge_storage_postgres::LISTENER_APPLICATION_NAME;
use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
use tokio::net::{TcpListener, TcpStream};

/// The `host:port` of a URL and the URL with that part replaced by `replacement`; `None` when the
/// URL names no TCP host (a Unix socket in the query, say).
pub fn split_host(url: &str, replacement: &str) -> Option<(String, String)> {
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
pub fn without_tls(url: &str) -> String {
    let (base, query) = url.split_once('?').unwrap_or((url, ""));
    let mut params: Vec<&str> = query
        .split('&')
        .filter(|p| !p.is_empty() && !p.starts_with("sslmode="))
        .collect();
    params.push("sslmode=disable");
    format!("{base}?{}", params.join("&"))
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
        let mut conn: diesel_async::AsyncPgConnection =
            <diesel_async::AsyncPgConnection as diesel_async::AsyncConnection>::establish(
                &self.url,
            )
            .await
            .map_err(|e| format!("proxy self-check: {e}"))?;
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
                // STATEMENT_COUNTER_LOG=1 prints what is parsed or run as a simple query, to
                // find the statements behind a count (a cached statement is parsed only once).
                if matches!(kind, b'P' | b'Q' | b'B')
                    && std::env::var_os("STATEMENT_COUNTER_LOG").is_some()
                {
                    let body = &rest[5..1 + length];
                    let mut parts = body.splitn(3, |b| *b == 0);
                    let text = match kind {
                        // Parse: statement name, then its text.
                        b'P' => {
                            let name = parts.next().unwrap_or_default();
                            let text = parts.next().unwrap_or_default();
                            format!(
                                "{} = {}",
                                String::from_utf8_lossy(name),
                                String::from_utf8_lossy(text)
                            )
                        }
                        // Bind: portal, then the statement it runs.
                        b'B' => {
                            String::from_utf8_lossy(parts.nth(1).unwrap_or_default()).into_owned()
                        }
                        _ => String::from_utf8_lossy(body).into_owned(),
                    };
                    eprintln!("[{}] {text}", kind as char);
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

    #[test]
    fn the_counting_proxy_url_never_asks_for_tls() {
        assert_eq!(
            without_tls("postgres://u@127.0.0.1:1/db"),
            "postgres://u@127.0.0.1:1/db?sslmode=disable"
        );
        assert_eq!(
            without_tls("postgres://u@127.0.0.1:1/db?sslmode=require&application_name=x"),
            "postgres://u@127.0.0.1:1/db?application_name=x&sslmode=disable"
        );
    }
}
