//! The booking event feed: every committed booking event, from any server on the database, to
//! this store's subscribers.
//!
//! Committing transactions append their events (and access-ended facts) to `booking_events` and
//! NOTIFY [`CHANNEL`](crate::queries::booking_events::CHANNEL) (see
//! `queries::booking_events::append`). Each store runs one listener task on a dedicated
//! connection (outside the pool) that LISTENs on that channel. A notification only wakes it up:
//! it then reads every entry after the last one it delivered, in `seq` order, each with the
//! booking and holder its transaction recorded, decodes it ONCE and sends it on a broadcast
//! channel to every subscriber of this server (who then only filter and serialise).
//!
//! No lock orders the appends, so a transaction may commit a smaller `seq` after a larger one
//! was delivered. The listener remembers the `seq`s it skipped over (gaps) and asks for them
//! again with every read, until they show up (a late commit: delivered then) or
//! [`GAP_GRACE`] has passed (a rollback, or a `seq` the sequence skipped). Entries are delivered
//! once each: a gap is forgotten when delivered, and nothing at or below `last` is read again
//! unless it is a gap.
//!
//! - Connection lost (database restart, backend terminated, network): the task reconnects with
//!   exponential backoff, LISTENs again and first replays the entries after the last delivered
//!   `seq` (and the gaps), so what was committed while it was away still arrives.
//! - A silent connection: every [`POLL_INTERVAL`] the task catches up even without a
//!   notification; every query has a deadline, and a connection that misses it is replaced.
//! - Shutdown: the task holds only a weak handle on the feed and watches a channel whose sender
//!   the feed owns; when the last store clone is dropped it ends, closing its connection.
//! - It never panics: failures are logged and retried.

use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, Weak};
use std::time::Duration;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

use concierge_domain::model::{BookingEvent, FeedEvent};
use concierge_domain::storage::{StorageError, StorageResult};
use diesel::QueryResult;
use diesel::pg::PgNotification;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection as _};
use futures::{FutureExt as _, Stream, StreamExt as _};
use tokio::sync::{broadcast, watch};

use crate::errors::{from_connection, from_diesel};
use crate::queries::booking_events::{self, CHANNEL};
use crate::tls::Connector;

/// How many events a subscriber may lag behind before it gets `Lagged`.
pub const EVENT_BUFFER: usize = 4096;

/// The `application_name` of the listening connections (one per store), as `pg_stat_activity`
/// shows it.
pub const LISTENER_APPLICATION_NAME: &str = "concierge-booking-listener";

const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Catch up (and prove the connection alive) this often even when nothing is notified.
const POLL_INTERVAL: Duration = Duration::from_secs(15);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);
/// Events read per query while catching up.
const BATCH: i64 = 500;
/// How long events stay in `booking_events` (listeners replay only the last few seconds).
pub const EVENT_RETENTION: Duration = Duration::from_secs(24 * 60 * 60);
/// How often a listener deletes the events past [`EVENT_RETENTION`].
const PRUNE_EVERY: Duration = Duration::from_secs(10 * 60);
/// How long a skipped `seq` is waited for: its transaction appends right before its COMMIT, so
/// one that has not committed by then rolled back (or the sequence skipped the number).
const GAP_GRACE: Duration = Duration::from_secs(30);
/// The most gaps remembered at once (the oldest are given up first).
const MAX_GAPS: usize = 10_000;

/// The subscribers' side, owned by the store's clones.
pub(crate) struct Feed {
    sender: broadcast::Sender<BookingEvent>,
    /// Booking events with their holder, and access-ended facts, in one order.
    feed: broadcast::Sender<FeedEvent>,
    /// The listener holds a working connection and has caught up.
    connected: AtomicBool,
    /// Dropped with the feed: tells the listener task to end.
    _stop: watch::Sender<()>,
}

impl Feed {
    /// Connects the listener and starts its task. Events committed from now on are delivered
    /// (the connection LISTENs before the starting point is read).
    pub(crate) async fn start(connector: Connector) -> StorageResult<Arc<Feed>> {
        let mut conn = listening_connection(&connector).await?;
        let (log_ready, last) = starting_point(&mut conn).await?;
        let (sender, _) = broadcast::channel(EVENT_BUFFER);
        let (stop_tx, stop_rx) = watch::channel(());
        let feed = Arc::new(Feed {
            sender,
            feed: broadcast::channel(EVENT_BUFFER).0,
            connected: AtomicBool::new(false),
            _stop: stop_tx,
        });
        let listener = Listener {
            connector,
            feed: Arc::downgrade(&feed),
            last,
            gaps: BTreeMap::new(),
            log_ready,
            pruned_at: None,
            stop: stop_rx,
        };
        tokio::spawn(listener.run(conn));
        Ok(feed)
    }

    pub(crate) fn subscribe(&self) -> broadcast::Receiver<BookingEvent> {
        self.sender.subscribe()
    }

    pub(crate) fn subscribe_feed(&self) -> broadcast::Receiver<FeedEvent> {
        self.feed.subscribe()
    }

