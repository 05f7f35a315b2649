//! Sites (establishments) and site groups: creation, updates, listing, who sees which site.

use concierge_tests::{Gql, TestApp};
use serde_json::{Value, json};

use crate::support::{ids, node_ids, text};

const SITE_FIELDS: &str = "id name timeZone address organization { id } rooms { id }";
const GROUP_FIELDS: &str = "id name organization { id } sites { id }";

async fn site_mutation(app: &TestApp, token: &str, name: &str, input: Value) -> Gql {
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let selection = if name.contains("Group") {
        format!("siteGroup {{ {GROUP_FIELDS} }}")
    } else {
        format!("site {{ {SITE_FIELDS} }}")
    };
    let query = format!("mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} }} }}");
    app.gql(Some(token), &query, json!({"i": input})).await
}

async fn read_site(app: &TestApp, token: &str, id: &str) -> Gql {
    let query = format!("query($id: ID!) {{ site(id: $id) {{ {SITE_FIELDS} }} }}");
    app.gql(Some(token), &query, json!({"id": id})).await
}

async fn site_ids(app: &TestApp, token: &str, org_id: Option<&str>) -> Vec<String> {
    let r = app
        .gql(
            Some(token),
            "query($o: ID) { sites(organizationId: $o, first: 200) { edges { node { id } } } }",
            json!({"o": org_id}),
        )
        .await;
    node_ids(&r.ok()["sites"])
}

async fn groups(app: &TestApp, token: &str) -> Vec<Value> {
    let query = format!("{{ siteGroups {{ {GROUP_FIELDS} }} }}");
    let r = app.gql(Some(token), &query, json!({})).await;
    r.ok()["siteGroups"].as_array().expect("groups").clone()
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn sites_are_created_read_back_and_listed() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Estates").await;
    let token = company.admin_token.clone();
    let r = site_mutation(
        &app,
        &token,
        "createSite",
        json!({"organizationId": company.id, "name": " Head Office ", "timeZone": "Europe/Paris",
            "address": "1 rue de Rivoli, Paris"}),
    )
    .await;
    let site = r.ok()["createSite"]["site"].clone();
    let id = text(&site["id"]);
    let expected = json!({"id": id, "name": "Head Office", "timeZone": "Europe/Paris",
        "address": "1 rue de Rivoli, Paris", "organization": {"id": company.id}, "rooms": []});
    assert_eq!(site, expected);
    assert_eq!(read_site(&app, &token, &id).await.ok()["site"], expected);
    assert_eq!(site_ids(&app, &token, None).await, vec![id.clone()]);

    let events = app.audit_events(&token, "site.created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
    assert_eq!(events[0]["targetType"], json!("Site"));
    assert_eq!(events[0]["targetId"], json!(id));
    assert_eq!(events[0]["organization"]["id"], json!(company.id));

    // The partner acts inside its client too.
    let by_partner = app
        .create_site(&partner.admin_token, &company.id, "Annex")
        .await;
    assert_eq!(
        sorted(site_ids(&app, &token, None).await),
        sorted(vec![id, by_partner])
    );
}

#[tokio::test]
async fn sites_are_updated() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Movers").await;
    let token = company.admin_token.clone();
    let id = app.create_site(&token, &company.id, "Old Name").await;
    let r = site_mutation(
        &app,
        &token,
        "updateSite",
        json!({"id": id, "name": "New Name", "timeZone": "America/Chicago", "address": "Main St"}),
    )
    .await;
    let expected = json!({"id": id, "name": "New Name", "timeZone": "America/Chicago",
        "address": "Main St", "organization": {"id": company.id}, "rooms": []});
    assert_eq!(r.ok()["updateSite"]["site"], expected);
    assert_eq!(read_site(&app, &token, &id).await.ok()["site"], expected);

    // An empty address clears it; what is not named stays.
    site_mutation(&app, &token, "updateSite", json!({"id": id, "address": ""}))
        .await
        .ok();
    let stored = read_site(&app, &token, &id).await.ok()["site"].clone();
    assert_eq!(stored["address"], Value::Null);
    assert_eq!(stored["name"], json!("New Name"));

    let events = app.audit_events(&token, "site.updated").await;
    assert_eq!(events.len(), 2);
    assert_eq!(events[0]["targetId"], json!(id));
}

