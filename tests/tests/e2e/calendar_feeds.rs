//! Calendar feeds on both backends: a person's and a room's bookings at secret addresses,
//! parsed by an independent iCalendar parser (Python's `icalendar`), never by the writer. The
//! application runs on a clock fixed at 15 February 2027, so the series of March 2027 crosses
//! the Paris spring-forward of 28 March.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use chrono::{DateTime, Utc};
use concierge_api::http::router;
use concierge_domain::clock::ManualClock;
use concierge_tests::TestApp;
use concierge_tests::bookings::{book, floor};
use concierge_tests::ical::parse;
use serde_json::json;
use tower::ServiceExt;

const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

concierge_tests::scenarios_on_both_backends!(
    feeds_list_exactly_the_bookings_with_series_as_rules,
    a_feed_ends_with_its_revocation_or_its_owner,
    the_holder_is_mailed_each_change_of_their_booking,
    a_series_is_one_invitation_and_its_changes_name_their_occurrences,
    a_feed_shows_what_stands_whatever_was_cancelled_and_whenever,
);

const CREATE_FEED: &str = "mutation($r: ID) { createCalendarFeed(input: {roomId: $r}) {
    url calendarFeed { id room { id } revokedAt } } }";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a date-time")
        .with_timezone(&Utc)
}

async fn in_february_2027(app: &TestApp) -> TestApp {
    app.clocked(Arc::new(ManualClock::new(at("2027-02-15T08:00:00Z"))))
        .await
}

/// The feed at `url` as a calendar application fetches it: status and body.
async fn fetch(app: &TestApp, url: &str) -> (StatusCode, String, String) {
    let path = &url[url.find("/calendar/").expect("a feed path")..];
    let response = router(app.state.clone())
        .oneshot(
            Request::builder()
                .uri(path)
                .body(Body::empty())
                .expect("request"),
        )
        .await
        .expect("response");
    let status = response.status();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = to_bytes(response.into_body(), 1 << 22).await.expect("body");
    (
        status,
        content_type,
        String::from_utf8_lossy(&body).into_owned(),
    )
}

