//! Meeting rooms: creation with a booking policy, field-by-field updates, validation of the
//! policy, and who may see and edit rooms.

use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};

use crate::support::{ids, text};

const ROOM_FIELDS: &str = "id name capacity equipment bookable site { id }
    policy { slotMinutes minMinutes maxMinutes horizonDays }";

async fn room_mutation(app: &TestApp, token: &str, name: &str, input: Value) -> Gql {
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let query = format!(
        "mutation($i: {input_type}!) {{ {name}(input: $i) {{ room {{ {ROOM_FIELDS} }} }} }}"
    );
    app.gql(Some(token), &query, json!({"i": input})).await
}

async fn read_room(app: &TestApp, token: &str, id: &str) -> Gql {
    let query = format!("query($id: ID!) {{ room(id: $id) {{ {ROOM_FIELDS} }} }}");
    app.gql(Some(token), &query, json!({"id": id})).await
}

async fn rooms_of(app: &TestApp, token: &str, site_id: &str) -> Gql {
    let query = format!("query($s: ID!) {{ rooms(siteId: $s) {{ {ROOM_FIELDS} }} }}");
    app.gql(Some(token), &query, json!({"s": site_id})).await
}

/// A company with one site.
async fn setup(app: &TestApp, name: &str) -> (Org, String) {
    let (_, company) = app.company(name).await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Site")
        .await;
    (company, site)
}

#[tokio::test]
async fn rooms_are_created_with_their_policy_and_read_back_everywhere() {
    let app = TestApp::spawn().await;
    let (company, site) = setup(&app, "Roomy").await;
    let token = company.admin_token.clone();
    let r = room_mutation(
        &app,
        &token,
        "createRoom",
        json!({"siteId": site, "name": "Touch Room", "capacity": 12,
            "equipment": ["Screen", " Whiteboard ", "Screen"], "bookable": false,
            "policy": {"slotMinutes": 30, "minMinutes": 30, "maxMinutes": 240, "horizonDays": 30}}),
    )
    .await;
    let room = r.ok()["createRoom"]["room"].clone();
    let id = text(&room["id"]);
    let expected = json!({"id": id, "name": "Touch Room", "capacity": 12,
        "equipment": ["Screen", "Whiteboard"], "bookable": false, "site": {"id": site},
        "policy": {"slotMinutes": 30, "minMinutes": 30, "maxMinutes": 240, "horizonDays": 30}});
    assert_eq!(room, expected);
    assert_eq!(read_room(&app, &token, &id).await.ok()["room"], expected);
    assert_eq!(
        rooms_of(&app, &token, &site).await.ok()["rooms"],
        json!([expected])
    );
    let through_site = app
        .gql(
            Some(&token),
            "query($s: ID!) { site(id: $s) { rooms { id } } }",
            json!({"s": site}),
        )
        .await;
    assert_eq!(ids(&through_site.ok()["site"]["rooms"]), vec![id.clone()]);

    let events = app.audit_events(&token, "room.created").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["targetType"], json!("Room"));
    assert_eq!(events[0]["targetId"], json!(id));
    assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
}

#[tokio::test]
async fn a_room_named_only_gets_the_default_policy() {
    let app = TestApp::spawn().await;
    let (company, site) = setup(&app, "Plain").await;
    let r = room_mutation(
        &app,
        &company.admin_token,
        "createRoom",
        json!({"siteId": site, "name": "Plain Room"}),
    )
    .await;
    let room = &r.ok()["createRoom"]["room"];
    assert_eq!(room["capacity"], Value::Null);
    assert_eq!(room["equipment"], json!([]));
    assert_eq!(room["bookable"], json!(true));
    assert_eq!(
        room["policy"],
        json!({"slotMinutes": 15, "minMinutes": 15, "maxMinutes": 480, "horizonDays": 90})
    );
}

