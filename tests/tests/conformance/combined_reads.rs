//! Reads that bring several rows at once (one statement each on PostgreSQL): the session with its
//! person, a page of users with their profiles, a room with what booking it needs, the schedules
//! of many rooms, and the booking insert guarded by its holder. Both backends answer alike.

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::Storage;

use crate::bookings::booking;
use crate::fixtures::*;

pub async fn a_session_comes_with_its_person(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let south = site_group(&company, "South", &[&lyon]);
    let mut ada = user(&company, "Ada", "Lovelace", Some("ada@company.test"), None);
    ada.site_ids = vec![paris.id];
    ada.site_group_ids = vec![south.id];
    let ada_session = session(&ada, "ada-token");
    let bob = user(&company, "Bob", "Babbage", Some("bob@company.test"), None);
    let bob_session = session(&bob, "bob-token");
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_site(&lyon).await.expect("site");
    tx.insert_site_group(&south).await.expect("group");
    tx.insert_user(&ada).await.expect("user");
    tx.insert_user(&bob).await.expect("user");
    tx.insert_session(&ada_session).await.expect("session");
    tx.insert_session(&bob_session).await.expect("session");
    tx.set_second_factor_required(company.id(), true)
        .await
        .expect("policy");
    let mut factor = SecondFactor {
        user_id: ada.id,
        sealed_secret: "sealed".into(),
        confirmed_at: Some(now()),
        last_used_step: None,
        recovery_code_hashes: Vec::new(),
        challenge_hash: None,
        challenge_expires_at: None,
        created_at: now(),
    };
    assert!(tx.insert_second_factor(&factor).await.expect("factor"));
    factor.user_id = bob.id;
    factor.confirmed_at = None;
    assert!(tx.insert_second_factor(&factor).await.expect("factor"));
    commit(tx).await;

    let acting = store
        .session_with_person(ada_session.id)
        .await
        .expect("read")
        .expect("the session");
    assert_eq!(acting.session, ada_session);
    assert_eq!(acting.user, ada);
    assert_eq!(acting.organization, company.org);
    assert_eq!(acting.profile, company.enterprise);
    assert_eq!(acting.site_groups, vec![south.clone()]);
    assert!(acting.second_factor_required);
    assert!(acting.second_factor_confirmed);

    let bob_acting = store
        .session_with_person(bob_session.id)
        .await
        .expect("read")
        .expect("the session");
    assert_eq!(bob_acting.user, bob);
    assert!(bob_acting.site_groups.is_empty());
    assert!(
        !bob_acting.second_factor_confirmed,
        "an unconfirmed factor is none"
    );

    assert!(
        store
            .session_with_person(SessionId::new())
            .await
            .expect("read")
            .is_none()
    );
}

pub async fn a_page_of_users_brings_their_profiles_and_counts_only_when_asked(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let reader = profile(&company, "Reader", reader_permissions());
    let mut people = Vec::new();
    for n in 0..3 {
        let mut person = user(
            &company,
            "Person",
            &format!("N{n}"),
            None,
            Some(&format!("person{n}")),
        );
        if n == 0 {
            person.profile_id = reader.id;
        }
        people.push(person);
    }
    let mut tx = begin(store).await;
    tx.insert_profile(&reader).await.expect("profile");
    for person in &people {
        tx.insert_user(person).await.expect("user");
    }
    commit(tx).await;

    let query = UserQuery {
        organization_ids: vec![company.id()],
        search: None,
        status: None,
        site: None,
        profile_id: None,
        after: None,
        first: 10,
        count_total: false,
        with_profiles: true,
    };
    let (page, profiles) = store.users_and_profiles(&query).await.expect("page");
    assert_eq!(page.items.len(), 3);
    assert_eq!(page.total_count, 0, "not counted unless asked");
    assert_eq!(
        sorted(profiles, |p| p.id),
        sorted(vec![company.enterprise.clone(), reader.clone()], |p| p.id),
        "each profile once"
    );

    let (counted, none) = store
        .users_and_profiles(&UserQuery {
            count_total: true,
            with_profiles: false,
            first: 1,
            ..query
        })
        .await
        .expect("page");
    assert_eq!((counted.items.len(), counted.total_count), (1, 3));
    assert!(none.is_empty(), "profiles only when asked");
}

pub async fn a_room_comes_with_what_booking_it_reads(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let atlas = room(&paris, "Atlas");
    let other = room(&paris, "Other");
    let ada = user(&company, "Ada", "Lovelace", Some("ada@company.test"), None);
    let early = booking(&atlas, &ada, 0, 60);
    let late = booking(&atlas, &ada, 120, 180);
    let elsewhere = booking(&other, &ada, 0, 180);
    let mut cancelled = booking(&atlas, &ada, 60, 120);
    cancelled.status = BookingStatus::Cancelled;
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_room(&atlas).await.expect("room");
    tx.insert_room(&other).await.expect("room");
    tx.insert_user(&ada).await.expect("user");
    for b in [&early, &late, &elsewhere, &cancelled] {
        tx.insert_booking(b).await.expect("booking");
    }
    commit(tx).await;

    let found = store
        .room_for_booking(atlas.id, at(30), at(150))
        .await
        .expect("read")
        .expect("the room");
    assert_eq!(found.room, atlas);
    assert_eq!(found.site, paris);
    assert_eq!(
        found.overlapping,
        vec![early.id, late.id],
        "confirmed ones of this room, by start"
    );
    let free = store
        .room_for_booking(atlas.id, at(60), at(120))
        .await
        .expect("read")
        .expect("the room");
    assert!(free.overlapping.is_empty(), "back to back is free");
    assert!(
        store
            .room_for_booking(RoomId::new(), at(0), at(10))
            .await
            .expect("read")
            .is_none()
    );

    let both = store
        .rooms_bookings(&[atlas.id, other.id], at(30), at(150))
        .await
        .expect("read");
    let expected: Vec<BookingId> = sorted(vec![elsewhere, early, late], |b| (b.start, b.id))
        .into_iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(
        both.iter().map(|b| b.id).collect::<Vec<_>>(),
        expected,
        "every room's confirmed ones, by start"
    );
}

pub async fn a_booking_is_inserted_only_while_its_holder_is_as_checked(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let atlas = room(&paris, "Atlas");
    let ada = user(&company, "Ada", "Lovelace", Some("ada@company.test"), None);
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("site");
    tx.insert_room(&atlas).await.expect("room");
    tx.insert_user(&ada).await.expect("user");
    commit(tx).await;

    let first = booking(&atlas, &ada, 0, 60);
    let mut tx = begin(store).await;
    assert!(
        tx.insert_booking_held_by(&first, &ada)
            .await
            .expect("insert")
    );
    commit(tx).await;
    assert_eq!(store.booking(first.id).await.expect("read"), Some(first));

    // Deactivated meanwhile: nothing is written.
    let mut tx = begin(store).await;
    let mut locked = tx.lock_user(ada.id).await.expect("lock").expect("ada");
    locked.status = UserStatus::Inactive;
    tx.update_user(&locked).await.expect("update");
    commit(tx).await;
    let second = booking(&atlas, &ada, 60, 120);
    let mut tx = begin(store).await;
    assert!(
        !tx.insert_booking_held_by(&second, &ada)
            .await
            .expect("insert")
    );
    commit(tx).await;
    assert_eq!(store.booking(second.id).await.expect("read"), None);
}
