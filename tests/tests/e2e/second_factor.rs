//! A second factor (TOTP, RFC 6238) with a controlled clock: enrolment, sign-in with a
//! challenge, the ±1 step window, single use of codes, recovery codes and challenges, challenge
//! expiry, throttling, an organization's rule, an administrator's reset (audit and e-mail).

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use concierge_domain::clock::ManualClock;
use concierge_domain::{EmailKind, totp_code_at};
use concierge_tests::{CHOSEN_PASSWORD, Gql, TestApp};
use serde_json::json;

use crate::support::text;

/// An application whose domain runs on a clock the test moves. It starts at the real time
/// (access tokens are checked against it), ten seconds into a 30-second step.
async fn app_with_clock() -> (TestApp, Arc<ManualClock>) {
    let mut app = TestApp::spawn().await;
    let now = Utc::now().timestamp();
    let start = DateTime::from_timestamp(now - now.rem_euclid(30) + 10, 0).expect("time");
    let clock = Arc::new(ManualClock::new(start));
    let mut domain = app.state.domain.clone();
    domain.clock = clock.clone();
    app.state.schema = concierge_api::graphql::build_schema(
        Some(domain.clone()),
        false,
        Some(Arc::clone(&app.state.metrics)),
    );
    app.state.domain = domain;
    (app, clock)
}

fn now(clock: &ManualClock) -> DateTime<Utc> {
    concierge_domain::clock::Clock::now(clock)
}

/// The code of `secret` `steps` steps away from the clock's current one.
fn code(secret: &str, clock: &ManualClock, steps: i64) -> String {
    totp_code_at(secret, now(clock) + Duration::seconds(30 * steps)).expect("code")
}

/// Starts and confirms an enrolment for the holder of `token`: (secret, recovery codes).
async fn enrol(app: &TestApp, clock: &ManualClock, token: &str) -> (String, Vec<String>) {
    let started = app
        .gql(
            Some(token),
            "mutation { startTotpEnrollment { secret otpauthUri qrCodeSvg } }",
            json!({}),
        )
        .await;
    let payload = &started.ok()["startTotpEnrollment"];
    let secret = text(&payload["secret"]);
    let uri = text(&payload["otpauthUri"]);
    assert!(uri.starts_with("otpauth://totp/"), "{uri}");
    assert!(uri.contains(&format!("secret={secret}")), "{uri}");
    assert!(text(&payload["qrCodeSvg"]).contains("<svg"));
    let confirmed = confirm(app, token, &code(&secret, clock, 0)).await;
    let codes: Vec<String> = confirmed.ok()["confirmTotpEnrollment"]["recoveryCodes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(text)
        .collect();
    assert_eq!(codes.len(), 10);
    (secret, codes)
}

async fn confirm(app: &TestApp, token: &str, code: &str) -> Gql {
    app.gql(
        Some(token),
        "mutation($c: String!) { confirmTotpEnrollment(input: {code: $c}) { recoveryCodes } }",
        json!({"c": code}),
    )
    .await
}

/// Signs in with a password and expects a challenge (from `login`'s error extensions, and
/// checks that `signIn` answers one in its payload too); returns the `login` one.
async fn challenge(app: &TestApp, login: &str) -> String {
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": login, "p": CHOSEN_PASSWORD}),
        )
        .await;
    r.assert_error("UNAUTHENTICATED", Some("secondFactor"));
    let from_login = text(&r.errors[0]["extensions"]["secondFactorChallenge"]);
    assert!(r.errors[0]["extensions"]["challengeExpiresAt"].is_string());
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { signIn(input: {login: $l, password: $p}) {
                session { accessToken } secondFactorChallenge { challenge expiresAt } } }",
            json!({"l": login, "p": CHOSEN_PASSWORD}),
        )
        .await;
    let payload = &r.ok()["signIn"];
    assert!(payload["session"].is_null());
    assert!(!from_login.is_empty());
    // A new sign-in replaces the pending challenge: the one `signIn` answered is current.
    let current = text(&payload["secondFactorChallenge"]["challenge"]);
    assert_ne!(current, from_login);
    current
}

async fn verify(app: &TestApp, challenge: &str, code: &str) -> Gql {
    app.gql(
        None,
        "mutation($ch: String!, $c: String!) { verifySecondFactor(input: {challenge: $ch, code: $c}) {
            accessToken refreshToken user { id } mustEnrollSecondFactor } }",
        json!({"ch": challenge, "c": code}),
    )
    .await
}

