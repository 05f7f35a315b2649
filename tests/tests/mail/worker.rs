//! The outbox worker on the memory store: delivery, wiping, retries with backoff, giving up,
//! the background task and its final flush.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, TimeZone as _, Utc};
use concierge_api::mail::{
    FlushReport, MailboxTransport, OutboxWorker, RetryPolicy, params as p, parse_mailbox,
};
use concierge_api::metrics::Metrics;
use concierge_domain::clock::{Clock, ManualClock};
use concierge_domain::secrets::{Argon2Cost, Keys, Secrets};
use concierge_domain::storage::Storage;
use concierge_domain::values::Language;
use concierge_domain::{EmailKind, EmailParams};
use concierge_storage_memory::MemoryStore;

use crate::support::{
    ScriptedTransport, eml_files, enqueue, enqueue_sealed, params, parse_eml, scratch_dir, secrets,
    stored,
};

const TEMPORARY_PASSWORD: &str = "Tmp-Secret-9xQ";
const BOOKING_CODE: &str = "9081726354";

fn credentials() -> EmailParams {
    params(&[
        (p::NAME, "Ana Souza"),
        (p::LOGIN, "ana.souza@acme.example"),
        (p::TEMPORARY_PASSWORD, TEMPORARY_PASSWORD),
        (p::BOOKING_CODE, BOOKING_CODE),
        (p::ORGANIZATION, "Acme"),
    ])
}

fn reset() -> EmailParams {
    params(&[
        (p::NAME, "Chloé Lefèvre"),
        (
            p::LINK,
            "https://rooms.example.com/reset-password?token=SECRET-TOKEN-1",
        ),
        (p::EXPIRES_AT, "2026-03-01T10:15:00+00:00"),
    ])
}

fn manual_clock() -> Arc<ManualClock> {
    Arc::new(ManualClock::new(
        Utc.with_ymd_and_hms(2026, 3, 1, 9, 0, 0)
            .single()
            .expect("date"),
    ))
}

#[tokio::test]
async fn flush_delivers_everything_due_and_wipes_the_parameters() {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let dir = scratch_dir("worker");
    let transport = Arc::new(MailboxTransport::new(
        &dir,
        parse_mailbox("Concierge <no-reply@rooms.example.com>").expect("sender"),
    ));
    let clock = manual_clock();
    let now = clock.now();
    let credentials_id = enqueue(
        &*store,
        &secrets,
        "ana.souza@acme.example",
        EmailKind::Credentials,
        Language::En,
        &credentials(),
        now,
    )
    .await;
    let reset_id = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::PasswordReset,
        Language::Fr,
        &reset(),
        now - Duration::minutes(5),
    )
    .await;
    let later_id = enqueue(
        &*store,
        &secrets,
        "later@acme.example",
        EmailKind::PasswordReset,
        Language::En,
        &reset(),
        now + Duration::minutes(5),
    )
    .await;
    // More than one batch is due.
    let mut changed = Vec::new();
    for n in 0..25 {
        let to = format!("user{n}@acme.example");
        let notice = params(&[(p::NAME, "Someone"), (p::AT, "2026-03-01T08:00:00Z")]);
        changed.push(
            enqueue(
                &*store,
                &secrets,
                &to,
                EmailKind::PasswordChanged,
                Language::En,
                &notice,
                now,
            )
            .await,
        );
    }
    assert_eq!(store.pending_email_count().await.expect("count"), 28);

    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport)
        .with_clock(clock.clone());
    let report = worker.flush().await.expect("flush");
    assert_eq!(
        report,
        FlushReport {
            sent: 27,
            retried: 0,
            abandoned: 0
        }
    );
    assert_eq!(eml_files(&dir).len(), 27);
    assert_eq!(store.pending_email_count().await.expect("count"), 1);

    for id in [credentials_id, reset_id].into_iter().chain(changed) {
        let email = stored(&*store, id).await;
        assert_eq!(email.sent_at, Some(now), "{id}");
        assert_eq!(email.sealed_params, "", "delivered parameters are wiped");
        assert_eq!(email.last_error, None);
        assert_eq!(email.attempts, 0);
    }
    let later = stored(&*store, later_id).await;
    assert!(later.sent_at.is_none() && !later.sealed_params.is_empty());

    let files: Vec<_> = eml_files(&dir)
        .into_iter()
        .map(|f| (f.clone(), parse_eml(&std::fs::read(&f).expect("file"))))
        .collect();
    let (_, credentials) = files
        .iter()
        .find(|(f, _)| f.to_string_lossy().contains(&credentials_id.to_string()))
        .expect("the credentials file");
    assert_eq!(credentials.to, "ana.souza@acme.example");
    assert!(
        credentials.body.contains(TEMPORARY_PASSWORD) && credentials.body.contains(BOOKING_CODE)
    );
    assert!(credentials.body.starts_with("Hello"));
    let (_, reset) = files
        .iter()
        .find(|(f, _)| f.to_string_lossy().contains(&reset_id.to_string()))
        .expect("the reset file");
    assert_eq!(
        reset.subject,
        "Réinitialisation de votre mot de passe Concierge"
    );
    assert!(reset.body.contains("token=SECRET-TOKEN-1") && reset.body.starts_with("Bonjour"));

    // Nothing is sent twice; the later message leaves when due.
    assert_eq!(worker.flush().await.expect("flush"), FlushReport::default());
    clock.advance(Duration::minutes(5));
    assert_eq!(worker.flush().await.expect("flush").sent, 1);
    assert_eq!(eml_files(&dir).len(), 28);
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
}

