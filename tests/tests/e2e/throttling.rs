//! Throttling of sign-in (DESIGN.md §9): per account, per client address, counted attempt by
//! attempt even inside one request.

use concierge_tests::{OPERATOR_EMAIL, OPERATOR_PASSWORD, TestApp};
use futures::future::join_all;
use serde_json::json;

use crate::support::metric;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";

async fn codes_of(app: &TestApp, login: &str, password: &str) -> String {
    let r = app
        .gql(None, LOGIN, json!({"l": login, "p": password}))
        .await;
    if r.errors.is_empty() {
        "OK".into()
    } else {
        r.code().to_owned()
    }
}

#[tokio::test]
async fn ten_failures_lock_the_account_even_against_the_right_password() {
    let app = TestApp::spawn().await;
    for _ in 0..10 {
        assert_eq!(
            codes_of(&app, OPERATOR_EMAIL, "wrong-password").await,
            "UNAUTHENTICATED"
        );
    }
    let locked = app
        .gql(
            None,
            LOGIN,
            json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
        )
        .await;
    locked.assert_error("RATE_LIMITED", None);
    let metrics = app.state.metrics.render();
    assert_eq!(
        metric(
            &metrics,
            r#"concierge_throttled_attempts_total{operation="login"}"#
        ),
        Some(1.0),
        "{metrics}"
    );
    // Another account from the same address is not locked (the address limit is 50).
    let other = app
        .gql(
            None,
            LOGIN,
            json!({"l": "someone@else.test", "p": "whatever-1234"}),
        )
        .await;
    other.assert_error("UNAUTHENTICATED", None);
    let r = app
        .gql(Some(&app.operator_token), "{ auditEvents(filter: {action: \"login.locked\"}) { totalCount edges { node { ip targetType } } } }", json!({}))
        .await;
    assert_eq!(r.ok()["auditEvents"]["totalCount"], json!(1));
    assert_eq!(
        r.ok()["auditEvents"]["edges"][0]["node"]["ip"],
        json!("127.0.0.1")
    );
}

#[tokio::test]
async fn aliased_attempts_in_one_request_count_one_by_one() {
    let app = TestApp::spawn().await;
    let fields: String = (0..12)
        .map(|i| format!("a{i}: login(input: {{login: \"{OPERATOR_EMAIL}\", password: \"guess-{i}\"}}) {{ accessToken }} "))
        .collect();
    let r = app
        .gql(None, &format!("mutation {{ {fields} }}"), json!({}))
        .await;
    let codes: Vec<&str> = r
        .errors
        .iter()
        .map(|e| e["extensions"]["code"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(codes.len(), 12);
    assert_eq!(
        codes.iter().filter(|c| **c == "UNAUTHENTICATED").count(),
        10,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| **c == "RATE_LIMITED").count(),
        2,
        "{codes:?}"
    );
}

#[tokio::test]
async fn parallel_attempts_cannot_race_past_the_limit() {
    let app = TestApp::spawn().await;
    let attempts = (0..50).map(|i| {
        let app = &app;
        async move { codes_of(app, OPERATOR_EMAIL, &format!("parallel-guess-{i}")).await }
    });
    let codes = join_all(attempts).await;
    assert_eq!(
        codes.iter().filter(|c| *c == "UNAUTHENTICATED").count(),
        10,
        "{codes:?}"
    );
    assert_eq!(
        codes.iter().filter(|c| *c == "RATE_LIMITED").count(),
        40,
        "{codes:?}"
    );
}

#[tokio::test]
async fn one_address_gets_fifty_failures_whatever_the_accounts() {
    let app = TestApp::spawn().await;
    for i in 0..50 {
        assert_eq!(
            codes_of(&app, &format!("nobody{i}@spray.test"), "spray-password").await,
            "UNAUTHENTICATED"
        );
    }
    assert_eq!(
        codes_of(&app, "fresh@spray.test", "spray-password").await,
        "RATE_LIMITED"
    );
    assert_eq!(
        codes_of(&app, OPERATOR_EMAIL, OPERATOR_PASSWORD).await,
        "RATE_LIMITED"
    );
}

#[tokio::test]
async fn successful_sign_ins_do_not_count() {
    let app = TestApp::spawn().await;
    for _ in 0..15 {
        assert_eq!(
            codes_of(&app, OPERATOR_EMAIL, OPERATOR_PASSWORD).await,
            "OK"
        );
    }
    assert_eq!(
        codes_of(&app, OPERATOR_EMAIL, "wrong-password").await,
        "UNAUTHENTICATED"
    );
}

/// Enumeration by timing: with production hashing, an unknown login costs what a wrong password
/// costs (one Argon2 verification each). The two kinds of attempt alternate, so that whatever
/// else loads the machine weighs on both alike, and their medians are compared; no absolute
/// time is asserted.
#[tokio::test]
async fn unknown_logins_take_as_long_as_wrong_passwords() {
    let app = TestApp::with_settings(&[("ARGON2_COST", "owasp")]).await;
    let timed = |login: String| {
        let app = &app;
        async move {
            let started = std::time::Instant::now();
            let r = app
                .gql(None, LOGIN, json!({"l": login, "p": "not-the-password"}))
                .await;
            let elapsed = started.elapsed();
            r.assert_error("UNAUTHENTICATED", None);
            elapsed
        }
    };
    let (mut wrong, mut missing) = (Vec::new(), Vec::new());
    for i in 0..9 {
        wrong.push(timed(OPERATOR_EMAIL.to_owned()).await);
        missing.push(timed(format!("ghost{i}@nowhere.test")).await);
    }
    wrong.sort();
    missing.sort();
    let (wrong, missing) = (wrong[4], missing[4]);
    let ratio = missing.as_secs_f64() / wrong.as_secs_f64();
    assert!(
        (0.5..2.0).contains(&ratio),
        "unknown {missing:?} vs wrong {wrong:?} (ratio {ratio:.2})"
    );
}
