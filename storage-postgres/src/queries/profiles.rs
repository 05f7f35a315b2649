use concierge_domain::ids::{OrganizationId, ProfileId};
use concierge_domain::model::Profile;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one};
use crate::errors::IntoStorage;
use crate::rows::ProfileRow;
use crate::schema::{profiles, users};

pub(crate) async fn by_id(conn: &mut Conn, id: ProfileId) -> StorageResult<Option<Profile>> {
    let row = profiles::table
        .find(id.0)
        .select(ProfileRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Profile::try_from).transpose()
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[ProfileId]) -> StorageResult<Vec<Profile>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = profiles::table
        .filter(profiles::id.eq_any(ids))
        .order(profiles::id)
        .select(ProfileRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn of_organizations(
    conn: &mut Conn,
    organization_ids: &[OrganizationId],
) -> StorageResult<Vec<Profile>> {
    let ids: Vec<Uuid> = organization_ids.iter().map(|id| id.0).collect();
    let rows = profiles::table
        .filter(profiles::organization_id.eq_any(ids))
        .order(profiles::id)
        .select(ProfileRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

pub(crate) async fn count_users(conn: &mut Conn, id: ProfileId) -> StorageResult<i64> {
    users::table
        .filter(users::profile_id.eq(id.0))
        .count()
        .get_result(conn)
        .await
        .storage()
}

pub(crate) async fn insert(conn: &mut Conn, profile: &Profile) -> StorageResult<()> {
    diesel::insert_into(profiles::table)
        .values(ProfileRow::from(profile))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, profile: &Profile) -> StorageResult<()> {
    let affected = diesel::update(profiles::table.find(profile.id.0))
        .set(ProfileRow::from(profile))
        .execute(conn)
        .await
        .storage()?;
    expect_one("profile", affected)
}

pub(crate) async fn delete(conn: &mut Conn, id: ProfileId) -> StorageResult<()> {
    diesel::delete(profiles::table.find(id.0))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

/// The row of `id`, locked until the transaction ends (`SELECT … FOR UPDATE`).
pub(crate) async fn lock(conn: &mut Conn, id: ProfileId) -> StorageResult<Option<Profile>> {
    let row = profiles::table
        .find(id.0)
        .select(ProfileRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Profile::try_from).transpose()
}