async fn feeds_list_exactly_the_bookings_with_series_as_rules(app: &TestApp) {
    let app = in_february_2027(app).await;
    let f = floor(&app, "Feeds").await;
    // The booker: Tuesdays at 09:00 Paris time through March, one cancelled; one meeting alone.
    let r = app
        .gql(
            Some(&f.booker_token),
            "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
                series { id } bookings { id start } } }",
            json!({"i": {"roomId": f.room, "title": "Weekly", "start": "2027-03-02T08:00:00Z",
                "end": "2027-03-02T09:00:00Z", "onConflict": "FAIL",
                "rule": {"frequency": "WEEKLY", "byDay": ["TU"], "until": "2027-04-06"}}}),
        )
        .await;
    let created = &r.ok()["createBookingSeries"];
    let series_id = created["series"]["id"].as_str().expect("series").to_owned();
    let third = created["bookings"][2]["id"].as_str().expect("occurrence");
    let r = app
        .gql(
            Some(&f.booker_token),
            "mutation($i: CancelBookingSeriesInput!) { cancelBookingSeries(input: $i) { bookings { id } } }",
            json!({"i": {"id": third, "scope": "OCCURRENCE"}}),
        )
        .await;
    r.ok();
    let alone = book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": "2027-03-03T10:00:00Z", "end": "2027-03-03T11:00:00Z",
            "title": "Design review"}),
    )
    .await;
    let alone_id = alone.ok()["createBooking"]["booking"]["id"]
        .as_str()
        .expect("booking")
        .to_owned();
    // Someone else's meeting in the same room.
    let board = book(
        &app,
        &f.company.admin_token,
        json!({"roomId": f.room, "start": "2027-03-04T13:00:00Z", "end": "2027-03-04T14:00:00Z",
            "title": "Board meeting"}),
    )
    .await;
    board.ok();

    // The booker's own feed: the series as one rule (09:00 Paris, the cancelled Tuesday
    // excluded) and the meeting alone; nobody else's.
    let r = app
        .gql(Some(&f.booker_token), CREATE_FEED, json!({"r": null}))
        .await;
    let url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert!(
        url.contains("/calendar/cal_") && url.ends_with(".ics"),
        "{url}"
    );
    let (status, content_type, ics) = fetch(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    assert!(content_type.starts_with("text/calendar"), "{content_type}");
    let events = parse(&ics);
    assert_eq!(events.len(), 2, "{events:#?}");
    let series = &events[0];
    assert_eq!(series["uid"], format!("{series_id}@concierge"));
    assert_eq!(series["summary"], "Weekly");
    assert_eq!(series["location"], "Touch Room");
    assert_eq!(series["tzid"], "Europe/Paris");
    assert_eq!(series["start"], "2027-03-02T09:00:00+01:00");
    assert_eq!(series["end"], "2027-03-02T10:00:00+01:00");
    assert_eq!(
        series["rrule"],
        "FREQ=WEEKLY;UNTIL=20270406T215959Z;INTERVAL=1;BYDAY=TU"
    );
    assert_eq!(series["exdates"], json!(["2027-03-16T09:00:00+01:00"]));
    let single = &events[1];
    assert_eq!(single["uid"], format!("{alone_id}@concierge"));
    assert_eq!(single["summary"], "Design review");
    assert_eq!(single["start"], "2027-03-03T10:00:00+00:00");
    assert_eq!(single["end"], "2027-03-03T11:00:00+00:00");

    // The room's feed, made by its administrator: every booking, other people's titles
    // withheld.
    let r = app
        .gql(
            Some(&f.company.admin_token),
            CREATE_FEED,
            json!({"r": f.room}),
        )
        .await;
    let room_url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let (status, _, room_ics) = fetch(&app, &room_url).await;
    assert_eq!(status, StatusCode::OK);
    let events = parse(&room_ics);
    let summaries: Vec<&str> = events
        .iter()
        .map(|e| e["summary"].as_str().expect("summary"))
        .collect();
    assert_eq!(summaries, ["Booked", "Booked", "Booked"], "{events:#?}");
    assert_eq!(events[2]["start"], "2027-03-04T13:00:00+00:00");
    assert!(
        ics.contains("Design review"),
        "the booker's own titles: {ics}"
    );
    assert!(!ics.contains("Board meeting"), "nobody else's: {ics}");
    assert!(!room_ics.contains("Board meeting"), "{room_ics}");
    assert!(!room_ics.contains("Design review"), "{room_ics}");
    assert!(!room_ics.contains("Weekly"), "{room_ics}");
}

