use concierge_domain::ids::SessionId;
use concierge_domain::model::Session;
use concierge_domain::storage::StorageResult;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::rows::SessionRow;
use crate::schema::sessions;

pub(crate) async fn by_id(conn: &mut Conn, id: SessionId) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .find(id.0)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

pub(crate) async fn by_token_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .filter(
            sessions::refresh_token_hash
                .eq(hash)
                .or(sessions::previous_token_hash.eq(hash)),
        )
        .order(sessions::id)
        .select(SessionRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

pub(crate) async fn insert(conn: &mut Conn, session: &Session) -> StorageResult<()> {
    diesel::insert_into(sessions::table)
        .values(SessionRow::from(session))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, session: &Session) -> StorageResult<()> {
    let affected = diesel::update(sessions::table.find(session.id.0))
        .set(SessionRow::from(session))
        .execute(conn)
        .await
        .storage()?;
    expect_one("session", affected)
}

/// The session of `id`, locked until the transaction ends.
pub(crate) async fn lock(conn: &mut Conn, id: SessionId) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .find(id.0)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}

/// The session whose current or previous refresh-token hash is `hash`, locked. Once the lock is
/// granted the row is read again, so a rotation committed meanwhile is seen: the hash that was
/// current may then be the previous one.
pub(crate) async fn lock_by_token_hash(
    conn: &mut Conn,
    hash: &str,
) -> StorageResult<Option<Session>> {
    let row = sessions::table
        .filter(
            sessions::refresh_token_hash
                .eq(hash)
                .or(sessions::previous_token_hash.eq(hash)),
        )
        .order(sessions::id)
        .select(SessionRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(Session::from))
}
