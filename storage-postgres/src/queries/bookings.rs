use chrono::{DateTime, Duration, Utc};
use concierge_domain::ids::{BookingId, RoomId, UserId};
use concierge_domain::model::{Booking, BookingQuery, BookingStatus, MAX_BOOKING_MINUTES, Page};
use concierge_domain::storage::StorageResult;
use diesel::pg::Pg;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::sql_types::{Array, Nullable, Text, Timestamptz, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;
use uuid::Uuid;

use super::{Conn, convert, expect_one, page, page_limit};
use crate::errors::IntoStorage;
use crate::rows::{BookingRow, Label};
use crate::schema::{bookings, users};

pub(crate) async fn by_id(conn: &mut Conn, id: BookingId) -> StorageResult<Option<Booking>> {
    let row = bookings::table
        .find(id.0)
        .select(BookingRow::as_select())
        .first(conn)
        .await
        .optional()
        .storage()?;
    row.map(Booking::try_from).transpose()
}

pub(crate) async fn by_ids(conn: &mut Conn, ids: &[BookingId]) -> StorageResult<Vec<Booking>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = bookings::table
        .filter(bookings::id.eq_any(ids))
        .order(bookings::id)
        .select(BookingRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// The rows `query` selects, before keyset pagination.
fn matching(query: &BookingQuery) -> bookings::BoxedQuery<'static, Pg> {
    let organization_ids: Vec<Uuid> = query.organization_ids.iter().map(|id| id.0).collect();
    let mut q = bookings::table
        .into_boxed()
        .filter(bookings::organization_id.eq_any(organization_ids));
    if let Some(room) = query.room_id {
        q = q.filter(bookings::room_id.eq(room.0));
    }
    if let Some(sites) = &query.site_ids {
        let sites: Vec<Uuid> = sites.iter().map(|id| id.0).collect();
        q = q.filter(bookings::site_id.eq_any(sites));
    }
    if let Some(user) = query.user_id {
        q = q.filter(bookings::user_id.eq(user.0));
    }
    // Overlap with [from, to): ends after `from`, starts before `to`.
    if let Some(from) = query.from {
        q = q.filter(bookings::end_at.gt(from));
    }
    if let Some(to) = query.to {
        q = q.filter(bookings::start_at.lt(to));
    }
    if let Some(status) = query.status {
        q = q.filter(bookings::status.eq(status.label()));
    }
    q
}

/// In `(start, id)` order; the keyset continues after `query.after`.
pub(crate) async fn list(conn: &mut Conn, query: &BookingQuery) -> StorageResult<Page<Booking>> {
    let total_count: i64 = if query.count_total {
        matching(query).count().get_result(conn).await.storage()?
    } else {
        0
    };
    let mut q = matching(query);
    if let Some((start, id)) = query.after {
        q = q.filter(
            bookings::start_at
                .gt(start)
                .or(bookings::start_at.eq(start).and(bookings::id.gt(id.0))),
        );
    }
    let rows = q
        .order((bookings::start_at, bookings::id))
        .limit(page_limit(query.first))
        .select(BookingRow::as_select())
        .load(conn)
        .await
        .storage()?;
    Ok(page(convert(rows)?, query.first, total_count))
}

/// Confirmed bookings of `room` overlapping `[from, to)`, by start. No booking lasts longer than
/// [`MAX_BOOKING_MINUTES`], so one starting earlier than that before `from` has ended: the bound
/// keeps the scan of the (room_id, start_at) index short.
pub(crate) async fn of_room(
    conn: &mut Conn,
    room: RoomId,
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<Booking>> {
    of_rooms(conn, &[room], from, to).await
}

/// The confirmed bookings of any of `rooms` overlapping `[from, to)`, by start: one statement,
/// `room_id = ANY($1)` over the (room_id, start_at) index, bounded below like [`of_room`].
pub(crate) async fn of_rooms(
    conn: &mut Conn,
    rooms: &[RoomId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<Booking>> {
    let rooms: Vec<Uuid> = rooms.iter().map(|id| id.0).collect();
    let earliest = from - Duration::minutes(MAX_BOOKING_MINUTES);
    let rows = bookings::table
        .filter(bookings::room_id.eq_any(rooms))
        .filter(bookings::start_at.ge(earliest))
        .filter(bookings::start_at.lt(to))
        .filter(bookings::end_at.gt(from))
        .filter(bookings::status.eq(BookingStatus::Confirmed.label()))
        .order((bookings::start_at, bookings::id))
        .select(BookingRow::as_select())
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Which of `rooms` have a confirmed booking overlapping `[from, to)`: one statement,
/// `room_id = ANY($1)` over the (room_id, start_at) index, bounded below like [`of_room`].
pub(crate) async fn busy_rooms(
    conn: &mut Conn,
    rooms: &[RoomId],
    from: DateTime<Utc>,
    to: DateTime<Utc>,
) -> StorageResult<Vec<RoomId>> {
    if rooms.is_empty() {
        return Ok(vec![]);
    }
    let ids: Vec<Uuid> = rooms.iter().map(|id| id.0).collect();
    let earliest = from - Duration::minutes(MAX_BOOKING_MINUTES);
    let busy: Vec<Uuid> = bookings::table
        .filter(bookings::room_id.eq_any(ids))
        .filter(bookings::start_at.ge(earliest))
        .filter(bookings::start_at.lt(to))
        .filter(bookings::end_at.gt(from))
        .filter(bookings::status.eq(BookingStatus::Confirmed.label()))
        .select(bookings::room_id)
        .distinct()
        .load(conn)
        .await
        .storage()?;
    Ok(busy.into_iter().map(RoomId).collect())
}

/// A confirmed booking overlapping another of its room breaks `bookings_no_overlap`.
pub(crate) async fn insert(conn: &mut Conn, booking: &Booking) -> StorageResult<()> {
    diesel::insert_into(bookings::table)
        .values(BookingRow::from(booking))
        .execute(conn)
        .await
        .storage()?;
    Ok(())
}

pub(crate) async fn update(conn: &mut Conn, booking: &Booking) -> StorageResult<()> {
    let affected = diesel::update(bookings::table.find(booking.id.0))
        .set(BookingRow::from(booking))
        .execute(conn)
        .await
        .storage()?;
    expect_one("booking", affected)
}

/// The bookings of `ids`, locked in id order until the transaction ends.
pub(crate) async fn lock(conn: &mut Conn, ids: &[BookingId]) -> StorageResult<Vec<Booking>> {
    let ids: Vec<Uuid> = ids.iter().map(|id| id.0).collect();
    let rows = bookings::table
        .filter(bookings::id.eq_any(ids))
        .order(bookings::id)
        .select(BookingRow::as_select())
        .for_update()
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Inserts `booking` in the same statement that takes a share lock on its holder's row while
/// the holder's status is still `holder_status` (`INSERT … SELECT … FROM users … FOR SHARE`):
/// `false`, nothing written, when it is not. A deactivation (which locks the row for update)
/// either waits for this transaction and then sees the booking, or committed first and this
/// inserts nothing.
pub(crate) async fn insert_held_by(
    conn: &mut Conn,
    booking: &Booking,
    holder: UserId,
    holder_status: &str,
) -> StorageResult<bool> {
    let row = BookingRow::from(booking);
    let source = users::table
        .filter(users::id.eq(holder.0))
        .filter(users::status.eq(holder_status.to_owned()))
        .select((
            row.id.into_sql::<SqlUuid>(),
            row.room_id.into_sql::<SqlUuid>(),
            row.site_id.into_sql::<SqlUuid>(),
            row.organization_id.into_sql::<SqlUuid>(),
            row.user_id.into_sql::<SqlUuid>(),
            row.created_by.into_sql::<SqlUuid>(),
            row.title.into_sql::<Nullable<Text>>(),
            row.start_at.into_sql::<Timestamptz>(),
            row.end_at.into_sql::<Timestamptz>(),
            row.source.into_sql::<Text>(),
            row.status.into_sql::<Text>(),
            row.created_at.into_sql::<Timestamptz>(),
            row.checked_in_at.into_sql::<Nullable<Timestamptz>>(),
            row.release_at.into_sql::<Nullable<Timestamptz>>(),
        ))
        .for_share();
    let inserted = diesel::insert_into(bookings::table)
        .values(source)
        .into_columns((
            bookings::id,
            bookings::room_id,
            bookings::site_id,
            bookings::organization_id,
            bookings::user_id,
            bookings::created_by,
            bookings::title,
            bookings::start_at,
            bookings::end_at,
            bookings::source,
            bookings::status,
            bookings::created_at,
            bookings::checked_in_at,
            bookings::release_at,
        ))
        .execute(conn)
        .await
        .storage()?;
    Ok(inserted == 1)
}

/// Up to `limit` bookings due for release at `now` (confirmed, not checked in, `release_at` at
/// or before `now`, not ended), locked in id order; rows another transaction holds are skipped
/// (`FOR UPDATE SKIP LOCKED`), so concurrent passes on several replicas share them out. Served
/// by the partial index `bookings_due_release_idx`, over a bounded range: a deadline falls
/// before its booking's end, at most `MAX_BOOKING_MINUTES` after its start, so one older than
/// that belongs to a booking that has ended (say, while no server ran) and is never due again.
pub(crate) async fn lock_due_releases(
    conn: &mut Conn,
    now: DateTime<Utc>,
    limit: usize,
) -> StorageResult<Vec<Booking>> {
    let rows = bookings::table
        .filter(bookings::status.eq(BookingStatus::Confirmed.label()))
        .filter(bookings::checked_in_at.is_null())
        .filter(bookings::release_at.le(now))
        .filter(bookings::release_at.gt(now - Duration::minutes(MAX_BOOKING_MINUTES)))
        .filter(bookings::end_at.gt(now))
        .order(bookings::id)
        .limit(i64::try_from(limit).unwrap_or(i64::MAX))
        .select(BookingRow::as_select())
        .for_update()
        .skip_locked()
        .load(conn)
        .await
        .storage()?;
    convert(rows)
}

/// Writes the changeable columns of several bookings in one statement of fixed text (`UPDATE …
/// FROM unnest(…)`, prepared once per connection), whatever their number.
pub(crate) async fn update_many(conn: &mut Conn, bookings: &[&Booking]) -> StorageResult<()> {
    if bookings.is_empty() {
        return Ok(());
    }
    let affected = UpdateMany {
        ids: bookings.iter().map(|b| b.id.0).collect(),
        titles: bookings.iter().map(|b| b.title.clone()).collect(),
        starts: bookings.iter().map(|b| b.start).collect(),
        ends: bookings.iter().map(|b| b.end).collect(),
        statuses: bookings.iter().map(|b| b.status.label()).collect(),
        checked_in: bookings.iter().map(|b| b.checked_in_at).collect(),
        release: bookings.iter().map(|b| b.release_at).collect(),
    }
    .execute(conn)
    .await
    .storage()?;
    if affected != bookings.len() {
        return Err(concierge_domain::storage::StorageError::Other(format!(
            "updated {affected} of {} bookings",
            bookings.len()
        )));
    }
    Ok(())
}

#[derive(QueryId)]
struct UpdateMany {
    ids: Vec<Uuid>,
    titles: Vec<Option<String>>,
    starts: Vec<DateTime<Utc>>,
    ends: Vec<DateTime<Utc>>,
    statuses: Vec<&'static str>,
    checked_in: Vec<Option<DateTime<Utc>>>,
    release: Vec<Option<DateTime<Utc>>>,
}

impl QueryFragment<Pg> for UpdateMany {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, Pg>) -> QueryResult<()> {
        out.push_sql(
            "UPDATE bookings AS b SET title = v.title, start_at = v.start_at, \
             end_at = v.end_at, status = v.status, checked_in_at = v.checked_in_at, \
             release_at = v.release_at FROM unnest(",
        );
        out.push_bind_param::<Array<SqlUuid>, _>(&self.ids)?;
        out.push_sql("::uuid[], ");
        out.push_bind_param::<Array<Nullable<Text>>, _>(&self.titles)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.starts)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Timestamptz>, _>(&self.ends)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Text>, _>(&self.statuses)?;
        out.push_sql("::text[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.checked_in)?;
        out.push_sql("::timestamptz[], ");
        out.push_bind_param::<Array<Nullable<Timestamptz>>, _>(&self.release)?;
        out.push_sql(
            "::timestamptz[]) AS v(id, title, start_at, end_at, status, checked_in_at, \
             release_at) WHERE b.id = v.id",
        );
        Ok(())
    }
}