/// Cancelled bookings do not use up a feed's room: two thousand of them before the booker's
/// series and their meeting alone hide neither, and no date of the series that still stands
/// is excluded. A date cancelled long ago stays excluded once the feed's window has moved
/// past it (the rule still puts it in the calendar).
async fn a_feed_shows_what_stands_whatever_was_cancelled_and_whenever(app: &TestApp) {
    use concierge_domain::ids::BookingId;
    use concierge_domain::model::BookingStatus;
    let clock = Arc::new(ManualClock::new(at("2027-02-15T08:00:00Z")));
    let app = app.clocked(clock.clone()).await;
    let f = floor(&app, "Crowded").await;
    // Tuesdays at 09:00 Paris time through March and into April; the first one cancelled.
    let r = app
        .gql(
            Some(&f.booker_token),
            "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
                series { id } bookings { id start } } }",
            json!({"i": {"roomId": f.room, "title": "Weekly", "start": "2027-03-02T08:00:00Z",
                "end": "2027-03-02T09:00:00Z", "onConflict": "FAIL",
                "rule": {"frequency": "WEEKLY", "byDay": ["TU"], "until": "2027-04-06"}}}),
        )
        .await;
    let created = &r.ok()["createBookingSeries"];
    let series_id = created["series"]["id"].as_str().expect("series").to_owned();
    let first = created["bookings"][0]["id"].as_str().expect("occurrence");
    let r = app
        .gql(
            Some(&f.booker_token),
            "mutation($i: CancelBookingSeriesInput!) { cancelBookingSeries(input: $i) { bookings { id } } }",
            json!({"i": {"id": first, "scope": "OCCURRENCE"}}),
        )
        .await;
    r.ok();
    let late = book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": "2027-05-04T10:00:00Z", "end": "2027-05-04T11:00:00Z",
            "title": "Late review"}),
    )
    .await;
    let late_id = late.ok()["createBooking"]["booking"]["id"]
        .as_str()
        .expect("booking")
        .to_owned();
    // Two thousand cancelled meetings of the booker in the same room, all before the series
    // (more than a feed holds).
    let store = &app.state.domain.store;
    let template = store
        .booking(late_id.parse().expect("a booking id"))
        .await
        .expect("read")
        .expect("the meeting");
    let mut tx = store.begin().await.expect("a transaction");
    for minute in 0..2000 {
        let start = at("2027-02-16T00:00:00Z") + chrono::Duration::minutes(minute);
        let cancelled = concierge_domain::model::Booking {
            id: BookingId::new(),
            title: Some("Called off".into()),
            start,
            end: start + chrono::Duration::minutes(30),
            status: BookingStatus::Cancelled,
            release_at: None,
            checked_in_at: None,
            ..template.clone()
        };
        tx.insert_booking(&cancelled).await.expect("insert");
    }
    tx.commit().await.expect("commit");

    let r = app
        .gql(Some(&f.booker_token), CREATE_FEED, json!({"r": null}))
        .await;
    let url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let expect_feed = |ics: &str| {
        let events = parse(ics);
        assert_eq!(events.len(), 2, "{events:#?}");
        assert_eq!(events[0]["uid"], format!("{series_id}@concierge"));
        assert_eq!(
            events[0]["rrule"],
            "FREQ=WEEKLY;UNTIL=20270406T215959Z;INTERVAL=1;BYDAY=TU"
        );
        // Only the cancelled Tuesday: none of those standing, wherever the cap fell.
        assert_eq!(events[0]["exdates"], json!(["2027-03-02T09:00:00+01:00"]));
        assert_eq!(events[1]["uid"], format!("{late_id}@concierge"));
        assert_eq!(events[1]["summary"], "Late review");
        assert!(!ics.contains("Called off"), "{ics}");
    };
    let (status, _, ics) = fetch(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    expect_feed(&ics);
    // The room's feed as well.
    let r = app
        .gql(Some(&f.booker_token), CREATE_FEED, json!({"r": f.room}))
        .await;
    let room_url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let (status, _, room_ics) = fetch(&app, &room_url).await;
    assert_eq!(status, StatusCode::OK);
    let events = parse(&room_ics);
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0]["exdates"], json!(["2027-03-02T09:00:00+01:00"]));

    // Ten weeks on: the cancelled Tuesday is more than thirty days past, the series' last
    // dates still in the window; it stays excluded.
    clock.advance(chrono::Duration::days(70));
    let (status, _, ics) = fetch(&app, &url).await;
    assert_eq!(status, StatusCode::OK);
    expect_feed(&ics);
}

async fn a_feed_ends_with_its_revocation_or_its_owner(app: &TestApp) {
    let app = in_february_2027(app).await;
    let f = floor(&app, "Revoked").await;
    let r = app
        .gql(Some(&f.booker_token), CREATE_FEED, json!({"r": f.room}))
        .await;
    let created = &r.ok()["createCalendarFeed"];
    let (room_url, room_feed) = (
        created["url"].as_str().expect("url").to_owned(),
        created["calendarFeed"]["id"]
            .as_str()
            .expect("id")
            .to_owned(),
    );
    let r = app
        .gql(Some(&f.booker_token), CREATE_FEED, json!({"r": null}))
        .await;
    let own_url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    assert_eq!(fetch(&app, &room_url).await.0, StatusCode::OK);

    // Listed without their addresses; someone else cannot revoke them.
    let r = app
        .gql(
            Some(&f.booker_token),
            "{ calendarFeeds { id room { id } revokedAt } }",
            json!({}),
        )
        .await;
    assert_eq!(r.ok()["calendarFeeds"].as_array().map(Vec::len), Some(2));
    let revoke = "mutation($id: ID!) { revokeCalendarFeed(input: {calendarFeedId: $id}) {
        calendarFeed { revokedAt } } }";
    let r = app
        .gql(
            Some(&f.company.admin_token),
            revoke,
            json!({"id": room_feed}),
        )
        .await;
    r.assert_error("NOT_FOUND", None);
    let r = app
        .gql(Some(&f.booker_token), revoke, json!({"id": room_feed}))
        .await;
    assert!(r.ok()["revokeCalendarFeed"]["calendarFeed"]["revokedAt"].is_string());
    assert_eq!(fetch(&app, &room_url).await.0, StatusCode::NOT_FOUND);
    // An address nobody was given, or malformed.
    let forged = format!("{}Xx", &own_url[..own_url.len() - 6]);
    assert_eq!(
        fetch(&app, &format!("{forged}.ics")).await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        fetch(&app, "/calendar/nope.ics").await.0,
        StatusCode::NOT_FOUND
    );

    // The owner deactivated: their feed answers nothing.
    assert_eq!(fetch(&app, &own_url).await.0, StatusCode::OK);
    let r = app
        .gql(
            Some(&f.company.admin_token),
            "mutation($id: ID!) { deactivateUser(input: {userId: $id}) { user { status } } }",
            json!({"id": f.booker_id}),
        )
        .await;
    r.ok();
    assert_eq!(fetch(&app, &own_url).await.0, StatusCode::NOT_FOUND);
}

