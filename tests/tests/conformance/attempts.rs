//! The sign-in throttling counters (`AttemptCounter`, DESIGN.md §9): each case is written once
//! against `&dyn AttemptCounter` and runs on the memory counter and on the PostgreSQL one (a
//! fresh database each, through a pool of many connections; see `attempt_counters!` in
//! `conformance.rs`). Times are explicit: the counters take `now` from their caller.
//!
//! The window is half-open: an attempt made at `t` counts while `now - window < t`, so at
//! exactly `t + window` it no longer does. Time only moves forward within a case, as it does for
//! a server (a counter may drop what has left the window whenever it looks).

use chrono::{DateTime, Duration, TimeZone as _, Utc};
use concierge_domain::throttle::{AttemptCounter, Window};
use concierge_storage_postgres::PgStore;
use diesel::QueryableByName;
use diesel::sql_types::BigInt;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl as _};

const WINDOW: Duration = Duration::minutes(15);

/// `minutes` after a fixed instant.
fn at(minutes: i64) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 4, 1, 9, 0, 0)
        .single()
        .expect("a valid instant")
        + Duration::minutes(minutes)
}

fn window(count: u32, oldest: Option<i64>) -> Window {
    Window {
        count,
        oldest: oldest.map(at),
    }
}

async fn record(counter: &dyn AttemptCounter, key: &str, minutes: i64) -> Window {
    counter
        .record(key, at(minutes), WINDOW)
        .await
        .expect("record")
}

async fn peek(counter: &dyn AttemptCounter, key: &str, minutes: i64) -> Window {
    counter.peek(key, at(minutes), WINDOW).await.expect("peek")
}

async fn forget(counter: &dyn AttemptCounter, key: &str) {
    counter.forget_latest(key).await.expect("forget latest");
}

pub async fn counts_within_the_window_and_forgets_outside_it(counter: &dyn AttemptCounter) {
    let key = "account:ada@example.com";
    assert_eq!(record(counter, key, 0).await, window(1, Some(0)));
    assert_eq!(record(counter, key, 5).await, window(2, Some(0)));
    assert_eq!(record(counter, key, 14).await, window(3, Some(0)));
    // One minute before the first attempt leaves the window, all three count.
    assert_eq!(peek(counter, key, 14).await, window(3, Some(0)));
    // At exactly 15 minutes the first no longer counts; the oldest is the second.
    assert_eq!(peek(counter, key, 15).await, window(2, Some(5)));
    // A record later on counts itself and what is still inside its own window.
    assert_eq!(record(counter, key, 19).await, window(3, Some(5)));
    assert_eq!(peek(counter, key, 20).await, window(2, Some(14)));
    assert_eq!(peek(counter, key, 33).await, window(1, Some(19)));
    // Long after, nothing counts, and a new attempt starts from one.
    assert_eq!(peek(counter, key, 60).await, window(0, None));
    assert_eq!(record(counter, key, 60).await, window(1, Some(60)));
}

pub async fn peek_records_nothing(counter: &dyn AttemptCounter) {
    let key = "address:192.0.2.7";
    assert_eq!(peek(counter, key, 0).await, window(0, None));
    assert_eq!(peek(counter, key, 0).await, window(0, None));
    assert_eq!(record(counter, key, 1).await, window(1, Some(1)));
    for _ in 0..3 {
        assert_eq!(peek(counter, key, 2).await, window(1, Some(1)));
    }
    assert_eq!(record(counter, key, 3).await, window(2, Some(1)));
}

pub async fn forget_latest_removes_one(counter: &dyn AttemptCounter) {
    let key = "account:bob@example.com";
    record(counter, key, 0).await;
    record(counter, key, 1).await;
    assert_eq!(record(counter, key, 2).await, window(3, Some(0)));

    forget(counter, key).await;
    assert_eq!(peek(counter, key, 3).await, window(2, Some(0)));
    // The one forgotten is the latest: at minute 15, when minute 0's has left the window, minute
    // 1's alone counts (had minute 1's been forgotten, minute 2's would count instead).
    assert_eq!(peek(counter, key, 15).await, window(1, Some(1)));
    forget(counter, key).await;
    assert_eq!(peek(counter, key, 15).await, window(0, None));
    // Forgetting under a key with nothing left in its window (or never used) is no error and
    // changes nothing.
    forget(counter, key).await;
    forget(counter, "account:never-tried@example.com").await;
    assert_eq!(peek(counter, key, 15).await, window(0, None));
    assert_eq!(
        peek(counter, "account:never-tried@example.com", 15).await,
        window(0, None)
    );
    assert_eq!(record(counter, key, 16).await, window(1, Some(16)));
}

