//! Booking codes (seed 000): shown once, reset at will, usable to sign in to the apps.

use concierge_tests::{Org, TestApp};
use serde_json::{Value, json};

const CODE_LOGIN: &str =
    "mutation($o: ID!, $c: String!) { loginWithBookingCode(input: {organizationId: $o, code: $c}) {
    accessToken user { id displayName } } }";
const RESET: &str = "mutation($u: ID!) { resetBookingCode(input: {userId: $u}) { bookingCode user { id hasBookingCode } } }";

async fn booker(app: &TestApp, company: &Org) -> Value {
    let profile = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Bookers",
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await;
    app.create_user(&company.admin_token, &company.id, json!({"firstName": "Léa", "lastName": "Moreau", "username": "lmoreau", "profileId": profile}))
        .await
}

#[tokio::test]
async fn the_code_signs_in_and_a_reset_kills_the_old_one_at_once() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Codes").await;
    let created = booker(&app, &company).await;
    let user_id = created["user"]["id"].clone();
    let code = created["credentials"]["bookingCode"]
        .as_str()
        .expect("code")
        .to_owned();
    assert_eq!(code.len(), 10);

    let r = app
        .gql(None, CODE_LOGIN, json!({"o": company.id, "c": code}))
        .await;
    assert_eq!(r.ok()["loginWithBookingCode"]["user"]["id"], user_id);

    let r = app
        .gql(Some(&company.admin_token), RESET, json!({"u": user_id}))
        .await;
    let fresh = r.ok()["resetBookingCode"]["bookingCode"]
        .as_str()
        .expect("code")
        .to_owned();
    assert_ne!(fresh, code);
    assert_eq!(
        r.ok()["resetBookingCode"]["user"]["hasBookingCode"],
        json!(true)
    );
    app.gql(None, CODE_LOGIN, json!({"o": company.id, "c": code}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    assert!(
        app.gql(None, CODE_LOGIN, json!({"o": company.id, "c": fresh}))
            .await
            .errors
            .is_empty()
    );

    // The code only works in its own organization.
    let (_, other) = app.company("Elsewhere").await;
    app.gql(None, CODE_LOGIN, json!({"o": other.id, "c": fresh}))
        .await
        .assert_error("UNAUTHENTICATED", None);

    let audit = app
        .gql(
            Some(&company.admin_token),
            "{ auditEvents(filter: {action: \"booking_code.reset\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(audit.ok()["auditEvents"]["totalCount"], json!(1));
}

#[tokio::test]
async fn wrong_codes_are_throttled() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Spray").await;
    let created = booker(&app, &company).await;
    let code = created["credentials"]["bookingCode"]
        .as_str()
        .expect("code")
        .to_owned();
    for guess in 0..10 {
        let r = app
            .gql(
                None,
                CODE_LOGIN,
                json!({"o": company.id, "c": format!("{guess:010}")}),
            )
            .await;
        r.assert_error("UNAUTHENTICATED", None);
    }
    let r = app
        .gql(None, CODE_LOGIN, json!({"o": company.id, "c": code}))
        .await;
    r.assert_error("RATE_LIMITED", None);
}

#[tokio::test]
async fn only_user_managers_reset_codes_and_passwords() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Guarded").await;
    let created = booker(&app, &company).await;
    let login = created["credentials"]["login"]
        .as_str()
        .expect("login")
        .to_owned();
    let password = created["credentials"]["temporaryPassword"]
        .as_str()
        .expect("pin")
        .to_owned();
    let token = app.first_sign_in(&login, &password).await;
    let me = created["user"]["id"].clone();
    app.gql(Some(&token), RESET, json!({"u": company.admin_id}))
        .await
        .assert_error("NOT_FOUND", None);
    app.gql(Some(&token), RESET, json!({"u": me}))
        .await
        .assert_error("FORBIDDEN", None);
}

#[tokio::test]
async fn an_administrator_sets_a_pin_that_must_change_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Resets").await;
    let created = booker(&app, &company).await;
    let user_id = created["user"]["id"].clone();
    let password = created["credentials"]["temporaryPassword"]
        .as_str()
        .expect("pin")
        .to_owned();
    let old_session = app.first_sign_in("lmoreau", &password).await;

    const SET: &str = "mutation($u: ID!, $p: String) { resetUserPassword(input: {userId: $u, method: SET, newPassword: $p}) {
        temporaryPassword user { mustChangePassword } } }";
    app.gql(
        Some(&company.admin_token),
        SET,
        json!({"u": user_id, "p": "12"}),
    )
    .await
    .assert_error("VALIDATION", Some("newPassword"));
    let r = app
        .gql(
            Some(&company.admin_token),
            SET,
            json!({"u": user_id, "p": "246810"}),
        )
        .await;
    assert_eq!(
        r.ok()["resetUserPassword"]["temporaryPassword"],
        Value::Null
    );
    assert_eq!(
        r.ok()["resetUserPassword"]["user"]["mustChangePassword"],
        json!(true)
    );
    app.gql(Some(&old_session), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);

    let r = app
        .gql(Some(&company.admin_token), SET, json!({"u": user_id}))
        .await;
    let generated = r.ok()["resetUserPassword"]["temporaryPassword"]
        .as_str()
        .expect("generated")
        .to_owned();
    assert_eq!(generated.len(), 6);
    let r = app.gql(None, "mutation($p: String!) { login(input: {login: \"lmoreau\", password: $p}) { mustChangePassword } }", json!({"p": generated})).await;
    assert_eq!(r.ok()["login"]["mustChangePassword"], json!(true));
}
