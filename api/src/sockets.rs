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

/// What one WebSocket connection may do (DESIGN.md §9, the WebSocket limits).
#[derive(Clone, Copy, Debug)]
pub struct SocketLimits {
    /// How long a client has to send `connection_init` after the upgrade; then the connection is
    /// closed with 4408 "Connection initialisation timeout", as `graphql-transport-ws` says.
    pub init_timeout: Duration,
    /// Subscriptions open at once on one connection. One more is answered with the protocol's
    /// `error` message for its id (code `RATE_LIMITED`); the connection and the others go on.
    pub max_subscriptions: usize,
    /// Largest message (and frame) a client may send; a larger one closes the connection with
    /// 1009 "message too big".
    pub max_message_bytes: usize,
}

/// Close code and reason of a connection that did not send `connection_init` in time.
pub const INIT_TIMEOUT_CLOSE: (u16, &str) = (4408, "Connection initialisation timeout");
/// Close code and reason of a connection that sent a message over the size limit.
pub const TOO_BIG_CLOSE: (u16, &str) = (1009, "message too big");

impl Default for SocketLimits {
    fn default() -> Self {
        SocketLimits {
            init_timeout: Duration::from_secs(10),
            max_subscriptions: 20,
            max_message_bytes: crate::http::MAX_BODY_BYTES,
        }
    }
}

/// What the server does with one message from the client.
#[derive(Debug, PartialEq)]
pub enum Incoming {
    /// On to the GraphQL side.
    Forward,
    /// A subscription over the limit: answer this `error` message for it, forward nothing.
    Refuse(String),
    /// Close the connection with this code and reason.
    Close(u16, &'static str),
}

#[derive(serde::Deserialize)]
struct Envelope {
    #[serde(rename = "type")]
    kind: String,
    id: Option<String>,
}

/// The limits of one connection as it goes: whether `connection_init` came, the subscriptions
/// open, and why the server closes it (when it does).
pub struct ConnectionLimits {
    limits: SocketLimits,
    legacy_protocol: bool,
    state: std::sync::Mutex<ConnectionState>,
}

#[derive(Default)]
struct ConnectionState {
    initialised: bool,
    open: std::collections::HashSet<String>,
    close: Option<(u16, &'static str)>,
}

impl ConnectionLimits {
    /// `legacy_protocol`: the connection speaks `subscriptions-transport-ws` (`graphql-ws`),
    /// whose `error` payload is one error rather than a list.
    pub fn new(limits: SocketLimits, legacy_protocol: bool) -> Arc<Self> {
        Arc::new(ConnectionLimits {
            limits,
            legacy_protocol,
            state: std::sync::Mutex::new(ConnectionState::default()),
        })
    }

