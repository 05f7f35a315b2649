use concierge_domain::ids::*;
use concierge_domain::model::{ScimToken, User};
use concierge_domain::storage::{Reference, Storage, StorageError};
use concierge_domain::values::Secret;

use crate::fixtures::*;

fn token(org: &Org, creator: &User, hash: &str) -> ScimToken {
    ScimToken {
        id: ScimTokenId::new(),
        organization_id: org.id(),
        name: name("Entra ID"),
        token_hash: Secret::new(hash.to_owned()),
        profile_id: org.enterprise.id,
        site_group_id: None,
        site_id: None,
        created_by: creator.id,
        created_at: now(),
        revoked_at: None,
    }
}

pub async fn scim_tokens_round_trip(store: &dyn Storage) {
    let (_, partner, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut first = token(&company, &ada, "hash-1");
    let site = site(&company, "Paris");
    let group = site_group(&company, "Offices", &[&site]);
    first.site_id = Some(site.id);
    first.site_group_id = Some(group.id);
    let second = token(&company, &ada, "hash-2");
    let elsewhere = token(&partner, &ada, "hash-3");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_scim_token(&first).await.expect("insert");
    assert_eq!(
        tx.scim_token(first.id).await.expect("own write"),
        Some(first.clone())
    );
    commit(tx).await;
    let mut tx = begin(store).await;
    tx.insert_scim_token(&second).await.expect("insert");
    tx.insert_scim_token(&elsewhere).await.expect("insert");
    commit(tx).await;

    assert_eq!(
        store.scim_token(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store.scim_token_by_hash("hash-2").await.expect("by hash"),
        Some(second.clone())
    );
    assert_eq!(
        store.scim_token_by_hash("nope").await.expect("by hash"),
        None
    );
    // One organization's, oldest first.
    assert_eq!(
        store.scim_tokens_of(company.id()).await.expect("of org"),
        vec![first.clone(), second.clone()]
    );
    assert_eq!(
        store.scim_tokens_of(partner.id()).await.expect("of org"),
        vec![elsewhere]
    );

    // Revocation: locked, changed, written back.
    let mut tx = begin(store).await;
    let mut locked = tx
        .lock_scim_token(first.id)
        .await
        .expect("lock")
        .expect("found");
    locked.revoked_at = Some(at(5));
    tx.update_scim_token(&locked).await.expect("update");
    commit(tx).await;
    let read = store
        .scim_token_by_hash("hash-1")
        .await
        .expect("read")
        .expect("found");
    assert_eq!(read.revoked_at, Some(at(5)));
    let mut tx = begin(store).await;
    assert!(
        tx.lock_scim_token(ScimTokenId::new())
            .await
            .expect("lock")
            .is_none()
    );
}

pub async fn scim_tokens_roll_back_and_check_references(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;
    // Dropped without commit: nothing stays.
    let dropped = token(&company, &ada, "hash-dropped");
    let mut tx = begin(store).await;
    tx.insert_scim_token(&dropped).await.expect("insert");
    drop(tx);
    assert_eq!(store.scim_token(dropped.id).await.expect("read"), None);
    // A creator that does not exist is a missing reference, and the unit of work survives it.
    let nobody = user(&company, "No", "Body", Some("nobody@example.com"), None);
    let orphan = token(&company, &nobody, "hash-orphan");
    let kept = token(&company, &ada, "hash-kept");
    let mut tx = begin(store).await;
    assert_eq!(
        tx.insert_scim_token(&orphan).await,
        Err(StorageError::MissingReference(Reference::User))
    );
    tx.insert_scim_token(&kept).await.expect("insert after");
    commit(tx).await;
    assert_eq!(
        store.scim_tokens_of(company.id()).await.expect("of org"),
        vec![kept]
    );
}
