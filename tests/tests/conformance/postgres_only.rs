//! What only the PostgreSQL backend has: its schema's own guarantees, migrations, connection
//! failures, the commit of a transaction the server has aborted, and the booking event feed
//! across stores and across a lost listening connection.

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage as _, StorageError};
use concierge_storage_postgres::{PgStore, run_migrations};
use concierge_tests::postgres::fresh_database;
use diesel::sql_types::{Text, Timestamptz, Uuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

use crate::bookings::{assert_quiet, book_and_publish, booking, cast, next_event};
use crate::fixtures::*;

#[tokio::test]
async fn migrations_run_again_are_a_no_op() {
    let database = fresh_database().await;
    run_migrations(database.url())
        .await
        .expect("nothing pending");
    database.storage().ping().await.expect("still fine");
}

#[tokio::test]
async fn an_unreachable_server_is_unavailable() {
    // Port 1 on the loopback: refused at once.
    let error = PgStore::connect("postgres://postgres@127.0.0.1:1/postgres", 1)
        .await
        .expect_err("nothing listens there");
    assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
}

#[tokio::test]
async fn commit_after_a_failed_statement_is_refused() {
    let database = fresh_database().await;
    let store = database.storage();
    let (_, partner, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    // A second organization with an existing id: a primary-key violation, not a unique key of
    // the domain, so no savepoint protects it and the server aborts the transaction.
    let twin = organization(OrganizationKind::Company, Some(&partner), "Twin");
    let duplicate = Organization {
        id: company.id(),
        ..twin.org
    };
    let error = tx
        .insert_organization(&duplicate)
        .await
        .expect_err("duplicate id");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
    let error = tx.commit().await.expect_err("the server rolled back");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
    assert_eq!(store.site(paris.id).await.expect("read"), None);
    // The connection went back to the pool in a usable state.
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    commit(tx).await;
    assert_eq!(store.site(paris.id).await.expect("read"), Some(paris));
}

#[tokio::test]
async fn a_broken_deferred_foreign_key_fails_the_commit() {
    let database = fresh_database().await;
    let store = database.storage();
    let (_, _, company) = seed_tree(store).await;
    let mut orphan = user(&company, "Orphan", "User", Some("orphan@example.com"), None);
    orphan.profile_id = ProfileId::new();
    let mut tx = begin(store).await;
    tx.insert_user(&orphan).await.expect("checked at commit");
    let error = tx.commit().await.expect_err("no such profile");
    // Named by what it refers to, so that the operation answers CONFLICT on `profileId`.
    assert_eq!(
        error,
        StorageError::MissingReference(concierge_domain::storage::Reference::Profile)
    );
    assert_eq!(store.user(orphan.id).await.expect("read"), None);
    store.ping().await.expect("the pool still serves");
}

/// Inserts a booking of `room` by raw SQL, straight against the constraint.
async fn book(
    conn: &mut AsyncPgConnection,
    room: &Room,
    user: &User,
    start: i64,
    end: i64,
    status: &str,
) -> diesel::QueryResult<usize> {
    diesel::sql_query(
        "INSERT INTO bookings (id, room_id, site_id, organization_id, user_id, created_by, title, \
         start_at, end_at, source, status, created_at) \
         VALUES ($1, $2, $3, $4, $5, $5, NULL, $6, $7, 'APP', $8, now())",
    )
    .bind::<Uuid, _>(BookingId::new().0)
    .bind::<Uuid, _>(room.id.0)
    .bind::<Uuid, _>(room.site_id.0)
    .bind::<Uuid, _>(room.organization_id.0)
    .bind::<Uuid, _>(user.id.0)
    .bind::<Timestamptz, _>(at(start))
    .bind::<Timestamptz, _>(at(end))
    .bind::<Text, _>(status)
    .execute(conn)
    .await
}

#[tokio::test]
async fn confirmed_bookings_of_a_room_never_overlap() {
    let database = fresh_database().await;
    let store = database.storage();
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let touch = room(&paris, "Touch");
    let other_room = room(&paris, "Other");
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_room(&touch).await.expect("room");
    tx.insert_room(&other_room).await.expect("room");
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;

    let mut conn = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    book(&mut conn, &touch, &ada, 60, 120, "CONFIRMED")
        .await
        .expect("first");
    book(&mut conn, &touch, &ada, 120, 180, "CONFIRMED")
        .await
        .expect("back-to-back is fine");
    book(&mut conn, &touch, &ada, 0, 60, "CONFIRMED")
        .await
        .expect("back-to-back is fine");
    book(&mut conn, &other_room, &ada, 90, 150, "CONFIRMED")
        .await
        .expect("another room");
    book(&mut conn, &touch, &ada, 90, 150, "CANCELLED")
        .await
        .expect("cancelled ones do not count");
    let overlap = book(&mut conn, &touch, &ada, 119, 121, "CONFIRMED")
        .await
        .expect_err("overlaps");
    assert!(
        matches!(
            overlap,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::ExclusionViolation,
                _
            )
        ),
        "{overlap:?}"
    );
    let empty = book(&mut conn, &touch, &ada, 200, 200, "CONFIRMED")
        .await
        .expect_err("empty range");
    assert!(
        matches!(
            empty,
            diesel::result::Error::DatabaseError(
                diesel::result::DatabaseErrorKind::CheckViolation,
                _
            )
        ),
        "{empty:?}"
    );
}

#[tokio::test]
async fn connections_killed_by_the_server_are_replaced() {
    let database = fresh_database().await;
    let store = database.storage();
    let (platform, _, _) = seed_tree(store).await;
    // Fill the pool with idle connections, then have the server end them all (as a restart does).
    let (a, b) = tokio::join!(store.begin(), store.begin());
    drop((a.expect("begin"), b.expect("begin")));
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    let mut admin = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    let terminated = diesel::sql_query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = $1 AND pid <> pg_backend_pid()",
    )
    .bind::<Text, _>(database.name())
    .execute(&mut admin)
    .await
    .expect("terminate");
    assert!(terminated >= 2, "the pool held {terminated} connections");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    for _ in 0..4 {
        assert_eq!(
            store
                .platform_organization()
                .await
                .expect("a fresh connection serves"),
            Some(platform.org.clone())
        );
    }
    let mut tx = begin(store).await;
    tx.insert_site(&site(&platform, "After"))
        .await
        .expect("write");
    commit(tx).await;
}

