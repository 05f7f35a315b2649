//! Finding a room (`availableRooms`, issue 14 item 2), through the schema on both backends: the
//! rooms a person could book for themselves for a whole interval, smallest adequate capacity
//! first. Capacity, equipment, the room's policy (bookable, too long, beyond the horizon), the
//! sites the person may use, existing bookings (overlap vs back-to-back, cancelled ones free
//! the room), a site group, another tenant's site, and bad input. Then, on PostgreSQL only, the
//! statements one search costs: one for the candidate rooms and one for the busy ones, whatever
//! the number of rooms.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use chrono::{DateTime, Duration, Timelike as _, Utc};
use concierge_tests::{Gql, TestApp};
use serde_json::{Value, json};

const SEARCH: &str = "query($site: ID, $group: ID, $start: DateTime!, $end: DateTime!, $min: Int, $eq: [String!]) {
    availableRooms(siteId: $site, siteGroupId: $group, start: $start, end: $end, minCapacity: $min, equipment: $eq) {
        id name capacity equipment } }";
const BOOK: &str =
    "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { id status } } }";
const CREATE_ROOM: &str =
    "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }";

/// `days` from today at `hour`:00 UTC (on a slot in Paris, a whole number of hours from UTC).
fn at(days: i64, hour: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + Duration::days(days))
        .and_hms_opt(hour, 0, 0)
        .expect("a time of day")
        .and_utc()
}

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339()
}

async fn room(app: &TestApp, token: &str, site: &str, fields: Value) -> String {
    let mut input = fields;
    input["siteId"] = json!(site);
    let r = app.gql(Some(token), CREATE_ROOM, json!({"i": input})).await;
    r.ok()["createRoom"]["room"]["id"]
        .as_str()
        .expect("room id")
        .to_owned()
}

/// A company with two sites (Paris, Lyon) and a site group of both; Paris has rooms of every
/// kind, Lyon one; a booker granted Paris only.
struct Offices {
    admin: String,
    paris: String,
    lyon: String,
    both: String,
    booker: String,
}

async fn offices(app: &TestApp, name: &str) -> Offices {
    let (_, company) = app.company(name).await;
    let admin = company.admin_token.clone();
    let paris = app.create_site(&admin, &company.id, "Paris HQ").await;
    let lyon = app.create_site(&admin, &company.id, "Lyon").await;
    let both = app
        .create_site_group(&admin, &company.id, "France", &[&paris, &lyon])
        .await;
    for fields in [
        json!({"name": "Board", "capacity": 12, "equipment": ["Screen", "Video"]}),
        json!({"name": "Huddle", "capacity": 4, "equipment": ["Screen"]}),
        json!({"name": "Atelier", "capacity": 8}),
        json!({"name": "Bastille", "capacity": 8}),
        json!({"name": "Closed", "capacity": 2, "bookable": false}),
        json!({"name": "Quick", "capacity": 3, "policy": {"maxMinutes": 30}}),
        json!({"name": "Soon", "capacity": 3, "policy": {"horizonDays": 1}}),
    ] {
        room(app, &admin, &paris, fields).await;
    }
    room(app, &admin, &lyon, json!({"name": "Loft", "capacity": 6})).await;
    let (_, booker) = app
        .member(
            &admin,
            &company.id,
            json!({"bookings": "SELF", "rooms": "READ", "sites": "READ", "modules": ["rooms"]}),
            json!({"siteIds": [paris], "siteGroupIds": []}),
        )
        .await;
    Offices {
        admin,
        paris,
        lyon,
        both,
        booker,
    }
}

async fn search(app: &TestApp, token: &str, variables: Value) -> Gql {
    app.gql(Some(token), SEARCH, variables).await
}

/// The names found, in order.
fn names(r: &Gql) -> Vec<String> {
    r.ok()["availableRooms"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|room| room["name"].as_str().expect("name").to_owned())
        .collect()
}

fn ids_by_name(r: &Gql) -> std::collections::HashMap<String, String> {
    r.ok()["availableRooms"]
        .as_array()
        .expect("a list")
        .iter()
        .map(|room| {
            (
                room["name"].as_str().expect("name").to_owned(),
                room["id"].as_str().expect("id").to_owned(),
            )
        })
        .collect()
}

