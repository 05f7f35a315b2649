//! Signing in and out as the people created through the API: `me`, `login`, `refreshSession` and
//! `logout` (token rotation and reuse detection are in `sessions`).

use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::{Value, json};

use crate::support::text;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken user { id } } }";
const ME: &str = "{ me { id login status organization { id } profile { id } } }";

async fn sign_in(app: &TestApp, login: &str) -> (String, String) {
    let r = app
        .gql(None, LOGIN, json!({"l": login, "p": CHOSEN_PASSWORD}))
        .await;
    let login = &r.ok()["login"];
    (text(&login["accessToken"]), text(&login["refreshToken"]))
}

#[tokio::test]
async fn me_is_the_signed_in_person() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Selves").await;
    let (id, token) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"bookings": "SELF"}),
            json!({}),
        )
        .await;
    let r = app.gql(Some(&token), ME, json!({})).await;
    let me = &r.ok()["me"];
    assert_eq!(me["id"], json!(id));
    assert_eq!(me["status"], json!("ACTIVE"));
    assert_eq!(me["organization"]["id"], json!(company.id));
    // Signing in again with the login in another case is the same person.
    let (again, _) = sign_in(&app, &text(&me["login"]).to_uppercase()).await;
    let r = app.gql(Some(&again), ME, json!({})).await;
    assert_eq!(r.ok()["me"]["id"], json!(id));

    let r = app.gql(None, ME, json!({})).await;
    r.assert_error("UNAUTHENTICATED", None);
    assert_eq!(r.data, Value::Null);
}

#[tokio::test]
async fn logging_out_with_a_refresh_token_ends_that_session_only() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Two Devices").await;
    let (phone, phone_refresh) = sign_in(&app, &company.admin_email).await;
    let (laptop, _) = sign_in(&app, &company.admin_email).await;

    let r = app
        .gql(
            None,
            "mutation($t: String!) { logout(input: {refreshToken: $t}) { ok } }",
            json!({"t": phone_refresh}),
        )
        .await;
    assert_eq!(r.ok()["logout"]["ok"], json!(true));
    app.gql(Some(&phone), ME, json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(
        None,
        "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }",
        json!({"t": phone_refresh}),
    )
    .await
    .assert_error("UNAUTHENTICATED", None);
    assert!(
        app.gql(Some(&laptop), ME, json!({}))
            .await
            .errors
            .is_empty()
    );

    let events = app.audit_events(&laptop, "session.revoked").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["targetId"], json!(company.admin_id));
}

#[tokio::test]
async fn a_refreshed_session_acts_as_the_same_person() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Refreshed").await;
    let (_, refresh) = sign_in(&app, &company.admin_email).await;
    let r = app
        .gql(
            None,
            "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
                accessToken user { id organization { id } } } }",
            json!({"t": refresh}),
        )
        .await;
    let payload = &r.ok()["refreshSession"];
    assert_eq!(payload["user"]["id"], json!(company.admin_id));
    assert_eq!(payload["user"]["organization"]["id"], json!(company.id));
    // The new access token works for everything the person may do.
    let token = text(&payload["accessToken"]);
    app.create_site(&token, &company.id, "After refresh").await;
}

#[tokio::test]
async fn logging_out_without_a_session_is_unauthenticated() {
    let app = TestApp::spawn().await;
    app.gql(None, "mutation { logout(input: {}) { ok } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
}
