//! Check-in and the release of no-shows (issue 14, items 3 and 5), on both backends, with a
//! clock the test moves (`TestApp::clocked`): a room asks for check-in; a booking nobody checks in
//! to is released 10 minutes after its start (its tablet hears `RELEASED`, its holder gets an
//! e-mail in their language, the slot is free again); the holder checks in from the app, or at
//! the door with their code, and there extends or ends the booking under way — another person's
//! code is refused.

use std::collections::BTreeMap;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use concierge_domain::clock::{Clock as _, ManualClock};
use concierge_domain::{EmailKind, Language};
use concierge_tests::bookings::{EVENTS, iso, tomorrow};
use concierge_tests::{Gql, TestApp};
use futures::StreamExt as _;
use serde_json::{Value, json};

concierge_tests::scenarios_on_both_backends!(
    a_no_show_is_released_on_time_with_its_event_and_email,
    the_holder_checks_in_from_the_app_and_nobody_else,
    at_the_door_only_the_holders_code_checks_in_extends_and_ends,
    a_tablet_finds_the_free_rooms_of_its_own_site_only,
    a_room_that_no_longer_asks_for_check_in_keeps_its_bookings,
    a_booking_shorter_than_the_release_delay_has_no_deadline,
);

use super::CASE_TIMEOUT;

const BOOKING: &str = "id start end status checkedInAt releaseAt";
const CHECK_IN_WITH_CODE: &str = "mutation($i: BookingAtTheDoorInput!) {
    checkInWithCode(input: $i) { booking { id start end status checkedInAt releaseAt } } }";
const EXTEND_WITH_CODE: &str = "mutation($i: BookingAtTheDoorInput!) {
    extendBookingWithCode(input: $i) { booking { id start end status checkedInAt releaseAt } } }";
const END_WITH_CODE: &str = "mutation($i: BookingAtTheDoorInput!) {
    endBookingWithCode(input: $i) { booking { id start end status checkedInAt releaseAt } } }";
const CHECK_IN: &str =
    "mutation($b: ID!) { checkIn(bookingId: $b) { booking { id status checkedInAt } } }";

/// An instant as the API writes it.
fn zulu(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true)
}

/// A person of the company: their token (through the clocked app), booking code and e-mail.
struct Person {
    token: String,
    code: String,
    email: String,
}

/// A company whose room asks for check-in, a tablet at its door, two people who may book it.
struct Door {
    app: TestApp,
    clock: Arc<ManualClock>,
    admin: String,
    company: String,
    site: String,
    room: String,
    tablet: String,
    nadia: Person,
    omar: Person,
}

/// Sets everything up at tomorrow 08:30 UTC (on the clock the test moves).
async fn door(base: &TestApp, name: &str) -> Door {
    let clock = Arc::new(ManualClock::new(tomorrow(8, 30)));
    let app = base.clocked(clock.clone()).await;
    let (_, company) = app.company(name).await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Paris HQ").await;
    let room = app.create_room(&admin, &site, "Touch Room").await;
    let policy = app
        .gql(
            Some(&admin),
            "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {checkInRequired: true}}) {
                room { policy { checkInRequired releaseAfterMinutes } } } }",
            json!({"r": room}),
        )
        .await;
    assert_eq!(
        policy.ok()["updateRoom"]["room"]["policy"],
        json!({"checkInRequired": true, "releaseAfterMinutes": 10})
    );
    let bookers = app
        .create_profile(
            &admin,
            &company.id,
            "Bookers",
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await;
    let lower = name.to_lowercase();
    let mut people = Vec::new();
    for (first, last, language) in [("Nadia", "Benali", "FR"), ("Omar", "Haddad", "EN")] {
        let email = format!("{}.{lower}@door.test", first.to_lowercase());
        let created = app
            .create_user(
                &admin,
                &company.id,
                json!({"firstName": first, "lastName": last, "email": email, "language": language,
                    "profileId": bookers, "siteIds": [site]}),
            )
            .await;
        let credentials = &created["credentials"];
        let token = app
            .first_sign_in(
                credentials["login"].as_str().expect("login"),
                credentials["temporaryPassword"].as_str().expect("password"),
            )
            .await;
        people.push(Person {
            token,
            code: credentials["bookingCode"]
                .as_str()
                .expect("code")
                .to_owned(),
            email,
        });
    }
    let omar = people.pop().expect("Omar");
    let nadia = people.pop().expect("Nadia");
    let tablet = app.register_device(&admin, &site, Some(&room)).await;
    Door {
        app,
        clock,
        admin,
        company: company.id,
        site,
        room,
        tablet,
        nadia,
        omar,
    }
}

