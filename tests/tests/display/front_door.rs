//! The page's origin across server restarts: a TCP forwarder on a port of its own that never
//! changes, in front of whichever `concierge` process runs now (as a deployment's reverse proxy
//! would be). `Server::start` picks a fresh port per start; the browser must find the server
//! again where it left it. While no server listens, every connection is closed at once, as a
//! refused one would be.

use std::net::SocketAddr;

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

pub struct FrontDoor {
    pub addr: SocketAddr,
    upstream: watch::Sender<Option<SocketAddr>>,
    accept: JoinHandle<()>,
}

impl FrontDoor {
    pub async fn open() -> FrontDoor {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("a port for the front door");
        let addr = listener.local_addr().expect("the front door's address");
        let (upstream, current) = watch::channel(None::<SocketAddr>);
        let accept = tokio::spawn(async move {
            loop {
                let Ok((client, _)) = listener.accept().await else {
                    continue;
                };
                let target = *current.borrow();
                if let Some(target) = target {
                    tokio::spawn(forward(client, target, current.clone()));
                }
            }
        });
        FrontDoor {
            addr,
            upstream,
            accept,
        }
    }

    /// Sends new connections to `server` (and ends those to the previous one).
    pub fn route_to(&self, server: SocketAddr) {
        self.upstream.send_replace(Some(server));
    }
}

impl Drop for FrontDoor {
    fn drop(&mut self) {
        self.upstream.send_replace(None);
        self.accept.abort();
    }
}

async fn forward(
    mut client: TcpStream,
    target: SocketAddr,
    mut current: watch::Receiver<Option<SocketAddr>>,
) {
    let Ok(mut server) = TcpStream::connect(target).await else {
        return;
    };
    tokio::select! {
        _ = tokio::io::copy_bidirectional(&mut client, &mut server) => {}
        _ = current.wait_for(|now| *now != Some(target)) => {}
    }
}