fn window(site: &str, start: DateTime<Utc>, end: DateTime<Utc>) -> Value {
    json!({"site": site, "start": iso(start), "end": iso(end)})
}

/// Capacity, equipment and the policy: smallest adequate room first, then by name; rooms not
/// bookable, whose maximum duration is shorter, or whose horizon ends before the start, never.
pub async fn capacity_equipment_and_policy_choose_the_rooms(app: &TestApp) {
    let o = offices(app, "Finders").await;
    let (start, end) = (at(3, 9), at(3, 10));
    let all = search(app, &o.booker, window(&o.paris, start, end)).await;
    assert_eq!(names(&all), ["Huddle", "Atelier", "Bastille", "Board"]);
    let room = &all.ok()["availableRooms"][0];
    assert_eq!(room["capacity"], json!(4));
    assert_eq!(room["equipment"], json!(["Screen"]));

    let mut v = window(&o.paris, start, end);
    v["min"] = json!(5);
    assert_eq!(
        names(&search(app, &o.booker, v.clone()).await),
        ["Atelier", "Bastille", "Board"]
    );
    v["min"] = json!(9);
    assert_eq!(names(&search(app, &o.booker, v.clone()).await), ["Board"]);
    v["min"] = json!(13);
    assert!(names(&search(app, &o.booker, v.clone()).await).is_empty());
    v["min"] = json!(0);
    v["eq"] = json!(["screen"]);
    assert_eq!(
        names(&search(app, &o.booker, v.clone()).await),
        ["Huddle", "Board"]
    );
    v["eq"] = json!(["Screen", "video"]);
    assert_eq!(names(&search(app, &o.booker, v.clone()).await), ["Board"]);
    v["eq"] = json!(["Projector"]);
    assert!(names(&search(app, &o.booker, v).await).is_empty());

    // Half an hour: "Quick" (at most 30 minutes) fits, smallest first.
    let half = search(
        app,
        &o.booker,
        window(&o.paris, at(3, 9), at(3, 9) + Duration::minutes(30)),
    )
    .await;
    assert_eq!(
        names(&half),
        ["Quick", "Huddle", "Atelier", "Bastille", "Board"]
    );
    // Twelve hours ahead, on the hour: "Soon" (one day ahead) opens too; in three days it was
    // beyond its horizon.
    let soon = Utc::now()
        .date_naive()
        .and_hms_opt(Utc::now().hour(), 0, 0)
        .expect("an hour")
        .and_utc()
        + Duration::hours(12);
    let tomorrow = search(
        app,
        &o.booker,
        window(&o.paris, soon, soon + Duration::hours(1)),
    )
    .await;
    assert_eq!(
        names(&tomorrow),
        ["Soon", "Huddle", "Atelier", "Bastille", "Board"]
    );
    // Off the room's 15-minute slots: nothing is bookable.
    let off_slot = search(
        app,
        &o.booker,
        window(&o.paris, at(3, 9) + Duration::minutes(5), at(3, 10)),
    )
    .await;
    assert!(names(&off_slot).is_empty());
}

/// A confirmed booking overlapping the interval takes its room out; one ending at the start or
/// starting at the end does not; cancelling frees the room again.
pub async fn existing_bookings_overlap_or_not(app: &TestApp) {
    let o = offices(app, "Occupied").await;
    let (start, end) = (at(4, 9), at(4, 10));
    let ids = ids_by_name(&search(app, &o.booker, window(&o.paris, start, end)).await);
    let admin = o.admin.as_str();
    let book = |room: &str, from: DateTime<Utc>, to: DateTime<Utc>| {
        let room = ids[room].clone();
        async move {
            let r = app
                .gql(
                    Some(admin),
                    BOOK,
                    json!({"i": {"roomId": room, "start": iso(from), "end": iso(to)}}),
                )
                .await;
            r.ok()["createBooking"]["booking"]["id"]
                .as_str()
                .expect("booking id")
                .to_owned()
        }
    };
    // Huddle overlaps by a quarter of an hour; Atelier and Bastille touch either end; Board is
    // booked the day before.
    let huddle = book("Huddle", at(4, 8), start + Duration::minutes(15)).await;
    book("Atelier", at(4, 8), start).await;
    book("Bastille", end, at(4, 11)).await;
    book("Board", at(3, 9), at(3, 10)).await;
    assert_eq!(
        names(&search(app, &o.booker, window(&o.paris, start, end)).await),
        ["Atelier", "Bastille", "Board"]
    );
    // A wider window overlaps all three of those bookings.
    assert_eq!(
        names(&search(app, &o.booker, window(&o.paris, at(4, 7), at(4, 12))).await),
        ["Board"]
    );
    let r = app.gql(Some(&o.admin), CANCEL, json!({"id": huddle})).await;
    assert_eq!(r.ok()["cancelBooking"]["booking"]["status"], "CANCELLED");
    assert_eq!(
        names(&search(app, &o.booker, window(&o.paris, start, end)).await),
        ["Huddle", "Atelier", "Bastille", "Board"]
    );
    // What was found can be booked, by the person who searched.
    let r = app
        .gql(
            Some(&o.booker),
            BOOK,
            json!({"i": {"roomId": ids["Huddle"], "start": iso(start), "end": iso(end)}}),
        )
        .await;
    r.ok();
}

