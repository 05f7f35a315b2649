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
