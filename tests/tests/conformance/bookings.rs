//! Bookings, devices and booking events: the same behaviour on both backends, overlap rules under
//! concurrency included.

use std::time::Duration;

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError, StorageResult, UniqueKey};
use concierge_domain::values::Secret;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;

use crate::fixtures::*;

/// How long an event may take to reach a subscriber.
const DELIVERY: Duration = Duration::from_secs(10);
/// How long a case waits to be sure nothing arrives.
const QUIET: Duration = Duration::from_millis(300);

const OVERLAP: StorageError = StorageError::Unique(UniqueKey::BookingOverlap);

/// A company with two sites (three rooms), two members, and another company with a room; committed.
pub struct Cast {
    pub company: Org,
    pub other: Org,
    pub paris: Site,
    pub lyon: Site,
    pub touch: Room,
    pub focus: Room,
    pub loft: Room,
    pub elsewhere: Room,
    pub ada: User,
    pub bob: User,
    pub stranger: User,
}

pub async fn cast(store: &dyn Storage) -> Cast {
    let (_, partner, company) = seed_tree(store).await;
    let other = organization(OrganizationKind::Company, Some(&partner), "Other");
    seed_orgs(store, &[&other]).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let far = site(&other, "Far");
    let touch = room(&paris, "Touch");
    let focus = room(&paris, "Focus");
    let loft = room(&lyon, "Loft");
    let elsewhere = room(&far, "Elsewhere");
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let bob = user(&company, "Bob", "Builder", Some("bob@example.com"), None);
    let stranger = user(&other, "Sam", "Stranger", Some("sam@example.com"), None);
    let mut tx = begin(store).await;
    for s in [&paris, &lyon, &far] {
        tx.insert_site(s).await.expect("site");
    }
    for r in [&touch, &focus, &loft, &elsewhere] {
        tx.insert_room(r).await.expect("room");
    }
    for u in [&ada, &bob, &stranger] {
        tx.insert_user(u).await.expect("user");
    }
    commit(tx).await;
    Cast {
        company,
        other,
        paris,
        lyon,
        touch,
        focus,
        loft,
        elsewhere,
        ada,
        bob,
        stranger,
    }
}

/// A confirmed booking of `room` for `holder` over `[at(start), at(end))`.
pub fn booking(room: &Room, holder: &User, start: i64, end: i64) -> Booking {
    Booking {
        id: BookingId::new(),
        room_id: room.id,
        site_id: room.site_id,
        organization_id: room.organization_id,
        user_id: holder.id,
        created_by: holder.id,
        title: Some("Stand-up".into()),
        start: at(start),
        end: at(end),
        source: BookingSource::App,
        status: BookingStatus::Confirmed,
        checked_in_at: None,
        release_at: None,
        created_at: now(),
        series_id: None,
    }
}

fn cancelled(b: &Booking) -> Booking {
    Booking {
        status: BookingStatus::Cancelled,
        ..b.clone()
    }
}

pub fn device(room_site: &Site, room: Option<&Room>, registered_by: &User, token: &str) -> Device {
    Device {
        id: DeviceId::new(),
        organization_id: room_site.organization_id,
        site_id: room_site.id,
        room_id: room.map(|r| r.id),
        name: name("Lobby tablet"),
        token_hash: Secret::new(token.into()),
        registered_by: registered_by.id,
        revoked_at: None,
        created_at: now(),
    }
}

/// Commits `bookings` in one transaction.
pub async fn seed_bookings(store: &dyn Storage, bookings: &[&Booking]) {
    let mut tx = begin(store).await;
    for b in bookings {
        tx.insert_booking(b).await.expect("insert booking");
    }
    commit(tx).await;
}

/// Inserts `b` and publishes its creation in one committed transaction.
pub async fn book_and_publish(store: &dyn Storage, b: &Booking) -> BookingEvent {
    let event = BookingEvent {
        kind: BookingEventKind::Created,
        booking: b.clone(),
    };
    let mut tx = begin(store).await;
    tx.insert_booking(b).await.expect("insert booking");
    tx.publish_booking_event(&event).await.expect("publish");
    commit(tx).await;
    event
}

/// The next event, failing the case when none comes in time.
pub async fn next_event(rx: &mut Receiver<BookingEvent>) -> BookingEvent {
    tokio::time::timeout(DELIVERY, rx.recv())
        .await
        .expect("an event arrives in time")
        .expect("the feed is open and the subscriber keeps up")
}