#[tokio::test]
async fn replicas_migrating_together_both_succeed() {
    let database = concierge_tests::postgres::unmigrated_database().await;
    let (a, b) = tokio::join!(
        run_migrations(database.url()),
        run_migrations(database.url())
    );
    a.expect("first replica");
    b.expect("second replica");
    let (platform, _, _) = seed_tree(database.storage()).await;
    assert_eq!(
        database
            .storage()
            .platform_organization()
            .await
            .expect("read"),
        Some(platform.org)
    );
}

#[derive(diesel::QueryableByName)]
struct Pid {
    #[diesel(sql_type = diesel::sql_types::Integer)]
    pid: i32,
}

/// The backends of the booking listeners on `database` (one per store).
async fn listeners(admin: &mut AsyncPgConnection, database: &str) -> Vec<i32> {
    diesel::sql_query(
        "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND application_name = $2 ORDER BY pid",
    )
    .bind::<Text, _>(database)
    .bind::<Text, _>(concierge_storage_postgres::LISTENER_APPLICATION_NAME)
    .load::<Pid>(admin)
    .await
    .expect("pg_stat_activity")
    .into_iter()
    .map(|row| row.pid)
    .collect()
}

/// Waits until `database` has `count` listeners, other than `not` (a terminated one).
async fn await_listeners(admin: &mut AsyncPgConnection, database: &str, count: usize, not: &[i32]) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let now: Vec<i32> = listeners(admin, database)
            .await
            .into_iter()
            .filter(|pid| !not.contains(pid))
            .collect();
        let stale = listeners(admin, database)
            .await
            .into_iter()
            .any(|pid| not.contains(&pid));
        if now.len() == count && !stale {
            return;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "expected {count} listener(s) on {database}, found {now:?}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn events_reach_the_subscribers_of_every_store() {
    let database = fresh_database().await;
    let first = database.storage();
    let second = PgStore::connect(database.url(), 2)
        .await
        .expect("another server");
    let c = cast(first).await;
    let mut on_first = first.booking_events();
    let mut on_second = second.booking_events();

    let event = book_and_publish(first, &booking(&c.touch, &c.ada, 60, 120)).await;
    assert_eq!(next_event(&mut on_second).await, event);
    assert_eq!(next_event(&mut on_first).await, event);
    let event = book_and_publish(&second, &booking(&c.touch, &c.ada, 120, 180)).await;
    assert_eq!(next_event(&mut on_first).await, event);
    assert_eq!(next_event(&mut on_second).await, event);
    assert_quiet(&mut on_first).await;
    assert_quiet(&mut on_second).await;
}