#[tokio::test]
async fn failures_are_retried_with_backoff_and_counted_without_secrets() {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let clock = manual_clock();
    let transport = ScriptedTransport::failing_first(2);
    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_clock(clock.clone());
    let id = enqueue(
        &*store,
        &secrets,
        "ana.souza@acme.example",
        EmailKind::Credentials,
        Language::Fr,
        &credentials(),
        clock.now(),
    )
    .await;

    let first = worker.flush().await.expect("flush");
    assert_eq!(
        first,
        FlushReport {
            sent: 0,
            retried: 1,
            abandoned: 0
        }
    );
    let email = stored(&*store, id).await;
    assert_eq!(email.attempts, 1);
    assert!(email.sent_at.is_none() && !email.sealed_params.is_empty());
    assert_eq!(email.next_attempt_at, clock.now() + Duration::seconds(10));
    let error = email.last_error.clone().expect("the reason");
    assert!(error.contains("connection refused"), "{error}");
    for secret in [TEMPORARY_PASSWORD, BOOKING_CODE, "ana.souza", "Ana Souza"] {
        assert!(!error.contains(secret), "{error}");
    }

    // Not due yet: nothing happens.
    clock.advance(Duration::seconds(9));
    assert_eq!(worker.flush().await.expect("flush"), FlushReport::default());
    assert_eq!(transport.calls(), 1);

    clock.advance(Duration::seconds(1));
    assert_eq!(worker.flush().await.expect("flush").retried, 1);
    let email = stored(&*store, id).await;
    assert_eq!(email.attempts, 2);
    assert_eq!(email.next_attempt_at, clock.now() + Duration::seconds(20));

    clock.advance(Duration::seconds(20));
    assert_eq!(worker.flush().await.expect("flush").sent, 1);
    assert_eq!(transport.calls(), 3);
    let email = stored(&*store, id).await;
    assert_eq!(email.sent_at, Some(clock.now()));
    assert_eq!(email.attempts, 2, "the failed attempts stay counted");
    assert_eq!(email.last_error, None);
    assert_eq!(email.sealed_params, "");
    let delivered = transport.delivered();
    assert_eq!(delivered.len(), 1);
    assert_eq!(delivered[0].id, id);
    assert_eq!(delivered[0].to, "ana.souza@acme.example");
    assert!(delivered[0].content.body.contains(TEMPORARY_PASSWORD));
    assert!(
        delivered[0]
            .content
            .subject
            .starts_with("Identifiants de connexion")
    );
}

#[test]
fn backoff_doubles_from_ten_seconds_up_to_an_hour() {
    let policy = RetryPolicy::default();
    let waits: Vec<i64> = (1..=12).map(|n| policy.backoff(n).num_seconds()).collect();
    assert_eq!(
        waits,
        [10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600]
    );
    assert_eq!(policy.max_attempts, 10);
    assert_eq!(policy.lease, Duration::seconds(60));
    assert_eq!(policy.batch, 20);
    assert_eq!(policy.backoff(i32::MAX).num_seconds(), 3600);
}