    pub fn limits(&self) -> SocketLimits {
        self.limits
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ConnectionState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Why the server ends the connection, when one of these limits does.
    pub fn close_reason(&self) -> Option<(u16, &'static str)> {
        self.state().close
    }

    fn close(&self, (code, reason): (u16, &'static str)) -> Incoming {
        self.state().close.get_or_insert((code, reason));
        Incoming::Close(code, reason)
    }

    /// Resolves when `connection_init` has not arrived within the limit (the close reason is then
    /// set); never otherwise.
    pub fn init_deadline(self: &Arc<Self>) -> impl Future<Output = ()> + Send + use<> {
        let this = Arc::clone(self);
        async move {
            tokio::time::sleep(this.limits.init_timeout).await;
            if this.state().initialised {
                std::future::pending::<()>().await;
            }
            this.close(INIT_TIMEOUT_CLOSE);
        }
    }

    /// A message read from the client (its text or binary payload).
    pub fn incoming(&self, payload: &[u8]) -> Incoming {
        if payload.len() > self.limits.max_message_bytes {
            return self.close(TOO_BIG_CLOSE);
        }
        // Anything else malformed is the GraphQL side's to refuse, with the protocol's code.
        let Ok(envelope) = serde_json::from_slice::<Envelope>(payload) else {
            return Incoming::Forward;
        };
        let mut state = self.state();
        match (envelope.kind.as_str(), envelope.id) {
            ("connection_init", _) => {
                state.initialised = true;
                Incoming::Forward
            }
            ("subscribe" | "start", Some(id)) if state.initialised => {
                if state.open.contains(&id) || state.open.len() < self.limits.max_subscriptions {
                    state.open.insert(id);
                    Incoming::Forward
                } else {
                    Incoming::Refuse(id)
                }
            }
            ("complete" | "stop", Some(id)) => {
                state.open.remove(&id);
                Incoming::Forward
            }
            _ => Incoming::Forward,
        }
    }

    /// A read error: a message or frame over the size limit closes with 1009; anything else
    /// (the peer went away) just ends the connection.
    pub fn read_failed(&self, error: &str) -> Incoming {
        if error.contains("too long") || error.contains("Space limit") {
            self.close(TOO_BIG_CLOSE)
        } else {
            Incoming::Close(1000, "")
        }
    }

    /// A message the server sends: a `complete` (or `error`) ends that subscription.
    pub fn outgoing(&self, text: &str) {
        if !(text.starts_with(r#"{"type":"complete""#) || text.starts_with(r#"{"type":"error""#)) {
            return;
        }
        if let Ok(Envelope { id: Some(id), .. }) = serde_json::from_str::<Envelope>(text) {
            self.state().open.remove(&id);
        }
    }

    /// The protocol's `error` message refusing subscription `id`, over the limit.
    pub fn refusal(&self, id: &str) -> String {
        let error = serde_json::json!({
            "message": format!(
                "a connection may hold at most {} subscriptions at once",
                self.limits.max_subscriptions
            ),
            "extensions": { "code": "RATE_LIMITED" },
        });
        let payload = if self.legacy_protocol {
            error
        } else {
            serde_json::json!([error])
        };
        serde_json::json!({ "id": id, "type": "error", "payload": payload }).to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Arc<ConnectionLimits> {
        ConnectionLimits::new(
            SocketLimits {
                init_timeout: Duration::from_millis(10),
                max_subscriptions: 2,
                max_message_bytes: 100,
            },
            false,
        )
    }

    #[test]
    fn subscriptions_are_counted_while_open() {
        let connection = limits();
        let subscribe = |id: &str| {
            connection.incoming(
                format!(r#"{{"type":"subscribe","id":"{id}","payload":{{}}}}"#).as_bytes(),
            )
        };
        assert_eq!(
            connection.incoming(br#"{"type":"connection_init"}"#),
            Incoming::Forward
        );
        assert_eq!(subscribe("1"), Incoming::Forward);
        assert_eq!(subscribe("2"), Incoming::Forward);
        assert_eq!(subscribe("3"), Incoming::Refuse("3".into()));
        // The client completes one, the server another: room for two more.
        assert_eq!(
            connection.incoming(br#"{"type":"complete","id":"1"}"#),
            Incoming::Forward
        );
        connection.outgoing(r#"{"type":"complete","id":"2"}"#);
        assert_eq!(subscribe("4"), Incoming::Forward);
        assert_eq!(subscribe("5"), Incoming::Forward);
        assert_eq!(subscribe("6"), Incoming::Refuse("6".into()));
        let refusal: serde_json::Value =
            serde_json::from_str(&connection.refusal("6")).expect("json");
        assert_eq!(refusal["type"], "error");
        assert_eq!(refusal["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    }

    #[test]
    fn large_messages_close_with_1009() {
        let connection = limits();
        assert_eq!(
            connection.incoming(&[b' '; 101]),
            Incoming::Close(1009, "message too big")
        );
        assert_eq!(connection.close_reason(), Some(TOO_BIG_CLOSE));
        let connection = limits();
        assert_eq!(
            connection.read_failed("Space limit exceeded: Message too long: 300000 > 262144"),
            Incoming::Close(1009, "message too big")
        );
    }

    #[tokio::test]
    async fn the_init_deadline_passes_only_without_connection_init() {
        let connection = limits();
        connection.init_deadline().await;
        assert_eq!(connection.close_reason(), Some(INIT_TIMEOUT_CLOSE));
        let connection = limits();
        connection.incoming(br#"{"type":"connection_init","payload":{}}"#);
        let waited =
            tokio::time::timeout(Duration::from_millis(50), connection.init_deadline()).await;
        assert!(
            waited.is_err(),
            "the deadline must not pass once initialised"
        );
        assert_eq!(connection.close_reason(), None);
    }
}
