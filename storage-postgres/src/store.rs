//! The store: a deadpool pool of diesel-async connections, and the booking event feed (one
//! listening connection of its own, see [`crate::listener`]).

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{PoolUsage, Storage, StorageError, StorageResult, Transaction};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::pooled_connection::{
    AsyncDieselConnectionManager, ManagerConfig, RecyclingMethod,
};
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection as _};
use futures::FutureExt as _;

use crate::attempts::PgAttemptCounter;
use crate::errors::from_pool;
use crate::listener::Feed;
use crate::queries::booking_series;
use crate::queries::{
    audit, bookings, devices, emails, invitations, organizations, password_resets, price_lists,
    profiles, rooms, sessions, site_groups, sites, users,
};
use crate::reads::impl_reads;
use crate::tls::Connector;
use crate::transaction::PgTransaction;

/// How long a caller waits for a free connection (or for a new one) before the store answers
/// `Unavailable`, so a saturated or unreachable database fails requests instead of hanging them.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

pub(crate) type PgPool = Pool<AsyncPgConnection>;
pub(crate) type PooledConnection = Object<AsyncPgConnection>;

/// Concierge's storage on PostgreSQL. Cheap to clone: clones share the pool and the booking
/// event feed, whose listener task ends when the last clone is dropped.
#[derive(Clone)]
pub struct PgStore {
    pool: PgPool,
    feed: Arc<Feed>,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The URL may hold a password: show only the pool's state.
        let status = self.pool.status();
        f.debug_struct("PgStore")
            .field("max_size", &status.max_size)
            .field("size", &status.size)
            .finish()
    }
}

impl PgStore {
    /// A store over a pool of at most `max_connections` connections to `database_url`. Connects
    /// once to check the database answers; it does not run the migrations ([`crate::run_migrations`]).
    ///
    /// It also opens one more connection, outside the pool, that listens for booking events
    /// (from this and every other server on the database) and feeds [`Storage::booking_events`];
    /// events committed once this returns are delivered. Needs a tokio runtime.
    pub async fn connect(database_url: &str, max_connections: usize) -> StorageResult<PgStore> {
        // `Fast` recycling: no test query on every checkout (it would double the round trips of
        // a simple read). A connection whose socket closed, or that is still inside a
        // transaction, is refused all the same; one dropped silently fails its first query.
        //
        // Every connection, pooled or the listener's, comes from one connector: `sslmode` and
        // the roots of `DATABASE_URL` (crate::tls), read once here.
        let connector = Connector::new(database_url)?;
        let mut config = ManagerConfig::default();
        config.recycling_method = RecyclingMethod::Fast;
        let setup = connector.clone();
        config.custom_setup = Box::new(move |_url| {
            let setup = setup.clone();
            async move { setup.connect().await }.boxed()
        });
        let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
            database_url,
            config,
        );
        let pool = Pool::builder(manager)
            .max_size(max_connections.max(1))
            .wait_timeout(Some(ACQUIRE_TIMEOUT))
            .create_timeout(Some(ACQUIRE_TIMEOUT))
            .recycle_timeout(Some(ACQUIRE_TIMEOUT))
            .runtime(deadpool::Runtime::Tokio1)
            .build()
            .map_err(|e| StorageError::Other(format!("connection pool: {e}")))?;
        ping(&pool).await?;
        let feed = Feed::start(connector).await?;
        Ok(PgStore { pool, feed })
    }

    /// Sign-in throttling counters in this database, over this store's connection pool: every
    /// server on the database counts the same attempts.
    pub fn attempt_counter(&self) -> PgAttemptCounter {
        PgAttemptCounter::new(self.pool.clone())
    }

    /// Outside a transaction a failed statement leaves nothing to remember.
    /// Nothing to write: the store writes nothing outside a transaction.
    pub(crate) async fn write_pending_audits(&self) -> StorageResult<()> {
        Ok(())
    }

    /// Likewise for outbox messages.
    pub(crate) async fn write_pending_emails(&self) -> StorageResult<()> {
        Ok(())
    }

    pub(crate) fn observe<T>(&self, result: StorageResult<T>) -> StorageResult<T> {
        result
    }

    pub(crate) async fn conn(&self) -> StorageResult<PooledConnection> {
        self.pool.get().await.map_err(from_pool)
    }
}

impl_reads!(PgStore);

#[async_trait]
impl Storage for PgStore {
    async fn begin(&self) -> StorageResult<Box<dyn Transaction + '_>> {
        Ok(Box::new(PgTransaction::begin(self.conn().await?).await?))
    }

    async fn ping(&self) -> StorageResult<()> {
        ping(&self.pool).await
    }

    fn booking_events(&self) -> tokio::sync::broadcast::Receiver<BookingEvent> {
        self.feed.subscribe()
    }

    fn feed(&self) -> tokio::sync::broadcast::Receiver<FeedEvent> {
        self.feed.subscribe_feed()
    }

    fn feed_connected(&self) -> bool {
        self.feed.connected()
    }

    fn pool_usage(&self) -> Option<PoolUsage> {
        let status = self.pool.status();
        Some(PoolUsage {
            max: status.max_size,
            open: status.size,
            idle: status.available,
            waiting: status.waiting,
        })
    }
}

async fn ping(pool: &PgPool) -> StorageResult<()> {
    // Any failure here means the database cannot serve requests.
    pool.get()
        .await
        .map_err(from_pool)?
        .batch_execute("SELECT 1")
        .await
        .map_err(|e| StorageError::Unavailable(e.to_string()))
}
