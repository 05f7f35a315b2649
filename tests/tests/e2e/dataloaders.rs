use concierge_tests::TestApp;
use serde_json::json;

const PAGE: &str = "query($org: ID!) { users(filter: {organizationId: $org}, first: 50) {
    totalCount edges { node { id displayName organization { id name } profile { id name permissions { users } }
    sites { id name } effectiveSites { id } siteGroups { id } createdBy { id } } } } }";

/// Storage calls made by one request for a page of `n` users with their relations.
async fn calls_for_page(n: usize) -> u64 {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Loaders").await;
    let token = company.admin_token.clone();
    let site_a = app.create_site(&token, &company.id, "A").await;
    let site_b = app.create_site(&token, &company.id, "B").await;
    let group = app
        .gql(
            Some(&token),
            "mutation($i: CreateSiteGroupInput!) { createSiteGroup(input: $i) { siteGroup { id } } }",
            json!({"i": {"organizationId": company.id, "name": "All", "siteIds": [site_a, site_b]}}),
        )
        .await
        .ok()["createSiteGroup"]["siteGroup"]["id"]
        .clone();
    for i in 0..n {
        let input = json!({"firstName": "U", "lastName": format!("{i}"), "email": format!("user{i}@loaders.test"),
            "siteIds": [site_a], "siteGroupIds": [group]});
        app.create_user(&token, &company.id, input).await;
    }
    let store = app.memory.clone().expect("memory store");
    let before = store.calls();
    let r = app
        .gql(Some(&token), PAGE, json!({"org": company.id}))
        .await;
    let after = store.calls();
    let edges = r.ok()["users"]["edges"].as_array().expect("edges").clone();
    assert_eq!(
        edges.len(),
        (n + 1).min(50),
        "the administrator and the created users"
    );
    assert!(
        edges
            .iter()
            .all(|e| e["node"]["organization"]["id"] == json!(company.id))
    );
    after - before
}

/// A page of users with organization, profile, sites, groups and creator costs the same number
/// of storage calls whether it holds 5 users or 49: relations are batched, not fetched per row.
#[tokio::test]
async fn a_page_of_users_costs_a_constant_number_of_storage_calls() {
    let small = calls_for_page(4).await;
    let large = calls_for_page(49).await;
    assert_eq!(
        small, large,
        "calls for 5 users: {small}, for 50 users: {large}"
    );
    assert!(large <= 25, "a page of 50 users took {large} storage calls");
}