/// Made, moved, cancelled: three messages to the holder, each with the meeting attached (see
/// tests/tests/mail/invitations.rs for the attachment itself); nothing to a holder without
/// e-mail.
async fn the_holder_is_mailed_each_change_of_their_booking(app: &TestApp) {
    let app = in_february_2027(app).await;
    let f = floor(&app, "Mailed").await;
    let pending = || async {
        app.state
            .domain
            .store
            .pending_email_count()
            .await
            .expect("the outbox")
    };
    let before = pending().await;
    // The booker signs in with a username: no e-mail, no message.
    book(
        &app,
        &f.booker_token,
        json!({"roomId": f.room, "start": "2027-03-03T10:00:00Z", "end": "2027-03-03T11:00:00Z"}),
    )
    .await
    .ok();
    assert_eq!(pending().await, before);

    let admin = &f.company.admin_token;
    let made = book(
        &app,
        admin,
        json!({"roomId": f.room, "start": "2027-03-04T10:00:00Z", "end": "2027-03-04T11:00:00Z",
            "title": "Budget"}),
    )
    .await;
    let id = made.ok()["createBooking"]["booking"]["id"]
        .as_str()
        .expect("booking")
        .to_owned();
    let r = app
        .gql(
            Some(admin),
            "mutation($i: UpdateBookingInput!) { updateBooking(input: $i) { booking { id } } }",
            json!({"i": {"id": id, "start": "2027-03-04T12:00:00Z", "end": "2027-03-04T13:00:00Z"}}),
        )
        .await;
    r.ok();
    let r = app
        .gql(
            Some(admin),
            "mutation($i: CancelBookingInput!) { cancelBooking(input: $i) { booking { status } } }",
            json!({"i": {"id": id}}),
        )
        .await;
    assert_eq!(r.ok()["cancelBooking"]["booking"]["status"], "CANCELLED");
    assert_eq!(pending().await, before + 3);
    if app.memory.is_some() {
        use concierge_domain::model::EmailKind;
        let mails = app.mail_to(&f.company.admin_email);
        let kinds: Vec<EmailKind> = mails
            .iter()
            .filter(|m| m.params.get("booking").map(String::as_str) == Some(id.as_str()))
            .map(|m| m.kind)
            .collect();
        assert_eq!(
            kinds,
            [
                EmailKind::BookingConfirmed,
                EmailKind::BookingChanged,
                EmailKind::BookingCancelled
            ]
        );
        let moved = &mails[mails.len() - 2];
        assert_eq!(moved.params["start"], "2027-03-04T12:00:00+00:00");
    }
}

/// The invitations (as the holder's calendar reads them) of the messages queued for `to`
/// about `uid`, in order: (kind, events).
fn invitations(
    app: &TestApp,
    to: &str,
    uid: &str,
) -> Vec<(concierge_domain::model::EmailKind, Vec<serde_json::Value>)> {
    app.mail_to(to)
        .into_iter()
        .filter(|m| m.params.get("booking").map(String::as_str) == Some(uid))
        .map(|m| {
            let invitation = concierge_api::calendar::Invitation::of(m.kind, &m.params)
                .expect("a booking message carries a meeting");
            (
                m.kind,
                parse(&invitation.to_ics("no-reply@rooms.example.com", to)),
            )
        })
        .collect()
}

