//! Statement budgets on PostgreSQL: how many statements a request sends to the server, counted
//! by a proxy between the store and PostgreSQL (a count, not a time), so that a request that
//! grows a statement fails here instead of creeping back into the benchmarks.
//!
//! BEGIN and COMMIT count as statements, as the benchmark counts them.

use std::sync::Arc;

use chrono::{Duration, Timelike, Utc};
use concierge_storage_postgres::PgStore;
use concierge_tests::TestApp;
use concierge_tests::postgres::{TestDatabase, fresh_database};
use concierge_tests::statement_counter::{CountingProxy, Counts};
use serde_json::{Value, json};

/// The users page of the benchmark: 50 users with profile, sites and organization.
const USERS_PAGE: &str = "query($org: ID!) { users(filter: {organizationId: $org}, first: 50) {
    edges { node { id firstName lastName email username status
        profile { id name } sites { id name } organization { id name } } } } }";

/// An application whose store talks to PostgreSQL through a counting proxy.
struct Counted {
    app: TestApp,
    proxy: CountingProxy,
    _database: TestDatabase,
}

impl Counted {
    async fn start() -> Counted {
        let database = fresh_database().await;
        let proxy = CountingProxy::start(database.url())
            .await
            .expect("counting proxy");
        proxy.self_check().await.expect("the proxy counts");
        let store = PgStore::connect(&proxy.url, 4)
            .await
            .expect("store through the proxy");
        let app = TestApp::on_storage(Arc::new(store)).await;
        Counted {
            app,
            proxy,
            _database: database,
        }
    }

    /// The statements `query` sends, and its answer (which must have no error).
    async fn statements(&self, token: &str, query: &str, variables: Value) -> (u64, Value) {
        let (counted, answer) = self.counted(token, query, variables).await;
        (counted.statements, answer)
    }

    async fn counted(&self, token: &str, query: &str, variables: Value) -> (Counts, Value) {
        let before = self.proxy.counters.snapshot();
        let answer = self.app.gql(Some(token), query, variables).await;
        let counted = self.proxy.counters.snapshot() - before;
        (counted, answer.ok().clone())
    }
}

/// The cast: a company with two sites, a room, and `people` users holding a profile of their own
/// and both sites.
async fn company_of(counted: &Counted, people: usize) -> (String, String, String) {
    let app = &counted.app;
    let (_, company) = app.company("Budget Co").await;
    let token = company.admin_token.clone();
    let paris = app.create_site(&token, &company.id, "Paris").await;
    let lyon = app.create_site(&token, &company.id, "Lyon").await;
    let room = app.create_room(&token, &paris, "Atlas").await;
    let profile = app
        .create_profile(&token, &company.id, "Staff", json!({"bookings": "SELF"}))
        .await;
    for n in 0..people {
        app.create_user(
            &token,
            &company.id,
            json!({"firstName": "Person", "lastName": format!("Number {n}"),
                "email": format!("p{n}@budget.test"), "profileId": profile,
                "siteIds": [paris, lyon]}),
        )
        .await;
    }
    (company.id, token, room)
}

#[tokio::test]
async fn the_users_page_costs_three_statements_whatever_its_size() {
    let counted = Counted::start().await;
    let (org, token, _) = company_of(&counted, 49).await;
    let (statements, page) = counted
        .statements(&token, USERS_PAGE, json!({"org": org}))
        .await;
    let edges = page["users"]["edges"].as_array().expect("edges");
    assert_eq!(edges.len(), 50, "the administrator and 49 people");
    let person = edges
        .iter()
        .find(|e| e["node"]["lastName"] == "Number 7")
        .expect("a listed person");
    assert_eq!(person["node"]["profile"]["name"], "Staff");
    assert_eq!(person["node"]["sites"].as_array().map(Vec::len), Some(2));
    assert_eq!(person["node"]["organization"]["id"], org.as_str());
    assert!(
        statements <= 3,
        "the users page took {statements} statements (budget: 3)"
    );

    // A smaller page costs no fewer: the count does not depend on the size.
    let (small, _) = counted
        .statements(
            &token,
            &USERS_PAGE.replace("first: 50", "first: 5"),
            json!({"org": org}),
        )
        .await;
    assert_eq!(small, statements, "5 users cost as many statements as 50");

    // The total is counted only when asked for: one statement more.
    let (with_total, answer) = counted
        .statements(
            &token,
            "query($org: ID!) { users(filter: {organizationId: $org}, first: 50) { totalCount edges { node { id } } } }",
            json!({"org": org}),
        )
        .await;
    assert_eq!(answer["users"]["totalCount"], 50);
    assert!(
        with_total <= 3,
        "a page with its total took {with_total} statements"
    );
}