/// Asserts nothing arrives for a while.
pub async fn assert_quiet(rx: &mut Receiver<BookingEvent>) {
    tokio::time::sleep(QUIET).await;
    match rx.try_recv() {
        Err(TryRecvError::Empty) => {}
        other => panic!("expected no event, got {other:?}"),
    }
}

fn ids(bookings: &[Booking]) -> Vec<BookingId> {
    bookings.iter().map(|b| b.id).collect()
}

pub async fn bookings_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let first = booking(&c.touch, &c.ada, 60, 120);
    let mut second = booking(&c.loft, &c.bob, 60, 120);
    second.title = None;
    second.source = BookingSource::Tablet;
    second.created_by = c.ada.id;

    let mut tx = begin(store).await;
    tx.insert_booking(&first).await.expect("insert");
    tx.insert_booking(&second).await.expect("insert");
    // The transaction reads its own writes; nobody else does yet.
    assert_eq!(
        tx.booking(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        tx.room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        vec![first.clone()]
    );
    assert_eq!(store.booking(first.id).await.expect("read"), None);
    // Inserting the same booking twice fails, and the unit of work goes on.
    assert!(tx.insert_booking(&first).await.is_err());
    commit(tx).await;

    assert_eq!(
        store.booking(first.id).await.expect("read"),
        Some(first.clone())
    );
    assert_eq!(
        store.booking(second.id).await.expect("read"),
        Some(second.clone())
    );
    assert_eq!(store.booking(BookingId::new()).await.expect("read"), None);
    let batch = store
        .bookings_by_ids(&[second.id, BookingId::new(), first.id])
        .await
        .expect("batch");
    assert_eq!(
        sorted(batch, |b| b.id),
        sorted(vec![first.clone(), second.clone()], |b| b.id)
    );
    assert!(store.bookings_by_ids(&[]).await.expect("empty").is_empty());

    // Every field changes: moved to another room and holder, renamed, re-timed, cancelled.
    let changed = Booking {
        room_id: c.focus.id,
        user_id: c.bob.id,
        title: None,
        start: at(30),
        end: at(90),
        source: BookingSource::Admin,
        status: BookingStatus::Cancelled,
        ..first.clone()
    };
    let mut tx = begin(store).await;
    tx.write_back_booking(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(
        store.booking(first.id).await.expect("read"),
        Some(changed.clone())
    );
    // And back, title from none to some.
    let mut tx = begin(store).await;
    tx.write_back_booking(&first).await.expect("update back");
    commit(tx).await;
    assert_eq!(store.booking(first.id).await.expect("read"), Some(first));

    // A booking never inserted cannot be updated.
    let mut tx = begin(store).await;
    let error = tx
        .write_back_booking(&booking(&c.touch, &c.ada, 600, 660))
        .await
        .expect_err("missing row");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
}

pub async fn booking_overlap_on_insert(store: &dyn Storage) {
    let c = cast(store).await;
    let standing = booking(&c.touch, &c.ada, 60, 120);
    seed_bookings(store, &[&standing]).await;

    let mut tx = begin(store).await;
    for (start, end) in [(90, 150), (119, 121), (0, 61), (30, 180), (60, 120)] {
        assert_eq!(
            tx.insert_booking(&booking(&c.touch, &c.bob, start, end))
                .await,
            Err(OVERLAP),
            "[{start}, {end}) overlaps [60, 120)"
        );
    }
    // The unit of work survives every violation. Back-to-back on both sides is fine.
    let before = booking(&c.touch, &c.bob, 0, 60);
    let after = booking(&c.touch, &c.bob, 120, 180);
    tx.insert_booking(&before).await.expect("ends as it starts");
    tx.insert_booking(&after).await.expect("starts as it ends");
    // Another room, or a cancelled booking, never conflicts.
    let next_door = booking(&c.focus, &c.bob, 60, 120);
    let cancelled_one = cancelled(&booking(&c.touch, &c.bob, 90, 150));
    tx.insert_booking(&next_door).await.expect("another room");
    tx.insert_booking(&cancelled_one)
        .await
        .expect("cancelled does not count");
    // Its own uncommitted bookings count.
    assert_eq!(
        tx.insert_booking(&booking(&c.touch, &c.bob, 150, 200))
            .await,
        Err(OVERLAP)
    );
    commit(tx).await;
    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        vec![before.clone(), standing.clone(), after.clone()]
    );

    // A cancelled booking does not block its slot.
    let mut tx = begin(store).await;
    tx.write_back_booking(&cancelled(&standing))
        .await
        .expect("cancel");
    commit(tx).await;
    let replacement = booking(&c.touch, &c.bob, 60, 120);
    seed_bookings(store, &[&replacement]).await;
    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        vec![before, replacement, after]
    );
}

