use concierge_domain::ids::{OrganizationId, PriceListId};
use concierge_domain::model::PriceList;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one};
use crate::errors::IntoStorage;
use crate::rows::PriceListRow;
use crate::schema::price_lists;

pub(crate) async fn by_id(conn: &mut Conn, id: PriceListId) -> StorageResult<Option<PriceList>> {
    let row = price_lists::table
        .find(id.0)
        .select(PriceListRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(PriceList::try_from).transpose()
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[PriceListId]) -> StorageResult<Vec<PriceList>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = price_lists::table
        .filter(price_lists::id.eq_any(ids))
        .order(price_lists::id)
        .select(PriceListRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn of_organizations(
    conn: &mut Conn,
    organization_ids: &[OrganizationId],
) -> StorageResult<Vec<PriceList>> {
    let ids: Vec<Uuid> = organization_ids.iter().map(|id| id.0).collect();
    let rows = price_lists::table
        .filter(price_lists::organization_id.eq_any(ids))
        .order(price_lists::id)
        .select(PriceListRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn insert(conn: &mut Conn, price_list: &PriceList) -> StorageResult<()> {
    diesel::insert_into(price_lists::table)
        .values(PriceListRow::from(price_list))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, price_list: &PriceList) -> StorageResult<()> {
    let affected = diesel::update(price_lists::table.find(price_list.id.0))
        .set(PriceListRow::from(price_list))
        .execute(conn)
        .await
        .storage()?;
    expect_one("price list", affected)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: PriceListId) -> StorageResult<Option<PriceList>> {
    let row = price_lists::table
        .find(id.0)
        .select(PriceListRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(PriceList::try_from).transpose()
}
