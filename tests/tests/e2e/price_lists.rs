//! Partners' price lists: one default per partner, read by the partner's companies (billing: READ),
//! given to new companies and to users.

use concierge_tests::{Gql, TestApp};
use serde_json::{Value, json};

use crate::support::text;

const LISTS: &str = "query($o: ID) { priceLists(organizationId: $o) { id name isDefault } }";

async fn lists(app: &TestApp, token: &str, org: Option<&str>) -> Vec<Value> {
    let r = app.gql(Some(token), LISTS, json!({"o": org})).await;
    r.ok()["priceLists"].as_array().expect("lists").clone()
}

async fn create(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(
        Some(token),
        "mutation($i: CreatePriceListInput!) { createPriceList(input: $i) {
            priceList { id name isDefault organization { id } } } }",
        json!({"i": input}),
    )
    .await
}

fn defaults(lists: &[Value]) -> Vec<String> {
    lists
        .iter()
        .filter(|l| l["isDefault"] == json!(true))
        .map(|l| text(&l["name"]))
        .collect()
}

#[tokio::test]
async fn partners_create_price_lists_with_exactly_one_default() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Priced").await;
    let token = partner.admin_token.clone();
    let r = create(
        &app,
        &token,
        json!({"organizationId": partner.id, "name": "Standard"}),
    )
    .await;
    let standard = r.ok()["createPriceList"]["priceList"].clone();
    assert_eq!(standard["name"], json!("Standard"));
    assert_eq!(
        standard["isDefault"],
        json!(true),
        "the first list is the default"
    );
    assert_eq!(standard["organization"]["id"], json!(partner.id));

    let r = create(
        &app,
        &token,
        json!({"organizationId": partner.id, "name": "Premium", "isDefault": true}),
    )
    .await;
    assert_eq!(
        r.ok()["createPriceList"]["priceList"]["isDefault"],
        json!(true)
    );
    create(
        &app,
        &token,
        json!({"organizationId": partner.id, "name": "Budget", "isDefault": false}),
    )
    .await
    .ok();

    let stored = lists(&app, &token, None).await;
    assert_eq!(stored.len(), 3);
    assert_eq!(defaults(&stored), vec!["Premium"]);
    // The partner's client reads them (billing: READ), by default or by naming itself.
    assert_eq!(lists(&app, &company.admin_token, None).await, stored);
    assert_eq!(
        lists(&app, &company.admin_token, Some(&company.id)).await,
        stored
    );

    let owners = app
        .gql(
            Some(&token),
            "{ priceLists { organization { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        owners.ok()["priceLists"],
        json!(vec![json!({"organization": {"id": partner.id}}); 3])
    );

    let events = app.audit_events(&token, "price_list.created").await;
    assert_eq!(events.len(), 3);
    assert!(
        events
            .iter()
            .all(|e| e["actor"]["id"] == json!(partner.admin_id))
    );
}

#[tokio::test]
async fn new_companies_and_users_get_price_lists() {
    let app = TestApp::spawn().await;
    let partner = app.create_partner("Billing Partner").await;
    let standard = app
        .create_price_list(&partner.admin_token, &partner.id, "Standard", true)
        .await;
    let special = app
        .create_price_list(&partner.admin_token, &partner.id, "Special", false)
        .await;
    let company = app.create_company(&partner, "Billed").await;
    let org = app
        .gql(
            Some(&partner.admin_token),
            "query($id: ID!) { organization(id: $id) { priceList { id } } }",
            json!({"id": company.id}),
        )
        .await;
    assert_eq!(
        org.ok()["organization"]["priceList"]["id"],
        json!(standard),
        "the partner's default"
    );

    // The partner moves the company to another list, and gives one to a user.
    app.gql(
        Some(&partner.admin_token),
        "mutation($i: UpdateOrganizationInput!) { updateOrganization(input: $i) { organization { id } } }",
        json!({"i": {"id": company.id, "priceListId": special}}),
    )
    .await
    .ok();
    let org = app
        .gql(
            Some(&company.admin_token),
            "query($id: ID!) { organization(id: $id) { priceList { id } } }",
            json!({"id": company.id}),
        )
        .await;
    assert_eq!(org.ok()["organization"]["priceList"]["id"], json!(special));

    let created = app
        .gql(
            Some(&company.admin_token),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id priceList { id } } } }",
            json!({"i": {"organizationId": company.id, "firstName": "Pay", "lastName": "Er",
                "email": "payer@billed.test", "priceListId": special}}),
        )
        .await;
    let user = created.ok()["createUser"]["user"].clone();
    assert_eq!(user["priceList"]["id"], json!(special));
    let stored = app
        .gql(
            Some(&company.admin_token),
            "query($id: ID!) { user(id: $id) { priceList { id } } }",
            json!({"id": user["id"]}),
        )
        .await;
    assert_eq!(stored.ok()["user"]["priceList"]["id"], json!(special));
}

#[tokio::test]
async fn bad_price_list_inputs_change_nothing() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Unpriced").await;
    let token = partner.admin_token.clone();
    app.create_price_list(&token, &partner.id, "Standard", true)
        .await;
    let before = lists(&app, &token, None).await;

    for name in ["", "   "] {
        create(
            &app,
            &token,
            json!({"organizationId": partner.id, "name": name}),
        )
        .await
        .assert_error("VALIDATION", Some("name"));
    }
    // Price lists belong to partners, not to their companies.
    create(
        &app,
        &token,
        json!({"organizationId": company.id, "name": "Company list"}),
    )
    .await
    .assert_error("VALIDATION", Some("organizationId"));
    // A company administrator reads them (billing: READ) but may not create one.
    create(
        &app,
        &company.admin_token,
        json!({"organizationId": company.id, "name": "Mine"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    // Nor may partner staff without billing: EDIT.
    let (_, reader) = app
        .member(&token, &partner.id, json!({"billing": "READ"}), json!({}))
        .await;
    assert_eq!(lists(&app, &reader, None).await, before);
    create(
        &app,
        &reader,
        json!({"organizationId": partner.id, "name": "Mine"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    // Without billing at all, the lists are closed.
    let (_, nobody) = app
        .member(&token, &partner.id, json!({"users": "READ"}), json!({}))
        .await;
    app.gql(Some(&nobody), LISTS, json!({}))
        .await
        .assert_error("FORBIDDEN", None);

    assert_eq!(lists(&app, &token, None).await, before);
}

/// `PriceList.organization` is non-null: a company reading its partner's lists (as DESIGN.md §3
/// allows) must be able to ask who owns them, like any front end listing price lists does.
#[tokio::test]
async fn a_company_reads_the_owner_of_its_partners_price_lists() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Owner").await;
    app.create_price_list(&partner.admin_token, &partner.id, "Standard", true)
        .await;
    let r = app
        .gql(
            Some(&company.admin_token),
            "{ priceLists { name organization { id } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["priceLists"],
        json!([{"name": "Standard", "organization": {"id": partner.id}}])
    );
}
