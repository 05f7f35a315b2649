//! Sign-in throttling counters (DESIGN.md §9) in PostgreSQL, so that every server on the
//! database counts the same attempts: with N replicas an attacker gets the documented allowance,
//! not N times it.
//!
//! One row per attempt (`throttle_attempts`). Recording an attempt and forgetting the latest one
//! are transactions that first take `pg_advisory_xact_lock(hashtextextended(key, 0))`, so the
//! writes of one key are serialised across connections and processes as the memory counter's
//! mutex serialises them within one: of 50 simultaneous records each sees a distinct count. The
//! lock is released with the commit, after the transaction's rows became visible, and each later
//! statement in READ COMMITTED takes a new snapshot, so the next holder counts them. (Two keys
//! whose hashes collide merely wait for each other.) Peeking reads one snapshot, without a lock.
//!
//! Attempts outside the window are deleted as new ones are recorded: a record deletes its own
//! key's, and sweeps a bounded batch of any other key's (by `expires_at`, the end of the window each was
//! recorded with), so that keys nobody tries again do not stay in the table for ever.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};
use concierge_domain::storage::{StorageError, StorageResult};
use concierge_domain::throttle::{AttemptCounter, Window};
use diesel::dsl::{count_star, min};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text, Timestamptz};
use diesel_async::{AsyncConnection as _, RunQueryDsl};

use crate::errors::{IntoStorage as _, from_diesel, from_pool};
use crate::queries::Conn;
use crate::schema::throttle_attempts;
use crate::store::{PgPool, PooledConnection};

/// Expired attempts of other keys one record deletes at most: more than the one row it adds, so
/// the expired backlog shrinks under any load, and few enough to keep a record cheap.
const SWEEP_BATCH: i64 = 100;

/// Serialises the writes of one key, until the end of the transaction.
const LOCK_KEY: &str = "SELECT pg_advisory_xact_lock(hashtextextended($1, 0))";

/// Deletes at most `$2` attempts (of any key) expired at `$1`, skipping rows another transaction
/// holds.
const SWEEP: &str = "DELETE FROM throttle_attempts WHERE id IN (
    SELECT id FROM throttle_attempts WHERE expires_at <= $1
    ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)";

/// Deletes the latest attempt recorded under `$1` (the highest id), whatever its time, as the
/// memory counter pops the back of its queue.
const FORGET_LATEST: &str = "DELETE FROM throttle_attempts WHERE id = (
    SELECT max(id) FROM throttle_attempts WHERE throttle_key = $1)";

/// Sliding-window attempt counters in PostgreSQL, shared by every server on the database. Made
/// by [`crate::PgStore::attempt_counter`]; uses the store's connection pool.
#[derive(Clone)]
pub struct PgAttemptCounter {
    pool: PgPool,
}

impl std::fmt::Debug for PgAttemptCounter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgAttemptCounter").finish_non_exhaustive()
    }
}

impl PgAttemptCounter {
    pub(crate) fn new(pool: PgPool) -> Self {
        PgAttemptCounter { pool }
    }

    async fn conn(&self) -> StorageResult<PooledConnection> {
        self.pool.get().await.map_err(from_pool)
    }
}

/// The start of the window ending at `now`: attempts at or before it no longer count.
fn window_start(now: DateTime<Utc>, window: Duration) -> StorageResult<DateTime<Utc>> {
    now.checked_sub_signed(window)
        .ok_or_else(|| StorageError::Other("throttle window out of range".into()))
}

/// The attempts of `key` after `start`, as one snapshot sees them.
async fn window_of(conn: &mut Conn, key: &str, start: DateTime<Utc>) -> QueryResult<Window> {
    let (count, oldest): (i64, Option<DateTime<Utc>>) = throttle_attempts::table
        .filter(throttle_attempts::throttle_key.eq(key))
        .filter(throttle_attempts::attempted_at.gt(start))
        .select((count_star(), min(throttle_attempts::attempted_at)))
        .first(conn)
        .await?;
    Ok(Window {
        count: u32::try_from(count).unwrap_or(u32::MAX),
        oldest,
    })
}

async fn lock_key(conn: &mut Conn, key: &str) -> QueryResult<usize> {
    diesel::sql_query(LOCK_KEY)
        .bind::<Text, _>(key)
        .execute(conn)
        .await
}

#[async_trait]
impl AttemptCounter for PgAttemptCounter {
    async fn record(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> StorageResult<Window> {
        let start = window_start(now, window)?;
        let expires_at = now
            .checked_add_signed(window)
            .ok_or_else(|| StorageError::Other("throttle window out of range".into()))?;
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| {
            lock_key(conn, key).await?;
            // This key's attempts that fell out of the window.
            diesel::delete(
                throttle_attempts::table
                    .filter(throttle_attempts::throttle_key.eq(key))
                    .filter(throttle_attempts::attempted_at.le(start)),
            )
            .execute(conn)
            .await?;
            // A batch of anybody's expired attempts. SKIP LOCKED: never wait for another
            // key's transaction (no lock cycle can form through the sweep).
            diesel::sql_query(SWEEP)
                .bind::<Timestamptz, _>(now)
                .bind::<BigInt, _>(SWEEP_BATCH)
                .execute(conn)
                .await?;
            diesel::insert_into(throttle_attempts::table)
                .values((
                    throttle_attempts::throttle_key.eq(key),
                    throttle_attempts::attempted_at.eq(now),
                    throttle_attempts::expires_at.eq(expires_at),
                ))
                .execute(conn)
                .await?;
            window_of(conn, key, start).await
        })
        .await
        .map_err(from_diesel)
    }

    async fn peek(&self, key: &str, now: DateTime<Utc>, window: Duration) -> StorageResult<Window> {
        let start = window_start(now, window)?;
        let mut conn = self.conn().await?;
        window_of(&mut conn, key, start).await.storage()
    }

    async fn forget_latest(&self, key: &str) -> StorageResult<()> {
        let mut conn = self.conn().await?;
        conn.transaction(async |conn| {
            lock_key(conn, key).await?;
            // Under the key's lock, so two successes forget two attempts.
            diesel::sql_query(FORGET_LATEST)
                .bind::<Text, _>(key)
                .execute(conn)
                .await?;
            Ok::<_, diesel::result::Error>(())
        })
        .await
        .map_err(from_diesel)
    }
}
