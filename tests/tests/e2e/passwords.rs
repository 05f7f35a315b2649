//! Temporary passwords must be changed before anything else (seed 002).

use concierge_tests::TestApp;
use serde_json::json;

const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) {
    accessToken mustChangePassword user { mustChangePassword } } }";

#[tokio::test]
async fn a_username_user_gets_a_pin_and_must_change_it_before_anything_else() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Pins").await;
    // Front-desk staff: they book rooms but add nobody, so they need no e-mail.
    let staff = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Front desk",
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await;
    let created = app
        .create_user(&company.admin_token, &company.id, json!({"firstName": "Jean", "lastName": "Dupont", "username": "JDupont", "profileId": staff}))
        .await;
    let pin = created["credentials"]["temporaryPassword"]
        .as_str()
        .expect("pin")
        .to_owned();
    assert_eq!(pin.len(), 6);
    assert!(pin.chars().all(|c| c.is_ascii_digit()));
    assert_eq!(created["credentials"]["login"], json!("jdupont"));
    assert_eq!(created["user"]["mustChangePassword"], json!(true));

    let r = app
        .gql(None, "mutation($p: String!) { login(input: {login: \"JDUPONT\", password: $p}) { accessToken mustChangePassword } }", json!({"p": pin}))
        .await;
    assert_eq!(r.ok()["login"]["mustChangePassword"], json!(true));
    let token = r.ok()["login"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();

    // Only me, changePassword and logout are open.
    assert_eq!(
        app.gql(Some(&token), "{ me { login } }", json!({}))
            .await
            .ok()["me"]["login"],
        json!("jdupont")
    );
    let refused = app
        .gql(Some(&token), "{ sites { totalCount } }", json!({}))
        .await;
    refused.assert_error("FORBIDDEN", None);
    assert!(refused.message().contains("change your password"));

    // A wrong current password, then a weak new one, change nothing.
    app.gql(
        Some(&token),
        CHANGE,
        json!({"c": "000000", "n": "a-long-new-secret"}),
    )
    .await
    .assert_error("VALIDATION", Some("currentPassword"));
    app.gql(Some(&token), CHANGE, json!({"c": pin, "n": "123456"}))
        .await
        .assert_error("VALIDATION", Some("newPassword"));
    app.gql(Some(&token), CHANGE, json!({"c": pin, "n": "azertyuiop"}))
        .await
        .assert_error("VALIDATION", Some("newPassword"));

    let r = app
        .gql(
            Some(&token),
            CHANGE,
            json!({"c": pin, "n": "a-long-new-secret"}),
        )
        .await;
    assert_eq!(r.ok()["changePassword"]["mustChangePassword"], json!(false));
    let fresh = r.ok()["changePassword"]["accessToken"]
        .as_str()
        .expect("token")
        .to_owned();
    // The new session works; the old one ended with the change; the PIN no longer signs in.
    assert!(
        app.gql(Some(&fresh), "{ sites { totalCount } }", json!({}))
            .await
            .errors
            .is_empty()
    );
    app.gql(Some(&token), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    let r = app.gql(None, "mutation($p: String!) { login(input: {login: \"jdupont\", password: $p}) { accessToken } }", json!({"p": pin})).await;
    r.assert_error("UNAUTHENTICATED", None);
}
