use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, PriceListId, ProfileId};
use crate::values::{EmailAddress, Language, Name, TimeZone};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum OrganizationKind {
    /// The operator of the installation; parent of partners.
    Platform,
    /// A reseller; parent of companies.
    Partner,
    /// A client company.
    Company,
}

impl OrganizationKind {
    /// The kind of organization allowed to create (and act in) one of this kind.
    pub fn parent_kind(self) -> Option<OrganizationKind> {
        match self {
            OrganizationKind::Platform => None,
            OrganizationKind::Partner => Some(OrganizationKind::Platform),
            OrganizationKind::Company => Some(OrganizationKind::Partner),
        }
    }
}

/// A tenant.
#[derive(Debug, Clone, PartialEq)]
pub struct Organization {
    pub id: OrganizationId,
    pub kind: OrganizationKind,
    pub name: Name,
    pub parent_id: Option<OrganizationId>,
    /// Where new users' credentials go by default.
    pub admin_email: Option<EmailAddress>,
    pub external_contact: Option<String>,
    pub default_language: Language,
    pub time_zone: TimeZone,
    /// Given to new users without an explicit profile; the Enterprise profile until changed.
    pub default_profile_id: ProfileId,
    pub price_list_id: Option<PriceListId>,
    pub created_at: DateTime<Utc>,
}

/// Which organizations a list may show: the caller's own and, optionally, its children.
#[derive(Debug, Clone, PartialEq)]
pub struct OrganizationQuery {
    pub own: OrganizationId,
    pub include_children: bool,
    pub parent_id: Option<OrganizationId>,
    pub kind: Option<OrganizationKind>,
    /// Lower-cased substring of the name.
    pub search: Option<String>,
    pub after: Option<OrganizationId>,
    pub first: usize,
    /// Count every match (`Page::total_count`, else 0): only when the caller asks.
    pub count_total: bool,
}
