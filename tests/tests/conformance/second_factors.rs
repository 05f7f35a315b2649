use concierge_domain::ids::*;
use concierge_domain::model::SecondFactor;
use concierge_domain::storage::Storage;
use concierge_domain::values::Secret;

use crate::fixtures::*;

fn factor(user: UserId) -> SecondFactor {
    SecondFactor {
        user_id: user,
        sealed_secret: "sealed-key".into(),
        confirmed_at: None,
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
        challenge_hash: None,
        challenge_expires_at: None,
        created_at: now(),
    }
}

pub async fn second_factors_round_trip(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let pending = factor(ada.id);
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    assert!(tx.insert_second_factor(&pending).await.expect("insert"));
    // One per person: a second insert changes nothing.
    let mut other = factor(ada.id);
    other.sealed_secret = "another-key".into();
    assert!(
        !tx.insert_second_factor(&other)
            .await
            .expect("second insert")
    );
    assert_eq!(
        tx.second_factor(ada.id).await.expect("own write"),
        Some(pending.clone())
    );
    commit(tx).await;
    assert_eq!(
        store.second_factor(ada.id).await.expect("read"),
        Some(pending.clone())
    );
    assert_eq!(
        store.second_factor(UserId::new()).await.expect("read"),
        None
    );

    // Every column survives an update of the locked row.
    let mut tx = begin(store).await;
    let mut locked = tx
        .lock_second_factor(ada.id)
        .await
        .expect("lock")
        .expect("found");
    locked.confirmed_at = Some(at(1));
    locked.last_used_step = Some(59_000_123);
    locked.recovery_code_hashes = vec![Secret::new("r1".into()), Secret::new("r2".into())];
    locked.challenge_hash = Some(Secret::new("challenge".into()));
    locked.challenge_expires_at = Some(at(5));
    tx.update_second_factor(&locked).await.expect("update");
    let expected = locked.into_inner();
    commit(tx).await;
    assert_eq!(
        store.second_factor(ada.id).await.expect("read"),
        Some(expected.clone())
    );

    // Emptied columns read back empty.
    let mut tx = begin(store).await;
    let mut locked = tx
        .lock_second_factor(ada.id)
        .await
        .expect("lock")
        .expect("found");
    locked.recovery_code_hashes.clear();
    locked.challenge_hash = None;
    locked.challenge_expires_at = None;
    tx.update_second_factor(&locked).await.expect("update");
    let cleared = locked.into_inner();
    commit(tx).await;
    assert_eq!(
        store.second_factor(ada.id).await.expect("read"),
        Some(cleared)
    );

    // Deleted, it is gone; a new one may then be inserted.
    let mut tx = begin(store).await;
    let locked = tx
        .lock_second_factor(ada.id)
        .await
        .expect("lock")
        .expect("found");
    tx.delete_second_factor(locked).await.expect("delete");
    assert!(tx.lock_second_factor(ada.id).await.expect("lock").is_none());
    commit(tx).await;
    assert_eq!(store.second_factor(ada.id).await.expect("read"), None);
    let mut tx = begin(store).await;
    assert!(tx.insert_second_factor(&other).await.expect("insert again"));
    commit(tx).await;
    assert_eq!(
        store.second_factor(ada.id).await.expect("read"),
        Some(other)
    );
}

pub async fn second_factors_roll_back(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;
    let mut tx = begin(store).await;
    assert!(
        tx.insert_second_factor(&factor(ada.id))
            .await
            .expect("insert")
    );
    tx.set_second_factor_required(company.id(), true)
        .await
        .expect("policy");
    drop(tx);
    assert_eq!(store.second_factor(ada.id).await.expect("read"), None);
    assert!(
        !store
            .second_factor_required(company.id())
            .await
            .expect("policy")
    );
}

pub async fn second_factor_policy_round_trip(store: &dyn Storage) {
    let (_, partner, company) = seed_tree(store).await;
    assert!(
        !store
            .second_factor_required(company.id())
            .await
            .expect("default")
    );
    for required in [true, true, false, true] {
        let mut tx = begin(store).await;
        tx.lock_organization(company.id())
            .await
            .expect("lock")
            .expect("found");
        tx.set_second_factor_required(company.id(), required)
            .await
            .expect("set");
        commit(tx).await;
        assert_eq!(
            store
                .second_factor_required(company.id())
                .await
                .expect("read"),
            required
        );
    }
    // Per organization.
    assert!(
        !store
            .second_factor_required(partner.id())
            .await
            .expect("other organization")
    );
}
