use std::collections::{BTreeSet, HashMap};

use concierge_domain::ids::{OrganizationId, SiteGroupId, SiteId};
use concierge_domain::model::SiteGroup;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::rows::SiteGroupRow;
use crate::schema::{site_group_sites, site_groups};

/// Attaches their sites to `rows`, with one query for the whole batch.
async fn with_sites(conn: &mut Conn, rows: Vec<SiteGroupRow>) -> StorageResult<Vec<SiteGroup>> {
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    let ids: Vec<Uuid> = rows.iter().map(|row| row.id).collect();
    let members: Vec<(Uuid, Uuid)> = site_group_sites::table
        .filter(site_group_sites::site_group_id.eq_any(ids))
        .order((site_group_sites::site_group_id, site_group_sites::site_id))
        .select((site_group_sites::site_group_id, site_group_sites::site_id))
        .load(conn)
        .await
        .storage()?;
    let mut sites_of: HashMap<Uuid, Vec<SiteId>> = HashMap::new();
    for (group, site) in members {
        sites_of.entry(group).or_default().push(SiteId(site));
    }
    rows.into_iter()
        .map(|row| {
            let sites = sites_of.remove(&row.id).unwrap_or_default();
            row.into_site_group(sites)
        })
        .collect()
}

pub(crate) async fn by_id(conn: &mut Conn, id: SiteGroupId) -> StorageResult<Option<SiteGroup>> {
    by_ids(conn, &[id])
        .await
        .map(|groups| groups.into_iter().next())
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[SiteGroupId]) -> StorageResult<Vec<SiteGroup>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = site_groups::table
        .filter(site_groups::id.eq_any(ids))
        .order(site_groups::id)
        .select(SiteGroupRow::as_select())
        .load(conn)
        .await
        .storage()?;
    with_sites(conn, rows).await
}

pub(crate) async fn of_organizations(
    conn: &mut Conn,
    organization_ids: &[OrganizationId],
) -> StorageResult<Vec<SiteGroup>> {
    let ids: Vec<Uuid> = organization_ids.iter().map(|id| id.0).collect();
    let rows = site_groups::table
        .filter(site_groups::organization_id.eq_any(ids))
        .order(site_groups::id)
        .select(SiteGroupRow::as_select())
        .load(conn)
        .await
        .storage()?;
    with_sites(conn, rows).await
}

async fn insert_members(conn: &mut Conn, group: &SiteGroup) -> StorageResult<()> {
    // The sites are a set; a repeated id must not fail on the primary key.
    let sites: BTreeSet<Uuid> = group.site_ids.iter().map(|id| id.0).collect();
    if sites.is_empty() {
        return Ok(());
    }
    let values: Vec<_> = sites
        .into_iter()
        .map(|site| {
            (
                site_group_sites::site_group_id.eq(group.id.0),
                site_group_sites::site_id.eq(site),
            )
        })
        .collect();
    diesel::insert_into(site_group_sites::table)
        .values(values)
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn insert(conn: &mut Conn, group: &SiteGroup) -> StorageResult<()> {
    diesel::insert_into(site_groups::table)
        .values(SiteGroupRow::from(group))
        .execute(conn)
        .await
        .storage()?;
    insert_members(conn, group).await
}

pub(crate) async fn update(conn: &mut Conn, group: &SiteGroup) -> StorageResult<()> {
    let affected = diesel::update(site_groups::table.find(group.id.0))
        .set(SiteGroupRow::from(group))
        .execute(conn)
        .await
        .storage()?;
    expect_one("site group", affected)?;
    diesel::delete(site_group_sites::table.filter(site_group_sites::site_group_id.eq(group.id.0)))
        .execute(conn)
        .await
        .storage()?;
    insert_members(conn, group).await
}

/// The group of `id`, locked until the transaction ends (its sites change only with it).
pub(crate) async fn lock(conn: &mut Conn, id: SiteGroupId) -> StorageResult<Option<SiteGroup>> {
    let rows = site_groups::table
        .find(id.0)
        .select(SiteGroupRow::as_select())
        .for_update()
        .load(conn)
        .await
        .storage()?;
    with_sites(conn, rows)
        .await
        .map(|groups| groups.into_iter().next())
}
