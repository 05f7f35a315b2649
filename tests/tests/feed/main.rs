//! The live booking feed (issue 13, item 4): an event resolved once, access ended at once.
//!
//! - A deactivated person's, a revoked tablet's and a signed-out session's subscriptions end
//!   within 1 s of the change, without any booking being made meanwhile: the change itself
//!   travels on the feed (nothing polls). Each ends with an error (UNAUTHENTICATED, or FORBIDDEN
//!   when the room is no longer theirs to see), then the stream completes; the subscriptions of
//!   everyone else go on.
//! - A CREATED event carries the booking as it was created, even when it is cancelled right
//!   after, and its holder's name (resolved once for every subscriber).
//!
//! Each scenario is written once against a [`TestApp`] and stamped out twice, on a fresh
//! PostgreSQL database (`postgres::<case>`) and on the memory backend (`memory::<case>`).
//! `outage` (PostgreSQL only) cuts the database under a subscribed tablet: an outage is not a
//! revocation. Across two server processes: `tests/tests/replicas/access.rs`.
//!
//! Without a PostgreSQL server the PostgreSQL cases fail, they never skip.

mod gaps;
mod outage;

/// The outage proxy of the durability suite.
#[allow(dead_code)]
#[path = "../durability/proxy.rs"]
mod proxy;

/// The `graphql-transport-ws` subscriber of the replicas suite.
#[allow(dead_code)]
#[path = "../replicas/socket.rs"]
mod socket;

use std::pin::Pin;
use std::time::Duration;

use concierge_tests::{CHOSEN_PASSWORD, Gql, TestApp};
use futures::{Stream, StreamExt as _};
use serde_json::{Value, json};
use tokio::time::Instant;

/// A scenario that hangs fails instead.
const CASE_TIMEOUT: Duration = Duration::from_secs(120);
/// How long an access-ended change may take to end a subscription (the issue's promise).
const ENDS_WITHIN: Duration = Duration::from_secs(1);

const EVENTS: &str = "subscription($r: ID!) { bookingEvents(roomId: $r) {
    kind booking { id status title start end user { displayName } } } }";

type Events = Pin<Box<dyn Stream<Item = Gql> + Send>>;

concierge_tests::scenarios_on_both_backends!(
    a_deactivated_persons_subscription_ends_at_once,
    a_revoked_tablets_subscription_ends_at_once,
    a_signed_out_sessions_subscription_ends_at_once_and_only_that_one,
    losing_the_site_ends_the_subscription_with_forbidden,
    a_created_event_carries_the_booking_as_created,
);

/// A company with a site, a room, its administrator (who books the probes) and a person who
/// may see the room and book it for themselves.
pub struct Scene {
    pub company: String,
    pub admin: String,
    pub site: String,
    pub room: String,
    pub person_id: String,
    pub person_login: String,
    pub person: String,
}

pub async fn scene(app: &TestApp, name: &str) -> Scene {
    let (_, company) = app.company(name).await;
    let admin = company.admin_token.clone();
    let site = app.create_site(&admin, &company.id, "HQ").await;
    let room = app.create_room(&admin, &site, "Salle Curie").await;
    let profile = app
        .create_profile(
            &admin,
            &company.id,
            "Bookers",
            json!({"bookings": "SELF", "rooms": "READ", "modules": ["rooms"]}),
        )
        .await;
    let person_login = format!("noe@{}.test", name.to_lowercase());
    let (person_id, person) = app
        .user_with_token(
            &admin,
            &company.id,
            json!({"firstName": "Noé", "lastName": "Petit", "email": person_login,
                "profileId": profile, "siteIds": [site], "defaultSiteId": site}),
        )
        .await;
    Scene {
        company: company.id,
        admin,
        site,
        room,
        person_id,
        person_login,
        person,
    }
}

/// A subscription of the holder of `token` to the room, known to be in place (probes booked
/// by the administrator, their events read: see `TestApp::listen_to_room`).
pub async fn listening(app: &TestApp, scene: &Scene, token: &str, days_ahead: i64) -> Events {
    let probes_from = (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead))
        .and_hms_opt(6, 0, 0)
        .expect("a time of day")
        .and_utc();
    app.listen_to_room(token, EVENTS, &scene.room, &scene.admin, probes_from)
        .await
}

