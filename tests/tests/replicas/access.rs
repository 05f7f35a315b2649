//! Access ended through one replica ends the subscriptions on the other within 1 s, without any
//! booking meanwhile: the change travels on the commit-ordered feed (LISTEN/NOTIFY), and each
//! concerned subscription checks again, once. Three subscribers listen on B — a person who is
//! then deactivated, a tablet that is then revoked, a session that then signs out — and a fourth
//! (the room's own tablet) must go on and hear the next booking.

use std::time::Duration;

use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Bootstrap, Scratch, Server};
use concierge_tests::tenant::{tenant, text};
use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::json;
use tokio::time::Instant;

use crate::socket::Subscriber;
use crate::{DELIVERY, Listening, LogsOnFailure, STOP_TIMEOUT, at, book, until_everyone_listens};

/// How long an access-ended change may take to end a subscription on any replica.
const ENDS_WITHIN: Duration = Duration::from_secs(1);

#[tokio::test]
async fn access_ended_through_one_replica_ends_subscriptions_on_the_other_at_once() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let logs = LogsOnFailure(
        ["access-a", "access-b"]
            .map(|run| scratch.path().join(format!("{run}.log")))
            .to_vec(),
    );
    let a = Server::launch(database.url(), &scratch, "access-a", Bootstrap::Operator).await;
    let b = Server::launch(database.url(), &scratch, "access-b", Bootstrap::Nothing).await;
    let cast = tenant(&a).await;

    // A person who may see the room (two sessions), and a second tablet, all through A.
    let r = a
        .gql(
            Some(&cast.admin),
            "mutation($i: CreateProfileInput!) { createProfile(input: $i) { profile { id } } }",
            json!({"i": {"organizationId": cast.company, "name": "Watchers", "permissions":
                TestApp::permissions(json!({"rooms": "READ", "modules": ["rooms"]}))}}),
        )
        .await;
    let watchers = text(&r.ok()["createProfile"]["profile"]["id"]);
    let r = a
        .gql(
            Some(&cast.admin),
            "mutation($i: CreateUserInput!) { createUser(input: $i) {
                user { id } credentials { login temporaryPassword } } }",
            json!({"i": {"organizationId": cast.company, "firstName": "Noé", "lastName": "Petit",
                "email": "noe@globex.test", "profileId": watchers, "siteIds": [cast.site]}}),
        )
        .await;
    let created = &r.ok()["createUser"];
    let watcher_id = text(&created["user"]["id"]);
    let watcher = a
        .first_sign_in(
            &text(&created["credentials"]["login"]),
            &text(&created["credentials"]["temporaryPassword"]),
            CHOSEN_PASSWORD,
        )
        .await;
    let (watcher_again, refresh_again) = {
        let r = a
            .gql(
                None,
                "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
                    accessToken refreshToken } }",
                json!({"l": "noe@globex.test", "p": CHOSEN_PASSWORD}),
            )
            .await;
        (
            text(&r.ok()["login"]["accessToken"]),
            text(&r.ok()["login"]["refreshToken"]),
        )
    };
    let r = a
        .gql(
            Some(&cast.admin),
            "mutation($s: ID!, $r: ID!) { registerDevice(input: {siteId: $s, roomId: $r,
                name: \"Spare tablet\"}) { token device { id } } }",
            json!({"s": cast.site, "r": cast.room}),
        )
        .await;
    let spare = text(&r.ok()["registerDevice"]["token"]);
    let spare_id = text(&r.ok()["registerDevice"]["device"]["id"]);

    let listen = |name: &'static str, token: String| {
        let (addr, room) = (b.addr, cast.room.clone());
        async move {
            Listening {
                subscriber: Subscriber::open(name, addr, &token, &room).await,
                heard: Vec::new(),
            }
        }
    };
    let mut deactivated = listen("the person, deactivated", watcher.clone()).await;
    let mut signed_out = listen("the session signed out", watcher_again.clone()).await;
    let mut revoked = listen("the spare tablet, revoked", spare.clone()).await;
    let mut door = listen("the room's tablet", cast.tablet.clone()).await;
    until_everyone_listens(
        &a,
        &cast,
        &mut [&mut deactivated, &mut signed_out, &mut revoked, &mut door],
    )
    .await;
    // The probes still in flight.
    for listener in [&mut deactivated, &mut signed_out, &mut revoked, &mut door] {
        listener
            .drain_until(Instant::now() + Duration::from_millis(300))
            .await;
    }

    // Each change through A; each subscription on B ends within 1 s, nothing booked meanwhile.
    let since = Instant::now();
    a.gql(
        Some(&cast.admin),
        "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }",
        json!({"d": spare_id}),
    )
    .await
    .ok();
    assert_eq!(
        revoked.subscriber.end_before(since + ENDS_WITHIN).await,
        "UNAUTHENTICATED"
    );

    let since = Instant::now();
    a.gql(
        Some(&watcher_again),
        "mutation($t: String) { logout(input: {refreshToken: $t}) { ok } }",
        json!({"t": refresh_again}),
    )
    .await
    .ok();
    assert_eq!(
        signed_out.subscriber.end_before(since + ENDS_WITHIN).await,
        "UNAUTHENTICATED"
    );

    let since = Instant::now();
    let r = a
        .gql(
            Some(&cast.admin),
            "mutation($u: ID!) { deactivateUser(input: {userId: $u}) { user { status } } }",
            json!({"u": watcher_id}),
        )
        .await;
    assert_eq!(
        r.ok()["deactivateUser"]["user"]["status"],
        json!("INACTIVE")
    );
    assert_eq!(
        deactivated.subscriber.end_before(since + ENDS_WITHIN).await,
        "UNAUTHENTICATED"
    );

    // The room's own tablet heard none of it, and hears the next booking.
    let sent = Instant::now();
    let booking = book(
        &a,
        &cast.booker,
        &cast.room,
        at(3, 10, 0),
        at(3, 11, 0),
        "After the changes",
    )
    .await;
    door.wait_for("CREATED", &booking, sent + DELIVERY, sent)
        .await;

    let (status_a, status_b) = tokio::join!(a.terminate(STOP_TIMEOUT), b.terminate(STOP_TIMEOUT));
    assert_eq!(status_a.code(), Some(0), "A: {status_a}");
    assert_eq!(status_b.code(), Some(0), "B: {status_b}");
    drop(logs);
}
