//! An outage is not a revocation (PostgreSQL). A room tablet is subscribed over
//! `graphql-transport-ws` to a server whose database sits behind the outage proxy
//! (`tests/tests/durability/proxy.rs`); the changes are made through a second application
//! connected directly.
//!
//! 1. The server's storage cannot answer (its one pooled connection held) while its listener
//!    still hears the feed: a change that concerns the tablet's registrant, without revoking
//!    anything, arrives; the re-check it triggers cannot read, and the tablet's subscription
//!    stays, without any error (the display would unpair on UNAUTHENTICATED).
//! 2. The database is cut off entirely, a booking is made meanwhile: the subscription stays
//!    quiet, and once the database is back the listener reconnects and the tablet hears it.
//! 3. The tablet is then revoked for real: its subscription ends within 1 s with UNAUTHENTICATED.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use concierge_api::http::router;
use concierge_storage_postgres::PgStore;
use concierge_tests::TestApp;
use concierge_tests::postgres::fresh_database;
use concierge_tests::tenant::text;
use serde_json::json;
use tokio::time::Instant;

use crate::proxy::{Proxy, upstream_of};
use crate::socket::Subscriber;
use crate::{ENDS_WITHIN, scene};

/// Longer than the pool's wait for a connection (10 s), so the re-check fails for want of one.
const STORAGE_HELD: Duration = Duration::from_secs(12);

async fn serve(app: &TestApp) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("address");
    let service = router(app.state.clone()).into_make_service_with_connect_info::<SocketAddr>();
    tokio::spawn(async move { axum::serve(listener, service).await });
    addr
}

fn quarter(days: i64, index: i64) -> chrono::DateTime<chrono::Utc> {
    (chrono::Utc::now().date_naive() + chrono::Duration::days(days))
        .and_hms_opt(6, 0, 0)
        .expect("a time of day")
        .and_utc()
        + chrono::Duration::minutes(15 * index)
}

async fn book(
    app: &TestApp,
    token: &str,
    room: &str,
    start: chrono::DateTime<chrono::Utc>,
) -> String {
    let r = app
        .gql(
            Some(token),
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }",
            json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                "end": (start + chrono::Duration::minutes(15)).to_rfc3339(), "title": "Probe"}}),
        )
        .await;
    text(&r.ok()["createBooking"]["booking"]["id"])
}

#[tokio::test]
async fn an_outage_is_not_a_revocation_for_a_subscribed_tablet() {
    let database = fresh_database().await;
    let writer = TestApp::on_storage(Arc::new(database.store().clone())).await;
    let proxy = Proxy::start(upstream_of(database.url())).await;
    let behind = PgStore::connect(&proxy.url_for(database.url()), 1)
        .await
        .expect("the store, through the proxy");
    let server = TestApp::on_storage(Arc::new(behind.clone())).await;
    let addr = serve(&server).await;

    let scene = scene(&writer, "Outage").await;
    let r = writer
        .gql(
            Some(&scene.admin),
            "mutation($s: ID!, $r: ID!) { registerDevice(input: {siteId: $s, roomId: $r,
                name: \"Door\"}) { token device { id } } }",
            json!({"s": scene.site, "r": scene.room}),
        )
        .await;
    let tablet = text(&r.ok()["registerDevice"]["token"]);
    let device = r.ok()["registerDevice"]["device"]["id"].clone();
    let mut display = Subscriber::open("the tablet", addr, &tablet, &scene.room).await;
    // In place once it hears a probe booked through the other application.
    let started = Instant::now();
    for index in 0.. {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "the tablet heard no probe"
        );
        let probe = book(&writer, &scene.admin, &scene.room, quarter(2, index)).await;
        if let Some(event) = display
            .next_before(Instant::now() + Duration::from_millis(200))
            .await
        {
            assert_eq!(event.kind, "CREATED");
            assert_eq!(event.booking_id, probe);
            break;
        }
    }
    // Any probe still in flight.
    while display
        .next_before(Instant::now() + Duration::from_millis(300))
        .await
        .is_some()
    {}

    // 1. The server's only connection held: its re-checks cannot read. The registrant's own
    //    name changes (a fact about them, no revocation).
    let held = concierge_domain::storage::Storage::begin(&behind)
        .await
        .expect("the server's one connection");
    let me = writer
        .gql(Some(&scene.admin), "{ me { id } }", json!({}))
        .await;
    let admin_id = text(&me.ok()["me"]["id"]);
    writer
        .gql(
            Some(&scene.admin),
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
            json!({"i": {"id": admin_id, "firstName": "Adèle"}}),
        )
        .await
        .ok();
    assert!(
        display
            .next_before(Instant::now() + STORAGE_HELD)
            .await
            .is_none(),
        "nothing was booked"
    );
    drop(held);

    // 2. The database cut off; a booking made meanwhile is heard once it is back.
    proxy.cut();
    let during = book(&writer, &scene.admin, &scene.room, quarter(3, 0)).await;
    assert!(
        display
            .next_before(Instant::now() + Duration::from_secs(2))
            .await
            .is_none(),
        "the server's listener is cut off"
    );
    proxy.restore();
    let heard = display
        .next_before(Instant::now() + Duration::from_secs(15))
        .await
        .expect("the booking made during the outage, once the database is back");
    assert_eq!(
        (heard.kind.as_str(), heard.booking_id.as_str()),
        ("CREATED", during.as_str())
    );
    // The tablet is still paired: its token still works on this server (the first tries may
    // meet a connection that died in the outage).
    let mut tries = 0;
    loop {
        tries += 1;
        let r = server
            .gql(
                Some(&tablet),
                "query($r: ID!) { room(id: $r) { id } }",
                json!({"r": scene.room}),
            )
            .await;
        if r.errors.is_empty() {
            break;
        }
        assert_eq!(r.code(), "INTERNAL", "{:?}", r.errors);
        assert!(tries < 50, "the server did not recover");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    // 3. Revoked for real: the subscription ends at once, UNAUTHENTICATED.
    let since = Instant::now();
    writer
        .gql(
            Some(&scene.admin),
            "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }",
            json!({"d": device}),
        )
        .await
        .ok();
    assert_eq!(
        display.end_before(since + ENDS_WITHIN).await,
        "UNAUTHENTICATED"
    );
}
