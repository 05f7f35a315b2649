//! Reading the audit log (writing happens inside every operation's transaction).

use crate::access::Actor;
use crate::error::DomainResult;
use crate::ids::{AuditEventId, OrganizationId, UserId};
use crate::model::*;
use crate::ops::{Domain, page_size};
use crate::permissions::{AuditPermission, ClientsPermission};

#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub organization_id: Option<OrganizationId>,
    pub actor_id: Option<UserId>,
    pub action: Option<String>,
    pub from: Option<chrono::DateTime<chrono::Utc>>,
    pub to: Option<chrono::DateTime<chrono::Utc>>,
}

impl Domain {
    /// Events of the caller's organization (or of one named client of it), newest first.
    pub async fn audit_events(
        &self,
        actor: &Actor,
        filter: AuditFilter,
        first: Option<i32>,
        before: Option<AuditEventId>,
        count_total: bool,
    ) -> DomainResult<Page<AuditEvent>> {
        let organization_ids = match filter.organization_id {
            Some(id) => vec![self.organization(actor, id).await?.id],
            None if actor.permissions.clients >= ClientsPermission::Read => {
                let mut ids = vec![actor.organization.id];
                let mut after = None;
                loop {
                    let query = OrganizationQuery {
                        own: actor.organization.id,
                        include_children: true,
                        parent_id: Some(actor.organization.id),
                        kind: None,
                        search: None,
                        after,
                        first: 500,
                        count_total: false,
                    };
                    let page = self.store.organizations(&query).await?;
                    after = page.items.last().map(|o| o.id);
                    ids.extend(page.items.iter().map(|o| o.id));
                    if !page.has_next_page {
                        break;
                    }
                }
                ids
            }
            None => vec![actor.organization.id],
        };
        actor.require("audit", actor.permissions.audit, AuditPermission::Read)?;
        let query = AuditQuery {
            organization_ids,
            actor_id: filter.actor_id,
            action: filter.action,
            from: filter.from,
            to: filter.to,
            before,
            first: page_size(first)?,
            count_total,
        };
        Ok(self.store.audit_events(&query).await?)
    }
}
