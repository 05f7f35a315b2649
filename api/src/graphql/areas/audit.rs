//! The audit log.

use async_graphql::{Context, ID, InputObject, Object};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject, Default)]
pub struct AuditEventFilter {
    pub organization_id: Option<ID>,
    pub actor_id: Option<ID>,
    /// Exact action, e.g. `user.created`.
    pub action: Option<String>,
    pub from: Option<DateTime>,
    pub to: Option<DateTime>,
}

#[derive(Default)]
pub struct AuditQuery;

#[Object]
impl AuditQuery {
    /// Newest first; needs `audit: READ`. Partners also see their clients' events.
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn audit_events(
        &self,
        ctx: &Context<'_>,
        filter: Option<AuditEventFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<AuditEventConnection> {
        let (domain, actor) = acting(ctx)?;
        let filter = filter.unwrap_or_default();
        let domain_filter = d::AuditFilter {
            organization_id: parse_opt_id(filter.organization_id.as_ref(), "organization")?,
            actor_id: parse_opt_id(filter.actor_id.as_ref(), "user")?,
            action: filter.action,
            from: filter.from.map(|t| t.0),
            to: filter.to.map(|t| t.0),
        };
        let page = domain
            .audit_events(
                &actor,
                domain_filter,
                first,
                decode_cursor(after.as_deref())?,
                total_count_selected(ctx),
            )
            .await
            .gql()?;
        // No priming of `actor` here (unlike `bookings`): actors the caller may not see are
        // absent from the loader's cache and would be read again, one batch more.
        Ok(AuditEventConnection::from_page(page, after.is_some()))
    }
}
