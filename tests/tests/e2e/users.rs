//! Users: creation with credentials shown once (e-mail or username login), reading and listing
//! them (a Relay connection with filters), updating, deactivating and reactivating, and who may do
//! which of these.

use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};

use crate::support::{ids, node_ids, text};

const USER_FIELDS: &str = "id firstName lastName displayName email username login language status
    mustChangePassword hasBookingCode externalContact photoUrl organization { id } profile { id }
    sites { id } siteGroups { id } effectiveSites { id } defaultSite { id } createdBy { id }";

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken mustChangePassword user { id login } } }";

fn create_query() -> String {
    format!(
        "mutation($i: CreateUserInput!) {{ createUser(input: $i) {{ user {{ {USER_FIELDS} }}
        credentials {{ login temporaryPassword bookingCode }} }} }}"
    )
}

fn update_query() -> String {
    format!(
        "mutation($i: UpdateUserInput!) {{ updateUser(input: $i) {{ user {{ {USER_FIELDS} }} }} }}"
    )
}

async fn create(app: &TestApp, token: &str, org_id: &str, mut input: Value) -> Gql {
    input["organizationId"] = json!(org_id);
    app.gql(Some(token), &create_query(), json!({"i": input}))
        .await
}

async fn update(app: &TestApp, token: &str, input: Value) -> Gql {
    app.gql(Some(token), &update_query(), json!({"i": input}))
        .await
}

async fn read(app: &TestApp, token: &str, id: &str) -> Value {
    let query = format!("query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}");
    app.gql(Some(token), &query, json!({"id": id})).await.ok()["user"].clone()
}

async fn list(app: &TestApp, token: &str, filter: Value) -> Vec<String> {
    let r = app
        .gql(
            Some(token),
            "query($f: UserFilter) { users(filter: $f, first: 200) { edges { node { id } } } }",
            json!({"f": filter}),
        )
        .await;
    node_ids(&r.ok()["users"])
}

async fn user_mutation(app: &TestApp, token: &str, name: &str, user_id: &str) -> Gql {
    let query =
        format!("mutation($i: UserIdInput!) {{ {name}(input: $i) {{ user {{ id status }} }} }}");
    app.gql(Some(token), &query, json!({"i": {"userId": user_id}}))
        .await
}

/// A profile for people who only book rooms (no e-mail needed): users NONE.
async fn booker_profile(app: &TestApp, org: &Org) -> String {
    app.create_profile(
        &org.admin_token,
        &org.id,
        "Booker",
        json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
    )
    .await
}

async fn new_user(app: &TestApp, org: &Org, input: Value) -> String {
    text(&app.create_user(&org.admin_token, &org.id, input).await["user"]["id"])
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test]
async fn creating_a_user_returns_credentials_once_and_persists_every_field() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Makers").await;
    let token = company.admin_token.clone();
    let s1 = app.create_site(&token, &company.id, "North").await;
    let s2 = app.create_site(&token, &company.id, "South").await;
    let group = app
        .create_site_group(&token, &company.id, "Southern", &[&s2])
        .await;
    let profile = app
        .create_profile(
            &token,
            &company.id,
            "Staff",
            json!({"users": "READ", "bookings": "SELF", "rooms": "READ"}),
        )
        .await;
    let before = app.user_count(&token, &company.id).await;

    let r = create(
        &app,
        &token,
        &company.id,
        json!({"firstName": "Ada", "lastName": "Lovelace", "email": " Ada@Example.TEST ",
            "language": "FR", "profileId": profile, "siteIds": [s1], "siteGroupIds": [group],
            "defaultSiteId": s2, "externalContact": "Contractor", "photoUrl": "https://img.test/ada.png"}),
    )
    .await;
    let payload = r.ok()["createUser"].clone();
    let user = payload["user"].clone();
    let id = text(&user["id"]);
    let expected = json!({"id": id, "firstName": "Ada", "lastName": "Lovelace",
        "displayName": "Ada Lovelace", "email": "ada@example.test", "username": null,
        "login": "ada@example.test", "language": "FR", "status": "ACTIVE",
        "mustChangePassword": true, "hasBookingCode": true, "externalContact": "Contractor",
        "photoUrl": "https://img.test/ada.png", "organization": {"id": company.id},
        "profile": {"id": profile}, "sites": [{"id": s1}], "siteGroups": [{"id": group}],
        "effectiveSites": sorted(vec![s1.clone(), s2.clone()]).iter().map(|s| json!({"id": s})).collect::<Vec<_>>(),
        "defaultSite": {"id": s2}, "createdBy": {"id": company.admin_id}});
    assert_eq!(user, expected);
    let credentials = &payload["credentials"];
    assert_eq!(credentials["login"], json!("ada@example.test"));
    let password = text(&credentials["temporaryPassword"]);
    assert!(password.len() >= 10, "a strong temporary password");
    let code = text(&credentials["bookingCode"]);
    assert!(code.chars().all(|c| c.is_ascii_digit()) && !code.is_empty());

    // Persisted: read back and listed.
    assert_eq!(read(&app, &token, &id).await, expected);
    assert_eq!(app.user_count(&token, &company.id).await, before + 1);
    assert!(list(&app, &token, json!({})).await.contains(&id));

    // The person signs in with what was shown once, and must change the password.
    let r = app
        .gql(None, LOGIN, json!({"l": "ADA@example.test", "p": password}))
        .await;
    assert_eq!(r.ok()["login"]["user"]["id"], json!(id));
    assert_eq!(r.ok()["login"]["mustChangePassword"], json!(true));

    let events = app.audit_events(&token, "user.created").await;
    let event = events
        .iter()
        .find(|e| e["targetId"] == json!(id))
        .expect("a user.created event");
    assert_eq!(event["targetType"], json!("User"));
    assert_eq!(event["actor"]["id"], json!(company.admin_id));
    assert_eq!(event["organization"]["id"], json!(company.id));
}

