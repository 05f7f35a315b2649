//! Two replicas of the API on one PostgreSQL database: two real `concierge` processes (same
//! `JWT_SECRET` and `CODE_PEPPER`, different ports; the first creates the platform operator, the
//! second finds it). What one writes, the other's subscribers hear: booking events travel between
//! processes by LISTEN/NOTIFY (`storage-postgres/src/listener.rs`), and tokens issued by one are
//! honoured by the other.
//!
//! The subscribers speak `graphql-transport-ws` over real sockets (`socket`). That protocol never
//! says when a subscription is in place, so the test does not sleep and hope: it books probe
//! slots every 100 ms until every subscriber has heard one (at most 5 s), and only then makes the
//! booking it asserts on — a fresh one, distinct from the probes, which must then arrive within
//! 2 s, after every probe still in flight and in commit order.
//!
//! The database is a fresh one of its own (`concierge_tests::postgres`); without a PostgreSQL
//! server the test fails, it never skips.

mod access;
mod release;
mod socket;
mod throttling;

use std::time::Duration;

use chrono::{DateTime, Utc};
use concierge_tests::postgres::fresh_database;
use concierge_tests::server::{Bootstrap, Scratch, Server};
use concierge_tests::tenant::{Tenant, tenant, text};
use serde_json::json;
use tokio::time::Instant;

use crate::socket::{Event, Subscriber};

/// How long a committed booking may take to reach a subscriber of either server.
const DELIVERY: Duration = Duration::from_secs(2);
/// The longest the subscriptions may take to be in place.
const READINESS: Duration = Duration::from_secs(5);
/// The pause between two probe bookings.
const PROBE_EVERY: Duration = Duration::from_millis(100);
/// The longest a SIGTERM may take to end a server.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
    booking { id status } } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { id status } } }";

/// `days` from today at `hour`:`minute` UTC: on a 15-minute slot of a room in Paris.
fn at(days: i64, hour: u32, minute: u32) -> DateTime<Utc> {
    (Utc::now().date_naive() + chrono::Duration::days(days))
        .and_hms_opt(hour, minute, 0)
        .expect("a time of day")
        .and_utc()
}

/// Books `[start, end)` of `room` through `server`; returns the booking's id.
async fn book(
    server: &Server,
    token: &str,
    room: &str,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    title: &str,
) -> String {
    let r = server
        .gql(
            Some(token),
            BOOK,
            json!({"i": {"roomId": room, "start": start.to_rfc3339(), "end": end.to_rfc3339(),
                "title": title}}),
        )
        .await;
    let booking = &r.ok()["createBooking"]["booking"];
    assert_eq!(booking["status"], json!("CONFIRMED"));
    text(&booking["id"])
}

/// A subscriber and everything it heard, in order.
struct Listening {
    subscriber: Subscriber,
    heard: Vec<Event>,
}

impl Listening {
    /// Takes every event that arrives before `deadline`.
    async fn drain_until(&mut self, deadline: Instant) {
        while let Some(event) = self.subscriber.next_before(deadline).await {
            self.heard.push(event);
        }
    }

    /// Takes events until one of `kind` about `booking` arrives; panics if none does before
    /// `deadline`.
    async fn wait_for(&mut self, kind: &str, booking: &str, deadline: Instant, since: Instant) {
        loop {
            match self.subscriber.next_before(deadline).await {
                Some(event) => {
                    let found = event.kind == kind && event.booking_id == booking;
                    self.heard.push(event);
                    if found {
                        return;
                    }
                }
                None => panic!(
                    "{}: no {kind} event for booking {booking} within {:?}; heard {:#?}",
                    self.subscriber.name,
                    deadline - since,
                    self.heard
                ),
            }
        }
    }

    /// The (kind, booking id) of everything heard.
    fn log(&self) -> Vec<(String, String)> {
        self.heard
            .iter()
            .map(|e| (e.kind.clone(), e.booking_id.clone()))
            .collect()
    }
}

/// Books probe slots through `writer`, one every [`PROBE_EVERY`], until each subscriber has heard
/// at least one event; panics after [`READINESS`]. Returns the probes' ids in booking order.
async fn until_everyone_listens(
    writer: &Server,
    cast: &Tenant,
    listeners: &mut [&mut Listening],
) -> Vec<String> {
    let started = Instant::now();
    let mut probes = Vec::new();
    // Quarter-hours of a day of their own, away from the bookings the test asserts on: at one
    // per 100 ms, 5 s make at most 50 of the day's 96.
    let day = at(2, 0, 0);
    while listeners.iter().any(|l| l.heard.is_empty()) {
        assert!(
            started.elapsed() < READINESS,
            "after {READINESS:?} and {} probe bookings, some subscriber still heard nothing: {:?}",
            probes.len(),
            listeners
                .iter()
                .map(|l| (l.subscriber.name, l.heard.len()))
                .collect::<Vec<_>>()
        );
        let tick = Instant::now() + PROBE_EVERY;
        let start = day + chrono::Duration::minutes(15 * i64::try_from(probes.len()).expect("few"));
        let probe = book(
            writer,
            &cast.booker,
            &cast.room,
            start,
            start + chrono::Duration::minutes(15),
            "Probe",
        )
        .await;
        probes.push(probe);
        for listener in listeners.iter_mut() {
            listener.drain_until(tick).await;
        }
    }
    eprintln!(
        "subscriptions in place after {} probe bookings, {:?}",
        probes.len(),
        started.elapsed()
    );
    probes
}

