//! Password reset by e-mailed link (seed 002), and credentials e-mailed on creation (seed 004).

use concierge_domain::EmailKind;
use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::json;

const REQUEST: &str = "mutation($l: String!) { requestPasswordReset(input: {login: $l}) { ok } }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) { ok } }";

#[tokio::test]
async fn a_reset_link_works_once_and_ends_every_session() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Forgot").await;
    let email = company.admin_email.clone();
    for login in [email.as_str(), "nobody@forgot.test"] {
        let r = app.gql(None, REQUEST, json!({"l": login})).await;
        assert_eq!(r.ok()["requestPasswordReset"]["ok"], json!(true));
    }
    assert!(app.mail_to("nobody@forgot.test").is_empty());
    let mails = app.mail_to(&email);
    let reset = mails
        .iter()
        .find(|m| m.kind == EmailKind::PasswordReset)
        .expect("a reset e-mail");
    assert!(reset.params["link"].contains("/reset-password?token="));
    let token = app.last_link_token(&email);

    app.gql(None, RESET, json!({"t": token, "p": "short"}))
        .await
        .assert_error("VALIDATION", Some("newPassword"));
    assert_eq!(
        app.gql(None, RESET, json!({"t": token, "p": "a-brand-new-secret"}))
            .await
            .ok()["resetPassword"]["ok"],
        json!(true)
    );
    app.gql(None, RESET, json!({"t": token, "p": "yet-another-secret"}))
        .await
        .assert_error("VALIDATION", Some("token"));
    // The old session ended; the new password works; the old one does not.
    app.gql(Some(&company.admin_token), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.login(&email, "a-brand-new-secret").await;
    let old = app.gql(None, "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }", json!({"l": email, "p": CHOSEN_PASSWORD})).await;
    old.assert_error("UNAUTHENTICATED", None);
    assert!(
        app.mail_to(&email)
            .iter()
            .any(|m| m.kind == EmailKind::PasswordChanged)
    );
}

#[tokio::test]
async fn an_administrator_sends_a_reset_link() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Helpdesk").await;
    let created = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Eve", "lastName": "Lost", "email": "eve@helpdesk.test"}),
        )
        .await;
    let r = app
        .gql(Some(&company.admin_token), "mutation($u: ID!) { resetUserPassword(input: {userId: $u, method: EMAIL_LINK}) { temporaryPassword } }", json!({"u": created["user"]["id"]}))
        .await;
    assert_eq!(
        r.ok()["resetUserPassword"]["temporaryPassword"],
        serde_json::Value::Null
    );
    let token = app.last_link_token("eve@helpdesk.test");
    assert_eq!(
        app.gql(None, RESET, json!({"t": token, "p": "eve-is-back-again"}))
            .await
            .ok()["resetPassword"]["ok"],
        json!(true)
    );
    app.login("eve@helpdesk.test", "eve-is-back-again").await;
}

/// Seed 004: the partner creates a client; the credentials are shown once and e-mailed to the
/// admin address, pre-filled from the partner's; the account is active at once.
#[tokio::test]
async fn a_new_clients_credentials_go_to_the_admin_address() {
    let app = TestApp::spawn().await;
    let partner = app.create_partner("Reseller").await;
    app.gql(Some(&partner.admin_token), "mutation($o: ID!) { updateOrganization(input: {id: $o, adminEmail: \"ops@reseller.test\"}) { organization { id } } }", json!({"o": partner.id}))
        .await
        .ok();
    app.gql(Some(&partner.admin_token), "mutation($o: ID!) { createPriceList(input: {organizationId: $o, name: \"Standard\"}) { priceList { id } } }", json!({"o": partner.id}))
        .await
        .ok();
    let r = app
        .gql(Some(&partner.admin_token), "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
            organization { adminEmail externalContact priceList { name } } administrator { status } credentials { login temporaryPassword bookingCode } } }",
            json!({"i": {"kind": "COMPANY", "name": "Client Co", "parentId": partner.id, "externalContact": "Jean Dupont",
                "administrator": {"firstName": "Claire", "lastName": "Client", "email": "claire@client.test", "language": "FR"}}}))
        .await;
    let payload = r.ok()["createOrganization"].clone();
    assert_eq!(
        payload["organization"]["adminEmail"],
        json!("ops@reseller.test")
    );
    assert_eq!(
        payload["organization"]["externalContact"],
        json!("Jean Dupont")
    );
    assert_eq!(
        payload["organization"]["priceList"]["name"],
        json!("Standard")
    );
    assert_eq!(payload["administrator"]["status"], json!("ACTIVE"));
    let mails = app.mail_to("ops@reseller.test");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].kind, EmailKind::Credentials);
    assert_eq!(mails[0].params["login"], "claire@client.test");
    assert_eq!(
        &mails[0].params["temporary_password"],
        payload["credentials"]["temporaryPassword"]
            .as_str()
            .expect("password")
    );
    assert_eq!(mails[0].language, concierge_domain::Language::Fr);
    // Nothing readable stays behind: the outbox keeps the parameters sealed.
    let store = app.memory.as_ref().expect("memory");
    let raw: Vec<String> = store
        .outbox()
        .iter()
        .map(|m| m.sealed_params.clone())
        .collect();
    assert!(raw.iter().all(|p| {
        !p.contains("claire")
            && !p.contains(
                payload["credentials"]["temporaryPassword"]
                    .as_str()
                    .unwrap_or("x"),
            )
    }));
}

#[tokio::test]
async fn credentials_e_mailed_to_the_user_need_an_address() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Mailing").await;
    let staff = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Staff",
            json!({"bookings": "SELF"}),
        )
        .await;
    let r = app
        .gql(Some(&company.admin_token), "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({"i": {"organizationId": company.id, "firstName": "No", "lastName": "Mail", "username": "nomail", "profileId": staff, "sendCredentialsTo": "USER"}}))
        .await;
    r.assert_error("VALIDATION", Some("sendCredentialsTo"));
    app.create_user(&company.admin_token, &company.id, json!({"firstName": "Has", "lastName": "Mail", "email": "has@mailing.test", "sendCredentialsTo": "USER"})).await;
    assert_eq!(
        app.mail_to("has@mailing.test")[0].kind,
        EmailKind::Credentials
    );
}
