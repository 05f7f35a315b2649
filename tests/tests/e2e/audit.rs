//! The audit log: every mutation writes who did what to which object, from where; reading it
//! needs `audit: READ`; partners read their clients' events, companies only their own.

use concierge_tests::TestApp;
use serde_json::{Value, json};

use crate::support::{node_ids, text};

const EVENTS: &str = "query($f: AuditEventFilter, $first: Int, $after: String) {
    auditEvents(filter: $f, first: $first, after: $after) {
        totalCount pageInfo { hasNextPage endCursor }
        edges { node { id at action targetType targetId ip actor { id } organization { id } } } } }";

async fn events(app: &TestApp, token: &str, filter: Value) -> Vec<Value> {
    let r = app
        .gql(Some(token), EVENTS, json!({"f": filter, "first": 200}))
        .await;
    r.ok()["auditEvents"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

#[tokio::test]
async fn mutations_write_events_naming_the_actor_and_the_target() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Audited").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Site").await;
    let room = app.create_room(&token, &site, "Room").await;
    let group = app
        .create_site_group(&token, &company.id, "Group", &[&site])
        .await;
    let profile = app
        .create_profile(&token, &company.id, "Profile", json!({"users": "READ"}))
        .await;
    let user = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Au", "lastName": "Dit", "email": "au@audited.test"}),
        )
        .await;
    let user = text(&user["user"]["id"]);

    let mine = events(&app, &token, json!({"actorId": company.admin_id})).await;
    let expected = [
        ("user.created", "User", &user),
        ("profile.created", "Profile", &profile),
        ("site_group.created", "SiteGroup", &group),
        ("room.created", "Room", &room),
        ("site.created", "Site", &site),
    ];
    // Newest first.
    let recent: Vec<(String, String, String)> = mine
        .iter()
        .take(expected.len())
        .map(|e| {
            (
                text(&e["action"]),
                text(&e["targetType"]),
                text(&e["targetId"]),
            )
        })
        .collect();
    let expected_rows: Vec<(String, String, String)> = expected
        .iter()
        .map(|(a, t, id)| (a.to_string(), t.to_string(), id.to_string()))
        .collect();
    assert_eq!(recent, expected_rows);
    for event in mine.iter().take(expected.len()) {
        assert_eq!(event["actor"]["id"], json!(company.admin_id));
        assert_eq!(event["organization"]["id"], json!(company.id));
        assert_eq!(event["ip"], json!("127.0.0.1"), "from where");
    }
    // Instants, not strings: RFC 3339 text with a variable number of decimals does not sort.
    let times: Vec<chrono::DateTime<chrono::FixedOffset>> = mine
        .iter()
        .map(|e| {
            chrono::DateTime::parse_from_rfc3339(&text(&e["at"])).expect("an RFC 3339 instant")
        })
        .collect();
    let mut sorted = times.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(times, sorted, "newest first");
}

#[tokio::test]
async fn sign_ins_are_security_events() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Watchful").await;
    let token = company.admin_token.clone();
    let r = app
        .gql(
            None,
            "mutation($l: String!) { login(input: {login: $l, password: \"wrong-password-1\"}) { accessToken } }",
            json!({"l": company.admin_email}),
        )
        .await;
    r.assert_error("UNAUTHENTICATED", None);
    let failed = events(&app, &token, json!({"action": "login.failed"})).await;
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0]["targetId"], json!(company.admin_id));
    assert_eq!(failed[0]["ip"], json!("127.0.0.1"));
    let succeeded = events(&app, &token, json!({"action": "login.succeeded"})).await;
    assert!(
        succeeded
            .iter()
            .all(|e| e["actor"]["id"] == json!(company.admin_id))
    );
    assert!(!succeeded.is_empty());
}

#[tokio::test]
async fn reading_the_audit_log_needs_audit_read() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Private Log").await;
    let token = company.admin_token.clone();
    let (_, without) = app
        .member(&token, &company.id, json!({"users": "MANAGE"}), json!({}))
        .await;
    let (_, auditor) = app
        .member(&token, &company.id, json!({"audit": "READ"}), json!({}))
        .await;
    let r = app
        .gql(Some(&without), "{ auditEvents { totalCount } }", json!({}))
        .await;
    r.assert_error("FORBIDDEN", None);
    assert_eq!(r.data, Value::Null);
    let r = app
        .gql(
            Some(&without),
            "query($o: ID!) { auditEvents(filter: {organizationId: $o}) { totalCount } }",
            json!({"o": company.id}),
        )
        .await;
    r.assert_error("FORBIDDEN", None);

    let seen = events(&app, &auditor, json!({"action": "user.created"})).await;
    assert_eq!(seen.len(), 3, "the administrator and the two members");
}

#[tokio::test]
async fn audit_events_filter_and_page() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Paged Log").await;
    let token = company.admin_token.clone();
    for name in ["A", "B", "C", "D", "E"] {
        app.create_site(&token, &company.id, name).await;
    }
    let sites = events(&app, &token, json!({"action": "site.created"})).await;
    assert_eq!(sites.len(), 5);
    assert!(sites.iter().all(|e| e["action"] == json!("site.created")));
    assert!(
        events(&app, &token, json!({"action": "site.deleted"}))
            .await
            .is_empty()
    );
    let since_third = events(
        &app,
        &token,
        json!({"action": "site.created", "from": sites[2]["at"]}),
    )
    .await;
    assert!(since_third.len() >= 3 && since_third.len() <= 5);

    let page = |after: Option<Value>| {
        app.gql(
            Some(&token),
            EVENTS,
            json!({"f": {"action": "site.created"}, "first": 2, "after": after}),
        )
    };
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let r = page(after.clone()).await;
        let connection = r.ok()["auditEvents"].clone();
        assert_eq!(connection["totalCount"], json!(5));
        seen.extend(node_ids(&connection));
        if connection["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = Some(connection["pageInfo"]["endCursor"].clone());
        assert!(seen.len() < 10, "pagination does not end");
    }
    let all: Vec<String> = sites.iter().map(|e| text(&e["id"])).collect();
    assert_eq!(seen, all);
}

#[tokio::test]
async fn partners_read_their_clients_events_and_companies_only_their_own() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Layered").await;
    let list = app
        .create_price_list(&partner.admin_token, &partner.id, "Standard", true)
        .await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Client Site")
        .await;

    let partner_view = events(&app, &partner.admin_token, json!({})).await;
    let targets: Vec<Value> = partner_view.iter().map(|e| e["targetId"].clone()).collect();
    assert!(targets.contains(&json!(site)), "the client's site.created");
    assert!(targets.contains(&json!(list)));
    let only_client = events(
        &app,
        &partner.admin_token,
        json!({"organizationId": company.id}),
    )
    .await;
    assert!(
        only_client
            .iter()
            .all(|e| e["organization"]["id"] == json!(company.id))
    );

    let company_view = events(&app, &company.admin_token, json!({})).await;
    assert!(
        company_view
            .iter()
            .all(|e| e["organization"]["id"] == json!(company.id))
    );
    assert!(!company_view.iter().any(|e| e["targetId"] == json!(list)));
    app.gql(
        Some(&company.admin_token),
        EVENTS,
        json!({"f": {"organizationId": partner.id}}),
    )
    .await
    .assert_error("NOT_FOUND", None);
}