#[tokio::test]
async fn a_username_user_gets_a_six_digit_password_and_signs_in_in_any_case() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Pins").await;
    let profile = booker_profile(&app, &company).await;
    let r = create(
        &app,
        &company.admin_token,
        &company.id,
        json!({"firstName": "Jo", "lastName": "Doe", "username": "J.Doe_1", "profileId": profile}),
    )
    .await;
    let payload = r.ok()["createUser"].clone();
    assert_eq!(payload["user"]["username"], json!("j.doe_1"));
    assert_eq!(payload["user"]["email"], Value::Null);
    assert_eq!(payload["user"]["login"], json!("j.doe_1"));
    assert_eq!(payload["user"]["mustChangePassword"], json!(true));
    assert_eq!(payload["credentials"]["login"], json!("j.doe_1"));
    let pin = text(&payload["credentials"]["temporaryPassword"]);
    assert_eq!(pin.len(), 6, "{pin}");
    assert!(pin.chars().all(|c| c.is_ascii_digit()), "{pin}");

    let r = app
        .gql(None, LOGIN, json!({"l": "J.DOE_1", "p": pin}))
        .await;
    assert_eq!(r.ok()["login"]["user"]["login"], json!("j.doe_1"));
    assert_eq!(r.ok()["login"]["mustChangePassword"], json!(true));
    let stored = read(&app, &company.admin_token, &text(&payload["user"]["id"])).await;
    assert_eq!(stored["username"], json!("j.doe_1"));
    assert_eq!(stored["mustChangePassword"], json!(true));
}

#[tokio::test]
async fn credentials_cannot_be_read_by_any_query() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Secretive").await;
    let token = company.admin_token.clone();
    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Sam", "lastName": "Secret", "email": "sam@secret.test"}),
        )
        .await;
    let id = text(&created["user"]["id"]);
    let password = text(&created["credentials"]["temporaryPassword"]);
    let code = text(&created["credentials"]["bookingCode"]);
    let sam = app.login("sam@secret.test", &password).await;

    let everything = format!(
        "query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} me {{ {USER_FIELDS} }}
        users {{ edges {{ node {{ {USER_FIELDS} }} }} }}
        auditEvents {{ edges {{ node {{ action targetType targetId ip actor {{ {USER_FIELDS} }} }} }} }} }}"
    );
    let as_admin = app.gql(Some(&token), &everything, json!({"id": id})).await;
    let as_sam = app
        .gql(Some(&sam), "{ me { id login hasBookingCode } }", json!({}))
        .await;
    for dump in [json!(as_admin.ok()), json!(as_sam.ok())] {
        let dump = dump.to_string();
        assert!(!dump.contains(&password), "the password is readable");
        assert!(!dump.contains(&code), "the booking code is readable");
    }
    assert_eq!(as_sam.ok()["me"]["hasBookingCode"], json!(true));

    // No field of a user could carry them.
    let r = app
        .gql(
            Some(&token),
            "{ __type(name: \"User\") { fields { name } } }",
            json!({}),
        )
        .await;
    let names: Vec<String> = r.ok()["__type"]["fields"]
        .as_array()
        .expect("fields")
        .iter()
        .map(|f| text(&f["name"]).to_lowercase())
        .collect();
    let suspicious: Vec<&String> = names
        .iter()
        .filter(|n| {
            (n.contains("password") && *n != "mustchangepassword")
                || (n.contains("code") && *n != "hasbookingcode")
                || n.contains("secret")
                || n.contains("hash")
        })
        .collect();
    assert!(suspicious.is_empty(), "{suspicious:?}");
}

