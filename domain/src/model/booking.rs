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
