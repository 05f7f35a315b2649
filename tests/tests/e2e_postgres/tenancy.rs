//! Tenancy: another tenant's IDs (organization, user, site, room, profile), read or written,
//! answer exactly as an ID that does not exist (NOT_FOUND, no data), and change nothing, whether
//! the caller is another company's administrator or another partner's.

use concierge_tests::{Gql, TestApp};
use serde_json::{Value, json};

use crate::support::{UNKNOWN_ID, text};

/// What a client sees of an answer: the data, and the first error's message and extensions.
fn answer(r: &Gql) -> Value {
    let error = r.errors.first().cloned().unwrap_or(Value::Null);
    json!({"data": r.data, "message": error["message"], "extensions": error["extensions"]})
}

/// Everything the victim's administrator reads about their objects.
async fn snapshot(app: &TestApp, token: &str, ids: &Value) -> Value {
    let r = app
        .gql(
            Some(token),
            "query($org: ID!, $user: ID!, $site: ID!, $room: ID!) {
                organization(id: $org) { name timeZone defaultProfile { id } }
                user(id: $user) { firstName email status profile { id } sites { id } }
                site(id: $site) { name timeZone rooms { id name } }
                room(id: $room) { name capacity }
                profiles { id name permissions { users } }
                users { totalCount }
                sites { totalCount } }",
            ids.clone(),
        )
        .await;
    r.ok().clone()
}

pub async fn another_tenants_ids_answer_not_found(app: &TestApp) {
    // The victim: a company with one object of each kind.
    let (_, victim) = app.company("Victim").await;
    let token = victim.admin_token.clone();
    let site = app.create_site(&token, &victim.id, "Vault").await;
    let room = app.create_room(&token, &site, "Strong room").await;
    let profile = app
        .create_profile(&token, &victim.id, "Custom", json!({"users": "READ"}))
        .await;
    let user = text(
        &app.create_user(
            &token,
            &victim.id,
            json!({"firstName": "Vic", "lastName": "Tim", "email": "vic@victim.test",
                "profileId": profile, "siteIds": [site]}),
        )
        .await["user"]["id"],
    );
    let ids = json!({"org": victim.id, "user": user, "site": site, "room": room});
    let before = snapshot(app, &token, &ids).await;

    // The attackers: another company's administrator, and another partner's.
    let (other_partner, other_company) = app.company("Attacker").await;

    let m = |name: &str, input_type: &str, selection: &str| {
        format!("mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} }} }}")
    };
    let cases: Vec<(&str, String, Value, &String)> = vec![
        (
            "organization",
            "query($x: ID!) { organization(id: $x) { id name } }".into(),
            json!({"x": "$X"}),
            &victim.id,
        ),
        (
            "user",
            "query($x: ID!) { user(id: $x) { id firstName } }".into(),
            json!({"x": "$X"}),
            &user,
        ),
        (
            "site",
            "query($x: ID!) { site(id: $x) { id name } }".into(),
            json!({"x": "$X"}),
            &site,
        ),
        (
            "room",
            "query($x: ID!) { room(id: $x) { id name } }".into(),
            json!({"x": "$X"}),
            &room,
        ),
        (
            "profiles of",
            "query($x: ID!) { profiles(organizationId: $x) { id } }".into(),
            json!({"x": "$X"}),
            &victim.id,
        ),
        (
            "updateUser",
            m("updateUser", "UpdateUserInput", "user { id }"),
            json!({"i": {"id": "$X", "firstName": "Hijacked"}}),
            &user,
        ),
        (
            "updateSite",
            m("updateSite", "UpdateSiteInput", "site { id }"),
            json!({"i": {"id": "$X", "name": "Hijacked"}}),
            &site,
        ),
        (
            "updateRoom",
            m("updateRoom", "UpdateRoomInput", "room { id }"),
            json!({"i": {"id": "$X", "name": "Hijacked"}}),
            &room,
        ),
        (
            "deleteProfile",
            m("deleteProfile", "DeleteProfileInput", "deletedId"),
            json!({"i": {"id": "$X"}}),
            &profile,
        ),
        (
            "createSite in",
            m("createSite", "CreateSiteInput", "site { id }"),
            json!({"i": {"organizationId": "$X", "name": "Planted", "timeZone": "UTC"}}),
            &victim.id,
        ),
        (
            "createRoom in",
            m("createRoom", "CreateRoomInput", "room { id }"),
            json!({"i": {"siteId": "$X", "name": "Planted"}}),
            &site,
        ),
    ];
    for attacker in [&other_company, &other_partner] {
        for (label, document, vars, victim_id) in &cases {
            let with = |id: &str| {
                let text = vars.to_string().replace("\"$X\"", &json!(id).to_string());
                serde_json::from_str::<Value>(&text).expect("variables")
            };
            let r = app
                .gql(Some(&attacker.admin_token), document, with(victim_id))
                .await;
            r.assert_error("NOT_FOUND", None);
            assert!(
                r.data
                    .as_object()
                    .is_none_or(|d| d.values().all(Value::is_null)),
                "{label}: {:#}",
                answer(&r)
            );
            let unknown = app
                .gql(Some(&attacker.admin_token), document, with(UNKNOWN_ID))
                .await;
            assert_eq!(answer(&r), answer(&unknown), "{label}");
        }
    }

    // Nothing changed for the victim.
    assert_eq!(snapshot(app, &token, &ids).await, before);
}