#[tokio::test]
async fn the_default_site_must_be_one_of_the_users_sites() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Defaults").await;
    let token = company.admin_token.clone();
    let granted = app.create_site(&token, &company.id, "Granted").await;
    let other = app.create_site(&token, &company.id, "Other").await;
    let before = app.user_count(&token, &company.id).await;
    create(
        &app,
        &token,
        &company.id,
        json!({"firstName": "D", "lastName": "S", "email": "ds@defaults.test",
            "siteIds": [granted], "defaultSiteId": other}),
    )
    .await
    .assert_error("VALIDATION", Some("defaultSiteId"));
    assert_eq!(app.user_count(&token, &company.id).await, before);

    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "D", "lastName": "S", "email": "ds@defaults.test",
                "siteIds": [granted], "defaultSiteId": granted}),
        )
        .await;
    let id = text(&created["user"]["id"]);
    update(&app, &token, json!({"id": id, "defaultSiteId": other}))
        .await
        .assert_error("VALIDATION", Some("defaultSiteId"));
    assert_eq!(
        read(&app, &token, &id).await["defaultSite"],
        json!({"id": granted})
    );
}

#[tokio::test]
async fn bad_user_inputs_name_their_field_and_create_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Picky").await;
    let token = company.admin_token.clone();
    let booker = booker_profile(&app, &company).await;
    let with_email = |overrides: Value| {
        let mut input = json!({"firstName": "Val", "lastName": "Id", "email": "val@picky.test"});
        for (k, v) in overrides.as_object().expect("overrides") {
            input[k] = v.clone();
        }
        input
    };
    let with_username = |username: Value| json!({"firstName": "Val", "lastName": "Id", "username": username, "profileId": booker});
    let cases = vec![
        ("firstName", with_email(json!({"firstName": ""}))),
        ("lastName", with_email(json!({"lastName": "   "}))),
        (
            "firstName",
            with_email(json!({"firstName": "x".repeat(201)})),
        ),
        ("email", with_email(json!({"email": "not-an-email"}))),
        ("email", with_email(json!({"email": "a b@picky.test"}))),
        ("email", with_email(json!({"email": "val@picky"}))),
        (
            "photoUrl",
            with_email(json!({"photoUrl": "ftp://files.test/a.png"})),
        ),
        ("username", with_username(json!("ab"))),
        ("username", with_username(json!("jean dupont"))),
        ("username", with_username(json!("-abc"))),
        ("username", with_username(json!("jean@picky.test"))),
        // Neither e-mail nor username: nothing to sign in with.
        ("username", with_username(Value::Null)),
        // The default profile (Enterprise) may add users: its holder needs an e-mail.
        (
            "email",
            json!({"firstName": "Val", "lastName": "Id", "username": "valid.name"}),
        ),
    ];
    let before = app.user_count(&token, &company.id).await;
    for (field, input) in cases {
        create(&app, &token, &company.id, input.clone())
            .await
            .assert_error("VALIDATION", Some(field));
    }
    assert_eq!(app.user_count(&token, &company.id).await, before);
}

#[tokio::test]
async fn duplicate_logins_are_conflicts_on_their_field_whatever_the_case() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Unique").await;
    let (_, elsewhere) = app.company("Elsewhere").await;
    let token = company.admin_token.clone();
    let booker = booker_profile(&app, &company).await;
    app.create_user(
        &token,
        &company.id,
        json!({"firstName": "A", "lastName": "A", "email": "taken@unique.test"}),
    )
    .await;
    app.create_user(
        &token,
        &company.id,
        json!({"firstName": "B", "lastName": "B", "username": "taken.name", "profileId": booker}),
    )
    .await;
    let free = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "C", "lastName": "C", "email": "free@unique.test"}),
        )
        .await;
    let free_id = text(&free["user"]["id"]);
    let before = app.user_count(&token, &company.id).await;

    let cases = [
        ("email", json!({"email": "TAKEN@Unique.test"})),
        (
            "email",
            json!({"email": elsewhere.admin_email.to_uppercase()}),
        ),
        (
            "username",
            json!({"username": "Taken.NAME", "profileId": booker}),
        ),
    ];
    for (field, login) in cases {
        let mut input = json!({"firstName": "Dup", "lastName": "Licate"});
        for (k, v) in login.as_object().expect("login") {
            input[k] = v.clone();
        }
        create(&app, &token, &company.id, input)
            .await
            .assert_error("CONFLICT", Some(field));
    }
    assert_eq!(app.user_count(&token, &company.id).await, before);

    update(
        &app,
        &token,
        json!({"id": free_id, "email": "Taken@unique.TEST", "firstName": "Changed"}),
    )
    .await
    .assert_error("CONFLICT", Some("email"));
    let stored = read(&app, &token, &free_id).await;
    assert_eq!(stored["email"], json!("free@unique.test"));
    assert_eq!(stored["firstName"], json!("C"));
}

