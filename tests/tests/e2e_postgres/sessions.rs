//! Sessions as a person of a client company lives them: sign in, refresh (tokens rotate, a spent
//! one replayed ends the session), sign out (that session only), and failures that all look alike.

use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::json;

use crate::support::text;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken mustChangePassword user { id } } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
    accessToken refreshToken user { id } } }";
const ME: &str = "{ me { id } }";

/// Signs in with the chosen password; returns (access token, refresh token).
async fn sign_in(app: &TestApp, login: &str, user_id: &str) -> (String, String) {
    let r = app
        .gql(None, LOGIN, json!({"l": login, "p": CHOSEN_PASSWORD}))
        .await;
    let payload = &r.ok()["login"];
    assert_eq!(payload["user"]["id"], json!(user_id));
    assert_eq!(payload["mustChangePassword"], json!(false));
    (
        text(&payload["accessToken"]),
        text(&payload["refreshToken"]),
    )
}

async fn is_signed_in_as(app: &TestApp, token: &str, user_id: &str) -> bool {
    let r = app.gql(Some(token), ME, json!({})).await;
    match r.errors.first() {
        None => r.data["me"]["id"] == json!(user_id),
        Some(_) => {
            r.assert_error("UNAUTHENTICATED", None);
            false
        }
    }
}

pub async fn login_refresh_and_logout(app: &TestApp) {
    let (_, company) = app.company("Sessions").await;
    let login = company.admin_email.clone();
    let me = company.admin_id.clone();

    // Refresh: a new pair, the old refresh token is spent, the new access token works.
    let (access1, refresh1) = sign_in(app, &login.to_uppercase(), &me).await;
    assert!(is_signed_in_as(app, &access1, &me).await);
    let r = app.gql(None, REFRESH, json!({"t": refresh1})).await;
    let payload = &r.ok()["refreshSession"];
    assert_eq!(payload["user"]["id"], json!(me));
    let (access2, refresh2) = (
        text(&payload["accessToken"]),
        text(&payload["refreshToken"]),
    );
    assert_ne!(refresh1, refresh2);
    assert!(is_signed_in_as(app, &access2, &me).await);
    let r = app.gql(None, REFRESH, json!({"t": refresh2})).await;
    let refresh3 = text(&r.ok()["refreshSession"]["refreshToken"]);
    let access3 = text(&r.ok()["refreshSession"]["accessToken"]);

    // Spent refresh tokens are refused; the one spent last, replayed (stolen?), ends the whole
    // session, current tokens included.
    for spent in [&refresh1, &refresh2] {
        app.gql(None, REFRESH, json!({"t": spent}))
            .await
            .assert_error("UNAUTHENTICATED", None);
    }
    app.gql(None, REFRESH, json!({"t": refresh3}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    assert!(!is_signed_in_as(app, &access3, &me).await);

    // Two devices; signing out on one ends that session only.
    let (phone, phone_refresh) = sign_in(app, &login, &me).await;
    let (laptop, laptop_refresh) = sign_in(app, &login, &me).await;
    let r = app
        .gql(
            Some(&phone),
            "mutation { logout(input: {}) { ok } }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["logout"]["ok"], json!(true));
    assert!(!is_signed_in_as(app, &phone, &me).await);
    app.gql(None, REFRESH, json!({"t": phone_refresh}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    assert!(is_signed_in_as(app, &laptop, &me).await);

    // Signing out by refresh token, without an access token, ends that session too.
    let r = app
        .gql(
            None,
            "mutation($t: String!) { logout(input: {refreshToken: $t}) { ok } }",
            json!({"t": laptop_refresh}),
        )
        .await;
    assert_eq!(r.ok()["logout"]["ok"], json!(true));
    assert!(!is_signed_in_as(app, &laptop, &me).await);

    // What was recorded: the replay, and the sign-ins of the administrator.
    let (admin, _) = sign_in(app, &login, &me).await;
    let replays = app.audit_events(&admin, "session.reuse_detected").await;
    assert_eq!(replays.len(), 1, "{replays:#?}");
    assert_eq!(replays[0]["targetId"], json!(me));
    let logins = app.audit_events(&admin, "login.succeeded").await;
    assert!(
        logins
            .iter()
            .filter(|e| e["actor"]["id"] == json!(me))
            .count()
            >= 4,
        "{logins:#?}"
    );
}

pub async fn sign_in_failures_look_alike(app: &TestApp) {
    let (_, company) = app.company("Lookalike").await;
    let attempts = [
        (company.admin_email.clone(), "not-the-password-at-all"),
        ("nobody@nowhere.test".to_owned(), CHOSEN_PASSWORD),
        ("no.such.username".to_owned(), "123456"),
    ];
    let mut messages = Vec::new();
    for (login, password) in attempts {
        let r = app
            .gql(None, LOGIN, json!({"l": login, "p": password}))
            .await;
        r.assert_error("UNAUTHENTICATED", None);
        assert_eq!(r.data, serde_json::Value::Null);
        messages.push(r.message().to_owned());
    }
    assert!(messages.windows(2).all(|w| w[0] == w[1]), "{messages:?}");

    // A deactivated account answers the same, even with the right password.
    let created = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Gone", "lastName": "Soon", "email": "gone@lookalike.test"}),
        )
        .await;
    let password = text(&created["credentials"]["temporaryPassword"]);
    app.gql(
        Some(&company.admin_token),
        "mutation($i: UserIdInput!) { deactivateUser(input: $i) { user { status } } }",
        json!({"i": {"userId": created["user"]["id"]}}),
    )
    .await
    .ok();
    let r = app
        .gql(
            None,
            LOGIN,
            json!({"l": "gone@lookalike.test", "p": password}),
        )
        .await;
    r.assert_error("UNAUTHENTICATED", None);
    assert_eq!(r.message(), messages[0]);
}
