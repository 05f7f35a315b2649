//! The security audit's fixes at the edge (issue 16): documents whose cost explodes through
//! fragments are refused at once, metric labels come from a closed set, WebSocket connections
//! are held to their limits, and bootstrap never re-creates an operator.

use std::net::SocketAddr;
use std::time::Duration;

use concierge_api::app::AppState;
use concierge_api::http::{MAX_BODY_BYTES, router};
use concierge_tests::{OPERATOR_EMAIL, OPERATOR_PASSWORD, TestApp};
use futures::{SinkExt as _, StreamExt as _};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest as _;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

// ---------------------------------------------------------------------------------------------
// Query cost
// ---------------------------------------------------------------------------------------------

/// `query { ...F0 }` and `levels` fragments each spreading the next twice: `2^levels` fields.
fn doubling_chain(levels: usize) -> String {
    let mut text = String::from("query { ...F0 }\n");
    for level in 0..levels {
        let next = level + 1;
        text.push_str(&format!(
            "fragment F{level} on Query {{ ...F{next} ...F{next} }}\n"
        ));
    }
    text.push_str(&format!("fragment F{levels} on Query {{ __typename }}\n"));
    text
}

/// Runs each document anonymously on a fresh application, on a thread of its own: a document
/// that pins the CPU fails this test by the deadline instead of hanging it.
fn answers_within(documents: Vec<String>, deadline: Duration) -> Vec<(Vec<Value>, Duration)> {
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        runtime.block_on(async move {
            let app = TestApp::spawn().await;
            for document in documents {
                let started = std::time::Instant::now();
                let r = app.gql(None, &document, json!({})).await;
                let _ = sender.send((r.errors.clone(), started.elapsed()));
            }
        });
    });
    let mut answers = Vec::new();
    let started = std::time::Instant::now();
    while let Ok(answer) = receiver.recv_timeout(deadline.saturating_sub(started.elapsed())) {
        answers.push(answer);
    }
    answers
}

#[test]
fn fragment_bombs_and_cycles_are_refused_at_once_as_validation_errors() {
    let documents = vec![
        // 2^64 fields once expanded, 2 KB of text.
        doubling_chain(64),
        // The audit's 24 levels (2.1 s of CPU before), and a cycle (never ended before).
        doubling_chain(24),
        // 31 levels: async-graphql's own recursion-depth walk (depth 32) would follow all 2^31
        // paths if it ran before the cost is measured.
        doubling_chain(31),
        "query { ...A } fragment A on Query { ...A ...A }".to_owned(),
        "query { me { id } } fragment B on Query { ...C ...C } fragment C on Query { ...B }"
            .to_owned(),
    ];
    let count = documents.len();
    let answers = answers_within(documents, Duration::from_secs(30));
    assert_eq!(answers.len(), count, "a document was not answered in time");
    for (index, (errors, took)) in answers.iter().enumerate() {
        assert_eq!(
            errors[0]["extensions"]["code"],
            json!("GRAPHQL_VALIDATION_FAILED"),
            "document {index}: {errors:?}"
        );
        assert!(
            *took < Duration::from_secs(1),
            "document {index} took {took:?}"
        );
    }
    assert!(
        answers[3].0[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("within itself")),
        "{:?}",
        answers[3].0
    );
}

#[tokio::test]
async fn a_fragment_chain_within_the_limits_still_runs() {
    let app = TestApp::spawn().await;
    // 2^5 = 32 `__typename` once expanded: under every limit.
    let r = app.gql(None, &doubling_chain(5), json!({})).await;
    assert_eq!(r.ok()["__typename"], json!("Query"));
}

// ---------------------------------------------------------------------------------------------
// Metric labels
// ---------------------------------------------------------------------------------------------

/// The series (sample lines) of a Prometheus text exposition.
fn series(exposition: &str) -> Vec<&str> {
    exposition
        .lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .filter_map(|line| line.rsplit_once(' ').map(|(name, _)| name))
        .collect()
}

