//! Booking rooms (DESIGN.md §5; seeds 000 and 001).

use chrono::{Duration, NaiveDate, Utc};
use concierge_tests::TestApp;
use concierge_tests::bookings::{EVENTS, SCHEDULE, book, floor, iso, tomorrow};
use futures::StreamExt as _;
use futures::future::join_all;
use serde_json::{Value, json};

/// Seed 001: an administrator books a slot for a user; every tablet of the room hears of it at
/// once; the slot is no longer available.
#[tokio::test]
async fn an_administrator_books_for_a_user_and_the_tablet_sees_it_at_once() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Seed").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    let mut events = app.subscribe(&tablet, EVENTS, json!({"r": f.room})).await;

    let (start, end) = (tomorrow(9, 0), tomorrow(10, 0));
    let r = book(
        &app,
        &f.company.admin_token,
        json!({"roomId": f.room, "start": iso(start), "end": iso(end),
        "userId": f.booker_id, "title": "Weekly"}),
    )
    .await;
    let booking = r.ok()["createBooking"]["booking"].clone();
    assert_eq!(booking["source"], json!("ADMIN"));
    assert_eq!(booking["user"]["id"], json!(f.booker_id));
    assert_eq!(booking["createdBy"]["id"], json!(f.company.admin_id));
    assert_eq!(booking["status"], json!("CONFIRMED"));

    let event = tokio::time::timeout(std::time::Duration::from_secs(2), events.next())
        .await
        .expect("event within 2 s")
        .expect("an event");
    let payload = &event.ok()["bookingEvents"];
    assert_eq!(payload["kind"], json!("CREATED"));
    assert_eq!(payload["booking"]["id"], booking["id"]);
    assert_eq!(
        payload["booking"]["user"]["displayName"],
        json!("Léa Moreau")
    );

    // The slot is taken, for anyone; back-to-back is fine.
    let again = book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": iso(tomorrow(9, 30)), "end": iso(tomorrow(10, 30))}),
    )
    .await;
    again.assert_error("CONFLICT", Some("start"));
    let next = book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": iso(end), "end": iso(tomorrow(10, 30))}),
    )
    .await;
    assert_eq!(
        next.ok()["createBooking"]["booking"]["source"],
        json!("APP")
    );

    let day = start.date_naive().to_string();
    let schedule = app
        .gql(Some(&tablet), SCHEDULE, json!({"r": f.room, "d": day}))
        .await;
    let slots = schedule.ok()["room"]["schedule"]
        .as_array()
        .expect("schedule")
        .clone();
    assert_eq!(slots.len(), 2);
    assert_eq!(slots[0]["title"], json!("Weekly"));
}

