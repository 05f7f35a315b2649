use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::Storage;

use crate::fixtures::*;

pub async fn dropped_transaction_rolls_back(store: &dyn Storage) {
    let (_, partner, _) = seed_tree(store).await;
    let company = organization(OrganizationKind::Company, Some(&partner), "Never");
    let ada = user(
        &company,
        "Ada",
        "Lovelace",
        Some("ada@example.com"),
        Some("ada"),
    );

    let mut tx = begin(store).await;
    insert_org(&mut *tx, &company).await;
    tx.insert_user(&ada).await.expect("user");
    drop(tx);
    assert_eq!(store.organization(company.id()).await.expect("read"), None);
    assert_eq!(
        store.profile(company.enterprise.id).await.expect("read"),
        None
    );
    assert_eq!(store.user(ada.id).await.expect("read"), None);
    assert_eq!(
        store.user_by_login("ada@example.com").await.expect("read"),
        None
    );

    // Over and over, more times than a pool has connections: a dropped transaction must leave
    // neither its rows, its locks (the same unique login each time), nor a busy connection.
    for _ in 0..12 {
        let mut tx = begin(store).await;
        insert_org(&mut *tx, &company).await;
        tx.insert_user(&ada)
            .await
            .expect("the earlier attempt left nothing behind");
    }

    // A transaction dropped after a failed statement is gone too.
    let mut tx = begin(store).await;
    insert_org(&mut *tx, &company).await;
    tx.insert_user(&ada).await.expect("user");
    let clash = user(&company, "Ada", "Again", Some("ada@example.com"), None);
    assert!(tx.insert_user(&clash).await.is_err());
    drop(tx);

    // Finally the same writes commit.
    let mut tx = begin(store).await;
    insert_org(&mut *tx, &company).await;
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;
    assert_eq!(
        store.organization(company.id()).await.expect("read"),
        Some(company.org.clone())
    );
    assert_eq!(store.user_by_login("ada").await.expect("read"), Some(ada));
}

pub async fn transaction_reads_its_own_writes(store: &dyn Storage) {
    let (_, partner, _) = seed_tree(store).await;
    let company = organization(OrganizationKind::Company, Some(&partner), "Fresh");
    let paris = site(&company, "Paris");
    let group = site_group(&company, "All", &[&paris]);
    let touch = room(&paris, "Touch");
    let list = price_list(&partner, "Standard", true);
    let mut ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    ada.site_group_ids = vec![group.id];
    ada.booking_code_hash = Some(concierge_domain::values::Secret::new("code".into()));
    let s = session(&ada, "token");
    let event = audit_event(Some(&company), Some(&ada), "user.created", now());

    let mut tx = begin(store).await;
    insert_org(&mut *tx, &company).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_site_group(&group).await.expect("group");
    tx.insert_room(&touch).await.expect("room");
    tx.insert_price_list(&list).await.expect("price list");
    tx.insert_user(&ada).await.expect("user");
    tx.insert_session(&s).await.expect("session");
    tx.insert_audit_event(&event).await.expect("event");

    // The transaction sees everything it wrote…
    assert_eq!(
        tx.organization(company.id()).await.expect("read"),
        Some(company.org.clone())
    );
    let children = tx
        .organizations(&OrganizationQuery {
            own: partner.id(),
            include_children: true,
            parent_id: Some(partner.id()),
            kind: None,
            search: None,
            after: None,
            first: 10,
            count_total: true,
        })
        .await
        .expect("list");
    assert_eq!(children.items.last(), Some(&company.org));
    assert_eq!(
        tx.profiles_of(&[company.id()]).await.expect("read"),
        vec![company.enterprise.clone()]
    );
    assert_eq!(tx.site(paris.id).await.expect("read"), Some(paris.clone()));
    assert_eq!(
        tx.sites(&SiteQuery {
            organization_ids: vec![company.id()],
            only: None,
            after: None,
            first: 10,
            count_total: true,
        })
        .await
        .expect("list")
        .items,
        vec![paris.clone()]
    );
    assert_eq!(
        tx.site_group(group.id).await.expect("read"),
        Some(group.clone())
    );
    assert_eq!(
        tx.rooms_of_sites(&[paris.id]).await.expect("read"),
        vec![touch.clone()]
    );
    assert_eq!(
        tx.price_lists_of(&[partner.id()]).await.expect("read"),
        vec![list.clone()]
    );
    assert_eq!(
        tx.user_by_login("ada@example.com").await.expect("read"),
        Some(ada.clone())
    );
    assert_eq!(
        tx.user_by_booking_code(company.id(), "code")
            .await
            .expect("read"),
        Some(ada.clone())
    );
    let users = tx
        .users(&UserQuery {
            organization_ids: vec![company.id()],
            search: None,
            status: None,
            site: Some((paris.id, vec![group.id])),
            profile_id: None,
            after: None,
            first: 10,
            count_total: true,
            with_profiles: false,
        })
        .await
        .expect("list");
    assert_eq!(users.items, vec![ada.clone()]);
    assert_eq!(
        tx.session_by_token_hash("token").await.expect("read"),
        Some(s.clone())
    );
    let log = tx
        .audit_events(&AuditQuery {
            organization_ids: vec![company.id()],
            actor_id: None,
            action: None,
            from: None,
            to: None,
            before: None,
            first: 10,
            count_total: true,
        })
        .await
        .expect("list");
    assert_eq!(log.items, vec![event.clone()]);

    // …which nobody else sees before the commit…
    assert_eq!(store.organization(company.id()).await.expect("read"), None);
    assert_eq!(store.user(ada.id).await.expect("read"), None);
    assert_eq!(store.session(s.id).await.expect("read"), None);

    // …and everybody sees after.
    commit(tx).await;
    assert_eq!(
        store.organization(company.id()).await.expect("read"),
        Some(company.org.clone())
    );
    assert_eq!(store.user(ada.id).await.expect("read"), Some(ada));
    assert_eq!(store.session(s.id).await.expect("read"), Some(s));
    assert_eq!(store.room(touch.id).await.expect("read"), Some(touch));
}