/// Waits for the subscription to end: an error within [`ENDS_WITHIN`] of `since`, then the end
/// of the stream. No event may come first (nobody books meanwhile). Returns the error.
pub async fn ends_at_once(events: &mut Events, since: Instant, who: &str) -> Gql {
    let deadline = since + ENDS_WITHIN;
    let ended = tokio::time::timeout_at(deadline, events.next())
        .await
        .unwrap_or_else(|_| panic!("{who}: the subscription still runs {ENDS_WITHIN:?} later"))
        .unwrap_or_else(|| panic!("{who}: the subscription completed without an error"));
    assert!(
        !ended.errors.is_empty(),
        "{who}: an event arrived instead of the end: {:#}",
        ended.data
    );
    let after = tokio::time::timeout(Duration::from_secs(1), events.next())
        .await
        .unwrap_or_else(|_| panic!("{who}: no `complete` after the error"));
    assert!(
        after.is_none(),
        "{who}: something after the error: {after:?}"
    );
    ended
}

/// Reads the events already on their way (another subscriber's probes), none an error.
async fn drain(events: &mut Events) {
    while let Ok(item) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        let item = item.expect("the subscription goes on");
        assert_eq!(
            item.ok()["bookingEvents"]["booking"]["title"],
            json!("Probe")
        );
    }
}

/// The next event, within 2 s.
async fn next_event(events: &mut Events) -> Gql {
    tokio::time::timeout(Duration::from_secs(2), events.next())
        .await
        .expect("an event within 2 s")
        .expect("the subscription goes on")
}

/// Asserts the subscription is still open and quiet for a little while.
pub async fn still_listening(events: &mut Events, who: &str) {
    if let Ok(item) = tokio::time::timeout(Duration::from_millis(300), events.next()).await {
        panic!("{who}: the subscription should go on quietly, got {item:?}");
    }
}

/// Books `[start, start + minutes)` of the room as the holder of `token`; returns the id.
pub async fn book(app: &TestApp, token: &str, room: &str, days_ahead: i64, hour: u32) -> Value {
    let start = (chrono::Utc::now().date_naive() + chrono::Duration::days(days_ahead))
        .and_hms_opt(hour, 0, 0)
        .expect("a time of day")
        .and_utc();
    let r = app
        .gql(
            Some(token),
            "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
                booking { id title start end status } } }",
            json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                "end": (start + chrono::Duration::minutes(30)).to_rfc3339(), "title": "Weekly"}}),
        )
        .await;
    r.ok()["createBooking"]["booking"].clone()
}

async fn a_deactivated_persons_subscription_ends_at_once(app: &TestApp) {
    let scene = scene(app, "Deact").await;
    let tablet = app
        .register_device(&scene.admin, &scene.site, Some(&scene.room))
        .await;
    let mut theirs = listening(app, &scene, &scene.person, 2).await;
    let mut tablets = listening(app, &scene, &tablet, 3).await;
    drain(&mut theirs).await;

    let since = Instant::now();
    let r = app
        .gql(
            Some(&scene.admin),
            "mutation($u: ID!) { deactivateUser(input: {userId: $u}) { user { status } } }",
            json!({"u": scene.person_id}),
        )
        .await;
    assert_eq!(
        r.ok()["deactivateUser"]["user"]["status"],
        json!("INACTIVE")
    );
    let ended = ends_at_once(&mut theirs, since, "the deactivated person").await;
    ended.assert_error("UNAUTHENTICATED", None);
    // The tablet (registered by the administrator) goes on, and hears what comes next.
    still_listening(&mut tablets, "the tablet").await;
    let booking = book(app, &scene.admin, &scene.room, 4, 9).await;
    let heard = tokio::time::timeout(Duration::from_secs(2), tablets.next())
        .await
        .expect("the tablet hears the next booking")
        .expect("the tablet's subscription goes on");
    assert_eq!(heard.ok()["bookingEvents"]["booking"]["id"], booking["id"]);
}

