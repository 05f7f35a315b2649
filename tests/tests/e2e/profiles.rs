//! Profiles (roles): the built-in Enterprise profile of every organization, custom profiles and
//! their lifecycle, the default profile, and the no-escalation rules.

use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};

use crate::support::{ids, text};

const PROFILE_FIELDS: &str = "id name builtIn isDefault organization { id }
    permissions { users profiles sites rooms bookings billing clients audit modules }";

async fn profiles(app: &TestApp, token: &str, org_id: Option<&str>) -> Vec<Value> {
    let query = format!("query($o: ID) {{ profiles(organizationId: $o) {{ {PROFILE_FIELDS} }} }}");
    let r = app.gql(Some(token), &query, json!({"o": org_id})).await;
    r.ok()["profiles"].as_array().expect("profiles").clone()
}

async fn mutate(app: &TestApp, token: &str, name: &str, input: Value) -> Gql {
    let selection = match name {
        "deleteProfile" => "deletedId".to_owned(),
        "setDefaultProfile" => "organization { id defaultProfile { id } }".to_owned(),
        _ => format!("profile {{ {PROFILE_FIELDS} }}"),
    };
    let input_type = format!("{}{}Input", name[..1].to_uppercase(), &name[1..]);
    let query = format!("mutation($i: {input_type}!) {{ {name}(input: $i) {{ {selection} }} }}");
    app.gql(Some(token), &query, json!({"i": input})).await
}

/// A permission set with its modules in a stable order, for comparisons.
fn normalized(mut permissions: Value) -> Value {
    if let Some(modules) = permissions["modules"].as_array_mut() {
        modules.sort_by_key(|m| m.to_string());
    }
    permissions
}

fn named<'a>(list: &'a [Value], name: &str) -> &'a Value {
    list.iter()
        .find(|p| p["name"] == json!(name))
        .unwrap_or_else(|| panic!("no profile named {name} in {list:#?}"))
}

async fn enterprise_id(app: &TestApp, org: &Org) -> String {
    text(&named(&profiles(app, &org.admin_token, None).await, "Enterprise")["id"])
}

#[tokio::test]
async fn every_organization_has_the_built_in_enterprise_profile_as_its_default() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Builtin").await;

    let list = profiles(&app, &company.admin_token, None).await;
    assert_eq!(list.len(), 1);
    let enterprise = &list[0];
    assert_eq!(enterprise["name"], json!("Enterprise"));
    assert_eq!(enterprise["builtIn"], json!(true));
    assert_eq!(enterprise["isDefault"], json!(true));
    assert_eq!(enterprise["organization"]["id"], json!(company.id));
    let mut permissions = enterprise["permissions"].clone();
    let mut modules: Vec<String> =
        serde_json::from_value(permissions["modules"].take()).expect("modules");
    modules.sort();
    assert_eq!(modules, vec!["analytics", "directory", "rooms"]);
    assert_eq!(
        permissions,
        json!({"users": "MANAGE", "profiles": "EDIT", "sites": "EDIT", "rooms": "EDIT",
            "bookings": "ALL", "billing": "READ", "clients": "NONE", "audit": "READ", "modules": null})
    );
    let org = app
        .gql(
            Some(&company.admin_token),
            "query($id: ID!) { organization(id: $id) { defaultProfile { id } } }",
            json!({"id": company.id}),
        )
        .await;
    assert_eq!(
        org.ok()["organization"]["defaultProfile"]["id"],
        enterprise["id"]
    );

    // A partner's holds the partner rights; the partner reads its client's too.
    let own = profiles(&app, &partner.admin_token, None).await;
    let partner_enterprise = named(&own, "Enterprise");
    assert_eq!(partner_enterprise["builtIn"], json!(true));
    assert_eq!(partner_enterprise["isDefault"], json!(true));
    assert_eq!(partner_enterprise["permissions"]["billing"], json!("EDIT"));
    assert_eq!(
        partner_enterprise["permissions"]["clients"],
        json!("MANAGE")
    );
    assert!(
        partner_enterprise["permissions"]["modules"]
            .as_array()
            .expect("modules")
            .contains(&json!("partner"))
    );
    let theirs = profiles(&app, &partner.admin_token, Some(&company.id)).await;
    assert_eq!(ids(&json!(theirs)), vec![text(&enterprise["id"])]);
}