#[tokio::test]
async fn bad_site_inputs_name_their_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Careful").await;
    let token = company.admin_token.clone();
    let existing = app.create_site(&token, &company.id, "Existing").await;
    let before = read_site(&app, &token, &existing).await.ok()["site"].clone();
    let cases = [
        ("name", json!({"name": ""})),
        ("name", json!({"name": "x".repeat(201)})),
        ("timeZone", json!({"timeZone": "Paris"})),
        ("timeZone", json!({"timeZone": ""})),
        ("address", json!({"address": "x".repeat(501)})),
    ];
    for (field, bad) in cases {
        let mut create = json!({"organizationId": company.id, "name": "Fine", "timeZone": "UTC"});
        let mut update = json!({"id": existing, "name": "Fine"});
        for (k, v) in bad.as_object().expect("bad") {
            create[k] = v.clone();
            update[k] = v.clone();
        }
        site_mutation(&app, &token, "createSite", create)
            .await
            .assert_error("VALIDATION", Some(field));
        site_mutation(&app, &token, "updateSite", update)
            .await
            .assert_error("VALIDATION", Some(field));
    }
    // Sites belong to client companies, not to partners.
    site_mutation(
        &app,
        &partner.admin_token,
        "createSite",
        json!({"organizationId": partner.id, "name": "Partner Site", "timeZone": "UTC"}),
    )
    .await
    .assert_error("VALIDATION", Some("organizationId"));

    assert_eq!(site_ids(&app, &token, None).await, vec![existing.clone()]);
    assert_eq!(
        read_site(&app, &token, &existing).await.ok()["site"],
        before
    );
}

#[tokio::test]
async fn editing_sites_needs_sites_edit() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Readonly Sites").await;
    let token = company.admin_token.clone();
    let granted = app.create_site(&token, &company.id, "Granted").await;
    let hidden = app.create_site(&token, &company.id, "Hidden").await;
    let group = app
        .create_site_group(&token, &company.id, "Group", &[&granted])
        .await;
    let (_, reader) = app
        .member(
            &token,
            &company.id,
            json!({"sites": "READ"}),
            json!({"siteIds": [granted]}),
        )
        .await;
    let before = (
        read_site(&app, &token, &granted).await.ok()["site"].clone(),
        groups(&app, &token).await,
    );
    let forbidden = [
        (
            "createSite",
            json!({"organizationId": company.id, "name": "New", "timeZone": "UTC"}),
        ),
        ("updateSite", json!({"id": granted, "name": "Renamed"})),
        (
            "createSiteGroup",
            json!({"organizationId": company.id, "name": "New", "siteIds": [granted]}),
        ),
        ("updateSiteGroup", json!({"id": group, "name": "Renamed"})),
    ];
    for (mutation, input) in forbidden {
        site_mutation(&app, &reader, mutation, input)
            .await
            .assert_error("FORBIDDEN", None);
    }
    // A site they cannot see does not exist for them.
    site_mutation(
        &app,
        &reader,
        "updateSite",
        json!({"id": hidden, "name": "Renamed"}),
    )
    .await
    .assert_error("NOT_FOUND", None);

    let after = (
        read_site(&app, &token, &granted).await.ok()["site"].clone(),
        groups(&app, &token).await,
    );
    assert_eq!(before, after);
    assert_eq!(site_ids(&app, &token, None).await.len(), 2);
}

#[tokio::test]
async fn people_without_sites_edit_see_only_the_sites_granted_to_them() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Scoped").await;
    let token = company.admin_token.clone();
    let granted = app.create_site(&token, &company.id, "Granted").await;
    let hidden = app.create_site(&token, &company.id, "Hidden").await;
    let (_, person) = app
        .member(
            &token,
            &company.id,
            json!({"bookings": "SELF", "rooms": "READ"}),
            json!({"siteIds": [granted]}),
        )
        .await;
    assert_eq!(site_ids(&app, &person, None).await, vec![granted.clone()]);
    assert_eq!(
        read_site(&app, &person, &granted).await.ok()["site"]["id"],
        json!(granted)
    );
    let r = read_site(&app, &person, &hidden).await;
    r.assert_error("NOT_FOUND", None);
    assert_eq!(r.data["site"], Value::Null);
    // Holders of sites: EDIT see them all.
    assert_eq!(site_ids(&app, &token, None).await.len(), 2);
}

