//! Profiles: a custom one is created and read back with its permission set; while someone holds
//! it, it cannot be deleted (CONFLICT, nothing changes); once nobody does, it goes. The built-in
//! Enterprise profile can never be deleted (FORBIDDEN).

use concierge_tests::TestApp;
use serde_json::{Value, json};

use crate::support::text;

const PROFILES: &str = "query($o: ID) { profiles(organizationId: $o) {
    id name builtIn isDefault permissions { users profiles sites rooms bookings billing clients audit modules } } }";
const DELETE: &str = "mutation($i: DeleteProfileInput!) { deleteProfile(input: $i) { deletedId } }";

async fn profiles(app: &TestApp, token: &str, org_id: &str) -> Vec<Value> {
    let r = app.gql(Some(token), PROFILES, json!({"o": org_id})).await;
    r.ok()["profiles"].as_array().expect("profiles").clone()
}

fn names(profiles: &[Value]) -> Vec<String> {
    profiles.iter().map(|p| text(&p["name"])).collect()
}

pub async fn a_profile_in_use_cannot_be_deleted(app: &TestApp) {
    let (_, company) = app.company("Busy").await;
    let token = company.admin_token.clone();
    let held = app
        .create_profile(
            &token,
            &company.id,
            "Front desk",
            json!({"users": "READ", "sites": "READ", "bookings": "OTHERS", "modules": ["rooms", "directory"]}),
        )
        .await;
    let spare = app
        .create_profile(&token, &company.id, "Spare", json!({"users": "READ"}))
        .await;

    let listed = profiles(app, &token, &company.id).await;
    assert_eq!(names(&listed), ["Enterprise", "Front desk", "Spare"]);
    let mut front_desk = listed[1].clone();
    if let Some(modules) = front_desk["permissions"]["modules"].as_array_mut() {
        modules.sort_by_key(Value::to_string);
    }
    assert_eq!(
        front_desk,
        json!({"id": held, "name": "Front desk", "builtIn": false, "isDefault": false,
            "permissions": {"users": "READ", "profiles": "NONE", "sites": "READ", "rooms": "NONE",
                "bookings": "OTHERS", "billing": "NONE", "clients": "NONE", "audit": "NONE",
                "modules": ["directory", "rooms"]}})
    );
    let enterprise = text(&listed[0]["id"]);
    assert_eq!(listed[0]["builtIn"], json!(true));
    assert_eq!(listed[0]["isDefault"], json!(true));

    let holder = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Hol", "lastName": "Der", "email": "holder@busy.test", "profileId": held}),
        )
        .await;
    let holder_id = text(&holder["user"]["id"]);

    let r = app
        .gql(Some(&token), DELETE, json!({"i": {"id": held}}))
        .await;
    r.assert_error("CONFLICT", None);
    assert_eq!(r.data, Value::Null);
    app.gql(Some(&token), DELETE, json!({"i": {"id": enterprise}}))
        .await
        .assert_error("FORBIDDEN", None);
    assert_eq!(profiles(app, &token, &company.id).await, listed);

    // The holder moves to another profile: the first one can go, and is gone for good.
    app.gql(
        Some(&token),
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
        json!({"i": {"id": holder_id, "profileId": spare}}),
    )
    .await
    .ok();
    let r = app
        .gql(Some(&token), DELETE, json!({"i": {"id": held}}))
        .await;
    assert_eq!(r.ok()["deleteProfile"]["deletedId"], json!(held));
    assert_eq!(
        names(&profiles(app, &token, &company.id).await),
        ["Enterprise", "Spare"]
    );
    app.gql(Some(&token), DELETE, json!({"i": {"id": held}}))
        .await
        .assert_error("NOT_FOUND", None);
    let r = app
        .gql(
            Some(&token),
            "query($id: ID!) { user(id: $id) { profile { id name } } }",
            json!({"id": holder_id}),
        )
        .await;
    assert_eq!(
        r.ok()["user"]["profile"],
        json!({"id": spare, "name": "Spare"})
    );
}
