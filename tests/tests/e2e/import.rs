//! Bulk import (`importUsers`) on both backends: a 1,000-row dry run reports exactly the rows
//! and fields at fault and changes nothing; a real run creates everyone (readable through
//! `users`, signing in with their credentials, e-mails queued, audited); a real run with one bad
//! row creates and queues nothing; no escalation (permission, profile, sites of another tenant);
//! more than 1,000 rows is refused.
//!
//! Each scenario is written once against a [`TestApp`] and stamped out twice, as in the
//! PostgreSQL suite: `import::postgres::<case>` on a fresh migrated database of its own, and
//! `import::memory::<case>` on the memory backend. One more case counts the statements of an
//! import on PostgreSQL.

use std::collections::BTreeSet;

use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};

use crate::support::{MALFORMED_ID, UNKNOWN_ID, text};

const IMPORT: &str = "mutation($i: ImportUsersInput!) { importUsers(input: $i) {
    dryRun problems { row field code message }
    imported { row user { id login effectiveSites { id } } credentials { login temporaryPassword bookingCode } } } }";

/// A scenario that hangs fails instead.
const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(240);

concierge_tests::scenarios_on_both_backends!(
    a_dry_run_of_a_thousand_rows_reports_exactly_the_rows_at_fault,
    a_real_run_creates_everyone_and_queues_their_credentials,
    one_bad_row_creates_nothing_and_queues_nothing,
    nobody_imports_more_than_they_could_create,
    more_than_a_thousand_rows_are_refused,
);

/// A profile for people who only book rooms: no e-mail needed (users NONE).
async fn booker_profile(app: &TestApp, org: &Org) -> String {
    app.create_profile(
        &org.admin_token,
        &org.id,
        "Booker",
        json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
    )
    .await
}

async fn import(app: &TestApp, token: &str, org: &str, rows: &[Value], dry_run: bool) -> Gql {
    app.gql(
        Some(token),
        IMPORT,
        json!({"i": {"organizationId": org, "rows": rows, "dryRun": dry_run}}),
    )
    .await
}

/// `count` good rows: people of `domain` with an e-mail, granted `site`.
fn good_rows(count: usize, domain: &str, site: &str) -> Vec<Value> {
    (1..=count)
        .map(|n| {
            json!({"firstName": "Person", "lastName": format!("Number {n}"),
                "email": format!("person.{n}@{domain}"), "siteIds": [site], "language": "FR"})
        })
        .collect()
}

/// The (row, field, code) of each problem of a dry run's answer.
fn problems(answer: &Value) -> BTreeSet<(u64, String, String)> {
    answer["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .map(|p| {
            (
                p["row"].as_u64().expect("row"),
                text(&p["field"]),
                text(&p["code"]),
            )
        })
        .collect()
}

fn expected(list: &[(u64, &str, &str)]) -> BTreeSet<(u64, String, String)> {
    list.iter()
        .map(|(row, field, code)| (*row, (*field).to_owned(), (*code).to_owned()))
        .collect()
}

/// What an import must not have changed: the organization's people, the outbox, the audit log.
struct Before {
    users: i64,
    pending_mail: i64,
    imports: usize,
}

async fn before(app: &TestApp, org: &Org) -> Before {
    Before {
        users: app.user_count(&org.admin_token, &org.id).await,
        pending_mail: pending_mail(app).await,
        imports: app
            .audit_events(&org.admin_token, "users.imported")
            .await
            .len(),
    }
}

async fn pending_mail(app: &TestApp) -> i64 {
    app.state
        .domain
        .store
        .pending_email_count()
        .await
        .expect("outbox backlog")
}

async fn assert_unchanged(app: &TestApp, org: &Org, was: &Before) {
    assert_eq!(
        app.user_count(&org.admin_token, &org.id).await,
        was.users,
        "nobody was to be created"
    );
    assert_eq!(
        pending_mail(app).await,
        was.pending_mail,
        "no mail was to be queued"
    );
    assert_eq!(
        app.audit_events(&org.admin_token, "users.imported")
            .await
            .len(),
        was.imports
    );
}