#[tokio::test]
async fn profiles_are_created_updated_and_deleted() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Roles").await;
    let token = company.admin_token.clone();

    let permissions = TestApp::permissions(
        json!({"users": "READ", "bookings": "OTHERS", "rooms": "READ", "modules": ["rooms"]}),
    );
    let r = mutate(
        &app,
        &token,
        "createProfile",
        json!({"organizationId": company.id, "name": "  Receptionist ", "permissions": permissions}),
    )
    .await;
    let created = r.ok()["createProfile"]["profile"].clone();
    let id = text(&created["id"]);
    assert_eq!(created["name"], json!("Receptionist"));
    assert_eq!(created["builtIn"], json!(false));
    assert_eq!(created["isDefault"], json!(false));
    assert_eq!(created["organization"]["id"], json!(company.id));
    assert_eq!(
        normalized(created["permissions"].clone()),
        normalized(permissions)
    );
    assert_eq!(
        named(&profiles(&app, &token, None).await, "Receptionist"),
        &created
    );

    let changed = TestApp::permissions(json!({"users": "INVITE_WITH_APPROVAL", "bookings": "SELF",
        "sites": "READ", "modules": ["directory", "rooms"]}));
    let r = mutate(
        &app,
        &token,
        "updateProfile",
        json!({"id": id, "name": "Front desk", "permissions": changed}),
    )
    .await;
    let updated = r.ok()["updateProfile"]["profile"].clone();
    assert_eq!(updated["name"], json!("Front desk"));
    assert_eq!(
        normalized(updated["permissions"].clone()),
        normalized(changed)
    );
    assert_eq!(
        named(&profiles(&app, &token, None).await, "Front desk"),
        &updated
    );

    let r = mutate(&app, &token, "deleteProfile", json!({"id": id})).await;
    assert_eq!(r.ok()["deleteProfile"]["deletedId"], json!(id));
    let left = profiles(&app, &token, None).await;
    assert_eq!(left.len(), 1, "only Enterprise is left: {left:#?}");

    for action in ["profile.created", "profile.updated", "profile.deleted"] {
        let events = app.audit_events(&token, action).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0]["targetId"], json!(id), "{action}");
        assert_eq!(
            events[0]["actor"]["id"],
            json!(company.admin_id),
            "{action}"
        );
    }
}

#[tokio::test]
async fn the_default_profile_is_what_new_users_get() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Defaulted").await;
    let token = company.admin_token.clone();
    let enterprise = enterprise_id(&app, &company).await;
    let staff = app
        .create_profile(
            &token,
            &company.id,
            "Staff",
            json!({"users": "READ", "bookings": "SELF"}),
        )
        .await;

    let r = mutate(
        &app,
        &token,
        "setDefaultProfile",
        json!({"organizationId": company.id, "profileId": staff}),
    )
    .await;
    assert_eq!(
        r.ok()["setDefaultProfile"]["organization"]["defaultProfile"]["id"],
        json!(staff)
    );
    let list = profiles(&app, &token, None).await;
    assert_eq!(named(&list, "Staff")["isDefault"], json!(true));
    assert_eq!(named(&list, "Enterprise")["isDefault"], json!(false));

    let created = app
        .gql(
            Some(&token),
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { profile { id } } } }",
            json!({"i": {"organizationId": company.id, "firstName": "New", "lastName": "Hire",
                "email": "hire@defaulted.test"}}),
        )
        .await;
    assert_eq!(
        created.ok()["createUser"]["user"]["profile"]["id"],
        json!(staff)
    );

    // The default cannot be deleted; Enterprise can become the default again.
    mutate(&app, &token, "deleteProfile", json!({"id": staff}))
        .await
        .assert_error("CONFLICT", None);
    assert_eq!(profiles(&app, &token, None).await.len(), 2);
    mutate(
        &app,
        &token,
        "setDefaultProfile",
        json!({"organizationId": company.id, "profileId": enterprise}),
    )
    .await
    .ok();
    assert_eq!(
        named(&profiles(&app, &token, None).await, "Enterprise")["isDefault"],
        json!(true)
    );
}

#[tokio::test]
async fn the_built_in_profile_can_be_neither_changed_nor_deleted() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Fixed").await;
    let enterprise = enterprise_id(&app, &company).await;
    let before = profiles(&app, &company.admin_token, None).await;
    let lesser = TestApp::permissions(json!({"users": "READ"}));
    // Neither by the company's administrator nor by its partner.
    for token in [&company.admin_token, &partner.admin_token] {
        for input in [
            json!({"id": enterprise, "name": "Renamed"}),
            json!({"id": enterprise, "permissions": lesser}),
        ] {
            mutate(&app, token, "updateProfile", input)
                .await
                .assert_error("FORBIDDEN", None);
        }
        mutate(&app, token, "deleteProfile", json!({"id": enterprise}))
            .await
            .assert_error("FORBIDDEN", None);
    }
    assert_eq!(profiles(&app, &company.admin_token, None).await, before);
}

#[tokio::test]
async fn a_profile_in_use_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Busy").await;
    let token = company.admin_token.clone();
    let held = app
        .create_profile(&token, &company.id, "Held", json!({"users": "READ"}))
        .await;
    let spare = app
        .create_profile(&token, &company.id, "Spare", json!({"users": "READ"}))
        .await;
    let holder = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Hol", "lastName": "Der", "email": "holder@busy.test", "profileId": held}),
        )
        .await;
    mutate(&app, &token, "deleteProfile", json!({"id": held}))
        .await
        .assert_error("CONFLICT", None);
    assert!(ids(&json!(profiles(&app, &token, None).await)).contains(&held));

    // Once nobody holds it, it goes.
    app.gql(
        Some(&token),
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
        json!({"i": {"id": holder["user"]["id"], "profileId": spare}}),
    )
    .await
    .ok();
    mutate(&app, &token, "deleteProfile", json!({"id": held}))
        .await
        .ok();
    assert!(!ids(&json!(profiles(&app, &token, None).await)).contains(&held));
}

