use concierge_domain::model::{AuditEvent, AuditQuery, Page};
use concierge_domain::storage::StorageResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, page, page_limit};
use crate::errors::IntoStorage;
use crate::rows::AuditEventRow;
use crate::schema::audit_events;

/// The rows `query` selects, before keyset pagination.
fn matching(query: &AuditQuery) -> audit_events::BoxedQuery<'static, Pg> {
    let organization_ids: Vec<Uuid> = query.organization_ids.iter().map(|id| id.0).collect();
    let mut q = audit_events::table
        .into_boxed()
        .filter(audit_events::organization_id.eq_any(organization_ids));
    if let Some(actor) = query.actor_id {
        q = q.filter(audit_events::actor_id.eq(actor.0));
    }
    if let Some(action) = &query.action {
        q = q.filter(audit_events::action.eq(action.clone()));
    }
    if let Some(from) = query.from {
        q = q.filter(audit_events::at.ge(from));
    }
    if let Some(to) = query.to {
        q = q.filter(audit_events::at.lt(to));
    }
    q
}

/// Newest first: the keyset runs downwards from `before`.
pub(crate) async fn list(conn: &mut Conn, query: &AuditQuery) -> StorageResult<Page<AuditEvent>> {
    let total_count: i64 = if query.count_total {
        matching(query).count().get_result(conn).await.storage()?
    } else {
        0
    };
    let mut q = matching(query);
    if let Some(before) = query.before {
        q = q.filter(audit_events::id.lt(before.0));
    }
    let rows = q
        .order(audit_events::id.desc())
        .limit(page_limit(query.first))
        .select(AuditEventRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(page(
        rows.into_iter().map(AuditEvent::from).collect(),
        query.first,
        total_count,
    ))
}

/// Writes `events` in one statement (none for no event).
pub(crate) async fn insert_all(conn: &mut Conn, events: &[AuditEvent]) -> StorageResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    let rows: Vec<AuditEventRow> = events.iter().map(AuditEventRow::from).collect();
    diesel::insert_into(audit_events::table)
        .values(rows)
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}
