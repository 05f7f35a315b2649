//! Bookings changed at the same moment: a move raced against a cancellation, and a move into a
//! slot raced against a new booking of that slot. A cancelled booking never comes back, and two
//! confirmed bookings of one room never overlap.

use chrono::{DateTime, Duration, Utc};
use serde_json::{Value, json};

use super::support::{ROUNDS, Stage, acked_or, call, race, rounds, text};

const BOOK: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
    booking { id } } }";
const MOVE: &str = "mutation($i: UpdateBookingInput!) { updateBooking(input: $i) {
    booking { id status start end } } }";
const CANCEL: &str =
    "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { id status } } }";
const BOOKINGS: &str = "query($r: ID!, $from: DateTime!, $to: DateTime!) { bookings(filter:
    {roomId: $r, from: $from, to: $to}, first: 100) { edges { node { id status start end } } } }";

/// The hour of round `round`: tomorrow from midnight UTC on, one hour per round.
fn hour_of(round: usize) -> DateTime<Utc> {
    let day = Utc::now().date_naive() + Duration::days(1);
    day.and_hms_opt(0, 0, 0).expect("midnight").and_utc()
        + Duration::hours(i64::try_from(round).expect("few rounds"))
}

fn quarter(start: DateTime<Utc>, index: i64) -> (String, String) {
    let from = start + Duration::minutes(15 * index);
    (
        from.to_rfc3339(),
        (from + Duration::minutes(15)).to_rfc3339(),
    )
}

/// Every booking of the room over the rounds' hours, as (id, status, start, end).
async fn bookings_of(stage: &Stage, token: &str, room: &str) -> Vec<Value> {
    let from = hour_of(0);
    let to = hour_of(ROUNDS + 1);
    let r = stage
        .ask(
            Some(token),
            BOOKINGS,
            json!({"r": room, "from": from.to_rfc3339(), "to": to.to_rfc3339()}),
        )
        .await;
    r.ok()["bookings"]["edges"]
        .as_array()
        .expect("edges")
        .iter()
        .map(|e| e["node"].clone())
        .collect()
}

fn instant(value: &Value) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(value.as_str().expect("a date"))
        .expect("RFC 3339")
        .with_timezone(&Utc)
}

/// No two confirmed bookings of the room overlap.
#[track_caller]
fn no_overlap(round: usize, all: &[Value]) {
    let confirmed: Vec<&Value> = all.iter().filter(|b| b["status"] == "CONFIRMED").collect();
    for (i, a) in confirmed.iter().enumerate() {
        for b in &confirmed[i + 1..] {
            let overlap = instant(&a["start"]) < instant(&b["end"])
                && instant(&b["start"]) < instant(&a["end"]);
            assert!(
                !overlap,
                "round {round}: two confirmed bookings of the room overlap: {a:#} and {b:#}"
            );
        }
    }
}

fn find<'a>(all: &'a [Value], id: &str) -> Option<&'a Value> {
    all.iter().find(|b| b["id"] == json!(id))
}

/// `updateBooking` (a move) vs `cancelBooking`: a cancelled booking never comes back
/// CONFIRMED, and no overlap ever appears.
pub async fn move_vs_cancel(stage: &Stage) {
    let (_, org) = stage.company("Move Cancel").await;
    let admin = org.admin_token.clone();
    let site = stage.create_site(&admin, &org.id, "Site").await;
    let room = stage.create_room(&admin, &site, "Room").await;
    rounds(async |round| {
        let (start, end) = quarter(hour_of(round), 0);
        let booked = stage
            .ask(
                Some(&admin),
                BOOK,
                json!({"i": {"roomId": room, "start": start, "end": end}}),
            )
            .await;
        let id = text(&booked.ok()["createBooking"]["booking"]["id"]);
        let (to_start, to_end) = quarter(hour_of(round), 2);
        let (moved, cancelled) = race(
            &stage.app,
            call(
                &admin,
                MOVE,
                json!({"i": {"id": id, "start": to_start, "end": to_end}}),
            ),
            call(&admin, CANCEL, json!({"id": id})),
        )
        .await;
        let moved = acked_or(
            round,
            "updateBooking",
            &moved,
            &["VALIDATION", "CONFLICT", "NOT_FOUND"],
        );
        let was_cancelled = acked_or(
            round,
            "cancelBooking",
            &cancelled,
            &["VALIDATION", "CONFLICT"],
        );
        let all = bookings_of(stage, &admin, &room).await;
        let booking = find(&all, &id)
            .unwrap_or_else(|| panic!("round {round}: booking {id} is gone: {all:#?}"))
            .clone();
        if was_cancelled {
            assert_eq!(
                booking["status"], "CANCELLED",
                "round {round}: the acknowledged cancellation was undone by the move \
                 (move acknowledged: {moved}): {booking:#}"
            );
        }
        if moved && !was_cancelled {
            assert_eq!(
                (instant(&booking["start"]), booking["status"].clone()),
                (instant(&json!(to_start)), json!("CONFIRMED")),
                "round {round}: the acknowledged move was lost: {booking:#}"
            );
        }
        no_overlap(round, &all);
    })
    .await;
}

