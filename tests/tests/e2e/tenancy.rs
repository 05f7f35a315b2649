//! Tenancy: nobody reaches another tenant's objects. Every kind of ID of another company (or of
//! another partner's company), used in a query or in a mutation, answers exactly as an ID that
//! does not exist, and changes nothing; lists never show another tenant's rows.

use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};

use crate::support::{MALFORMED_ID, UNKNOWN_ID, text};

/// A client company with one object of every kind, and its partner's price list.
struct Tenant {
    partner: Org,
    company: Org,
    user: String,
    site: String,
    group: String,
    room: String,
    profile: String,
    price_list: String,
}

async fn tenant_under(app: &TestApp, partner: Org, name: &str) -> Tenant {
    let company = app.create_company(&partner, name).await;
    let token = company.admin_token.clone();
    let price_list = app
        .create_price_list(
            &partner.admin_token,
            &partner.id,
            &format!("{name} list"),
            true,
        )
        .await;
    let site = app.create_site(&token, &company.id, "Site").await;
    let group = app
        .create_site_group(&token, &company.id, "Group", &[&site])
        .await;
    let room = app.create_room(&token, &site, "Room").await;
    let profile = app
        .create_profile(&token, &company.id, "Custom", json!({"users": "READ"}))
        .await;
    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Vic", "lastName": "Tim", "profileId": profile,
                "email": format!("victim@{}.test", name.to_lowercase()), "siteIds": [site]}),
        )
        .await;
    Tenant {
        partner,
        user: text(&created["user"]["id"]),
        company,
        site,
        group,
        room,
        profile,
        price_list,
    }
}

async fn tenant(app: &TestApp, name: &str) -> Tenant {
    let partner = app.create_partner(&format!("{name} Partner")).await;
    tenant_under(app, partner, name).await
}

/// Everything a tenant's administrator reads about their own objects.
async fn snapshot(app: &TestApp, t: &Tenant) -> Value {
    let r = app
        .gql(
            Some(&t.company.admin_token),
            "query($org: ID!, $user: ID!, $site: ID!, $room: ID!) {
                organization(id: $org) { name adminEmail timeZone defaultProfile { id } }
                user(id: $user) { firstName status profile { id } sites { id } siteGroups { id } }
                site(id: $site) { name timeZone }
                room(id: $room) { name capacity }
                siteGroups { id name sites { id } }
                profiles { id name permissions { users } }
                users { totalCount }
                sites { totalCount }
                priceLists { id name isDefault } }",
            json!({"org": t.company.id, "user": t.user, "site": t.site, "room": t.room}),
        )
        .await;
    r.ok().clone()
}

/// What the attacker has in their own organization (nothing must be added there either).
async fn own_counts(app: &TestApp, token: &str, org_id: &str) -> Value {
    let r = app
        .gql(
            Some(token),
            "query($o: ID!) { users(filter: {organizationId: $o}) { totalCount }
                sites(organizationId: $o) { totalCount }
                siteGroups(organizationId: $o) { id sites { id } }
                profiles(organizationId: $o) { id }
                me { sites { id } siteGroups { id } profile { id } defaultSite { id } priceList { id } } }",
            json!({"o": org_id}),
        )
        .await;
    r.ok().clone()
}

/// What a client sees of an answer: the data, and the first error's message and extensions.
fn answer(r: &Gql) -> Value {
    let error = r.errors.first().cloned().unwrap_or(Value::Null);
    json!({"data": r.data, "message": error["message"], "extensions": error["extensions"]})
}

/// Runs `query` with `$x` set to the victim's ID, an unknown ID and a malformed one: all three
/// answer NOT_FOUND, identically.
async fn assert_not_found_alike(
    app: &TestApp,
    token: &str,
    label: &str,
    query: &str,
    vars: Value,
    x: &str,
) {
    let with = |id: &str| {
        let text = vars.to_string().replace("\"$X\"", &json!(id).to_string());
        serde_json::from_str::<Value>(&text).expect("variables")
    };
    let victim = app.gql(Some(token), query, with(x)).await;
    assert_eq!(
        victim
            .errors
            .first()
            .map(|e| e["extensions"]["code"].clone()),
        Some(json!("NOT_FOUND")),
        "{label}: {:#}",
        answer(&victim)
    );
    for other in [UNKNOWN_ID, MALFORMED_ID] {
        let r = app.gql(Some(token), query, with(other)).await;
        assert_eq!(answer(&r), answer(&victim), "{label} with {other}");
    }
}

