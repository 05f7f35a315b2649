//! The outbox worker: claims due messages, renders and sends them, records the outcome.
//!
//! One delivery pass ([`OutboxWorker::flush`]) repeats until nothing is due:
//! 1. in one transaction, claim up to `batch` due messages (each is leased: its
//!    `next_attempt_at` moves `lease` ahead, so another worker or replica leaves it alone);
//! 2. for each, open the sealed parameters, render, send;
//! 3. in a new transaction per message, record the outcome: delivered → `sent_at`, parameters
//!    wiped, no error; failed → one more attempt counted, retried after an exponential backoff,
//!    the reason kept (never a parameter's value); after `max_attempts` failures, given up:
//!    `abandoned_at` set, parameters wiped (they may hold secrets and will never be sent), the
//!    error and attempt count kept; storage never claims it again nor counts it in the backlog.
//!
//! A message whose outcome cannot be recorded (storage down) is retried when its lease ends, so
//! it may reach its recipient twice, with the same `Message-ID`.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::Duration;
use concierge_domain::clock::{Clock, SystemClock};
use concierge_domain::secrets::Secrets;
use concierge_domain::storage::{Storage, StorageResult};
use concierge_domain::{Domain, EmailParams, OutboundEmail};
use tokio::sync::{Mutex, oneshot};
use tokio::task::JoinHandle;

use super::MailError;
use super::templates::render;
use super::transport::{MailTransport, OutgoingEmail};
use crate::metrics::Metrics;

/// Timing and limits of delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// How often the background task looks for due messages.
    pub interval: StdDuration,
    /// How long a claimed message is left alone by other workers.
    pub lease: Duration,
    /// Messages claimed per transaction.
    pub batch: usize,
    /// Wait after the first failure; doubled after each further one…
    pub first_backoff: Duration,
    /// …up to this.
    pub max_backoff: Duration,
    /// Failures after which a message is given up.
    pub max_attempts: i32,
    /// How long the final flush at shutdown may take.
    pub shutdown_grace: StdDuration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            interval: StdDuration::from_secs(1),
            lease: Duration::seconds(60),
            batch: 20,
            first_backoff: Duration::seconds(10),
            max_backoff: Duration::hours(1),
            max_attempts: 10,
            shutdown_grace: StdDuration::from_secs(20),
        }
    }
}

impl RetryPolicy {
    /// The wait before the next attempt of a message that has failed `attempts` times (≥ 1):
    /// `first_backoff × 2^(attempts−1)`, at most `max_backoff`.
    pub fn backoff(&self, attempts: i32) -> Duration {
        let doublings = attempts.saturating_sub(1).clamp(0, 30) as u32;
        let wait = self
            .first_backoff
            .checked_mul(1_i32 << doublings)
            .unwrap_or(self.max_backoff);
        wait.min(self.max_backoff)
    }
}

/// What a delivery pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct FlushReport {
    /// Delivered and recorded as sent.
    pub sent: usize,
    /// Failed, to be retried later.
    pub retried: usize,
    /// Failed for the last allowed time: given up (`abandoned_at` set, parameters wiped).
    pub abandoned: usize,
}

/// Delivers the outbox. Cheap to clone; clones share one lock, so delivery passes never overlap
/// within a process (and claims keep processes apart).
#[derive(Clone)]
pub struct OutboxWorker {
    store: Arc<dyn Storage>,
    secrets: Arc<Secrets>,
    transport: Arc<dyn MailTransport>,
    clock: Arc<dyn Clock>,
    policy: RetryPolicy,
    metrics: Option<Arc<Metrics>>,
    pass: Arc<Mutex<()>>,
}

impl std::fmt::Debug for OutboxWorker {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OutboxWorker")
            .field("transport", &self.transport.name())
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

/// Outcome of one message.
enum Delivery {
    Sent,
    Retry,
    Abandoned,
}

impl OutboxWorker {
    /// A worker on `store`, opening parameters with `secrets`, on the system clock.
    pub fn new(
        store: Arc<dyn Storage>,
        secrets: Arc<Secrets>,
        transport: Arc<dyn MailTransport>,
    ) -> Self {
        Self {
            store,
            secrets,
            transport,
            clock: Arc::new(SystemClock),
            policy: RetryPolicy::default(),
            metrics: None,
            pass: Arc::new(Mutex::new(())),
        }
    }