/// A site group answers for its sites the person may use: the booker (Paris only) never sees
/// Lyon's rooms, the administrator (every site) sees both; Lyon itself is NOT_FOUND to the
/// booker; another tenant's site or group is NOT_FOUND; without `bookings` it is FORBIDDEN.
pub async fn site_access_groups_and_tenancy(app: &TestApp) {
    let o = offices(app, "Scoped").await;
    let (start, end) = (at(5, 9), at(5, 10));
    let by_group = json!({"group": o.both, "start": iso(start), "end": iso(end)});
    assert_eq!(
        names(&search(app, &o.booker, by_group.clone()).await),
        ["Huddle", "Atelier", "Bastille", "Board"]
    );
    assert_eq!(
        names(&search(app, &o.admin, by_group.clone()).await),
        ["Huddle", "Loft", "Atelier", "Bastille", "Board"]
    );
    assert_eq!(
        names(&search(app, &o.admin, window(&o.lyon, start, end)).await),
        ["Loft"]
    );
    search(app, &o.booker, window(&o.lyon, start, end))
        .await
        .assert_error("NOT_FOUND", None);

    let other = offices(app, "Elsewhere").await;
    search(app, &other.admin, window(&o.paris, start, end))
        .await
        .assert_error("NOT_FOUND", None);
    search(app, &other.admin, by_group)
        .await
        .assert_error("NOT_FOUND", None);
    let unknown = json!({"site": "not-an-id", "start": iso(start), "end": iso(end)});
    search(app, &o.booker, unknown)
        .await
        .assert_error("NOT_FOUND", None);

    let (_, company) = app.company("Readers").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Paris")
        .await;
    let (_, reader) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"rooms": "READ", "sites": "READ"}),
            json!({"siteIds": [site]}),
        )
        .await;
    search(app, &reader, window(&site, start, end))
        .await
        .assert_error("FORBIDDEN", None);
}

/// Bad input is VALIDATION on its field.
pub async fn bad_input_names_its_field(app: &TestApp) {
    let o = offices(app, "Careless").await;
    let (start, end) = (at(5, 9), at(5, 10));
    let cases = [
        (window(&o.paris, end, start), "end"),
        (window(&o.paris, start, start), "end"),
        (
            json!({"site": o.paris, "group": o.both, "start": iso(start), "end": iso(end)}),
            "siteGroupId",
        ),
        (json!({"start": iso(start), "end": iso(end)}), "siteId"),
        (
            json!({"site": o.paris, "start": iso(start), "end": iso(end), "min": -1}),
            "minCapacity",
        ),
        (
            json!({"site": o.paris, "start": iso(start), "end": iso(end), "eq": [" "]}),
            "equipment",
        ),
    ];
    for (variables, field) in cases {
        search(app, &o.booker, variables.clone())
            .await
            .assert_error("VALIDATION", Some(field));
    }
}

tokio::task_local! {
    /// The statements counted for the task in scope, with their SQL.
    static STATEMENTS: Arc<std::sync::Mutex<Vec<String>>>;
}

/// Counts every statement a connection starts, for the task in [`STATEMENTS`]' scope only
/// (other tests of this process share the default instrumentation and are not counted).
struct CountStatements;