#[tokio::test]
async fn sites_page_with_cursors() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Many Sites").await;
    let token = company.admin_token.clone();
    let mut created = Vec::new();
    for name in ["A", "B", "C"] {
        created.push(app.create_site(&token, &company.id, name).await);
    }
    let query = "query($first: Int, $after: String) { sites(first: $first, after: $after) {
        totalCount edges { node { id } } pageInfo { hasNextPage endCursor } } }";
    let first = app.gql(Some(&token), query, json!({"first": 2})).await.ok()["sites"].clone();
    assert_eq!(first["totalCount"], json!(3));
    assert_eq!(first["pageInfo"]["hasNextPage"], json!(true));
    let second = app
        .gql(
            Some(&token),
            query,
            json!({"first": 2, "after": first["pageInfo"]["endCursor"]}),
        )
        .await
        .ok()["sites"]
        .clone();
    assert_eq!(second["pageInfo"]["hasNextPage"], json!(false));
    let mut seen = node_ids(&first);
    seen.extend(node_ids(&second));
    assert_eq!(seen, created);
}

#[tokio::test]
async fn site_groups_are_created_updated_and_listed() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Grouped").await;
    let token = company.admin_token.clone();
    let s1 = app.create_site(&token, &company.id, "One").await;
    let s2 = app.create_site(&token, &company.id, "Two").await;

    let r = site_mutation(
        &app,
        &token,
        "createSiteGroup",
        json!({"organizationId": company.id, "name": "Both", "siteIds": [s2, s1, s1]}),
    )
    .await;
    let group = r.ok()["createSiteGroup"]["siteGroup"].clone();
    let id = text(&group["id"]);
    assert_eq!(group["name"], json!("Both"));
    assert_eq!(group["organization"]["id"], json!(company.id));
    assert_eq!(
        sorted(ids(&group["sites"])),
        sorted(vec![s1.clone(), s2.clone()])
    );
    assert_eq!(groups(&app, &token).await, vec![group.clone()]);

    let r = site_mutation(
        &app,
        &token,
        "updateSiteGroup",
        json!({"id": id, "name": "Just Two", "siteIds": [s2]}),
    )
    .await;
    let updated = r.ok()["updateSiteGroup"]["siteGroup"].clone();
    assert_eq!(updated["name"], json!("Just Two"));
    assert_eq!(ids(&updated["sites"]), vec![s2.clone()]);
    assert_eq!(groups(&app, &token).await, vec![updated]);

    for action in ["site_group.created", "site_group.updated"] {
        let events = app.audit_events(&token, action).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0]["targetId"], json!(id));
        assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
    }
}

#[tokio::test]
async fn bad_site_group_inputs_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Strict Groups").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Site").await;
    let group = app
        .create_site_group(&token, &company.id, "Group", &[&site])
        .await;
    let before = groups(&app, &token).await;
    site_mutation(
        &app,
        &token,
        "createSiteGroup",
        json!({"organizationId": company.id, "name": " ", "siteIds": [site]}),
    )
    .await
    .assert_error("VALIDATION", Some("name"));
    site_mutation(
        &app,
        &token,
        "updateSiteGroup",
        json!({"id": group, "name": ""}),
    )
    .await
    .assert_error("VALIDATION", Some("name"));
    for unknown in [crate::support::UNKNOWN_ID, crate::support::MALFORMED_ID] {
        site_mutation(
            &app,
            &token,
            "createSiteGroup",
            json!({"organizationId": company.id, "name": "Ghost", "siteIds": [site, unknown]}),
        )
        .await
        .assert_error("NOT_FOUND", None);
        site_mutation(
            &app,
            &token,
            "updateSiteGroup",
            json!({"id": group, "name": "Ghost", "siteIds": [unknown]}),
        )
        .await
        .assert_error("NOT_FOUND", None);
    }
    assert_eq!(groups(&app, &token).await, before);
}
