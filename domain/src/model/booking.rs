use chrono::{DateTime, Utc};

use crate::ids::{BookingId, BookingSeriesId, OrganizationId, RoomId, SiteId, UserId};

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
    /// Not checked in in time (the room's policy asks for it): the room is free again.
    Released,
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
    /// When the holder checked in (from the app, or at the door with their code).
    pub checked_in_at: Option<DateTime<Utc>>,
    /// When the booking is released unless checked in: set from the room's policy when the
    /// booking is made (or moved); `None` when the room asks for no check-in.
    pub release_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    /// The recurring series this booking is an occurrence of, if any.
    pub series_id: Option<BookingSeriesId>,
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
    /// Released for want of a check-in.
    Released,
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
