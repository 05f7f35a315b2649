use chrono::{DateTime, Utc};

use crate::ids::{CalendarFeedId, OrganizationId, RoomId, UserId};
use crate::values::Secret;

/// A secret iCalendar address (RFC 5545) that a calendar application polls: a person's own
/// bookings, or a room's. The token is shown once and stored as a keyed hash, like a tablet's;
/// the feed shows what its owner may see, for as long as they may see it.
#[derive(Debug, Clone, PartialEq)]
pub struct CalendarFeed {
    pub id: CalendarFeedId,
    pub organization_id: OrganizationId,
    /// Whose feed it is: a person feed lists their bookings; a room feed is read with their
    /// rights.
    pub user_id: UserId,
    /// The room of a room feed; `None` for a person's own bookings.
    pub room_id: Option<RoomId>,
    pub token_hash: Secret,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}
