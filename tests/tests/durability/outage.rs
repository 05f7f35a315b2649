//! A PostgreSQL outage: with the database cut off (a proxy between the API and PostgreSQL closes
//! every connection and refuses new ones), `/readyz` answers 503 and GraphQL answers INTERNAL
//! "storage unavailable" without leaking driver details; once the database is back, the pool
//! replaces its dead connections and everything works again, without a restart.

use std::sync::Arc;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use concierge_api::http::router;
use concierge_storage_postgres::PgStore;
use concierge_tests::postgres::fresh_database;
use concierge_tests::{Gql, TestApp};
use serde_json::json;
use tower::ServiceExt as _;

use crate::proxy::{Proxy, upstream_of};

/// How many times, at most, to poll for recovery, and how long to wait between two polls.
const RECOVERY_POLLS: u32 = 100;
const RECOVERY_PAUSE: Duration = Duration::from_millis(100);

/// Words of SQL, of the driver or of the pool that must never reach a client.
const INTERNALS: [&str; 10] = [
    "select",
    "postgres",
    "diesel",
    "pool",
    "connection",
    "tokio",
    "sql",
    "socket",
    "5432",
    "error:",
];

async fn readyz(app: &TestApp) -> (StatusCode, String) {
    let response = router(app.state.clone())
        .oneshot(
            Request::get("/readyz")
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = response.status();
    let body = to_bytes(response.into_body(), 1 << 16).await.expect("body");
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[track_caller]
fn assert_unavailable(r: &Gql, what: &str) {
    r.assert_error("INTERNAL", None);
    let message = r.message().to_lowercase();
    assert!(
        message.contains("storage unavailable"),
        "{what}: {:#}",
        json!(r.errors)
    );
    let everything = json!(r.errors).to_string().to_lowercase();
    for word in INTERNALS {
        assert!(
            !everything.contains(word),
            "{what} leaks {word:?}: {everything}"
        );
    }
}

#[tokio::test]
async fn an_outage_answers_unavailable_and_the_api_recovers_on_its_own() {
    let database = fresh_database().await;
    let proxy = Proxy::start(upstream_of(database.url())).await;
    let store = PgStore::connect(&proxy.url_for(database.url()), 4)
        .await
        .expect("the store, through the proxy");
    let app = TestApp::on_storage(Arc::new(store)).await;
    let (_, company) = app.company("Outage").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Before").await;
    assert_eq!(readyz(&app).await.0, StatusCode::OK);

    proxy.cut();

    let (status, body) = readyz(&app).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
    assert_eq!(body, "storage unavailable");
    // A read, a write, and a sign-in: each answers INTERNAL "storage unavailable", none panics.
    let read = app
        .gql(
            Some(&token),
            "query($s: ID!) { site(id: $s) { name } users { totalCount } }",
            json!({"s": site}),
        )
        .await;
    assert_unavailable(&read, "a read");
    let write = app
        .gql(
            Some(&token),
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company.id, "name": "During", "timeZone": "UTC"}}),
        )
        .await;
    assert_unavailable(&write, "a write");
    let login = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": company.admin_email, "p": concierge_tests::CHOSEN_PASSWORD}),
        )
        .await;
    assert_unavailable(&login, "a sign-in");
    // Still down on a second try (the pool does not hand out a dead connection as alive).
    assert_eq!(readyz(&app).await.0, StatusCode::SERVICE_UNAVAILABLE);

    proxy.restore();

    let mut polls = 0;
    loop {
        polls += 1;
        if readyz(&app).await.0 == StatusCode::OK {
            break;
        }
        assert!(
            polls < RECOVERY_POLLS,
            "/readyz still failing {RECOVERY_POLLS} polls after the database came back"
        );
        tokio::time::sleep(RECOVERY_PAUSE).await;
    }
    // Every request now succeeds (none is served a connection that died in the outage): what
    // was written before is there, and the write refused during the outage never happened.
    for _ in 0..8 {
        let r = app
            .gql(
                Some(&token),
                "query($o: ID!) { sites(organizationId: $o) { edges { node { name } } } }",
                json!({"o": company.id}),
            )
            .await;
        assert_eq!(
            r.ok()["sites"]["edges"],
            json!([{"node": {"name": "Before"}}])
        );
    }
    app.create_site(&token, &company.id, "After").await;
    app.login(&company.admin_email, concierge_tests::CHOSEN_PASSWORD)
        .await;
    assert_eq!(app.user_count(&token, &company.id).await, 1);
}
