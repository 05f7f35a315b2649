//! Organizations: the platform creates partners, partners create client companies, each with a
//! first administrator holding the Enterprise profile; who sees which organization; updates.

use concierge_tests::{Gql, TestApp};
use serde_json::{Value, json};

use crate::support::{UNKNOWN_ID, node_ids, text};

const CREATE: &str = "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
    organization { id kind name parent { id } adminEmail externalContact defaultLanguage timeZone
        defaultProfile { name builtIn } }
    administrator { id email status language mustChangePassword organization { id }
        profile { name builtIn isDefault permissions { users clients billing modules } } }
    credentials { login temporaryPassword bookingCode } } }";

const READ: &str = "query($id: ID!) { organization(id: $id) {
    id kind name parent { id } adminEmail externalContact defaultLanguage timeZone } }";

const LIST: &str = "query($f: OrganizationFilter, $first: Int, $after: String) {
    organizations(filter: $f, first: $first, after: $after) {
        totalCount edges { cursor node { id name kind } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const UPDATE: &str = "mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) {
    organization { id name adminEmail externalContact defaultLanguage timeZone } } }";

fn new_org(kind: &str, name: &str, parent: Option<&str>, admin_email: &str) -> Value {
    json!({"kind": kind, "name": name, "parentId": parent,
        "administrator": {"firstName": "First", "lastName": "Admin", "email": admin_email}})
}

async fn create(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(Some(token), CREATE, json!({"i": input})).await
}

async fn list(app: &TestApp, token: &str, filter: Value) -> Value {
    app.gql(Some(token), LIST, json!({"f": filter})).await.ok()["organizations"].clone()
}

async fn total(app: &TestApp, token: &str) -> i64 {
    list(app, token, json!({})).await["totalCount"]
        .as_i64()
        .expect("totalCount")
}

async fn read(app: &TestApp, token: &str, id: &str) -> Value {
    app.gql(Some(token), READ, json!({"id": id})).await.ok()["organization"].clone()
}

async fn own_org_id(app: &TestApp, token: &str) -> String {
    let r = app
        .gql(Some(token), "{ me { organization { id } } }", json!({}))
        .await;
    text(&r.ok()["me"]["organization"]["id"])
}

#[tokio::test]
async fn the_platform_creates_a_partner_and_its_first_administrator() {
    let app = TestApp::spawn().await;
    let operator = app.operator_token.clone();
    let platform = own_org_id(&app, &operator).await;
    let mut input = new_org("PARTNER", "Acme Resellers", None, "Boss@Acme.test");
    input["timeZone"] = json!("America/Montreal");
    input["defaultLanguage"] = json!("FR");
    input["adminEmail"] = json!("Billing@Acme.test");
    input["externalContact"] = json!("Jane at Acme");
    let r = create(&app, &operator, input).await;
    let payload = r.ok()["createOrganization"].clone();

    let org = &payload["organization"];
    assert_eq!(org["kind"], json!("PARTNER"));
    assert_eq!(org["name"], json!("Acme Resellers"));
    assert_eq!(org["parent"]["id"], json!(platform));
    assert_eq!(org["adminEmail"], json!("billing@acme.test"));
    assert_eq!(org["externalContact"], json!("Jane at Acme"));
    assert_eq!(org["defaultLanguage"], json!("FR"));
    assert_eq!(org["timeZone"], json!("America/Montreal"));
    assert_eq!(
        org["defaultProfile"],
        json!({"name": "Enterprise", "builtIn": true})
    );

    let admin = &payload["administrator"];
    assert_eq!(admin["email"], json!("boss@acme.test"));
    assert_eq!(admin["status"], json!("ACTIVE"));
    assert_eq!(
        admin["language"],
        json!("FR"),
        "the organization's language"
    );
    assert_eq!(admin["mustChangePassword"], json!(true));
    assert_eq!(admin["organization"]["id"], org["id"]);
    let profile = &admin["profile"];
    assert_eq!(profile["name"], json!("Enterprise"));
    assert_eq!(profile["builtIn"], json!(true));
    assert_eq!(profile["isDefault"], json!(true));
    assert_eq!(profile["permissions"]["clients"], json!("MANAGE"));
    assert_eq!(profile["permissions"]["billing"], json!("EDIT"));
    assert!(
        profile["permissions"]["modules"]
            .as_array()
            .expect("modules")
            .contains(&json!("partner"))
    );

    let credentials = &payload["credentials"];
    assert_eq!(credentials["login"], json!("boss@acme.test"));
    let password = text(&credentials["temporaryPassword"]);
    assert!(!password.is_empty());
    let code = text(&credentials["bookingCode"]);
    assert!(!code.is_empty() && code.chars().all(|c| c.is_ascii_digit()));

    // Persisted: the operator reads it back and lists it among the partners.
    let id = text(&org["id"]);
    let stored = read(&app, &operator, &id).await;
    assert_eq!(stored["name"], json!("Acme Resellers"));
    assert_eq!(stored["timeZone"], json!("America/Montreal"));
    assert_eq!(stored["adminEmail"], json!("billing@acme.test"));
    let partners = list(&app, &operator, json!({"kind": "PARTNER"})).await;
    assert_eq!(node_ids(&partners), vec![id.clone()]);

    // The administrator signs in with the credentials shown once, inside the new partner.
    let admin_token = app.login("BOSS@acme.test", &password).await;
    assert_eq!(own_org_id(&app, &admin_token).await, id);

    let events = app
        .audit_events(&operator, "organization.created")
        .await
        .into_iter()
        .filter(|e| e["targetId"] == json!(id))
        .collect::<Vec<_>>();
    assert_eq!(events.len(), 1, "one organization.created event");
    assert_eq!(events[0]["targetType"], json!("Organization"));
    assert!(events[0]["actor"]["id"].is_string(), "the operator acted");
}