async fn users_visible(app: &TestApp, token: &str) -> Gql {
    app.gql(Some(token), "{ users(first: 1) { totalCount } }", json!({}))
        .await
}

#[tokio::test]
async fn enrolment_then_sign_in_needs_a_code_of_the_window_once() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Totp Co").await;
    let token = &company.admin_token;

    // Confirming needs a right code; nothing is pending before a start.
    confirm(&app, token, "123456")
        .await
        .assert_error("CONFLICT", Some("code"));
    let started = app
        .gql(
            Some(token),
            "mutation { startTotpEnrollment { secret } }",
            json!({}),
        )
        .await;
    let secret = text(&started.ok()["startTotpEnrollment"]["secret"]);
    let wrong = code(&secret, &clock, 3);
    confirm(&app, token, &wrong)
        .await
        .assert_error("VALIDATION", Some("code"));
    // Until confirmed, the password alone still signs in.
    app.login(&company.admin_email, CHOSEN_PASSWORD).await;
    // Started again: a new key; the first one no longer confirms.
    let (new_secret, _) = enrol(&app, &clock, token).await;
    assert_ne!(new_secret, secret);
    let secret = new_secret;
    let enrolled = app.audit_events(token, "mfa.enrolled").await;
    assert_eq!(enrolled.len(), 1);
    assert_eq!(text(&enrolled[0]["targetId"]), company.admin_id);
    app.gql(
        Some(token),
        "mutation { startTotpEnrollment { secret } }",
        json!({}),
    )
    .await
    .assert_error("CONFLICT", Some("secondFactor"));
    let status = app
        .gql(
            Some(token),
            "{ secondFactorStatus { enabled recoveryCodesLeft required } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["secondFactorStatus"],
        json!({"enabled": true, "recoveryCodesLeft": 10, "required": false})
    );

    // The code of the confirming step was used: refused at sign-in.
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, 0))
        .await
        .assert_error("VALIDATION", Some("code"));

    // Five minutes later: two steps away is refused, one step away accepted.
    clock.advance(Duration::minutes(5));
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, -2))
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, &code(&secret, &clock, 2))
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, "not-a-code")
        .await
        .assert_error("VALIDATION", Some("code"));
    let signed = verify(&app, &ch, &code(&secret, &clock, -1)).await;
    let session = &signed.ok()["verifySecondFactor"];
    assert_eq!(text(&session["user"]["id"]), company.admin_id);
    assert_eq!(session["mustEnrollSecondFactor"], json!(false));
    let fresh = text(&session["accessToken"]);
    users_visible(&app, &fresh).await.ok();

    // The challenge is spent.
    verify(&app, &ch, &code(&secret, &clock, 0))
        .await
        .assert_error("UNAUTHENTICATED", None);
    // The same code again is refused; the current step's is accepted once, then the next one.
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, -1))
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, &code(&secret, &clock, 0)).await.ok();
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, 0))
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, &code(&secret, &clock, 1)).await.ok();
    // An earlier step than the last accepted one is refused even inside the window.
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, 0))
        .await
        .assert_error("VALIDATION", Some("code"));

    // A made-up challenge names nobody.
    verify(&app, "nobody.nothing", "123456")
        .await
        .assert_error("UNAUTHENTICATED", None);
}

#[tokio::test]
async fn recovery_codes_sign_in_once_each() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Recovery Co").await;
    let (_, codes) = enrol(&app, &clock, &company.admin_token).await;

    let ch = challenge(&app, &company.admin_email).await;
    // Typed in capitals, without its dash: the same code.
    let typed = codes[0].replace('-', "").to_uppercase();
    verify(&app, &ch, &typed).await.ok();
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &codes[0])
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, &codes[1]).await.ok();
    let used = app
        .audit_events(&company.admin_token, "mfa.recovery_code_used")
        .await;
    assert_eq!(used.len(), 2);
    let status = app
        .gql(
            Some(&company.admin_token),
            "{ secondFactorStatus { recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["secondFactorStatus"]["recoveryCodesLeft"],
        json!(8)
    );

    // A challenge is answered within five minutes; later it has expired, and the recovery
    // code tried on it is not spent.
    let ch = challenge(&app, &company.admin_email).await;
    clock.advance(Duration::minutes(4));
    verify(&app, &ch, &codes[2]).await.ok();
    let ch = challenge(&app, &company.admin_email).await;
    clock.advance(Duration::minutes(5) + Duration::seconds(1));
    verify(&app, &ch, &codes[3])
        .await
        .assert_error("UNAUTHENTICATED", None);
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &codes[3]).await.ok();
}