    /// A worker on the domain's storage, keys and clock.
    pub fn for_domain(domain: &Domain, transport: Arc<dyn MailTransport>) -> Self {
        Self::new(
            Arc::clone(&domain.store),
            Arc::clone(&domain.secrets),
            transport,
        )
        .with_clock(Arc::clone(&domain.clock))
    }

    pub fn with_clock(mut self, clock: Arc<dyn Clock>) -> Self {
        self.clock = clock;
        self
    }

    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// Counts deliveries and reports the outbox backlog after each background pass.
    pub fn with_metrics(mut self, metrics: Arc<Metrics>) -> Self {
        self.metrics = Some(metrics);
        self
    }

    pub fn policy(&self) -> &RetryPolicy {
        &self.policy
    }

    /// Delivers every message due now, batch after batch, until none is left. Waits for a
    /// pass already running in this process. Fails only when storage does; what was claimed
    /// but not attempted then is retried once its lease ends.
    pub async fn flush(&self) -> StorageResult<FlushReport> {
        let _pass = self.pass.lock().await;
        let mut report = FlushReport::default();
        // A bound against a store that would hand the same messages out forever.
        for _ in 0..10_000 {
            let claimed = self.claim().await?;
            if claimed.is_empty() {
                break;
            }
            for email in claimed {
                if self.clock.now() >= email.next_attempt_at {
                    // The lease ran out while earlier messages were slow to send: another
                    // worker may hold it now. Left for the next claim.
                    continue;
                }
                match self.deliver(email).await? {
                    Delivery::Sent => report.sent += 1,
                    Delivery::Retry => report.retried += 1,
                    Delivery::Abandoned => report.abandoned += 1,
                }
            }
        }
        Ok(report)
    }

    async fn claim(&self) -> StorageResult<Vec<OutboundEmail>> {
        let mut tx = self.store.begin().await?;
        let claimed = tx
            .claim_emails(self.clock.now(), self.policy.lease, self.policy.batch)
            .await?;
        tx.commit().await?;
        Ok(claimed)
    }

    /// Renders and sends one claimed message, then records the outcome.
    async fn deliver(&self, mut email: OutboundEmail) -> StorageResult<Delivery> {
        let attempt = self.attempt(&email).await;
        let now = self.clock.now();
        let outcome = match attempt {
            Ok(()) => {
                email.sent_at = Some(now);
                email.sealed_params = String::new();
                email.last_error = None;
                tracing::info!(id = %email.id, kind = ?email.kind, transport = self.transport.name(), "e-mail delivered");
                Delivery::Sent
            }
            Err(error) => {
                email.attempts = email.attempts.saturating_add(1);
                email.last_error = Some(error.reason());
                if email.attempts >= self.policy.max_attempts {
                    // Never to be sent: the parameters (a temporary password, a link) go, as on
                    // delivery; the error and the attempt count stay, to tell why.
                    email.abandoned_at = Some(now);
                    email.sealed_params = String::new();
                    tracing::error!(
                        id = %email.id,
                        kind = ?email.kind,
                        attempts = email.attempts,
                        %error,
                        "e-mail given up"
                    );
                    Delivery::Abandoned
                } else {
                    let wait = self.policy.backoff(email.attempts);
                    email.next_attempt_at = now + wait;
                    tracing::warn!(
                        id = %email.id,
                        kind = ?email.kind,
                        attempts = email.attempts,
                        retry_in_seconds = wait.num_seconds(),
                        %error,
                        "e-mail not delivered, will retry"
                    );
                    Delivery::Retry
                }
            }
        };
        if let Err(error) = self.record(&email).await {
            tracing::error!(id = %email.id, %error, "cannot record an e-mail's delivery outcome");
            return Err(error);
        }
        if let Some(metrics) = &self.metrics {
            metrics.count_email(match outcome {
                Delivery::Sent => "sent",
                Delivery::Retry => "retry",
                Delivery::Abandoned => "abandoned",
            });
        }
        Ok(outcome)
    }