pub async fn a_dry_run_of_a_thousand_rows_reports_exactly_the_rows_at_fault(app: &TestApp) {
    let (partner, company) = app.company("Dry Importers").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Dry HQ")
        .await;
    let elsewhere = app.create_company(&partner, "Other Tenant").await;
    let foreign_site = app
        .create_site(&elsewhere.admin_token, &elsewhere.id, "Not Yours")
        .await;
    let booker = booker_profile(app, &company).await;
    let mut rows = good_rows(1000, "dry.test", &site);
    rows[6]["email"] = json!("not-an-e-mail");
    rows[99]["firstName"] = json!("   ");
    rows[249]["email"] = json!("PERSON.3@dry.test"); // row 3's, whatever the case
    rows[499]["email"] = json!(company.admin_email); // already someone's login
    rows[639]["siteIds"] = json!([UNKNOWN_ID]);
    rows[640]["siteIds"] = json!([foreign_site]);
    rows[700]["email"] = Value::Null; // neither e-mail nor username
    rows[700]["profileId"] = json!(booker);
    rows[799]["email"] = Value::Null; // a username, but credentials go to the person
    rows[799]["username"] = json!("no.mail.800");
    rows[799]["profileId"] = json!(booker);
    rows[849]["email"] = Value::Null; // a username for a profile that may add people
    rows[849]["username"] = json!("no.mail.850");
    rows[849]["sendCredentialsTo"] = json!("NONE");
    rows[899]["profileId"] = json!(MALFORMED_ID);
    rows[998]["lastName"] = json!("");
    rows[998]["photoUrl"] = json!("not a url");
    rows[999]["defaultSiteId"] = json!(foreign_site);
    let was = before(app, &company).await;

    let r = import(app, &company.admin_token, &company.id, &rows, true).await;
    let answer = &r.ok()["importUsers"];
    assert_eq!(answer["dryRun"], json!(true));
    assert_eq!(answer["imported"], json!([]));
    assert_eq!(
        problems(answer),
        expected(&[
            (7, "email", "VALIDATION"),
            (100, "firstName", "VALIDATION"),
            (250, "email", "CONFLICT"),
            (500, "email", "CONFLICT"),
            (640, "siteIds", "NOT_FOUND"),
            (641, "siteIds", "NOT_FOUND"),
            (701, "username", "VALIDATION"),
            (800, "sendCredentialsTo", "VALIDATION"),
            (850, "email", "VALIDATION"),
            (900, "profileId", "NOT_FOUND"),
            (999, "lastName", "VALIDATION"),
            (999, "photoUrl", "VALIDATION"),
            (1000, "defaultSiteId", "NOT_FOUND"),
        ]),
        "{:#}",
        answer["problems"]
    );
    let repeated = answer["problems"]
        .as_array()
        .expect("problems")
        .iter()
        .find(|p| p["row"] == json!(250))
        .expect("row 250");
    assert!(text(&repeated["message"]).contains("row 3"), "{repeated:#}");
    assert_unchanged(app, &company, &was).await;

    // The same file, mended, passes its dry run and still changes nothing.
    let mended = good_rows(1000, "dry.test", &site);
    let r = import(app, &company.admin_token, &company.id, &mended, true).await;
    assert_eq!(r.ok()["importUsers"]["problems"], json!([]));
    assert_unchanged(app, &company, &was).await;
}