#[tokio::test]
async fn a_partner_creates_a_client_company_whose_administrator_holds_the_company_enterprise_profile()
 {
    let app = TestApp::spawn().await;
    let mut input = new_org("PARTNER", "Parent Co", None, "admin@parent-co.test");
    input["adminEmail"] = json!("office@parent-co.test");
    input["timeZone"] = json!("Asia/Tokyo");
    let operator = app.operator_token.clone();
    let r = create(&app, &operator, input).await;
    let partner_id = text(&r.ok()["createOrganization"]["organization"]["id"]);
    let password = text(&r.ok()["createOrganization"]["credentials"]["temporaryPassword"]);
    let partner_token = app.first_sign_in("admin@parent-co.test", &password).await;

    // No time zone, language or admin e-mail given: the partner's are inherited.
    let r = create(
        &app,
        &partner_token,
        new_org(
            "COMPANY",
            "Client Co",
            Some(&partner_id),
            "admin@client-co.test",
        ),
    )
    .await;
    let payload = r.ok()["createOrganization"].clone();
    let company = &payload["organization"];
    assert_eq!(company["kind"], json!("COMPANY"));
    assert_eq!(company["parent"]["id"], json!(partner_id));
    assert_eq!(company["timeZone"], json!("Asia/Tokyo"));
    assert_eq!(company["adminEmail"], json!("office@parent-co.test"));
    let permissions = &payload["administrator"]["profile"]["permissions"];
    assert_eq!(permissions["users"], json!("MANAGE"));
    assert_eq!(permissions["billing"], json!("READ"));
    assert_eq!(permissions["clients"], json!("NONE"));
    let modules = permissions["modules"].as_array().expect("modules");
    assert!(!modules.contains(&json!("partner")));
    assert!(modules.contains(&json!("rooms")) && modules.contains(&json!("directory")));

    // The partner lists it among its clients; its administrator signs in inside it.
    let company_id = text(&company["id"]);
    let clients = list(&app, &partner_token, json!({"kind": "COMPANY"})).await;
    assert_eq!(node_ids(&clients), vec![company_id.clone()]);
    let password = text(&payload["credentials"]["temporaryPassword"]);
    let admin_token = app.login("admin@client-co.test", &password).await;
    assert_eq!(own_org_id(&app, &admin_token).await, company_id);
}

#[tokio::test]
async fn company_administrators_cannot_create_organizations() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Lonely").await;
    let operator = app.operator_token.clone();
    let before = (
        total(&app, &operator).await,
        total(&app, &partner.admin_token).await,
    );
    for (kind, parent) in [
        ("PARTNER", None),
        ("COMPANY", None),
        ("COMPANY", Some(company.id.as_str())),
    ] {
        let input = new_org(kind, "Rogue", parent, "rogue@rogue.test");
        create(&app, &company.admin_token, input)
            .await
            .assert_error("FORBIDDEN", None);
    }
    let after = (
        total(&app, &operator).await,
        total(&app, &partner.admin_token).await,
    );
    assert_eq!(before, after, "nothing was created");
}

#[tokio::test]
async fn partner_staff_reading_clients_cannot_create_a_company() {
    let app = TestApp::spawn().await;
    let partner = app.create_partner("Careful Partner").await;
    let (_, reader) = app
        .member(
            &partner.admin_token,
            &partner.id,
            json!({"clients": "READ", "users": "READ"}),
            json!({}),
        )
        .await;
    let input = new_org("COMPANY", "Nope", Some(&partner.id), "nope@nope.test");
    create(&app, &reader, input)
        .await
        .assert_error("FORBIDDEN", None);
    assert_eq!(total(&app, &partner.admin_token).await, 1);
}

