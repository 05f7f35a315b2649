//! Recurring bookings (`createBookingSeries`, `updateBookingSeries`, `cancelBookingSeries`), on
//! both backends. The application runs on a clock fixed at 15 February 2027 (08:00 UTC), so the
//! series of March and April 2027 are in the room's 90-day horizon whenever the tests run, and
//! cross the Paris spring-forward of Sunday 28 March 2027.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use concierge_domain::clock::ManualClock;
use concierge_tests::bookings::{EVENTS, Floor, floor};
use concierge_tests::{Gql, TestApp};
use futures::StreamExt as _;
use serde_json::{Value, json};

const CREATE: &str = "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
    series { id rrule frequency interval byDay byMonthDay until count timeZone start
        durationMinutes skipped occurrences { id start status } }
    bookings { id start end title status series { id } }
    skipped } }";

const CANCEL: &str = "mutation($i: CancelBookingSeriesInput!) { cancelBookingSeries(input: $i) {
    bookings { id start status } } }";

const UPDATE: &str = "mutation($i: UpdateBookingSeriesInput!) { updateBookingSeries(input: $i) {
    bookings { id start end title status } } }";

const OCCURRENCES: &str = "query($r: ID!) { bookings(filter: {roomId: $r}, first: 100) {
    edges { node { id start end title status series { id occurrences { id } } } } } }";

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("a date-time")
        .with_timezone(&Utc)
}

/// The application on a clock fixed at 15 February 2027, with a floor of its own.
async fn in_february_2027(app: &TestApp, name: &str) -> (TestApp, Floor) {
    let clock = Arc::new(ManualClock::new(at("2027-02-15T08:00:00Z")));
    let app = app.clocked(clock).await;
    let f = floor(&app, name).await;
    (app, f)
}

/// Tuesdays at 09:00 Paris time from 2 March to 13 April 2027, as the booker.
fn tuesdays(f: &Floor, on_conflict: &str) -> Value {
    json!({"i": {"roomId": f.room, "title": "Weekly", "start": "2027-03-02T08:00:00Z",
        "end": "2027-03-02T09:00:00Z", "onConflict": on_conflict,
        "rule": {"frequency": "WEEKLY", "byDay": ["TU"], "until": "2027-04-13"}}})
}

fn starts(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|b| b["start"].as_str().expect("start").to_owned())
        .collect()
}

fn strings(list: &Value) -> Vec<String> {
    list.as_array()
        .expect("a list")
        .iter()
        .map(|v| v.as_str().expect("a string").to_owned())
        .collect()
}