/// Seed 000: at the door, a person books with their booking code on the room's tablet.
#[tokio::test]
async fn a_tablet_books_with_a_persons_code() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Door").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    const WITH_CODE: &str =
        "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input: $i) {
        booking { source user { id email displayName } createdBy { id } } } }";
    let input = |code: &str| json!({"i": {"roomId": f.room, "code": code, "start": iso(tomorrow(14, 0)), "end": iso(tomorrow(14, 30))}});
    let r = app.gql(Some(&tablet), WITH_CODE, input("0000000000")).await;
    r.assert_error("VALIDATION", Some("code"));
    let r = app
        .gql(Some(&tablet), WITH_CODE, input(&f.booker_code))
        .await;
    let booking = &r.ok()["createBookingWithCode"]["booking"];
    assert_eq!(booking["source"], json!("TABLET"));
    assert_eq!(booking["user"]["id"], json!(f.booker_id));
    // The tablet sees the holder's name, never their contact details.
    assert_eq!(booking["user"]["email"], Value::Null);
    assert_eq!(booking["createdBy"]["id"], json!(f.company.admin_id));

    // A tablet cannot book otherwise, nor see people, nor other rooms.
    let direct = book(
        &app,
        &tablet,
        json!({"roomId": f.room, "start": iso(tomorrow(16, 0)), "end": iso(tomorrow(16, 30))}),
    )
    .await;
    direct.assert_error("FORBIDDEN", None);
    app.gql(Some(&tablet), "{ users { totalCount } }", json!({}))
        .await
        .assert_error("FORBIDDEN", None);
    let other = app
        .create_room(&f.company.admin_token, &f.site, "Other Room")
        .await;
    app.gql(
        Some(&tablet),
        "query($r: ID!) { room(id: $r) { id } }",
        json!({"r": other}),
    )
    .await
    .assert_error("NOT_FOUND", None);
    // A person's token cannot use the tablet mutation.
    app.gql(Some(&f.booker_token), WITH_CODE, input(&f.booker_code))
        .await
        .assert_error("FORBIDDEN", None);
}

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
async fn policy_violations_name_their_field_and_book_nothing() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Policy").await;
    let t = f.booker_token.clone();
    let cases = [
        (tomorrow(9, 0), tomorrow(9, 5), "end"),
        (tomorrow(9, 0), tomorrow(8, 0), "end"),
        (tomorrow(9, 0), tomorrow(18, 0), "end"),
        (tomorrow(9, 10), tomorrow(9, 40), "start"),
        (
            tomorrow(9, 0) - Duration::days(3),
            tomorrow(10, 0) - Duration::days(3),
            "start",
        ),
        (
            tomorrow(9, 0) + Duration::days(120),
            tomorrow(10, 0) + Duration::days(120),
            "start",
        ),
    ];
    for (start, end, field) in cases {
        let r = book(
            &app,
            &t,
            json!({"roomId": f.room, "start": iso(start), "end": iso(end)}),
        )
        .await;
        r.assert_error("VALIDATION", Some(field));
    }
    let closed = app
        .gql(Some(&f.company.admin_token), "mutation($r: ID!) { updateRoom(input: {id: $r, bookable: false}) { room { bookable } } }", json!({"r": f.room}))
        .await;
    assert_eq!(closed.ok()["updateRoom"]["room"]["bookable"], json!(false));
    let r = book(
        &app,
        &t,
        json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0))}),
    )
    .await;
    r.assert_error("VALIDATION", Some("roomId"));
    let all = app
        .gql(
            Some(&f.company.admin_token),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { totalCount } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(all.ok()["bookings"]["totalCount"], json!(0));
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
async fn deactivating_a_user_cancels_their_upcoming_bookings_and_tells_the_tablets() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Leaver").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, None)
        .await;
    let mut events = app.subscribe(&tablet, EVENTS, json!({"r": f.room})).await;
    for hour in [9, 11] {
        book(&app, &f.booker_token, json!({"roomId": f.room, "start": iso(tomorrow(hour, 0)), "end": iso(tomorrow(hour + 1, 0))})).await.ok();
    }
    let r = app
        .gql(
            Some(&f.company.admin_token),
            "mutation($u: ID!) { deactivateUser(input: {userId: $u}) { user { status } } }",
            json!({"u": f.booker_id}),
        )
        .await;
    assert_eq!(
        r.ok()["deactivateUser"]["user"]["status"],
        json!("INACTIVE")
    );
    let left = app
        .gql(
            Some(&f.company.admin_token),
            "query($r: ID!) { bookings(filter: {roomId: $r, status: CONFIRMED}) { totalCount } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(left.ok()["bookings"]["totalCount"], json!(0));
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
    assert_eq!(kinds, ["CREATED", "CREATED", "CANCELLED", "CANCELLED"]);
}

#[tokio::test]
async fn a_day_schedule_follows_daylight_saving_in_paris() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Dst").await;
    app.gql(Some(&f.company.admin_token), "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {horizonDays: 800}}) { room { id } } }", json!({"r": f.room}))
        .await
        .ok();
    // The next last Sunday of March: Paris moves from UTC+1 to UTC+2; that day lasts 23 hours.
    let today = Utc::now().date_naive();
    let spring = (0..800)
        .map(|d| today + Duration::days(d))
        .find(|d| {
            d.format("%m").to_string() == "03"
                && d.format("%u").to_string() == "7"
                && (*d + Duration::days(7)).format("%m").to_string() == "04"
        })
        .expect("a spring-forward Sunday");
    let at = |day: NaiveDate, h: u32, m: u32| day.and_hms_opt(h, m, 0).expect("time").and_utc();
    let eve = spring - Duration::days(1);
    // 00:30 local on the day (23:30 UTC the day before), and 00:30 local the day after (22:30 UTC).
    for (start, title) in [
        (at(eve, 23, 30), "first"),
        (at(eve, 22, 30), "eve"),
        (at(spring, 22, 30), "next day"),
    ] {
        book(&app, &f.booker_token, json!({"roomId": f.room, "start": iso(start), "end": iso(start + Duration::minutes(30)), "title": title})).await.ok();
    }
    let r = app
        .gql(
            Some(&f.booker_token),
            SCHEDULE,
            json!({"r": f.room, "d": spring.to_string()}),
        )
        .await;
    let titles: Vec<Value> = r.ok()["room"]["schedule"]
        .as_array()
        .expect("schedule")
        .iter()
        .map(|b| b["title"].clone())
        .collect();
    assert_eq!(titles, [json!("first")]);
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