impl diesel::connection::Instrumentation for CountStatements {
    fn on_connection_event(&mut self, event: diesel::connection::InstrumentationEvent<'_>) {
        if let diesel::connection::InstrumentationEvent::StartQuery { query, .. } = event {
            // Formatted only in scope: the other tests of the process pay nothing.
            let _ = STATEMENTS.try_with(|seen| {
                seen.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(query.to_string())
            });
        }
    }
}

fn count_statements() -> Option<Box<dyn diesel::connection::Instrumentation>> {
    Some(Box::new(CountStatements))
}

static INSTRUMENTED: AtomicUsize = AtomicUsize::new(0);

/// The SQL of the statements `request` sends.
async fn statements_of<F: std::future::Future<Output = Gql>>(request: F) -> (Gql, Vec<String>) {
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let r = STATEMENTS.scope(Arc::clone(&seen), request).await;
    let sql = seen
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    (r, sql)
}

/// On PostgreSQL: beyond what authentication costs (as much as `{ me { id } }`), a search costs
/// two statements, the same with 3 rooms and with 60 rooms, 30 of them booked: the site with its
/// rooms (`sites LEFT JOIN rooms … = ANY($1)`) and the busy ones among the candidates
/// (`bookings … room_id = ANY($1)`). A site group adds the read of the group (its row with its
/// members: one statement, as every read of a group).
#[tokio::test]
async fn postgres_a_search_costs_two_statements_whatever_the_number_of_rooms() {
    if INSTRUMENTED.fetch_add(1, Ordering::SeqCst) == 0 {
        diesel::connection::set_default_instrumentation(count_statements)
            .expect("default instrumentation");
    }
    let database = concierge_tests::postgres::fresh_database().await;
    // A store of its own, whose connections are opened with the counting instrumentation.
    let store = concierge_storage_postgres::PgStore::connect(database.url(), 4)
        .await
        .expect("store");
    let app = TestApp::on_storage(Arc::new(store)).await;
    let (_, company) = app.company("Counted").await;
    let admin = company.admin_token.clone();
    let small = app.create_site(&admin, &company.id, "Small").await;
    let large = app.create_site(&admin, &company.id, "Large").await;
    let group = app
        .create_site_group(&admin, &company.id, "Both", &[&small, &large])
        .await;
    for i in 0..3 {
        let fields = json!({"name": format!("S{i}"), "capacity": 4});
        room(&app, &admin, &small, fields).await;
    }
    let (start, end) = (at(6, 9), at(6, 10));
    for i in 0..60 {
        let fields = json!({"name": format!("L{i:02}"), "capacity": 4});
        let id = room(&app, &admin, &large, fields).await;
        if i % 2 == 0 {
            let input = json!({"i": {"roomId": id, "start": iso(start), "end": iso(end)}});
            app.gql(Some(&admin), BOOK, input).await.ok();
        }
    }
    let (_, auth) = statements_of(app.gql(Some(&admin), "{ me { id } }", json!({}))).await;
    let by_group = json!({"group": group, "start": iso(start), "end": iso(end)});
    for (variables, found, scope_reads) in [
        (window(&small, start, end), 3, 0),
        (window(&large, start, end), 30, 0),
        (by_group, 33, 1),
    ] {
        let (r, sql) = statements_of(search(&app, &admin, variables)).await;
        assert_eq!(names(&r).len(), found);
        let rooms: Vec<&String> = sql.iter().filter(|s| s.contains("\"rooms\"")).collect();
        let busy: Vec<&String> = sql.iter().filter(|s| s.contains("\"bookings\"")).collect();
        assert_eq!(rooms.len(), 1, "{sql:#?}");
        assert_eq!(busy.len(), 1, "{sql:#?}");
        assert!(rooms[0].contains("LEFT OUTER JOIN"), "{}", rooms[0]);
        assert!(rooms[0].contains("= ANY("), "{}", rooms[0]);
        assert!(busy[0].contains("= ANY("), "{}", busy[0]);
        assert_eq!(
            sql.len(),
            auth.len() + 2 + scope_reads,
            "beyond authentication ({auth:#?}): {sql:#?}"
        );
    }
}
