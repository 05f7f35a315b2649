//! Booking rooms (DESIGN.md §5; seeds 000 and 001), on the memory backend. The seed stories
//! (001: an administrator books for a user and the tablet hears it; 000: a tablet books with a
//! person's code), policy violations, deactivation and the daylight-saving schedule run on both
//! backends from `tests/e2e_postgres/stories.rs`.

use chrono::Duration;
use concierge_tests::TestApp;
use concierge_tests::bookings::{EVENTS, SCHEDULE, book, floor, iso, tomorrow};
use futures::StreamExt as _;
use futures::future::join_all;
use serde_json::{Value, json};

#[tokio::test]
async fn wrong_codes_on_a_tablet_are_throttled() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Guess").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    const WITH_CODE: &str = "mutation($c: String!, $s: DateTime!, $e: DateTime!, $r: ID!) {
        createBookingWithCode(input: {roomId: $r, code: $c, start: $s, end: $e}) { booking { id } } }";
    let vars = |code: String| json!({"c": code, "r": f.room, "s": iso(tomorrow(11, 0)), "e": iso(tomorrow(11, 15))});
    for guess in 0..10 {
        app.gql(Some(&tablet), WITH_CODE, vars(format!("{guess:010}")))
            .await
            .assert_error("VALIDATION", Some("code"));
    }
    app.gql(Some(&tablet), WITH_CODE, vars(f.booker_code.clone()))
        .await
        .assert_error("RATE_LIMITED", None);
}

#[tokio::test]
async fn who_may_book_for_whom() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Rights").await;
    let slot = json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0))});
    // bookings: SELF may not book for the administrator.
    let mut for_admin = slot.clone();
    for_admin["userId"] = json!(f.company.admin_id);
    book(&app, &f.booker_token, for_admin)
        .await
        .assert_error("FORBIDDEN", None);
    // A holder without access to the room's site: FORBIDDEN on userId.
    let outsider = app
        .create_user(
            &f.company.admin_token,
            &f.company.id,
            json!({"firstName": "No", "lastName": "Access", "email": "no.access@rights.test"}),
        )
        .await;
    let restricted = app
        .create_profile(
            &f.company.admin_token,
            &f.company.id,
            "Restricted",
            json!({"bookings": "SELF"}),
        )
        .await;
    let outsider_id = outsider["user"]["id"].as_str().expect("id").to_owned();
    app.gql(
        Some(&f.company.admin_token),
        "mutation($u: ID!, $p: ID!) { updateUser(input: {id: $u, profileId: $p}) { user { id } } }",
        json!({"u": outsider_id, "p": restricted}),
    )
    .await
    .ok();
    let mut for_outsider = slot.clone();
    for_outsider["userId"] = json!(outsider_id);
    book(&app, &f.company.admin_token, for_outsider)
        .await
        .assert_error("FORBIDDEN", Some("userId"));
    // Another tenant's room does not exist for this booker.
    let other = floor(&app, "Elsewhere").await;
    let mut elsewhere = slot.clone();
    elsewhere["roomId"] = json!(other.room);
    book(&app, &f.booker_token, elsewhere)
        .await
        .assert_error("NOT_FOUND", None);
}

#[tokio::test]
async fn fifty_concurrent_bookings_of_one_slot_yield_exactly_one() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Race").await;
    let attempts = (0..50).map(|_| {
        let (app, f) = (&app, &f);
        async move {
            let r = book(app, &f.booker_token, json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0))})).await;
            if r.errors.is_empty() { "OK".to_owned() } else { format!("{}:{}", r.code(), r.field().unwrap_or("")) }
        }
    });
    let outcomes = join_all(attempts).await;
    assert_eq!(
        outcomes.iter().filter(|o| *o == "OK").count(),
        1,
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes.iter().filter(|o| *o == "CONFLICT:start").count(),
        49,
        "{outcomes:?}"
    );

    let back_to_back = (0..20).map(|i| {
        let (app, f) = (&app, &f);
        let start = tomorrow(10, 0) + Duration::minutes(15 * i);
        async move {
            book(app, &f.booker_token, json!({"roomId": f.room, "start": iso(start), "end": iso(start + Duration::minutes(15))})).await.errors.is_empty()
        }
    });
    assert!(join_all(back_to_back).await.into_iter().all(|ok| ok));
}