#[tokio::test]
async fn bad_organization_inputs_name_their_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    let partner = app.create_partner("Strict Partner").await;
    let other = app.create_partner("Other Partner").await;
    let token = partner.admin_token.clone();
    let valid = || new_org("COMPANY", "Fine Co", Some(&partner.id), "admin@fine.test");
    let cases: Vec<(&str, &str, Value)> = vec![
        ("VALIDATION", "name", json!({"name": "   "})),
        ("VALIDATION", "name", json!({"name": "x".repeat(201)})),
        (
            "VALIDATION",
            "timeZone",
            json!({"timeZone": "Mars/Olympus"}),
        ),
        (
            "VALIDATION",
            "adminEmail",
            json!({"adminEmail": "not-an-email"}),
        ),
        (
            "VALIDATION",
            "administrator.email",
            json!({"administrator": {"firstName": "A", "lastName": "B", "email": "a@b"}}),
        ),
        (
            "VALIDATION",
            "administrator.firstName",
            json!({"administrator": {"firstName": " ", "lastName": "B", "email": "ab@fine.test"}}),
        ),
        (
            "CONFLICT",
            "administrator.email",
            json!({"administrator": {"firstName": "A", "lastName": "B", "email": other.admin_email.to_uppercase()}}),
        ),
    ];
    for (code, field, overrides) in cases {
        let mut input = valid();
        for (key, value) in overrides.as_object().expect("overrides") {
            input[key] = value.clone();
        }
        create(&app, &token, input)
            .await
            .assert_error(code, Some(field));
    }
    // Another partner as parent is not in reach: it does not exist for this caller.
    let mut input = valid();
    input["parentId"] = json!(other.id);
    create(&app, &token, input)
        .await
        .assert_error("NOT_FOUND", None);

    assert_eq!(total(&app, &token).await, 1, "only the partner itself");
    // The valid input still works: nothing half-created blocks it.
    create(&app, &token, valid()).await.ok();
    assert_eq!(total(&app, &token).await, 2);
}

#[tokio::test]
async fn organizations_filter_by_kind_parent_and_search_and_page_with_cursors() {
    let app = TestApp::spawn().await;
    let operator = app.operator_token.clone();
    let platform = own_org_id(&app, &operator).await;
    let alpha = app.create_partner("Alpha Resellers").await;
    app.create_partner("Beta Resellers").await;
    app.create_partner("Gamma Distribution").await;
    app.create_company(&alpha, "Alpha Client").await;

    // The platform sees itself and its partners, never a partner's clients.
    let all = list(&app, &operator, json!({})).await;
    assert_eq!(all["totalCount"], json!(4));
    assert_eq!(
        list(&app, &operator, json!({"kind": "PARTNER"})).await["totalCount"],
        json!(3)
    );
    assert_eq!(
        list(&app, &operator, json!({"parentId": platform})).await["totalCount"],
        json!(3)
    );
    let found = list(&app, &operator, json!({"search": "reSELL"})).await;
    let names: Vec<Value> = found["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"]["name"].clone())
        .collect();
    assert_eq!(
        names,
        vec![json!("Alpha Resellers"), json!("Beta Resellers")]
    );

    // Two pages of two.
    let page = |after: Option<String>| {
        app.gql(
            Some(&operator),
            LIST,
            json!({"f": {}, "first": 2, "after": after}),
        )
    };
    let first = page(None).await.ok()["organizations"].clone();
    assert_eq!(node_ids(&first).len(), 2);
    assert_eq!(first["totalCount"], json!(4));
    assert_eq!(first["pageInfo"]["hasNextPage"], json!(true));
    assert_eq!(first["pageInfo"]["hasPreviousPage"], json!(false));
    let second =
        page(Some(text(&first["pageInfo"]["endCursor"]))).await.ok()["organizations"].clone();
    assert_eq!(second["pageInfo"]["hasNextPage"], json!(false));
    assert_eq!(second["pageInfo"]["hasPreviousPage"], json!(true));
    let mut paged = node_ids(&first);
    paged.extend(node_ids(&second));
    assert_eq!(paged, node_ids(&all), "the pages hold every row once");
}

