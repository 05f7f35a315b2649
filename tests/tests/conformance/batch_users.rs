//! `insert_users` (bulk import): many users with their site grants in one call, read back as
//! written; a batch that breaks a unique key writes none of its users, and the transaction goes
//! on as if it had not been tried.

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError, UniqueKey};
use concierge_domain::values::{Language, Secret};

use crate::fixtures::*;

/// More users than one PostgreSQL statement carries (1,000), so the batch goes in chunks.
const MANY: usize = 1_500;

fn people(company: &Org, prefix: &str, count: usize, paris: &Site, south: &SiteGroup) -> Vec<User> {
    (0..count)
        .map(|n| {
            let mut person = user(
                company,
                "Imported",
                &format!("Person {n}"),
                Some(&format!("{prefix}.{n}@import.test")),
                (n % 3 == 0).then(|| format!("{prefix}-{n}")).as_deref(),
            );
            person.site_ids = vec![paris.id];
            if n % 2 == 0 {
                person.site_group_ids = vec![south.id];
            }
            person.default_site_id = Some(paris.id);
            person.booking_code_hash = Some(Secret::new(format!("{prefix}-code-{n}")));
            person.password_hash = Some(Secret::new("argon2-hash".into()));
            person.must_change_password = true;
            person
        })
        .collect()
}

pub async fn insert_users_writes_every_user_with_their_grants(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let south = site_group(&company, "South", &[&lyon]);
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_site(&lyon).await.expect("site");
    tx.insert_site_group(&south).await.expect("group");
    commit(tx).await;

    let batch = people(&company, "many", MANY, &paris, &south);
    let mut tx = begin(store).await;
    tx.insert_users(&batch).await.expect("the batch");
    // The transaction reads its own batch.
    assert_eq!(
        tx.user_by_login("many.7@import.test").await.expect("read"),
        Some(batch[7].clone())
    );
    commit(tx).await;

    let ids: Vec<UserId> = batch.iter().map(|u| u.id).collect();
    let read = sorted(store.users_by_ids(&ids).await.expect("read"), |u| u.id);
    assert_eq!(read, sorted(batch.clone(), |u| u.id));
    assert_eq!(
        store.user_by_login("many-999").await.expect("read"),
        Some(batch[999].clone())
    );
    assert_eq!(
        store
            .user_by_booking_code(company.id(), "many-code-1499")
            .await
            .expect("read"),
        Some(batch[1499].clone())
    );

    // An empty batch writes nothing and fails nothing.
    let mut tx = begin(store).await;
    tx.insert_users(&[]).await.expect("nothing to insert");
    commit(tx).await;
}

pub async fn a_batch_breaking_a_unique_key_writes_none_of_its_users(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let south = site_group(&company, "South", &[&lyon]);
    let taken = user(
        &company,
        "Already",
        "Here",
        Some("taken@import.test"),
        Some("taken"),
    );
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_site(&lyon).await.expect("site");
    tx.insert_site_group(&south).await.expect("group");
    tx.insert_user(&taken).await.expect("user");
    commit(tx).await;

    // A login someone has, at the end of a long batch; a username twice within one; a booking
    // code someone of the organization has.
    let mut clash_login = people(&company, "late", MANY, &paris, &south);
    clash_login[MANY - 1].email = Some(email("TAKEN@import.test"));
    let mut clash_inside = people(&company, "twice", 10, &paris, &south);
    clash_inside[9].username = clash_inside[3].username.clone();
    let clash_code = people(&company, "code", 10, &paris, &south);
    let survivor = user(
        &company,
        "Still",
        "Welcome",
        Some("survivor@import.test"),
        None,
    );

    let mut tx = begin(store).await;
    tx.insert_users(&clash_code[..1])
        .await
        .expect("a first batch");
    assert_eq!(
        tx.insert_users(&clash_login).await,
        Err(StorageError::Unique(UniqueKey::UserEmail))
    );
    assert_eq!(
        tx.insert_users(&clash_inside).await,
        Err(StorageError::Unique(UniqueKey::UserUsername))
    );
    let mut clash_code_rest = clash_code[1..].to_vec();
    clash_code_rest[4].booking_code_hash = clash_code[0].booking_code_hash.clone();
    assert_eq!(
        tx.insert_users(&clash_code_rest).await,
        Err(StorageError::Unique(UniqueKey::BookingCode))
    );
    // None of the failed batches' users is there, in the transaction itself…
    for batch in [&clash_login[..], &clash_inside[..], &clash_code_rest[..]] {
        for person in [&batch[0], &batch[batch.len() / 2]] {
            assert_eq!(tx.user(person.id).await.expect("read"), None);
        }
    }
    assert_eq!(
        tx.user_by_login("late.0@import.test").await.expect("read"),
        None
    );
    // …which goes on: what it wrote before and after commits.
    tx.insert_user(&survivor)
        .await
        .expect("after the failed batches");
    commit(tx).await;
    assert_eq!(
        store.user(clash_code[0].id).await.expect("read"),
        Some(clash_code[0].clone())
    );
    assert_eq!(store.user(survivor.id).await.expect("read"), Some(survivor));
    for batch in [&clash_login[..], &clash_inside[..], &clash_code_rest[..]] {
        let ids: Vec<UserId> = batch.iter().map(|u| u.id).collect();
        assert_eq!(store.users_by_ids(&ids).await.expect("read"), vec![]);
    }
    assert_eq!(store.user(taken.id).await.expect("read"), Some(taken));
}

/// `insert_emails` (the credential e-mails of an import): every message written as given, in
/// more than one statement's worth, or none when the transaction is dropped.
pub async fn insert_emails_writes_every_message_or_none(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let messages: Vec<OutboundEmail> = (0..MANY)
        .map(|n| OutboundEmail {
            id: EmailId::new(),
            organization_id: Some(company.id()),
            to: email(&format!("person.{n}@import.test")),
            language: Language::Fr,
            kind: EmailKind::Credentials,
            sealed_params: format!("sealed-{n}"),
            attempts: 0,
            next_attempt_at: now(),
            sent_at: None,
            abandoned_at: None,
            last_error: None,
            created_at: now(),
        })
        .collect();

    let mut tx = begin(store).await;
    tx.insert_emails(&messages).await.expect("the batch");
    assert_eq!(
        tx.pending_email_count().await.expect("own writes"),
        MANY as i64
    );
    drop(tx);
    assert_eq!(store.pending_email_count().await.expect("count"), 0);
    assert_eq!(store.email(messages[0].id).await.expect("read"), None);

    let mut tx = begin(store).await;
    tx.insert_emails(&messages).await.expect("the batch");
    tx.insert_emails(&[]).await.expect("nothing to insert");
    commit(tx).await;
    assert_eq!(
        store.pending_email_count().await.expect("count"),
        MANY as i64
    );
    for m in [&messages[0], &messages[999], &messages[MANY - 1]] {
        assert_eq!(store.email(m.id).await.expect("read"), Some(m.clone()));
    }
}