    /// Whether the listener is connected and caught up right now.
    pub(crate) fn connected(&self) -> bool {
        self.connected.load(Ordering::SeqCst)
    }
}

/// Why the task left a connection.
enum Halt {
    /// The store is gone.
    Stopped,
    /// The connection failed; reconnect.
    Lost(StorageError),
}

struct Listener {
    /// Opens connections as `DATABASE_URL` says (TLS included).
    connector: Connector,
    feed: Weak<Feed>,
    /// The largest `seq` delivered (or skipped as unreadable).
    last: i64,
    /// `seq`s below `last` not seen yet, with when they were first missed: a transaction that
    /// drew one may still commit.
    gaps: BTreeMap<i64, tokio::time::Instant>,
    /// `booking_events` exists (a store may start before the migrations ran).
    log_ready: bool,
    /// When this listener last deleted old events.
    pruned_at: Option<tokio::time::Instant>,
    stop: watch::Receiver<()>,
}

impl Listener {
    async fn run(mut self, first: AsyncPgConnection) {
        let mut conn = Some(first);
        let mut backoff = BACKOFF_MIN;
        loop {
            let current = match conn.take() {
                Some(current) => current,
                None => {
                    match until_stopped(&mut self.stop, listening_connection(&self.connector)).await
                    {
                        None => return,
                        Some(Ok(current)) => current,
                        Some(Err(error)) => {
                            tracing::warn!(%error, retry_in = ?backoff, "booking event listener cannot connect");
                            if !self.pause(&mut backoff).await {
                                return;
                            }
                            continue;
                        }
                    }
                }
            };
            let halt = self.serve(current, &mut backoff).await;
            self.set_connected(false);
            match halt {
                Halt::Stopped => return,
                Halt::Lost(error) => {
                    tracing::warn!(%error, retry_in = ?backoff, "booking event listener lost its connection");
                    if !self.pause(&mut backoff).await {
                        return;
                    }
                }
            }
        }
    }

    fn set_connected(&self, connected: bool) {
        if let Some(feed) = self.feed.upgrade() {
            feed.connected.store(connected, Ordering::SeqCst);
        }
    }

    /// Waits `backoff` and doubles it; false when the store went away meanwhile.
    async fn pause(&mut self, backoff: &mut Duration) -> bool {
        let waited = until_stopped(&mut self.stop, tokio::time::sleep(*backoff)).await;
        *backoff = (*backoff * 2).min(BACKOFF_MAX);
        waited.is_some()
    }

    /// Delivers events while `conn` works: first whatever was committed since the last one
    /// delivered (a replay after a reconnection), then at every notification or poll.
    async fn serve(&mut self, mut conn: AsyncPgConnection, backoff: &mut Duration) -> Halt {
        if let Err(halt) = self.catch_up(&mut conn).await {
            return halt;
        }
        *backoff = BACKOFF_MIN;
        self.set_connected(true);
        loop {
            let woken = {
                let mut notifications = pin!(conn.notifications_stream());
                tokio::select! {
                    biased;
                    _ = self.stop.changed() => return Halt::Stopped,
                    next = notifications.next() => match next {
                        // One catch-up serves every notification already received.
                        Some(Ok(_)) => drain(&mut notifications),
                        Some(Err(error)) => Err(from_diesel(error)),
                        None => Err(StorageError::Unavailable(
                            "the listening connection closed".into(),
                        )),
                    },
                    () = tokio::time::sleep(POLL_INTERVAL) => Ok(()),
                }
            };
            if let Err(error) = woken {
                return Halt::Lost(error);
            }
            if let Err(halt) = self.catch_up(&mut conn).await {
                return halt;
            }
            if let Err(halt) = self.prune(&mut conn).await {
                return halt;
            }
        }
    }

    /// Every [`PRUNE_EVERY`], deletes the events older than [`EVENT_RETENTION`] that this
    /// listener has delivered. Every replica does it; deleting twice is harmless.
    async fn prune(&mut self, conn: &mut AsyncPgConnection) -> Result<(), Halt> {
        let now = tokio::time::Instant::now();
        if !self.log_ready || self.pruned_at.is_some_and(|at| now - at < PRUNE_EVERY) {
            return Ok(());
        }
        self.pruned_at = Some(now);
        let before = chrono::Utc::now()
            - chrono::Duration::from_std(EVENT_RETENTION).unwrap_or(chrono::Duration::days(1));
        // Never past a gap: its entry may yet commit and must still be there to be read.
        let done = match self.gaps.keys().next() {
            Some(first_gap) => (*first_gap - 1).min(self.last),
            None => self.last,
        };
        let pruned = bounded(&mut self.stop, booking_events::prune(conn, before, done)).await?;
        if pruned > 0 {
            tracing::debug!(pruned, "old booking events deleted");
        }
        Ok(())
    }