pub async fn booking_overlap_on_update(store: &dyn Storage) {
    let c = cast(store).await;
    let first = booking(&c.touch, &c.ada, 60, 120);
    let second = booking(&c.touch, &c.bob, 120, 180);
    let aside = booking(&c.focus, &c.bob, 60, 120);
    let off = cancelled(&booking(&c.touch, &c.ada, 90, 150));
    seed_bookings(store, &[&first, &second, &aside, &off]).await;

    let mut tx = begin(store).await;
    // Extended into the next booking.
    let longer = Booking {
        end: at(150),
        ..first.clone()
    };
    assert_eq!(tx.write_back_booking(&longer).await, Err(OVERLAP));
    // Moved into another room's taken slot.
    let moved = Booking {
        room_id: c.focus.id,
        ..second.clone()
    };
    assert_eq!(
        tx.write_back_booking(&Booking {
            start: at(90),
            ..moved.clone()
        })
        .await,
        Err(OVERLAP)
    );
    // Reinstating a cancelled booking over confirmed ones.
    assert_eq!(
        tx.write_back_booking(&Booking {
            status: BookingStatus::Confirmed,
            ..off.clone()
        })
        .await,
        Err(OVERLAP)
    );
    // A booking never conflicts with itself: shifted over its own old range, then shortened.
    let earlier = Booking {
        start: at(30),
        end: at(100),
        ..first.clone()
    };
    tx.write_back_booking(&earlier)
        .await
        .expect("over its own range");
    let shorter = Booking {
        end: at(90),
        ..earlier.clone()
    };
    tx.write_back_booking(&shorter).await.expect("shortened");
    // Now [90, 120) is free: the second booking may grow back-to-back into it.
    let grown = Booking {
        start: at(90),
        ..second.clone()
    };
    tx.write_back_booking(&grown).await.expect("back-to-back");
    // Moved to a free slot of the other room.
    let relocated = Booking {
        start: at(120),
        end: at(180),
        ..aside.clone()
    };
    tx.write_back_booking(&relocated).await.expect("free slot");
    commit(tx).await;

    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        vec![shorter, grown]
    );
    assert_eq!(
        store
            .room_bookings(c.focus.id, at(0), at(600))
            .await
            .expect("read"),
        vec![relocated]
    );
    assert_eq!(store.booking(off.id).await.expect("read"), Some(off));
}

fn query(c: &Cast) -> BookingQuery {
    BookingQuery {
        organization_ids: vec![c.company.id()],
        room_id: None,
        site_ids: None,
        user_id: None,
        from: None,
        to: None,
        status: None,
        after: None,
        first: 100,
        count_total: true,
    }
}