pub async fn ping(store: &dyn Storage) {
    store.ping().await.expect("the store answers");
}

pub async fn transaction_survives_a_unique_violation(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let first = session(&ada, "token-1");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_session(&first).await.expect("session");
    commit(tx).await;

    // The domain may answer a violation and carry on with the same unit of work.
    let paris = site(&company, "Paris");
    let clash = user(&company, "Ada", "Again", Some("ada@example.com"), None);
    let bob = user(&company, "Bob", "Builder", Some("bob@example.com"), None);
    let stolen = session(&bob, "token-1");
    let fine = session(&bob, "token-2");
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    assert_eq!(
        tx.insert_user(&clash).await,
        Err(concierge_domain::storage::StorageError::Unique(
            concierge_domain::storage::UniqueKey::UserEmail
        ))
    );
    tx.insert_user(&bob).await.expect("the transaction goes on");
    assert_eq!(
        tx.insert_session(&stolen).await,
        Err(concierge_domain::storage::StorageError::Unique(
            concierge_domain::storage::UniqueKey::SessionToken
        ))
    );
    tx.insert_session(&fine)
        .await
        .expect("the transaction goes on");
    assert_eq!(tx.user(clash.id).await.expect("read"), None);
    commit(tx).await;

    assert_eq!(store.site(paris.id).await.expect("read"), Some(paris));
    assert_eq!(store.user(bob.id).await.expect("read"), Some(bob));
    assert_eq!(store.user(clash.id).await.expect("read"), None);
    assert_eq!(
        store.user_by_login("ada@example.com").await.expect("read"),
        Some(ada)
    );
    assert_eq!(
        store.session_by_token_hash("token-1").await.expect("read"),
        Some(first)
    );
    assert_eq!(
        store.session_by_token_hash("token-2").await.expect("read"),
        Some(fine)
    );
}

/// Runs `holder` (which locks a row, says so on `locked`, then commits a change after a pause)
/// beside `waiter` (which starts once the row is locked): what `waiter` then reads through its
/// own locking read is the change `holder` committed, never the row as it was before.
async fn while_locked<A, B>(
    holder: impl FnOnce(tokio::sync::oneshot::Sender<()>) -> A,
    waiter: impl FnOnce(tokio::sync::oneshot::Receiver<()>) -> B,
) -> B::Output
where
    A: std::future::Future<Output = ()>,
    B: std::future::Future,
{
    let (locked, on_locked) = tokio::sync::oneshot::channel();
    let ((), seen) = tokio::join!(holder(locked), waiter(on_locked));
    seen
}

