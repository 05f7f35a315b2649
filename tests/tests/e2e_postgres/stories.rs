//! The booking stories of the memory suite (`tests/e2e/bookings.rs`), on both backends: seed 001
//! (an administrator books for a user, the room's tablet hears it at once, the slot is taken, the
//! schedule shows it), seed 000 (a tablet books with a person's code), policy violations naming
//! their field, deactivation cancelling upcoming bookings with an event each, and the schedule of
//! the day Paris springs forward. The fixtures are the memory suite's
//! (`concierge_tests::bookings`); live events are awaited with [`TestApp::listen_to_room`], which
//! proves the subscriber hears the room before the story books anything, on PostgreSQL too.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use concierge_tests::TestApp;
use concierge_tests::bookings::{EVENTS, Floor, SCHEDULE, book, floor, iso, tomorrow};
use futures::StreamExt as _;
use serde_json::{Value, json};

use crate::support::text;

/// How long a committed booking's event may take to reach a listening tablet (on PostgreSQL it
/// goes through NOTIFY and the listener's connection).
const EVENT_WITHIN: std::time::Duration = std::time::Duration::from_secs(5);

/// Where the readiness probes go: a day no story books (they are cancelled before it starts).
fn probes_from() -> DateTime<Utc> {
    tomorrow(6, 0) + Duration::days(3)
}

/// The room's events as the holder of `token` hears them, once they provably reach it.
async fn listening(
    app: &TestApp,
    f: &Floor,
    token: &str,
) -> std::pin::Pin<Box<dyn futures::Stream<Item = concierge_tests::Gql> + Send>> {
    app.listen_to_room(
        token,
        EVENTS,
        &f.room,
        &f.company.admin_token,
        probes_from(),
    )
    .await
}

/// The next event's payload (`bookingEvents`).
async fn next_event(
    events: &mut std::pin::Pin<Box<dyn futures::Stream<Item = concierge_tests::Gql> + Send>>,
) -> Value {
    let event = tokio::time::timeout(EVENT_WITHIN, events.next())
        .await
        .expect("an event within 5 s")
        .expect("an event");
    event.ok()["bookingEvents"].clone()
}

