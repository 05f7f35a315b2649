//! Two replicas release no-shows together (issue 14, item 3): both `concierge` processes run
//! their release pass every second on one database, with no leader; every booking due is
//! released exactly once — one status change, one `booking.released` audit event, one
//! `RELEASED` event in the log, one e-mail in the outbox — whichever replica took it.

use std::time::Duration;

use chrono::{DurationRound as _, Utc};
use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Bootstrap, Scratch, Server};
use concierge_tests::tenant::{tenant, text};
use diesel::sql_types::{BigInt, Text};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};
use serde_json::json;
use tokio::time::Instant;

use crate::STOP_TIMEOUT;

/// How many rooms (one booking due in each) the replicas share out.
const ROOMS: usize = 8;
/// How long the passes (one a second on each replica) may take to release them all.
const RELEASED_WITHIN: Duration = Duration::from_secs(20);

#[derive(diesel::QueryableByName)]
struct Count {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Counts rows with a test-only query (never on a request's path).
async fn count(conn: &mut AsyncPgConnection, sql: &str, kind: &str) -> i64 {
    diesel::sql_query(sql)
        .bind::<Text, _>(kind)
        .get_result::<Count>(conn)
        .await
        .expect("count")
        .n
}

#[tokio::test]
async fn two_replicas_release_each_no_show_exactly_once() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let every_second = [("RELEASE_INTERVAL_SECONDS", "1")];
    let a = Server::launch_with(
        database.url(),
        &scratch,
        "release-a",
        Bootstrap::Operator,
        &every_second,
    )
    .await;
    let b = Server::launch_with(
        database.url(),
        &scratch,
        "release-b",
        Bootstrap::Nothing,
        &every_second,
    )
    .await;
    let cast = tenant(&a).await;

    // Rooms that release a booking not checked in at its very start.
    let mut rooms = vec![cast.room.clone()];
    for n in 1..ROOMS {
        let r = a
            .gql(
                Some(&cast.admin),
                "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
                json!({"i": {"siteId": cast.site, "name": format!("Room {n}")}}),
            )
            .await;
        rooms.push(text(&r.ok()["createRoom"]["room"]["id"]));
    }
    for room in &rooms {
        let r = b
            .gql(
                Some(&cast.admin),
                "mutation($r: ID!) { updateRoom(input: {id: $r,
                    policy: {checkInRequired: true, releaseAfterMinutes: 0}}) { room { id } } }",
                json!({"r": room}),
            )
            .await;
        r.ok();
    }

    // The slot in progress in every room, booked through either replica: due at once.
    let start = Utc::now()
        .duration_trunc(chrono::Duration::minutes(15))
        .expect("a slot");
    let mut booked = Vec::new();
    for (n, room) in rooms.iter().enumerate() {
        let server = if n % 2 == 0 { &a } else { &b };
        let r = server
            .gql(
                Some(&cast.booker),
                "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
                    booking { id releaseAt } } }",
                json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                    "end": (start + chrono::Duration::minutes(30)).to_rfc3339()}}),
            )
            .await;
        booked.push(text(&r.ok()["createBooking"]["booking"]["id"]));
    }

    // Both replicas' passes run meanwhile; wait until every booking is released.
    let deadline = Instant::now() + RELEASED_WITHIN;
    loop {
        let r = a
            .gql(
                Some(&cast.admin),
                "query($s: ID!) { bookings(filter: {siteId: $s, status: RELEASED}, first: 50) {
                    edges { node { id } } } }",
                json!({"s": cast.site}),
            )
            .await;
        let released = r.ok()["bookings"]["edges"].as_array().map_or(0, Vec::len);
        if released == ROOMS {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{released} of {ROOMS} released within {RELEASED_WITHIN:?}\nA: {}\nB: {}",
            a.log(),
            b.log()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    // A few more passes of each replica, which must find nothing left to do.
    tokio::time::sleep(Duration::from_millis(2500)).await;

    let mut conn = AsyncPgConnection::establish(database.url())
        .await
        .expect("a connection");
    let audits = count(
        &mut conn,
        "SELECT count(*) AS n FROM audit_events WHERE action = $1",
        "booking.released",
    )
    .await;
    let distinct = count(
        &mut conn,
        "SELECT count(DISTINCT target_id) AS n FROM audit_events WHERE action = $1",
        "booking.released",
    )
    .await;
    let events = count(
        &mut conn,
        "SELECT count(*) AS n FROM booking_events WHERE kind = $1",
        "RELEASED",
    )
    .await;
    let mails = count(
        &mut conn,
        "SELECT count(*) AS n FROM outbox_emails WHERE kind = $1",
        "BOOKING_RELEASED",
    )
    .await;
    let expected = i64::try_from(ROOMS).expect("a few rooms");
    assert_eq!(
        (audits, distinct, events, mails),
        (expected, expected, expected, expected),
        "one audit event, one feed event and one e-mail per booking\nA: {}\nB: {}",
        a.log(),
        b.log()
    );
    a.terminate(STOP_TIMEOUT).await;
    b.terminate(STOP_TIMEOUT).await;
}
