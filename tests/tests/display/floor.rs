//! The data a room display needs, made through the server's GraphQL HTTP API as an operator,
//! a partner and a company administrator would: a company, a site, a room, a person allowed to
//! book (with their booking code) and the room's tablet (with its device token).

use chrono::{DateTime, Duration, DurationRound as _, Timelike as _, Utc};
use concierge_tests::TestApp;
use concierge_tests::server::{OPERATOR_EMAIL, OPERATOR_PASSWORD, Server};
use concierge_tests::tenant::organization;
pub use concierge_tests::tenant::text;
use serde_json::{Value, json};

pub struct Floor {
    pub admin: String,
    pub site: String,
    pub room: String,
    pub room_name: String,
    pub booker_id: String,
    pub booker_name: String,
    pub booker_code: String,
    pub device_id: String,
    pub device_token: String,
}

/// A time zone in which it is mid-morning now (10:xx), whatever the hour of the test run: the
/// bookings the tests make then fall on the same local day. `Etc/GMT-3` is UTC+3.
pub fn mid_morning_zone() -> String {
    let hour = i64::from(Utc::now().hour());
    let offset = (10 - hour).rem_euclid(24);
    let offset = if offset > 11 { offset - 24 } else { offset };
    match offset {
        0 => "Etc/UTC".to_owned(),
        east if east > 0 => format!("Etc/GMT-{east}"),
        west => format!("Etc/GMT+{}", -west),
    }
}

/// The start of the 15-minute slot in progress (every zone used here is a whole number of
/// hours from UTC, so local and UTC slots coincide).
pub fn slot_now() -> DateTime<Utc> {
    Utc::now()
        .duration_trunc(Duration::minutes(15))
        .expect("a slot")
}

pub async fn floor(server: &Server, company: &str, zone: &str, policy: Value) -> Floor {
    let operator = server.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
    let partner = organization(
        server,
        &operator,
        "PARTNER",
        &format!("{company} Partner"),
        None,
    )
    .await;
    let client = organization(
        server,
        &partner.admin,
        "COMPANY",
        company,
        Some(&partner.id),
    )
    .await;
    let (company_id, admin) = (client.id, client.admin);

    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company_id, "name": "Paris HQ", "timeZone": zone}}),
        )
        .await;
    let site = text(&r.ok()["createSite"]["site"]["id"]);
    let room_name = "Salle Touch".to_owned();
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
            json!({"i": {"siteId": site, "name": room_name, "capacity": 8, "policy": policy}}),
        )
        .await;
    let room = text(&r.ok()["createRoom"]["room"]["id"]);

    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateProfileInput!) { createProfile(input: $i) { profile { id } } }",
            json!({"i": {"organizationId": company_id, "name": "Bookers",
                "permissions": TestApp::permissions(json!({"bookings": "SELF", "modules": ["rooms"]}))}}),
        )
        .await;
    let profile = text(&r.ok()["createProfile"]["profile"]["id"]);
    let r = server
        .gql(
            Some(&admin),
            "mutation($i: CreateUserInput!) { createUser(input: $i) {
                user { id displayName } credentials { bookingCode } } }",
            json!({"i": {"organizationId": company_id, "firstName": "Léa", "lastName": "Moreau",
                "username": format!("lea.{}", company.to_lowercase()), "profileId": profile,
                "siteIds": [site]}}),
        )
        .await;
    let created = &r.ok()["createUser"];
    let booker_id = text(&created["user"]["id"]);
    let booker_name = text(&created["user"]["displayName"]);
    let booker_code = text(&created["credentials"]["bookingCode"]);

    let r = server
        .gql(
            Some(&admin),
            "mutation($s: ID!, $r: ID) { registerDevice(input: {siteId: $s, roomId: $r, name: \"Door tablet\"}) {
                token device { id } } }",
            json!({"s": site, "r": room}),
        )
        .await;
    let device_token = text(&r.ok()["registerDevice"]["token"]);
    let device_id = text(&r.ok()["registerDevice"]["device"]["id"]);
    Floor {
        admin,
        site,
        room,
        room_name,
        booker_id,
        booker_name,
        booker_code,
        device_id,
        device_token,
    }
}

/// An administrator's booking for the booker; returns its id.
pub async fn book_for(
    server: &Server,
    floor: &Floor,
    start: DateTime<Utc>,
    minutes: i64,
    title: &str,
) -> String {
    let r = server
        .gql(
            Some(&floor.admin),
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"roomId": floor.room, "userId": floor.booker_id, "title": title,
                "start": start.to_rfc3339(), "end": (start + Duration::minutes(minutes)).to_rfc3339()}}),
        )
        .await;
    text(&r.ok()["createBooking"]["booking"]["id"])
}

/// The room's confirmed bookings, as the administrator reads them.
pub async fn bookings(server: &Server, floor: &Floor) -> Vec<Value> {
    let r = server
        .gql(
            Some(&floor.admin),
            "query($r: ID!) { bookings(filter: {roomId: $r, status: CONFIRMED}) { edges { node {
                id title start end source user { id displayName } } } } }",
            json!({"r": floor.room}),
        )
        .await;
    r.ok()["bookings"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|edge| edge["node"].clone())
        .collect()
}