pub async fn bookings_filters_and_pagination(store: &dyn Storage) {
    let c = cast(store).await;
    // Several start at the same instant: ties are ordered by id.
    let a = booking(&c.touch, &c.ada, 60, 120);
    let b = booking(&c.focus, &c.bob, 60, 90);
    let d = booking(&c.loft, &c.ada, 60, 180);
    let e = cancelled(&booking(&c.touch, &c.bob, 90, 150));
    let f = booking(&c.touch, &c.bob, 120, 180);
    let g = booking(&c.loft, &c.bob, 0, 30);
    let h = booking(&c.focus, &c.ada, 240, 300);
    let theirs = booking(&c.elsewhere, &c.stranger, 60, 120);
    seed_bookings(store, &[&h, &f, &theirs, &e, &d, &b, &a, &g]).await;

    let mut ordered = vec![
        a.clone(),
        b.clone(),
        d.clone(),
        e.clone(),
        f.clone(),
        g.clone(),
        h.clone(),
    ];
    ordered.sort_by_key(|x| (x.start, x.id));
    let all = store.bookings(&query(&c)).await.expect("list");
    assert_eq!(all.items, ordered);
    assert_eq!((all.total_count, all.has_next_page), (7, false));

    // Pages of two through the (start, id) keyset.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .bookings(&BookingQuery {
                after,
                first: 2,
                ..query(&c)
            })
            .await
            .expect("page");
        assert_eq!(page.total_count, 7);
        assert!(page.items.len() <= 2);
        seen.extend(page.items.iter().cloned());
        after = page.items.last().map(|x| (x.start, x.id));
        assert_eq!(page.has_next_page, seen.len() < 7);
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, ordered);
    // A cursor in the middle of a tie continues with the rest of the tie.
    let tie: Vec<&Booking> = ordered.iter().filter(|x| x.start == at(60)).collect();
    let rest = store
        .bookings(&BookingQuery {
            after: Some((tie[0].start, tie[0].id)),
            first: 1,
            ..query(&c)
        })
        .await
        .expect("page");
    assert_eq!(
        (ids(&rest.items), rest.has_next_page, rest.total_count),
        (vec![tie[1].id], true, 7)
    );
    let empty = store
        .bookings(&BookingQuery {
            first: 0,
            ..query(&c)
        })
        .await
        .expect("page");
    assert_eq!(
        (empty.items, empty.has_next_page, empty.total_count),
        (vec![], true, 7)
    );

    let filtered = |q: BookingQuery| async move {
        let page = store.bookings(&q).await.expect("filter");
        assert_eq!(page.total_count, page.items.len() as i64);
        ids(&page.items)
    };
    let expect = |items: &[&Booking]| {
        let mut v: Vec<Booking> = items.iter().map(|x| (*x).clone()).collect();
        v.sort_by_key(|x| (x.start, x.id));
        ids(&v)
    };
    assert_eq!(
        filtered(BookingQuery {
            room_id: Some(c.touch.id),
            ..query(&c)
        })
        .await,
        expect(&[&a, &e, &f])
    );
    assert_eq!(
        filtered(BookingQuery {
            site_ids: Some(vec![c.lyon.id]),
            ..query(&c)
        })
        .await,
        expect(&[&d, &g])
    );
    assert_eq!(
        filtered(BookingQuery {
            site_ids: Some(vec![]),
            ..query(&c)
        })
        .await,
        expect(&[])
    );
    assert_eq!(
        filtered(BookingQuery {
            user_id: Some(c.ada.id),
            ..query(&c)
        })
        .await,
        expect(&[&a, &d, &h])
    );
    // Overlap with [90, 180): ends after 90, starts before 180.
    assert_eq!(
        filtered(BookingQuery {
            from: Some(at(90)),
            to: Some(at(180)),
            ..query(&c)
        })
        .await,
        expect(&[&a, &d, &e, &f])
    );
    assert_eq!(
        filtered(BookingQuery {
            from: Some(at(180)),
            ..query(&c)
        })
        .await,
        expect(&[&h])
    );
    assert_eq!(
        filtered(BookingQuery {
            to: Some(at(60)),
            ..query(&c)
        })
        .await,
        expect(&[&g])
    );
    assert_eq!(
        filtered(BookingQuery {
            status: Some(BookingStatus::Cancelled),
            ..query(&c)
        })
        .await,
        expect(&[&e])
    );
    assert_eq!(
        filtered(BookingQuery {
            status: Some(BookingStatus::Confirmed),
            room_id: Some(c.touch.id),
            user_id: Some(c.bob.id),
            site_ids: Some(vec![c.paris.id, c.lyon.id]),
            from: Some(at(0)),
            to: Some(at(600)),
            ..query(&c)
        })
        .await,
        expect(&[&f])
    );
    // Organizations: only those asked for.
    assert_eq!(
        filtered(BookingQuery {
            organization_ids: vec![c.other.id()],
            ..query(&c)
        })
        .await,
        expect(&[&theirs])
    );
    assert_eq!(
        filtered(BookingQuery {
            organization_ids: vec![],
            ..query(&c)
        })
        .await,
        expect(&[])
    );
    let both = store
        .bookings(&BookingQuery {
            organization_ids: vec![c.company.id(), c.other.id()],
            status: Some(BookingStatus::Confirmed),
            from: Some(at(60)),
            to: Some(at(61)),
            first: 2,
            ..query(&c)
        })
        .await
        .expect("list");
    let mut expected = [a.clone(), b.clone(), d.clone(), theirs.clone()];
    expected.sort_by_key(|x| (x.start, x.id));
    assert_eq!(
        (both.items, both.has_next_page, both.total_count),
        (expected[..2].to_vec(), true, 4)
    );
}