#[tokio::test]
async fn me_costs_one_statement_and_a_user_by_id_two() {
    let counted = Counted::start().await;
    let (_, token, _) = company_of(&counted, 1).await;
    let (me, answer) = counted
        .statements(&token, "{ me { id firstName email status } }", json!({}))
        .await;
    assert_eq!(answer["me"]["status"], "ACTIVE");
    assert_eq!(me, 1, "`me` took {me} statements (budget: 1)");

    let id = answer["me"]["id"].as_str().expect("id").to_owned();
    let (by_id, answer) = counted
        .statements(
            &token,
            "query($id: ID!) { user(id: $id) { id firstName email status } }",
            json!({"id": id}),
        )
        .await;
    assert_eq!(answer["user"]["id"], id.as_str());
    assert!(by_id <= 2, "`user(id)` took {by_id} statements (budget: 2)");
}

#[tokio::test]
async fn a_booking_costs_six_statements() {
    let counted = Counted::start().await;
    let (_, token, room) = company_of(&counted, 0).await;
    let start = (Utc::now() + Duration::days(1))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("an hour");
    let book = |offset: i64| {
        json!({"i": {"roomId": room,
            "start": (start + Duration::hours(offset)).to_rfc3339(),
            "end": (start + Duration::hours(offset) + Duration::minutes(30)).to_rfc3339()}})
    };
    let query =
        "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id status } } }";
    // The first bookings prepare their statements on each pooled connection; then none is
    // prepared again (every statement has a fixed text: no literal SQL, no IN lists).
    for warm_up in 0..8 {
        counted.statements(&token, query, book(warm_up)).await;
    }
    let (counts, answer) = counted.counted(&token, query, book(10)).await;
    assert_eq!(answer["createBooking"]["booking"]["status"], "CONFIRMED");
    assert!(
        counts.statements <= 6,
        "createBooking took {} statements (budget: 6)",
        counts.statements
    );
    assert_eq!(counts.parses, 0, "createBooking prepared statements again");
    assert_eq!(
        counts.round_trips, counts.statements,
        "one round trip per statement"
    );
}

#[tokio::test]
async fn moving_or_cancelling_ones_own_booking_costs_a_few_statements() {
    let counted = Counted::start().await;
    let (_, token, room) = company_of(&counted, 0).await;
    let start = (Utc::now() + Duration::days(2))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("an hour");
    let create =
        "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }";
    let update =
        "mutation($i: UpdateBookingInput!) { updateBooking(input: $i) { booking { id end } } }";
    let cancel =
        "mutation($i: CancelBookingInput!) { cancelBooking(input: $i) { booking { id status } } }";
    let mut ids = Vec::new();
    for offset in 0..10 {
        let slot = start + Duration::hours(offset);
        let (_, answer) = counted
            .statements(
                &token,
                create,
                json!({"i": {"roomId": room, "start": slot.to_rfc3339(),
                    "end": (slot + Duration::minutes(30)).to_rfc3339()}}),
            )
            .await;
        ids.push((slot, answer["createBooking"]["booking"]["id"].clone()));
    }
    // Warm-up: every pooled connection prepares its statements once.
    for (slot, id) in &ids[..8] {
        let end = (*slot + Duration::minutes(45)).to_rfc3339();
        counted
            .statements(&token, update, json!({"i": {"id": id, "end": end}}))
            .await;
        counted
            .statements(&token, cancel, json!({"i": {"id": id}}))
            .await;
    }
    let (slot, id) = &ids[8];
    let end = (*slot + Duration::minutes(45)).to_rfc3339();
    let (moved, answer) = counted
        .counted(&token, update, json!({"i": {"id": id, "end": end}}))
        .await;
    assert!(answer["updateBooking"]["booking"]["end"].is_string());
    let (cancelled, answer) = counted
        .counted(&token, cancel, json!({"i": {"id": id}}))
        .await;
    assert_eq!(answer["cancelBooking"]["booking"]["status"], "CANCELLED");
    // Authentication; the booking, its room and site (read once for visibility, policy and
    // e-mail; the holder is the actor: no read); BEGIN; the booking locked; for a move the
    // overlap check; SAVEPOINT, the UPDATE, RELEASE (the savepoint keeps the unit of work usable
    // after an overlap the check missed); the audit, the e-mail and the event (one statement);
    // COMMIT. The UPDATE is prepared anew each time (diesel does not cache it).
    for (what, counts, budget) in [
        ("updateBooking", moved, 12),
        ("cancelBooking", cancelled, 11),
    ] {
        assert!(
            counts.statements <= budget,
            "{what} took {} statements (budget: {budget})",
            counts.statements
        );
        assert!(
            counts.parses <= 1,
            "{what} prepared more than its UPDATE again"
        );
    }
}

