use concierge_domain::model::PasswordResetToken;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::rows::PasswordResetRow;
use crate::schema::password_resets;

pub(crate) async fn by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<PasswordResetToken>> {
    let row = password_resets::table
        .filter(password_resets::token_hash.eq(hash))
        .select(PasswordResetRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(PasswordResetToken::from))
}

/// A token hash already held by another reset breaks `password_resets_token_hash_key`.
pub(crate) async fn insert(conn: &mut Conn, reset: &PasswordResetToken) -> StorageResult<()> {
    diesel::insert_into(password_resets::table)
        .values(PasswordResetRow::from(reset))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, reset: &PasswordResetToken) -> StorageResult<()> {
    let affected = diesel::update(password_resets::table.find(reset.id.0))
        .set(PasswordResetRow::from(reset))
        .execute(conn)
        .await
        .storage()?;
    expect_one("password reset", affected)
}

/// The reset whose link-token hash is `hash`, locked until the transaction ends.
pub(crate) async fn lock_by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<PasswordResetToken>> {
    let row = password_resets::table
        .filter(password_resets::token_hash.eq(hash))
        .select(PasswordResetRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(PasswordResetToken::from))
}