/// The value of the sample `name` (with its labels, if any) in Prometheus text.
fn sample(metrics: &Metrics, name: &str) -> Option<String> {
    metrics.render().lines().find_map(|line| {
        line.strip_prefix(name)
            .and_then(|rest| rest.strip_prefix(' '))
            .map(str::to_owned)
    })
}

/// The delivery counter of `outcome`; `None` before its first count.
fn deliveries(metrics: &Metrics, outcome: &str) -> Option<String> {
    sample(
        metrics,
        &format!("concierge_email_deliveries_total{{outcome=\"{outcome}\"}}"),
    )
}

/// Waits until the backlog gauge reads `expected`.
async fn await_backlog(metrics: &Metrics, expected: &str) {
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while sample(metrics, "concierge_email_outbox_backlog").as_deref() != Some(expected) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the backlog gauge never read {expected}: {:?}",
            sample(metrics, "concierge_email_outbox_backlog")
        );
        tokio::time::sleep(StdDuration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn a_message_that_keeps_failing_is_given_up_after_ten_attempts() {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let clock = manual_clock();
    let metrics = Metrics::new().expect("metrics");
    let transport = ScriptedTransport::failing_first(usize::MAX);
    // The background task looks once when it starts, then not for an hour.
    let policy = RetryPolicy {
        interval: StdDuration::from_secs(3600),
        ..RetryPolicy::default()
    };
    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_clock(clock.clone())
        .with_policy(policy)
        .with_metrics(Arc::clone(&metrics));
    let id = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::PasswordReset,
        Language::En,
        &reset(),
        clock.now(),
    )
    .await;
    for attempt in 1..=8 {
        assert_eq!(
            worker.flush().await.expect("flush").retried,
            1,
            "attempt {attempt}"
        );
        clock.advance(Duration::hours(1));
    }
    // The ninth failure in a background pass, which reports the backlog: still one message.
    let handle = worker.clone().start();
    await_backlog(&metrics, "1").await;
    handle.shutdown().await;
    let email = stored(&*store, id).await;
    assert_eq!(email.attempts, 9);
    assert_eq!(email.abandoned_at, None);
    assert!(!email.sealed_params.is_empty());
    assert_eq!(store.pending_email_count().await.expect("count"), 1);

    // The tenth: given up, in a background pass too.
    clock.advance(Duration::hours(1));
    let given_up_at = clock.now();
    let handle = worker.clone().start();
    await_backlog(&metrics, "0").await;
    handle.shutdown().await;
    let email = stored(&*store, id).await;
    assert_eq!(email.attempts, 10);
    assert!(email.sent_at.is_none());
    assert!(email.last_error.is_some());
    assert_eq!(email.abandoned_at, Some(given_up_at));
    assert!(!email.is_pending());
    assert_eq!(
        email.sealed_params, "",
        "a message never sent keeps no secret"
    );
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
    assert_eq!(deliveries(&metrics, "retry").as_deref(), Some("9"));
    assert_eq!(deliveries(&metrics, "abandoned").as_deref(), Some("1"));
    assert_eq!(deliveries(&metrics, "sent"), None);

    // Never claimed again, however late.
    clock.advance(Duration::days(3650));
    assert_eq!(worker.flush().await.expect("flush"), FlushReport::default());
    assert_eq!(transport.calls(), 10);
    assert_eq!(stored(&*store, id).await, email);

    // The same with flush alone: its report counts the message given up.
    let other = enqueue(
        &*store,
        &secrets,
        "ana@acme.example",
        EmailKind::Credentials,
        Language::Fr,
        &credentials(),
        clock.now(),
    )
    .await;
    let worker = worker.with_policy(RetryPolicy {
        max_attempts: 1,
        ..policy
    });
    assert_eq!(
        worker.flush().await.expect("flush"),
        FlushReport {
            sent: 0,
            retried: 0,
            abandoned: 1
        }
    );
    let email = stored(&*store, other).await;
    assert_eq!((email.attempts, email.abandoned_at), (1, Some(clock.now())));
    assert_eq!(email.sealed_params, "");
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
    assert_eq!(deliveries(&metrics, "abandoned").as_deref(), Some("2"));
}