#[tokio::test]
async fn a_booking_series_costs_the_same_few_statements_whatever_its_length() {
    let counted = Counted::start().await;
    let (_, token, room) = company_of(&counted, 0).await;
    let tomorrow = (Utc::now() + Duration::days(1))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("an hour");
    // Daily series of `count` occurrences, each at an hour of its own (never overlapping).
    let series = |hour: i64, count: usize| {
        let start = tomorrow + Duration::minutes(30 * hour);
        json!({"i": {"roomId": room, "start": start.to_rfc3339(),
            "end": (start + Duration::minutes(30)).to_rfc3339(),
            "rule": {"frequency": "DAILY", "count": count}}})
    };
    let query = "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
        series { id } bookings { id } skipped } }";
    for warm_up in 0..8 {
        counted.statements(&token, query, series(warm_up, 2)).await;
    }
    let (ten, answer) = counted.counted(&token, query, series(10, 10)).await;
    assert_eq!(
        answer["createBookingSeries"]["bookings"]
            .as_array()
            .map(Vec::len),
        Some(10)
    );
    // Authentication; the room with its site (`room_for_booking`); the room's bookings over the
    // whole series; BEGIN; the series and its occurrences (one INSERT); the audit and every
    // occurrence's event (one statement); COMMIT.
    assert!(
        ten.statements <= 7,
        "createBookingSeries of 10 took {} statements (budget: 7)",
        ten.statements
    );
    assert_eq!(
        ten.parses, 0,
        "createBookingSeries prepared statements again"
    );
    let (two, _) = counted.counted(&token, query, series(11, 2)).await;
    assert_eq!(
        two.statements, ten.statements,
        "10 occurrences cost as many statements as 2"
    );
}

/// A company with two sites of three rooms each and a booking in every room, as its
/// administrator sees it: (organization, token, first site, tomorrow's date).
async fn bookings_of(counted: &Counted) -> (String, String, String, String) {
    let (org, token, _) = company_of(counted, 3).await;
    let app = &counted.app;
    let start = (Utc::now() + Duration::days(1))
        .with_hour(9)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("nine o'clock");
    let mut first_site = String::new();
    for site_name in ["North", "South"] {
        let site = app.create_site(&token, &org, site_name).await;
        if first_site.is_empty() {
            first_site = site.clone();
        }
        for n in 0..3 {
            let room = app
                .create_room(&token, &site, &format!("{site_name} {n}"))
                .await;
            let answer = app
                .gql(
                    Some(&token),
                    "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
                    json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                        "end": (start + Duration::minutes(30)).to_rfc3339()}}),
                )
                .await;
            answer.ok();
        }
    }
    // 09:00 UTC is the same day in Paris, the sites' time zone.
    let date = start.date_naive().to_string();
    (org, token, first_site, date)
}