/// The attacker (holder of `token`, in `own_org`) against every kind of ID of `victim`.
async fn assert_isolated(
    app: &TestApp,
    token: &str,
    own_org: &str,
    victim: &Tenant,
    shares_partner: bool,
) {
    let me = app.gql(Some(token), "{ me { id } }", json!({})).await;
    let own_user = text(&me.ok()["me"]["id"]);
    let before = (
        snapshot(app, victim).await,
        own_counts(app, token, own_org).await,
    );

    let queries = [
        (
            "organization",
            "query($v: ID!) { organization(id: $v) { id name } }",
            &victim.company.id,
        ),
        (
            "user",
            "query($v: ID!) { user(id: $v) { id firstName } }",
            &victim.user,
        ),
        (
            "site",
            "query($v: ID!) { site(id: $v) { id name } }",
            &victim.site,
        ),
        (
            "room",
            "query($v: ID!) { room(id: $v) { id name } }",
            &victim.room,
        ),
    ];
    for (field, query, id) in queries {
        assert_not_found_alike(app, token, field, query, json!({"v": "$X"}), id).await;
        let r = app.gql(Some(token), query, json!({"v": id})).await;
        assert_eq!(r.data[field], Value::Null, "{field}");
    }

    let m = |name: &str, input_type: &str, selection: &str| {
        format!("mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} }} }}")
    };
    let mut mutations: Vec<(&str, String, Value, &String)> = vec![
        (
            "updateOrganization",
            m(
                "updateOrganization",
                "UpdateOrganizationInput",
                "organization { id }",
            ),
            json!({"id": "$X", "name": "Hijacked"}),
            &victim.company.id,
        ),
        (
            "updateUser",
            m("updateUser", "UpdateUserInput", "user { id }"),
            json!({"id": "$X", "firstName": "Hijacked"}),
            &victim.user,
        ),
        (
            "deactivateUser",
            m("deactivateUser", "UserIdInput", "user { id }"),
            json!({"userId": "$X"}),
            &victim.user,
        ),
        (
            "updateSite",
            m("updateSite", "UpdateSiteInput", "site { id }"),
            json!({"id": "$X", "name": "Hijacked"}),
            &victim.site,
        ),
        (
            "updateSiteGroup",
            m(
                "updateSiteGroup",
                "UpdateSiteGroupInput",
                "siteGroup { id }",
            ),
            json!({"id": "$X", "name": "Hijacked"}),
            &victim.group,
        ),
        (
            "updateRoom",
            m("updateRoom", "UpdateRoomInput", "room { id }"),
            json!({"id": "$X", "name": "Hijacked"}),
            &victim.room,
        ),
        (
            "updateProfile",
            m("updateProfile", "UpdateProfileInput", "profile { id }"),
            json!({"id": "$X", "name": "Hijacked"}),
            &victim.profile,
        ),
        (
            "deleteProfile",
            m("deleteProfile", "DeleteProfileInput", "deletedId"),
            json!({"id": "$X"}),
            &victim.profile,
        ),
        (
            "createSite in",
            m("createSite", "CreateSiteInput", "site { id }"),
            json!({"organizationId": "$X", "name": "Planted", "timeZone": "UTC"}),
            &victim.company.id,
        ),
        (
            "createUser in",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": "$X", "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test"}),
            &victim.company.id,
        ),
        (
            "createProfile in",
            m("createProfile", "CreateProfileInput", "profile { id }"),
            json!({"organizationId": "$X", "name": "Planted",
                "permissions": TestApp::permissions(json!({}))}),
            &victim.company.id,
        ),
        (
            "createSiteGroup in",
            m(
                "createSiteGroup",
                "CreateSiteGroupInput",
                "siteGroup { id }",
            ),
            json!({"organizationId": "$X", "name": "Planted", "siteIds": []}),
            &victim.company.id,
        ),
        (
            "createRoom in",
            m("createRoom", "CreateRoomInput", "room { id }"),
            json!({"siteId": "$X", "name": "Planted"}),
            &victim.site,
        ),
        (
            "setDefaultProfile of",
            m(
                "setDefaultProfile",
                "SetDefaultProfileInput",
                "organization { id }",
            ),
            json!({"organizationId": "$X", "profileId": victim.profile}),
            &victim.company.id,
        ),
        // The victim's objects given to the attacker's own people and groups.
        (
            "createUser granting site",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": own_org, "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test", "siteIds": ["$X"]}),
            &victim.site,
        ),
        (
            "createUser granting group",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": own_org, "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test", "siteGroupIds": ["$X"]}),
            &victim.group,
        ),
        (
            "createUser with profile",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": own_org, "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test", "profileId": "$X"}),
            &victim.profile,
        ),
        (
            "createUser with default site",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": own_org, "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test", "defaultSiteId": "$X"}),
            &victim.site,
        ),
        (
            "createSiteGroup with site",
            m(
                "createSiteGroup",
                "CreateSiteGroupInput",
                "siteGroup { id }",
            ),
            json!({"organizationId": own_org, "name": "Planted", "siteIds": ["$X"]}),
            &victim.site,
        ),
        (
            "setDefaultProfile to",
            m(
                "setDefaultProfile",
                "SetDefaultProfileInput",
                "organization { id }",
            ),
            json!({"organizationId": own_org, "profileId": "$X"}),
            &victim.profile,
        ),
    ];
    // The victim's objects given to the attacker's own account.
    for (field, value, id) in [
        ("siteIds", json!(["$X"]), &victim.site),
        ("siteGroupIds", json!(["$X"]), &victim.group),
        ("profileId", json!("$X"), &victim.profile),
        ("defaultSiteId", json!("$X"), &victim.site),
    ] {
        let mut input = json!({"id": own_user});
        input[field] = value;
        mutations.push((
            field,
            m("updateUser", "UpdateUserInput", "user { id }"),
            input,
            id,
        ));
    }
    if !shares_partner {
        mutations.push((
            "priceListId",
            m("updateUser", "UpdateUserInput", "user { id }"),
            json!({"id": own_user, "priceListId": "$X"}),
            &victim.price_list,
        ));
        mutations.push((
            "createUser with price list",
            m("createUser", "CreateUserInput", "user { id }"),
            json!({"organizationId": own_org, "firstName": "Planted", "lastName": "User",
                "email": "planted@attacker.test", "priceListId": "$X"}),
            &victim.price_list,
        ));
        mutations.push((
            "createPriceList in",
            m(
                "createPriceList",
                "CreatePriceListInput",
                "priceList { id }",
            ),
            json!({"organizationId": "$X", "name": "Planted"}),
            &victim.partner.id,
        ));
    }
    for (label, query, input, id) in &mutations {
        assert_not_found_alike(app, token, label, query, json!({"i": input}), id).await;
    }

    // Lists: the victim's rows never show, filtered by the victim's organization or not.
    let mut foreign = vec![
        &victim.company.id,
        &victim.user,
        &victim.site,
        &victim.group,
        &victim.room,
        &victim.profile,
    ];
    if !shares_partner {
        foreign.extend([&victim.partner.id, &victim.price_list]);
    }
    let lists = [
        "{ organizations { edges { node { id } } } }",
        "query($v: ID!) { organizations(filter: {parentId: $v}) { edges { node { id } } } }",
        "{ users(first: 200) { edges { node { id sites { id } siteGroups { id } profile { id } } } } }",
        "query($v: ID!) { users(filter: {organizationId: $v}) { edges { node { id } } } }",
        "query($s: ID!) { users(filter: {siteId: $s}) { edges { node { id } } } }",
        "{ sites { edges { node { id rooms { id } } } } }",
        "query($v: ID!) { sites(organizationId: $v) { edges { node { id } } } }",
        "{ siteGroups { id sites { id } } }",
        "query($v: ID!) { siteGroups(organizationId: $v) { id } }",
        "{ profiles { id } }",
        "query($v: ID!) { profiles(organizationId: $v) { id } }",
        "{ priceLists { id } }",
        "query($p: ID!) { priceLists(organizationId: $p) { id } }",
        "{ auditEvents(first: 200) { edges { node { targetId organization { id } actor { id } } } } }",
        "query($v: ID!) { auditEvents(filter: {organizationId: $v}) { edges { node { targetId } } } }",
    ];
    let vars = json!({"v": victim.company.id, "s": victim.site, "p": victim.partner.id});
    for query in lists {
        let r = app.gql(Some(token), query, vars.clone()).await;
        let dump = r.data.to_string();
        for id in &foreign {
            assert!(!dump.contains(id.as_str()), "{query} showed {id}: {dump}");
        }
        if let Some(error) = r.errors.first() {
            assert_eq!(error["extensions"]["code"], json!("NOT_FOUND"), "{query}");
        }
    }

    let after = (
        snapshot(app, victim).await,
        own_counts(app, token, own_org).await,
    );
    assert_eq!(before, after, "something changed");
}

