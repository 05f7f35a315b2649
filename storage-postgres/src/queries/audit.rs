use concierge_domain::model::{AuditEvent, AuditQuery, Page};
use concierge_domain::storage::StorageResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
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

/// Audit events as column arrays, written by `INSERT … SELECT * FROM unnest(…)`: a statement
/// of fixed text whatever the number of events, so it is prepared once per connection, and
/// one that can open a statement that writes more (see `booking_events::append`).
#[derive(Debug, Default)]
pub(crate) struct AuditColumns {
    ids: Vec<Uuid>,
    at: Vec<chrono::DateTime<chrono::Utc>>,
    actor_ids: Vec<Option<Uuid>>,
    organization_ids: Vec<Option<Uuid>>,
    actions: Vec<String>,
    target_types: Vec<Option<String>>,
    target_ids: Vec<Option<String>>,
    ips: Vec<Option<String>>,
}

impl AuditColumns {
    pub(crate) fn of(events: &[AuditEvent]) -> Self {
        let mut columns = AuditColumns::default();
        for row in events.iter().map(AuditEventRow::from) {
            columns.ids.push(row.id);
            columns.at.push(row.at);
            columns.actor_ids.push(row.actor_id);
            columns.organization_ids.push(row.organization_id);
            columns.actions.push(row.action);
            columns.target_types.push(row.target_type);
            columns.target_ids.push(row.target_id);
            columns.ips.push(row.ip);
        }
        columns
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ids.is_empty()
    }

    /// `INSERT INTO audit_events (…) SELECT * FROM unnest(…)`, for zero or more events.
    pub(crate) fn walk_insert<'b>(&'b self, out: &mut AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "INSERT INTO audit_events \
             (id, at, actor_id, organization_id, action, target_type, target_id, ip) \
             SELECT * FROM unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.at)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&self.actor_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Nullable<SqlUuid>>, _>(&self.organization_ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Text>, _>(&self.actions)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.target_types)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.target_ids)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.ips)?;
        out.push_sql("::text[])");
        Ok(())
    }
}

/// The audit events of a unit of work that wrote no booking event, as one statement.
#[derive(QueryId)]
struct InsertAudits(AuditColumns);

impl QueryFragment<Pg> for InsertAudits {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        self.0.walk_insert(&mut out)
    }
}

/// Writes `columns` in one statement (none for no event).
pub(crate) async fn insert_all(conn: &mut Conn, columns: AuditColumns) -> StorageResult<()> {
    if columns.is_empty() {
        return Ok(());
    }
    InsertAudits(columns).execute(conn).await.storage()?;
    Ok(())
}
