use std::collections::BTreeSet;

use concierge_domain::ids::{OrganizationId, SiteGroupId, SiteId};
use concierge_domain::model::SiteGroup;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, concierge_site_group_site_ids, expect_one};
use crate::errors::IntoStorage;
use crate::rows::SiteGroupRow;
use crate::schema::{site_group_sites, site_groups};

fn into_groups(rows: Vec<(SiteGroupRow, Vec<Uuid>)>) -> StorageResult<Vec<SiteGroup>> {
    rows.into_iter()
        .map(|(row, sites)| row.into_site_group(sites.into_iter().map(SiteId).collect()))
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
        .select((
            SiteGroupRow::as_select(),
            concierge_site_group_site_ids(site_groups::id),
        ))
        .load(conn)
        .await
        .storage()?;
    into_groups(rows)
}

pub(crate) async fn of_organizations(
    conn: &mut Conn,
    organization_ids: &[OrganizationId],
) -> StorageResult<Vec<SiteGroup>> {
    let ids: Vec<Uuid> = organization_ids.iter().map(|id| id.0).collect();
    let rows = site_groups::table
        .filter(site_groups::organization_id.eq_any(ids))
        .order(site_groups::id)
        .select((
            SiteGroupRow::as_select(),
            concierge_site_group_site_ids(site_groups::id),
        ))
        .load(conn)
        .await
        .storage()?;
    into_groups(rows)
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
        .select((
            SiteGroupRow::as_select(),
            concierge_site_group_site_ids(site_groups::id),
        ))
        .for_update()
        .load(conn)
        .await
        .storage()?;
    into_groups(rows).map(|groups| groups.into_iter().next())
}
