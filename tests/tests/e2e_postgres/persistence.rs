//! Nothing lives only in a process's memory: what one application writes on PostgreSQL, a second
//! one (a new `AppState` over a new connection pool to the same database, as after a restart or
//! on another replica) reads back, and the other way round — data, passwords, sessions.

use std::sync::Arc;

use concierge_storage_postgres::PgStore;
use concierge_tests::postgres::fresh_database;
use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::{Value, json};

use crate::support::text;

/// Everything a company's administrator reads about their organization.
async fn snapshot(app: &TestApp, token: &str, ids: &Value) -> Value {
    let r = app
        .gql(
            Some(token),
            "query($org: ID!, $user: ID!, $site: ID!, $room: ID!) {
                organization(id: $org) { id kind name timeZone adminEmail defaultProfile { id name } }
                user(id: $user) { id firstName lastName email username login status mustChangePassword
                    hasBookingCode profile { id } sites { id } siteGroups { id } effectiveSites { id }
                    defaultSite { id } createdBy { id } }
                site(id: $site) { id name timeZone rooms { id name capacity bookable } }
                room(id: $room) { id name capacity site { id } }
                siteGroups { id name sites { id } }
                profiles { id name isDefault permissions { users bookings modules } }
                users { totalCount edges { node { id login } } }
                sites { totalCount edges { node { id } } }
                auditEvents(first: 200) { totalCount edges { node { action targetId actor { id } } } } }",
            ids.clone(),
        )
        .await;
    r.ok().clone()
}

#[tokio::test]
async fn what_one_app_writes_another_reads_back() {
    tokio::time::timeout(crate::CASE_TIMEOUT, async {
        let database = fresh_database().await;
        let first = TestApp::on_storage(Arc::new(database.store().clone())).await;

        // Written through the first application.
        let (partner, company) = first.company("Durable").await;
        let token = company.admin_token.clone();
        let site = first.create_site(&token, &company.id, "Paris").await;
        let second_site = first.create_site(&token, &company.id, "Lyon").await;
        let room = first.create_room(&token, &site, "Salle Curie").await;
        let group = first
            .create_site_group(&token, &company.id, "South", &[&second_site])
            .await;
        let booker = first
            .create_profile(
                &token,
                &company.id,
                "Booker",
                json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
            )
            .await;
        let created = first
            .create_user(
                &token,
                &company.id,
                json!({"firstName": "Marie", "lastName": "Curie", "username": "mcurie",
                    "profileId": booker, "siteIds": [site], "siteGroupIds": [group],
                    "defaultSiteId": site}),
            )
            .await;
        let user = text(&created["user"]["id"]);
        let pin = text(&created["credentials"]["temporaryPassword"]);
        let login = first
            .gql(
                None,
                "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
                    accessToken refreshToken } }",
                json!({"l": company.admin_email, "p": CHOSEN_PASSWORD}),
            )
            .await;
        let session_access = text(&login.ok()["login"]["accessToken"]);
        let session_refresh = text(&login.ok()["login"]["refreshToken"]);
        let ids = json!({"org": company.id, "user": user, "site": site, "room": room});
        let written = snapshot(&first, &token, &ids).await;

        // A second application: its own state, its own pool, the same database.
        let store = PgStore::connect(database.url(), 2)
            .await
            .expect("a second pool");
        let second = TestApp::on_storage(Arc::new(store)).await;

        // It reads every row back, through a token the first one issued.
        assert_eq!(snapshot(&second, &token, &ids).await, written);
        // The operator was bootstrapped once: the second start found them.
        let r = second
            .gql(
                Some(&second.operator_token),
                "{ organizations(filter: {kind: PARTNER}) { edges { node { id } } } }",
                json!({}),
            )
            .await;
        assert_eq!(r.ok()["organizations"]["edges"], json!([{"node": {"id": partner.id}}]));
        // Passwords: the administrator's chosen one, and the user's temporary PIN (still due
        // for a change).
        second.login(&company.admin_email, CHOSEN_PASSWORD).await;
        let r = second
            .gql(
                None,
                "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
                    mustChangePassword user { id } } }",
                json!({"l": "MCURIE", "p": pin}),
            )
            .await;
        assert_eq!(
            r.ok()["login"],
            json!({"mustChangePassword": true, "user": {"id": user}})
        );
        // Sessions: the refresh token issued by the first rotates on the second, which spends it
        // for both.
        let r = second
            .gql(
                None,
                "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }",
                json!({"t": session_refresh}),
            )
            .await;
        let refreshed = text(&r.ok()["refreshSession"]["accessToken"]);
        first
            .gql(
                None,
                "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }",
                json!({"t": session_refresh}),
            )
            .await
            .assert_error("UNAUTHENTICATED", None);
        // That replay revoked the session everywhere.
        for (app, access) in [(&first, &session_access), (&second, &refreshed)] {
            app.gql(Some(access), "{ me { id } }", json!({}))
                .await
                .assert_error("UNAUTHENTICATED", None);
        }

        // Written through the second application, read through the first.
        let r = second
            .gql(
                Some(&token),
                "mutation($i: UpdateSiteInput!) { updateSite(input: $i) { site { id } } }",
                json!({"i": {"id": site, "name": "Paris HQ"}}),
            )
            .await;
        r.ok();
        let third_site = second.create_site(&token, &company.id, "Nice").await;
        let expected = snapshot(&second, &token, &ids).await;
        assert_eq!(expected["site"]["name"], json!("Paris HQ"));
        assert_eq!(expected["sites"]["totalCount"], json!(3));
        assert_eq!(snapshot(&first, &token, &ids).await, expected);
        let r = first
            .gql(
                Some(&token),
                "query($s: ID!) { site(id: $s) { name } }",
                json!({"s": third_site}),
            )
            .await;
        assert_eq!(r.ok()["site"]["name"], json!("Nice"));

        // Signing out on one ends the session on the other at once.
        let on_second = second.login(&company.admin_email, CHOSEN_PASSWORD).await;
        first
            .gql(Some(&on_second), "{ me { id } }", json!({}))
            .await
            .ok();
        let r = second
            .gql(Some(&on_second), "mutation { logout(input: {}) { ok } }", json!({}))
            .await;
        assert_eq!(r.ok()["logout"]["ok"], json!(true));
        first
            .gql(Some(&on_second), "{ me { id } }", json!({}))
            .await
            .assert_error("UNAUTHENTICATED", None);
    })
    .await
    .expect("the scenario timed out");
}
