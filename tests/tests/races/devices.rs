//! Room tablets revoked while they are in use: a revoked tablet stays revoked and its token is
//! refused, whatever ran beside the revocation.

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use concierge_tests::{Org, TestApp};
use serde_json::json;

use super::support::{Stage, acked_or, ask, call, never_internal, race, refusal, rounds, text};

const REGISTER: &str = "mutation($s: ID!, $r: ID) { registerDevice(input: {siteId: $s, roomId: $r,
    name: \"Door tablet\"}) { token device { id } } }";
const REVOKE: &str = "mutation($d: ID!) { revokeDevice(input: {deviceId: $d}) { device { id } } }";
const WITH_CODE: &str = "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input:
    $i) { booking { id status } } }";
const ROOM: &str = "query($r: ID!) { room(id: $r) { id } }";
const BOOKINGS: &str = "query($r: ID!, $from: DateTime!, $to: DateTime!) { bookings(filter:
    {roomId: $r, from: $from, to: $to}) { edges { node { id status } } } }";

/// The settings of a release after a key rotation, keeping the test keys as the previous ones:
/// tokens issued before still work, and a tablet token is hashed again on its first use.
const ROTATED: &[(&str, &str)] = &[
    ("JWT_SECRET", "rotated-jwt-secret"),
    ("CODE_PEPPER", "rotated-pepper"),
    ("JWT_SECRET_PREVIOUS", "test-jwt-secret"),
    ("CODE_PEPPER_PREVIOUS", "test-pepper"),
];

/// A company with a site and a room, and a person who may book it with their code.
struct Door {
    org: Org,
    site: String,
    room: String,
    code: String,
}

async fn door(stage: &Stage, name: &str) -> Door {
    let (_, org) = stage.company(name).await;
    let site = stage.create_site(&org.admin_token, &org.id, "Site").await;
    let room = stage.create_room(&org.admin_token, &site, "Room").await;
    let bookers = stage.staff_profile(&org, "Bookers").await;
    let created = stage
        .create_user(
            &org.admin_token,
            &org.id,
            json!({"firstName": "Léa", "lastName": "Door", "username": "lea.door",
                "profileId": bookers, "siteIds": [site]}),
        )
        .await;
    Door {
        code: text(&created["credentials"]["bookingCode"]),
        org,
        site,
        room,
    }
}

/// A new tablet of the door's room: (device id, token).
async fn tablet(stage: &Stage, door: &Door) -> (String, String) {
    let r = stage
        .ask(
            Some(&door.org.admin_token),
            REGISTER,
            json!({"s": door.site, "r": door.room}),
        )
        .await;
    let payload = &r.ok()["registerDevice"];
    (text(&payload["device"]["id"]), text(&payload["token"]))
}

fn hour_of(round: usize) -> DateTime<Utc> {
    let day = Utc::now().date_naive() + Duration::days(2);
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        + Duration::hours(i64::try_from(round).expect("few rounds"))
}

/// The tablet's token is refused on `app` once the revocation was acknowledged.
async fn assert_refused(app: &TestApp, round: usize, token: &str, door: &Door, what: &str) {
    let r = ask(app, Some(token), ROOM, json!({"r": door.room})).await;
    never_internal(round, "a tablet's query", &r);
    assert!(
        !r.errors.is_empty(),
        "round {round}: the revoked tablet's token still works ({what})"
    );
    assert_eq!(r.code(), "UNAUTHENTICATED", "round {round}: {what}");
}

/// `revokeDevice` vs a booking made with the tablet's token: the tablet ends revoked and its
/// token refused; an acknowledged booking is still there.
pub async fn revoke_vs_a_booking_with_its_token(stage: &Stage) {
    let door = door(stage, "Revoke Book").await;
    rounds(async |round| {
        let (device, token) = tablet(stage, &door).await;
        let start = hour_of(round);
        let (revoke, book) = race(
            &stage.app,
            call(&door.org.admin_token, REVOKE, json!({"d": device})),
            call(
                &token,
                WITH_CODE,
                json!({"i": {"roomId": door.room, "code": door.code, "start": start.to_rfc3339(),
                    "end": (start + Duration::minutes(30)).to_rfc3339()}}),
            ),
        )
        .await;
        let revoked = acked_or(round, "revokeDevice", &revoke, &["CONFLICT"]);
        let booked = acked_or(
            round,
            "createBookingWithCode",
            &book,
            &["UNAUTHENTICATED", "CONFLICT"],
        );
        assert!(revoked, "round {round}: {:?}", refusal(&revoke));
        assert_refused(
            &stage.app,
            round,
            &token,
            &door,
            "after a booking raced the revocation",
        )
        .await;
        if booked {
            let id = text(&book.data["createBookingWithCode"]["booking"]["id"]);
            let r = stage
                .ask(
                    Some(&door.org.admin_token),
                    BOOKINGS,
                    json!({"r": door.room, "from": start.to_rfc3339(),
                        "to": (start + Duration::hours(1)).to_rfc3339()}),
                )
                .await;
            let edges = r.ok()["bookings"]["edges"]
                .as_array()
                .expect("edges")
                .clone();
            assert!(
                edges
                    .iter()
                    .any(|e| e["node"]["id"] == json!(id) && e["node"]["status"] == "CONFIRMED"),
                "round {round}: the acknowledged booking is not there: {edges:#?}"
            );
        }
    })
    .await;
}

/// After a key rotation, `revokeDevice` vs the tablet's first use (which stores its token under
/// the new pepper): the revocation holds and the token is refused.
pub async fn revoke_vs_the_first_use_after_a_key_rotation(stage: &Stage) {
    let door = door(stage, "Revoke Rotate").await;
    let rotated: Arc<TestApp> = stage.sibling(ROTATED).await;
    rounds(async |round| {
        // Registered by the release before the rotation.
        let (device, token) = tablet(stage, &door).await;
        let (revoke, used) = race(
            &rotated,
            call(&door.org.admin_token, REVOKE, json!({"d": device})),
            call(&token, ROOM, json!({"r": door.room})).authenticated_in_race(),
        )
        .await;
        let revoked = acked_or(round, "revokeDevice", &revoke, &["CONFLICT"]);
        acked_or(round, "the tablet's first use", &used, &["UNAUTHENTICATED"]);
        assert!(revoked, "round {round}: {:?}", refusal(&revoke));
        assert_refused(&rotated, round, &token, &door, "on the rotated release").await;
        assert_refused(&stage.app, round, &token, &door, "on the release before").await;
    })
    .await;
}

/// Two revocations of one tablet at once: both answer (neither INTERNAL), the tablet is revoked.
pub async fn revoke_twice_at_once(stage: &Stage) {
    let door = door(stage, "Revoke Twice").await;
    rounds(async |round| {
        let (device, token) = tablet(stage, &door).await;
        let (first, second) = race(
            &stage.app,
            call(&door.org.admin_token, REVOKE, json!({"d": device})),
            call(&door.org.admin_token, REVOKE, json!({"d": device})),
        )
        .await;
        let a = acked_or(round, "revokeDevice", &first, &["CONFLICT"]);
        let b = acked_or(round, "revokeDevice", &second, &["CONFLICT"]);
        assert!(a || b, "round {round}: neither revocation was acknowledged");
        assert_refused(&stage.app, round, &token, &door, "after two revocations").await;
    })
    .await;
}