async fn regenerate(app: &TestApp, token: &str, code: &str) -> Gql {
    app.gql(
        Some(token),
        "mutation($c: String!) { regenerateRecoveryCodes(input: {code: $c}) { recoveryCodes } }",
        json!({"c": code}),
    )
    .await
}

#[tokio::test]
async fn new_recovery_codes_replace_the_old_ones_on_a_current_code() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Renewal Co").await;
    let token = company.admin_token.clone();
    // Before any enrolment there is nothing to renew.
    regenerate(&app, &token, "123456")
        .await
        .assert_error("CONFLICT", Some("code"));
    let (secret, old) = enrol(&app, &clock, &token).await;
    clock.advance(Duration::minutes(1));

    // A recovery code, a wrong code or the code already used do not renew them.
    regenerate(&app, &token, &old[0])
        .await
        .assert_error("VALIDATION", Some("code"));
    regenerate(&app, &token, "000000")
        .await
        .assert_error("VALIDATION", Some("code"));
    let renewed = regenerate(&app, &token, &code(&secret, &clock, 0)).await;
    let new: Vec<String> = renewed.ok()["regenerateRecoveryCodes"]["recoveryCodes"]
        .as_array()
        .expect("recovery codes")
        .iter()
        .map(text)
        .collect();
    assert_eq!(new.len(), 10);
    assert!(new.iter().all(|c| !old.contains(c)), "all new");
    // The step's code is spent, here as at sign-in.
    regenerate(&app, &token, &code(&secret, &clock, 0))
        .await
        .assert_error("VALIDATION", Some("code"));
    let status = app
        .gql(
            Some(&token),
            "{ secondFactorStatus { recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["secondFactorStatus"]["recoveryCodesLeft"],
        json!(10)
    );

    // The old codes stop working; the new ones sign in.
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &old[1])
        .await
        .assert_error("VALIDATION", Some("code"));
    verify(&app, &ch, &new[0]).await.ok();
    let audited = app
        .audit_events(&token, "mfa.recovery_codes_regenerated")
        .await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["targetId"], json!(company.admin_id));
}

#[tokio::test]
async fn of_concurrent_answers_to_one_challenge_exactly_one_signs_in() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Race Co").await;
    let (_, codes) = enrol(&app, &clock, &company.admin_token).await;
    let ch = challenge(&app, &company.admin_email).await;
    let answers = futures::future::join_all(codes.iter().map(|c| verify(&app, &ch, c))).await;
    let signed_in = answers.iter().filter(|r| r.errors.is_empty()).count();
    assert_eq!(signed_in, 1, "{answers:#?}");
    for refused in answers.iter().filter(|r| !r.errors.is_empty()) {
        refused.assert_error("UNAUTHENTICATED", None);
    }
    // Only the code that signed in was spent.
    let status = app
        .gql(
            Some(&company.admin_token),
            "{ secondFactorStatus { recoveryCodesLeft } }",
            json!({}),
        )
        .await;
    assert_eq!(
        status.ok()["secondFactorStatus"]["recoveryCodesLeft"],
        json!(9)
    );
}

#[tokio::test]
async fn wrong_codes_are_throttled_like_passwords() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Throttle Co").await;
    let (secret, _) = enrol(&app, &clock, &company.admin_token).await;
    clock.advance(Duration::minutes(1));
    let ch = challenge(&app, &company.admin_email).await;
    for _ in 0..10 {
        verify(&app, &ch, "000000")
            .await
            .assert_error("VALIDATION", Some("code"));
    }
    // The account's budget is spent: even the right code, and the password, are refused.
    verify(&app, &ch, &code(&secret, &clock, 0))
        .await
        .assert_error("RATE_LIMITED", None);
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
            json!({"l": company.admin_email, "p": CHOSEN_PASSWORD}),
        )
        .await;
    r.assert_error("RATE_LIMITED", None);
    assert!(
        !app.audit_events(&company.admin_token, "mfa.failed")
            .await
            .is_empty()
    );
    // After the window, the right code of a new challenge signs in.
    clock.advance(Duration::minutes(16));
    let ch = challenge(&app, &company.admin_email).await;
    verify(&app, &ch, &code(&secret, &clock, 0)).await.ok();
}

