use concierge_domain::ids::OrganizationId;
use concierge_domain::model::{Organization, OrganizationKind, OrganizationQuery, Page};
use concierge_domain::storage::StorageResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one, page, page_limit, strpos};
use crate::errors::IntoStorage;
use crate::rows::{Label, OrganizationRow};
use crate::schema::organizations;

pub(crate) async fn by_id(
    conn: &mut Conn,
    id: OrganizationId,
) -> StorageResult<Option<Organization>> {
    let row = organizations::table
        .find(id.0)
        .select(OrganizationRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Organization::try_from).transpose()
}

pub(crate) async fn by_ids(
    conn: &mut Conn,
    ids: &[OrganizationId],
) -> StorageResult<Vec<Organization>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = organizations::table
        .filter(organizations::id.eq_any(ids))
        .order(organizations::id)
        .select(OrganizationRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn platform(conn: &mut Conn) -> StorageResult<Option<Organization>> {
    let row = organizations::table
        .filter(organizations::kind.eq(OrganizationKind::Platform.label()))
        .order(organizations::id)
        .select(OrganizationRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Organization::try_from).transpose()
}

/// The rows `query` selects, before keyset pagination.
fn matching(query: &OrganizationQuery) -> organizations::BoxedQuery<'static, Pg> {
    let own = query.own.0;
    let mut q = organizations::table.into_boxed();
    q = if query.include_children {
        q.filter(
            organizations::id
                .eq(own)
                .or(organizations::parent_id.eq(own)),
        )
    } else {
        q.filter(organizations::id.eq(own))
    };
    if let Some(parent) = query.parent_id {
        q = q.filter(organizations::parent_id.eq(parent.0));
    }
    if let Some(kind) = query.kind {
        q = q.filter(organizations::kind.eq(kind.label()));
    }
    if let Some(search) = &query.search {
        q = q.filter(strpos(organizations::name_lower, search.clone()).gt(0));
    }
    q
}

pub(crate) async fn list(
    conn: &mut Conn,
    query: &OrganizationQuery,
) -> StorageResult<Page<Organization>> {
    let total_count: i64 = if query.count_total {
        matching(query).count().get_result(conn).await.storage()?
    } else {
        0
    };
    let mut q = matching(query);
    if let Some(after) = query.after {
        q = q.filter(organizations::id.gt(after.0));
    }
    let rows = q
        .order(organizations::id)
        .limit(page_limit(query.first))
        .select(OrganizationRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(page(convert(rows)?, query.first, total_count))
}

pub(crate) async fn insert(conn: &mut Conn, organization: &Organization) -> StorageResult<()> {
    diesel::insert_into(organizations::table)
        .values(OrganizationRow::from(organization))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, organization: &Organization) -> StorageResult<()> {
    let affected = diesel::update(organizations::table.find(organization.id.0))
        .set(OrganizationRow::from(organization))
        .execute(conn)
        .await
        .storage()?;
    expect_one("organization", affected)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(
    conn: &mut Conn,
    id: OrganizationId,
) -> StorageResult<Option<Organization>> {
    let row = organizations::table
        .find(id.0)
        .select(OrganizationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Organization::try_from).transpose()
}
