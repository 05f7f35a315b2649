//! Booking fixtures shared by the memory suite (`tests/e2e/bookings.rs`) and the suite run on both
//! backends (`tests/e2e_postgres/stories.rs`): the documents, a company floor with a room and a
//! booker, and times on the room's 15-minute slots.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use crate::{Gql, Org, TestApp};

/// `createBooking`, with what the stories check of the booking.
pub const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking {
    id start end title source status user { id displayName email } createdBy { id } room { id } } } }";
/// The booking events of one room (selects `kind` and `booking { id }`, as
/// [`TestApp::listen_to_room`] needs).
pub const EVENTS: &str =
    "subscription($r: ID!) { bookingEvents(roomId: $r) { kind booking { id title start source
    user { displayName } } } }";
/// A room's bookings on one local day.
pub const SCHEDULE: &str =
    "query($r: ID!, $d: Date!) { room(id: $r) { schedule(date: $d) { id start end title } } }";

/// Tomorrow at `hour`:`minute` UTC (on a 15-minute slot in Paris, whole hours from UTC).
pub fn tomorrow(hour: u32, minute: u32) -> DateTime<Utc> {
    let day = Utc::now().date_naive() + Duration::days(1);
    day.and_hms_opt(hour, minute, 0).expect("time").and_utc()
}

pub fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

/// A company with a site, a room, a booker (bookings: SELF, granted the site) and the admin.
pub struct Floor {
    pub company: Org,
    pub site: String,
    pub room: String,
    pub booker_id: String,
    pub booker_token: String,
    pub booker_code: String,
}

pub async fn floor(app: &TestApp, name: &str) -> Floor {
    let (_, company) = app.company(name).await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Paris HQ").await;
    let room = app.create_room(&admin, &site, "Touch Room").await;
    let bookers = app
        .create_profile(
            &admin,
            &company.id,
            "Bookers",
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await;
    let created = app
        .create_user(&admin, &company.id, json!({"firstName": "Léa", "lastName": "Moreau", "username": format!("lea.{}", name.to_lowercase()),
            "profileId": bookers, "siteIds": [site]}))
        .await;
    let booker_code = created["credentials"]["bookingCode"]
        .as_str()
        .expect("code")
        .to_owned();
    let login = created["credentials"]["login"]
        .as_str()
        .expect("login")
        .to_owned();
    let password = created["credentials"]["temporaryPassword"]
        .as_str()
        .expect("pin")
        .to_owned();
    let booker_token = app.first_sign_in(&login, &password).await;
    Floor {
        company,
        site,
        room,
        booker_id: created["user"]["id"].as_str().expect("id").to_owned(),
        booker_token,
        booker_code,
    }
}

/// Runs [`BOOK`] as the holder of `token`.
pub async fn book(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(Some(token), BOOK, json!({"i": input})).await
}
