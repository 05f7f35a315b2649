//! The booking event log: appended by committing transactions, read by the listener.

use concierge_domain::ids::BookingId;
use concierge_domain::model::BookingEventKind;
use concierge_domain::storage::StorageResult;
use diesel::dsl::{max, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Text, Uuid as SqlUuid};
use diesel_async::RunQueryDsl;

use super::Conn;
use crate::errors::IntoStorage;
use crate::rows::{BookingRow, Label};
use crate::schema::{booking_events, bookings};

/// The channel every server LISTENs on; a notification's payload is the event's `seq`.
pub(crate) const CHANNEL: &str = "concierge_booking_events";

/// The transaction-level advisory lock held from drawing an event's `seq` to the end of its
/// transaction. It makes `seq` order commit order: a transaction that draws a larger `seq` waits
/// until every one holding a smaller `seq` has committed or rolled back. (Migrations use 4242001.)
const APPEND_LOCK: i64 = 4_242_002;

/// Appends `events` to the log and notifies every listener. Runs as the last statements of a
/// transaction, right before its COMMIT, so the lock is held only for the commit itself (which
/// NOTIFY serialises anyway).
pub(crate) async fn append(
    conn: &mut Conn,
    events: &[(BookingEventKind, BookingId)],
) -> StorageResult<()> {
    if events.is_empty() {
        return Ok(());
    }
    diesel::sql_query("SELECT pg_advisory_xact_lock($1)")
        .bind::<BigInt, _>(APPEND_LOCK)
        .execute(conn)
        .await
        .storage()?;
    for (kind, booking) in events {
        // NOTIFY is delivered at commit, in commit order, never on rollback.
        diesel::sql_query(
            "WITH appended AS ( \
                 INSERT INTO booking_events (kind, booking_id) VALUES ($1, $2) RETURNING seq \
             ) SELECT pg_notify($3, seq::text) FROM appended",
        )
        .bind::<Text, _>(kind.label())
        .bind::<SqlUuid, _>(booking.0)
        .bind::<Text, _>(CHANNEL)
        .execute(conn)
        .await
        .storage()?;
    }
    Ok(())
}

/// Whether the log exists yet (a store may be connected before the migrations ran).
pub(crate) async fn log_exists(conn: &mut Conn) -> StorageResult<bool> {
    diesel::select(sql::<Bool>("to_regclass('booking_events') IS NOT NULL"))
        .get_result(conn)
        .await
        .storage()
}

/// The last `seq` committed, 0 for an empty log.
pub(crate) async fn last_seq(conn: &mut Conn) -> StorageResult<i64> {
    let last: Option<i64> = booking_events::table
        .select(max(booking_events::seq))
        .get_result(conn)
        .await
        .storage()?;
    Ok(last.unwrap_or(0))
}

/// Deletes the events recorded before `before`, up to `seq` at most (never one a listener of
/// this process has yet to deliver); returns how many went. The log only serves listeners that
/// reconnect, which replay what they missed within seconds, so a day of events is plenty.
pub(crate) async fn prune(
    conn: &mut Conn,
    before: chrono::DateTime<chrono::Utc>,
    seq: i64,
) -> StorageResult<usize> {
    diesel::delete(
        booking_events::table
            .filter(booking_events::at.lt(before))
            .filter(booking_events::seq.le(seq)),
    )
    .execute(conn)
    .await
    .storage()
}

/// Up to `limit` events committed after `seq`, in `seq` order, each with its booking as it is
/// now: (seq, kind label, booking row), converted by the caller row by row.
pub(crate) async fn after(
    conn: &mut Conn,
    seq: i64,
    limit: i64,
) -> StorageResult<Vec<(i64, String, BookingRow)>> {
    booking_events::table
        .inner_join(bookings::table)
        .filter(booking_events::seq.gt(seq))
        .order(booking_events::seq)
        .limit(limit)
        .select((
            booking_events::seq,
            booking_events::kind,
            BookingRow::as_select(),
        ))
        .load(conn)
        .await
        .storage()
}