#[tokio::test]
async fn events_arrive_in_commit_order_not_begin_order() {
    let database = fresh_database().await;
    let store = database.storage();
    let c = cast(store).await;
    let mut rx = store.booking_events();
    let early = booking(&c.touch, &c.ada, 0, 60);
    let late = booking(&c.focus, &c.ada, 0, 60);
    let event = |b: &Booking| BookingEvent {
        kind: BookingEventKind::Created,
        booking: b.clone(),
    };
    // Published first, committed last.
    let mut slow = begin(store).await;
    slow.insert_booking(&early).await.expect("insert");
    slow.publish_booking_event(&event(&early))
        .await
        .expect("publish");
    let mut quick = begin(store).await;
    quick.insert_booking(&late).await.expect("insert");
    quick
        .publish_booking_event(&event(&late))
        .await
        .expect("publish");
    commit(quick).await;
    assert_eq!(next_event(&mut rx).await, event(&late));
    commit(slow).await;
    assert_eq!(next_event(&mut rx).await, event(&early));
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn events_committed_while_the_listener_is_away_are_replayed() {
    let database = fresh_database().await;
    let store = database.storage();
    let c = cast(store).await;
    let mut rx = store.booking_events();
    let first = book_and_publish(store, &booking(&c.touch, &c.ada, 0, 30)).await;
    assert_eq!(next_event(&mut rx).await, first);

    // Connections opened before the database stops accepting new ones.
    let mut admin = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    let server_url = database.url().replace(database.name(), "postgres");
    let mut server = AsyncPgConnection::establish(&server_url)
        .await
        .expect("connect to the server's own database");
    let mut open = Vec::new();
    for _ in 0..3 {
        open.push(begin(store).await);
    }

    // The listener's connection dies and cannot come back for now.
    diesel::sql_query(format!(
        "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS false",
        database.name()
    ))
    .execute(&mut server)
    .await
    .expect("refuse connections");
    let killed = listeners(&mut admin, database.name()).await;
    assert_eq!(killed.len(), 1, "one listener per store");
    diesel::sql_query("SELECT pg_terminate_backend($1)")
        .bind::<diesel::sql_types::Integer, _>(killed[0])
        .execute(&mut admin)
        .await
        .expect("terminate the listener");
    await_listeners(&mut admin, database.name(), 0, &killed).await;

    // Committed while nobody listens.
    let mut expected = Vec::new();
    for (i, mut tx) in open.into_iter().enumerate() {
        let start = 60 * (i as i64 + 1);
        let b = booking(&c.touch, &c.bob, start, start + 30);
        let event = BookingEvent {
            kind: BookingEventKind::Created,
            booking: b.clone(),
        };
        tx.insert_booking(&b).await.expect("insert");
        tx.publish_booking_event(&event).await.expect("publish");
        commit(tx).await;
        expected.push(event);
    }
    assert_quiet(&mut rx).await;

    // Back: the listener reconnects and replays them, in order, then listens again.
    diesel::sql_query(format!(
        "ALTER DATABASE \"{}\" ALLOW_CONNECTIONS true",
        database.name()
    ))
    .execute(&mut server)
    .await
    .expect("accept connections");
    for event in &expected {
        assert_eq!(&next_event(&mut rx).await, event);
    }
    await_listeners(&mut admin, database.name(), 1, &killed).await;
    let live = book_and_publish(store, &booking(&c.touch, &c.ada, 300, 330)).await;
    assert_eq!(next_event(&mut rx).await, live);
    assert_quiet(&mut rx).await;
}

#[tokio::test]
async fn the_listener_ends_with_the_last_store_clone() {
    let database = fresh_database().await;
    let mut admin = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    await_listeners(&mut admin, database.name(), 1, &[]).await;
    let extra = PgStore::connect(database.url(), 1)
        .await
        .expect("another store");
    await_listeners(&mut admin, database.name(), 2, &[]).await;
    let clone = extra.clone();
    let mut rx = clone.booking_events();
    drop(extra);
    // A clone still holds the feed.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(listeners(&mut admin, database.name()).await.len(), 2);
    drop(clone);
    await_listeners(&mut admin, database.name(), 1, &[]).await;
    let closed = tokio::time::timeout(std::time::Duration::from_secs(5), rx.recv())
        .await
        .expect("the receiver learns at once");
    assert_eq!(
        closed,
        Err(tokio::sync::broadcast::error::RecvError::Closed)
    );
}

#[tokio::test]
async fn a_store_connected_before_the_migrations_delivers_events() {
    let database = concierge_tests::postgres::unmigrated_database().await;
    let store = database.storage();
    let mut rx = store.booking_events();
    run_migrations(database.url()).await.expect("migrate");
    let c = cast(store).await;
    let event = book_and_publish(store, &booking(&c.touch, &c.ada, 0, 30)).await;
    assert_eq!(next_event(&mut rx).await, event);
}

#[derive(diesel::QueryableByName)]
struct Seq {
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    seq: i64,
}

/// The `seq` of every event left in the log.
async fn logged_events(admin: &mut AsyncPgConnection) -> Vec<i64> {
    diesel::sql_query("SELECT seq FROM booking_events ORDER BY seq")
        .load::<Seq>(admin)
        .await
        .expect("read the log")
        .into_iter()
        .map(|row| row.seq)
        .collect()
}

/// The event log does not grow for ever: a listener deletes the events older than the
/// retention once it has delivered them (at its first wake, then every few minutes).
#[tokio::test]
async fn listeners_delete_events_past_the_retention() {
    let database = fresh_database().await;
    let store = database.storage();
    let c = cast(store).await;
    let mut admin = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    for (start, end) in [(0, 30), (30, 60), (60, 90)] {
        book_and_publish(store, &booking(&c.touch, &c.ada, start, end)).await;
    }
    let before = logged_events(&mut admin).await;
    assert_eq!(before.len(), 3);
    // The first two are older than the retention.
    diesel::sql_query("UPDATE booking_events SET at = now() - interval '25 hours' WHERE seq <= $1")
        .bind::<diesel::sql_types::BigInt, _>(before[1])
        .execute(&mut admin)
        .await
        .expect("age two events");

    // A new store's listener prunes at its first wake: the next event.
    let other = PgStore::connect(database.url(), 2)
        .await
        .expect("another server");
    let mut rx = other.booking_events();
    // This store's own feed too, subscribed before the event: its listener delivers it some
    // time after the commit, so a subscription taken later could still receive it.
    let mut own = store.booking_events();
    let latest = book_and_publish(store, &booking(&c.touch, &c.ada, 90, 120)).await;
    assert_eq!(next_event(&mut rx).await, latest);
    assert_eq!(next_event(&mut own).await, latest);
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(5);
    let mut left = logged_events(&mut admin).await;
    while left.len() > 2 && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        left = logged_events(&mut admin).await;
    }
    assert_eq!(
        left.len(),
        2,
        "the two aged events go, the others stay: {left:?}"
    );
    assert_eq!(left[0], before[2]);
    // The feed goes on as before.
    let mut rx = own;
    let next = book_and_publish(store, &booking(&c.touch, &c.ada, 120, 150)).await;
    assert_eq!(next_event(&mut rx).await, next);
}