    /// Sends every entry committed after `last` (and every gap that committed meanwhile), in
    /// `seq` order, each decoded once for every subscriber.
    async fn catch_up(&mut self, conn: &mut AsyncPgConnection) -> Result<(), Halt> {
        if !self.log_ready {
            if !bounded(&mut self.stop, booking_events::log_exists(conn)).await? {
                return Ok(());
            }
            self.log_ready = true;
        }
        self.forget_old_gaps();
        loop {
            let gaps: Vec<i64> = self.gaps.keys().copied().collect();
            let rows = bounded(
                &mut self.stop,
                booking_events::after(conn, self.last, &gaps, BATCH),
            )
            .await?;
            let complete = i64::try_from(rows.len()).unwrap_or(i64::MAX) < BATCH;
            let Some(feed) = self.feed.upgrade() else {
                return Err(Halt::Stopped);
            };
            let now = tokio::time::Instant::now();
            for entry in rows {
                if entry.seq > self.last {
                    // Every `seq` jumped over is a transaction that may still commit.
                    for missed in (self.last + 1)..entry.seq {
                        self.gaps.insert(missed, now);
                    }
                    self.last = entry.seq;
                } else if self.gaps.remove(&entry.seq).is_none() {
                    // Delivered already (it cannot be, but never twice).
                    continue;
                }
                match entry.decode() {
                    Ok(item) => {
                        if let FeedEvent::Booking(booking) = &item {
                            // No subscriber right now is fine.
                            let _ = feed.sender.send(booking.event.clone());
                        }
                        let _ = feed.feed.send(item);
                    }
                    Err(error) => {
                        tracing::error!(seq = entry.seq, %error, "skipped a booking event that does not read back");
                    }
                }
            }
            if complete {
                return Ok(());
            }
        }
    }

    /// Gives up the gaps older than [`GAP_GRACE`] (rolled back) and the oldest beyond
    /// [`MAX_GAPS`].
    fn forget_old_gaps(&mut self) {
        let now = tokio::time::Instant::now();
        self.gaps
            .retain(|_, missed_at| now - *missed_at < GAP_GRACE);
        while self.gaps.len() > MAX_GAPS {
            self.gaps.pop_first();
        }
    }
}

/// Consumes the notifications already received, without waiting.
fn drain<S>(notifications: &mut S) -> StorageResult<()>
where
    S: Stream<Item = QueryResult<PgNotification>> + Unpin,
{
    loop {
        match notifications.next().now_or_never() {
            Some(Some(Ok(_))) => {}
            Some(Some(Err(error))) => return Err(from_diesel(error)),
            Some(None) => {
                return Err(StorageError::Unavailable(
                    "the listening connection closed".into(),
                ));
            }
            None => return Ok(()),
        }
    }
}

/// `work`, unless the store goes away first (`None`).
async fn until_stopped<F: Future>(stop: &mut watch::Receiver<()>, work: F) -> Option<F::Output> {
    tokio::select! {
        biased;
        // Nothing is ever sent: this resolves when the sender (the feed) is dropped.
        _ = stop.changed() => None,
        output = work => Some(output),
    }
}

/// A query of the listener: with a deadline, and abandoned when the store goes away.
async fn bounded<T>(
    stop: &mut watch::Receiver<()>,
    work: impl Future<Output = StorageResult<T>>,
) -> Result<T, Halt> {
    match until_stopped(stop, tokio::time::timeout(QUERY_TIMEOUT, work)).await {
        None => Err(Halt::Stopped),
        Some(Err(_elapsed)) => Err(Halt::Lost(StorageError::Unavailable(
            "the listening connection did not answer in time".into(),
        ))),
        Some(Ok(Err(error))) => Err(Halt::Lost(error)),
        Some(Ok(Ok(value))) => Ok(value),
    }
}

/// A new connection, named and LISTENing.
async fn listening_connection(connector: &Connector) -> StorageResult<AsyncPgConnection> {
    let mut conn = tokio::time::timeout(CONNECT_TIMEOUT, connector.connect())
        .await
        .map_err(|_| StorageError::Unavailable("connecting the listener timed out".into()))?
        .map_err(from_connection)?;
    let setup = format!("SET application_name = '{LISTENER_APPLICATION_NAME}'; LISTEN {CHANNEL}");
    tokio::time::timeout(QUERY_TIMEOUT, conn.batch_execute(&setup))
        .await
        .map_err(|_| StorageError::Unavailable("starting to listen timed out".into()))?
        .map_err(from_diesel)?;
    Ok(conn)
}

/// Whether the log exists, and the last `seq` already committed (0 without a log: every event
/// to come is new).
async fn starting_point(conn: &mut AsyncPgConnection) -> StorageResult<(bool, i64)> {
    let read = async {
        if booking_events::log_exists(conn).await? {
            Ok((true, booking_events::last_seq(conn).await?))
        } else {
            Ok((false, 0))
        }
    };
    tokio::time::timeout(QUERY_TIMEOUT, read)
        .await
        .map_err(|_| StorageError::Unavailable("reading the booking event log timed out".into()))?
}
