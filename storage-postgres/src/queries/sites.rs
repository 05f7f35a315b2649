use concierge_domain::ids::SiteId;
use concierge_domain::model::{Page, Site, SiteQuery};
use concierge_domain::storage::StorageResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one, page, page_limit};
use crate::errors::IntoStorage;
use crate::rows::SiteRow;
use crate::schema::sites;

pub(crate) async fn by_id(conn: &mut Conn, id: SiteId) -> StorageResult<Option<Site>> {
    let row = sites::table
        .find(id.0)
        .select(SiteRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Site::try_from).transpose()
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[SiteId]) -> StorageResult<Vec<Site>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = sites::table
        .filter(sites::id.eq_any(ids))
        .order(sites::id)
        .select(SiteRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// The rows `query` selects, before keyset pagination.
fn matching(query: &SiteQuery) -> sites::BoxedQuery<'static, Pg> {
    let organization_ids: Vec<Uuid> = query.organization_ids.iter().map(|id| id.0).collect();
    let mut q = sites::table
        .into_boxed()
        .filter(sites::organization_id.eq_any(organization_ids));
    if let Some(only) = &query.only {
        let only: Vec<Uuid> = only.iter().map(|id| id.0).collect();
        q = q.filter(sites::id.eq_any(only));
    }
    q
}

pub(crate) async fn list(conn: &mut Conn, query: &SiteQuery) -> StorageResult<Page<Site>> {
    let total_count: i64 = if query.count_total {
        matching(query).count().get_result(conn).await.storage()?
    } else {
        0
    };
    let mut q = matching(query);
    if let Some(after) = query.after {
        q = q.filter(sites::id.gt(after.0));
    }
    let rows = q
        .order(sites::id)
        .limit(page_limit(query.first))
        .select(SiteRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(page(convert(rows)?, query.first, total_count))
}

pub(crate) async fn insert(conn: &mut Conn, site: &Site) -> StorageResult<()> {
    diesel::insert_into(sites::table)
        .values(SiteRow::from(site))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, site: &Site) -> StorageResult<()> {
    let affected = diesel::update(sites::table.find(site.id.0))
        .set(SiteRow::from(site))
        .execute(conn)
        .await
        .storage()?;
    expect_one("site", affected)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: SiteId) -> StorageResult<Option<Site>> {
    let row = sites::table
        .find(id.0)
        .select(SiteRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Site::try_from).transpose()
}
