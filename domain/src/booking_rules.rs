//! Booking rules that need no storage: a room's policy (bookable, duration, slot alignment,
//! horizon) and the UTC span of a local day, DST-correct. Overlap is checked by the booking
//! operations inside their transaction.

use chrono::{DateTime, Duration, NaiveDate, TimeZone as _, Timelike, Utc};

use crate::error::{DomainError, DomainResult};
use crate::model::Room;
use crate::values::TimeZone;

/// Checks `[start, end)` against the room's policy at `now`, in the site's time zone.
/// Errors name `roomId` (not bookable), `end` (order, duration) or `start` (past, horizon, slot).
pub fn check_policy(
    room: &Room,
    zone: TimeZone,
    start: DateTime<Utc>,
    end: DateTime<Utc>,
    now: DateTime<Utc>,
) -> DomainResult<()> {
    let policy = room.policy;
    if !room.bookable {
        return Err(DomainError::validation(
            "roomId",
            "this room cannot be booked",
        ));
    }
    if end <= start {
        return Err(DomainError::validation("end", "must be after start"));
    }
    let minutes = (end - start).num_minutes();
    if (end - start) != Duration::minutes(minutes) || minutes < i64::from(policy.min_minutes) {
        return Err(DomainError::validation(
            "end",
            format!("a booking lasts at least {} minutes", policy.min_minutes),
        ));
    }
    if minutes > i64::from(policy.max_minutes) {
        return Err(DomainError::validation(
            "end",
            format!("a booking lasts at most {} minutes", policy.max_minutes),
        ));
    }
    let slot = Duration::minutes(i64::from(policy.slot_minutes));
    // The slot in progress may still be booked ("book now" at the door).
    if start < now - slot {
        return Err(DomainError::validation("start", "must not be in the past"));
    }
    if start > now + Duration::days(i64::from(policy.horizon_days)) {
        return Err(DomainError::validation(
            "start",
            format!("bookings open {} days ahead", policy.horizon_days),
        ));
    }
    if !on_slot(start, zone, policy.slot_minutes) {
        return Err(DomainError::validation(
            "start",
            format!("must fall on a {}-minute slot", policy.slot_minutes),
        ));
    }
    if minutes % i64::from(policy.slot_minutes) != 0 {
        return Err(DomainError::validation(
            "end",
            format!("must fall on a {}-minute slot", policy.slot_minutes),
        ));
    }
    Ok(())
}

/// Whether `at` is a whole number of slots after local midnight, in whole minutes.
fn on_slot(at: DateTime<Utc>, zone: TimeZone, slot_minutes: i32) -> bool {
    let local = at.with_timezone(&zone.tz());
    let minute_of_day = i64::from(local.hour()) * 60 + i64::from(local.minute());
    local.second() == 0 && local.nanosecond() == 0 && minute_of_day % i64::from(slot_minutes) == 0
}

/// The first slot boundary at or after `at` (slots start at local midnight, in whole minutes).
pub fn next_slot_boundary(at: DateTime<Utc>, zone: TimeZone, slot_minutes: i32) -> DateTime<Utc> {
    let local = at.with_timezone(&zone.tz());
    let minute_of_day = i64::from(local.hour()) * 60 + i64::from(local.minute());
    let into_slot = Duration::minutes(minute_of_day % i64::from(slot_minutes))
        + Duration::seconds(i64::from(local.second()))
        + Duration::nanoseconds(i64::from(local.nanosecond()));
    if into_slot.is_zero() {
        at
    } else {
        at - into_slot + Duration::minutes(i64::from(slot_minutes))
    }
}