#[tokio::test]
async fn users_are_a_relay_connection_with_cursors() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Paged").await;
    let token = company.admin_token.clone();
    for i in 0..5 {
        app.create_user(
            &token,
            &company.id,
            json!({"firstName": "P", "lastName": format!("{i}"), "email": format!("p{i}@paged.test")}),
        )
        .await;
    }
    let all = list(&app, &token, json!({})).await;
    assert_eq!(all.len(), 6);

    let query = "query($first: Int, $after: String) { users(first: $first, after: $after) {
        totalCount edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = app
            .gql(Some(&token), query, json!({"first": 2, "after": after}))
            .await;
        let page = r.ok()["users"].clone();
        pages += 1;
        assert_eq!(page["totalCount"], json!(6));
        assert_eq!(page["pageInfo"]["hasPreviousPage"], json!(after.is_some()));
        let edges = page["edges"].as_array().expect("edges");
        assert_eq!(edges.len(), 2);
        assert_eq!(page["pageInfo"]["endCursor"], edges[1]["cursor"]);
        assert_eq!(page["pageInfo"]["startCursor"], edges[0]["cursor"]);
        seen.extend(node_ids(&page));
        if page["pageInfo"]["hasNextPage"] == json!(false) {
            break;
        }
        after = Some(text(&page["pageInfo"]["endCursor"]));
        assert!(pages < 5, "pagination does not end");
    }
    assert_eq!(pages, 3);
    assert_eq!(seen, all, "every user once, oldest first");
}

#[tokio::test]
async fn users_filter_by_search_status_site_and_profile() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Filtered").await;
    let token = company.admin_token.clone();
    let s1 = app.create_site(&token, &company.id, "One").await;
    let s2 = app.create_site(&token, &company.id, "Two").await;
    let group = app
        .create_site_group(&token, &company.id, "Second", &[&s2])
        .await;
    let booker = booker_profile(&app, &company).await;
    let make = |input: Value| new_user(&app, &company, input);
    let ada = make(json!({"firstName": "Ada", "lastName": "Lovelace",
        "email": "ada@math.test", "siteIds": [s1]}))
    .await;
    let alan = make(json!({"firstName": "Alan", "lastName": "Turing",
        "email": "alan@code.test", "siteGroupIds": [group]}))
    .await;
    let grace = make(json!({"firstName": "Grace", "lastName": "Hopper",
        "username": "ghopper", "profileId": booker}))
    .await;
    user_mutation(&app, &token, "deactivateUser", &alan)
        .await
        .ok();

    let cases = [
        (json!({"search": "LOVE"}), vec![&ada]),
        (json!({"search": "alan"}), vec![&alan]),
        (json!({"search": "Code.TEST"}), vec![&alan]),
        (json!({"search": "GHOP"}), vec![&grace]),
        (json!({"search": "  ada  "}), vec![&ada]),
        (json!({"search": "nobody-at-all"}), vec![]),
        (json!({"status": "INACTIVE"}), vec![&alan]),
        (json!({"siteId": s1}), vec![&ada]),
        (json!({"siteId": s2}), vec![&alan]),
        (json!({"profileId": booker}), vec![&grace]),
        (json!({"search": "a", "status": "INACTIVE"}), vec![&alan]),
    ];
    for (filter, expected) in cases {
        let found = list(&app, &token, filter.clone()).await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(found, expected, "filter {filter}");
    }
    let active = list(&app, &token, json!({"status": "ACTIVE"})).await;
    assert!(active.contains(&ada) && active.contains(&company.admin_id));
    assert!(!active.contains(&alan));
}

#[tokio::test]
async fn updating_a_user_changes_what_everyone_reads() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Changes").await;
    let token = company.admin_token.clone();
    let s1 = app.create_site(&token, &company.id, "First").await;
    let s2 = app.create_site(&token, &company.id, "Second").await;
    let group = app
        .create_site_group(&token, &company.id, "Group", &[&s2])
        .await;
    let booker = booker_profile(&app, &company).await;
    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Old", "lastName": "Name", "email": "old@changes.test",
                "siteIds": [s1], "defaultSiteId": s1}),
        )
        .await;
    let id = text(&created["user"]["id"]);

    let r = update(
        &app,
        &token,
        json!({"id": id, "firstName": "New", "lastName": "Person", "email": "New@Changes.test",
            "language": "FR", "profileId": booker, "siteIds": [], "siteGroupIds": [group],
            "defaultSiteId": s2, "externalContact": "Agency", "photoUrl": "https://img.test/n.png"}),
    )
    .await;
    let user = r.ok()["updateUser"]["user"].clone();
    let expected = json!({"firstName": "New", "lastName": "Person", "displayName": "New Person",
        "email": "new@changes.test", "login": "new@changes.test", "language": "FR",
        "profile": {"id": booker}, "sites": [], "siteGroups": [{"id": group}],
        "effectiveSites": [{"id": s2}], "defaultSite": {"id": s2},
        "externalContact": "Agency", "photoUrl": "https://img.test/n.png"});
    let stored = read(&app, &token, &id).await;
    for (field, value) in expected.as_object().expect("expected") {
        assert_eq!(&user[field], value, "payload {field}");
        assert_eq!(&stored[field], value, "stored {field}");
    }
    // The new e-mail is the login now.
    let r = app
        .gql(
            None,
            LOGIN,
            json!({"l": "new@changes.test", "p": text(&created["credentials"]["temporaryPassword"])}),
        )
        .await;
    assert_eq!(r.ok()["login"]["user"]["id"], json!(id));

    let events = app.audit_events(&token, "user.updated").await;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["targetId"], json!(id));
    assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
}