/// Seed 001: an administrator books a slot for a user; the room's tablet hears of it at once;
/// the slot is no longer available (back-to-back is); the room's schedule shows it.
pub async fn an_administrator_books_for_a_user_and_the_tablet_sees_it_at_once(app: &TestApp) {
    let f = floor(app, "Seed").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    let mut events = listening(app, &f, &tablet).await;

    let (start, end) = (tomorrow(9, 0), tomorrow(10, 0));
    let r = book(
        app,
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

    let payload = next_event(&mut events).await;
    assert_eq!(payload["kind"], json!("CREATED"));
    assert_eq!(payload["booking"]["id"], booking["id"]);
    assert_eq!(payload["booking"]["title"], json!("Weekly"));
    assert_eq!(payload["booking"]["source"], json!("ADMIN"));
    assert_eq!(
        payload["booking"]["user"]["displayName"],
        json!("Léa Moreau")
    );

    // The slot is taken, for anyone: CONFLICT on start, for the exact slot and an overlap.
    for (from, to) in [(start, end), (tomorrow(9, 30), tomorrow(10, 30))] {
        book(
            app,
            &f.booker_token,
            json!({"roomId": f.room, "start": iso(from), "end": iso(to)}),
        )
        .await
        .assert_error("CONFLICT", Some("start"));
    }
    // Back-to-back is fine, and the tablet hears that too.
    let next = book(
        app,
        &f.booker_token,
        json!({"roomId": f.room, "start": iso(end), "end": iso(tomorrow(10, 30))}),
    )
    .await;
    let next = next.ok()["createBooking"]["booking"].clone();
    assert_eq!(next["source"], json!("APP"));
    let payload = next_event(&mut events).await;
    assert_eq!(
        (&payload["kind"], &payload["booking"]["id"]),
        (&json!("CREATED"), &next["id"])
    );

    let day = start.date_naive().to_string();
    let schedule = app
        .gql(Some(&tablet), SCHEDULE, json!({"r": f.room, "d": day}))
        .await;
    let slots = schedule.ok()["room"]["schedule"]
        .as_array()
        .expect("schedule")
        .clone();
    assert_eq!(slots.len(), 2, "{slots:#?}");
    assert_eq!(slots[0]["id"], booking["id"]);
    assert_eq!(slots[0]["title"], json!("Weekly"));
    assert_eq!(slots[1]["id"], next["id"]);
}

/// Seed 000: at the door, a person books with their booking code on the room's tablet; the
/// booking is the TABLET's, held by that person, created by whoever registered the tablet.
pub async fn a_tablet_books_with_a_persons_code(app: &TestApp) {
    let f = floor(app, "Door").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    const WITH_CODE: &str =
        "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input: $i) {
        booking { id source status user { id email displayName } createdBy { id } } } }";
    let input = |code: &str| json!({"i": {"roomId": f.room, "code": code, "start": iso(tomorrow(14, 0)), "end": iso(tomorrow(14, 30))}});
    let r = app.gql(Some(&tablet), WITH_CODE, input("0000000000")).await;
    r.assert_error("VALIDATION", Some("code"));
    let r = app
        .gql(Some(&tablet), WITH_CODE, input(&f.booker_code))
        .await;
    let booking = r.ok()["createBookingWithCode"]["booking"].clone();
    assert_eq!(booking["source"], json!("TABLET"));
    assert_eq!(booking["status"], json!("CONFIRMED"));
    assert_eq!(booking["user"]["id"], json!(f.booker_id));
    assert_eq!(booking["user"]["displayName"], json!("Léa Moreau"));
    // The tablet sees the holder's name, never their contact details.
    assert_eq!(booking["user"]["email"], Value::Null);
    assert_eq!(booking["createdBy"]["id"], json!(f.company.admin_id));

    // The slot is now taken, for the code too.
    app.gql(Some(&tablet), WITH_CODE, input(&f.booker_code))
        .await
        .assert_error("CONFLICT", Some("start"));
    // The holder finds it among their bookings (read back from the store).
    let mine = app
        .gql(
            Some(&f.booker_token),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { id source } } } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(
        mine.ok()["bookings"]["edges"],
        json!([{"node": {"id": booking["id"], "source": "TABLET"}}])
    );

    // A tablet cannot book otherwise, nor see people, nor other rooms.
    book(
        app,
        &tablet,
        json!({"roomId": f.room, "start": iso(tomorrow(16, 0)), "end": iso(tomorrow(16, 30))}),
    )
    .await
    .assert_error("FORBIDDEN", None);
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

/// Each policy violation is a VALIDATION error naming its field (`end`: too short, reversed,
/// too long; `start`: off the slot, past, beyond the horizon; `roomId`: not bookable), and none
/// books anything.
pub async fn policy_violations_name_their_field_and_book_nothing(app: &TestApp) {
    let f = floor(app, "Policy").await;
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
        book(
            app,
            &t,
            json!({"roomId": f.room, "start": iso(start), "end": iso(end)}),
        )
        .await
        .assert_error("VALIDATION", Some(field));
    }
    let closed = app
        .gql(Some(&f.company.admin_token), "mutation($r: ID!) { updateRoom(input: {id: $r, bookable: false}) { room { bookable } } }", json!({"r": f.room}))
        .await;
    assert_eq!(closed.ok()["updateRoom"]["room"]["bookable"], json!(false));
    book(
        app,
        &t,
        json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(10, 0))}),
    )
    .await
    .assert_error("VALIDATION", Some("roomId"));
    let all = app
        .gql(
            Some(&f.company.admin_token),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { totalCount } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(all.ok()["bookings"]["totalCount"], json!(0));
}