pub async fn a_real_run_creates_everyone_and_queues_their_credentials(app: &TestApp) {
    let (_, company) = app.company("Real Importers").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Real HQ").await;
    let mut rows = good_rows(1000, "real.test", &site);
    // A person without e-mail signs in with a username and a PIN, handed over by hand.
    rows[9]["email"] = Value::Null;
    rows[9]["username"] = json!("badge.0010");
    rows[9]["sendCredentialsTo"] = json!("NONE");
    rows[9]["profileId"] = json!(booker_profile(app, &company).await);
    let was = before(app, &company).await;

    let r = import(app, &token, &company.id, &rows, false).await;
    let answer = &r.ok()["importUsers"];
    assert_eq!(answer["dryRun"], json!(false));
    assert_eq!(answer["problems"], json!([]));
    let imported = answer["imported"].as_array().expect("imported");
    assert_eq!(imported.len(), 1000);
    for (index, person) in imported.iter().enumerate() {
        assert_eq!(person["row"], json!(index + 1));
        assert_eq!(person["user"]["effectiveSites"], json!([{"id": site}]));
        assert!(
            person["credentials"]["bookingCode"].is_string(),
            "{person:#}"
        );
    }
    assert_eq!(imported[0]["user"]["login"], json!("person.1@real.test"));
    assert_eq!(imported[9]["credentials"]["login"], json!("badge.0010"));
    let pin = text(&imported[9]["credentials"]["temporaryPassword"]);
    assert!(pin.len() == 6 && pin.chars().all(|c| c.is_ascii_digit()));

    // Everyone is there, through `users`.
    assert_eq!(app.user_count(&token, &company.id).await, was.users + 1000);
    let r = app
        .gql(
            Some(&token),
            "query($o: ID!) { users(filter: {organizationId: $o, search: \"number 777\"}) {
                edges { node { id email mustChangePassword language } } } }",
            json!({"o": company.id}),
        )
        .await;
    let found = r.ok()["users"]["edges"].as_array().expect("edges").clone();
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(found[0]["node"]["email"], json!("person.777@real.test"));
    assert_eq!(found[0]["node"]["mustChangePassword"], json!(true));
    assert_eq!(found[0]["node"]["language"], json!("FR"));
    assert_eq!(found[0]["node"]["id"], imported[776]["user"]["id"]);

    // One credential e-mail per person with an e-mail, queued with the users.
    assert_eq!(pending_mail(app).await, was.pending_mail + 999);
    if app.memory.is_some() {
        let mails = app.mail_to("person.500@real.test");
        assert_eq!(mails.len(), 1, "{mails:#?}");
        assert_eq!(mails[0].kind, concierge_domain::EmailKind::Credentials);
        assert_eq!(
            mails[0].params.get("booking_code"),
            imported[499]["credentials"]["bookingCode"]
                .as_str()
                .map(str::to_owned)
                .as_ref()
        );
    }

    // Their credentials work: the temporary password, then a chosen one.
    let first = &imported[0]["credentials"];
    app.first_sign_in(&text(&first["login"]), &text(&first["temporaryPassword"]))
        .await;
    app.first_sign_in("badge.0010", &pin).await;

    // Audited: one import of the organization, one creation per person.
    let imports = app.audit_events(&token, "users.imported").await;
    assert_eq!(imports.len(), was.imports + 1);
    assert_eq!(imports[0]["organization"]["id"], json!(company.id));
    assert_eq!(imports[0]["actor"]["id"], json!(company.admin_id));
    let created = app
        .gql(
            Some(&token),
            "query { auditEvents(filter: {action: \"user.created\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert!(
        created.ok()["auditEvents"]["totalCount"]
            .as_i64()
            .expect("total")
            >= 1000,
        "{:#}",
        created.data
    );

    // Imported again, the same file is refused whole: every login is taken now.
    let r = import(app, &token, &company.id, &rows, true).await;
    assert_eq!(
        r.ok()["importUsers"]["problems"]
            .as_array()
            .expect("problems")
            .len(),
        1000
    );
}

pub async fn one_bad_row_creates_nothing_and_queues_nothing(app: &TestApp) {
    let (_, company) = app.company("Careful Importers").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Careful HQ").await;
    let mut rows = good_rows(200, "careful.test", &site);
    rows[199]["email"] = json!(company.admin_email);
    let was = before(app, &company).await;

    let r = import(app, &token, &company.id, &rows, false).await;
    r.assert_error("CONFLICT", Some("rows"));
    assert!(r.message().contains("row 200"), "{}", r.message());
    let listed = r.errors[0]["extensions"]["problems"].clone();
    assert_eq!(
        listed,
        json!([{"row": 200, "field": "email", "code": "CONFLICT",
            "message": "a user with this e-mail already exists"}])
    );
    assert_unchanged(app, &company, &was).await;
    let r = app
        .gql(
            Some(&token),
            "query($o: ID!) { users(filter: {organizationId: $o, search: \"careful.test\"}) { totalCount } }",
            json!({"o": company.id}),
        )
        .await;
    assert_eq!(r.ok()["users"]["totalCount"], json!(0));

    // Mended, the same rows go in.
    rows[199]["email"] = json!("person.200@careful.test");
    let r = import(app, &token, &company.id, &rows, false).await;
    assert_eq!(
        r.ok()["importUsers"]["imported"]
            .as_array()
            .expect("imported")
            .len(),
        200
    );
    assert_eq!(app.user_count(&token, &company.id).await, was.users + 200);
}

