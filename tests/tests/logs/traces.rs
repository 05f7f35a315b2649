//! With `OTEL_EXPORTER_OTLP_ENDPOINT` set, the real binary exports its request spans over
//! OTLP/HTTP: a stand-in collector receives them (at the latest when SIGTERM flushes the
//! exporter), named for the service, and no secret of the requests is among them.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::header;
use axum::routing::post;
use concierge_tests::server::{Bootstrap, OPERATOR_EMAIL, OPERATOR_PASSWORD, Scratch, Server};
use serde_json::json;

/// Every body POSTed to `/v1/traces`, as an OTLP/HTTP collector receives them.
type Received = Arc<Mutex<Vec<Bytes>>>;

async fn collect(
    State(received): State<Received>,
    body: Bytes,
) -> impl axum::response::IntoResponse {
    received.lock().expect("received").push(body);
    // An empty ExportTraceServiceResponse: all accepted.
    (
        [(header::CONTENT_TYPE, "application/x-protobuf")],
        Bytes::new(),
    )
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle.as_bytes())
}

#[tokio::test]
async fn request_spans_reach_an_otlp_collector_without_secrets() {
    let received: Received = Arc::default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("a port for the collector");
    let collector = format!("http://{}", listener.local_addr().expect("its address"));
    let app = Router::new()
        .route("/v1/traces", post(collect))
        .with_state(Arc::clone(&received));
    tokio::spawn(async move { axum::serve(listener, app).await });

    let scratch = Scratch::new();
    let env = [("OTEL_EXPORTER_OTLP_ENDPOINT", collector.as_str())];
    // Memory storage (an empty DATABASE_URL): traces do not depend on the backend.
    let server = Server::launch_with("", &scratch, "traces", Bootstrap::Operator, &env).await;
    let r = server
        .gql(None, "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}))
        .await;
    let token = r.ok()["login"]["accessToken"]
        .as_str()
        .expect("an access token")
        .to_owned();
    server
        .gql(Some(&token), "{ me { login } }", json!({}))
        .await
        .ok();
    let status = server.terminate(Duration::from_secs(20)).await;
    assert!(status.success(), "exit status {status}");

    let batches = received.lock().expect("received").clone();
    assert!(!batches.is_empty(), "the collector received no spans");
    let all: Vec<u8> = batches.iter().flat_map(|b| b.iter().copied()).collect();
    assert!(contains(&all, "concierge"), "the service is named");
    assert!(
        contains(&all, "/graphql"),
        "the request spans carry their path"
    );
    for secret in [OPERATOR_PASSWORD, token.as_str()] {
        assert!(!contains(&all, secret), "a secret was exported in a span");
    }
}