    async fn attempt(&self, email: &OutboundEmail) -> Result<(), MailError> {
        let params: EmailParams = self
            .secrets
            .open(&email.sealed_params)
            .and_then(|json| serde_json::from_str(&json).ok())
            .ok_or(MailError::SealedParams)?;
        let content = render(email.kind, email.language, &params)?;
        let outgoing = OutgoingEmail {
            id: email.id,
            kind: email.kind,
            to: email.to.to_string(),
            content,
        };
        self.transport.send(&outgoing).await
    }

    async fn record(&self, email: &OutboundEmail) -> StorageResult<()> {
        let mut tx = self.store.begin().await?;
        tx.update_email(email).await?;
        tx.commit().await
    }

    /// One background pass: flush, then report the backlog. A storage failure is logged when
    /// it first happens (or changes), not every second; `last_failure` remembers it.
    async fn tick(&self, last_failure: &mut Option<String>) {
        match self.flush().await {
            Ok(_) => {
                if last_failure.take().is_some() {
                    tracing::info!("e-mail outbox: delivery passes work again");
                }
            }
            Err(error) => {
                let text = error.to_string();
                if last_failure.as_deref() != Some(text.as_str()) {
                    tracing::warn!(error = %text, "e-mail outbox: delivery pass failed");
                    *last_failure = Some(text);
                }
            }
        }
        if let Some(metrics) = &self.metrics {
            match self.store.pending_email_count().await {
                Ok(pending) => metrics.set_outbox_backlog(pending),
                Err(error) => tracing::debug!(%error, "e-mail outbox: backlog unknown"),
            }
        }
    }

    /// Spawns the background task on the current tokio runtime: a pass at once, then one every
    /// `policy.interval`. Stop it with [`OutboxHandle::shutdown`] (or by dropping the handle).
    pub fn start(self) -> OutboxHandle {
        let (stop, stopped) = oneshot::channel();
        let worker = self.clone();
        let task = tokio::spawn(async move { worker.run(stopped).await });
        OutboxHandle {
            worker: self,
            stop: Some(stop),
            task: Some(task),
        }
    }

    async fn run(self, mut stopped: oneshot::Receiver<()>) {
        let mut ticker = tokio::time::interval(self.policy.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut last_failure = None;
        loop {
            tokio::select! {
                // A stop message, or the handle dropped.
                _ = &mut stopped => break,
                _ = ticker.tick() => self.tick(&mut last_failure).await,
            }
        }
        match tokio::time::timeout(self.policy.shutdown_grace, self.flush()).await {
            Ok(Ok(report)) => tracing::info!(
                sent = report.sent,
                retried = report.retried,
                "e-mail outbox: final flush done"
            ),
            Ok(Err(error)) => tracing::warn!(%error, "e-mail outbox: final flush failed"),
            Err(_) => tracing::warn!("e-mail outbox: final flush cut short"),
        }
    }
}

/// The running worker. [`shutdown`](Self::shutdown) stops it after a final flush and waits;
/// dropping the handle stops it too (the final flush then runs on its own, if the runtime
/// lives on).
#[derive(Debug)]
pub struct OutboxHandle {
    worker: OutboxWorker,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl OutboxHandle {
    pub fn worker(&self) -> &OutboxWorker {
        &self.worker
    }

    /// Delivers everything due now (after any pass in progress).
    pub async fn flush(&self) -> StorageResult<FlushReport> {
        self.worker.flush().await
    }

    /// Stops the background task after a final flush (bounded by `policy.shutdown_grace`).
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take()
            && let Err(error) = task.await
        {
            tracing::error!(%error, "e-mail outbox task failed");
        }
    }
}

impl Drop for OutboxHandle {
    fn drop(&mut self) {
        // Dropping the sender wakes the task, which flushes and ends.
        self.stop.take();
    }
}