/// Two release passes at once (two stores, as two replicas) never take the same booking: the
/// second skips what the first holds instead of waiting for it.
#[tokio::test]
async fn due_releases_held_by_one_pass_are_skipped_by_another() {
    let database = fresh_database().await;
    let store = database.storage();
    let c = cast(store).await;
    let one = Booking {
        release_at: Some(at(10)),
        ..booking(&c.touch, &c.ada, 0, 60)
    };
    let two = Booking {
        release_at: Some(at(10)),
        ..booking(&c.focus, &c.bob, 0, 60)
    };
    let mut tx = begin(store).await;
    tx.insert_booking(&one).await.expect("one");
    tx.insert_booking(&two).await.expect("two");
    commit(tx).await;

    let replica = PgStore::connect(database.url(), 2)
        .await
        .expect("second store");
    let mut first = begin(store).await;
    let held = first.lock_due_releases(at(20), 1).await.expect("due");
    assert_eq!(held.len(), 1);
    let mut second = replica.begin().await.expect("begin");
    let rest = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        second.lock_due_releases(at(20), 10),
    )
    .await
    .expect("skips instead of waiting")
    .expect("due");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].id, held[0].id);
}

const CALENDAR_FEEDS_DOWN: &str =
    include_str!("../../../storage-postgres/migrations/2026-12-04-000003_calendar_feeds/down.sql");

