use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, ProfileId};
use crate::permissions::Permissions;
use crate::values::Name;

/// A role: a named permission set of one organization.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    pub id: ProfileId,
    pub organization_id: OrganizationId,
    pub name: Name,
    /// The Enterprise profile: created with the organization, never changed nor deleted.
    pub built_in: bool,
    pub permissions: Permissions,
    pub created_at: DateTime<Utc>,
}

pub const ENTERPRISE_PROFILE_NAME: &str = "Enterprise";
