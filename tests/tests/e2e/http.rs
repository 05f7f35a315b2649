//! The HTTP surface, through the real router: health, request ids, GraphiQL, batches, limits.

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode, header};
use concierge_api::http::router;
use concierge_tests::TestApp;
use serde_json::{Value, json};
use tower::ServiceExt;

async fn send(
    app: &TestApp,
    request: Request<Body>,
) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let response = router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let status = response.status();
    let headers = response.headers().clone();
    let body = to_bytes(response.into_body(), 1 << 20)
        .await
        .expect("body")
        .to_vec();
    (status, headers, body)
}

fn post(body: &Value, token: Option<&str>) -> Request<Body> {
    let mut builder = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(token) = token {
        builder = builder.header(header::AUTHORIZATION, format!("Bearer {token}"));
    }
    builder.body(Body::from(body.to_string())).expect("request")
}

#[tokio::test]
async fn health_and_readiness_answer_with_a_request_id() {
    let app = TestApp::spawn().await;
    for path in ["/healthz", "/readyz"] {
        let (status, headers, _) = send(
            &app,
            Request::get(path).body(Body::empty()).expect("request"),
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(
            headers.get("x-request-id").is_some_and(|v| !v.is_empty()),
            "{path}"
        );
    }
}

#[tokio::test]
async fn graphql_over_post_and_get() {
    let app = TestApp::spawn().await;
    let token = app.operator_token.clone();
    let (status, _, body) = send(
        &app,
        post(&json!({"query": "{ me { login } }"}), Some(&token)),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        body["data"]["me"]["login"],
        json!(concierge_tests::OPERATOR_EMAIL)
    );

    let get = Request::get("/graphql?query=%7B%20me%20%7B%20login%20%7D%20%7D")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::empty())
        .expect("request");
    let (_, _, body) = send(&app, get).await;
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        body["data"]["me"]["login"],
        json!(concierge_tests::OPERATOR_EMAIL)
    );

    let browser = Request::get("/graphql")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let (status, _, body) = send(&app, browser).await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        String::from_utf8_lossy(&body)
            .to_lowercase()
            .contains("graphiql")
    );
}

#[tokio::test]
async fn batches_run_each_operation_and_are_capped() {
    let app = TestApp::spawn().await;
    let token = app.operator_token.clone();
    let two = json!([{"query": "{ me { login } }"}, {"query": "{ me { id } }"}]);
    let (status, _, body) = send(&app, post(&two, Some(&token))).await;
    assert_eq!(status, StatusCode::OK);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(body.as_array().map(Vec::len), Some(2));
    assert!(body[1]["data"]["me"]["id"].is_string());

    let eleven = Value::Array(vec![json!({"query": "{ me { id } }"}); 11]);
    let (status, _, body) = send(&app, post(&eleven, Some(&token))).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let body: Value = serde_json::from_slice(&body).expect("json");
    assert_eq!(
        body["errors"][0]["extensions"]["code"],
        json!("GRAPHQL_VALIDATION_FAILED")
    );
}

#[tokio::test]
async fn oversized_bodies_are_refused() {
    let app = TestApp::spawn().await;
    let huge = json!({"query": "{ me { id } }", "variables": {"pad": "x".repeat(300 * 1024)}});
    let (status, _, _) = send(&app, post(&huge, None)).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
}

#[tokio::test]
async fn metrics_count_operations_by_root_field_and_code() {
    let app = TestApp::spawn().await;
    let token = app.operator_token.clone();
    send(
        &app,
        post(&json!({"query": "{ me { login } }"}), Some(&token)),
    )
    .await;
    send(
        &app,
        post(
            &json!({"query": "{ organization(id: \"nope\") { id } }"}),
            Some(&token),
        ),
    )
    .await;
    let (status, headers, body) = send(
        &app,
        Request::get("/metrics")
            .body(Body::empty())
            .expect("request"),
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        headers[header::CONTENT_TYPE]
            .to_str()
            .unwrap_or("")
            .starts_with("text/plain")
    );
    let text = String::from_utf8(body).expect("utf-8");
    // Every sample line is `name{labels} value` with a numeric value.
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let value = line.rsplit(' ').next().unwrap_or("");
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }
    assert!(
        text.contains(r#"concierge_graphql_requests_total{code="OK",operation="me"} 1"#),
        "{text}"
    );
    assert!(
        text.contains(
            r#"concierge_graphql_requests_total{code="NOT_FOUND",operation="organization"} 1"#
        ),
        "{text}"
    );
    assert!(text.contains("concierge_graphql_request_duration_seconds_bucket"));
}
