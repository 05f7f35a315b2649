//! Sign-in throttling holds across replicas (DESIGN.md §9): the counters live in PostgreSQL, so
//! ten failed sign-ins of one account spread over two servers on one database lock it on both.
//! With counters per process each server would have seen five, and the right password would
//! still open the account on either.

use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Bootstrap, OPERATOR_EMAIL, OPERATOR_PASSWORD, Scratch, Server};
use serde_json::json;

use crate::LogsOnFailure;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";

/// "OK" when the sign-in succeeds, else the error's `extensions.code`.
async fn sign_in(server: &Server, password: &str) -> String {
    let r = server
        .gql(None, LOGIN, json!({"l": OPERATOR_EMAIL, "p": password}))
        .await;
    if r.errors.is_empty() {
        assert!(
            r.data["login"]["accessToken"].is_string(),
            "a sign-in without error and without a token: {:#}",
            r.data
        );
        "OK".into()
    } else {
        r.code().to_owned()
    }
}

#[tokio::test]
async fn ten_failures_spread_over_two_replicas_lock_the_account_on_both() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let _logs = LogsOnFailure(
        ["throttle-a", "throttle-b"]
            .map(|run| scratch.path().join(format!("{run}.log")))
            .to_vec(),
    );
    let a = Server::launch(database.url(), &scratch, "throttle-a", Bootstrap::Operator).await;
    let b = Server::launch(database.url(), &scratch, "throttle-b", Bootstrap::Nothing).await;
    let replicas = [("A", &a), ("B", &b)];

    // The right password opens the account through either (successes are not counted).
    for (name, server) in replicas {
        assert_eq!(
            sign_in(server, OPERATOR_PASSWORD).await,
            "OK",
            "through {name}"
        );
    }

    // Ten wrong passwords, alternating A, B, A, B…: five through each, every one an ordinary
    // failed sign-in.
    for attempt in 0..10 {
        let (name, server) = replicas[attempt % 2];
        assert_eq!(
            sign_in(server, &format!("wrong-password-{attempt}")).await,
            "UNAUTHENTICATED",
            "failed attempt {attempt} through {name}"
        );
    }

    // The account is locked on both, even against the right password.
    for (name, server) in replicas {
        let r = server
            .gql(
                None,
                LOGIN,
                json!({"l": OPERATOR_EMAIL, "p": OPERATOR_PASSWORD}),
            )
            .await;
        assert_eq!(r.data["login"], json!(null), "through {name}: {:#}", r.data);
        assert_eq!(
            r.code(),
            "RATE_LIMITED",
            "through {name}: {:#}",
            json!(r.errors)
        );
    }
}