/// The room's bookings, by start.
async fn room_bookings(app: &TestApp, f: &Floor) -> Vec<Value> {
    let r = app
        .gql(
            Some(&f.company.admin_token),
            OCCURRENCES,
            json!({"r": f.room}),
        )
        .await;
    r.ok()["bookings"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

const TUESDAYS_UTC: [&str; 7] = [
    "2027-03-02T08:00:00Z",
    "2027-03-09T08:00:00Z",
    "2027-03-16T08:00:00Z",
    "2027-03-23T08:00:00Z",
    "2027-03-30T07:00:00Z",
    "2027-04-06T07:00:00Z",
    "2027-04-13T07:00:00Z",
];

/// Every occurrence is at 09:00 in Paris: 08:00 UTC before 28 March, 07:00 UTC after. Each
/// publishes its own CREATED event; the series answers its rule in RFC 5545 terms.
pub async fn a_weekly_series_keeps_its_local_time_across_daylight_saving(app: &TestApp) {
    let (app, f) = in_february_2027(app, "Weekly").await;
    let mut events = app
        .listen_to_room(
            &f.company.admin_token,
            EVENTS,
            &f.room,
            &f.booker_token,
            at("2027-03-01T10:00:00Z"),
        )
        .await;
    let r = app
        .gql(Some(&f.booker_token), CREATE, tuesdays(&f, "FAIL"))
        .await;
    let created = &r.ok()["createBookingSeries"];
    assert_eq!(starts(&created["bookings"]), TUESDAYS_UTC);
    assert_eq!(created["skipped"], json!([]));
    let series = &created["series"];
    assert_eq!(
        series["rrule"],
        "FREQ=WEEKLY;INTERVAL=1;BYDAY=TU;UNTIL=20270413T215959Z"
    );
    assert_eq!(series["frequency"], "WEEKLY");
    assert_eq!(series["byDay"], json!(["TU"]));
    assert_eq!(series["until"], "2027-04-13");
    assert_eq!(series["count"], Value::Null);
    assert_eq!(series["timeZone"], "Europe/Paris");
    assert_eq!(series["start"], "2027-03-02T08:00:00Z");
    assert_eq!(series["durationMinutes"], 60);
    assert_eq!(starts(&series["occurrences"]), TUESDAYS_UTC);
    for booking in created["bookings"].as_array().expect("bookings") {
        assert_eq!(booking["series"]["id"], series["id"]);
        assert_eq!(booking["title"], "Weekly");
        assert_eq!(booking["status"], "CONFIRMED");
    }
    // Each occurrence's event, in order.
    let booked: Vec<&str> = created["bookings"]
        .as_array()
        .expect("bookings")
        .iter()
        .map(|b| b["id"].as_str().expect("id"))
        .collect();
    for id in booked {
        let event = tokio::time::timeout(std::time::Duration::from_secs(5), events.next())
            .await
            .expect("an event within 5 s")
            .expect("the subscription goes on");
        let event = &event.ok()["bookingEvents"];
        assert_eq!(event["kind"], "CREATED");
        assert_eq!(event["booking"]["id"], id);
    }
    // As anyone who may see the room reads them (beside the cancelled probes).
    let listed: Vec<Value> = room_bookings(&app, &f)
        .await
        .into_iter()
        .filter(|b| !b["series"].is_null())
        .collect();
    assert_eq!(listed.len(), 7);
    assert_eq!(listed[4]["series"]["id"], series["id"]);
    assert_eq!(
        listed[4]["series"]["occurrences"].as_array().map(Vec::len),
        Some(7)
    );
}

/// A slot already taken on 16 March: FAIL books nothing and lists that date; SKIP books the six
/// others and lists it as skipped.
pub async fn a_conflicting_occurrence_fails_or_is_skipped(app: &TestApp) {
    let (app, f) = in_february_2027(app, "Conflicts").await;
    app.gql(
        Some(&f.company.admin_token),
        "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
        json!({"i": {"roomId": f.room, "start": "2027-03-16T08:30:00Z",
            "end": "2027-03-16T09:30:00Z", "title": "Taken"}}),
    )
    .await
    .ok();

    let failed = app
        .gql(Some(&f.booker_token), CREATE, tuesdays(&f, "FAIL"))
        .await;
    failed.assert_error("CONFLICT", Some("rule"));
    assert_eq!(
        strings(&failed.errors[0]["extensions"]["conflicts"]),
        ["2027-03-16T08:00:00Z"]
    );
    assert_eq!(room_bookings(&app, &f).await.len(), 1, "nothing was booked");

    let r = app
        .gql(Some(&f.booker_token), CREATE, tuesdays(&f, "SKIP"))
        .await;
    let created = &r.ok()["createBookingSeries"];
    let mut expected: Vec<&str> = TUESDAYS_UTC.to_vec();
    expected.remove(2);
    assert_eq!(starts(&created["bookings"]), expected);
    assert_eq!(strings(&created["skipped"]), ["2027-03-16T08:00:00Z"]);
    assert_eq!(
        strings(&created["series"]["skipped"]),
        ["2027-03-16T08:00:00Z"]
    );
    assert_eq!(room_bookings(&app, &f).await.len(), 7);
}

/// Cancelling the third of five occurrences with THIS_AND_FOLLOWING cancels the last three and
/// frees their slots; OCCURRENCE then cancels one more; the first two stay as they were before.
pub async fn cancel_this_and_following(app: &TestApp) {
    let (app, f) = in_february_2027(app, "Cancels").await;
    let mut input = tuesdays(&f, "FAIL");
    input["i"]["rule"] = json!({"frequency": "WEEKLY", "count": 5});
    let r = app.gql(Some(&f.booker_token), CREATE, input).await;
    let booked = r.ok()["createBookingSeries"]["bookings"].clone();
    let id = |n: usize| booked[n]["id"].as_str().expect("id").to_owned();

    let r = app
        .gql(
            Some(&f.booker_token),
            CANCEL,
            json!({"i": {"id": id(2), "scope": "THIS_AND_FOLLOWING"}}),
        )
        .await;
    let cancelled = &r.ok()["cancelBookingSeries"]["bookings"];
    assert_eq!(starts(cancelled), TUESDAYS_UTC[2..5]);
    let statuses = |list: &[Value]| -> Vec<String> {
        list.iter()
            .map(|b| b["status"].as_str().expect("status").to_owned())
            .collect()
    };
    assert_eq!(
        statuses(&room_bookings(&app, &f).await),
        [
            "CONFIRMED",
            "CONFIRMED",
            "CANCELLED",
            "CANCELLED",
            "CANCELLED"
        ]
    );
    // Their slots are free again.
    app.gql(
        Some(&f.company.admin_token),
        "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
        json!({"i": {"roomId": f.room, "start": "2027-03-23T08:00:00Z",
            "end": "2027-03-23T09:00:00Z"}}),
    )
    .await
    .ok();

    let r = app
        .gql(
            Some(&f.booker_token),
            CANCEL,
            json!({"i": {"id": id(0), "scope": "OCCURRENCE"}}),
        )
        .await;
    assert_eq!(
        starts(&r.ok()["cancelBookingSeries"]["bookings"]),
        [TUESDAYS_UTC[0]]
    );
    let after: Vec<Value> = room_bookings(&app, &f).await;
    assert_eq!(after[1]["status"], "CONFIRMED", "the second stays");
    // A one-off booking is no series.
    let one_off = after
        .iter()
        .find(|b| b["series"].is_null())
        .expect("the one-off booking");
    app.gql(
        Some(&f.company.admin_token),
        CANCEL,
        json!({"i": {"id": one_off["id"], "scope": "ALL"}}),
    )
    .await
    .assert_error("VALIDATION", Some("id"));
}

/// Moving the second occurrence half an hour later with THIS_AND_FOLLOWING moves the later ones
/// by the same local time (09:30 in Paris on either side of the DST change) and renames them.
pub async fn update_this_and_following_moves_by_local_time(app: &TestApp) {
    let (app, f) = in_february_2027(app, "Moves").await;
    let r = app
        .gql(Some(&f.booker_token), CREATE, tuesdays(&f, "FAIL"))
        .await;
    let booked = r.ok()["createBookingSeries"]["bookings"].clone();
    let r = app
        .gql(
            Some(&f.booker_token),
            UPDATE,
            json!({"i": {"id": booked[1]["id"], "scope": "THIS_AND_FOLLOWING",
                "start": "2027-03-09T08:30:00Z", "end": "2027-03-09T09:00:00Z",
                "title": "Shorter"}}),
        )
        .await;
    let moved = &r.ok()["updateBookingSeries"]["bookings"];
    assert_eq!(
        starts(moved),
        [
            "2027-03-09T08:30:00Z",
            "2027-03-16T08:30:00Z",
            "2027-03-23T08:30:00Z",
            "2027-03-30T07:30:00Z",
            "2027-04-06T07:30:00Z",
            "2027-04-13T07:30:00Z",
        ]
    );
    assert!(
        moved
            .as_array()
            .expect("moved")
            .iter()
            .all(|b| b["title"] == "Shorter")
    );
    let listed = room_bookings(&app, &f).await;
    assert_eq!(listed[0]["start"], TUESDAYS_UTC[0], "the first stays");
    assert_eq!(listed[0]["title"], "Weekly");
    assert_eq!(listed[6]["end"], "2027-04-13T08:00:00Z");
}

/// Bad rules answer VALIDATION on the field at fault, and book nothing.
pub async fn bad_series_name_their_field(app: &TestApp) {
    let (app, f) = in_february_2027(app, "BadRules").await;
    let with_rule = |rule: Value| {
        let mut input = tuesdays(&f, "FAIL");
        input["i"]["rule"] = rule;
        input
    };
    let cases = [
        (json!({"frequency": "WEEKLY", "count": 201}), "rule.count"),
        (json!({"frequency": "WEEKLY", "count": 0}), "rule.count"),
        (
            json!({"frequency": "WEEKLY", "count": 3, "until": "2027-04-13"}),
            "rule.count",
        ),
        (json!({"frequency": "WEEKLY"}), "rule.until"),
        // Beyond the room's 90-day horizon (16 May 2027).
        (json!({"frequency": "WEEKLY", "count": 20}), "rule.count"),
        (
            json!({"frequency": "DAILY", "until": "2027-06-30"}),
            "rule.until",
        ),
        // 2 March 2027 is a Tuesday, not a Monday.
        (
            json!({"frequency": "WEEKLY", "byDay": ["MO"], "count": 3}),
            "rule.byDay",
        ),
        (
            json!({"frequency": "DAILY", "byDay": ["TU"], "count": 3}),
            "rule.byDay",
        ),
        (
            json!({"frequency": "MONTHLY", "byMonthDay": [32], "count": 3}),
            "rule.byMonthDay",
        ),
        (
            json!({"frequency": "WEEKLY", "interval": 0, "count": 3}),
            "rule.interval",
        ),
        (
            json!({"frequency": "WEEKLY", "until": "2027-03-01"}),
            "rule.until",
        ),
    ];
    for (rule, field) in cases {
        let r: Gql = app
            .gql(Some(&f.booker_token), CREATE, with_rule(rule.clone()))
            .await;
        assert_eq!(
            (r.code(), r.field()),
            ("VALIDATION", Some(field)),
            "{rule}: {:#}",
            json!(r.errors)
        );
    }
    // The first occurrence under the room's policy, as createBooking: end before start.
    let mut backwards = tuesdays(&f, "FAIL");
    backwards["i"]["end"] = json!("2027-03-02T07:00:00Z");
    app.gql(Some(&f.booker_token), CREATE, backwards)
        .await
        .assert_error("VALIDATION", Some("end"));
    // bookings: SELF books for nobody else.
    let mut for_admin = tuesdays(&f, "FAIL");
    for_admin["i"]["userId"] = json!(f.company.admin_id);
    app.gql(Some(&f.booker_token), CREATE, for_admin)
        .await
        .assert_error("FORBIDDEN", None);
    assert!(
        room_bookings(&app, &f).await.is_empty(),
        "nothing was booked"
    );
}

/// Moving the following occurrences a week later puts each on the slot the next one leaves:
/// the overlap rule holds for the result of the whole change, not row by row.
pub async fn following_occurrences_move_a_week_later(app: &TestApp) {
    let (app, f) = in_february_2027(app, "WeekLater").await;
    let r = app
        .gql(Some(&f.booker_token), CREATE, tuesdays(&f, "FAIL"))
        .await;
    let booked = r.ok()["createBookingSeries"]["bookings"].clone();
    let r = app
        .gql(
            Some(&f.booker_token),
            UPDATE,
            json!({"i": {"id": booked[1]["id"], "scope": "THIS_AND_FOLLOWING",
                "start": "2027-03-16T08:00:00Z", "end": "2027-03-16T09:00:00Z"}}),
        )
        .await;
    let moved = &r.ok()["updateBookingSeries"]["bookings"];
    assert_eq!(
        starts(moved),
        [
            "2027-03-16T08:00:00Z",
            "2027-03-23T08:00:00Z",
            "2027-03-30T07:00:00Z",
            "2027-04-06T07:00:00Z",
            "2027-04-13T07:00:00Z",
            "2027-04-20T07:00:00Z",
        ]
    );
    // 9 March is free again; nothing else moved into it.
    let listed: Vec<String> = room_bookings(&app, &f)
        .await
        .iter()
        .map(|b| b["start"].as_str().expect("start").to_owned())
        .collect();
    assert!(
        !listed.contains(&"2027-03-09T08:00:00Z".to_owned()),
        "{listed:?}"
    );
}