#[tokio::test]
async fn bad_profile_inputs_name_their_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Checked").await;
    let token = company.admin_token.clone();
    let existing = app
        .create_profile(&token, &company.id, "Existing", json!({"users": "READ"}))
        .await;
    let before = profiles(&app, &token, None).await;
    let cases = [
        ("name", json!("  "), json!({})),
        ("name", json!("x".repeat(201)), json!({})),
        (
            "permissions.modules",
            json!("Ok"),
            json!({"modules": ["teleport"]}),
        ),
        // More than a company may hold at all.
        (
            "permissions.clients",
            json!("Ok"),
            json!({"clients": "READ"}),
        ),
        (
            "permissions.billing",
            json!("Ok"),
            json!({"billing": "EDIT"}),
        ),
        (
            "permissions.modules",
            json!("Ok"),
            json!({"modules": ["partner"]}),
        ),
    ];
    for (field, name, overrides) in cases {
        let permissions = TestApp::permissions(overrides);
        mutate(
            &app,
            &token,
            "createProfile",
            json!({"organizationId": company.id, "name": name, "permissions": permissions}),
        )
        .await
        .assert_error("VALIDATION", Some(field));
        mutate(
            &app,
            &token,
            "updateProfile",
            json!({"id": existing, "name": name, "permissions": permissions}),
        )
        .await
        .assert_error("VALIDATION", Some(field));
    }
    assert_eq!(profiles(&app, &token, None).await, before);
}

#[tokio::test]
async fn nobody_creates_or_edits_a_profile_richer_than_their_own() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Escalation").await;
    let token = company.admin_token.clone();
    let editor_rights = json!({"profiles": "EDIT", "users": "READ", "modules": ["directory"]});
    let (_, editor) = app
        .member(&token, &company.id, editor_rights.clone(), json!({}))
        .await;
    let lesser = app
        .create_profile(&token, &company.id, "Lesser", json!({"users": "READ"}))
        .await;
    let richer = app
        .create_profile(&token, &company.id, "Richer", json!({"users": "MANAGE"}))
        .await;
    let before = profiles(&app, &token, None).await;

    for overrides in [
        json!({"users": "MANAGE"}),
        json!({"audit": "READ"}),
        json!({"modules": ["rooms"]}),
    ] {
        let permissions = TestApp::permissions(overrides);
        mutate(
            &app,
            &editor,
            "createProfile",
            json!({"organizationId": company.id, "name": "Sneaky", "permissions": permissions}),
        )
        .await
        .assert_error("FORBIDDEN", None);
        mutate(
            &app,
            &editor,
            "updateProfile",
            json!({"id": lesser, "permissions": permissions}),
        )
        .await
        .assert_error("FORBIDDEN", None);
    }
    // A profile above them is out of their hands, and so is making it the default.
    mutate(
        &app,
        &editor,
        "updateProfile",
        json!({"id": richer, "name": "Renamed"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    mutate(&app, &editor, "deleteProfile", json!({"id": richer}))
        .await
        .assert_error("FORBIDDEN", None);
    mutate(
        &app,
        &editor,
        "setDefaultProfile",
        json!({"organizationId": company.id, "profileId": richer}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    assert_eq!(profiles(&app, &token, None).await, before);

    // Up to their own rights, they may.
    let r = mutate(
        &app,
        &editor,
        "createProfile",
        json!({"organizationId": company.id, "name": "Peer",
            "permissions": TestApp::permissions(editor_rights)}),
    )
    .await;
    assert_eq!(r.ok()["createProfile"]["profile"]["name"], json!("Peer"));
}

#[tokio::test]
async fn reading_profiles_is_not_editing_them() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Viewers").await;
    let token = company.admin_token.clone();
    let (_, viewer) = app
        .member(&token, &company.id, json!({"profiles": "READ"}), json!({}))
        .await;
    let (_, nobody) = app
        .member(&token, &company.id, json!({"bookings": "SELF"}), json!({}))
        .await;
    let before = profiles(&app, &token, None).await;
    assert_eq!(profiles(&app, &viewer, None).await, before);

    mutate(
        &app,
        &viewer,
        "createProfile",
        json!({"organizationId": company.id, "name": "Mine",
            "permissions": TestApp::permissions(json!({}))}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    let any = text(&before[1]["id"]);
    mutate(&app, &viewer, "deleteProfile", json!({"id": any}))
        .await
        .assert_error("FORBIDDEN", None);
    let r = app
        .gql(Some(&nobody), "{ profiles { id } }", json!({}))
        .await;
    r.assert_error("FORBIDDEN", None);
    assert_eq!(profiles(&app, &token, None).await, before);
}
