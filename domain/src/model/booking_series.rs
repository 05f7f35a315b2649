use chrono::{DateTime, NaiveDateTime, Utc};

use crate::ids::{BookingSeriesId, OrganizationId, RoomId, SiteId, UserId};
use crate::recurrence::RecurrenceRule;
use crate::values::TimeZone;

/// A recurring booking: a room for one person at the same local time on the dates of a rule.
/// Each occurrence is a [`crate::model::Booking`] of its own (`series_id`); the series records
/// how they were made (the rule, the first start as local time of the site, the duration) and
/// the dates not booked because the room was taken then (`onConflict: SKIP`).
#[derive(Debug, Clone, PartialEq)]
pub struct BookingSeries {
    pub id: BookingSeriesId,
    pub organization_id: OrganizationId,
    pub room_id: RoomId,
    pub site_id: SiteId,
    /// The holder of every occurrence.
    pub user_id: UserId,
    pub created_by: UserId,
    pub title: Option<String>,
    pub rule: RecurrenceRule,
    /// The first occurrence's start, in local time of `time_zone` (`DTSTART;TZID=…`).
    pub local_start: NaiveDateTime,
    pub duration_minutes: i32,
    /// The site's time zone the rule was expanded in.
    pub time_zone: TimeZone,
    /// Starts of the occurrences the rule made but that were not booked (the room was taken).
    pub skipped: Vec<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// What `createBookingSeries` does with an occurrence whose slot is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnConflict {
    /// Book nothing and list the conflicting dates.
    Fail,
    /// Book the free dates and list the skipped ones.
    Skip,
}

/// Which occurrences of a series a change or a cancellation concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeriesScope {
    /// The occurrence named.
    Occurrence,
    /// The occurrence named and every later one.
    ThisAndFollowing,
    /// Every occurrence of the series.
    All,
}
