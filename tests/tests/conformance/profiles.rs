use concierge_domain::ids::*;
use concierge_domain::permissions::*;
use concierge_domain::storage::Storage;

use crate::fixtures::*;

pub async fn profiles_round_trip(store: &dyn Storage) {
    let (platform, partner, company) = seed_tree(store).await;
    let reader = profile(&company, "Reader", reader_permissions());
    let nothing = profile(&company, "Nothing", Permissions::none());
    let partner_staff = profile(&partner, "Staff", reader_permissions());
    let mut tx = begin(store).await;
    for p in [&reader, &nothing, &partner_staff] {
        tx.insert_profile(p).await.expect("insert profile");
    }
    commit(tx).await;

    assert_eq!(
        store.profile(reader.id).await.expect("read"),
        Some(reader.clone())
    );
    assert_eq!(
        store.profile(nothing.id).await.expect("read"),
        Some(nothing.clone())
    );
    assert_eq!(store.profile(ProfileId::new()).await.expect("read"), None);
    let batch = store
        .profiles_by_ids(&[nothing.id, ProfileId::new(), platform.enterprise.id])
        .await
        .expect("batch");
    assert_eq!(
        sorted(batch, |p| p.id),
        sorted(vec![nothing.clone(), platform.enterprise.clone()], |p| p.id)
    );

    // Oldest first, across the organizations asked for only.
    let of = store
        .profiles_of(&[company.id(), partner.id()])
        .await
        .expect("profiles of");
    assert_eq!(
        of,
        vec![
            partner.enterprise.clone(),
            company.enterprise.clone(),
            reader.clone(),
            nothing.clone(),
            partner_staff.clone()
        ]
    );
    assert!(store.profiles_of(&[]).await.expect("none").is_empty());

    let mut changed = reader.clone();
    changed.name = name("Reader plus");
    changed.permissions.users = UsersPermission::Manage;
    changed.permissions.modules = [Module::Directory].into_iter().collect();
    let mut tx = begin(store).await;
    tx.write_back_profile(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(store.profile(reader.id).await.expect("read"), Some(changed));
}

pub async fn delete_profile(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let doomed = profile(&company, "Doomed", Permissions::none());
    let kept = profile(&company, "Kept", Permissions::none());
    let mut tx = begin(store).await;
    tx.insert_profile(&doomed).await.expect("insert");
    tx.insert_profile(&kept).await.expect("insert");
    commit(tx).await;

    let mut tx = begin(store).await;
    let locked = tx
        .lock_profile(doomed.id)
        .await
        .expect("lock")
        .expect("the profile");
    tx.delete_profile(locked).await.expect("delete");
    assert_eq!(tx.profile(doomed.id).await.expect("read in tx"), None);
    commit(tx).await;
    assert_eq!(store.profile(doomed.id).await.expect("read"), None);
    assert_eq!(
        store.profiles_of(&[company.id()]).await.expect("list"),
        vec![company.enterprise.clone(), kept]
    );
}

pub async fn count_users_with_profile(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let reader = profile(&company, "Reader", reader_permissions());
    let mut a = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let mut b = user(&company, "Alan", "Turing", None, Some("alan"));
    let c = user(&company, "Grace", "Hopper", Some("grace@example.com"), None);
    a.profile_id = reader.id;
    b.profile_id = reader.id;
    let mut tx = begin(store).await;
    tx.insert_profile(&reader).await.expect("insert profile");
    for u in [&a, &b, &c] {
        tx.insert_user(u).await.expect("insert user");
    }
    commit(tx).await;

    assert_eq!(
        store
            .count_users_with_profile(reader.id)
            .await
            .expect("count"),
        2
    );
    assert_eq!(
        store
            .count_users_with_profile(company.enterprise.id)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count_users_with_profile(ProfileId::new())
            .await
            .expect("count"),
        0
    );

    // Moving a user off the profile is seen at once inside the transaction.
    let mut moved = b.clone();
    moved.profile_id = company.enterprise.id;
    let mut tx = begin(store).await;
    tx.write_back_user(&moved).await.expect("update");
    assert_eq!(
        tx.count_users_with_profile(reader.id).await.expect("count"),
        1
    );
    commit(tx).await;
    assert_eq!(
        store
            .count_users_with_profile(reader.id)
            .await
            .expect("count"),
        1
    );
    assert_eq!(
        store
            .count_users_with_profile(company.enterprise.id)
            .await
            .expect("count"),
        2
    );
}
