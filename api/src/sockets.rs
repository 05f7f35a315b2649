//! Live WebSocket connections: counted (for `/metrics` and for draining), and closed properly
//! at shutdown so that clients reconnect elsewhere instead of waiting on a dead socket.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::sync::watch;

pub struct LiveSockets {
    live: AtomicUsize,
    closing: watch::Sender<bool>,
    gauge: Option<prometheus::IntGauge>,
}

/// Held by a connection while it lives.
pub struct SocketGuard(Arc<LiveSockets>);

impl Drop for SocketGuard {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::SeqCst);
        if let Some(gauge) = &self.0.gauge {
            gauge.dec();
        }
    }
}

impl LiveSockets {
    pub fn new(gauge: Option<prometheus::IntGauge>) -> Arc<Self> {
        Arc::new(LiveSockets {
            live: AtomicUsize::new(0),
            closing: watch::channel(false).0,
            gauge,
        })
    }

    pub fn enter(self: &Arc<Self>) -> SocketGuard {
        self.live.fetch_add(1, Ordering::SeqCst);
        if let Some(gauge) = &self.gauge {
            gauge.inc();
        }
        SocketGuard(Arc::clone(self))
    }

    pub fn is_closing(&self) -> bool {
        *self.closing.borrow()
    }

    pub fn live(&self) -> usize {
        self.live.load(Ordering::SeqCst)
    }

    /// Resolves when the server starts closing.
    pub fn closing(&self) -> impl Future<Output = ()> + Send + use<> {
        let mut receiver = self.closing.subscribe();
        async move {
            let _ = receiver.wait_for(|closing| *closing).await;
        }
    }

    /// Asks every connection to close, and waits (at most `bound`) until they have.
    pub async fn close_all(&self, bound: Duration) {
        self.closing.send_replace(true);
        let deadline = tokio::time::Instant::now() + bound;
        while self.live() > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        if self.live() > 0 {
            tracing::warn!(
                left = self.live(),
                "WebSocket connections still open at shutdown"
            );
        }
    }
}
