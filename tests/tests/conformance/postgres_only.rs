//! What only the PostgreSQL backend has: its schema's own guarantees, migrations, connection
//! failures, and the commit of a transaction the server has aborted.

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::StorageError;
use concierge_storage_postgres::{PgStore, run_migrations};
use concierge_tests::postgres::fresh_database;
use diesel::sql_types::{Text, Timestamptz, Uuid};
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

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
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
    assert_eq!(store.user(orphan.id).await.expect("read"), None);
    store.ping().await.expect("the pool still serves");
}

/// Inserts a booking of `room` by raw SQL (bookings have no storage methods yet).
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
