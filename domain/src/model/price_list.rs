use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, PriceListId};
use crate::values::Name;

/// A partner's price list; exactly one per partner is the default.
#[derive(Debug, Clone, PartialEq)]
pub struct PriceList {
    pub id: PriceListId,
    pub organization_id: OrganizationId,
    pub name: Name,
    pub is_default: bool,
    pub created_at: DateTime<Utc>,
}