impl Door {
    fn set_clock(&self, to: DateTime<Utc>) {
        self.clock.advance(to - self.clock.now());
    }

    /// Books `[start, end)` of the room as `who`; answers the booking.
    async fn book(&self, who: &Person, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
        let r = self
            .app
            .gql(
                Some(&who.token),
                &format!(
                    "mutation($i: CreateBookingInput!) {{ createBooking(input: $i) {{
                        booking {{ {BOOKING} }} }} }}"
                ),
                json!({"i": {"roomId": self.room, "start": iso(start), "end": iso(end)}}),
            )
            .await;
        r.ok()["createBooking"]["booking"].clone()
    }

    /// One of the door mutations, by the tablet, with `code`.
    async fn at_the_door(&self, mutation: &str, booking: &Value, code: &str) -> Gql {
        self.app
            .gql(
                Some(&self.tablet),
                mutation,
                json!({"i": {"bookingId": booking["id"], "code": code}}),
            )
            .await
    }

    /// The room's bookings of tomorrow with `status`, as the administrator lists them.
    async fn bookings(&self, status: &str) -> Vec<Value> {
        let r = self
            .app
            .gql(
                Some(&self.admin),
                &format!(
                    "query($r: ID!, $s: BookingStatus!) {{ bookings(filter: {{roomId: $r,
                        status: $s}}) {{ edges {{ node {{ {BOOKING} }} }} }} }}"
                ),
                json!({"r": self.room, "s": status}),
            )
            .await;
        r.ok()["bookings"]["edges"]
            .as_array()
            .expect("edges")
            .iter()
            .map(|edge| edge["node"].clone())
            .collect()
    }
}

/// A message waiting in the outbox, its parameters opened.
#[derive(Debug)]
struct Queued {
    kind: EmailKind,
    language: Language,
    params: BTreeMap<String, String>,
}

/// The messages the outbox holds for `to`, on either backend: claimed in a transaction that is
/// then dropped, so nothing is claimed in the end.
async fn outbox_for(app: &TestApp, to: &str) -> Vec<Queued> {
    let domain = &app.state.domain;
    let mut tx = domain.store.begin().await.expect("begin");
    let claimed = tx
        .claim_emails(
            Utc::now() + Duration::days(30),
            Duration::minutes(1),
            10_000,
        )
        .await
        .expect("claim");
    drop(tx);
    claimed
        .into_iter()
        .filter(|m| m.to.as_str() == to)
        .map(|m| Queued {
            kind: m.kind,
            language: m.language,
            params: domain
                .secrets
                .open(&m.sealed_params)
                .and_then(|json| serde_json::from_str(&json).ok())
                .expect("sealed parameters"),
        })
        .collect()
}

