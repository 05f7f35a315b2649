//! Uniqueness under concurrency: twenty `createUser` with the same username, at once, through the
//! schema on PostgreSQL — exactly one user exists afterwards, every other request is a CONFLICT
//! on `username`.

use std::sync::Arc;

use concierge_tests::TestApp;
use concierge_tests::postgres::fresh_database;
use serde_json::json;
use tokio::sync::Barrier;

const RACERS: usize = 20;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_creations_of_one_username_make_one_user() {
    let database = fresh_database().await;
    let app = Arc::new(TestApp::on_storage(Arc::new(database.store().clone())).await);
    let (_, company) = app.company("Racers").await;
    let booker = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Booker",
            json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
        )
        .await;
    let before = app.user_count(&company.admin_token, &company.id).await;

    let start = Arc::new(Barrier::new(RACERS));
    let racers: Vec<_> = (0..RACERS)
        .map(|i| {
            let (app, start, token) = (
                Arc::clone(&app),
                Arc::clone(&start),
                company.admin_token.clone(),
            );
            let input = json!({"organizationId": company.id, "firstName": format!("Racer {i}"),
                "lastName": "Same", "username": "Same.Name", "profileId": booker});
            tokio::spawn(async move {
                start.wait().await;
                app.gql(
                    Some(&token),
                    "mutation($i: CreateUserInput!) { createUser(input: $i) {
                        user { id firstName } credentials { temporaryPassword } } }",
                    json!({"i": input}),
                )
                .await
            })
        })
        .collect();
    let mut winners = Vec::new();
    for racer in racers {
        let r = racer.await.expect("the racer's task");
        if r.errors.is_empty() {
            winners.push(r.data["createUser"].clone());
        } else {
            r.assert_error("CONFLICT", Some("username"));
            assert_eq!(r.data, serde_json::Value::Null);
        }
    }
    assert_eq!(winners.len(), 1, "{winners:#?}");
    let winner = &winners[0];

    // One user more, the winner, who signs in with the username.
    assert_eq!(
        app.user_count(&company.admin_token, &company.id).await,
        before + 1
    );
    let r = app
        .gql(
            Some(&company.admin_token),
            "{ users(filter: {search: \"same.name\"}) { totalCount edges { node { id firstName username } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["users"],
        json!({"totalCount": 1, "edges": [{"node": {"id": winner["user"]["id"],
            "firstName": winner["user"]["firstName"], "username": "same.name"}}]})
    );
    let pin = winner["credentials"]["temporaryPassword"]
        .as_str()
        .expect("the winner's PIN");
    app.first_sign_in("SAME.NAME", pin).await;
}