pub async fn keys_are_independent(counter: &dyn AttemptCounter) {
    let (a, b, c) = (
        "account:a@example.com",
        "account:b@example.com",
        "account:c@example.com",
    );
    assert_eq!(record(counter, b, 0).await, window(1, Some(0)));
    for minute in 5..8 {
        record(counter, a, minute).await;
    }
    assert_eq!(peek(counter, a, 8).await, window(3, Some(5)));
    assert_eq!(peek(counter, b, 8).await, window(1, Some(0)));
    // Keys are compared exactly: a prefix, another case, another kind are other keys.
    for other in [
        "account:a@example.co",
        "account:A@example.com",
        "address:a@example.com",
    ] {
        assert_eq!(peek(counter, other, 8).await, window(0, None), "{other}");
    }
    // Forgetting under one key leaves the others alone.
    assert_eq!(record(counter, c, 8).await, window(1, Some(8)));
    forget(counter, c).await;
    assert_eq!(peek(counter, c, 8).await, window(0, None));
    assert_eq!(peek(counter, a, 8).await, window(3, Some(5)));
    assert_eq!(peek(counter, b, 8).await, window(1, Some(0)));
    // One key's attempt leaving the window leaves the others' alone.
    assert_eq!(record(counter, b, 16).await, window(1, Some(16)));
    assert_eq!(peek(counter, a, 16).await, window(3, Some(5)));
}

pub async fn concurrent_records_see_distinct_counts(counter: &dyn AttemptCounter) {
    let key = "account:raced@example.com";
    let records = (0..50).map(|_| counter.record(key, at(0), WINDOW));
    let mut counts: Vec<u32> = futures::future::join_all(records)
        .await
        .into_iter()
        .map(|r| r.expect("record").count)
        .collect();
    counts.sort_unstable();
    assert_eq!(counts, (1..=50).collect::<Vec<u32>>());
    assert_eq!(peek(counter, key, 1).await, window(50, Some(0)));
}

pub async fn concurrent_forgets_each_forget_one(counter: &dyn AttemptCounter) {
    let key = "account:lucky@example.com";
    for minute in [0, 1] {
        for _ in 0..10 {
            record(counter, key, minute).await;
        }
    }
    assert_eq!(peek(counter, key, 2).await, window(20, Some(0)));
    let forgets = (0..10).map(|_| counter.forget_latest(key));
    for forgotten in futures::future::join_all(forgets).await {
        forgotten.expect("forget latest");
    }
    // Ten forgotten, and they are the ten latest (minute 1): at minute 15, when minute 0's have
    // left the window, nothing counts.
    assert_eq!(peek(counter, key, 14).await, window(10, Some(0)));
    assert_eq!(peek(counter, key, 15).await, window(0, None));
}

#[derive(QueryableByName)]
struct Rows {
    #[diesel(sql_type = BigInt)]
    count: i64,
}

async fn stored_attempts(url: &str) -> i64 {
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .expect("a connection");
    let rows: Rows = diesel::sql_query("SELECT count(*) AS count FROM throttle_attempts")
        .get_result(&mut conn)
        .await
        .expect("count the stored attempts");
    rows.count
}

/// PostgreSQL only: attempts out of their window leave the table, those of the key recorded
/// under and those of keys nobody tries again alike, so it does not grow without bound.
#[tokio::test]
async fn expired_attempts_leave_the_table() {
    let database = concierge_tests::postgres::fresh_database().await;
    let store = PgStore::connect(database.url(), 2).await.expect("a store");
    let counter = store.attempt_counter();
    for i in 0..30 {
        record(&counter, &format!("address:198.51.100.{i}"), 0).await;
    }
    for minute in 0..5 {
        record(&counter, "account:kept@example.com", minute).await;
    }
    assert_eq!(stored_attempts(database.url()).await, 35);
    // Inside the window nothing is deleted.
    record(&counter, "account:kept@example.com", 10).await;
    assert_eq!(stored_attempts(database.url()).await, 36);
    // At minute 16, every attempt of minutes 0 to 1 is out of its window: the record deletes
    // them, its own key's and the others', and keeps minutes 2, 3, 4, 10 and itself.
    assert_eq!(
        record(&counter, "account:kept@example.com", 16).await,
        window(5, Some(2))
    );
    assert_eq!(stored_attempts(database.url()).await, 5);
    // Much later, one record leaves only itself.
    assert_eq!(
        record(&counter, "account:other@example.com", 120).await,
        window(1, Some(120))
    );
    assert_eq!(stored_attempts(database.url()).await, 1);
}
