//! No lock orders the appends to the PostgreSQL log any more: a transaction may commit a smaller
//! `seq` after a larger one was delivered. The listener asks for the `seq`s it jumped over again
//! until they commit (or long enough has passed): the late one is delivered once it commits,
//! nothing twice.

use std::time::Duration;

use concierge_domain::ids::{DeviceId, UserId};
use concierge_domain::model::{AccessEnded, FeedEvent};
use concierge_domain::storage::Storage;
use concierge_tests::postgres::fresh_database;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};
use tokio::sync::broadcast::Receiver;

async fn next(feed: &mut Receiver<FeedEvent>) -> FeedEvent {
    tokio::time::timeout(Duration::from_secs(2), feed.recv())
        .await
        .expect("an item of the feed within 2 s")
        .expect("the feed goes on")
}

#[tokio::test]
async fn a_smaller_seq_committed_later_is_delivered_once_it_commits() {
    let database = fresh_database().await;
    let store = database.store().clone();
    let mut feed = store.feed();
    let late: UserId = "01900000-0000-7000-8000-000000000001"
        .parse()
        .expect("an id");
    let early: DeviceId = "01900000-0000-7000-8000-000000000002"
        .parse()
        .expect("an id");

    // A transaction draws the next `seq` and does not commit yet.
    let mut slow = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    slow.batch_execute(&format!(
        "BEGIN; INSERT INTO booking_events (kind, body) VALUES ('ACCESS_ENDED', \
         '{{\"access_ended\":{{\"user\":\"{}\"}}}}'); \
         SELECT pg_notify('concierge_booking_events', 'late')",
        late.0
    ))
    .await
    .expect("the slow transaction's append");

    // Another draws the one after and commits first: delivered at once.
    let mut quick = store.begin().await.expect("begin");
    quick
        .publish_access_ended(&AccessEnded::Device(early))
        .await
        .expect("publish");
    quick.commit().await.expect("commit");
    assert_eq!(
        next(&mut feed).await,
        FeedEvent::AccessEnded(AccessEnded::Device(early))
    );

    // The smaller `seq` commits now: delivered then, once.
    slow.batch_execute("COMMIT").await.expect("commit");
    assert_eq!(
        next(&mut feed).await,
        FeedEvent::AccessEnded(AccessEnded::User(late))
    );
    let quiet = tokio::time::timeout(Duration::from_millis(500), feed.recv()).await;
    assert!(quiet.is_err(), "delivered twice: {quiet:?}");
}