async fn a_no_show_is_released_on_time_with_its_event_and_email(base: &TestApp) {
    let d = door(base, "Release").await;
    let mut events = d
        .app
        .listen_to_room(&d.tablet, EVENTS, &d.room, &d.omar.token, tomorrow(14, 0))
        .await;
    let booking = d.book(&d.nadia, tomorrow(9, 0), tomorrow(9, 30)).await;
    assert_eq!(booking["releaseAt"], json!(zulu(tomorrow(9, 10))));
    assert_eq!(booking["checkedInAt"], Value::Null);
    let created = events.next().await.expect("the creation");
    assert_eq!(created.ok()["bookingEvents"]["kind"], json!("CREATED"));

    // Not before the deadline: nothing is due a microsecond before it.
    let domain = &d.app.state.domain;
    let just_before = tomorrow(9, 10) - Duration::microseconds(1);
    assert_eq!(domain.release_no_shows(just_before).await.expect("pass"), 0);
    assert_eq!(d.bookings("CONFIRMED").await.len(), 1);

    d.set_clock(tomorrow(9, 10));
    assert_eq!(
        domain
            .release_no_shows(tomorrow(9, 10))
            .await
            .expect("pass"),
        1
    );
    // A second pass finds nothing more to do.
    assert_eq!(
        domain
            .release_no_shows(tomorrow(9, 10))
            .await
            .expect("pass"),
        0
    );
    let released = d.bookings("RELEASED").await;
    assert_eq!(released.len(), 1);
    assert_eq!(released[0]["id"], booking["id"]);
    assert!(d.bookings("CONFIRMED").await.is_empty());

    // The tablet hears it.
    let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
        .await
        .expect("the release reaches the tablet")
        .expect("the subscription goes on");
    let event = &event.ok()["bookingEvents"];
    assert_eq!(event["kind"], json!("RELEASED"));
    assert_eq!(event["booking"]["id"], booking["id"]);

    // The holder is told, in French; once.
    let mails = outbox_for(&d.app, &d.nadia.email).await;
    let released_mails: Vec<&Queued> = mails
        .iter()
        .filter(|m| m.kind == EmailKind::BookingReleased)
        .collect();
    assert_eq!(released_mails.len(), 1, "{mails:?}");
    let mail = released_mails[0];
    assert_eq!(mail.language, Language::Fr);
    assert_eq!(mail.params["room"], "Touch Room");
    assert_eq!(mail.params["name"], "Nadia Benali");
    // It names the meeting, so that its calendar invitation is a cancellation of it.
    assert_eq!(
        Some(mail.params["booking"].as_str()),
        booking["id"].as_str()
    );
    let invitation =
        concierge_api::calendar::Invitation::of(mail.kind, &mail.params).expect("a calendar part");
    assert_eq!(invitation.method, "CANCEL");
    let rendered = concierge_api::mail::templates::render(mail.kind, mail.language, &mail.params)
        .expect("renders");
    assert_eq!(
        rendered.subject,
        "Votre réservation de Touch Room a été libérée"
    );

    // Audited as Concierge's own act.
    let audited = d.app.audit_events(&d.admin, "booking.released").await;
    assert_eq!(audited.len(), 1);
    assert_eq!(audited[0]["targetId"], booking["id"]);
    assert_eq!(audited[0]["actor"], Value::Null);

    // The slot is free again; a released booking can no longer be checked in.
    d.book(&d.omar, tomorrow(9, 0), tomorrow(9, 30)).await;
    d.at_the_door(CHECK_IN_WITH_CODE, &booking, &d.nadia.code)
        .await
        .assert_error("VALIDATION", Some("bookingId"));
}

async fn the_holder_checks_in_from_the_app_and_nobody_else(base: &TestApp) {
    let d = door(base, "App").await;
    let booking = d.book(&d.nadia, tomorrow(9, 0), tomorrow(9, 30)).await;
    let check_in = |token: String| {
        let variables = json!({"b": booking["id"]});
        let app = &d.app;
        async move { app.gql(Some(&token), CHECK_IN, variables).await }
    };
    // Too early (check-in opens at 08:50).
    d.set_clock(tomorrow(8, 49));
    check_in(d.nadia.token.clone())
        .await
        .assert_error("VALIDATION", Some("bookingId"));
    d.set_clock(tomorrow(8, 55));
    // Someone else, who sees the booking, may not check the holder in; nor may a tablet.
    check_in(d.omar.token.clone())
        .await
        .assert_error("FORBIDDEN", None);
    check_in(d.tablet.clone())
        .await
        .assert_error("FORBIDDEN", None);
    let r = check_in(d.nadia.token.clone()).await;
    assert_eq!(
        r.ok()["checkIn"]["booking"],
        json!({"id": booking["id"], "status": "CONFIRMED", "checkedInAt": zulu(tomorrow(8, 55))})
    );
    // Checked in: never released.
    d.set_clock(tomorrow(9, 20));
    assert_eq!(
        d.app
            .state
            .domain
            .release_no_shows(tomorrow(9, 20))
            .await
            .expect("pass"),
        0
    );
    assert_eq!(d.bookings("CONFIRMED").await.len(), 1);
    assert_eq!(
        d.app
            .audit_events(&d.admin, "booking.checked_in")
            .await
            .len(),
        1
    );

    // Past the deadline it is too late.
    let later = d.book(&d.nadia, tomorrow(10, 0), tomorrow(10, 30)).await;
    d.set_clock(tomorrow(10, 10));
    d.app
        .gql(Some(&d.nadia.token), CHECK_IN, json!({"b": later["id"]}))
        .await
        .assert_error("VALIDATION", Some("bookingId"));
}