pub async fn nobody_imports_more_than_they_could_create(app: &TestApp) {
    let (partner, company) = app.company("Guarded Importers").await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "Guarded HQ").await;
    let other = app.create_company(&partner, "Someone Else").await;
    let other_site = app
        .create_site(&other.admin_token, &other.id, "Their HQ")
        .await;
    let was = before(app, &company).await;

    // Without users: MANAGE.
    let (_, reader) = app
        .member(
            &admin,
            &company.id,
            json!({"users": "READ", "modules": ["directory"]}),
            json!({}),
        )
        .await;
    let r = import(
        app,
        &reader,
        &company.id,
        &good_rows(3, "nope.test", &site),
        true,
    )
    .await;
    r.assert_error("FORBIDDEN", None);
    let r = import(
        app,
        &reader,
        &company.id,
        &good_rows(3, "nope.test", &site),
        false,
    )
    .await;
    r.assert_error("FORBIDDEN", None);

    // A manager without site access gives a profile richer than their own, and a site.
    let (_, manager) = app
        .member(
            &admin,
            &company.id,
            json!({"users": "MANAGE", "modules": ["directory"]}),
            json!({}),
        )
        .await;
    let richer = app
        .create_profile(
            &admin,
            &company.id,
            "Bookers for others",
            json!({"bookings": "OTHERS", "rooms": "READ", "modules": ["rooms"]}),
        )
        .await;
    let plain = app
        .create_profile(
            &admin,
            &company.id,
            "Nothing much",
            json!({"modules": ["directory"]}),
        )
        .await;
    let rows = vec![
        json!({"firstName": "A", "lastName": "Fine", "email": "a.fine@guarded.test", "profileId": plain}),
        json!({"firstName": "B", "lastName": "Richer", "email": "b.richer@guarded.test", "profileId": richer}),
        json!({"firstName": "C", "lastName": "Sited", "email": "c.sited@guarded.test", "profileId": plain,
            "siteIds": [site]}),
    ];
    let r = import(app, &manager, &company.id, &rows, true).await;
    assert_eq!(
        problems(&r.ok()["importUsers"]),
        expected(&[(2, "profileId", "FORBIDDEN"), (3, "siteIds", "NOT_FOUND")])
    );
    let r = import(app, &manager, &company.id, &rows, false).await;
    r.assert_error("FORBIDDEN", Some("rows"));
    // Only the row that escalates nothing goes in.
    let r = import(app, &manager, &company.id, &rows[..1], false).await;
    assert_eq!(r.ok()["importUsers"]["imported"][0]["row"], json!(1));

    // The administrator: another tenant's site is unknown, another tenant is unknown.
    let foreign = vec![json!({"firstName": "D", "lastName": "Foreign",
        "email": "d.foreign@guarded.test", "siteIds": [other_site]})];
    let r = import(app, &admin, &company.id, &foreign, false).await;
    r.assert_error("NOT_FOUND", Some("rows"));
    let r = import(app, &admin, &other.id, &foreign, true).await;
    r.assert_error("NOT_FOUND", None);

    assert_eq!(app.user_count(&admin, &company.id).await, was.users + 3);
    assert_eq!(
        app.audit_events(&admin, "users.imported").await.len(),
        was.imports + 1
    );
}

pub async fn more_than_a_thousand_rows_are_refused(app: &TestApp) {
    let (_, company) = app.company("Greedy Importers").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Greedy HQ")
        .await;
    let was = before(app, &company).await;
    for dry_run in [true, false] {
        let rows = good_rows(1001, "greedy.test", &site);
        let r = import(app, &company.admin_token, &company.id, &rows, dry_run).await;
        r.assert_error("VALIDATION", Some("rows"));
        assert!(r.message().contains("1000"), "{}", r.message());
    }
    let r = import(app, &company.admin_token, &company.id, &[], false).await;
    r.assert_error("VALIDATION", Some("rows"));
    assert_unchanged(app, &company, &was).await;
}

/// PostgreSQL only: the statements of 1,000-row imports, counted by a proxy in front of the
/// database: a handful whatever the number of rows. The file's logins are checked by one read,
/// the drawn booking codes by one more (a real run), and the transaction writes the users, their
/// grants, e-mails and audit events in a few statements.
#[tokio::test]
async fn on_postgresql_an_import_writes_in_a_handful_of_statements() {
    const PEOPLE: u64 = 1000;
    let database = concierge_tests::postgres::fresh_database().await;
    let proxy = concierge_tests::statement_counter::CountingProxy::start(database.url())
        .await
        .expect("counting proxy");
    proxy.self_check().await.expect("the proxy counts");
    let store = concierge_storage_postgres::PgStore::connect(&proxy.url, 4)
        .await
        .expect("a store through the proxy");
    let app = TestApp::on_storage(std::sync::Arc::new(store)).await;
    let (_, company) = app.company("Counted Importers").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Counted HQ")
        .await;
    let rows = good_rows(PEOPLE as usize, "counted.test", &site);
    let mut counted = Vec::new();
    for dry_run in [true, false] {
        let before = proxy.counters.snapshot();
        let r = import(&app, &company.admin_token, &company.id, &rows, dry_run).await;
        assert_eq!(r.ok()["importUsers"]["problems"], json!([]));
        counted.push((proxy.counters.snapshot() - before).statements);
    }
    let (dry, real) = (counted[0], counted[1]);
    // The caller's session, the profile and site checks, the logins; (a real run) the booking
    // codes and the transaction's few statements.
    assert!(dry <= 10, "a dry run of {PEOPLE} rows ran {dry} statements");
    assert!(
        real <= 25,
        "a real run of {PEOPLE} rows ran {real} statements"
    );
    assert_eq!(
        app.user_count(&company.admin_token, &company.id).await,
        1 + PEOPLE as i64
    );
}
