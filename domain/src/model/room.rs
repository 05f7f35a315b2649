use chrono::{DateTime, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, RoomId, SiteId};
use crate::values::Name;

/// How a room may be booked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct BookingPolicy {
    /// Bookings start and end on multiples of this many minutes (local midnight aligned).
    pub slot_minutes: i32,
    pub min_minutes: i32,
    pub max_minutes: i32,
    /// How many days ahead one may book.
    pub horizon_days: i32,
    /// Whether the holder must check in (app, or at the door with their code); a booking not
    /// checked in `release_after_minutes` after its start is released.
    pub check_in_required: bool,
    pub release_after_minutes: i32,
}

/// How early before its start a booking may be checked in.
pub const CHECK_IN_OPENS_MINUTES: i64 = 10;

impl Default for BookingPolicy {
    fn default() -> Self {
        BookingPolicy {
            slot_minutes: 15,
            min_minutes: 15,
            max_minutes: 8 * 60,
            horizon_days: 90,
            check_in_required: false,
            release_after_minutes: 10,
        }
    }
}

impl BookingPolicy {
    /// Applies optional changes and checks the result is coherent; errors name `policy.<field>`.
    pub fn with_changes(
        self,
        slot_minutes: Option<i32>,
        min_minutes: Option<i32>,
        max_minutes: Option<i32>,
        horizon_days: Option<i32>,
    ) -> DomainResult<Self> {
        let next = BookingPolicy {
            slot_minutes: slot_minutes.unwrap_or(self.slot_minutes),
            min_minutes: min_minutes.unwrap_or(self.min_minutes),
            max_minutes: max_minutes.unwrap_or(self.max_minutes),
            horizon_days: horizon_days.unwrap_or(self.horizon_days),
            ..self
        };
        if !(1..=24 * 60).contains(&next.slot_minutes) || (24 * 60) % next.slot_minutes != 0 {
            return Err(DomainError::validation(
                "policy.slotMinutes",
                "must divide a day (1 to 1440 minutes)",
            ));
        }
        if next.min_minutes < 1 || next.min_minutes % next.slot_minutes != 0 {
            return Err(DomainError::validation(
                "policy.minMinutes",
                "must be a positive multiple of slotMinutes",
            ));
        }
        if next.max_minutes < next.min_minutes || next.max_minutes > 7 * 24 * 60 {
            return Err(DomainError::validation(
                "policy.maxMinutes",
                "must be between minMinutes and 7 days",
            ));
        }
        if !(0..=3650).contains(&next.horizon_days) {
            return Err(DomainError::validation(
                "policy.horizonDays",
                "must be between 0 and 3650",
            ));
        }
        Ok(next)
    }

    /// Applies optional changes to the check-in rule; errors name `policy.<field>`.
    pub fn with_check_in(
        self,
        check_in_required: Option<bool>,
        release_after_minutes: Option<i32>,
    ) -> DomainResult<Self> {
        let next = BookingPolicy {
            check_in_required: check_in_required.unwrap_or(self.check_in_required),
            release_after_minutes: release_after_minutes.unwrap_or(self.release_after_minutes),
            ..self
        };
        if !(0..=240).contains(&next.release_after_minutes) {
            return Err(DomainError::validation(
                "policy.releaseAfterMinutes",
                "must be between 0 and 240",
            ));
        }
        Ok(next)
    }

    /// When a booking of `[start, end)` is released unless checked in. `None`: no check-in, or a
    /// booking that ends before its deadline (there would be nothing left to free).
    pub fn release_at(&self, start: DateTime<Utc>, end: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let deadline = start + chrono::Duration::minutes(i64::from(self.release_after_minutes));
        (self.check_in_required && deadline < end).then_some(deadline)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Room {
    pub id: RoomId,
    pub site_id: SiteId,
    /// Denormalised from the site, so tenancy checks need no extra read.
    pub organization_id: OrganizationId,
    pub name: Name,
    pub capacity: Option<i32>,
    pub equipment: Vec<String>,
    pub bookable: bool,
    pub policy: BookingPolicy,
    pub created_at: DateTime<Utc>,
}