pub async fn room_bookings_window(store: &dyn Storage) {
    let c = cast(store).await;
    let early = booking(&c.touch, &c.ada, 0, 60);
    let off = cancelled(&booking(&c.touch, &c.ada, 60, 120));
    let late = booking(&c.touch, &c.bob, 120, 180);
    let evening = booking(&c.touch, &c.bob, 300, 360);
    // As long as a booking may last, ending at -59.
    let marathon = booking(&c.touch, &c.ada, -MAX_BOOKING_MINUTES - 59, -59);
    let next_door = booking(&c.focus, &c.ada, 0, 600);
    seed_bookings(
        store,
        &[&evening, &late, &off, &early, &marathon, &next_door],
    )
    .await;

    let window = |from: i64, to: i64| async move {
        ids(&store
            .room_bookings(c.touch.id, at(from), at(to))
            .await
            .expect("window"))
    };
    // Half-open: touching either end is outside; cancelled ones never show.
    assert_eq!(window(60, 120).await, vec![]);
    assert_eq!(window(59, 121).await, vec![early.id, late.id]);
    assert_eq!(
        window(-60, 600).await,
        vec![marathon.id, early.id, late.id, evening.id]
    );
    assert_eq!(window(-59, 0).await, vec![]);
    assert_eq!(window(-60, 0).await, vec![marathon.id]);
    assert_eq!(window(180, 300).await, vec![]);
    assert_eq!(window(200, 400).await, vec![evening.id]);
    assert_eq!(
        store
            .room_bookings(c.loft.id, at(0), at(600))
            .await
            .expect("window"),
        vec![]
    );
    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(30))
            .await
            .expect("window"),
        vec![early]
    );
}

/// `busy_rooms`: which of the given rooms have a confirmed booking overlapping a half-open
/// window; back-to-back is free, cancelled bookings and rooms not asked about never show, each
/// busy room once however many bookings overlap, and a long booking that began well before
/// the window still counts.
pub async fn busy_rooms_among_given_rooms(store: &dyn Storage) {
    let c = cast(store).await;
    let early = booking(&c.touch, &c.ada, 0, 60);
    let late = booking(&c.touch, &c.bob, 60, 120);
    let off = cancelled(&booking(&c.focus, &c.ada, 0, 120));
    let marathon = booking(&c.loft, &c.ada, -MAX_BOOKING_MINUTES + 30, 30);
    seed_bookings(store, &[&early, &late, &off, &marathon]).await;

    let all = [c.touch.id, c.focus.id, c.loft.id];
    let busy = |rooms: Vec<RoomId>, from: i64, to: i64| async move {
        let mut found = store
            .busy_rooms(&rooms, at(from), at(to))
            .await
            .expect("busy rooms");
        found.sort();
        found
    };
    let sorted_ids = |mut rooms: Vec<RoomId>| {
        rooms.sort();
        rooms
    };
    // Both of touch's bookings overlap: touch once. Loft's marathon still runs at 0.
    assert_eq!(
        busy(all.to_vec(), 0, 120).await,
        sorted_ids(vec![c.touch.id, c.loft.id])
    );
    // Back-to-back on both sides: free.
    assert_eq!(busy(all.to_vec(), 120, 180).await, vec![]);
    assert_eq!(busy(vec![c.touch.id], -60, 0).await, vec![]);
    // Loft's marathon ends at 30: busy at 29, free from 30.
    assert_eq!(
        busy(all.to_vec(), 29, 30).await,
        sorted_ids(vec![c.touch.id, c.loft.id])
    );
    assert_eq!(busy(vec![c.loft.id, c.focus.id], 30, 600).await, vec![]);
    // Only the rooms asked about.
    assert_eq!(busy(vec![c.focus.id], 0, 600).await, vec![]);
    assert_eq!(busy(vec![c.touch.id], 59, 61).await, vec![c.touch.id]);
    assert_eq!(busy(vec![], 0, 600).await, vec![]);
    // Inside a transaction, its own writes count.
    let mut tx = begin(store).await;
    let mine = booking(&c.focus, &c.bob, 200, 260);
    tx.insert_booking(&mine).await.expect("insert");
    assert_eq!(
        tx.busy_rooms(&all, at(250), at(300)).await.expect("busy"),
        vec![c.focus.id]
    );
    drop(tx);
    assert_eq!(busy(all.to_vec(), 250, 300).await, vec![]);
}