#[tokio::test]
async fn made_up_root_fields_add_no_metric_series() {
    let app = TestApp::spawn().await;
    // The label every refused document shares exists once the first one is counted.
    app.gql(None, "{ warmUp }", json!({})).await;
    let before = app.state.metrics.render();
    for i in 0..100 {
        let document = match i % 3 {
            0 => format!("{{ madeUp{i} }}"),
            1 => format!("mutation {{ invented{i}(x: 1) {{ id }} }}"),
            _ => format!("query {{ fake{i}: me {{ id }} notAField{i} }}"),
        };
        let r = app.gql(None, &document, json!({})).await;
        assert_eq!(
            r.code(),
            "GRAPHQL_VALIDATION_FAILED",
            "{document}: {:?}",
            r.errors
        );
    }
    let after = app.state.metrics.render();
    assert_eq!(
        series(&before),
        series(&after),
        "made-up root fields added series"
    );
    for made_up in ["madeUp", "invented", "notAField", "fake"] {
        assert!(!after.contains(made_up), "{made_up} reached /metrics");
    }
    assert!(
        after.contains(r#"operation="unknown""#),
        "refused documents are counted as unknown: {after}"
    );
    // A real operation keeps its name.
    app.gql(Some(&app.operator_token), "{ me { id } }", json!({}))
        .await
        .ok();
    assert!(
        app.state
            .metrics
            .render()
            .contains(r#"code="OK",operation="me""#)
    );
}

// ---------------------------------------------------------------------------------------------
// WebSocket limits
// ---------------------------------------------------------------------------------------------

type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Serves the application with a `connection_init` deadline of `init_timeout`.
async fn serve(app: &TestApp, init_timeout: Duration) -> SocketAddr {
    let mut state: AppState = app.state.clone();
    state.socket_limits.init_timeout = init_timeout;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let service = router(state).into_make_service_with_connect_info::<SocketAddr>();
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
    // The client itself would send (and read) anything: the server's limit is under test.
    let config = tokio_tungstenite::tungstenite::protocol::WebSocketConfig::default()
        .max_message_size(None)
        .max_frame_size(None);
    let (socket, _) = tokio_tungstenite::connect_async_with_config(request, Some(config), false)
        .await
        .expect("connect");
    socket
}

async fn send(socket: &mut Socket, message: Value) {
    socket
        .send(Message::text(message.to_string()))
        .await
        .expect("send");
}

/// The next protocol message, or the close frame's code and reason.
async fn receive(socket: &mut Socket) -> Result<Value, (u16, String)> {
    loop {
        let frame = tokio::time::timeout(Duration::from_secs(3), socket.next())
            .await
            .expect("a message within 3 s");
        match frame {
            Some(Ok(Message::Text(text))) => return Ok(serde_json::from_str(&text).expect("json")),
            Some(Ok(Message::Close(frame))) => {
                return Err(frame.map_or((1005, String::new()), |f| {
                    (u16::from(f.code), f.reason.to_string())
                }));
            }
            Some(Ok(_)) => continue,
            other => panic!("the connection ended without a close frame: {other:?}"),
        }
    }
}

async fn initialised(addr: SocketAddr, token: &str) -> Socket {
    let mut socket = connect(addr).await;
    send(
        &mut socket,
        json!({"type": "connection_init", "payload": {"authorization": format!("Bearer {token}")}}),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await.expect("ack")["type"],
        "connection_ack"
    );
    socket
}

#[tokio::test]
async fn connection_init_must_come_in_time() {
    let app = TestApp::spawn().await;
    let addr = serve(&app, Duration::from_millis(300)).await;
    // Silent: closed with 4408 once the deadline passes.
    let mut silent = connect(addr).await;
    let started = std::time::Instant::now();
    assert_eq!(
        receive(&mut silent).await,
        Err((4408, "Connection initialisation timeout".into()))
    );
    assert!(started.elapsed() >= Duration::from_millis(250));
    // In time: the connection outlives the deadline.
    let mut prompt = initialised(addr, &app.operator_token).await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    send(&mut prompt, json!({"type": "ping"})).await;
    assert_eq!(receive(&mut prompt).await.expect("pong")["type"], "pong");
    // The default is the documented 10 s.
    assert_eq!(
        app.state.socket_limits.init_timeout,
        Duration::from_secs(10)
    );
}

#[tokio::test]
async fn at_most_twenty_subscriptions_per_connection() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Sockets Limited").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "HQ")
        .await;
    let room = app
        .create_room(&company.admin_token, &site, "Busy Room")
        .await;
    let addr = serve(&app, Duration::from_secs(10)).await;
    let mut socket = initialised(addr, &company.admin_token).await;
    let subscribe = |id: usize| {
        json!({"id": id.to_string(), "type": "subscribe", "payload": {
            "query": "subscription($r: ID!) { bookingEvents(roomId: $r) { kind } }",
            "variables": {"r": room}}})
    };
    let listening = app.event_subscribers();
    for id in 1..=20 {
        send(&mut socket, subscribe(id)).await;
    }
    app.wait_for_subscribers(listening + 20).await;
    // The 21st is answered with the protocol's `error` message for its id; the connection and
    // the twenty others go on.
    send(&mut socket, subscribe(21)).await;
    let refused = receive(&mut socket).await.expect("an error message");
    assert_eq!(refused["type"], "error", "{refused}");
    assert_eq!(refused["id"], "21");
    assert_eq!(refused["payload"][0]["extensions"]["code"], "RATE_LIMITED");
    assert_eq!(app.event_subscribers(), listening + 20);
    // Once one completes, there is room for another.
    send(&mut socket, json!({"id": "1", "type": "complete"})).await;
    send(&mut socket, subscribe(22)).await;
    send(&mut socket, json!({"type": "ping"})).await;
    loop {
        let message = receive(&mut socket).await.expect("a message");
        match message["type"].as_str() {
            Some("pong") => break,
            Some("complete") => assert_eq!(message["id"], "1"),
            _ => panic!("{message}"),
        }
    }
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while app.event_subscribers() != listening + 20 {
        assert!(tokio::time::Instant::now() < deadline, "22 was not taken");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_message_larger_than_the_body_limit_closes_with_1009() {
    let app = TestApp::spawn().await;
    let addr = serve(&app, Duration::from_secs(10)).await;
    // Up to the limit, a message is read (a ping with a large payload is answered).
    let mut socket = initialised(addr, &app.operator_token).await;
    let padding = "x".repeat(MAX_BODY_BYTES - 1_000);
    send(
        &mut socket,
        json!({"type": "ping", "payload": {"padding": padding}}),
    )
    .await;
    assert_eq!(receive(&mut socket).await.expect("pong")["type"], "pong");
    // One byte over: closed with 1009, before anything is parsed.
    let query = format!(
        "subscription {{ bookingEvents {{ kind }} }} #{}",
        "x".repeat(MAX_BODY_BYTES)
    );
    send(
        &mut socket,
        json!({"id": "1", "type": "subscribe", "payload": {"query": query}}),
    )
    .await;
    assert_eq!(
        receive(&mut socket).await,
        Err((u16::from(CloseCode::Size), "message too big".into()))
    );
}

// ---------------------------------------------------------------------------------------------
// Bootstrap
// ---------------------------------------------------------------------------------------------

#[tokio::test]
async fn bootstrap_does_not_recreate_an_operator_whose_email_changed() {
    let app = TestApp::spawn().await;
    let me = app
        .gql(
            Some(&app.operator_token),
            "{ me { id organization { id } } }",
            json!({}),
        )
        .await;
    let (me, platform) = (
        me.ok()["me"]["id"].as_str().expect("id").to_owned(),
        me.ok()["me"]["organization"]["id"]
            .as_str()
            .expect("org")
            .to_owned(),
    );
    let before = app.user_count(&app.operator_token, &platform).await;
    app.gql(
        Some(&app.operator_token),
        "mutation($u: ID!) { updateUser(input: {id: $u, email: \"moved@platform.test\"}) { user { id } } }",
        json!({"u": me}),
    )
    .await
    .ok();
    // The next start still has BOOTSTRAP_ADMIN_EMAIL set to the first e-mail.
    concierge_api::serve::bootstrap(&app.state, OPERATOR_EMAIL, OPERATOR_PASSWORD)
        .await
        .expect("bootstrap");
    assert_eq!(app.user_count(&app.operator_token, &platform).await, before);
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
        )
        .await;
    assert_eq!(r.code(), "UNAUTHENTICATED", "the old e-mail signs in again");
    app.login("moved@platform.test", OPERATOR_PASSWORD).await;
}