#[tokio::test]
async fn unrenderable_messages_fail_without_being_sent_or_quoted() {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let clock = manual_clock();
    let transport = ScriptedTransport::failing_first(0);
    let worker = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_clock(clock.clone());
    let mut no_link = reset();
    no_link.remove(p::LINK);
    let missing = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::PasswordReset,
        Language::Fr,
        &no_link,
        clock.now(),
    )
    .await;
    let other_keys = Secrets::new(
        Keys {
            jwt: vec![],
            pepper: b"another pepper".to_vec(),
            jwt_previous: None,
            pepper_previous: None,
        },
        Argon2Cost::FAST_INSECURE,
    )
    .expect("secrets");
    let json = serde_json::to_string(&credentials()).expect("json");
    let foreign = enqueue_sealed(
        &*store,
        "ana@acme.example",
        EmailKind::Credentials,
        Language::En,
        other_keys.seal(&json).expect("seal"),
        clock.now(),
    )
    .await;
    let garbage = enqueue_sealed(
        &*store,
        "ana@acme.example",
        EmailKind::Credentials,
        Language::En,
        secrets.seal("[1, 2, 3]").expect("seal"),
        clock.now(),
    )
    .await;

    assert_eq!(worker.flush().await.expect("flush").retried, 3);
    assert_eq!(transport.calls(), 0, "nothing is sent half-empty");
    let missing = stored(&*store, missing).await;
    assert_eq!(
        missing.last_error.as_deref(),
        Some("missing template parameter `link`")
    );
    assert_eq!(missing.attempts, 1);
    for id in [foreign, garbage] {
        let email = stored(&*store, id).await;
        assert_eq!(
            email.last_error.as_deref(),
            Some("the message's parameters cannot be opened")
        );
        assert!(!email.sealed_params.is_empty());
    }
}

#[tokio::test]
async fn the_background_task_delivers_and_flushes_on_shutdown() {
    let store: Arc<dyn Storage> = Arc::new(MemoryStore::new());
    let secrets = secrets();
    let transport = ScriptedTransport::failing_first(0);
    let policy = RetryPolicy {
        interval: StdDuration::from_millis(50),
        ..RetryPolicy::default()
    };
    let handle = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_policy(policy)
        .start();
    let id = enqueue(
        &*store,
        &secrets,
        "chloe@acme.example",
        EmailKind::PasswordReset,
        Language::En,
        &reset(),
        Utc::now(),
    )
    .await;
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while stored(&*store, id).await.sent_at.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the task never delivered"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
    assert_eq!(transport.calls(), 1);
    assert_eq!(handle.flush().await.expect("flush"), FlushReport::default());
    handle.shutdown().await;

    // A task that would not look again for an hour still delivers at shutdown.
    let transport = ScriptedTransport::failing_first(0);
    let policy = RetryPolicy {
        interval: StdDuration::from_secs(3600),
        ..RetryPolicy::default()
    };
    let handle = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_policy(policy)
        .start();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let id = enqueue(
        &*store,
        &secrets,
        "ana@acme.example",
        EmailKind::PasswordReset,
        Language::Fr,
        &reset(),
        Utc::now(),
    )
    .await;
    assert!(stored(&*store, id).await.sent_at.is_none());
    handle.shutdown().await;
    assert!(
        stored(&*store, id).await.sent_at.is_some(),
        "the final flush sent it"
    );
    assert_eq!(transport.calls(), 1);

    // Dropping the handle stops the task after a final flush too.
    let transport = ScriptedTransport::failing_first(0);
    let handle = OutboxWorker::new(Arc::clone(&store), Arc::clone(&secrets), transport.clone())
        .with_policy(policy)
        .start();
    tokio::time::sleep(StdDuration::from_millis(100)).await;
    let id = enqueue(
        &*store,
        &secrets,
        "ana@acme.example",
        EmailKind::PasswordReset,
        Language::En,
        &reset(),
        Utc::now(),
    )
    .await;
    drop(handle);
    let deadline = tokio::time::Instant::now() + StdDuration::from_secs(10);
    while stored(&*store, id).await.sent_at.is_none() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no final flush after drop"
        );
        tokio::time::sleep(StdDuration::from_millis(20)).await;
    }
}
