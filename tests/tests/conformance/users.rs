use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError, StorageResult, UniqueKey};
use concierge_domain::values::{Language, Secret};

use crate::fixtures::*;

/// A company with two sites, a group holding the second, a price list, a custom profile and an
/// administrator; committed.
struct Cast {
    company: Org,
    partner: Org,
    paris: Site,
    lyon: Site,
    group: SiteGroup,
    list: PriceList,
    reader: Profile,
    admin: User,
}

async fn cast(store: &dyn Storage) -> Cast {
    let (_, partner, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let group = site_group(&company, "South", &[&lyon]);
    let list = price_list(&partner, "Standard", true);
    let reader = profile(&company, "Reader", reader_permissions());
    let admin = user(
        &company,
        "Admin",
        "Istrator",
        Some("admin@company.test"),
        None,
    );
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_site(&lyon).await.expect("site");
    tx.insert_site_group(&group).await.expect("group");
    tx.insert_price_list(&list).await.expect("price list");
    tx.insert_profile(&reader).await.expect("profile");
    tx.insert_user(&admin).await.expect("admin");
    commit(tx).await;
    Cast {
        company,
        partner,
        paris,
        lyon,
        group,
        list,
        reader,
        admin,
    }
}

/// A user with every optional field set.
fn full_user(c: &Cast) -> User {
    let mut u = user(
        &c.company,
        "Zoé",
        "Durand-Müller",
        Some("zoe.durand@example.com"),
        None,
    );
    u.language = Language::Fr;
    u.status = UserStatus::PendingApproval;
    u.profile_id = c.reader.id;
    u.site_ids = sorted(vec![c.lyon.id, c.paris.id], |id| *id);
    u.site_group_ids = vec![c.group.id];
    u.default_site_id = Some(c.paris.id);
    u.external_contact = Some("Reception".into());
    u.price_list_id = Some(c.list.id);
    u.photo_url = Some("https://example.com/zoe.png".into());
    u.password_hash = Some(Secret::new(
        "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
    ));
    u.must_change_password = true;
    u.booking_code_hash = Some(Secret::new("code-hash-zoe".into()));
    u.session_epoch = 3;
    u.created_by = Some(c.admin.id);
    u
}

pub async fn users_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let zoe = full_user(&c);
    let pin = user(&c.company, "Pat", "Pin", None, Some("pat.pin"));
    let mut tx = begin(store).await;
    tx.insert_user(&zoe).await.expect("insert");
    tx.insert_user(&pin).await.expect("insert");
    commit(tx).await;

    assert_eq!(store.user(zoe.id).await.expect("read"), Some(zoe.clone()));
    assert_eq!(store.user(pin.id).await.expect("read"), Some(pin.clone()));
    assert_eq!(store.user(UserId::new()).await.expect("read"), None);
    let batch = store
        .users_by_ids(&[pin.id, UserId::new(), zoe.id, c.admin.id])
        .await
        .expect("batch");
    assert_eq!(
        sorted(batch, |u| u.id),
        vec![c.admin.clone(), zoe.clone(), pin.clone()]
    );
    assert!(store.users_by_ids(&[]).await.expect("empty").is_empty());

    // Every field changes; sets are replaced.
    let mut changed = zoe.clone();
    changed.first_name = name("Zoe");
    changed.last_name = name("Martin");
    changed.email = Some(email("zoe.martin@example.com"));
    changed.username = Some(username("zoe"));
    changed.language = Language::En;
    changed.status = UserStatus::Inactive;
    changed.profile_id = c.company.enterprise.id;
    changed.site_ids = vec![c.lyon.id];
    changed.site_group_ids = vec![];
    changed.default_site_id = None;
    changed.external_contact = None;
    changed.price_list_id = None;
    changed.photo_url = None;
    changed.password_hash = Some(Secret::new("new-hash".into()));
    changed.must_change_password = false;
    changed.booking_code_hash = None;
    changed.session_epoch = 4;
    let mut tx = begin(store).await;
    tx.write_back_user(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(
        store.user(zoe.id).await.expect("read"),
        Some(changed.clone())
    );

    // And back: optional fields from none to some.
    let mut tx = begin(store).await;
    tx.write_back_user(&zoe).await.expect("update back");
    commit(tx).await;
    assert_eq!(store.user(zoe.id).await.expect("read"), Some(zoe));
}

pub async fn user_by_login(store: &dyn Storage) {
    let c = cast(store).await;
    let zoe = full_user(&c);
    let pin = user(&c.company, "Pat", "Pin", None, Some("pat.pin"));
    let mut tx = begin(store).await;
    tx.insert_user(&zoe).await.expect("insert");
    tx.insert_user(&pin).await.expect("insert");
    commit(tx).await;

    assert_eq!(
        store
            .user_by_login("zoe.durand@example.com")
            .await
            .expect("by e-mail"),
        Some(zoe.clone())
    );
    assert_eq!(
        store.user_by_login("pat.pin").await.expect("by username"),
        Some(pin.clone())
    );
    assert_eq!(
        store
            .user_by_login("nobody@example.com")
            .await
            .expect("unknown"),
        None
    );
    assert_eq!(store.user_by_login("zoe").await.expect("substring"), None);

    // The old login stops working when it changes; the new one works at once.
    let mut renamed = zoe.clone();
    renamed.email = Some(email("zoe.new@example.com"));
    let mut tx = begin(store).await;
    tx.write_back_user(&renamed).await.expect("update");
    assert_eq!(
        tx.user_by_login("zoe.new@example.com")
            .await
            .expect("in tx"),
        Some(renamed.clone())
    );
    commit(tx).await;
    assert_eq!(
        store
            .user_by_login("zoe.durand@example.com")
            .await
            .expect("old"),
        None
    );
    assert_eq!(
        store
            .user_by_login("zoe.new@example.com")
            .await
            .expect("new"),
        Some(renamed.clone())
    );

    // A freed login can be taken by someone else.
    let successor = user(
        &c.company,
        "Other",
        "Zoe",
        Some("zoe.durand@example.com"),
        None,
    );
    let mut tx = begin(store).await;
    tx.insert_user(&successor)
        .await
        .expect("freed e-mail is free");
    commit(tx).await;
    assert_eq!(
        store
            .user_by_login("zoe.durand@example.com")
            .await
            .expect("reused"),
        Some(successor)
    );
}

pub async fn user_by_booking_code(store: &dyn Storage) {
    let c = cast(store).await;
    let other = organization(OrganizationKind::Company, Some(&c.partner), "Other");
    seed_orgs(store, &[&other]).await;
    let zoe = full_user(&c);
    // The same hash in another organization is another person.
    let mut twin = user(&other, "Twin", "Code", Some("twin@example.com"), None);
    twin.booking_code_hash = zoe.booking_code_hash.clone();
    let mut tx = begin(store).await;
    tx.insert_user(&zoe).await.expect("insert");
    tx.insert_user(&twin)
        .await
        .expect("same code, other organization");
    commit(tx).await;

    let hash = zoe
        .booking_code_hash
        .as_ref()
        .map(|h| h.expose().to_owned())
        .expect("has a code");
    assert_eq!(
        store
            .user_by_booking_code(c.company.id(), &hash)
            .await
            .expect("read"),
        Some(zoe.clone())
    );
    assert_eq!(
        store
            .user_by_booking_code(other.id(), &hash)
            .await
            .expect("read"),
        Some(twin)
    );
    assert_eq!(
        store
            .user_by_booking_code(c.partner.id(), &hash)
            .await
            .expect("read"),
        None
    );
    assert_eq!(
        store
            .user_by_booking_code(c.company.id(), "other-hash")
            .await
            .expect("read"),
        None
    );

    // A reset code: the old one dies at once.
    let mut reset = zoe.clone();
    reset.booking_code_hash = Some(Secret::new("code-hash-zoe-2".into()));
    let mut tx = begin(store).await;
    tx.write_back_user(&reset).await.expect("update");
    commit(tx).await;
    assert_eq!(
        store
            .user_by_booking_code(c.company.id(), &hash)
            .await
            .expect("old"),
        None
    );
    assert_eq!(
        store
            .user_by_booking_code(c.company.id(), "code-hash-zoe-2")
            .await
            .expect("new"),
        Some(reset)
    );
}

/// Inserts `user` in a transaction of its own and commits.
async fn insert_alone(store: &dyn Storage, user: &User) -> StorageResult<()> {
    let mut tx = store.begin().await?;
    tx.insert_user(user).await?;
    tx.commit().await
}

pub async fn unique_user_keys(store: &dyn Storage) {
    let c = cast(store).await;
    let other = organization(OrganizationKind::Company, Some(&c.partner), "Other");
    seed_orgs(store, &[&other]).await;
    let zoe = full_user(&c);
    let pin = user(&c.company, "Pat", "Pin", None, Some("pat.pin"));
    insert_alone(store, &zoe).await.expect("zoe");
    insert_alone(store, &pin).await.expect("pin");

    // E-mail and username are unique across the installation, not per organization.
    let same_email = user(&other, "Zed", "Other", Some("zoe.durand@example.com"), None);
    assert_eq!(
        insert_alone(store, &same_email).await,
        Err(StorageError::Unique(UniqueKey::UserEmail))
    );
    let same_username = user(&other, "Pat", "Other", None, Some("pat.pin"));
    assert_eq!(
        insert_alone(store, &same_username).await,
        Err(StorageError::Unique(UniqueKey::UserUsername))
    );
    let mut same_code = user(&c.company, "Code", "Clash", Some("clash@example.com"), None);
    same_code.booking_code_hash = zoe.booking_code_hash.clone();
    assert_eq!(
        insert_alone(store, &same_code).await,
        Err(StorageError::Unique(UniqueKey::BookingCode))
    );

    // An update into someone else's login or code is refused the same way.
    for (clash, key) in [
        (
            User {
                email: Some(email("zoe.durand@example.com")),
                ..pin.clone()
            },
            UniqueKey::UserEmail,
        ),
        (
            User {
                username: Some(username("pat.pin")),
                ..zoe.clone()
            },
            UniqueKey::UserUsername,
        ),
        (
            User {
                booking_code_hash: zoe.booking_code_hash.clone(),
                ..pin.clone()
            },
            UniqueKey::BookingCode,
        ),
    ] {
        let mut tx = begin(store).await;
        assert_eq!(
            tx.write_back_user(&clash).await,
            Err(StorageError::Unique(key))
        );
    }

    // Nothing of the refused writes was kept.
    assert_eq!(store.user(same_email.id).await.expect("read"), None);
    assert_eq!(store.user(pin.id).await.expect("read"), Some(pin.clone()));
    assert_eq!(store.user(zoe.id).await.expect("read"), Some(zoe));
    // A user keeps their own login on update.
    let mut tx = begin(store).await;
    tx.write_back_user(&User {
        first_name: name("Patrick"),
        ..pin
    })
    .await
    .expect("own login is no clash");
    commit(tx).await;
}

pub async fn concurrent_username_commits_once(store: &dyn Storage) {
    let c = cast(store).await;
    let first = user(&c.company, "First", "Comer", None, Some("same.name"));
    let second = user(&c.company, "Second", "Comer", None, Some("same.name"));
    let racer = |u: User| async move {
        let mut tx = store.begin().await?;
        tx.insert_user(&u).await?;
        // Let the other transaction run while this one holds its uncommitted row.
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        tx.commit().await
    };
    let (a, b) = tokio::join!(racer(first.clone()), racer(second.clone()));
    let outcomes = [a.clone(), b.clone()];
    assert_eq!(
        outcomes.iter().filter(|r| r.is_ok()).count(),
        1,
        "{outcomes:?}"
    );
    assert!(
        outcomes.contains(&Err(StorageError::Unique(UniqueKey::UserUsername))),
        "{outcomes:?}"
    );
    let winner = if a.is_ok() { first } else { second };
    assert_eq!(
        store.user_by_login("same.name").await.expect("read"),
        Some(winner)
    );
}

fn query(c: &Cast) -> UserQuery {
    UserQuery {
        organization_ids: vec![c.company.id()],
        search: None,
        status: None,
        site: None,
        profile_id: None,
        after: None,
        first: 100,
        count_total: true,
        with_profiles: false,
    }
}

pub async fn users_pagination_and_filters(store: &dyn Storage) {
    let c = cast(store).await;
    let other = organization(OrganizationKind::Company, Some(&c.partner), "Other");
    seed_orgs(store, &[&other]).await;
    let north = site_group(&c.company, "North", &[&c.paris]);

    let mut ada = user(
        &c.company,
        "Ada",
        "Lovelace",
        Some("ada@analytical.test"),
        None,
    );
    ada.site_ids = vec![c.paris.id];
    let mut bob = user(&c.company, "Bob", "Marley", None, Some("bob.m"));
    bob.status = UserStatus::Invited;
    bob.site_group_ids = vec![c.group.id];
    let mut chloé = user(
        &c.company,
        "Chloé",
        "ÉCLAIR",
        Some("chloe@example.com"),
        None,
    );
    chloé.profile_id = c.reader.id;
    chloé.site_group_ids = vec![north.id];
    let mut dan = user(&c.company, "Dan", "Brown", Some("dan@lovelace.test"), None);
    dan.status = UserStatus::Invited;
    dan.profile_id = c.reader.id;
    let mut eve = user(&c.company, "Eve", "Adams", None, Some("eve.ada"));
    eve.site_ids = vec![c.lyon.id];
    let stranger = user(&other, "Ada", "Stranger", Some("ada@stranger.test"), None);
    let mut tx = begin(store).await;
    tx.insert_site_group(&north).await.expect("group");
    for u in [&ada, &bob, &chloé, &dan, &eve, &stranger] {
        tx.insert_user(u).await.expect("insert");
    }
    commit(tx).await;

    let ids = |page: &Page<User>| page.items.iter().map(|u| u.id).collect::<Vec<_>>();
    let ours = vec![c.admin.id, ada.id, bob.id, chloé.id, dan.id, eve.id];

    // Pages, oldest first.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .users(&UserQuery {
                after,
                first: 4,
                ..query(&c)
            })
            .await
            .expect("list");
        assert_eq!(page.total_count, 6);
        seen.extend(ids(&page));
        after = page.items.last().map(|u| u.id);
        assert_eq!(page.has_next_page, seen.len() < 6);
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, ours);
    let whole = store.users(&query(&c)).await.expect("list");
    assert_eq!(
        whole.items,
        vec![
            c.admin.clone(),
            ada.clone(),
            bob.clone(),
            chloé.clone(),
            dan.clone(),
            eve.clone()
        ]
    );
    let both = store
        .users(&UserQuery {
            organization_ids: vec![other.id(), c.company.id()],
            ..query(&c)
        })
        .await
        .expect("list");
    assert_eq!(both.total_count, 7);
    assert_eq!(both.items.last(), Some(&stranger));

    // Search: case-insensitive substrings of first name, last name, e-mail, username.
    let search = |s: &str| UserQuery {
        search: Some(s.into()),
        ..query(&c)
    };
    for (needle, expected) in [
        ("ada", vec![ada.id, eve.id]),      // first name, username (and Adams)
        ("lovelace", vec![ada.id, dan.id]), // last name, e-mail domain
        ("éclair", vec![chloé.id]),         // non-ASCII, stored upper-case
        ("chloé", vec![chloé.id]),
        ("bob.m", vec![bob.id]),          // username only
        ("@example.com", vec![chloé.id]), // e-mail only
        ("nobody", vec![]),
    ] {
        let page = store.users(&search(needle)).await.expect("search");
        assert_eq!(
            (ids(&page), page.total_count),
            (expected.clone(), expected.len() as i64),
            "search {needle:?}"
        );
    }
    let paged_search = store
        .users(&UserQuery {
            first: 1,
            after: Some(ada.id),
            ..search("a")
        })
        .await
        .expect("search");
    // "a" is in Admin, Ada, Bob Marley, Chloé ÉCLAIR, Dan, Eve Adams (all six).
    assert_eq!(
        (
            ids(&paged_search),
            paged_search.has_next_page,
            paged_search.total_count
        ),
        (vec![bob.id], true, 6)
    );

    // Status and profile.
    let invited = store
        .users(&UserQuery {
            status: Some(UserStatus::Invited),
            ..query(&c)
        })
        .await
        .expect("status");
    assert_eq!(
        (ids(&invited), invited.total_count),
        (vec![bob.id, dan.id], 2)
    );
    let readers = store
        .users(&UserQuery {
            profile_id: Some(c.reader.id),
            ..query(&c)
        })
        .await
        .expect("profile");
    assert_eq!(
        (ids(&readers), readers.total_count),
        (vec![chloé.id, dan.id], 2)
    );
    let invited_readers = store
        .users(&UserQuery {
            status: Some(UserStatus::Invited),
            profile_id: Some(c.reader.id),
            ..query(&c)
        })
        .await
        .expect("both");
    assert_eq!(ids(&invited_readers), vec![dan.id]);

    // Site: granted directly, or through one of the groups given.
    let paris = store
        .users(&UserQuery {
            site: Some((c.paris.id, vec![north.id])),
            ..query(&c)
        })
        .await
        .expect("site");
    assert_eq!(
        (ids(&paris), paris.total_count),
        (vec![ada.id, chloé.id], 2)
    );
    let paris_direct = store
        .users(&UserQuery {
            site: Some((c.paris.id, vec![])),
            ..query(&c)
        })
        .await
        .expect("site");
    assert_eq!(ids(&paris_direct), vec![ada.id]);
    let lyon = store
        .users(&UserQuery {
            site: Some((c.lyon.id, vec![c.group.id])),
            first: 1,
            ..query(&c)
        })
        .await
        .expect("site");
    assert_eq!(
        (ids(&lyon), lyon.has_next_page, lyon.total_count),
        (vec![bob.id], true, 2)
    );
    let lyon_invited = store
        .users(&UserQuery {
            site: Some((c.lyon.id, vec![c.group.id])),
            status: Some(UserStatus::Invited),
            ..query(&c)
        })
        .await
        .expect("site");
    assert_eq!(ids(&lyon_invited), vec![bob.id]);
}
