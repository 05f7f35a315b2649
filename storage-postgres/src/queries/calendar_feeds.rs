//! Calendar feeds (secret iCalendar addresses).

use chrono::{DateTime, Utc};
use concierge_domain::ids::{CalendarFeedId, OrganizationId, RoomId, UserId};
use concierge_domain::model::CalendarFeed;
use concierge_domain::storage::StorageResult;
use concierge_domain::values::Secret;
use diesel::prelude::*;
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, expect_one};
use crate::errors::IntoStorage;
use crate::schema::calendar_feeds;

#[derive(Debug, Clone, Queryable, Selectable, Insertable, AsChangeset)]
#[diesel(table_name = calendar_feeds, check_for_backend(diesel::pg::Pg), treat_none_as_null = true)]
struct FeedRow {
    id: Uuid,
    organization_id: Uuid,
    user_id: Uuid,
    room_id: Option<Uuid>,
    token_hash: String,
    created_at: DateTime<Utc>,
    revoked_at: Option<DateTime<Utc>>,
}

impl From<&CalendarFeed> for FeedRow {
    fn from(f: &CalendarFeed) -> Self {
        FeedRow {
            id: f.id.0,
            organization_id: f.organization_id.0,
            user_id: f.user_id.0,
            room_id: f.room_id.map(|r| r.0),
            token_hash: f.token_hash.expose().to_owned(),
            created_at: f.created_at,
            revoked_at: f.revoked_at,
        }
    }
}

impl From<FeedRow> for CalendarFeed {
    fn from(row: FeedRow) -> Self {
        CalendarFeed {
            id: CalendarFeedId(row.id),
            organization_id: OrganizationId(row.organization_id),
            user_id: UserId(row.user_id),
            room_id: row.room_id.map(RoomId),
            token_hash: Secret::new(row.token_hash),
            created_at: row.created_at,
            revoked_at: row.revoked_at,
        }
    }
}

pub(crate) async fn by_hash(conn: &mut Conn, hash: &str) -> StorageResult<Option<CalendarFeed>> {
    let row = calendar_feeds::table
        .filter(calendar_feeds::token_hash.eq(hash))
        .select(FeedRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(CalendarFeed::from))
}

pub(crate) async fn of_user(conn: &mut Conn, user: UserId) -> StorageResult<Vec<CalendarFeed>> {
    let rows = calendar_feeds::table
        .filter(calendar_feeds::user_id.eq(user.0))
        .order(calendar_feeds::id)
        .select(FeedRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(rows.into_iter().map(CalendarFeed::from).collect())
}

/// The feed of `id`, locked until the transaction ends.
pub(crate) async fn lock(
    conn: &mut Conn,
    id: CalendarFeedId,
) -> StorageResult<Option<CalendarFeed>> {
    let row = calendar_feeds::table
        .find(id.0)
        .select(FeedRow::as_select())
        .for_update()
        .first(conn)
        .await
        .optional()
        .storage()?;
    Ok(row.map(CalendarFeed::from))
}

pub(crate) async fn insert(conn: &mut Conn, feed: &CalendarFeed) -> StorageResult<()> {
    diesel::insert_into(calendar_feeds::table)
        .values(FeedRow::from(feed))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, feed: &CalendarFeed) -> StorageResult<()> {
    let affected = diesel::update(calendar_feeds::table.find(feed.id.0))
        .set(FeedRow::from(feed))
        .execute(conn)
        .await
        .storage()?;
    expect_one("calendar feed", affected)
}