/// Creating a series sends one invitation with its rule; cancelling one occurrence sends a
/// CANCEL of that occurrence only; moving the following ones sends a REQUEST naming each by
/// the start the rule gave it, in the site's time zone.
async fn a_series_is_one_invitation_and_its_changes_name_their_occurrences(app: &TestApp) {
    use concierge_domain::model::EmailKind;
    let app = in_february_2027(app).await;
    let f = floor(&app, "Recurring").await;
    let admin = &f.company.admin_token;
    let pending = || async {
        app.state
            .domain
            .store
            .pending_email_count()
            .await
            .expect("the outbox")
    };
    let before = pending().await;
    let r = app
        .gql(
            Some(admin),
            "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
                series { id } bookings { id start } } }",
            json!({"i": {"roomId": f.room, "title": "Weekly", "start": "2027-03-02T08:00:00Z",
                "end": "2027-03-02T09:00:00Z", "onConflict": "FAIL",
                "rule": {"frequency": "WEEKLY", "byDay": ["TU"], "count": 4}}}),
        )
        .await;
    let created = &r.ok()["createBookingSeries"];
    let series = created["series"]["id"].as_str().expect("series").to_owned();
    let second = created["bookings"][1]["id"]
        .as_str()
        .expect("occurrence")
        .to_owned();
    let third = created["bookings"][2]["id"]
        .as_str()
        .expect("occurrence")
        .to_owned();
    assert_eq!(pending().await, before + 1, "one message for the series");
    let r = app
        .gql(
            Some(admin),
            "mutation($i: CancelBookingSeriesInput!) { cancelBookingSeries(input: $i) { bookings { id } } }",
            json!({"i": {"id": second, "scope": "OCCURRENCE"}}),
        )
        .await;
    r.ok();
    let r = app
        .gql(
            Some(admin),
            "mutation($i: UpdateBookingSeriesInput!) { updateBookingSeries(input: $i) { bookings { id } } }",
            json!({"i": {"id": third, "scope": "THIS_AND_FOLLOWING",
                "start": "2027-03-16T09:00:00Z", "end": "2027-03-16T10:00:00Z"}}),
        )
        .await;
    r.ok();
    assert_eq!(pending().await, before + 3);
    if app.memory.is_none() {
        return;
    }
    let sent = invitations(&app, &f.company.admin_email, &series);
    let kinds: Vec<EmailKind> = sent.iter().map(|(k, _)| *k).collect();
    assert_eq!(
        kinds,
        [
            EmailKind::BookingConfirmed,
            EmailKind::BookingCancelled,
            EmailKind::BookingChanged
        ]
    );
    let uid = format!("{series}@concierge");
    let whole = &sent[0].1;
    assert_eq!(whole.len(), 1);
    assert_eq!(whole[0]["method"], "REQUEST");
    assert_eq!(whole[0]["uid"], uid.as_str());
    assert_eq!(whole[0]["tzid"], "Europe/Paris");
    assert_eq!(whole[0]["start"], "2027-03-02T09:00:00+01:00");
    assert_eq!(whole[0]["rrule"], "FREQ=WEEKLY;COUNT=4;INTERVAL=1;BYDAY=TU");
    let cancelled = &sent[1].1;
    assert_eq!(cancelled.len(), 1);
    assert_eq!(cancelled[0]["method"], "CANCEL");
    assert_eq!(cancelled[0]["uid"], uid.as_str());
    assert_eq!(cancelled[0]["recurrence_id"], "2027-03-09T09:00:00+01:00");
    // The third and fourth move an hour later, each named by the start its rule gave it.
    let moved = &sent[2].1;
    let ids: Vec<&str> = moved
        .iter()
        .map(|e| e["recurrence_id"].as_str().expect("an occurrence"))
        .collect();
    assert_eq!(
        ids,
        ["2027-03-16T09:00:00+01:00", "2027-03-23T09:00:00+01:00"]
    );
    let starts: Vec<&str> = moved
        .iter()
        .map(|e| e["start"].as_str().expect("start"))
        .collect();
    assert_eq!(
        starts,
        ["2027-03-16T10:00:00+01:00", "2027-03-23T10:00:00+01:00"]
    );
    assert!(
        moved
            .iter()
            .all(|e| e["method"] == "REQUEST" && e["uid"] == uid.as_str())
    );
}
