use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, SiteGroupId, SiteId};
use crate::values::{Name, TimeZone};

/// An establishment of a company.
#[derive(Debug, Clone, PartialEq)]
pub struct Site {
    pub id: SiteId,
    pub organization_id: OrganizationId,
    pub name: Name,
    pub time_zone: TimeZone,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// A named set of sites; granting the group grants whatever sites it holds at read time.
#[derive(Debug, Clone, PartialEq)]
pub struct SiteGroup {
    pub id: SiteGroupId,
    pub organization_id: OrganizationId,
    pub name: Name,
    pub site_ids: Vec<SiteId>,
    pub created_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SiteQuery {
    pub organization_ids: Vec<OrganizationId>,
    /// When set, only these sites (the caller's granted sites).
    pub only: Option<Vec<SiteId>>,
    pub after: Option<SiteId>,
    pub first: usize,
    /// Count every match (`Page::total_count`, else 0): only when the caller asks.
    pub count_total: bool,
}