/// A move into a slot vs a new booking of the same slot: at most one is acknowledged, the one
/// that is holds the slot, and no overlap ever appears.
pub async fn move_into_a_slot_vs_booking_it(stage: &Stage) {
    let (_, org) = stage.company("Move Create").await;
    let admin = org.admin_token.clone();
    let site = stage.create_site(&admin, &org.id, "Site").await;
    let room = stage.create_room(&admin, &site, "Room").await;
    rounds(async |round| {
        let (start, end) = quarter(hour_of(round), 0);
        let booked = stage
            .ask(
                Some(&admin),
                BOOK,
                json!({"i": {"roomId": room, "start": start, "end": end}}),
            )
            .await;
        let id = text(&booked.ok()["createBooking"]["booking"]["id"]);
        let (slot_start, slot_end) = quarter(hour_of(round), 2);
        let (moved, created) = race(
            &stage.app,
            call(
                &admin,
                MOVE,
                json!({"i": {"id": id, "start": slot_start, "end": slot_end}}),
            ),
            call(
                &admin,
                BOOK,
                json!({"i": {"roomId": room, "start": slot_start, "end": slot_end}}),
            ),
        )
        .await;
        let was_moved = acked_or(round, "updateBooking", &moved, &["CONFLICT"]);
        let was_created = acked_or(round, "createBooking", &created, &["CONFLICT"]);
        assert!(
            !(was_moved && was_created),
            "round {round}: both the move into the slot and a new booking of it were acknowledged"
        );
        let all = bookings_of(stage, &admin, &room).await;
        no_overlap(round, &all);
        if was_moved {
            let booking = find(&all, &id).expect("the moved booking");
            assert_eq!(
                (instant(&booking["start"]), booking["status"].clone()),
                (instant(&json!(slot_start)), json!("CONFIRMED")),
                "round {round}: the acknowledged move was lost: {booking:#}"
            );
        }
        if was_created {
            let new = text(&created.data["createBooking"]["booking"]["id"]);
            let booking = find(&all, &new).expect("the new booking");
            assert_eq!(
                booking["status"], "CONFIRMED",
                "round {round}: the acknowledged booking was lost: {booking:#}"
            );
        }
    })
    .await;
}

const SERIES: &str = "mutation($i: CreateBookingSeriesInput!) { createBookingSeries(input: $i) {
    bookings { id start } skipped } }";

/// A series (`onConflict: SKIP`) vs a booking of its first slot: whichever commits first holds
/// the slot; the series skips it exactly when the booking was acknowledged, and no overlap ever
/// appears.
pub async fn a_series_vs_a_booking_of_one_of_its_slots(stage: &Stage) {
    let (_, org) = stage.company("Series Race").await;
    let admin = org.admin_token.clone();
    let site = stage.create_site(&admin, &org.id, "Site").await;
    let room = stage.create_room(&admin, &site, "Room").await;
    rounds(async |round| {
        let (start, end) = quarter(hour_of(round), 0);
        let (series, single) = race(
            &stage.app,
            call(
                &admin,
                SERIES,
                json!({"i": {"roomId": room, "start": start, "end": end, "onConflict": "SKIP",
                    "rule": {"frequency": "DAILY", "count": 3}}}),
            ),
            call(
                &admin,
                BOOK,
                json!({"i": {"roomId": room, "start": start, "end": end}}),
            ),
        )
        .await;
        let series_booked = acked_or(round, "createBookingSeries", &series, &["CONFLICT"]);
        let single_booked = acked_or(round, "createBooking", &single, &["CONFLICT"]);
        if series_booked {
            let skipped = series.data["createBookingSeries"]["skipped"]
                .as_array()
                .map_or(0, Vec::len);
            assert_eq!(
                skipped == 1,
                single_booked,
                "round {round}: the series skipped {skipped} slot(s), the booking was {}",
                if single_booked {
                    "acknowledged"
                } else {
                    "refused"
                }
            );
        } else {
            assert!(single_booked, "round {round}: neither holds the slot");
        }
        no_overlap(round, &bookings_of(stage, &admin, &room).await);
    })
    .await;
}