/// The pause between taking a lock and committing: long enough for the other transaction's
/// locking read to be issued (and, on PostgreSQL, to wait) before the commit.
const HOLD: std::time::Duration = std::time::Duration::from_millis(100);

pub async fn a_locking_read_waits_for_the_holder_and_sees_its_commit(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;

    let seen = while_locked(
        |locked| async {
            let mut tx = begin(store).await;
            let mut row = tx.lock_user(ada.id).await.expect("lock").expect("the user");
            locked.send(()).expect("the waiter listens");
            tokio::time::sleep(HOLD).await;
            row.status = UserStatus::Inactive;
            row.session_epoch += 1;
            tx.update_user(&row).await.expect("update");
            commit(tx).await;
        },
        |on_locked| async {
            on_locked.await.expect("the holder locked the row");
            let mut tx = begin(store).await;
            let row = tx.lock_user(ada.id).await.expect("lock").expect("the user");
            (row.status, row.session_epoch)
        },
    )
    .await;
    assert_eq!(
        seen,
        (UserStatus::Inactive, 1),
        "the locking read saw a stale row"
    );
}

pub async fn a_token_locked_by_hash_is_seen_rotated(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let first = session(&ada, "first-token-hash");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_session(&first).await.expect("session");
    commit(tx).await;

    // Two uses of one refresh token: the second, once the first committed its rotation, finds
    // the token it presented as the previous one (spent), not as the current one.
    let seen = while_locked(
        |locked| async {
            let mut tx = begin(store).await;
            let mut row = tx
                .lock_session_by_token_hash("first-token-hash")
                .await
                .expect("lock")
                .expect("the session");
            locked.send(()).expect("the waiter listens");
            tokio::time::sleep(HOLD).await;
            row.previous_token_hash = Some(row.refresh_token_hash.clone());
            row.refresh_token_hash =
                concierge_domain::values::Secret::new("second-token-hash".into());
            tx.update_session(&row).await.expect("rotate");
            commit(tx).await;
        },
        |on_locked| async {
            on_locked.await.expect("the holder locked the row");
            let mut tx = begin(store).await;
            let row = tx
                .lock_session_by_token_hash("first-token-hash")
                .await
                .expect("lock")
                .expect("the session, by its previous token");
            (
                row.refresh_token_hash.expose().to_owned(),
                row.previous_token_hash
                    .as_ref()
                    .map(|h| h.expose().to_owned()),
            )
        },
    )
    .await;
    assert_eq!(
        seen,
        (
            "second-token-hash".to_owned(),
            Some("first-token-hash".to_owned())
        )
    );
}

pub async fn locking_reads_of_missing_rows_find_nothing(store: &dyn Storage) {
    let mut tx = begin(store).await;
    assert!(tx.lock_user(UserId::new()).await.expect("lock").is_none());
    assert!(
        tx.lock_organization(OrganizationId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_profile(ProfileId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(tx.lock_site(SiteId::new()).await.expect("lock").is_none());
    assert!(
        tx.lock_site_group(SiteGroupId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(tx.lock_room(RoomId::new()).await.expect("lock").is_none());
    assert!(
        tx.lock_price_list(PriceListId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_session(SessionId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_device(DeviceId::new())
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_session_by_token_hash("nothing")
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_invitation_by_token_hash("nothing")
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_password_reset_by_token_hash("nothing")
            .await
            .expect("lock")
            .is_none()
    );
    assert!(
        tx.lock_bookings(&[BookingId::new()])
            .await
            .expect("lock")
            .is_empty()
    );
    assert!(
        tx.lock_invitations(&[InvitationId::new()])
            .await
            .expect("lock")
            .is_empty()
    );
    assert!(
        tx.lock_users(&[UserId::new()])
            .await
            .expect("lock")
            .is_empty()
    );
    commit(tx).await;
}
