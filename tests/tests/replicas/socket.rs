//! A `graphql-transport-ws` subscriber of `bookingEvents`, as a room tablet or a web front end
//! runs one: it connects to a server's `/graphql`, authenticates in `connection_init`, subscribes,
//! and from then on a task of its own reads the socket (answering protocol pings) and hands every
//! booking event over in the order it arrived.

use std::net::SocketAddr;
use std::time::Duration;

use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// How long the handshake (connect, `connection_init` → `connection_ack`) may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// The id of the one subscription each socket carries.
const SUBSCRIPTION_ID: &str = "1";
const EVENTS: &str = "subscription($r: ID!) { bookingEvents(roomId: $r) {
    kind booking { id status title room { id } } } }";

/// A booking event as a subscriber hears it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    pub kind: String,
    pub booking_id: String,
    pub status: String,
    pub title: Option<String>,
    pub room_id: String,
}

/// A live subscription to `bookingEvents(roomId)` on one server.
pub struct Subscriber {
    /// Which server, for messages.
    pub name: &'static str,
    messages: mpsc::UnboundedReceiver<Result<Value, String>>,
    reader: JoinHandle<()>,
}

impl Subscriber {
    /// Connects to `addr` with `token`, waits for `connection_ack`, and subscribes to the
    /// room's events. The protocol has no "subscribed" answer: the server registers the
    /// subscription some time after this returns.
    pub async fn open(name: &'static str, addr: SocketAddr, token: &str, room: &str) -> Self {
        let mut socket = tokio::time::timeout(HANDSHAKE_TIMEOUT, connect(addr))
            .await
            .unwrap_or_else(|_| panic!("{name}: no WebSocket within {HANDSHAKE_TIMEOUT:?}"));
        send(
            &mut socket,
            json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
        )
        .await;
        let deadline = Instant::now() + HANDSHAKE_TIMEOUT;
        loop {
            let message = tokio::time::timeout_at(deadline, read(&mut socket))
                .await
                .unwrap_or_else(|_| {
                    panic!("{name}: no connection_ack within {HANDSHAKE_TIMEOUT:?}")
                })
                .unwrap_or_else(|e| panic!("{name}: the socket failed before connection_ack: {e}"));
            match message["type"].as_str() {
                Some("connection_ack") => break,
                Some("ping") => send(&mut socket, json!({"type": "pong"})).await,
                _ => panic!("{name}: expected connection_ack, got {message}"),
            }
        }
        send(
            &mut socket,
            json!({"id": SUBSCRIPTION_ID, "type": "subscribe",
            "payload": {"query": EVENTS, "variables": {"r": room}}}),
        )
        .await;
        let (sender, messages) = mpsc::unbounded_channel();
        let reader = tokio::spawn(read_all(socket, sender));
        Subscriber {
            name,
            messages,
            reader,
        }
    }

    /// The next event, if one arrives before `deadline`; panics on anything but a `next`
    /// carrying an event of this subscription (an error, a `complete`, a closed socket).
    pub async fn next_before(&mut self, deadline: Instant) -> Option<Event> {
        let name = self.name;
        match tokio::time::timeout_at(deadline, self.messages.recv()).await {
            Err(_elapsed) => None,
            Ok(None) => panic!("{name}: the socket's reader ended"),
            Ok(Some(Err(error))) => panic!("{name}: {error}"),
            Ok(Some(Ok(message))) => Some(event_of(name, &message)),
        }
    }
}