/// The calendar feeds' down migration puts back the narrower check of outbox kinds: the booking
/// e-mails it allowed are deleted first (the check would refuse them), the others stay.
#[tokio::test]
async fn the_calendar_feeds_down_migration_drops_the_booking_mails_first() {
    use diesel_async::SimpleAsyncConnection;
    let database = fresh_database().await;
    let mut conn = AsyncPgConnection::establish(database.url())
        .await
        .expect("connect");
    let kinds = [
        "CREDENTIALS",
        "BOOKING_CONFIRMED",
        "BOOKING_CHANGED",
        "BOOKING_CANCELLED",
        "BOOKING_RELEASED",
    ];
    for kind in kinds {
        diesel::sql_query(
            "INSERT INTO outbox_emails (id, organization_id, recipient, language, kind, \
             sealed_params, attempts, next_attempt_at, created_at) \
             VALUES ($1, NULL, 'someone@example.com', 'en', $2, 'sealed', 0, now(), now())",
        )
        .bind::<Uuid, _>(BookingId::new().0)
        .bind::<Text, _>(kind)
        .execute(&mut conn)
        .await
        .expect("a queued message");
    }
    conn.batch_execute(CALENDAR_FEEDS_DOWN)
        .await
        .expect("the down migration runs with booking e-mails queued");

    #[derive(diesel::QueryableByName)]
    struct Kind {
        #[diesel(sql_type = Text)]
        kind: String,
    }
    let left: Vec<Kind> = diesel::sql_query("SELECT kind FROM outbox_emails ORDER BY kind")
        .load(&mut conn)
        .await
        .expect("read");
    let left: Vec<String> = left.into_iter().map(|k| k.kind).collect();
    assert_eq!(left, ["BOOKING_RELEASED", "CREDENTIALS"]);
}
