//! SIGTERM in the middle of a load (issue 8): clients keep booking through the real binary on
//! PostgreSQL while the process is told to stop. It must exit with status 0 within the bound,
//! and every booking it acknowledged must be there when a new process starts on the database.
//! Requests cut by the stop (no answer) may or may not have committed; those are not counted,
//! but none of them may have been answered with an error, and those in flight at the signal
//! must have been answered.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use concierge_tests::http;
use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Scratch, Server};
use concierge_tests::tenant::{tenant, text};
use serde_json::{Value, json};
use tokio::time::Instant;

/// Clients booking at once.
const CLIENTS: usize = 8;
/// Acknowledged bookings before the signal: the load is well under way.
const BEFORE_SIGNAL: usize = 40;
/// The longest the load may take to get there.
const RAMP_UP: Duration = Duration::from_secs(60);
/// The drain bound (`api/src/serve.rs`, 15 s) plus the outbox flush and a margin.
const EXIT_WITHIN: Duration = Duration::from_secs(30);

const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
    booking { id start } } }";

/// The `index`-th quarter hour from tomorrow midnight UTC: a distinct slot for every request.
fn slot(index: usize) -> DateTime<Utc> {
    let first = (Utc::now().date_naive() + chrono::Duration::days(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc();
    first + chrono::Duration::minutes(15 * index as i64)
}

/// What the clients saw.
#[derive(Default)]
struct Outcomes {
    /// (booking id, start) of every acknowledged booking.
    acknowledged: Vec<(String, String)>,
    /// When the last acknowledgement came.
    last_acknowledged: Option<Instant>,
    /// Answers that were errors (none is expected: a request taken in is finished).
    refused: Vec<Value>,
}

/// Books distinct slots until the server stops answering.
async fn client(
    addr: std::net::SocketAddr,
    token: String,
    room: String,
    next: Arc<AtomicUsize>,
    outcomes: Arc<Mutex<Outcomes>>,
) {
    loop {
        let start = slot(next.fetch_add(1, Ordering::Relaxed));
        let variables = json!({"i": {"roomId": room, "start": start.to_rfc3339(),
            "end": (start + chrono::Duration::minutes(15)).to_rfc3339(), "title": "Load"}});
        let answer = http::gql(addr, Some(&token), BOOK, variables).await;
        let mut outcomes = outcomes.lock().expect("outcomes");
        match answer {
            Ok(r) if r.errors.is_empty() => {
                let booking = &r.data["createBooking"]["booking"];
                outcomes
                    .acknowledged
                    .push((text(&booking["id"]), text(&booking["start"])));
                outcomes.last_acknowledged = Some(Instant::now());
            }
            Ok(r) => outcomes.refused.push(json!(r.errors)),
            // No answer: the server has stopped accepting, or is gone.
            Err(_) => return,
        }
    }
}

/// Every booking of `room` a new server reads: id → start.
async fn bookings_of(
    server: &Server,
    token: &str,
    room: &str,
) -> std::collections::HashMap<String, String> {
    let mut found = std::collections::HashMap::new();
    let mut after: Option<String> = None;
    loop {
        let r = server
            .gql(
                Some(token),
                "query($r: ID!, $after: String) { bookings(filter: {roomId: $r}, first: 100, after: $after) {
                    edges { node { id start status } } pageInfo { hasNextPage endCursor } } }",
                json!({"r": room, "after": after}),
            )
            .await;
        let page = &r.ok()["bookings"];
        for edge in page["edges"].as_array().expect("edges") {
            let node = &edge["node"];
            assert_eq!(node["status"], json!("CONFIRMED"), "{node}");
            found.insert(text(&node["id"]), text(&node["start"]));
        }
        if page["pageInfo"]["hasNextPage"] != json!(true) {
            return found;
        }
        after = Some(text(&page["pageInfo"]["endCursor"]));
    }
}

#[tokio::test]
async fn sigterm_under_load_exits_in_time_and_loses_no_acknowledged_booking() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let server = Server::start(database.url(), &scratch, "loaded").await;
    let tenant = tenant(&server).await;

    let next = Arc::new(AtomicUsize::new(0));
    let outcomes = Arc::new(Mutex::new(Outcomes::default()));
    let clients: Vec<_> = (0..CLIENTS)
        .map(|_| {
            tokio::spawn(client(
                server.addr,
                tenant.booker.clone(),
                tenant.room.clone(),
                Arc::clone(&next),
                Arc::clone(&outcomes),
            ))
        })
        .collect();
    let deadline = Instant::now() + RAMP_UP;
    while outcomes.lock().expect("outcomes").acknowledged.len() < BEFORE_SIGNAL {
        assert!(
            Instant::now() < deadline,
            "the load did not reach {BEFORE_SIGNAL} bookings within {RAMP_UP:?}:\n{}",
            server.log()
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    // SIGTERM with the clients still sending: `terminate` fails the test past the bound.
    let signalled = Instant::now();
    let (status, took) = server.terminate_timed(EXIT_WITHIN).await;
    assert_eq!(status.code(), Some(0), "{status}");
    for client in clients {
        client.await.expect("a client task");
    }
    let outcomes = std::mem::take(&mut *outcomes.lock().expect("outcomes"));
    assert!(
        outcomes.refused.is_empty(),
        "requests taken in were answered with errors: {:#?}",
        outcomes.refused
    );
    // With eight clients always sending, requests were in flight at the signal: they were
    // finished and answered, not cut.
    assert!(
        outcomes.last_acknowledged.is_some_and(|at| at > signalled),
        "no request in flight at SIGTERM was answered"
    );
    eprintln!(
        "{} bookings acknowledged; the process exited {took:?} after SIGTERM",
        outcomes.acknowledged.len()
    );

    // A new process on the same database reads every acknowledged booking, as acknowledged.
    let server = Server::start(database.url(), &scratch, "after").await;
    let stored = bookings_of(&server, &tenant.booker, &tenant.room).await;
    let lost: Vec<_> = outcomes
        .acknowledged
        .iter()
        .filter(|(id, start)| stored.get(id) != Some(start))
        .collect();
    assert!(
        lost.is_empty(),
        "{} of {} acknowledged bookings are missing or changed: {lost:?}",
        lost.len(),
        outcomes.acknowledged.len()
    );
    let status = server.terminate(EXIT_WITHIN).await;
    assert_eq!(status.code(), Some(0), "{status}");
}
