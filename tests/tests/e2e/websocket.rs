//! Subscriptions over a real socket, speaking `graphql-transport-ws` as Apollo Client, urql and
//! graphql-ws do.

use std::net::SocketAddr;
use std::time::Duration;

use concierge_api::http::router;
use concierge_tests::TestApp;

use crate::support::metric;
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn serve(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let service = router(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

async fn connect(addr: SocketAddr) -> Socket {
    let mut request = format!("ws://{addr}/graphql")
        .into_client_request()
        .expect("request");
    request.headers_mut().insert(
        "sec-websocket-protocol",
        "graphql-transport-ws".parse().expect("header"),
    );
    let (socket, response) = tokio_tungstenite::connect_async(request)
        .await
        .expect("connect");
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
        .expect("send");
}

/// The next protocol message (pings answered, other frames skipped), or `None` when closed.
async fn receive(socket: &mut Socket) -> Option<Value> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("a message within 3 s")?;
        match frame.expect("frame") {
            Message::Text(text) => return Some(serde_json::from_str(&text).expect("json")),
            Message::Close(_) => return None,
            _ => continue,
        }
    }
}

#[tokio::test]
async fn a_tablet_hears_of_a_booking_over_graphql_transport_ws() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Socket").await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "HQ").await;
    let room = app.create_room(&admin, &site, "Touch Room").await;
    let tablet = app.register_device(&admin, &site, Some(&room)).await;
    let addr = serve(&app).await;

    let mut socket = connect(addr).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {tablet}")}})).await;
    assert_eq!(
        receive(&mut socket).await.expect("ack")["type"],
        json!("connection_ack")
    );
    let listening = app.event_subscribers();
    send(&mut socket, json!({"id": "1", "type": "subscribe", "payload": {
        "query": "subscription($r: ID!) { bookingEvents(roomId: $r) { kind booking { title room { name } } } }",
        "variables": {"r": room}}}))
    .await;
    // The server registers the subscription asynchronously: book once it listens.
    app.wait_for_subscribers(listening + 1).await;
    let start = (chrono::Utc::now().date_naive() + chrono::Duration::days(1))
        .and_hms_opt(9, 0, 0)
        .expect("t")
        .and_utc();
    let r = app
        .gql(Some(&admin), "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"roomId": room, "start": start.to_rfc3339(), "end": (start + chrono::Duration::hours(1)).to_rfc3339(), "title": "Board"}}))
        .await;
    r.ok();
    let message = receive(&mut socket).await.expect("next");
    assert_eq!(message["type"], json!("next"), "{message}");
    assert_eq!(message["id"], json!("1"));
    assert_eq!(
        message["payload"]["data"]["bookingEvents"]["kind"],
        json!("CREATED")
    );
    assert_eq!(
        message["payload"]["data"]["bookingEvents"]["booking"]["room"]["name"],
        json!("Touch Room")
    );

    // `/metrics` counts the connection and its subscription, and forgets the subscription once
    // the client completes it (the connection stays).
    let metrics = app.state.metrics.render();
    assert_eq!(
        metric(&metrics, "concierge_live_subscriptions"),
        Some(1.0),
        "{metrics}"
    );
    assert_eq!(
        metric(&metrics, "concierge_websocket_connections"),
        Some(1.0),
        "{metrics}"
    );
    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
    while metric(&app.state.metrics.render(), "concierge_live_subscriptions") != Some(0.0) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the completed subscription is still counted: {}",
            app.state.metrics.render()
        );
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let metrics = app.state.metrics.render();
    assert_eq!(
        metric(&metrics, "concierge_websocket_connections"),
        Some(1.0),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_refused_token_closes_the_connection_and_another_tenants_room_is_not_found() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Guarded").await;
    let (_, other) = app.company("Other").await;
    let site = app
        .create_site(&other.admin_token, &other.id, "Theirs")
        .await;
    let their_room = app
        .create_room(&other.admin_token, &site, "Their Room")
        .await;
    let addr = serve(&app).await;

    let mut socket = connect(addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": "Bearer not-a-token"}}),
    )
    .await;
    assert!(
        receive(&mut socket)
            .await
            .is_none_or(|m| m["type"] != json!("connection_ack"))
    );

    let mut socket = connect(addr).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", company.admin_token)}})).await;
    assert_eq!(
        receive(&mut socket).await.expect("ack")["type"],
        json!("connection_ack")
    );
    send(&mut socket, json!({"id": "7", "type": "subscribe", "payload": {
        "query": "subscription($r: ID!) { bookingEvents(roomId: $r) { kind } }", "variables": {"r": their_room}}}))
    .await;
    let message = receive(&mut socket).await.expect("an answer");
    let code = if message["type"] == json!("error") {
        message["payload"][0]["extensions"]["code"].clone()
    } else {
        message["payload"]["errors"][0]["extensions"]["code"].clone()
    };
    assert_eq!(code, json!("NOT_FOUND"), "{message}");
}

#[tokio::test]
async fn at_shutdown_subscribers_get_a_close_frame() {
    let app = TestApp::spawn().await;
    let addr = serve(&app).await;
    let mut socket = connect(addr).await;
    send(&mut socket, json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {}", app.operator_token)}})).await;
    assert_eq!(
        receive(&mut socket).await.expect("ack")["type"],
        json!("connection_ack")
    );
    assert_eq!(app.state.sockets.live(), 1);

    let closing = app.state.sockets.clone();
    let closer = tokio::spawn(async move { closing.close_all(Duration::from_secs(3)).await });
    let mut closed_properly = false;
    while let Ok(Some(frame)) = tokio::time::timeout(Duration::from_secs(3), socket.next()).await {
        if let Ok(Message::Close(_)) = frame {
            closed_properly = true;
            break;
        }
    }
    assert!(closed_properly, "the server sends a close frame");
    closer.await.expect("closer");
    assert_eq!(app.state.sockets.live(), 0);
}