#[tokio::test]
async fn a_partner_sees_its_clients_and_never_another_partners() {
    let app = TestApp::spawn().await;
    let p1 = app.create_partner("First Partner").await;
    let p2 = app.create_partner("Second Partner").await;
    let c1 = app.create_company(&p1, "First Client").await;
    let c2 = app.create_company(&p2, "Second Client").await;

    let mine = list(&app, &p1.admin_token, json!({})).await;
    let mut seen = node_ids(&mine);
    seen.sort();
    let mut expected = vec![p1.id.clone(), c1.id.clone()];
    expected.sort();
    assert_eq!(seen, expected);
    for filter in [
        json!({"parentId": p2.id}),
        json!({"search": "Second"}),
        json!({"kind": "PARTNER"}),
    ] {
        let found = node_ids(&list(&app, &p1.admin_token, filter.clone()).await);
        assert!(
            !found.contains(&c2.id) && !found.contains(&p2.id),
            "{filter} showed {found:?}"
        );
    }
    for id in [&c2.id, &p2.id] {
        let r = app
            .gql(Some(&p1.admin_token), READ, json!({"id": id}))
            .await;
        r.assert_error("NOT_FOUND", None);
        assert_eq!(r.data["organization"], Value::Null);
    }
    // The partner reads its own client.
    assert_eq!(
        read(&app, &p1.admin_token, &c1.id).await["name"],
        json!("First Client")
    );
}

#[tokio::test]
async fn a_company_lists_only_itself() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Solo").await;
    app.company("Neighbour").await;
    let mine = list(&app, &company.admin_token, json!({})).await;
    assert_eq!(node_ids(&mine), vec![company.id.clone()]);
    assert_eq!(mine["totalCount"], json!(1));
}

async fn update(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(Some(token), UPDATE, json!({"i": input})).await
}

#[tokio::test]
async fn administrators_update_their_organization_and_partners_their_clients() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Renamed").await;
    let r = update(
        &app,
        &company.admin_token,
        json!({"id": company.id, "name": "Renamed Again", "timeZone": "America/New_York",
            "defaultLanguage": "FR", "externalContact": "Sam", "adminEmail": "Office@Renamed.test"}),
    )
    .await;
    let expected = json!({"id": company.id, "name": "Renamed Again", "timeZone": "America/New_York",
        "defaultLanguage": "FR", "externalContact": "Sam", "adminEmail": "office@renamed.test"});
    assert_eq!(r.ok()["updateOrganization"]["organization"], expected);
    let stored = read(&app, &company.admin_token, &company.id).await;
    for field in [
        "name",
        "timeZone",
        "defaultLanguage",
        "externalContact",
        "adminEmail",
    ] {
        assert_eq!(stored[field], expected[field], "{field}");
    }
    let events = app
        .audit_events(&company.admin_token, "organization.updated")
        .await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
    assert_eq!(events[0]["targetId"], json!(company.id));

    // The partner manages its client too.
    update(
        &app,
        &partner.admin_token,
        json!({"id": company.id, "name": "By The Partner"}),
    )
    .await
    .ok();
    assert_eq!(
        read(&app, &company.admin_token, &company.id).await["name"],
        json!("By The Partner")
    );
}

#[tokio::test]
async fn bad_organization_updates_name_their_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Steady").await;
    let token = company.admin_token.clone();
    let before = read(&app, &token, &company.id).await;
    for (field, value) in [
        ("name", json!("")),
        ("timeZone", json!("Nowhere/City")),
        ("adminEmail", json!("nope")),
        ("externalContact", json!("x".repeat(201))),
    ] {
        // A valid change alongside the bad one must not slip through either.
        let mut input = json!({"id": company.id, "defaultLanguage": "FR"});
        input[field] = value;
        update(&app, &token, input)
            .await
            .assert_error("VALIDATION", Some(field));
    }
    assert_eq!(read(&app, &token, &company.id).await, before);
}

#[tokio::test]
async fn updating_an_organization_needs_the_right_to_manage_it() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Guarded").await;
    let (_, reader) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"users": "READ"}),
            json!({}),
        )
        .await;
    let (_, partner_reader) = app
        .member(
            &partner.admin_token,
            &partner.id,
            json!({"clients": "READ", "users": "READ"}),
            json!({}),
        )
        .await;
    let price_list = app
        .create_price_list(&partner.admin_token, &partner.id, "Standard", true)
        .await;
    let before = read(&app, &company.admin_token, &company.id).await;
    for (token, input) in [
        (&reader, json!({"id": company.id, "name": "Hijacked"})),
        (
            &partner_reader,
            json!({"id": company.id, "name": "Hijacked"}),
        ),
        // The company administrator holds billing: READ only.
        (
            &company.admin_token,
            json!({"id": company.id, "priceListId": price_list}),
        ),
    ] {
        update(&app, token, input)
            .await
            .assert_error("FORBIDDEN", None);
    }
    assert_eq!(read(&app, &company.admin_token, &company.id).await, before);
}

#[tokio::test]
async fn an_unknown_organization_is_not_found() {
    let app = TestApp::spawn().await;
    let r = app
        .gql(Some(&app.operator_token), READ, json!({"id": UNKNOWN_ID}))
        .await;
    r.assert_error("NOT_FOUND", None);
    assert_eq!(r.data["organization"], Value::Null);
}