async fn at_the_door_only_the_holders_code_checks_in_extends_and_ends(base: &TestApp) {
    let d = door(base, "Door").await;
    let booking = d.book(&d.nadia, tomorrow(9, 0), tomorrow(9, 30)).await;

    // Check in: a wrong code is invalid, another person's valid code is refused.
    d.set_clock(tomorrow(8, 52));
    d.at_the_door(CHECK_IN_WITH_CODE, &booking, "000000")
        .await
        .assert_error("VALIDATION", Some("code"));
    d.at_the_door(CHECK_IN_WITH_CODE, &booking, &d.omar.code)
        .await
        .assert_error("FORBIDDEN", Some("code"));
    // A person's token is not a tablet's.
    d.app
        .gql(
            Some(&d.nadia.token),
            CHECK_IN_WITH_CODE,
            json!({"i": {"bookingId": booking["id"], "code": d.nadia.code}}),
        )
        .await
        .assert_error("FORBIDDEN", None);
    let r = d
        .at_the_door(CHECK_IN_WITH_CODE, &booking, &d.nadia.code)
        .await;
    let checked = &r.ok()["checkInWithCode"]["booking"];
    assert_eq!(checked["checkedInAt"], json!(zulu(tomorrow(8, 52))));

    // Extend, under way: by one 15-minute slot, with the holder's code only.
    d.set_clock(tomorrow(9, 5));
    d.at_the_door(EXTEND_WITH_CODE, &booking, &d.omar.code)
        .await
        .assert_error("FORBIDDEN", Some("code"));
    let r = d
        .at_the_door(EXTEND_WITH_CODE, &booking, &d.nadia.code)
        .await;
    assert_eq!(
        r.ok()["extendBookingWithCode"]["booking"]["end"],
        json!(zulu(tomorrow(9, 45)))
    );
    // The next slot taken: no further extension.
    d.book(&d.omar, tomorrow(9, 45), tomorrow(10, 0)).await;
    d.at_the_door(EXTEND_WITH_CODE, &booking, &d.nadia.code)
        .await
        .assert_error("CONFLICT", Some("bookingId"));

    // End now: at the end of the slot in progress, with the holder's code only.
    d.set_clock(tomorrow(9, 20));
    d.at_the_door(END_WITH_CODE, &booking, &d.omar.code)
        .await
        .assert_error("FORBIDDEN", Some("code"));
    let r = d.at_the_door(END_WITH_CODE, &booking, &d.nadia.code).await;
    let ended = &r.ok()["endBookingWithCode"]["booking"];
    assert_eq!(ended["end"], json!(zulu(tomorrow(9, 30))));
    assert_eq!(ended["status"], json!("CONFIRMED"));
    // The rest is free again.
    d.book(&d.omar, tomorrow(9, 30), tomorrow(9, 45)).await;
    for action in ["booking.checked_in", "booking.extended", "booking.ended"] {
        assert_eq!(
            d.app.audit_events(&d.admin, action).await.len(),
            1,
            "{action}"
        );
    }
    // The holder's calendar follows: the meeting's end moved twice (extended, then ended).
    let changed: Vec<String> = outbox_for(&d.app, &d.nadia.email)
        .await
        .into_iter()
        .filter(|m| m.kind == EmailKind::BookingChanged)
        .map(|m| m.params["end"].clone())
        .collect();
    assert_eq!(
        changed,
        [tomorrow(9, 45).to_rfc3339(), tomorrow(9, 30).to_rfc3339()]
    );
    // Once over, nothing more to do at the door.
    d.set_clock(tomorrow(9, 31));
    d.at_the_door(EXTEND_WITH_CODE, &booking, &d.nadia.code)
        .await
        .assert_error("VALIDATION", Some("bookingId"));
}