/// Lists with their relations cost a fixed number of statements, not one per row.
#[tokio::test]
async fn lists_with_relations_cost_a_few_statements() {
    let counted = Counted::start().await;
    let (org, token, site, date) = bookings_of(&counted).await;
    let cases: [(&str, &str, Value, u64); 6] = [
        (
            "sites with their rooms",
            "query($org: ID!) { sites(organizationId: $org) { edges { node { id name rooms { id name } } } } }",
            json!({"org": org}),
            3,
        ),
        (
            "a site's rooms with their day",
            "query($site: ID!, $date: Date!) { rooms(siteId: $site) { id name schedule(date: $date) { id start user { displayName } } } }",
            json!({"site": site, "date": date}),
            // auth, the site, its rooms, the schedules (time zones, bookings), the holders
            6,
        ),
        (
            "every site's rooms with their day",
            "query($org: ID!, $date: Date!) { sites(organizationId: $org) { edges { node { rooms { id schedule(date: $date) { id start } } } } } }",
            json!({"org": org, "date": date}),
            // auth, the sites, their rooms, the schedules (time zones, bookings)
            5,
        ),
        (
            "bookings with room and holder",
            "query($site: ID!) { bookings(filter: {siteId: $site}) { edges { node { id room { name } user { displayName } } } } }",
            json!({"site": site}),
            // auth, the site, the page, the rooms, the people
            5,
        ),
        (
            "audit events with their actor",
            "query($org: ID!) { auditEvents(filter: {organizationId: $org}, first: 50) { edges { node { id action actor { id firstName } organization { name } } } } }",
            json!({"org": org}),
            // auth, the page, the actors, their organizations (the partner's)
            4,
        ),
        (
            "organizations",
            "{ organizations(first: 50) { edges { node { id name parent { id name } } } } }",
            json!({}),
            3,
        ),
    ];
    let mut over = Vec::new();
    for (what, query, variables, budget) in cases {
        let (statements, answer) = counted.statements(&token, query, variables).await;
        assert!(answer.is_object(), "{what}: {answer}");
        if statements > budget {
            over.push(format!("{what}: {statements} statements (budget {budget})"));
        }
    }
    assert!(over.is_empty(), "over budget: {over:#?}");
}

