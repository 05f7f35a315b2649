//! Site groups as user groups (seeds 002/003): access is computed at read time, and a default
//! site that is no longer granted is cleared, with an audit event.

use concierge_tests::TestApp;
use serde_json::{Value, json};

#[tokio::test]
async fn removing_a_site_from_a_group_clears_the_default_sites_it_granted() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Groups").await;
    let admin = company.admin_token.clone();
    let lyon = app.create_site(&admin, &company.id, "Lyon").await;
    let nice = app.create_site(&admin, &company.id, "Nice").await;
    let r = app
        .gql(Some(&admin), "mutation($o: ID!, $s: [ID!]!) { createSiteGroup(input: {organizationId: $o, name: \"South\", siteIds: $s}) { siteGroup { id } } }", json!({"o": company.id, "s": [lyon, nice]}))
        .await;
    let group = r.ok()["createSiteGroup"]["siteGroup"]["id"].clone();
    let staff = app
        .create_profile(&admin, &company.id, "Staff", json!({"bookings": "SELF"}))
        .await;
    let via_group = app
        .create_user(&admin, &company.id, json!({"firstName": "G", "lastName": "Roup", "username": "g.roup", "profileId": staff, "siteGroupIds": [group], "defaultSiteId": nice}))
        .await["user"]["id"]
        .clone();
    let direct = app
        .create_user(&admin, &company.id, json!({"firstName": "D", "lastName": "Irect", "username": "d.irect", "profileId": staff, "siteIds": [nice], "siteGroupIds": [group], "defaultSiteId": nice}))
        .await["user"]["id"]
        .clone();

    app.gql(Some(&admin), "mutation($g: ID!, $s: [ID!]!) { updateSiteGroup(input: {id: $g, siteIds: $s}) { siteGroup { id } } }", json!({"g": group, "s": [lyon]}))
        .await
        .ok();
    let read = |id: Value| {
        let (app, admin) = (&app, &admin);
        async move {
            let r = app
                .gql(
                    Some(admin),
                    "query($u: ID!) { user(id: $u) { defaultSite { id } effectiveSites { id } } }",
                    json!({"u": id}),
                )
                .await;
            r.ok()["user"].clone()
        }
    };
    let cleared = read(via_group.clone()).await;
    assert_eq!(cleared["defaultSite"], Value::Null);
    assert_eq!(cleared["effectiveSites"], json!([{"id": lyon}]));
    // Still granted directly: the default stays.
    assert_eq!(read(direct).await["defaultSite"]["id"], json!(nice));
    let audit = app
        .gql(Some(&admin), "{ auditEvents(filter: {action: \"user.default_site_cleared\"}) { totalCount edges { node { targetId } } } }", json!({}))
        .await;
    assert_eq!(audit.ok()["auditEvents"]["totalCount"], json!(1));
    assert_eq!(
        audit.ok()["auditEvents"]["edges"][0]["node"]["targetId"],
        via_group
    );
}
