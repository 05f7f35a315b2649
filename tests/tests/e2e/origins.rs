//! Browser origins (`ALLOWED_ORIGINS`), client addresses behind proxies (`TRUSTED_PROXIES`), and
//! the production switch (no introspection, no GraphiQL).

use std::net::SocketAddr;

use axum::body::{Body, to_bytes};
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use concierge_api::http::router;
use concierge_tests::TestApp;
use serde_json::{Value, json};
use tower::ServiceExt as _;

async fn app_with(vars: &[(&str, &str)]) -> TestApp {
    TestApp::with_settings(vars).await
}

#[tokio::test]
async fn cors_answers_only_allowed_origins() {
    let app = app_with(&[("ALLOWED_ORIGINS", "https://rooms.example.com")]).await;
    for (origin, allowed) in [
        ("https://rooms.example.com", true),
        ("https://evil.example", false),
    ] {
        let preflight = Request::builder()
            .method("OPTIONS")
            .uri("/graphql")
            .header(header::ORIGIN, origin)
            .header("access-control-request-method", "POST")
            .header(
                "access-control-request-headers",
                "authorization,content-type",
            )
            .body(Body::empty())
            .expect("request");
        let response = router(app.state.clone())
            .oneshot(preflight)
            .await
            .expect("response");
        let granted = response
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok())
            == Some(origin);
        assert_eq!(granted, allowed, "{origin}");
    }
}

#[tokio::test]
async fn websocket_upgrades_from_foreign_origins_are_refused() {
    let app = app_with(&[("ALLOWED_ORIGINS", "https://rooms.example.com")]).await;
    let upgrade = |origin: &str| {
        Request::get("/graphql")
            .header(header::HOST, "api.example.com")
            .header(header::ORIGIN, origin)
            .header(header::UPGRADE, "websocket")
            .header(header::CONNECTION, "upgrade")
            .header("sec-websocket-version", "13")
            .header("sec-websocket-key", "dGhlIHNhbXBsZSBub25jZQ==")
            .header("sec-websocket-protocol", "graphql-transport-ws")
            .body(Body::empty())
            .expect("request")
    };
    let refused = router(app.state.clone())
        .oneshot(upgrade("https://evil.example"))
        .await
        .expect("response");
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let body: Value =
        serde_json::from_slice(&to_bytes(refused.into_body(), 1 << 16).await.expect("body"))
            .expect("json");
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("FORBIDDEN"));
    // The server's own origin and allowed ones get past the origin check (the upgrade itself
    // needs a real connection, so anything but 403 will do here).
    for origin in ["https://api.example.com", "https://rooms.example.com"] {
        let response = router(app.state.clone())
            .oneshot(upgrade(origin))
            .await
            .expect("response");
        assert_ne!(response.status(), StatusCode::FORBIDDEN, "{origin}");
    }
}

async fn login_from(app: &TestApp, peer: &str, forwarded: Option<&str>, password: &str) -> Value {
    let body = json!({"query": format!("mutation {{ login(input: {{login: \"{}\", password: \"{password}\"}}) {{ accessToken }} }}", concierge_tests::OPERATOR_EMAIL)});
    let mut request = Request::post("/graphql").header(header::CONTENT_TYPE, "application/json");
    if let Some(forwarded) = forwarded {
        request = request.header("x-forwarded-for", forwarded);
    }
    let mut request = request.body(Body::from(body.to_string())).expect("request");
    let peer: SocketAddr = format!("{peer}:4000").parse().expect("peer");
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = router(app.state.clone())
        .oneshot(request)
        .await
        .expect("response");
    serde_json::from_slice(&to_bytes(response.into_body(), 1 << 16).await.expect("body"))
        .expect("json")
}

#[tokio::test]
async fn the_audit_log_records_the_client_behind_a_trusted_proxy_and_ignores_forged_headers() {
    let app = app_with(&[("TRUSTED_PROXIES", "10.0.0.0/8")]).await;
    login_from(
        &app,
        "10.0.0.5",
        Some("6.6.6.6, 198.51.100.7"),
        "wrong-password",
    )
    .await;
    login_from(&app, "203.0.113.9", Some("1.2.3.4"), "wrong-password").await;
    let r = app
        .gql(
            Some(&app.operator_token),
            "{ auditEvents(filter: {action: \"login.failed\"}) { edges { node { ip } } } }",
            json!({}),
        )
        .await;
    let ips: Vec<Value> = r.ok()["auditEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["ip"].clone())
        .collect();
    assert_eq!(ips, [json!("203.0.113.9"), json!("198.51.100.7")]);
}

#[tokio::test]
async fn production_turns_introspection_and_graphiql_off() {
    // Production refuses the cheap test hashing, by design: this app hashes for real. And it
    // refuses short keys: these are long enough.
    let app = app_with(&[
        ("APP_ENV", "production"),
        ("ARGON2_COST", "owasp"),
        ("JWT_SECRET", "origins-test-jwt-secret-of-at-least-32-bytes"),
        ("CODE_PEPPER", "origins-test-pepper-of-at-least-32-bytes"),
    ])
    .await;
    let r = app
        .gql(
            Some(&app.operator_token),
            "{ __schema { types { name } } }",
            json!({}),
        )
        .await;
    // Nothing of the schema is disclosed.
    assert_eq!(
        r.data["__schema"],
        Value::Null,
        "introspection must be off in production"
    );
    let dev = TestApp::spawn().await;
    let open = dev
        .gql(
            Some(&dev.operator_token),
            "{ __schema { types { name } } }",
            json!({}),
        )
        .await;
    assert!(
        open.ok()["__schema"]["types"].is_array(),
        "and on outside production"
    );
    let browser = Request::get("/graphql")
        .header(header::ACCEPT, "text/html")
        .body(Body::empty())
        .expect("request");
    let response = router(app.state.clone())
        .oneshot(browser)
        .await
        .expect("response");
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    assert!(
        !String::from_utf8_lossy(&body)
            .to_lowercase()
            .contains("graphiql")
    );
    // Ordinary operations still work.
    assert!(
        app.gql(Some(&app.operator_token), "{ me { id } }", json!({}))
            .await
            .errors
            .is_empty()
    );
}