pub async fn devices_round_trip(store: &dyn Storage) {
    let c = cast(store).await;
    let tablet = device(&c.paris, Some(&c.touch), &c.ada, "token-1");
    let mut lobby = device(&c.lyon, None, &c.bob, "token-2");
    lobby.revoked_at = Some(now());
    let mut tx = begin(store).await;
    tx.insert_device(&tablet).await.expect("insert");
    tx.insert_device(&lobby).await.expect("insert");
    assert_eq!(
        tx.device_by_token_hash("token-1").await.expect("read"),
        Some(tablet.clone())
    );
    // A duplicate token is refused and the unit of work goes on.
    assert_eq!(
        tx.insert_device(&device(&c.paris, None, &c.ada, "token-1"))
            .await,
        Err(StorageError::Unique(UniqueKey::DeviceToken))
    );
    commit(tx).await;

    assert_eq!(
        store.device(tablet.id).await.expect("read"),
        Some(tablet.clone())
    );
    assert_eq!(
        store.device(lobby.id).await.expect("read"),
        Some(lobby.clone())
    );
    assert_eq!(store.device(DeviceId::new()).await.expect("read"), None);
    assert_eq!(
        store.device_by_token_hash("token-2").await.expect("read"),
        Some(lobby.clone())
    );
    assert_eq!(
        store.device_by_token_hash("nope").await.expect("read"),
        None
    );

    // Renamed, re-scoped, revoked, new token: the old token no longer finds it.
    let changed = Device {
        name: name("Meeting room tablet"),
        room_id: None,
        token_hash: Secret::new("token-3".into()),
        revoked_at: Some(now()),
        ..tablet.clone()
    };
    let mut tx = begin(store).await;
    assert_eq!(
        tx.write_back_device(&Device {
            token_hash: Secret::new("token-2".into()),
            ..tablet.clone()
        })
        .await,
        Err(StorageError::Unique(UniqueKey::DeviceToken))
    );
    tx.write_back_device(&changed).await.expect("update");
    // Keeping its own token is no conflict.
    tx.write_back_device(&changed).await.expect("same token");
    commit(tx).await;
    assert_eq!(
        store.device(tablet.id).await.expect("read"),
        Some(changed.clone())
    );
    assert_eq!(
        store.device_by_token_hash("token-1").await.expect("read"),
        None
    );
    assert_eq!(
        store.device_by_token_hash("token-3").await.expect("read"),
        Some(changed)
    );
    // The freed token may be used again.
    let again = device(&c.paris, None, &c.ada, "token-1");
    let mut tx = begin(store).await;
    tx.insert_device(&again).await.expect("freed token");
    commit(tx).await;
    assert_eq!(
        store.device_by_token_hash("token-1").await.expect("read"),
        Some(again)
    );

    let mut tx = begin(store).await;
    let error = tx
        .write_back_device(&device(&c.paris, None, &c.ada, "token-9"))
        .await
        .expect_err("missing row");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
}

pub async fn events_are_delivered_after_commit(store: &dyn Storage) {
    let c = cast(store).await;
    let mut rx = store.booking_events();
    let b = booking(&c.touch, &c.ada, 60, 120);
    let event = BookingEvent {
        kind: BookingEventKind::Created,
        booking: b.clone(),
    };
    let mut tx = begin(store).await;
    tx.insert_booking(&b).await.expect("insert");
    tx.publish_booking_event(&event).await.expect("publish");
    assert_quiet(&mut rx).await;
    commit(tx).await;
    assert_eq!(next_event(&mut rx).await, event);
    assert_quiet(&mut rx).await;

    // Every subscriber gets it; one subscribed later gets only what follows.
    let mut second = store.booking_events();
    let update = BookingEvent {
        kind: BookingEventKind::Cancelled,
        booking: cancelled(&b),
    };
    let mut tx = begin(store).await;
    tx.write_back_booking(&update.booking)
        .await
        .expect("cancel");
    tx.publish_booking_event(&update).await.expect("publish");
    commit(tx).await;
    assert_eq!(next_event(&mut rx).await, update);
    assert_eq!(next_event(&mut second).await, update);
}

