use concierge_domain::ids::*;
use concierge_domain::storage::{Storage, StorageError, UniqueKey};
use concierge_domain::values::Secret;

use crate::fixtures::*;

pub async fn sessions_round_trip_and_rotation(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let first = session(&ada, "token-1");
    let other = session(&ada, "other-token");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_session(&first).await.expect("session");
    tx.insert_session(&other).await.expect("session");
    commit(tx).await;

    assert_eq!(
        store.session(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(store.session(SessionId::new()).await.expect("read"), None);
    assert_eq!(
        store
            .session_by_token_hash("token-1")
            .await
            .expect("by current"),
        Some(first.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash("other-token")
            .await
            .expect("by current"),
        Some(other.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash("unknown")
            .await
            .expect("unknown"),
        None
    );

    // Rotation: the spent token still finds the session (reuse detection), the new one too.
    let mut rotated = first.clone();
    rotated.previous_token_hash = Some(Secret::new("token-1".into()));
    rotated.refresh_token_hash = Secret::new("token-2".into());
    let mut tx = begin(store).await;
    tx.write_back_session(&rotated).await.expect("rotate");
    commit(tx).await;
    assert_eq!(
        store
            .session_by_token_hash("token-2")
            .await
            .expect("by current"),
        Some(rotated.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash("token-1")
            .await
            .expect("by previous"),
        Some(rotated.clone())
    );

    // A second rotation forgets the oldest token.
    let mut again = rotated.clone();
    again.previous_token_hash = Some(Secret::new("token-2".into()));
    again.refresh_token_hash = Secret::new("token-3".into());
    let mut tx = begin(store).await;
    tx.write_back_session(&again).await.expect("rotate");
    commit(tx).await;
    assert_eq!(
        store
            .session_by_token_hash("token-1")
            .await
            .expect("forgotten"),
        None
    );
    assert_eq!(
        store
            .session_by_token_hash("token-2")
            .await
            .expect("by previous"),
        Some(again.clone())
    );
    assert_eq!(
        store
            .session_by_token_hash("token-3")
            .await
            .expect("by current"),
        Some(again.clone())
    );

    // Revocation round-trips.
    let revoked = concierge_domain::model::Session {
        revoked_at: Some(now()),
        ..again
    };
    let mut tx = begin(store).await;
    tx.write_back_session(&revoked).await.expect("revoke");
    commit(tx).await;
    assert_eq!(store.session(first.id).await.expect("read"), Some(revoked));
}

pub async fn unique_session_token(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let first = session(&ada, "token-1");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_session(&first).await.expect("session");
    commit(tx).await;

    let clash = session(&ada, "token-1");
    let mut tx = begin(store).await;
    assert_eq!(
        tx.insert_session(&clash).await,
        Err(StorageError::Unique(UniqueKey::SessionToken))
    );
    drop(tx);

    let second = session(&ada, "token-2");
    let mut tx = begin(store).await;
    tx.insert_session(&second).await.expect("another token");
    let stolen = concierge_domain::model::Session {
        refresh_token_hash: Secret::new("token-1".into()),
        ..second
    };
    assert_eq!(
        tx.write_back_session(&stolen).await,
        Err(StorageError::Unique(UniqueKey::SessionToken))
    );
}