#[tokio::test]
async fn a_username_never_changes() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Immutable").await;
    let token = company.admin_token.clone();
    let booker = booker_profile(&app, &company).await;
    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Kim", "lastName": "Lee", "username": "kim.lee", "profileId": booker}),
        )
        .await;
    let id = text(&created["user"]["id"]);
    let kim = app
        .first_sign_in(
            "kim.lee",
            &text(&created["credentials"]["temporaryPassword"]),
        )
        .await;
    let before = read(&app, &token, &id).await;
    for username in ["kim.lee2", "KIM.LEE", ""] {
        update(
            &app,
            &token,
            json!({"id": id, "username": username, "firstName": "Changed"}),
        )
        .await
        .assert_error("VALIDATION", Some("username"));
    }
    // Not even the person themselves.
    update(&app, &kim, json!({"id": id, "username": "kimmy"}))
        .await
        .assert_error("VALIDATION", Some("username"));
    assert_eq!(read(&app, &token, &id).await, before);
}

#[tokio::test]
async fn deactivation_ends_sessions_at_once_and_reactivation_lets_the_user_back_in() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Leavers").await;
    let token = company.admin_token.clone();
    let created = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Lea", "lastName": "Ving", "email": "lea@leavers.test"}),
        )
        .await;
    let id = text(&created["user"]["id"]);
    let password = text(&created["credentials"]["temporaryPassword"]);
    let session = app
        .gql(None, LOGIN, json!({"l": "lea@leavers.test", "p": password}))
        .await;
    let access = text(&session.ok()["login"]["accessToken"]);
    let refresh = text(&session.ok()["login"]["refreshToken"]);
    assert!(
        app.gql(Some(&access), "{ me { id } }", json!({}))
            .await
            .errors
            .is_empty()
    );

    let r = user_mutation(&app, &token, "deactivateUser", &id).await;
    assert_eq!(
        r.ok()["deactivateUser"]["user"]["status"],
        json!("INACTIVE")
    );
    assert_eq!(read(&app, &token, &id).await["status"], json!("INACTIVE"));

    // The token in hand is refused at once, and so is its refresh token.
    app.gql(Some(&access), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    app.gql(
        None,
        "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) { accessToken } }",
        json!({"t": refresh}),
    )
    .await
    .assert_error("UNAUTHENTICATED", None);
    // Signing in fails exactly like a wrong password does.
    let right = app
        .gql(None, LOGIN, json!({"l": "lea@leavers.test", "p": password}))
        .await;
    let wrong = app
        .gql(
            None,
            LOGIN,
            json!({"l": "lea@leavers.test", "p": "wrong-password-1"}),
        )
        .await;
    right.assert_error("UNAUTHENTICATED", None);
    wrong.assert_error("UNAUTHENTICATED", None);
    assert_eq!(right.message(), wrong.message());
    assert_eq!(right.errors[0]["extensions"], wrong.errors[0]["extensions"]);

    let r = user_mutation(&app, &token, "reactivateUser", &id).await;
    assert_eq!(r.ok()["reactivateUser"]["user"]["status"], json!("ACTIVE"));
    assert_eq!(read(&app, &token, &id).await["status"], json!("ACTIVE"));
    // Old sessions stay dead; a new sign-in works.
    app.gql(Some(&access), "{ me { id } }", json!({}))
        .await
        .assert_error("UNAUTHENTICATED", None);
    let again = app.login("lea@leavers.test", &password).await;
    let me = app.gql(Some(&again), "{ me { id } }", json!({})).await;
    assert_eq!(me.ok()["me"]["id"], json!(id));
    // Reactivating an active user is a mistake.
    user_mutation(&app, &token, "reactivateUser", &id)
        .await
        .assert_error("VALIDATION", Some("userId"));

    for action in ["user.deactivated", "user.reactivated"] {
        let events = app.audit_events(&token, action).await;
        assert_eq!(events.len(), 1, "{action}");
        assert_eq!(events[0]["targetId"], json!(id));
        assert_eq!(events[0]["actor"]["id"], json!(company.admin_id));
    }
}

#[tokio::test]
async fn an_inactive_user_can_do_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Frozen").await;
    let (id, frozen) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"users": "MANAGE", "sites": "EDIT", "profiles": "EDIT"}),
            json!({}),
        )
        .await;
    user_mutation(&app, &company.admin_token, "deactivateUser", &id)
        .await
        .ok();
    let before = app.user_count(&company.admin_token, &company.id).await;
    let attempts = [
        ("{ me { id } }", json!({})),
        ("{ users { totalCount } }", json!({})),
        (
            "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
            json!({"i": {"organizationId": company.id, "name": "X", "timeZone": "UTC"}}),
        ),
        (
            "mutation($i: CreateUserInput!) { createUser(input: $i) { user { id } } }",
            json!({"i": {"organizationId": company.id, "firstName": "X", "lastName": "Y",
                "email": "xy@frozen.test"}}),
        ),
    ];
    for (query, vars) in attempts {
        app.gql(Some(&frozen), query, vars)
            .await
            .assert_error("UNAUTHENTICATED", None);
    }
    assert_eq!(
        app.user_count(&company.admin_token, &company.id).await,
        before
    );
    let sites = app
        .gql(
            Some(&company.admin_token),
            "{ sites { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(sites.ok()["sites"]["totalCount"], json!(0));
}

