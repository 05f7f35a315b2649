//! A restart of the API loses nothing: the real binary, on PostgreSQL, is stopped with SIGTERM
//! (it exits with status 0) and started again on the same database; everything written before
//! is read back, passwords and sessions included.

use std::time::Duration;

use concierge_tests::CHOSEN_PASSWORD as CHOSEN;
use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Scratch, Server};
use concierge_tests::tenant::{organization, text};
use serde_json::{Value, json};

/// The longest a SIGTERM may take to end an idle server.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// What the company's administrator reads.
async fn snapshot(server: &Server, token: &str, ids: &Value) -> Value {
    let r = server
        .gql(
            Some(token),
            "query($org: ID!, $site: ID!, $user: ID!) {
                organization(id: $org) { id kind name timeZone }
                site(id: $site) { id name timeZone rooms { id name capacity } }
                user(id: $user) { id firstName lastName email login status mustChangePassword
                    sites { id } defaultSite { id } }
                users { totalCount edges { node { id login } } }
                sites { totalCount } }",
            ids.clone(),
        )
        .await;
    r.ok().clone()
}

#[tokio::test]
async fn a_restart_on_the_same_database_loses_nothing() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let server = Server::start(database.url(), &scratch, "first").await;

    // Through HTTP, as front ends do: a partner, its client company, a site, a room, a user.
    let operator = server.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let partner = organization(&server, &operator, "PARTNER", "Resellers", None).await;
    let globex = organization(
        &server,
        &partner.admin,
        "COMPANY",
        "Globex",
        Some(&partner.id),
    )
    .await;
    let (partner, company) = (partner.id, globex.id);
    let (admin_login, admin_token) = (globex.admin_login, globex.admin);
    let r = server
        .gql(
            Some(&admin_token),
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company, "name": "Paris HQ", "timeZone": "Europe/Paris"}}),
        )
        .await;
    let site = text(&r.ok()["createSite"]["site"]["id"]);
    let r = server
        .gql(
            Some(&admin_token),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": site, "name": "Salle Curie", "capacity": 12}}),
        )
        .await;
    r.ok();
    let r = server
        .gql(
            Some(&admin_token),
            "mutation($i: CreateUserInput!) { createUser(input: $i) {
                user { id } credentials { login temporaryPassword } } }",
            json!({"i": {"organizationId": company, "firstName": "Jean", "lastName": "Dupont",
                "email": "jean@globex.test", "siteIds": [site], "defaultSiteId": site}}),
        )
        .await;
    let user = text(&r.ok()["createUser"]["user"]["id"]);
    let user_password = text(&r.ok()["createUser"]["credentials"]["temporaryPassword"]);
    let ids = json!({"org": company, "site": site, "user": user});
    let before = snapshot(&server, &admin_token, &ids).await;
    assert_eq!(before["users"]["totalCount"], json!(2));
    assert_eq!(before["site"]["rooms"][0]["name"], json!("Salle Curie"));

    // SIGTERM: the server drains and exits with status 0.
    let status = server.terminate(STOP_TIMEOUT).await;
    assert_eq!(status.code(), Some(0), "{status}");

    // Started again on the same database (the operator is found, not created twice).
    let server = Server::start(database.url(), &scratch, "second").await;
    let operator = server.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let r = server
        .gql(
            Some(&operator),
            "{ organizations(filter: {kind: PARTNER}) { edges { node { id } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["organizations"]["edges"],
        json!([{"node": {"id": partner}}])
    );

    // The session opened before the restart is still valid, and so is the chosen password.
    assert_eq!(snapshot(&server, &admin_token, &ids).await, before);
    let fresh = server.login(&admin_login, CHOSEN).await;
    assert_eq!(snapshot(&server, &fresh, &ids).await, before);
    // The user signs in with the password shown once before the restart, still to be changed.
    let r = server
        .gql(
            None,
            "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
                mustChangePassword user { id } } }",
            json!({"l": "jean@globex.test", "p": user_password}),
        )
        .await;
    assert_eq!(
        r.ok()["login"],
        json!({"mustChangePassword": true, "user": {"id": user}})
    );

    let status = server.terminate(STOP_TIMEOUT).await;
    assert_eq!(status.code(), Some(0), "{status}");
}
