//! Seed 003 as a story: a partner creates a client; the client's administrator creates a
//! "Managers" profile that may invite with approval; a manager invites; the administrator
//! approves; the invitee accepts and signs in. And the tokens' single use.

use concierge_domain::EmailKind;
use concierge_tests::TestApp;
use serde_json::{Value, json};

const INVITE: &str = "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
    user { id status email } invitation { id status email } } }";
const ACCEPT: &str =
    "mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t, password: $p}) {
    accessToken user { status displayName } } }";

#[tokio::test]
async fn a_manager_invites_with_approval_and_the_invitee_joins() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Collab").await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Lyon").await;
    let managers = app
        .create_profile(&admin, &company.id, "Managers", json!({"users": "INVITE_WITH_APPROVAL", "profiles": "READ", "sites": "READ", "bookings": "SELF", "modules": ["directory", "rooms"]}))
        .await;
    let collaborators = app
        .create_profile(
            &admin,
            &company.id,
            "Collaborators",
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await;
    let (_, manager) = app
        .user_with_token(&admin, &company.id, json!({"firstName": "Marc", "lastName": "Petit", "email": "marc@collab.test", "profileId": managers, "siteIds": [site]}))
        .await;

    // The manager invites: the person waits for approval, and no e-mail leaves yet.
    let r = app
        .gql(Some(&manager), INVITE, json!({"i": {"organizationId": company.id, "email": "Ines@Collab.test", "firstName": "Inès",
            "lastName": "Roux", "language": "FR", "profileId": collaborators, "siteIds": [site]}}))
        .await;
    let invited = r.ok()["inviteCollaborator"].clone();
    assert_eq!(invited["user"]["status"], json!("PENDING_APPROVAL"));
    assert_eq!(invited["invitation"], Value::Null);
    assert!(app.mail_to("ines@collab.test").is_empty());
    let user_id = invited["user"]["id"].clone();

    // The administrator sees who waits, and approves.
    let pending = app
        .gql(
            Some(&admin),
            "{ users(filter: {status: PENDING_APPROVAL}) { totalCount edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(pending.ok()["users"]["totalCount"], json!(1));
    assert_eq!(pending.ok()["users"]["edges"][0]["node"]["id"], user_id);
    // The manager may not approve (users: INVITE_WITH_APPROVAL).
    app.gql(
        Some(&manager),
        "mutation($u: ID!) { approveCollaborator(input: {userId: $u}) { user { id } } }",
        json!({"u": user_id}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    let r = app.gql(Some(&admin), "mutation($u: ID!) { approveCollaborator(input: {userId: $u}) { user { status } invitation { status } } }", json!({"u": user_id})).await;
    assert_eq!(
        r.ok()["approveCollaborator"]["user"]["status"],
        json!("INVITED")
    );
    assert_eq!(
        r.ok()["approveCollaborator"]["invitation"]["status"],
        json!("PENDING")
    );

    // The e-mail is in French, with a single-use link under PUBLIC_URL.
    let mails = app.mail_to("ines@collab.test");
    assert_eq!(mails.len(), 1);
    assert_eq!(mails[0].kind, EmailKind::Invitation);
    assert_eq!(mails[0].language, concierge_domain::Language::Fr);
    assert!(mails[0].params["link"].starts_with("http://127.0.0.1:8080/invitation?token="));
    assert_eq!(mails[0].params["inviter"], "Admin Collab");
    let token = app.last_link_token("ines@collab.test");

    // Invited people cannot sign in before accepting.
    let login = "mutation { login(input: {login: \"ines@collab.test\", password: \"anything-long\"}) { accessToken } }";
    app.gql(None, login, json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(None, ACCEPT, json!({"t": token, "p": "short"}))
        .await
        .assert_error("VALIDATION", Some("password"));
    let r = app
        .gql(None, ACCEPT, json!({"t": token, "p": "inès-chooses-this"}))
        .await;
    assert_eq!(
        r.ok()["acceptInvitation"]["user"]["status"],
        json!("ACTIVE")
    );
    // Single use.
    app.gql(None, ACCEPT, json!({"t": token, "p": "another-password"}))
        .await
        .assert_error("VALIDATION", Some("token"));
    let fresh = app.login("ines@collab.test", "inès-chooses-this").await;
    let me = app
        .gql(
            Some(&fresh),
            "{ me { status effectiveSites { id } profile { name } } }",
            json!({}),
        )
        .await;
    assert_eq!(me.ok()["me"]["profile"]["name"], json!("Collaborators"));
    assert_eq!(me.ok()["me"]["effectiveSites"][0]["id"], json!(site));
    let accepted = app
        .gql(
            Some(&admin),
            "{ invitations(status: ACCEPTED) { email } }",
            json!({}),
        )
        .await;
    assert_eq!(
        accepted.ok()["invitations"][0]["email"],
        json!("ines@collab.test")
    );
}

#[tokio::test]
async fn resent_and_revoked_links_die_and_inviting_an_existing_account_conflicts() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Links").await;
    let admin = company.admin_token.clone();
    let r = app.gql(Some(&admin), INVITE, json!({"i": {"organizationId": company.id, "email": "zoe@links.test", "firstName": "Zoé", "lastName": "Blanc"}})).await;
    let first = r.ok()["inviteCollaborator"]["invitation"]["id"].clone();
    assert_eq!(
        r.ok()["inviteCollaborator"]["user"]["status"],
        json!("INVITED")
    );
    let old_token = app.last_link_token("zoe@links.test");

    let r = app.gql(Some(&admin), "mutation($i: ID!) { resendInvitation(input: {invitationId: $i}) { invitation { id status } } }", json!({"i": first})).await;
    let second = r.ok()["resendInvitation"]["invitation"]["id"].clone();
    assert_ne!(first, second);
    let new_token = app.last_link_token("zoe@links.test");
    app.gql(None, ACCEPT, json!({"t": old_token, "p": "zoé-password-1"}))
        .await
        .assert_error("VALIDATION", Some("token"));

    app.gql(Some(&admin), "mutation($i: ID!) { revokeInvitation(input: {invitationId: $i}) { invitation { status } } }", json!({"i": second}))
        .await
        .ok();
    app.gql(None, ACCEPT, json!({"t": new_token, "p": "zoé-password-1"}))
        .await
        .assert_error("VALIDATION", Some("token"));
    app.gql(
        None,
        ACCEPT,
        json!({"t": "made-up-token", "p": "zoé-password-1"}),
    )
    .await
    .assert_error("VALIDATION", Some("token"));

    let again = app.gql(Some(&admin), INVITE, json!({"i": {"organizationId": company.id, "email": company.admin_email, "firstName": "A", "lastName": "B"}})).await;
    again.assert_error("CONFLICT", Some("email"));
    let revoked = app
        .gql(
            Some(&admin),
            "{ invitations(status: REVOKED) { id } }",
            json!({}),
        )
        .await;
    assert_eq!(
        revoked.ok()["invitations"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn an_inviter_cannot_grant_more_than_they_have() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Bounds").await;
    let admin = company.admin_token.clone();
    let site_a = app.create_site(&admin, &company.id, "A").await;
    let site_b = app.create_site(&admin, &company.id, "B").await;
    let inviters = app
        .create_profile(
            &admin,
            &company.id,
            "Inviters",
            json!({"users": "MANAGE", "profiles": "READ", "bookings": "SELF"}),
        )
        .await;
    let (_, inviter) = app
        .user_with_token(&admin, &company.id, json!({"firstName": "In", "lastName": "Viter", "email": "inviter@bounds.test", "profileId": inviters, "siteIds": [site_a]}))
        .await;
    let base = json!({"organizationId": company.id, "email": "new@bounds.test", "firstName": "New", "lastName": "Comer", "profileId": inviters});
    let mut richer = base.clone();
    richer["profileId"] = Value::Null;
    app.gql(Some(&inviter), INVITE, json!({"i": richer}))
        .await
        .assert_error("FORBIDDEN", None);
    let mut other_site = base.clone();
    other_site["siteIds"] = json!([site_b]);
    app.gql(Some(&inviter), INVITE, json!({"i": other_site}))
        .await
        .assert_error("NOT_FOUND", None);
    let mut fine = base.clone();
    fine["siteIds"] = json!([site_a]);
    assert_eq!(
        app.gql(Some(&inviter), INVITE, json!({"i": fine}))
            .await
            .ok()["inviteCollaborator"]["user"]["status"],
        json!("INVITED")
    );
}

/// `INVITATION_TTL_HOURS` sets how long an invitation link lives, as `expiresAt` shows.
#[tokio::test]
async fn invitation_validity_follows_the_configuration() {
    for (hours, expected) in [("2", 2), ("168", 168)] {
        let app = TestApp::with_settings(&[("INVITATION_TTL_HOURS", hours)]).await;
        let (_, company) = app.company("Ttl").await;
        let before = chrono::Utc::now();
        let r = app
            .gql(Some(&company.admin_token), "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
                invitation { status expiresAt } } }",
                json!({"i": {"organizationId": company.id, "email": "lou@ttl.test", "firstName": "Lou", "lastName": "Vidal"}}))
            .await;
        let invitation = &r.ok()["inviteCollaborator"]["invitation"];
        assert_eq!(invitation["status"], json!("PENDING"));
        let expires_at = chrono::DateTime::parse_from_rfc3339(
            invitation["expiresAt"].as_str().expect("expiresAt"),
        )
        .expect("an RFC 3339 instant");
        let lifetime = expires_at.with_timezone(&chrono::Utc) - before;
        assert!(
            lifetime >= chrono::Duration::hours(expected)
                && lifetime < chrono::Duration::hours(expected) + chrono::Duration::minutes(1),
            "INVITATION_TTL_HOURS={hours}: the invitation lives {lifetime:?}"
        );
    }
}
