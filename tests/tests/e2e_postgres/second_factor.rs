//! The second factor on both backends (the real clock): enrolment, a challenge raced by ten
//! recovery codes at once (exactly one signs in, one code is spent), the next step's code, an
//! administrator's reset.

use chrono::{Duration, Utc};
use concierge_domain::totp_code_at;
use concierge_tests::{CHOSEN_PASSWORD, Gql, TestApp};
use serde_json::json;

use crate::support::text;

async fn challenge(app: &TestApp, login: &str) -> String {
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { signIn(input: {login: $l, password: $p}) {
                session { accessToken } secondFactorChallenge { challenge } } }",
            json!({"l": login, "p": CHOSEN_PASSWORD}),
        )
        .await;
    text(&r.ok()["signIn"]["secondFactorChallenge"]["challenge"])
}

async fn verify(app: &TestApp, challenge: &str, code: &str) -> Gql {
    app.gql(
        None,
        "mutation($ch: String!, $c: String!) { verifySecondFactor(input: {challenge: $ch, code: $c}) { accessToken } }",
        json!({"ch": challenge, "c": code}),
    )
    .await
}

pub async fn a_challenge_raced_by_recovery_codes_signs_in_once(app: &TestApp) {
    let (_, company) = app.company("Race Factor Co").await;
    let admin = &company.admin_token;
    let (member_id, member) = app
        .member(admin, &company.id, json!({"users": "READ"}), json!({}))
        .await;
    let me = app.gql(Some(&member), "{ me { email } }", json!({})).await;
    let email = text(&me.ok()["me"]["email"]);

    let started = app
        .gql(
            Some(&member),
            "mutation { startTotpEnrollment { secret } }",
            json!({}),
        )
        .await;
    let secret = text(&started.ok()["startTotpEnrollment"]["secret"]);
    let confirmed = app
        .gql(
            Some(&member),
            "mutation($c: String!) { confirmTotpEnrollment(input: {code: $c}) { recoveryCodes } }",
            json!({"c": totp_code_at(&secret, Utc::now()).expect("code")}),
        )
        .await;
    let codes: Vec<String> = confirmed.ok()["confirmTotpEnrollment"]["recoveryCodes"]
        .as_array()
        .expect("codes")
        .iter()
        .map(text)
        .collect();

    let ch = challenge(app, &email).await;
    let answers = futures::future::join_all(codes.iter().map(|c| verify(app, &ch, c))).await;
    assert_eq!(
        answers.iter().filter(|r| r.errors.is_empty()).count(),
        1,
        "{answers:#?}"
    );
    for refused in answers.iter().filter(|r| !r.errors.is_empty()) {
        refused.assert_error("UNAUTHENTICATED", None);
    }
    let status = app
        .gql(
            Some(&member),
            "{ secondFactorStatus { enabled recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["secondFactorStatus"],
        json!({"enabled": true, "recoveryCodesLeft": 9})
    );

    // The next step's code (the confirming step's is spent) signs in, once.
    let next = totp_code_at(&secret, Utc::now() + Duration::seconds(30)).expect("code");
    let ch = challenge(app, &email).await;
    verify(app, &ch, &next).await.ok();
    let ch = challenge(app, &email).await;
    verify(app, &ch, &next)
        .await
        .assert_error("VALIDATION", Some("code"));

    // Reset by the administrator: the password alone signs in again.
    app.gql(
        Some(admin),
        "mutation($u: ID!) { resetSecondFactor(input: {userId: $u}) { ok } }",
        json!({"u": member_id}),
    )
    .await
    .ok();
    assert_eq!(app.audit_events(admin, "mfa.reset").await.len(), 1);
    app.login(&email, CHOSEN_PASSWORD).await;
}