/// What a subscriber must have heard: from the first probe it heard on, every later probe's
/// CREATED (none lost, in commit order), then the booking's CREATED and CANCELLED, and nothing
/// else.
#[track_caller]
fn assert_heard_in_commit_order(listener: &Listening, probes: &[String], booking: &str) {
    let name = listener.subscriber.name;
    let log = listener.log();
    let first = &log.first().expect("at least one event").1;
    let from = probes
        .iter()
        .position(|probe| probe == first)
        .unwrap_or_else(|| panic!("{name}: the first event is not a probe's: {log:#?}"));
    let mut expected: Vec<(String, String)> = probes[from..]
        .iter()
        .map(|probe| ("CREATED".to_owned(), probe.clone()))
        .collect();
    expected.push(("CREATED".to_owned(), booking.to_owned()));
    expected.push(("CANCELLED".to_owned(), booking.to_owned()));
    assert_eq!(
        log, expected,
        "{name}: events out of commit order, lost or extra"
    );
}

/// Prints the servers' logs when the test fails (they go with the scratch directory otherwise).
struct LogsOnFailure(Vec<std::path::PathBuf>);

impl Drop for LogsOnFailure {
    fn drop(&mut self) {
        if std::thread::panicking() {
            for log in &self.0 {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                eprintln!("===== {} =====\n{text}", log.display());
            }
        }
    }
}

#[tokio::test]
async fn a_booking_made_through_one_replica_reaches_the_subscribers_of_the_other() {
    let database = fresh_database().await;
    let scratch = Scratch::new();
    let logs = LogsOnFailure(
        ["replica-a", "replica-b"]
            .map(|run| scratch.path().join(format!("{run}.log")))
            .to_vec(),
    );
    let a = Server::launch(database.url(), &scratch, "replica-a", Bootstrap::Operator).await;
    let b = Server::launch(database.url(), &scratch, "replica-b", Bootstrap::Nothing).await;
    assert_ne!(a.addr, b.addr);

    // Everything is set up through A; the tablet listens on B, the administrator on A.
    let cast = tenant(&a).await;
    let mut on_b = Listening {
        subscriber: Subscriber::open("subscriber on B", b.addr, &cast.tablet, &cast.room).await,
        heard: Vec::new(),
    };
    let mut on_a = Listening {
        subscriber: Subscriber::open("subscriber on A", a.addr, &cast.admin, &cast.room).await,
        heard: Vec::new(),
    };
    let probes = until_everyone_listens(&a, &cast, &mut [&mut on_b, &mut on_a]).await;

    // A fresh booking through A: B's subscriber hears of it within 2 s, as the writer's does.
    let sent = Instant::now();
    let booking = book(
        &a,
        &cast.booker,
        &cast.room,
        at(3, 10, 0),
        at(3, 11, 0),
        "Replicated",
    )
    .await;
    assert!(!probes.contains(&booking));
    on_b.wait_for("CREATED", &booking, sent + DELIVERY, sent)
        .await;
    let created = on_b.heard.last().expect("the event").clone();
    assert_eq!(
        created,
        Event {
            kind: "CREATED".into(),
            booking_id: booking.clone(),
            status: "CONFIRMED".into(),
            title: Some("Replicated".into()),
            room_id: cast.room.clone(),
        }
    );
    on_a.wait_for("CREATED", &booking, sent + DELIVERY, sent)
        .await;

    // Cancelled through B, with the token A issued: A's subscriber hears of it within 2 s.
    let sent = Instant::now();
    let r = b
        .gql(Some(&cast.booker), CANCEL, json!({"id": booking}))
        .await;
    assert_eq!(
        r.ok()["cancelBooking"]["booking"],
        json!({"id": booking, "status": "CANCELLED"})
    );
    on_a.wait_for("CANCELLED", &booking, sent + DELIVERY, sent)
        .await;
    let cancelled = on_a.heard.last().expect("the event").clone();
    assert_eq!(
        cancelled,
        Event {
            kind: "CANCELLED".into(),
            status: "CANCELLED".into(),
            ..created
        }
    );
    on_b.wait_for("CANCELLED", &booking, sent + DELIVERY, sent)
        .await;

    // Neither subscriber lost, repeated or reordered anything on the way.
    on_a.drain_until(Instant::now() + PROBE_EVERY).await;
    on_b.drain_until(Instant::now()).await;
    assert_heard_in_commit_order(&on_b, &probes, &booking);
    assert_heard_in_commit_order(&on_a, &probes, &booking);

    // Both stop on SIGTERM, subscribers still connected, and exit with status 0.
    let (status_a, status_b) = tokio::join!(a.terminate(STOP_TIMEOUT), b.terminate(STOP_TIMEOUT));
    assert_eq!(status_a.code(), Some(0), "A: {status_a}");
    assert_eq!(status_b.code(), Some(0), "B: {status_b}");
    // Neither logged an error or a panic along the way.
    for log in &logs.0 {
        let text = std::fs::read_to_string(log).expect("the server's log");
        assert!(
            !text.contains("ERROR") && !text.contains("panicked"),
            "{}:\n{text}",
            log.display()
        );
    }
}