impl Subscriber {
    /// The end of the subscription, before `deadline`: an error for it (a `next` carrying
    /// errors, or the protocol's `error`), then `complete` (after a `next`); returns the first
    /// error's `extensions.code`. Panics on an event (nothing was booked), on a closed socket,
    /// or when the deadline passes first.
    pub async fn end_before(&mut self, deadline: Instant) -> String {
        let name = self.name;
        let ended = self
            .message_before(deadline, "end of the subscription")
            .await;
        assert_eq!(ended["id"], json!(SUBSCRIPTION_ID), "{name}: {ended}");
        let code = match ended["type"].as_str() {
            Some("next") => {
                let errors = &ended["payload"]["errors"];
                assert!(
                    errors.is_array(),
                    "{name}: an event instead of the end: {ended}"
                );
                let complete = self
                    .message_before(deadline, "complete after the error")
                    .await;
                assert_eq!(complete["type"], json!("complete"), "{name}: {complete}");
                errors[0]["extensions"]["code"].clone()
            }
            Some("error") => ended["payload"][0]["extensions"]["code"].clone(),
            _ => panic!("{name}: expected the end of the subscription, got {ended}"),
        };
        code.as_str()
            .unwrap_or_else(|| panic!("{name}: an error without a code: {ended}"))
            .to_owned()
    }

    /// The next protocol message before `deadline`; panics without one.
    async fn message_before(&mut self, deadline: Instant, what: &str) -> Value {
        let name = self.name;
        match tokio::time::timeout_at(deadline, self.messages.recv()).await {
            Err(_elapsed) => panic!("{name}: no {what} in time"),
            Ok(None) => panic!("{name}: the socket's reader ended"),
            Ok(Some(Err(error))) => panic!("{name}: {error}"),
            Ok(Some(Ok(message))) => message,
        }
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

async fn connect(addr: SocketAddr) -> Socket {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("a WebSocket request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("a header value"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .unwrap_or_else(|e| panic!("WebSocket to {addr}: {e}"));
    assert_eq!(
        response.headers()["sec-websocket-protocol"],
        "graphql-transport-ws"
    );
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("a message sent on the WebSocket");
}

/// The next protocol message (other frames skipped).
async fn read(socket: &mut Socket) -> Result<Value, String> {
    loop {
        match socket.next().await {
            None => return Err("the server closed the socket".into()),
            Some(Err(error)) => return Err(format!("the socket failed: {error}")),
            Some(Ok(Message::Text(text))) => {
                return serde_json::from_str(&text)
                    .map_err(|e| format!("a message that is not JSON ({e}): {text}"));
            }
            Some(Ok(Message::Close(frame))) => {
                return Err(format!("the server closed the socket: {frame:?}"));
            }
            Some(Ok(_)) => {}
        }
    }
}

/// Forwards every protocol message but pings (answered here) until the socket ends, then the
/// reason it ended.
async fn read_all(mut socket: Socket, sender: mpsc::UnboundedSender<Result<Value, String>>) {
    loop {
        match read(&mut socket).await {
            Ok(message) if message["type"] == json!("ping") => {
                send(&mut socket, json!({"type": "pong"})).await;
            }
            Ok(message) if message["type"] == json!("pong") => {}
            Ok(message) => {
                if sender.send(Ok(message)).is_err() {
                    return;
                }
            }
            Err(error) => {
                let _ = sender.send(Err(error));
                return;
            }
        }
    }
}

fn event_of(name: &str, message: &Value) -> Event {
    assert_eq!(
        message["type"],
        json!("next"),
        "{name}: expected an event, got {message}"
    );
    assert_eq!(message["id"], json!(SUBSCRIPTION_ID), "{name}: {message}");
    assert!(
        message["payload"]["errors"].is_null(),
        "{name}: an event with errors: {message}"
    );
    let event = &message["payload"]["data"]["bookingEvents"];
    let text = |value: &Value| {
        value
            .as_str()
            .unwrap_or_else(|| panic!("{name}: expected a string in {message}"))
            .to_owned()
    };
    Event {
        kind: text(&event["kind"]),
        booking_id: text(&event["booking"]["id"]),
        status: text(&event["booking"]["status"]),
        title: event["booking"]["title"].as_str().map(str::to_owned),
        room_id: text(&event["booking"]["room"]["id"]),
    }
}
