//! The users connection (cursors, page info, totals, oldest first), its search filter, and the
//! uniqueness of logins (a taken username or e-mail is a CONFLICT on that field, whatever the
//! case, and changes nothing).

use concierge_tests::{Org, TestApp};
use serde_json::{Value, json};

use crate::support::{node_ids, text};

const PAGE: &str = "query($f: UserFilter, $first: Int, $after: String) {
    users(filter: $f, first: $first, after: $after) {
        totalCount edges { cursor node { id } }
        pageInfo { hasNextPage hasPreviousPage startCursor endCursor } } }";

const CREATE: &str = "mutation($i: CreateUserInput!) { createUser(input: $i) {
    user { id email username } } }";

/// A profile for people who only book rooms: no e-mail needed (users NONE).
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

/// Walks the whole connection `page_size` users at a time, checking every page's info; returns
/// the ids in order and the number of pages.
async fn walk(app: &TestApp, token: &str, filter: Value, page_size: usize) -> (Vec<String>, usize) {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    let mut pages = 0;
    loop {
        let r = app
            .gql(
                Some(token),
                PAGE,
                json!({"f": filter, "first": page_size, "after": after}),
            )
            .await;
        let page = r.ok()["users"].clone();
        pages += 1;
        let total = page["totalCount"].as_u64().expect("totalCount") as usize;
        let edges = page["edges"].as_array().expect("edges").clone();
        let info = &page["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()), "{page:#}");
        assert!(!edges.is_empty() && edges.len() <= page_size, "{page:#}");
        assert_eq!(info["startCursor"], edges[0]["cursor"], "{page:#}");
        assert_eq!(
            info["endCursor"],
            edges[edges.len() - 1]["cursor"],
            "{page:#}"
        );
        seen.extend(node_ids(&page));
        let more = seen.len() < total;
        assert_eq!(info["hasNextPage"], json!(more), "{page:#}");
        if !more {
            return (seen, pages);
        }
        assert!(pages <= total, "pagination does not end: {page:#}");
        after = Some(text(&info["endCursor"]));
    }
}

pub async fn users_page_with_cursors_and_a_total(app: &TestApp) {
    let (_, company) = app.company("Pagers").await;
    let token = company.admin_token.clone();
    let mut created = Vec::new();
    for i in 0..6 {
        created.push(
            new_user(
                app,
                &company,
                json!({"firstName": "Page", "lastName": format!("Number {i}"),
                    "email": format!("p{i}@paged.test")}),
            )
            .await,
        );
    }
    // Oldest first: the administrator, then the newcomers in the order they were created.
    let mut everyone = vec![company.admin_id.clone()];
    everyone.extend(created.iter().cloned());

    let (seen, pages) = walk(app, &token, json!({}), 3).await;
    assert_eq!(seen, everyone);
    assert_eq!(pages, 3);
    let (seen, pages) = walk(app, &token, json!({}), 7).await;
    assert_eq!((seen, pages), (everyone.clone(), 1));

    // Filtered pages: the total counts what matches, not the organization.
    let (seen, pages) = walk(app, &token, json!({"search": "PAGED.test"}), 4).await;
    assert_eq!((seen, pages), (created.clone(), 2));
    let r = app
        .gql(
            Some(&token),
            PAGE,
            json!({"f": {"search": "paged"}, "first": 2}),
        )
        .await;
    assert_eq!(r.ok()["users"]["totalCount"], json!(6));

    // A cursor is a position: resuming after the second user gives the rest.
    let r = app.gql(Some(&token), PAGE, json!({"first": 2})).await;
    let cursor = text(&r.ok()["users"]["pageInfo"]["endCursor"]);
    let r = app
        .gql(Some(&token), PAGE, json!({"first": 50, "after": cursor}))
        .await;
    assert_eq!(node_ids(&r.ok()["users"]), everyone[2..].to_vec());
}

pub async fn search_matches_names_emails_and_usernames_in_any_case(app: &TestApp) {
    let (_, company) = app.company("Searchers").await;
    let token = company.admin_token.clone();
    let booker = booker_profile(app, &company).await;
    let ada = new_user(
        app,
        &company,
        json!({"firstName": "Ada", "lastName": "Lovelace", "email": "ada@math.test"}),
    )
    .await;
    let alan = new_user(
        app,
        &company,
        json!({"firstName": "Alan", "lastName": "Turing", "email": "alan@code.test"}),
    )
    .await;
    let grace = new_user(
        app,
        &company,
        json!({"firstName": "Grace", "lastName": "Hopper", "username": "G.Hopper",
            "profileId": booker}),
    )
    .await;
    let eloise = new_user(
        app,
        &company,
        json!({"firstName": "Éloïse", "lastName": "Åström", "email": "eloise@accents.test"}),
    )
    .await;

    let cases: [(&str, Vec<&String>); 10] = [
        ("LOVE", vec![&ada]),
        ("alan", vec![&alan]),
        ("Code.TEST", vec![&alan]),
        ("g.hOPP", vec![&grace]),
        ("  ada  ", vec![&ada]),
        ("ÉLOÏSE", vec![&eloise]),
        ("åSTR", vec![&eloise]),
        ("ing", vec![&alan]),
        // Everyone has an "a" somewhere, the administrator (admin@searchers.test) included.
        ("a", vec![&company.admin_id, &ada, &alan, &grace, &eloise]),
        ("nobody-at-all", vec![]),
    ];
    for (search, expected) in cases {
        let r = app
            .gql(
                Some(&token),
                PAGE,
                json!({"f": {"search": search, "organizationId": company.id}, "first": 50}),
            )
            .await;
        let expected: Vec<String> = expected.into_iter().cloned().collect();
        assert_eq!(node_ids(&r.ok()["users"]), expected, "search {search:?}");
        assert_eq!(
            r.ok()["users"]["totalCount"],
            json!(expected.len()),
            "search {search:?}"
        );
    }
}

pub async fn a_taken_username_or_email_is_a_conflict_on_that_field(app: &TestApp) {
    let (_, company) = app.company("Unique").await;
    let (_, elsewhere) = app.company("Elsewhere").await;
    let token = company.admin_token.clone();
    let booker = booker_profile(app, &company).await;
    new_user(
        app,
        &company,
        json!({"firstName": "A", "lastName": "A", "email": "taken@unique.test"}),
    )
    .await;
    new_user(
        app,
        &company,
        json!({"firstName": "B", "lastName": "B", "username": "taken.name", "profileId": booker}),
    )
    .await;
    let free = new_user(
        app,
        &company,
        json!({"firstName": "C", "lastName": "C", "email": "free@unique.test"}),
    )
    .await;
    let before = app.user_count(&token, &company.id).await;

    let cases = [
        ("email", json!({"email": "TAKEN@Unique.test"})),
        // Logins are unique across tenants: another company's administrator has this one.
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
        let mut input =
            json!({"organizationId": company.id, "firstName": "Dup", "lastName": "Licate"});
        for (key, value) in login.as_object().expect("login fields") {
            input[key] = value.clone();
        }
        let r = app.gql(Some(&token), CREATE, json!({"i": input})).await;
        r.assert_error("CONFLICT", Some(field));
        assert_eq!(r.data, Value::Null, "{login}");
    }
    assert_eq!(app.user_count(&token, &company.id).await, before);
    assert_eq!(
        app.user_count(&elsewhere.admin_token, &elsewhere.id).await,
        1
    );

    // Taking someone's e-mail by an update is refused too, and the user is left as they were.
    app.gql(
        Some(&token),
        "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
        json!({"i": {"id": free, "email": "Taken@unique.TEST", "firstName": "Changed"}}),
    )
    .await
    .assert_error("CONFLICT", Some("email"));
    let r = app
        .gql(
            Some(&token),
            "query($id: ID!) { user(id: $id) { email firstName } }",
            json!({"id": free}),
        )
        .await;
    assert_eq!(
        r.ok()["user"],
        json!({"email": "free@unique.test", "firstName": "C"})
    );

    // The login is free again for someone else once spelled differently.
    let r = app
        .gql(
            Some(&token),
            CREATE,
            json!({"i": {"organizationId": company.id, "firstName": "D", "lastName": "D",
                "username": "taken.name2", "profileId": booker}}),
        )
        .await;
    assert_eq!(
        r.ok()["createUser"]["user"]["username"],
        json!("taken.name2")
    );
}