#[tokio::test]
async fn rooms_are_updated_field_by_field() {
    let app = TestApp::spawn().await;
    let (company, site) = setup(&app, "Refit").await;
    let token = company.admin_token.clone();
    let id = app.create_room(&token, &site, "Before").await;
    let r = room_mutation(
        &app,
        &token,
        "updateRoom",
        json!({"id": id, "name": "After", "capacity": 4, "equipment": ["Phone"],
            "bookable": false, "policy": {"maxMinutes": 120}}),
    )
    .await;
    // The policy's other fields keep their values.
    let expected = json!({"id": id, "name": "After", "capacity": 4, "equipment": ["Phone"],
        "bookable": false, "site": {"id": site},
        "policy": {"slotMinutes": 15, "minMinutes": 15, "maxMinutes": 120, "horizonDays": 90}});
    assert_eq!(r.ok()["updateRoom"]["room"], expected);
    assert_eq!(read_room(&app, &token, &id).await.ok()["room"], expected);

    let events = app.audit_events(&token, "room.updated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["targetId"], json!(id));
}

#[tokio::test]
async fn bad_room_inputs_name_their_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (company, site) = setup(&app, "Checked Rooms").await;
    let token = company.admin_token.clone();
    let existing = app.create_room(&token, &site, "Existing").await;
    let before = read_room(&app, &token, &existing).await.ok()["room"].clone();
    let cases = [
        ("name", json!({"name": "  "})),
        ("name", json!({"name": "x".repeat(201)})),
        ("capacity", json!({"capacity": 0})),
        ("capacity", json!({"capacity": -3})),
        ("capacity", json!({"capacity": 10_001})),
        ("equipment", json!({"equipment": ["Screen", ""]})),
        ("policy.slotMinutes", json!({"policy": {"slotMinutes": 7}})),
        ("policy.slotMinutes", json!({"policy": {"slotMinutes": 0}})),
        ("policy.minMinutes", json!({"policy": {"minMinutes": 20}})),
        ("policy.minMinutes", json!({"policy": {"minMinutes": 0}})),
        ("policy.maxMinutes", json!({"policy": {"maxMinutes": 10}})),
        (
            "policy.maxMinutes",
            json!({"policy": {"maxMinutes": 20_000}}),
        ),
        ("policy.horizonDays", json!({"policy": {"horizonDays": -1}})),
        (
            "policy.horizonDays",
            json!({"policy": {"horizonDays": 4000}}),
        ),
    ];
    for (field, bad) in cases {
        let mut create = json!({"siteId": site, "name": "Fine"});
        let mut update = json!({"id": existing, "name": "Fine"});
        for (k, v) in bad.as_object().expect("bad") {
            create[k] = v.clone();
            update[k] = v.clone();
        }
        room_mutation(&app, &token, "createRoom", create)
            .await
            .assert_error("VALIDATION", Some(field));
        room_mutation(&app, &token, "updateRoom", update)
            .await
            .assert_error("VALIDATION", Some(field));
    }
    assert_eq!(
        ids(&rooms_of(&app, &token, &site).await.ok()["rooms"]),
        vec![existing.clone()]
    );
    assert_eq!(
        read_room(&app, &token, &existing).await.ok()["room"],
        before
    );
}

#[tokio::test]
async fn editing_rooms_needs_rooms_edit_and_seeing_them_needs_their_site() {
    let app = TestApp::spawn().await;
    let (company, site) = setup(&app, "Guarded Rooms").await;
    let token = company.admin_token.clone();
    let other_site = app.create_site(&token, &company.id, "Other").await;
    let room = app.create_room(&token, &site, "Room").await;
    let hidden_room = app.create_room(&token, &other_site, "Hidden").await;
    let (_, reader) = app
        .member(
            &token,
            &company.id,
            json!({"rooms": "READ", "bookings": "SELF"}),
            json!({"siteIds": [site]}),
        )
        .await;
    let before = read_room(&app, &token, &room).await.ok()["room"].clone();

    // They see the room of their site, but may not change it nor add one.
    assert_eq!(read_room(&app, &reader, &room).await.ok()["room"], before);
    room_mutation(
        &app,
        &reader,
        "createRoom",
        json!({"siteId": site, "name": "Mine"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    room_mutation(
        &app,
        &reader,
        "updateRoom",
        json!({"id": room, "name": "Renamed"}),
    )
    .await
    .assert_error("FORBIDDEN", None);

    // Rooms of a site they have no access to do not exist for them.
    let r = read_room(&app, &reader, &hidden_room).await;
    r.assert_error("NOT_FOUND", None);
    assert_eq!(r.data["room"], Value::Null);
    rooms_of(&app, &reader, &other_site)
        .await
        .assert_error("NOT_FOUND", None);
    room_mutation(
        &app,
        &reader,
        "updateRoom",
        json!({"id": hidden_room, "name": "Renamed"}),
    )
    .await
    .assert_error("NOT_FOUND", None);

    assert_eq!(read_room(&app, &token, &room).await.ok()["room"], before);
    assert_eq!(
        read_room(&app, &token, &hidden_room).await.ok()["room"]["name"],
        json!("Hidden")
    );
    assert_eq!(
        rooms_of(&app, &token, &site).await.ok()["rooms"],
        json!([before])
    );
}