/// Deactivating a person cancels their upcoming bookings, and a tablet of the site hears a
/// CANCELLED event for each.
pub async fn deactivating_a_user_cancels_their_upcoming_bookings_and_tells_the_tablets(
    app: &TestApp,
) {
    let f = floor(app, "Leaver").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, None)
        .await;
    let mut events = listening(app, &f, &tablet).await;
    let mut booked = Vec::new();
    for hour in [9, 11] {
        let r = book(app, &f.booker_token, json!({"roomId": f.room, "start": iso(tomorrow(hour, 0)), "end": iso(tomorrow(hour + 1, 0))})).await;
        booked.push(text(&r.ok()["createBooking"]["booking"]["id"]));
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
    let cancelled = app
        .gql(
            Some(&f.company.admin_token),
            "query($r: ID!) { bookings(filter: {roomId: $r, status: CANCELLED}) {
                edges { node { id } } } }",
            json!({"r": f.room}),
        )
        .await;
    let cancelled = crate::support::node_ids(&cancelled.ok()["bookings"]);
    for id in &booked {
        assert!(cancelled.contains(id), "{id} in {cancelled:?}");
    }

    let mut heard = Vec::new();
    for _ in 0..4 {
        let payload = next_event(&mut events).await;
        heard.push((text(&payload["kind"]), text(&payload["booking"]["id"])));
    }
    let kinds: Vec<&str> = heard.iter().map(|(kind, _)| kind.as_str()).collect();
    assert_eq!(kinds, ["CREATED", "CREATED", "CANCELLED", "CANCELLED"]);
    let created: Vec<&String> = heard[..2].iter().map(|(_, id)| id).collect();
    assert_eq!(created, [&booked[0], &booked[1]]);
    let mut cancelled: Vec<&String> = heard[2..].iter().map(|(_, id)| id).collect();
    cancelled.sort();
    let mut expected: Vec<&String> = booked.iter().collect();
    expected.sort();
    assert_eq!(cancelled, expected);
}

/// The next last Sunday of March, Paris moves from UTC+1 to UTC+2 and the day lasts 23 hours:
/// its schedule holds what starts from its local midnight (23:00 UTC the day before) to the
/// next (22:00 UTC that day), nothing of the evening before nor of the day after.
pub async fn a_day_schedule_follows_daylight_saving_in_paris(app: &TestApp) {
    let f = floor(app, "Dst").await;
    app.gql(Some(&f.company.admin_token), "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {horizonDays: 800}}) { room { id } } }", json!({"r": f.room}))
        .await
        .ok();
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
    // 00:30 local on the day (23:30 UTC the day before), 23:30 local on the eve (22:30 UTC the
    // day before), 00:30 local the day after (22:30 UTC on the day).
    for (start, title) in [
        (at(eve, 23, 30), "first"),
        (at(eve, 22, 30), "eve"),
        (at(spring, 22, 30), "next day"),
    ] {
        book(app, &f.booker_token, json!({"roomId": f.room, "start": iso(start), "end": iso(start + Duration::minutes(30)), "title": title})).await.ok();
    }
    let titles = |day: NaiveDate| {
        let token = f.booker_token.clone();
        let room = f.room.clone();
        async move {
            let r = app
                .gql(
                    Some(&token),
                    SCHEDULE,
                    json!({"r": room, "d": day.to_string()}),
                )
                .await;
            r.ok()["room"]["schedule"]
                .as_array()
                .expect("schedule")
                .iter()
                .map(|b| b["title"].clone())
                .collect::<Vec<Value>>()
        }
    };
    assert_eq!(titles(spring).await, [json!("first")]);
    assert_eq!(titles(eve).await, [json!("eve")]);
    assert_eq!(
        titles(spring + Duration::days(1)).await,
        [json!("next day")]
    );
}
