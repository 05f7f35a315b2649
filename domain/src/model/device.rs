use chrono::{DateTime, Utc};

use crate::ids::{DeviceId, OrganizationId, RoomId, SiteId, UserId};
use crate::values::{Name, Secret};

/// A room tablet, authenticated by a token scoped to a site or one room.
#[derive(Debug, Clone, PartialEq)]
pub struct Device {
    pub id: DeviceId,
    pub organization_id: OrganizationId,
    pub site_id: SiteId,
    pub room_id: Option<RoomId>,
    pub name: Name,
    pub token_hash: Secret,
    pub registered_by: UserId,
    pub revoked_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

/// A room tablet with the person who registered it and their organization, read together (one
/// statement on PostgreSQL): what authenticating a tablet needs.
#[derive(Debug, Clone)]
pub struct DeviceWithRegistrant {
    pub device: Device,
    pub registrant: crate::model::User,
    pub organization: crate::model::Organization,
}
