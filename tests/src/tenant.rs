//! A tenant to work in, created through a running server's HTTP API as front ends create it: a
//! partner, its client company, a site in Paris with one room, a person of the company who may
//! book that room, and the room's tablet. For the tests that drive real processes
//! (`concierge_tests::server`): restart, shutdown, several replicas.

use serde_json::{Value, json};

use crate::server::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Server};
use crate::{CHOSEN_PASSWORD, TestApp};

/// What [`tenant`] creates. Tokens are access tokens of sessions whose password is chosen.
#[derive(Debug, Clone)]
pub struct Tenant {
    pub partner: String,
    pub company: String,
    /// The company administrator's login and access token.
    pub admin_login: String,
    pub admin: String,
    pub site: String,
    pub room: String,
    /// A person of the company with `bookings: SELF` and access to the site.
    pub booker_id: String,
    pub booker: String,
    /// The room's tablet (a device token).
    pub tablet: String,
}

/// An organization created by the holder of `token`, with its administrator signed in.
#[derive(Debug, Clone)]
pub struct NewOrganization {
    pub id: String,
    pub admin_login: String,
    pub admin: String,
}

#[track_caller]
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value:#}"))
        .to_owned()
}

/// Creates an organization as the holder of `token`; its administrator signs in with the
/// temporary password and chooses [`CHOSEN_PASSWORD`], as a newcomer must.
pub async fn organization(
    server: &Server,
    token: &str,
    kind: &str,
    name: &str,
    parent: Option<&str>,
) -> NewOrganization {
    let email = format!("admin@{}.test", name.to_lowercase().replace(' ', "-"));
    let r = server
        .gql(
            Some(token),
            "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
                organization { id } credentials { login temporaryPassword } } }",
            json!({"i": {"kind": kind, "name": name, "parentId": parent, "timeZone": "Europe/Paris",
                "administrator": {"firstName": "Admin", "lastName": name, "email": email}}}),
        )
        .await;
    let payload = &r.ok()["createOrganization"];
    let admin_login = text(&payload["credentials"]["login"]);
    let temporary = text(&payload["credentials"]["temporaryPassword"]);
    let admin = server
        .first_sign_in(&admin_login, &temporary, CHOSEN_PASSWORD)
        .await;
    NewOrganization {
        id: text(&payload["organization"]["id"]),
        admin_login,
        admin,
    }
}

/// Partner "Resellers" → company "Globex" → site "Paris HQ" → room "Salle Curie", a booker
/// (Léa Moreau) and the room's door tablet, all through `server`.
pub async fn tenant(server: &Server) -> Tenant {
    let operator = server.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let partner = organization(server, &operator, "PARTNER", "Resellers", None).await;
    let company = organization(
        server,
        &partner.admin,
        "COMPANY",
        "Globex",
        Some(&partner.id),
    )
    .await;
    let admin = company.admin.clone();
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company.id, "name": "Paris HQ", "timeZone": "Europe/Paris"}}),
        )
        .await;
    let site = text(&r.ok()["createSite"]["site"]["id"]);
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": site, "name": "Salle Curie", "capacity": 8}}),
        )
        .await;
    let room = text(&r.ok()["createRoom"]["room"]["id"]);
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateProfileInput!) { createProfile(input: $i) { profile { id } } }",
            json!({"i": {"organizationId": company.id, "name": "Bookers", "permissions":
                TestApp::permissions(json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}))}}),
        )
        .await;
    let bookers = text(&r.ok()["createProfile"]["profile"]["id"]);
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateUserInput!) { createUser(input: $i) {
                user { id } credentials { login temporaryPassword } } }",
            json!({"i": {"organizationId": company.id, "firstName": "Léa", "lastName": "Moreau",
                "email": "lea@globex.test", "profileId": bookers, "siteIds": [site],
                "defaultSiteId": site}}),
        )
        .await;
    let created = &r.ok()["createUser"];
    let booker = server
        .first_sign_in(
            &text(&created["credentials"]["login"]),
            &text(&created["credentials"]["temporaryPassword"]),
            CHOSEN_PASSWORD,
        )
        .await;
    let r = server
        .gql(
            Some(&admin),
            "mutation($s: ID!, $r: ID!) { registerDevice(input: {siteId: $s, roomId: $r, name: \"Door tablet\"}) { token } }",
            json!({"s": site, "r": room}),
        )
        .await;
    let tablet = text(&r.ok()["registerDevice"]["token"]);
    Tenant {
        partner: partner.id,
        company: company.id,
        admin_login: company.admin_login,
        admin,
        site,
        room,
        booker_id: text(&created["user"]["id"]),
        booker,
        tablet,
    }
}
