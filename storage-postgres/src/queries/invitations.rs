use concierge_domain::ids::{InvitationId, OrganizationId, UserId};
use concierge_domain::model::Invitation;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one};
use crate::errors::IntoStorage;
use crate::rows::InvitationRow;
use crate::schema::invitations;

pub(crate) async fn by_id(conn: &mut Conn, id: InvitationId) -> StorageResult<Option<Invitation>> {
    let row = invitations::table
        .find(id.0)
        .select(InvitationRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Invitation::try_from).transpose()
}

pub(crate) async fn by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<Invitation>> {
    let row = invitations::table
        .filter(invitations::token_hash.eq(hash))
        .select(InvitationRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Invitation::try_from).transpose()
}

/// Invitations of `organization_ids`, of `user_id` only when given, oldest first.
pub(crate) async fn of_organizations(
    conn: &mut Conn,
    organization_ids: &[OrganizationId],
    user_id: Option<UserId>,
) -> StorageResult<Vec<Invitation>> {
    let ids: Vec<Uuid> = organization_ids.iter().map(|id| id.0).collect();
    let mut query = invitations::table
        .filter(invitations::organization_id.eq_any(ids))
        .into_boxed();
    if let Some(user) = user_id {
        query = query.filter(invitations::user_id.eq(user.0));
    }
    let rows = query
        .order(invitations::id)
        .select(InvitationRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// A token hash already held by another invitation breaks `invitations_token_hash_key`.
pub(crate) async fn insert(conn: &mut Conn, invitation: &Invitation) -> StorageResult<()> {
    diesel::insert_into(invitations::table)
        .values(InvitationRow::from(invitation))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, invitation: &Invitation) -> StorageResult<()> {
    let affected = diesel::update(invitations::table.find(invitation.id.0))
        .set(InvitationRow::from(invitation))
        .execute(conn)
        .await
        .storage()?;
    expect_one("invitation", affected)
}

/// The invitations of `ids`, locked in id order until the transaction ends.
pub(crate) async fn lock(conn: &mut Conn, ids: &[InvitationId]) -> StorageResult<Vec<Invitation>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = invitations::table
        .filter(invitations::id.eq_any(ids))
        .order(invitations::id)
        .select(InvitationRow::as_select())
        .for_update()
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// The invitation whose link-token hash is `hash`, locked until the transaction ends.
pub(crate) async fn lock_by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<Invitation>> {
    let row = invitations::table
        .filter(invitations::token_hash.eq(hash))
        .select(InvitationRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Invitation::try_from).transpose()
}
