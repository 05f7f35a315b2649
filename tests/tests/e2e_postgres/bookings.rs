//! Bookings under concurrency, through the schema: one slot requested fifty times at once is
//! granted exactly once (the others are CONFLICT on `start`), back-to-back slots requested at once
//! are all granted, and a cancelled booking frees its slot. On PostgreSQL the requests run on
//! several pooled connections, so it is the database (the exclusion constraint), not a lock in
//! the process, that keeps confirmed bookings apart.

use chrono::{DateTime, Duration, Utc};
use concierge_tests::{Gql, TestApp};
use futures::future::join_all;
use serde_json::{Value, json};

use crate::support::text;

const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
    booking { id start end status } } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { id status } } }";
const CONFIRMED: &str = "query($r: ID!) { bookings(filter: {roomId: $r, status: CONFIRMED}) {
    totalCount edges { node { id start end } } } }";

/// Requests of the same slot at once.
const RACERS: usize = 50;
/// Back-to-back quarters of an hour requested at once.
const QUARTERS: i64 = 20;

/// `days` from today at `hour`:`minute` UTC (Paris is a whole number of hours from UTC, so this
/// is on a 15-minute slot of the room's day).
fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + Duration::days(days))
        .and_hms_opt(hour, minute, 0)
        .expect("a time of day")
        .and_utc()
}

fn slot(room: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({"roomId": room, "start": start.to_rfc3339(), "end": end.to_rfc3339()})
}

/// A company with a site and a room, and a person who may book it for themselves; returns
/// (administrator's token, room id, booker's token).
async fn room_and_booker(app: &TestApp, name: &str) -> (String, String, String) {
    let (_, company) = app.company(name).await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Paris HQ").await;
    let room = app.create_room(&admin, &site, "Salle Curie").await;
    let (_, booker) = app
        .member(
            &admin,
            &company.id,
            json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
            json!({"siteIds": [site]}),
        )
        .await;
    (admin, room, booker)
}

async fn book(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(Some(token), BOOK, json!({"i": input})).await
}

/// The confirmed bookings of the room as (id, start, end), by start.
async fn confirmed(
    app: &TestApp,
    token: &str,
    room: &str,
) -> Vec<(String, DateTime<Utc>, DateTime<Utc>)> {
    let r = app.gql(Some(token), CONFIRMED, json!({"r": room})).await;
    let connection = &r.ok()["bookings"];
    let edges = connection["edges"].as_array().expect("edges");
    assert_eq!(
        connection["totalCount"],
        json!(edges.len()),
        "{connection:#}"
    );
    let mut bookings: Vec<_> = edges
        .iter()
        .map(|edge| {
            let node = &edge["node"];
            (
                text(&node["id"]),
                instant(&node["start"]),
                instant(&node["end"]),
            )
        })
        .collect();
    bookings.sort_by_key(|(_, start, _)| *start);
    bookings
}

/// A `DateTime` of a response.
#[track_caller]
fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(&text(value))
        .unwrap_or_else(|e| panic!("{value} is not RFC 3339: {e}"))
        .with_timezone(&Utc)
}

/// Fifty requests for one hour, at once: one is granted, forty-nine are CONFLICT on `start`
/// (none fails otherwise, none is half-done), and the room holds that one booking.
pub async fn fifty_concurrent_bookings_of_one_slot_yield_exactly_one(app: &TestApp) {
    let (admin, room, booker) = room_and_booker(app, "Race").await;
    let (start, end) = (at(1, 9, 0), at(1, 10, 0));

    let outcomes = join_all((0..RACERS).map(|_| book(app, &booker, slot(&room, start, end)))).await;
    let mut winners = Vec::new();
    for r in &outcomes {
        if r.errors.is_empty() {
            winners.push(r.data["createBooking"]["booking"].clone());
        } else {
            r.assert_error("CONFLICT", Some("start"));
            assert_eq!(r.errors.len(), 1, "{:#}", json!(r.errors));
            assert_eq!(r.data, Value::Null, "a refused booking returns no data");
        }
    }
    assert_eq!(winners.len(), 1, "{winners:#?}");
    let winner = &winners[0];
    assert_eq!(winner["status"], json!("CONFIRMED"));
    assert_eq!(
        (instant(&winner["start"]), instant(&winner["end"])),
        (start, end)
    );

    assert_eq!(
        confirmed(app, &admin, &room).await,
        [(text(&winner["id"]), start, end)]
    );
    // The slot stays taken for the next request too.
    book(app, &booker, slot(&room, start, end))
        .await
        .assert_error("CONFLICT", Some("start"));
}