#[tokio::test]
async fn a_company_reaches_nothing_of_another_partners_company() {
    let app = TestApp::spawn().await;
    let a = tenant(&app, "Alpha").await;
    let b = tenant(&app, "Bravo").await;
    assert_isolated(&app, &a.company.admin_token, &a.company.id, &b, false).await;
    // And the other way round.
    assert_isolated(&app, &b.company.admin_token, &b.company.id, &a, false).await;
}

#[tokio::test]
async fn a_company_reaches_nothing_of_a_sibling_company_of_the_same_partner() {
    let app = TestApp::spawn().await;
    let a = tenant(&app, "Alpha").await;
    let sibling = tenant_under(&app, a.partner.clone(), "Charlie").await;
    assert_isolated(&app, &a.company.admin_token, &a.company.id, &sibling, true).await;
}

#[tokio::test]
async fn a_partner_reaches_nothing_of_another_partners_clients() {
    let app = TestApp::spawn().await;
    let mine = tenant(&app, "Mine").await;
    let theirs = tenant(&app, "Theirs").await;
    assert_isolated(
        &app,
        &mine.partner.admin_token,
        &mine.partner.id,
        &theirs,
        false,
    )
    .await;
    // While its own client is in reach.
    let r = app
        .gql(
            Some(&mine.partner.admin_token),
            "query($u: ID!, $s: ID!) { user(id: $u) { id } site(id: $s) { id } }",
            json!({"u": mine.user, "s": mine.site}),
        )
        .await;
    assert_eq!(r.ok()["user"]["id"], json!(mine.user));
    assert_eq!(r.ok()["site"]["id"], json!(mine.site));
}
