use chrono::{DateTime, Utc};

use crate::ids::{AuditEventId, OrganizationId, UserId};

/// Who did what to which object, when and from where. Never holds a secret.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    pub at: DateTime<Utc>,
    pub actor_id: Option<UserId>,
    pub organization_id: Option<OrganizationId>,
    /// `<object>.<verb>`, e.g. `user.created`.
    pub action: String,
    pub target_type: Option<String>,
    pub target_id: Option<String>,
    pub ip: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct AuditQuery {
    pub organization_ids: Vec<OrganizationId>,
    pub actor_id: Option<UserId>,
    pub action: Option<String>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    /// Newest first: the page starts below this id.
    pub before: Option<AuditEventId>,
    pub first: usize,
    /// Count every match (`Page::total_count`, else 0): only when the caller asks.
    pub count_total: bool,
}