#[tokio::test]
async fn bookings_move_and_cancel_under_the_same_rules_and_publish_each_change() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Moves").await;
    let mut events = app
        .subscribe(&f.company.admin_token, EVENTS, json!({"r": f.room}))
        .await;
    let r = book(&app, &f.booker_token, json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0)), "title": "Draft"})).await;
    let id = r.ok()["createBooking"]["booking"]["id"].clone();
    book(
        &app,
        &f.company.admin_token,
        json!({"roomId": f.room, "start": iso(tomorrow(11, 0)), "end": iso(tomorrow(12, 0))}),
    )
    .await
    .ok();

    const UPDATE: &str = "mutation($i: UpdateBookingInput!) { updateBooking(input: $i) { booking { start end title } } }";
    let r = app
        .gql(
            Some(&f.booker_token),
            UPDATE,
            json!({"i": {"id": id, "start": iso(tomorrow(10, 30)), "end": iso(tomorrow(11, 30))}}),
        )
        .await;
    r.assert_error("CONFLICT", Some("start"));
    let r = app
        .gql(
            Some(&f.booker_token),
            UPDATE,
            json!({"i": {"id": id, "end": iso(tomorrow(10, 45)), "title": "Final"}}),
        )
        .await;
    assert_eq!(r.ok()["updateBooking"]["booking"]["title"], json!("Final"));

    // The booker may not cancel the administrator's booking; they may cancel their own.
    let admins = app.gql(Some(&f.booker_token), "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { id user { id } } } } }", json!({"r": f.room})).await;
    let edges = admins.ok()["bookings"]["edges"]
        .as_array()
        .expect("edges")
        .clone();
    let theirs = edges
        .iter()
        .find(|e| e["node"]["user"]["id"] == json!(f.company.admin_id))
        .expect("admin's booking");
    const CANCEL: &str =
        "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { status } } }";
    app.gql(
        Some(&f.booker_token),
        CANCEL,
        json!({"id": theirs["node"]["id"]}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    let r = app
        .gql(Some(&f.booker_token), CANCEL, json!({"id": id}))
        .await;
    assert_eq!(
        r.ok()["cancelBooking"]["booking"]["status"],
        json!("CANCELLED")
    );

    let mut kinds = Vec::new();
    for _ in 0..4 {
        let event = tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
            .await
            .expect("event")
            .expect("event");
        kinds.push(
            event.ok()["bookingEvents"]["kind"]
                .as_str()
                .unwrap_or("")
                .to_owned(),
        );
    }
    assert_eq!(kinds, ["CREATED", "CREATED", "UPDATED", "CANCELLED"]);
}

#[tokio::test]
async fn a_revoked_tablet_stops_hearing_and_its_token_dies() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Revoked").await;
    let r = app
        .gql(Some(&f.company.admin_token), "mutation($s: ID!) { registerDevice(input: {siteId: $s, name: \"Lobby\"}) { token device { id site { id } room { id } } } }", json!({"s": f.site}))
        .await;
    let tablet = r.ok()["registerDevice"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let device_id = r.ok()["registerDevice"]["device"]["id"].clone();
    assert_eq!(r.ok()["registerDevice"]["device"]["room"], Value::Null);
    let mut events = app.subscribe(&tablet, EVENTS, json!({"r": f.room})).await;
    let r = app
        .gql(
            Some(&f.company.admin_token),
            "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }",
            json!({"d": device_id}),
        )
        .await;
    r.ok();
    book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0))}),
    )
    .await
    .ok();
    let last = tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
        .await
        .expect("an answer")
        .expect("an item");
    last.assert_error("UNAUTHENTICATED", None);
    let after = tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
        .await
        .expect("the end");
    assert!(after.is_none(), "the subscription ends");
    app.gql(
        Some(&tablet),
        SCHEDULE,
        json!({"r": f.room, "d": tomorrow(9, 0).date_naive().to_string()}),
    )
    .await
    .assert_error("UNAUTHENTICATED", None);
}