/// Twenty adjacent quarters of an hour, requested at once: each ends where the next starts, so
/// none overlaps another and all are granted.
pub async fn twenty_concurrent_back_to_back_slots_all_succeed(app: &TestApp) {
    let (admin, room, booker) = room_and_booker(app, "Quarters").await;
    let quarter = Duration::minutes(15);
    let starts: Vec<DateTime<Utc>> = (0..QUARTERS)
        .map(|i| at(1, 8, 0) + Duration::minutes(15 * i))
        .collect();

    let outcomes = join_all(
        starts
            .iter()
            .map(|&start| book(app, &booker, slot(&room, start, start + quarter))),
    )
    .await;
    let mut granted = Vec::new();
    for (r, &start) in outcomes.iter().zip(&starts) {
        let booking = &r.ok()["createBooking"]["booking"];
        assert_eq!(booking["status"], json!("CONFIRMED"));
        assert_eq!(
            (instant(&booking["start"]), instant(&booking["end"])),
            (start, start + quarter)
        );
        granted.push((text(&booking["id"]), start, start + quarter));
    }
    assert_eq!(confirmed(app, &admin, &room).await, granted);
}

/// A confirmed booking blocks its slot for everyone; once cancelled, the slot is free again,
/// for another person too, and only the new booking is confirmed.
pub async fn a_cancelled_booking_frees_its_slot(app: &TestApp) {
    let (admin, room, booker) = room_and_booker(app, "Freed").await;
    let (start, end) = (at(2, 14, 0), at(2, 15, 0));
    let r = book(app, &booker, slot(&room, start, end)).await;
    let first = text(&r.ok()["createBooking"]["booking"]["id"]);

    // Taken: for the administrator too, and for any overlap.
    let for_admin = slot(
        &room,
        start + Duration::minutes(30),
        end + Duration::minutes(30),
    );
    book(app, &admin, for_admin.clone())
        .await
        .assert_error("CONFLICT", Some("start"));

    let r = app.gql(Some(&booker), CANCEL, json!({"id": first})).await;
    assert_eq!(
        r.ok()["cancelBooking"]["booking"],
        json!({"id": first, "status": "CANCELLED"})
    );
    assert_eq!(confirmed(app, &admin, &room).await, []);

    // Free: the overlapping request now succeeds, and so does the first half of the old slot.
    let r = book(app, &admin, for_admin.clone()).await;
    let second = text(&r.ok()["createBooking"]["booking"]["id"]);
    assert_ne!(second, first);
    let r = book(
        app,
        &booker,
        slot(&room, start, start + Duration::minutes(30)),
    )
    .await;
    let third = text(&r.ok()["createBooking"]["booking"]["id"]);
    // The cancelled booking is not confirmed again by any of this.
    assert_eq!(
        confirmed(app, &admin, &room).await,
        [
            (third, start, start + Duration::minutes(30)),
            (
                second,
                start + Duration::minutes(30),
                end + Duration::minutes(30)
            ),
        ]
    );
    // Its slot is taken again, by the new bookings.
    book(app, &booker, slot(&room, start, end))
        .await
        .assert_error("CONFLICT", Some("start"));
}