async fn a_tablet_finds_the_free_rooms_of_its_own_site_only(base: &TestApp) {
    let d = door(base, "Find").await;
    let focus = d.app.create_room(&d.admin, &d.site, "Focus Room").await;
    let busy = d.app.create_room(&d.admin, &d.site, "Busy Room").await;
    let lyon = d.app.create_site(&d.admin, &d.company, "Lyon").await;
    d.app.create_room(&d.admin, &lyon, "Lyon Room").await;
    d.app
        .gql(
            Some(&d.nadia.token),
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"roomId": busy, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(9, 30))}}),
        )
        .await
        .ok();
    const FIND: &str = "query($s: ID!, $a: DateTime!, $b: DateTime!) {
        availableRooms(siteId: $s, start: $a, end: $b) { id name } }";
    let window =
        |site: &str| json!({"s": site, "a": iso(tomorrow(9, 0)), "b": iso(tomorrow(9, 30))});
    // The tablet serves one room, yet sees every free room of its site: where to send people.
    let r = d.app.gql(Some(&d.tablet), FIND, window(&d.site)).await;
    let mut names: Vec<&str> = r.ok()["availableRooms"]
        .as_array()
        .expect("rooms")
        .iter()
        .filter_map(|room| room["name"].as_str())
        .collect();
    names.sort_unstable();
    assert_eq!(names, ["Focus Room", "Touch Room"]);
    assert!(r.ok()["availableRooms"].to_string().contains(&focus));
    // Another site of the company is not the tablet's to search.
    d.app
        .gql(Some(&d.tablet), FIND, window(&lyon))
        .await
        .assert_error("NOT_FOUND", None);
}

async fn a_room_that_no_longer_asks_for_check_in_keeps_its_bookings(base: &TestApp) {
    let d = door(base, "Relaxed").await;
    let booking = d.book(&d.nadia, tomorrow(9, 0), tomorrow(9, 30)).await;
    assert_eq!(booking["releaseAt"], json!(zulu(tomorrow(9, 10))));
    d.app
        .gql(
            Some(&d.admin),
            "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {checkInRequired: false}}) {
                room { id } } }",
            json!({"r": d.room}),
        )
        .await
        .ok();
    d.set_clock(tomorrow(9, 10));
    let domain = &d.app.state.domain;
    assert_eq!(
        domain
            .release_no_shows(tomorrow(9, 10))
            .await
            .expect("pass"),
        0
    );
    let kept = d.bookings("CONFIRMED").await;
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0]["releaseAt"], Value::Null, "no deadline any more");
    assert!(
        d.app
            .audit_events(&d.admin, "booking.released")
            .await
            .is_empty()
    );
}

/// A deadline after the booking's end would free nothing: such a booking has none, and one
/// shortened below its deadline loses it (nor is it ever released).
async fn a_booking_shorter_than_the_release_delay_has_no_deadline(base: &TestApp) {
    let d = door(base, "Brief").await;
    d.app
        .gql(
            Some(&d.admin),
            "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {releaseAfterMinutes: 20}}) {
                room { id } } }",
            json!({"r": d.room}),
        )
        .await
        .ok();
    let short = d.book(&d.nadia, tomorrow(9, 0), tomorrow(9, 15)).await;
    assert_eq!(short["releaseAt"], Value::Null);
    let long = d.book(&d.omar, tomorrow(10, 0), tomorrow(11, 0)).await;
    assert_eq!(long["releaseAt"], json!(zulu(tomorrow(10, 20))));
    let shortened = d
        .app
        .gql(
            Some(&d.omar.token),
            "mutation($i: UpdateBookingInput!) { updateBooking(input: $i) { booking { releaseAt } } }",
            json!({"i": {"id": long["id"], "end": iso(tomorrow(10, 15))}}),
        )
        .await;
    assert_eq!(
        shortened.ok()["updateBooking"]["booking"]["releaseAt"],
        Value::Null
    );
    let domain = &d.app.state.domain;
    for at in [tomorrow(9, 14), tomorrow(10, 14)] {
        d.set_clock(at);
        assert_eq!(domain.release_no_shows(at).await.expect("pass"), 0);
    }
    assert_eq!(d.bookings("CONFIRMED").await.len(), 2);
}
