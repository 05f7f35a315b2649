use concierge_tests::{OPERATOR_EMAIL, OPERATOR_PASSWORD, TestApp};
use serde_json::json;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken expiresAt mustChangePassword user { login organization { kind } } } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken refreshToken } }";

#[tokio::test]
async fn login_answers_the_same_for_unknown_login_and_wrong_password() {
    let app = TestApp::spawn().await;
    let wrong = app
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL, "p": "not-the-password"}),
        )
        .await;
    let unknown = app
        .gql(
            None,
            LOGIN,
            json!({"l": "nobody@nowhere.test", "p": "whatever-password"}),
        )
        .await;
    wrong.assert_error("UNAUTHENTICATED", None);
    unknown.assert_error("UNAUTHENTICATED", None);
    assert_eq!(wrong.message(), unknown.message());
}

#[tokio::test]
async fn login_payload_resolves_as_the_signed_in_user() {
    let app = TestApp::spawn().await;
    let r = app
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL.to_uppercase(), "p": OPERATOR_PASSWORD}),
        )
        .await;
    let login = &r.ok()["login"];
    assert_eq!(login["user"]["login"], json!(OPERATOR_EMAIL));
    assert_eq!(login["user"]["organization"]["kind"], json!("PLATFORM"));
    assert_eq!(login["mustChangePassword"], json!(false));
}

#[tokio::test]
async fn refresh_tokens_rotate_and_a_reused_one_ends_the_session() {
    let app = TestApp::spawn().await;
    let first = app
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
        )
        .await;
    let refresh1 = first.ok()["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let second = app.gql(None, REFRESH, json!({"t": refresh1})).await;
    let refresh2 = second.ok()["refreshSession"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let access2 = second.ok()["refreshSession"]["accessToken"]
        .as_str()
        .expect("access")
        .to_owned();
    assert_ne!(refresh1, refresh2);
    assert!(
        app.gql(Some(&access2), "{ me { id } }", json!({}))
            .await
            .errors
            .is_empty()
    );

    // The spent token is presented again: the whole session is revoked.
    app.gql(None, REFRESH, json!({"t": refresh1}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(None, REFRESH, json!({"t": refresh2}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(Some(&access2), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    let events = app
        .gql(
            Some(&app.operator_token),
            "{ auditEvents(filter: {action: \"session.reuse_detected\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(events.ok()["auditEvents"]["totalCount"], json!(1));
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let token = app.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = app
        .gql(
            Some(&token),
            "mutation { logout(input: {}) { ok } }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["logout"]["ok"], json!(true));
    app.gql(Some(&token), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    // Other sessions live on.
    assert!(
        app.gql(Some(&app.operator_token), "{ me { id } }", json!({}))
            .await
            .errors
            .is_empty()
    );
}

#[tokio::test]
async fn garbage_tokens_are_unauthenticated() {
    let app = TestApp::spawn().await;
    for token in ["", "abc", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0."] {
        app.gql(Some(token), "{ me { id } }", json!({}))
            .await
            .assert_error("UNAUTHENTICATED", None);
    }
}

#[tokio::test]
async fn any_spent_refresh_token_ends_the_session_not_only_the_last_one() {
    let app = TestApp::spawn().await;
    let first = app
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
        )
        .await;
    let oldest = first.ok()["login"]["refreshToken"]
        .as_str()
        .expect("refresh")
        .to_owned();
    let mut current = oldest.clone();
    let mut access = String::new();
    for _ in 0..3 {
        let r = app.gql(None, REFRESH, json!({"t": current})).await;
        current = r.ok()["refreshSession"]["refreshToken"]
            .as_str()
            .expect("refresh")
            .to_owned();
        access = r.ok()["refreshSession"]["accessToken"]
            .as_str()
            .expect("access")
            .to_owned();
    }
    app.gql(None, REFRESH, json!({"t": oldest}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(None, REFRESH, json!({"t": current}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(Some(&access), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
}
