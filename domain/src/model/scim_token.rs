use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, ProfileId, ScimTokenId, SiteGroupId, SiteId, UserId};
use crate::values::{Name, Secret};

/// A directory's bearer token for SCIM provisioning (RFC 7644) into one organization: shown
/// once, stored as a keyed hash, revocable. It acts for the person who created it, within its
/// organization, and gives the people it creates its profile (and site group or site).
#[derive(Debug, Clone, PartialEq)]
pub struct ScimToken {
    pub id: ScimTokenId,
    pub organization_id: OrganizationId,
    pub name: Name,
    pub token_hash: Secret,
    /// The profile provisioned people get (the organization's default profile when the token
    /// was created, unless another was chosen).
    pub profile_id: ProfileId,
    /// A site group provisioned people are granted, if any.
    pub site_group_id: Option<SiteGroupId>,
    /// A site provisioned people are granted (and get as default site), if any.
    pub site_id: Option<SiteId>,
    pub created_by: UserId,
    pub created_at: DateTime<Utc>,
    pub revoked_at: Option<DateTime<Utc>>,
}