#[tokio::test]
async fn managers_cannot_deactivate_themselves() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Selfish").await;
    user_mutation(
        &app,
        &company.admin_token,
        "deactivateUser",
        &company.admin_id,
    )
    .await
    .assert_error("FORBIDDEN", None);
    let me = app
        .gql(Some(&company.admin_token), "{ me { status } }", json!({}))
        .await;
    assert_eq!(me.ok()["me"]["status"], json!("ACTIVE"));
}

#[tokio::test]
async fn reading_users_is_not_managing_them() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Readers").await;
    let token = company.admin_token.clone();
    let target = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Tar", "lastName": "Get", "email": "target@readers.test"}),
        )
        .await;
    let target_id = text(&target["user"]["id"]);
    let (_, reader) = app
        .member(&token, &company.id, json!({"users": "READ"}), json!({}))
        .await;
    assert_eq!(list(&app, &reader, json!({})).await.len(), 3);
    let before = (
        app.user_count(&token, &company.id).await,
        read(&app, &token, &target_id).await,
    );

    create(
        &app,
        &reader,
        &company.id,
        json!({"firstName": "New", "lastName": "Hire", "email": "hire@readers.test"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    update(
        &app,
        &reader,
        json!({"id": target_id, "firstName": "Renamed"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    user_mutation(&app, &reader, "deactivateUser", &target_id)
        .await
        .assert_error("FORBIDDEN", None);

    let after = (
        app.user_count(&token, &company.id).await,
        read(&app, &token, &target_id).await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn without_users_read_the_directory_is_closed() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Closed").await;
    let (own_id, nobody) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"bookings": "SELF"}),
            json!({}),
        )
        .await;
    let r = app
        .gql(Some(&nobody), "{ users { totalCount } }", json!({}))
        .await;
    r.assert_error("FORBIDDEN", None);
    assert_eq!(r.data, Value::Null);
    // Others do not exist for them; they still read themselves.
    let r = app
        .gql(
            Some(&nobody),
            "query($id: ID!) { user(id: $id) { id } }",
            json!({"id": company.admin_id}),
        )
        .await;
    r.assert_error("NOT_FOUND", None);
    assert_eq!(r.data["user"], Value::Null);
    assert_eq!(read(&app, &nobody, &own_id).await["id"], json!(own_id));
}

#[tokio::test]
async fn nobody_assigns_a_profile_richer_than_their_own() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Ladder").await;
    let token = company.admin_token.clone();
    let enterprise = text(
        &app.gql(Some(&token), "{ me { profile { id } } }", json!({}))
            .await
            .ok()["me"]["profile"]["id"],
    );
    let booker = booker_profile(&app, &company).await;
    let low = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Low", "lastName": "User", "username": "low.user", "profileId": booker}),
        )
        .await;
    let low_id = text(&low["user"]["id"]);
    // A manager of people who may not read the audit log.
    let (_, manager) = app
        .member(
            &token,
            &company.id,
            json!({"users": "MANAGE", "profiles": "READ", "sites": "EDIT", "rooms": "READ",
                "bookings": "SELF", "modules": ["directory", "rooms"]}),
            json!({}),
        )
        .await;
    let before = (
        app.user_count(&token, &company.id).await,
        read(&app, &token, &low_id).await,
    );

    let newcomer = json!({"firstName": "Rich", "lastName": "Kid", "email": "rich@ladder.test"});
    let mut explicit = newcomer.clone();
    explicit["profileId"] = json!(enterprise);
    for input in [explicit, newcomer] {
        // Explicitly, or by the organization's default (Enterprise).
        create(&app, &manager, &company.id, input)
            .await
            .assert_error("FORBIDDEN", None);
    }
    update(
        &app,
        &manager,
        json!({"id": low_id, "profileId": enterprise}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    // Nor touch someone who holds more than they do.
    update(
        &app,
        &manager,
        json!({"id": company.admin_id, "firstName": "Demoted"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    user_mutation(&app, &manager, "deactivateUser", &company.admin_id)
        .await
        .assert_error("FORBIDDEN", None);

    let after = (
        app.user_count(&token, &company.id).await,
        read(&app, &token, &low_id).await,
    );
    assert_eq!(before, after);
    let admin = read(&app, &token, &company.admin_id).await;
    assert_eq!(admin["firstName"], json!("Admin"));
    assert_eq!(admin["status"], json!("ACTIVE"));

    // What the manager holds, the manager may give.
    let booker_user =
        json!({"firstName": "Ok", "lastName": "Fine", "username": "ok.fine", "profileId": booker});
    create(&app, &manager, &company.id, booker_user).await.ok();
}

#[tokio::test]
async fn nobody_grants_sites_they_do_not_have() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Sites Only").await;
    let token = company.admin_token.clone();
    let mine = app.create_site(&token, &company.id, "Mine").await;
    let theirs = app.create_site(&token, &company.id, "Theirs").await;
    let both = app
        .create_site_group(&token, &company.id, "Both", &[&mine, &theirs])
        .await;
    let (_, manager) = app
        .member(
            &token,
            &company.id,
            json!({"users": "MANAGE", "sites": "READ"}),
            json!({"siteIds": [mine]}),
        )
        .await;
    let manager_profile = text(
        &app.gql(Some(&manager), "{ me { profile { id } } }", json!({}))
            .await
            .ok()["me"]["profile"]["id"],
    );
    let newcomer = |grants: Value| {
        let mut input = json!({"firstName": "New", "lastName": "Comer",
            "email": "newcomer@sites-only.test", "profileId": manager_profile});
        for (k, v) in grants.as_object().expect("grants") {
            input[k] = v.clone();
        }
        input
    };
    let before = app.user_count(&token, &company.id).await;
    // A site outside their access does not exist for them; a group holding one is refused.
    create(
        &app,
        &manager,
        &company.id,
        newcomer(json!({"siteIds": [theirs]})),
    )
    .await
    .assert_error("NOT_FOUND", None);
    create(
        &app,
        &manager,
        &company.id,
        newcomer(json!({"siteGroupIds": [both]})),
    )
    .await
    .assert_error("FORBIDDEN", None);
    assert_eq!(app.user_count(&token, &company.id).await, before);

    let r = create(
        &app,
        &manager,
        &company.id,
        newcomer(json!({"siteIds": [mine]})),
    )
    .await;
    assert_eq!(
        r.ok()["createUser"]["user"]["effectiveSites"],
        json!([{"id": mine}])
    );
}

#[tokio::test]
async fn partner_staff_reading_clients_cannot_manage_users_there() {
    let app = TestApp::spawn().await;
    let (partner, company) = app.company("Watched").await;
    let (_, watcher) = app
        .member(
            &partner.admin_token,
            &partner.id,
            json!({"clients": "READ", "users": "MANAGE"}),
            json!({}),
        )
        .await;
    // They read the client's people…
    let seen = list(&app, &watcher, json!({"organizationId": company.id})).await;
    assert_eq!(seen, vec![company.admin_id.clone()]);
    // …but may not add, change or deactivate any.
    let before = read(&app, &company.admin_token, &company.admin_id).await;
    let input = json!({"firstName": "In", "lastName": "Truder", "email": "in@watched.test"});
    create(&app, &watcher, &company.id, input.clone())
        .await
        .assert_error("FORBIDDEN", None);
    update(
        &app,
        &watcher,
        json!({"id": company.admin_id, "firstName": "Renamed"}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    user_mutation(&app, &watcher, "deactivateUser", &company.admin_id)
        .await
        .assert_error("FORBIDDEN", None);
    assert_eq!(app.user_count(&company.admin_token, &company.id).await, 1);
    assert_eq!(
        read(&app, &company.admin_token, &company.admin_id).await,
        before
    );
    // Staff managing clients may.
    let r = create(&app, &partner.admin_token, &company.id, input).await;
    assert_eq!(
        r.ok()["createUser"]["user"]["organization"]["id"],
        json!(company.id)
    );
    assert_eq!(app.user_count(&company.admin_token, &company.id).await, 2);
}

#[tokio::test]
async fn site_group_membership_is_computed_when_read() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Growing").await;
    let token = company.admin_token.clone();
    let first = app.create_site(&token, &company.id, "First").await;
    let group = app
        .create_site_group(&token, &company.id, "Campus", &[&first])
        .await;
    let (id, member) = app
        .member(
            &token,
            &company.id,
            json!({"rooms": "READ", "bookings": "SELF"}),
            json!({"siteGroupIds": [group]}),
        )
        .await;
    let later = app.create_site(&token, &company.id, "Later").await;
    let site_query = "query($id: ID!) { site(id: $id) { id } }";
    app.gql(Some(&member), site_query, json!({"id": later}))
        .await
        .assert_error("NOT_FOUND", None);

    // The site joins the group after the grant: the member reaches it from now on.
    app.gql(
        Some(&token),
        "mutation($i: UpdateSiteGroupInput!) { updateSiteGroup(input: $i) { siteGroup { id } } }",
        json!({"i": {"id": group, "siteIds": [first, later]}}),
    )
    .await
    .ok();
    let expected = sorted(vec![first.clone(), later.clone()]);
    assert_eq!(
        sorted(ids(&read(&app, &token, &id).await["effectiveSites"])),
        expected
    );
    let me = app
        .gql(Some(&member), "{ me { effectiveSites { id } } }", json!({}))
        .await;
    assert_eq!(sorted(ids(&me.ok()["me"]["effectiveSites"])), expected);
    assert_eq!(
        app.gql(Some(&member), site_query, json!({"id": later}))
            .await
            .ok()["site"]["id"],
        json!(later)
    );
    assert!(
        list(&app, &token, json!({"siteId": later}))
            .await
            .contains(&id)
    );

    // And leaves with the site when it leaves the group.
    app.gql(
        Some(&token),
        "mutation($i: UpdateSiteGroupInput!) { updateSiteGroup(input: $i) { siteGroup { id } } }",
        json!({"i": {"id": group, "siteIds": [later]}}),
    )
    .await
    .ok();
    assert_eq!(
        ids(&read(&app, &token, &id).await["effectiveSites"]),
        vec![later.clone()]
    );
    app.gql(Some(&member), site_query, json!({"id": first}))
        .await
        .assert_error("NOT_FOUND", None);
}

#[tokio::test]
async fn bad_user_updates_name_their_field_and_change_nothing() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Careful Edits").await;
    let token = company.admin_token.clone();
    let enterprise = text(
        &app.gql(Some(&token), "{ me { profile { id } } }", json!({}))
            .await
            .ok()["me"]["profile"]["id"],
    );
    let booker = booker_profile(&app, &company).await;
    let email_user = new_user(
        &app,
        &company,
        json!({"firstName": "Eve", "lastName": "Mail", "email": "eve@careful-edits.test"}),
    )
    .await;
    let pin_user = new_user(
        &app,
        &company,
        json!({"firstName": "Pin", "lastName": "Only", "username": "pin.only", "profileId": booker}),
    )
    .await;
    let before = (
        read(&app, &token, &email_user).await,
        read(&app, &token, &pin_user).await,
    );
    let cases = [
        ("firstName", &email_user, json!({"firstName": " "})),
        (
            "lastName",
            &email_user,
            json!({"lastName": "x".repeat(201)}),
        ),
        ("email", &email_user, json!({"email": "eve@"})),
        (
            "photoUrl",
            &email_user,
            json!({"photoUrl": "javascript:alert(1)"}),
        ),
        (
            "externalContact",
            &email_user,
            json!({"externalContact": "x".repeat(201)}),
        ),
        // A profile that may add users needs an e-mail to reach its holder.
        ("email", &pin_user, json!({"profileId": enterprise})),
    ];
    for (field, id, bad) in cases {
        // A valid change alongside must not slip through.
        let mut input = json!({"id": id, "language": "FR"});
        for (k, v) in bad.as_object().expect("bad") {
            input[k] = v.clone();
        }
        update(&app, &token, input)
            .await
            .assert_error("VALIDATION", Some(field));
    }
    let after = (
        read(&app, &token, &email_user).await,
        read(&app, &token, &pin_user).await,
    );
    assert_eq!(before, after);
}

#[tokio::test]
async fn people_edit_their_own_name_but_not_their_own_rights() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Self Service").await;
    let token = company.admin_token.clone();
    let site = app.create_site(&token, &company.id, "Site").await;
    let (id, person) = app
        .member(&token, &company.id, json!({"bookings": "SELF"}), json!({}))
        .await;
    let r = update(
        &app,
        &person,
        json!({"id": id, "firstName": "Renamed", "language": "FR"}),
    )
    .await;
    assert_eq!(r.ok()["updateUser"]["user"]["firstName"], json!("Renamed"));
    let stored = read(&app, &token, &id).await;
    assert_eq!(stored["firstName"], json!("Renamed"));
    assert_eq!(stored["language"], json!("FR"));

    let profile = stored["profile"]["id"].clone();
    for change in [
        json!({"siteIds": [site]}),
        json!({"externalContact": "Me"}),
        json!({"email": "new-me@self-service.test"}),
    ] {
        let mut input = json!({"id": id});
        for (k, v) in change.as_object().expect("change") {
            input[k] = v.clone();
        }
        update(&app, &person, input)
            .await
            .assert_error("FORBIDDEN", None);
    }
    let after = read(&app, &token, &id).await;
    assert_eq!(after, stored);
    assert_eq!(after["profile"]["id"], profile);
}

#[tokio::test]
async fn a_default_site_no_longer_granted_is_cleared() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Regranted").await;
    let token = company.admin_token.clone();
    let first = app.create_site(&token, &company.id, "First").await;
    let second = app.create_site(&token, &company.id, "Second").await;
    let id = new_user(
        &app,
        &company,
        json!({"firstName": "Dee", "lastName": "Fault", "email": "dee@regranted.test",
            "siteIds": [first, second], "defaultSiteId": first}),
    )
    .await;
    let r = update(&app, &token, json!({"id": id, "siteIds": [second]})).await;
    assert_eq!(r.ok()["updateUser"]["user"]["defaultSite"], Value::Null);
    let stored = read(&app, &token, &id).await;
    assert_eq!(stored["defaultSite"], Value::Null);
    assert_eq!(stored["sites"], json!([{"id": second}]));
}
