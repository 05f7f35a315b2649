//! A TCP proxy in front of PostgreSQL that the test can cut (every live connection closed, new
//! ones closed as soon as accepted) and restore, to play a database outage.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct Proxy {
    addr: SocketAddr,
    /// `true` while traffic flows.
    open: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards each connection to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (open, state) = watch::channel(true);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                if !*state.borrow() {
                    // Cut: the connection is closed at once, as a dead server would.
                    drop(client);
                    continue;
                }
                tokio::spawn(forward(client, upstream.clone(), state.clone()));
            }
        });
        Proxy { addr, open, accept }
    }

    /// `url` (a PostgreSQL URL) with its host and port replaced by the proxy's.
    pub fn url_for(&self, url: &str) -> String {
        let (before, _, after) = split_authority(url);
        format!("{before}{}{after}", self.addr)
    }

    /// Closes every live connection and refuses new ones until [`Proxy::restore`].
    pub fn cut(&self) {
        self.open.send_replace(false);
    }

    pub fn restore(&self) {
        self.open.send_replace(true);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.cut();
        self.accept.abort();
    }
}

async fn forward(mut client: TcpStream, upstream: String, mut state: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(&upstream).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = state.wait_for(|open| !*open) => {}
    }
    // Both sockets drop here: the client sees its connection closed.
}

/// The `host:port` a PostgreSQL URL points at (port 5432 when absent).
pub fn upstream_of(url: &str) -> String {
    let (_, host_port, _) = split_authority(url);
    let has_port = match host_port.rfind(']') {
        Some(bracket) => host_port[bracket..].contains(':'),
        None => host_port.contains(':'),
    };
    if has_port {
        host_port.to_owned()
    } else {
        format!("{host_port}:5432")
    }
}

/// `postgres://user:pw@host:port/db?x` → (`postgres://user:pw@`, `host:port`, `/db?x`).
fn split_authority(url: &str) -> (&str, &str, &str) {
    let start = url.find("://").map_or(0, |i| i + 3);
    let end = url[start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| start + i);
    let host_start = url[start..end].rfind('@').map_or(start, |i| start + i + 1);
    (&url[..host_start], &url[host_start..end], &url[end..])
}

#[test]
fn urls_are_split_around_host_and_port() {
    assert_eq!(
        upstream_of("postgres://postgres@127.0.0.1:55432/db"),
        "127.0.0.1:55432"
    );
    assert_eq!(
        upstream_of("postgres://u:p@w@db.example/x?sslmode=disable"),
        "db.example:5432"
    );
    assert_eq!(upstream_of("postgres://[::1]/x"), "[::1]:5432");
    assert_eq!(
        split_authority("postgres://u:p@h:1/d?x"),
        ("postgres://u:p@", "h:1", "/d?x")
    );
}