pub async fn events_of_a_rolled_back_transaction_are_never_delivered(store: &dyn Storage) {
    let c = cast(store).await;
    let mut rx = store.booking_events();
    let lost = booking(&c.touch, &c.ada, 60, 120);
    let mut tx = begin(store).await;
    tx.insert_booking(&lost).await.expect("insert");
    tx.publish_booking_event(&BookingEvent {
        kind: BookingEventKind::Created,
        booking: lost.clone(),
    })
    .await
    .expect("publish");
    drop(tx);
    // A failed statement after the publish, then a drop: nothing either.
    let standing = booking(&c.focus, &c.ada, 60, 120);
    seed_bookings(store, &[&standing]).await;
    let doomed = booking(&c.loft, &c.ada, 0, 30);
    let mut tx = begin(store).await;
    tx.insert_booking(&doomed).await.expect("insert");
    tx.publish_booking_event(&BookingEvent {
        kind: BookingEventKind::Created,
        booking: doomed.clone(),
    })
    .await
    .expect("publish");
    assert_eq!(
        tx.insert_booking(&booking(&c.focus, &c.bob, 90, 100)).await,
        Err(OVERLAP)
    );
    drop(tx);
    assert_quiet(&mut rx).await;

    // Events leave in commit order, so a later one arriving first proves the others never will.
    let marker = booking(&c.touch, &c.bob, 60, 120);
    let event = book_and_publish(store, &marker).await;
    assert_eq!(next_event(&mut rx).await, event);
    assert_quiet(&mut rx).await;
    assert_eq!(store.booking(lost.id).await.expect("read"), None);
}

pub async fn events_arrive_in_commit_order(store: &dyn Storage) {
    let c = cast(store).await;
    let mut rx = store.booking_events();
    let mut expected = Vec::new();
    for i in 0..5 {
        let b = booking(&c.touch, &c.ada, i * 60, i * 60 + 30);
        expected.push(book_and_publish(store, &b).await);
    }
    // Several in one transaction leave in the order published.
    let x = booking(&c.focus, &c.ada, 0, 30);
    let y = booking(&c.loft, &c.bob, 0, 30);
    let mut tx = begin(store).await;
    tx.insert_booking(&x).await.expect("insert");
    tx.insert_booking(&y).await.expect("insert");
    for (kind, b) in [
        (BookingEventKind::Created, &y),
        (BookingEventKind::Created, &x),
        (BookingEventKind::Updated, &y),
    ] {
        let event = BookingEvent {
            kind,
            booking: b.clone(),
        };
        tx.publish_booking_event(&event).await.expect("publish");
        expected.push(event);
    }
    commit(tx).await;
    let mut received = Vec::new();
    for _ in 0..expected.len() {
        received.push(next_event(&mut rx).await);
    }
    assert_eq!(received, expected);
    assert_quiet(&mut rx).await;
}

/// One transaction racing for `b`: inserted, held uncommitted a moment, committed.
async fn race(store: &dyn Storage, b: Booking) -> StorageResult<()> {
    let mut tx = store.begin().await?;
    tx.insert_booking(&b).await?;
    tokio::task::yield_now().await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    tx.commit().await
}

pub async fn concurrent_bookings_of_one_slot_commit_once(store: &dyn Storage) {
    let c = cast(store).await;
    let racers: Vec<Booking> = (0..50)
        .map(|i| {
            let holder = if i % 2 == 0 { &c.ada } else { &c.bob };
            booking(&c.touch, holder, 60, 120)
        })
        .collect();
    let outcomes = futures::future::join_all(racers.iter().cloned().map(|b| race(store, b))).await;
    let winners: Vec<&Booking> = racers
        .iter()
        .zip(&outcomes)
        .filter(|(_, outcome)| outcome.is_ok())
        .map(|(b, _)| b)
        .collect();
    assert_eq!(winners.len(), 1, "{outcomes:?}");
    assert!(
        outcomes.iter().all(|o| o.is_ok() || *o == Err(OVERLAP)),
        "{outcomes:?}"
    );
    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        vec![winners[0].clone()]
    );
}

