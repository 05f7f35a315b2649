use concierge_domain::ids::*;
use concierge_domain::model::CalendarFeed;
use concierge_domain::storage::Storage;
use concierge_domain::values::Secret;

use crate::fixtures::*;

/// A person's and a room's feeds: written, found by hash, listed per person, revoked.
pub async fn calendar_feeds_round_trip(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let bob = user(&company, "Bob", "Martin", Some("bob@example.com"), None);
    let paris = site(&company, "Paris");
    let touch = room(&paris, "Touch");
    let feed = |owner: UserId, room: Option<RoomId>, hash: &str| CalendarFeed {
        id: CalendarFeedId::new(),
        organization_id: company.id(),
        user_id: owner,
        room_id: room,
        token_hash: Secret::new(hash.to_owned()),
        created_at: now(),
        revoked_at: None,
    };
    let own = feed(ada.id, None, "hash-own");
    let of_room = feed(ada.id, Some(touch.id), "hash-room");
    let bobs = feed(bob.id, None, "hash-bob");
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_user(&bob).await.expect("user");
    tx.insert_site(&paris).await.expect("site");
    tx.insert_room(&touch).await.expect("room");
    for f in [&own, &of_room, &bobs] {
        tx.insert_calendar_feed(f).await.expect("insert");
    }
    commit(tx).await;
    assert_eq!(
        store
            .calendar_feed_by_hash("hash-room")
            .await
            .expect("read"),
        Some(of_room.clone())
    );
    assert_eq!(
        store.calendar_feed_by_hash("nope").await.expect("read"),
        None
    );
    assert_eq!(
        store.calendar_feeds_of(ada.id).await.expect("list"),
        vec![own.clone(), of_room.clone()]
    );
    let mut tx = begin(store).await;
    let mut locked = tx
        .lock_calendar_feed(own.id)
        .await
        .expect("lock")
        .expect("found");
    locked.revoked_at = Some(at(3));
    tx.update_calendar_feed(&locked).await.expect("update");
    commit(tx).await;
    assert_eq!(
        store
            .calendar_feed_by_hash("hash-own")
            .await
            .expect("read")
            .and_then(|f| f.revoked_at),
        Some(at(3))
    );
}