/// Check-in (issue 14, item 3): the holder's `checkIn` is authentication, BEGIN, the booking
/// locked, its update, its audit and event (one statement), COMMIT; a release pass costs the
/// same statements whatever the number of bookings it releases.
#[tokio::test]
async fn a_check_in_costs_six_statements_and_a_release_pass_as_many_for_one_or_nine() {
    let mut counted = Counted::start().await;
    // On a clock the test sets: tomorrow 08:55, check-in open for 09:00.
    let tomorrow = (Utc::now() + Duration::days(1))
        .with_hour(0)
        .and_then(|t| t.with_minute(0))
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("midnight");
    let at = |hour: i64, minute: i64| tomorrow + Duration::hours(hour) + Duration::minutes(minute);
    let clock = Arc::new(concierge_domain::clock::ManualClock::new(at(8, 55)));
    counted.app = counted.app.clocked(clock.clone()).await;
    let (_, token, room) = company_of(&counted, 0).await;
    let app = &counted.app;
    let site = app
        .gql(
            Some(&token),
            "query($r: ID!) { room(id: $r) { site { id } } }",
            json!({"r": room}),
        )
        .await;
    let site = site.ok()["room"]["site"]["id"]
        .as_str()
        .expect("site")
        .to_owned();
    let mut rooms = vec![room];
    for n in 1..12 {
        rooms.push(app.create_room(&token, &site, &format!("Room {n}")).await);
    }
    for room in &rooms {
        app.gql(
            Some(&token),
            "mutation($r: ID!) { updateRoom(input: {id: $r, policy: {checkInRequired: true}}) {
                room { id } } }",
            json!({"r": room}),
        )
        .await
        .ok();
    }
    let book = |room: &str, hour: i64| {
        json!({"i": {"roomId": room, "start": at(hour, 0).to_rfc3339(),
            "end": at(hour, 30).to_rfc3339()}})
    };
    let create =
        "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }";
    let mut at_nine = Vec::new();
    for room in &rooms {
        let (_, answer) = counted.statements(&token, create, book(room, 9)).await;
        at_nine.push(answer["createBooking"]["booking"]["id"].clone());
    }
    let check_in = "mutation($b: ID!) { checkIn(bookingId: $b) { booking { checkedInAt } } }";
    // Warm up every pooled connection, then count one.
    for booking in &at_nine[..8] {
        counted
            .statements(&token, check_in, json!({"b": booking}))
            .await;
    }
    let (counts, answer) = counted
        .counted(&token, check_in, json!({"b": at_nine[8]}))
        .await;
    assert!(!answer["checkIn"]["booking"]["checkedInAt"].is_null());
    assert!(
        counts.statements <= 6,
        "checkIn took {} statements (budget: 6)",
        counts.statements
    );
    assert_eq!(counts.parses, 0, "checkIn prepared statements again");

    // Release passes: at 09:10 the three at nine not checked in; later one, then nine.
    for room in &rooms[..1] {
        counted.statements(&token, create, book(room, 10)).await;
    }
    for room in &rooms[..9] {
        counted.statements(&token, create, book(room, 11)).await;
    }
    let domain = counted.app.state.domain.clone();
    let pass = |now| {
        let domain = domain.clone();
        let counters = Arc::clone(&counted.proxy.counters);
        async move {
            let before = counters.snapshot();
            let released = domain.release_no_shows(now).await.expect("a pass");
            (released, counters.snapshot() - before)
        }
    };
    let (released, _) = pass(at(9, 10)).await;
    assert_eq!(released, 3);
    let (one, counts_one) = pass(at(10, 10)).await;
    let (nine, counts_nine) = pass(at(11, 10)).await;
    assert_eq!((one, nine), (1, 9));
    // BEGIN; the due bookings locked; their update; their holders; their rooms; the e-mails;
    // the audit events and every booking event (one statement); COMMIT.
    assert!(
        counts_nine.statements <= 8,
        "a release pass of nine took {} statements (budget: 8)",
        counts_nine.statements
    );
    assert_eq!(
        counts_one.statements, counts_nine.statements,
        "nine releases cost as many statements as one"
    );
    // Nothing due: the lock finds nothing, the transaction ends there.
    let (none, counts_none) = pass(at(11, 10)).await;
    assert_eq!(none, 0);
    assert!(counts_none.statements <= 3, "{counts_none:?}");
}

#[tokio::test]
async fn a_calendar_feed_costs_the_same_few_statements_whatever_it_holds() {
    let counted = Counted::start().await;
    let (_, token, room) = company_of(&counted, 0).await;
    let app = &counted.app;
    let r = app
        .gql(
            Some(&token),
            "mutation { createCalendarFeed(input: {}) { url } }",
            json!({}),
        )
        .await;
    let url = r.ok()["createCalendarFeed"]["url"]
        .as_str()
        .expect("url")
        .to_owned();
    let secret = url
        .rsplit('/')
        .next()
        .and_then(|file| file.strip_suffix(".ics"))
        .expect("the feed's token")
        .to_owned();
    let start = (Utc::now() + Duration::days(1))
        .with_minute(0)
        .and_then(|t| t.with_second(0))
        .and_then(|t| t.with_nanosecond(0))
        .expect("an hour");
    let book = |offset: i64| {
        json!({"i": {"roomId": room, "title": format!("Meeting {offset}"),
            "start": (start + Duration::hours(offset)).to_rfc3339(),
            "end": (start + Duration::hours(offset) + Duration::minutes(30)).to_rfc3339()}})
    };
    let query = "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }";
    let cost = || async {
        let before = counted.proxy.counters.snapshot();
        let calendar = app.state.domain.calendar(&secret).await.expect("the feed");
        (
            (counted.proxy.counters.snapshot() - before).statements,
            calendar.entries.len(),
        )
    };
    counted.statements(&token, query, book(0)).await;
    let (one, entries) = cost().await;
    assert_eq!(entries, 1);
    for offset in 1..10 {
        counted.statements(&token, query, book(offset)).await;
    }
    let (ten, entries) = cost().await;
    assert_eq!(entries, 10);
    assert_eq!(one, ten, "the statements do not grow with the bookings");
    assert!(
        ten <= 7,
        "a calendar feed took {ten} statements (budget: 7)"
    );
}
