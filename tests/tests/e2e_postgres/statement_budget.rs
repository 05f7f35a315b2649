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