pub async fn concurrent_back_to_back_bookings_all_commit(store: &dyn Storage) {
    let c = cast(store).await;
    let slots: Vec<Booking> = (0..20)
        .map(|i| booking(&c.touch, &c.ada, i * 30, i * 30 + 30))
        .collect();
    let outcomes =
        futures::future::join_all(slots.iter().rev().cloned().map(|b| race(store, b))).await;
    assert!(outcomes.iter().all(Result::is_ok), "{outcomes:?}");
    assert_eq!(
        store
            .room_bookings(c.touch.id, at(0), at(600))
            .await
            .expect("read"),
        slots
    );
}

/// A booking of `room` over `[at(start), at(end))` to be checked in by `at(release)`.
fn awaiting_check_in(room: &Room, holder: &User, start: i64, end: i64, release: i64) -> Booking {
    Booking {
        release_at: Some(at(release)),
        ..booking(room, holder, start, end)
    }
}

pub async fn due_releases_are_locked_and_released_in_one_write(store: &dyn Storage) {
    let c = cast(store).await;
    let due = awaiting_check_in(&c.touch, &c.ada, 0, 60, 10);
    let also_due = awaiting_check_in(&c.focus, &c.bob, 0, 60, 5);
    let checked_in = Booking {
        checked_in_at: Some(at(2)),
        ..awaiting_check_in(&c.loft, &c.ada, 0, 60, 10)
    };
    let not_yet = awaiting_check_in(&c.touch, &c.bob, 60, 120, 70);
    let no_check_in = booking(&c.loft, &c.bob, 60, 120);
    let ended = awaiting_check_in(&c.elsewhere, &c.stranger, -60, 15, -50);
    let cancelled = Booking {
        status: BookingStatus::Cancelled,
        ..awaiting_check_in(&c.elsewhere, &c.stranger, 0, 60, 10)
    };
    seed_bookings(
        store,
        &[
            &due,
            &also_due,
            &checked_in,
            &not_yet,
            &no_check_in,
            &ended,
            &cancelled,
        ],
    )
    .await;

    let mut tx = begin(store).await;
    let mut expected = vec![due.id, also_due.id];
    expected.sort();
    let found = tx.lock_due_releases(at(20), 10).await.expect("due");
    assert_eq!(found.iter().map(|b| b.id).collect::<Vec<_>>(), expected);
    // At most `limit`, in id order.
    let first = tx.lock_due_releases(at(20), 1).await.expect("due");
    assert_eq!(
        first.iter().map(|b| b.id).collect::<Vec<_>>(),
        &expected[..1]
    );
    drop(first);
    let mut found = found;
    for b in &mut found {
        b.status = BookingStatus::Released;
    }
    tx.update_bookings(&found).await.expect("one write");
    commit(tx).await;

    for id in [due.id, also_due.id] {
        let read = store.booking(id).await.expect("read").expect("kept");
        assert_eq!(read.status, BookingStatus::Released);
    }
    assert_eq!(
        store.booking(not_yet.id).await.expect("read"),
        Some(not_yet.clone())
    );
    // Released: no longer due, no longer blocking the room.
    let mut tx = begin(store).await;
    assert!(
        tx.lock_due_releases(at(20), 10)
            .await
            .expect("due")
            .is_empty()
    );
    assert!(
        tx.room_bookings(c.touch.id, at(0), at(60))
            .await
            .expect("read")
            .is_empty()
    );
    let rebooked = booking(&c.touch, &c.bob, 30, 60);
    tx.insert_booking(&rebooked)
        .await
        .expect("a released booking frees its slot");
    commit(tx).await;
}

pub async fn update_bookings_keeps_the_overlap_rule(store: &dyn Storage) {
    let c = cast(store).await;
    let first = booking(&c.touch, &c.ada, 0, 60);
    let second = booking(&c.touch, &c.bob, 60, 120);
    seed_bookings(store, &[&first, &second]).await;
    let mut tx = begin(store).await;
    let mut locked = tx.lock_bookings(&[first.id]).await.expect("lock");
    locked[0].end = at(75);
    locked[0].checked_in_at = Some(at(1));
    assert_eq!(tx.update_bookings(&locked).await, Err(OVERLAP));
    drop(tx);
    assert_eq!(store.booking(first.id).await.expect("read"), Some(first));
}
