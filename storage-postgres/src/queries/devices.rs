use concierge_domain::ids::DeviceId;
use concierge_domain::model::{Device, DeviceWithRegistrant, Organization};
use concierge_domain::storage::StorageResult;
use concierge_domain::values::Secret;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::users::{into_user, with_grants};
use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::rows::{DeviceRow, OrganizationRow, UserRow};
use crate::schema::{devices, organizations, users};

pub(crate) async fn by_id(conn: &mut Conn, id: DeviceId) -> StorageResult<Option<Device>> {
    let row = devices::table
        .find(id.0)
        .select(DeviceRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Device::try_from).transpose()
}

pub(crate) async fn by_token_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<Device>> {
    let row = devices::table
        .filter(devices::token_hash.eq(hash))
        .select(DeviceRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Device::try_from).transpose()
}

/// A token hash already held by another device breaks `devices_token_hash_key`.
pub(crate) async fn insert(conn: &mut Conn, device: &Device) -> StorageResult<()> {
    diesel::insert_into(devices::table)
        .values(DeviceRow::from(device))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, device: &Device) -> StorageResult<()> {
    let affected = diesel::update(devices::table.find(device.id.0))
        .set(DeviceRow::from(device))
        .execute(conn)
        .await
        .storage()?;
    expect_one("device", affected)
}

/// Compare-and-set of the token hash alone: `to` only where it still is `from`, every other
/// column untouched (a revocation committed meanwhile stays). `true` if the row changed.
pub(crate) async fn replace_token_hash(
    conn: &mut Conn,
    id: DeviceId,
    from: &Secret,
    to: &Secret,
) -> StorageResult<bool> {
    let affected = diesel::update(
        devices::table
            .find(id.0)
            .filter(devices::token_hash.eq(from.expose())),
    )
    .set(devices::token_hash.eq(to.expose()))
    .execute(conn)
    .await
    .storage()?;
    Ok(affected > 0)
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: DeviceId) -> StorageResult<Option<Device>> {
    let row = devices::table
        .find(id.0)
        .select(DeviceRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Device::try_from).transpose()
}

/// A device, its registrant with their grants, and the device's organization.
type RegistrantRow = (DeviceRow, UserRow, Vec<Uuid>, Vec<Uuid>, OrganizationRow);

/// The device of `hash` with its registrant (and their grants) and the device's organization:
/// one statement.
pub(crate) async fn with_registrant(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<DeviceWithRegistrant>> {
    let (user, sites, groups) = with_grants();
    let row: Option<RegistrantRow> = devices::table
        .inner_join(users::table.on(users::id.eq(devices::registered_by)))
        .inner_join(organizations::table.on(organizations::id.eq(devices::organization_id)))
        .filter(devices::token_hash.eq(hash))
        .select((
            DeviceRow::as_select(),
            user,
            sites,
            groups,
            OrganizationRow::as_select(),
        ))
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(|(device, user, sites, groups, organization)| {
        Ok(DeviceWithRegistrant {
            device: Device::try_from(device)?,
            registrant: into_user((user, sites, groups))?,
            organization: Organization::try_from(organization)?,
        })
    })
    .transpose()
}
