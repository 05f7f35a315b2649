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
}

impl Default for BookingPolicy {
    fn default() -> Self {
        BookingPolicy {
            slot_minutes: 15,
            min_minutes: 15,
            max_minutes: 8 * 60,
            horizon_days: 90,
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