#[tokio::test]
async fn an_administrator_resets_a_lost_factor_audited_and_emailed() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Reset Co").await;
    let admin = &company.admin_token;
    let (member_id, member_token) = app
        .member(
            admin,
            &company.id,
            json!({"users": "READ"}),
            json!({"language": "FR"}),
        )
        .await;
    let member = app
        .gql(
            Some(admin),
            "query($id: ID!) { user(id: $id) { email } }",
            json!({"id": member_id}),
        )
        .await;
    let member_email = text(&member.ok()["user"]["email"]);

    let reset = "mutation($u: ID!) { resetSecondFactor(input: {userId: $u}) { ok } }";
    // Nothing to reset yet.
    app.gql(Some(admin), reset, json!({"u": member_id}))
        .await
        .assert_error("NOT_FOUND", None);
    enrol(&app, &clock, &member_token).await;
    enrol(&app, &clock, admin).await;
    // The member may not reset anyone; nobody resets their own.
    app.gql(Some(&member_token), reset, json!({"u": company.admin_id}))
        .await
        .assert_error("FORBIDDEN", None);
    app.gql(Some(admin), reset, json!({"u": company.admin_id}))
        .await
        .assert_error("FORBIDDEN", None);

    challenge(&app, &member_email).await;
    app.gql(Some(admin), reset, json!({"u": member_id}))
        .await
        .ok();
    let events = app.audit_events(admin, "mfa.reset").await;
    assert_eq!(events.len(), 1);
    assert_eq!(text(&events[0]["targetId"]), member_id);
    assert_eq!(text(&events[0]["actor"]["id"]), company.admin_id);
    let mails = app.mail_to(&member_email);
    let mail = mails
        .iter()
        .find(|m| m.kind == EmailKind::SecondFactorReset)
        .expect("the person is told");
    assert_eq!(mail.language, concierge_domain::Language::Fr);
    assert!(mail.params.contains_key("name") && mail.params.contains_key("at"));
    // The password alone signs the member in again; they may enrol anew.
    let token = app.login(&member_email, CHOSEN_PASSWORD).await;
    enrol(&app, &clock, &token).await;
}

#[tokio::test]
async fn an_organization_requires_a_factor_of_those_who_manage_people() {
    let (app, clock) = app_with_clock().await;
    let (_, company) = app.company("Policy Co").await;
    let admin = &company.admin_token;
    let (_, reader) = app
        .member(admin, &company.id, json!({"users": "READ"}), json!({}))
        .await;
    let set = "mutation($o: ID!, $r: Boolean!) { setSecondFactorRequired(input: {organizationId: $o, required: $r}) { required } }";
    app.gql(Some(&reader), set, json!({"o": company.id, "r": true}))
        .await
        .assert_error("FORBIDDEN", None);
    let r = app
        .gql(Some(admin), set, json!({"o": company.id, "r": true}))
        .await;
    assert_eq!(r.ok()["setSecondFactorRequired"]["required"], json!(true));
    let asked = app
        .gql(
            Some(&reader),
            "query($o: ID!) { secondFactorRequired(organizationId: $o) }",
            json!({"o": company.id}),
        )
        .await;
    assert_eq!(asked.ok()["secondFactorRequired"], json!(true));

    // The administrator's tokens now only serve enrolment (and `me`); the reader is unaffected.
    users_visible(&app, admin)
        .await
        .assert_error("FORBIDDEN", None);
    users_visible(&app, &reader).await.ok();
    let r = app
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken mustEnrollSecondFactor } }",
            json!({"l": company.admin_email, "p": CHOSEN_PASSWORD}),
        )
        .await;
    let payload = &r.ok()["login"];
    assert_eq!(payload["mustEnrollSecondFactor"], json!(true));
    let limited = text(&payload["accessToken"]);
    app.gql(Some(&limited), "{ me { id } }", json!({}))
        .await
        .ok();
    users_visible(&app, &limited)
        .await
        .assert_error("FORBIDDEN", None);
    let (secret, _) = enrol(&app, &clock, &limited).await;
    users_visible(&app, &limited).await.ok();

    // From now on the administrator signs in with a code.
    clock.advance(Duration::minutes(1));
    let ch = challenge(&app, &company.admin_email).await;
    let r = verify(&app, &ch, &code(&secret, &clock, 0)).await;
    assert_eq!(
        r.ok()["verifySecondFactor"]["mustEnrollSecondFactor"],
        json!(false)
    );
}
