//! The compare-and-set writes of a pepper rotation's re-hash (`replace_device_token_hash`,
//! `replace_booking_code_hash`): they change the hash column only, and only while it still holds
//! the expected value, so that a revocation or a deactivation committed between the lookup and
//! the re-hash is never undone.

use chrono::Duration;
use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError, UniqueKey};
use concierge_domain::values::Secret;

use crate::bookings::{cast, device};
use crate::fixtures::*;

fn secret(raw: &str) -> Secret {
    Secret::new(raw.into())
}

/// An active user of the cast's company holding booking code hash `code`, with site grants
/// (which the PostgreSQL backend keeps in join tables a whole-row update rewrites).
async fn code_holder(store: &dyn Storage, code: &str) -> (crate::bookings::Cast, User) {
    let c = cast(store).await;
    let mut zoe = user(&c.company, "Zoe", "Code", Some("zoe@example.com"), None);
    zoe.site_ids = sorted(vec![c.paris.id, c.lyon.id], |id| *id);
    zoe.default_site_id = Some(c.paris.id);
    zoe.booking_code_hash = Some(secret(code));
    let mut tx = begin(store).await;
    tx.insert_user(&zoe).await.expect("insert user");
    commit(tx).await;
    (c, zoe)
}

pub async fn device_token_hash_compare_and_set(store: &dyn Storage) {
    let c = cast(store).await;
    let tablet = device(&c.paris, Some(&c.touch), &c.ada, "token-old");
    let mut tx = begin(store).await;
    tx.insert_device(&tablet).await.expect("insert");
    commit(tx).await;

    // Another current value, or another device: nothing changes.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-other"), &secret("token-new"))
            .await,
        Ok(false)
    );
    assert_eq!(
        tx.replace_device_token_hash(DeviceId::new(), &secret("token-old"), &secret("token-new"))
            .await,
        Ok(false)
    );
    commit(tx).await;
    assert_eq!(
        store.device(tablet.id).await.expect("read"),
        Some(tablet.clone())
    );

    // A rolled-back swap leaves the old hash.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-old"), &secret("token-new"))
            .await,
        Ok(true)
    );
    drop(tx);
    assert_eq!(
        store.device_by_token_hash("token-old").await.expect("read"),
        Some(tablet.clone())
    );

    // The expected value: only the hash changes; the transaction reads its own write.
    let rehashed = Device {
        token_hash: secret("token-new"),
        ..tablet.clone()
    };
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-old"), &secret("token-new"))
            .await,
        Ok(true)
    );
    assert_eq!(
        tx.device_by_token_hash("token-new").await.expect("read"),
        Some(rehashed.clone())
    );
    commit(tx).await;
    assert_eq!(
        store.device(tablet.id).await.expect("read"),
        Some(rehashed.clone())
    );
    assert_eq!(
        store.device_by_token_hash("token-old").await.expect("read"),
        None
    );
    assert_eq!(
        store.device_by_token_hash("token-new").await.expect("read"),
        Some(rehashed.clone())
    );

    // Done twice (another replica re-hashed first): the second finds nothing to change.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-old"), &secret("token-new"))
            .await,
        Ok(false)
    );
    commit(tx).await;
    assert_eq!(store.device(tablet.id).await.expect("read"), Some(rehashed));
}

pub async fn device_token_hash_compare_and_set_keeps_a_revocation(store: &dyn Storage) {
    let c = cast(store).await;
    let tablet = device(&c.paris, None, &c.ada, "token-old");
    let mut tx = begin(store).await;
    tx.insert_device(&tablet).await.expect("insert");
    commit(tx).await;
    // The re-hash looked the device up (`tablet`, still active)...
    let looked_up = store
        .device_by_token_hash("token-old")
        .await
        .expect("read")
        .expect("found");
    // ...then a revocation commits...
    let revoked = Device {
        revoked_at: Some(now() - Duration::seconds(1)),
        ..looked_up.clone()
    };
    let mut tx = begin(store).await;
    tx.write_back_device(&revoked).await.expect("revoke");
    commit(tx).await;
    // ...and the re-hash swaps the hash it saw: the device stays revoked.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_device_token_hash(looked_up.id, &looked_up.token_hash, &secret("token-new"))
            .await,
        Ok(true)
    );
    commit(tx).await;
    let stored = store
        .device(tablet.id)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(
        stored,
        Device {
            token_hash: secret("token-new"),
            ..revoked
        }
    );
    assert!(stored.revoked_at.is_some(), "the revocation survived");
    assert_eq!(
        store.device_by_token_hash("token-old").await.expect("read"),
        None
    );
}

pub async fn device_token_hash_compare_and_set_to_a_taken_hash(store: &dyn Storage) {
    let c = cast(store).await;
    let tablet = device(&c.paris, None, &c.ada, "token-old");
    let other = device(&c.lyon, None, &c.bob, "token-taken");
    let mut tx = begin(store).await;
    tx.insert_device(&tablet).await.expect("insert");
    tx.insert_device(&other).await.expect("insert");
    // Refused, and the unit of work goes on.
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-old"), &secret("token-taken"))
            .await,
        Err(StorageError::Unique(UniqueKey::DeviceToken))
    );
    assert_eq!(
        tx.replace_device_token_hash(tablet.id, &secret("token-old"), &secret("token-new"))
            .await,
        Ok(true)
    );
    commit(tx).await;
    assert_eq!(
        store
            .device_by_token_hash("token-taken")
            .await
            .expect("read"),
        Some(other)
    );
    assert_eq!(
        store.device_by_token_hash("token-new").await.expect("read"),
        Some(Device {
            token_hash: secret("token-new"),
            ..tablet
        })
    );
}