async fn a_revoked_tablets_subscription_ends_at_once(app: &TestApp) {
    let scene = scene(app, "Revoke").await;
    let r = app
        .gql(
            Some(&scene.admin),
            "mutation($s: ID!, $r: ID!) { registerDevice(input: {siteId: $s, roomId: $r,
                name: \"Door\"}) { token device { id } } }",
            json!({"s": scene.site, "r": scene.room}),
        )
        .await;
    let tablet = r.ok()["registerDevice"]["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let device = r.ok()["registerDevice"]["device"]["id"].clone();
    let other = app
        .register_device(&scene.admin, &scene.site, Some(&scene.room))
        .await;
    let mut revoked = listening(app, &scene, &tablet, 2).await;
    let mut kept = listening(app, &scene, &other, 3).await;
    drain(&mut revoked).await;

    let since = Instant::now();
    app.gql(
        Some(&scene.admin),
        "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }",
        json!({"d": device}),
    )
    .await
    .ok();
    let ended = ends_at_once(&mut revoked, since, "the revoked tablet").await;
    ended.assert_error("UNAUTHENTICATED", None);
    still_listening(&mut kept, "the other tablet").await;
}

async fn a_signed_out_sessions_subscription_ends_at_once_and_only_that_one(app: &TestApp) {
    let scene = scene(app, "Logout").await;
    let second = app.login(&scene.person_login, CHOSEN_PASSWORD).await;
    let mut first_session = listening(app, &scene, &scene.person, 2).await;
    let mut second_session = listening(app, &scene, &second, 3).await;
    drain(&mut first_session).await;

    let since = Instant::now();
    let r = app
        .gql(
            Some(&second),
            "mutation { logout(input: {}) { ok } }",
            json!({}),
        )
        .await;
    r.ok();
    let ended = ends_at_once(&mut second_session, since, "the signed-out session").await;
    ended.assert_error("UNAUTHENTICATED", None);
    // The person's other session is theirs still.
    still_listening(&mut first_session, "the other session").await;
}

async fn losing_the_site_ends_the_subscription_with_forbidden(app: &TestApp) {
    let scene = scene(app, "Moved").await;
    let elsewhere = app.create_site(&scene.admin, &scene.company, "Annex").await;
    let mut theirs = listening(app, &scene, &scene.person, 2).await;

    let since = Instant::now();
    let r = app
        .gql(
            Some(&scene.admin),
            "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id } } }",
            json!({"i": {"id": scene.person_id, "siteIds": [elsewhere],
                "defaultSiteId": elsewhere}}),
        )
        .await;
    r.ok();
    let ended = ends_at_once(&mut theirs, since, "the person moved to another site").await;
    ended.assert_error("FORBIDDEN", None);
}

async fn a_created_event_carries_the_booking_as_created(app: &TestApp) {
    let scene = scene(app, "Snapshot").await;
    let tablet = app
        .register_device(&scene.admin, &scene.site, Some(&scene.room))
        .await;
    let mut events = listening(app, &scene, &tablet, 2).await;

    // Booked by the person, and cancelled right after: the CREATED event still shows the
    // booking as it was created (CONFIRMED), then comes the CANCELLED one.
    let booking = book(app, &scene.person, &scene.room, 4, 10).await;
    let r = app
        .gql(
            Some(&scene.person),
            "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { status } } }",
            json!({"id": booking["id"]}),
        )
        .await;
    assert_eq!(
        r.ok()["cancelBooking"]["booking"]["status"],
        json!("CANCELLED")
    );
    let created = next_event(&mut events).await;
    assert_eq!(
        created.ok()["bookingEvents"],
        json!({"kind": "CREATED", "booking": {
            "id": booking["id"], "status": "CONFIRMED", "title": "Weekly",
            "start": booking["start"], "end": booking["end"],
            // A tablet sees people by their names only.
            "user": {"displayName": "Noé Petit"}}})
    );
    let cancelled = next_event(&mut events).await;
    assert_eq!(cancelled.ok()["bookingEvents"]["kind"], json!("CANCELLED"));
    assert_eq!(
        cancelled.ok()["bookingEvents"]["booking"]["status"],
        json!("CANCELLED")
    );
}
