use chrono::{DateTime, Utc};

use crate::ids::{BookingId, OrganizationId, RoomId, SiteId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BookingSource {
    Admin,
    App,
    Tablet,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BookingStatus {
    Confirmed,
    Cancelled,
}

/// A room for one person over the half-open range `[start, end)`.
#[derive(Debug, Clone, PartialEq)]
pub struct Booking {
    pub id: BookingId,
    pub room_id: RoomId,
    pub site_id: SiteId,
    pub organization_id: OrganizationId,
    pub user_id: UserId,
    pub created_by: UserId,
    pub title: Option<String>,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub source: BookingSource,
    pub status: BookingStatus,
    pub created_at: DateTime<Utc>,
}

impl Booking {
    pub fn overlaps(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> bool {
        self.start < end && start < self.end
    }
}

/// Which bookings a list shows, in `(start, id)` order.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingQuery {
    pub organization_ids: Vec<OrganizationId>,
    pub room_id: Option<RoomId>,
    /// When set, only bookings of these sites (the caller's accessible sites).
    pub site_ids: Option<Vec<SiteId>>,
    pub user_id: Option<UserId>,
    /// Bookings ending after `from` …
    pub from: Option<DateTime<Utc>>,
    /// … and starting before `to` (overlap with `[from, to)`).
    pub to: Option<DateTime<Utc>>,
    pub status: Option<BookingStatus>,
    /// Keyset cursor: the page continues after this `(start, id)`.
    pub after: Option<(DateTime<Utc>, BookingId)>,
    pub first: usize,
    /// Count every match (`Page::total_count`, else 0): only when the caller asks.
    pub count_total: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum BookingEventKind {
    Created,
    Updated,
    Cancelled,
}

/// A committed change to a booking, as subscribers receive it.
#[derive(Debug, Clone, PartialEq)]
pub struct BookingEvent {
    pub kind: BookingEventKind,
    pub booking: Booking,
}

/// The longest a booking may last (policies are capped at 7 days), which bounds overlap scans.
pub const MAX_BOOKING_MINUTES: i64 = 7 * 24 * 60;

/// What booking a room reads, together: the room, its site (time zone, visibility) and the
/// confirmed bookings of the room overlapping the wanted interval (by id: the domain decides).
#[derive(Debug, Clone)]
pub struct RoomForBooking {
    pub room: crate::model::Room,
    pub site: crate::model::Site,
    pub overlapping: Vec<crate::ids::BookingId>,
}