pub async fn booking_code_hash_compare_and_set(store: &dyn Storage) {
    let (c, zoe) = code_holder(store, "code-old").await;
    let org = c.company.id();
    let ada = store
        .user(c.ada.id)
        .await
        .expect("read")
        .expect("ada exists");

    // Another current value, a user without a code, a missing user: nothing changes.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_booking_code_hash(zoe.id, &secret("code-other"), &secret("code-new"))
            .await,
        Ok(false)
    );
    assert_eq!(
        tx.replace_booking_code_hash(ada.id, &secret("code-old"), &secret("code-new"))
            .await,
        Ok(false)
    );
    assert_eq!(
        tx.replace_booking_code_hash(UserId::new(), &secret("code-old"), &secret("code-new"))
            .await,
        Ok(false)
    );
    commit(tx).await;
    assert_eq!(store.user(zoe.id).await.expect("read"), Some(zoe.clone()));
    assert_eq!(store.user(ada.id).await.expect("read"), Some(ada));

    // The expected value: only the hash changes (grants included); the old hash is dead.
    let rehashed = User {
        booking_code_hash: Some(secret("code-new")),
        ..zoe.clone()
    };
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_booking_code_hash(zoe.id, &secret("code-old"), &secret("code-new"))
            .await,
        Ok(true)
    );
    assert_eq!(
        tx.user_by_booking_code(org, "code-new")
            .await
            .expect("read"),
        Some(rehashed.clone())
    );
    commit(tx).await;
    assert_eq!(
        store.user(zoe.id).await.expect("read"),
        Some(rehashed.clone())
    );
    assert_eq!(
        store
            .user_by_booking_code(org, "code-old")
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .user_by_booking_code(org, "code-new")
            .await
            .expect("read"),
        Some(rehashed.clone())
    );

    // Done twice (another replica re-hashed first): the second finds nothing to change.
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_booking_code_hash(zoe.id, &secret("code-old"), &secret("code-new"))
            .await,
        Ok(false)
    );
    commit(tx).await;
    assert_eq!(store.user(zoe.id).await.expect("read"), Some(rehashed));
}

pub async fn booking_code_hash_compare_and_set_keeps_a_deactivation(store: &dyn Storage) {
    let (c, zoe) = code_holder(store, "code-old").await;
    let org = c.company.id();
    // The re-hash looked the user up (still active)...
    let looked_up = store
        .user_by_booking_code(org, "code-old")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(looked_up.status, UserStatus::Active);
    // ...then a deactivation commits...
    let deactivated = User {
        status: UserStatus::Inactive,
        session_epoch: looked_up.session_epoch + 1,
        ..looked_up.clone()
    };
    let mut tx = begin(store).await;
    tx.write_back_user(&deactivated).await.expect("deactivate");
    commit(tx).await;
    // ...and the re-hash swaps the code it saw: the user stays deactivated.
    let from = looked_up.booking_code_hash.clone().expect("has a code");
    let mut tx = begin(store).await;
    assert_eq!(
        tx.replace_booking_code_hash(looked_up.id, &from, &secret("code-new"))
            .await,
        Ok(true)
    );
    commit(tx).await;
    let stored = store
        .user(zoe.id)
        .await
        .expect("read")
        .expect("still there");
    assert_eq!(
        stored,
        User {
            booking_code_hash: Some(secret("code-new")),
            ..deactivated
        }
    );
    assert_eq!(
        stored.status,
        UserStatus::Inactive,
        "the deactivation survived"
    );
    assert_eq!(
        store
            .user_by_booking_code(org, "code-old")
            .await
            .expect("read"),
        None
    );
}

pub async fn booking_code_hash_compare_and_set_to_a_taken_hash(store: &dyn Storage) {
    let (c, zoe) = code_holder(store, "code-old").await;
    let org = c.company.id();
    let mut taker = user(&c.company, "Tom", "Taken", Some("tom@example.com"), None);
    taker.booking_code_hash = Some(secret("code-taken"));
    let mut tx = begin(store).await;
    tx.insert_user(&taker).await.expect("insert");
    // Refused, and the unit of work goes on.
    assert_eq!(
        tx.replace_booking_code_hash(zoe.id, &secret("code-old"), &secret("code-taken"))
            .await,
        Err(StorageError::Unique(UniqueKey::BookingCode))
    );
    assert_eq!(
        tx.replace_booking_code_hash(zoe.id, &secret("code-old"), &secret("code-new"))
            .await,
        Ok(true)
    );
    commit(tx).await;
    assert_eq!(
        store
            .user_by_booking_code(org, "code-taken")
            .await
            .expect("read"),
        Some(taker)
    );
    assert_eq!(
        store
            .user_by_booking_code(org, "code-new")
            .await
            .expect("read"),
        Some(User {
            booking_code_hash: Some(secret("code-new")),
            ..zoe
        })
    );
}