/// The UTC instants `[from, to)` of a local calendar day: 23 or 25 hours on DST change days.
pub fn local_day(date: NaiveDate, zone: TimeZone) -> (DateTime<Utc>, DateTime<Utc>) {
    let start_of = |day: NaiveDate| {
        let midnight = day.and_time(chrono::NaiveTime::MIN);
        // A zone may skip midnight on a DST change: take the first instant of the day that exists.
        (0..=180)
            .find_map(|minutes| {
                zone.tz()
                    .from_local_datetime(&(midnight + Duration::minutes(minutes)))
                    .earliest()
            })
            .map_or_else(|| midnight.and_utc(), |t| t.with_timezone(&Utc))
    };
    let next = date.succ_opt().unwrap_or(date);
    (start_of(date), start_of(next))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ids::{OrganizationId, RoomId, SiteId};
    use crate::model::BookingPolicy;
    use crate::values::Name;

    fn room(bookable: bool) -> Room {
        Room {
            id: RoomId::new(),
            site_id: SiteId::new(),
            organization_id: OrganizationId::new(),
            name: Name::parse("name", "Touch Room").unwrap(),
            capacity: Some(6),
            equipment: vec![],
            bookable,
            policy: BookingPolicy {
                slot_minutes: 15,
                min_minutes: 15,
                max_minutes: 240,
                horizon_days: 30,
                ..BookingPolicy::default()
            },
            created_at: Utc::now(),
        }
    }

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    fn field(result: DomainResult<()>) -> Option<String> {
        result.err().and_then(|e| e.field().map(str::to_owned))
    }

    #[test]
    fn policy_errors_name_their_field() {
        let paris = TimeZone::parse("tz", "Europe/Paris").unwrap();
        let now = at("2026-12-01T08:00:00Z");
        let r = room(true);
        let ok = check_policy(
            &r,
            paris,
            at("2026-12-01T09:00:00Z"),
            at("2026-12-01T10:00:00Z"),
            now,
        );
        assert!(ok.is_ok());
        let cases = [
            (
                room(false),
                "2026-12-01T09:00:00Z",
                "2026-12-01T10:00:00Z",
                "roomId",
            ),
            (
                room(true),
                "2026-12-01T10:00:00Z",
                "2026-12-01T09:00:00Z",
                "end",
            ),
            (
                room(true),
                "2026-12-01T09:00:00Z",
                "2026-12-01T09:05:00Z",
                "end",
            ),
            (
                room(true),
                "2026-12-01T09:00:00Z",
                "2026-12-01T14:00:00Z",
                "end",
            ),
            (
                room(true),
                "2026-12-01T09:00:00Z",
                "2026-12-01T09:40:00Z",
                "end",
            ),
            (
                room(true),
                "2026-12-01T09:10:00Z",
                "2026-12-01T09:40:00Z",
                "start",
            ),
            (
                room(true),
                "2026-11-30T09:00:00Z",
                "2026-11-30T10:00:00Z",
                "start",
            ),
            (
                room(true),
                "2027-02-01T09:00:00Z",
                "2027-02-01T10:00:00Z",
                "start",
            ),
        ];
        for (room, start, end, expected) in cases {
            assert_eq!(
                field(check_policy(&room, paris, at(start), at(end), now)).as_deref(),
                Some(expected),
                "{start}..{end}"
            );
        }
    }

    #[test]
    fn the_slot_in_progress_may_be_booked() {
        let utc = TimeZone::utc();
        let now = at("2026-12-01T09:07:00Z");
        assert!(
            check_policy(
                &room(true),
                utc,
                at("2026-12-01T09:00:00Z"),
                at("2026-12-01T09:30:00Z"),
                now
            )
            .is_ok()
        );
        assert!(
            check_policy(
                &room(true),
                utc,
                at("2026-12-01T08:45:00Z"),
                at("2026-12-01T09:30:00Z"),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn slots_align_on_local_time() {
        // Kolkata is UTC+5:30: 09:00 local is 03:30 UTC, on a 60-minute slot locally.
        let kolkata = TimeZone::parse("tz", "Asia/Kolkata").unwrap();
        let mut r = room(true);
        r.policy.slot_minutes = 60;
        r.policy.min_minutes = 60;
        let now = at("2026-12-01T00:00:00Z");
        assert!(
            check_policy(
                &r,
                kolkata,
                at("2026-12-01T03:30:00Z"),
                at("2026-12-01T04:30:00Z"),
                now
            )
            .is_ok()
        );
        assert!(
            check_policy(
                &r,
                kolkata,
                at("2026-12-01T03:00:00Z"),
                at("2026-12-01T04:00:00Z"),
                now
            )
            .is_err()
        );
    }

    #[test]
    fn local_days_follow_daylight_saving_in_paris() {
        let paris = TimeZone::parse("tz", "Europe/Paris").unwrap();
        let day = |s: &str| NaiveDate::parse_from_str(s, "%Y-%m-%d").unwrap();
        // Spring forward: 23 hours.
        let (from, to) = local_day(day("2026-03-29"), paris);
        assert_eq!(
            (from, to),
            (at("2026-03-28T23:00:00Z"), at("2026-03-29T22:00:00Z"))
        );
        // Fall back: 25 hours.
        let (from, to) = local_day(day("2026-10-25"), paris);
        assert_eq!(
            (from, to),
            (at("2026-10-24T22:00:00Z"), at("2026-10-25T23:00:00Z"))
        );
        let (from, to) = local_day(day("2026-12-01"), paris);
        assert_eq!(to - from, Duration::hours(24));
    }

    #[test]
    fn the_next_slot_boundary_is_local() {
        let utc = TimeZone::utc();
        assert_eq!(
            next_slot_boundary(at("2026-12-01T09:07:30Z"), utc, 15),
            at("2026-12-01T09:15:00Z")
        );
        assert_eq!(
            next_slot_boundary(at("2026-12-01T09:15:00Z"), utc, 15),
            at("2026-12-01T09:15:00Z")
        );
        // Kolkata (UTC+5:30): local hours fall on the half hour in UTC.
        let kolkata = TimeZone::parse("tz", "Asia/Kolkata").unwrap();
        assert_eq!(
            next_slot_boundary(at("2026-12-01T03:10:00Z"), kolkata, 60),
            at("2026-12-01T03:30:00Z")
        );
    }
}
