//! Sites, site groups, rooms and price lists.

use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::Storage;

use crate::fixtures::*;

pub async fn sites_round_trip(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let mut tx = begin(store).await;
    tx.insert_site(&paris).await.expect("insert");
    tx.insert_site(&lyon).await.expect("insert");
    commit(tx).await;

    assert_eq!(
        store.site(paris.id).await.expect("read"),
        Some(paris.clone())
    );
    assert_eq!(store.site(SiteId::new()).await.expect("read"), None);
    let batch = store
        .sites_by_ids(&[lyon.id, SiteId::new(), paris.id])
        .await
        .expect("batch");
    assert_eq!(sorted(batch, |s| s.id), vec![paris.clone(), lyon.clone()]);

    let mut changed = paris.clone();
    changed.name = name("Paris Opéra");
    changed.address = None;
    changed.time_zone =
        concierge_domain::values::TimeZone::parse("timeZone", "Europe/Paris").expect("zone");
    let mut tx = begin(store).await;
    tx.write_back_site(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(store.site(paris.id).await.expect("read"), Some(changed));
}

pub async fn sites_pagination(store: &dyn Storage) {
    let (_, partner, company) = seed_tree(store).await;
    let other = organization(OrganizationKind::Company, Some(&partner), "Other");
    seed_orgs(store, &[&other]).await;
    let sites: Vec<Site> = (0..5)
        .map(|i| site(&company, &format!("Site {i}")))
        .collect();
    let foreign = site(&other, "Foreign");
    let mut tx = begin(store).await;
    for s in sites.iter().chain([&foreign]) {
        tx.insert_site(s).await.expect("insert");
    }
    commit(tx).await;

    let query = SiteQuery {
        organization_ids: vec![company.id()],
        only: None,
        after: None,
        first: 2,
        count_total: true,
    };
    let ids = |page: &Page<Site>| page.items.iter().map(|s| s.id).collect::<Vec<_>>();
    let first = store.sites(&query).await.expect("list");
    assert_eq!(
        (first.items.clone(), first.has_next_page, first.total_count),
        (sites[0..2].to_vec(), true, 5)
    );
    let second = store
        .sites(&SiteQuery {
            after: Some(sites[1].id),
            ..query.clone()
        })
        .await
        .expect("list");
    assert_eq!(
        (ids(&second), second.has_next_page, second.total_count),
        (vec![sites[2].id, sites[3].id], true, 5)
    );
    let last = store
        .sites(&SiteQuery {
            after: Some(sites[3].id),
            ..query.clone()
        })
        .await
        .expect("list");
    assert_eq!(
        (ids(&last), last.has_next_page, last.total_count),
        (vec![sites[4].id], false, 5)
    );

    let only = SiteQuery {
        only: Some(vec![sites[4].id, sites[1].id, foreign.id]),
        first: 10,
        ..query.clone()
    };
    let restricted = store.sites(&only).await.expect("list");
    assert_eq!(
        (
            ids(&restricted),
            restricted.has_next_page,
            restricted.total_count
        ),
        (vec![sites[1].id, sites[4].id], false, 2)
    );

    let both = store
        .sites(&SiteQuery {
            organization_ids: vec![company.id(), other.id()],
            first: 10,
            ..query.clone()
        })
        .await
        .expect("list");
    assert_eq!(both.total_count, 6);
    assert_eq!(both.items.last(), Some(&foreign));
    let none = store
        .sites(&SiteQuery {
            only: Some(vec![]),
            ..query
        })
        .await
        .expect("list");
    assert_eq!(
        (none.items.len(), none.has_next_page, none.total_count),
        (0, false, 0)
    );
}

pub async fn site_groups_round_trip(store: &dyn Storage) {
    let (_, partner, company) = seed_tree(store).await;
    let other = organization(OrganizationKind::Company, Some(&partner), "Other");
    seed_orgs(store, &[&other]).await;
    let a = site(&company, "A");
    let b = site(&company, "B");
    let c = site(&company, "C");
    let north = site_group(&company, "North", &[&c, &a]);
    let empty = site_group(&company, "Empty", &[]);
    let elsewhere = site_group(&other, "Elsewhere", &[]);
    let mut tx = begin(store).await;
    for s in [&a, &b, &c] {
        tx.insert_site(s).await.expect("insert site");
    }
    for g in [&north, &empty, &elsewhere] {
        tx.insert_site_group(g).await.expect("insert group");
    }
    commit(tx).await;

    assert_eq!(
        store.site_group(north.id).await.expect("read"),
        Some(north.clone())
    );
    assert_eq!(
        store.site_group(empty.id).await.expect("read"),
        Some(empty.clone())
    );
    assert_eq!(
        store.site_group(SiteGroupId::new()).await.expect("read"),
        None
    );
    let batch = store
        .site_groups_by_ids(&[empty.id, north.id, SiteGroupId::new()])
        .await
        .expect("batch");
    assert_eq!(sorted(batch, |g| g.id), vec![north.clone(), empty.clone()]);
    assert_eq!(
        store.site_groups_of(&[company.id()]).await.expect("of"),
        vec![north.clone(), empty.clone()]
    );
    assert_eq!(
        store
            .site_groups_of(&[other.id(), company.id()])
            .await
            .expect("of"),
        vec![north.clone(), empty.clone(), elsewhere.clone()]
    );

    // The set of sites is replaced, not merged.
    let mut changed = north.clone();
    changed.name = name("North and B");
    changed.site_ids = vec![a.id, b.id];
    let mut filled = empty.clone();
    filled.site_ids = vec![c.id];
    let mut tx = begin(store).await;
    tx.write_back_site_group(&changed).await.expect("update");
    tx.write_back_site_group(&filled).await.expect("update");
    assert_eq!(
        tx.site_group(north.id).await.expect("read in tx"),
        Some(changed.clone())
    );
    commit(tx).await;
    assert_eq!(
        store.site_groups_by_ids(&[north.id]).await.expect("read"),
        vec![changed]
    );
    assert_eq!(
        store.site_group(empty.id).await.expect("read"),
        Some(filled)
    );
}

pub async fn rooms_round_trip(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let nice = site(&company, "Nice");
    let r1 = room(&paris, "Touch");
    let r2 = room(&lyon, "Rhône");
    let mut r3 = room(&paris, "Tiny");
    r3.capacity = None;
    r3.equipment = vec![];
    r3.bookable = false;
    let r4 = room(&nice, "Sea view");
    let mut tx = begin(store).await;
    for s in [&paris, &lyon, &nice] {
        tx.insert_site(s).await.expect("insert site");
    }
    for r in [&r1, &r2, &r3, &r4] {
        tx.insert_room(r).await.expect("insert room");
    }
    commit(tx).await;

    assert_eq!(store.room(r1.id).await.expect("read"), Some(r1.clone()));
    assert_eq!(store.room(r3.id).await.expect("read"), Some(r3.clone()));
    assert_eq!(store.room(RoomId::new()).await.expect("read"), None);
    let batch = store
        .rooms_by_ids(&[r3.id, RoomId::new(), r2.id])
        .await
        .expect("batch");
    assert_eq!(sorted(batch, |r| r.id), vec![r2.clone(), r3.clone()]);
    assert_eq!(
        store
            .rooms_of_sites(&[lyon.id, paris.id])
            .await
            .expect("of"),
        vec![r1.clone(), r2.clone(), r3.clone()]
    );
    assert!(store.rooms_of_sites(&[]).await.expect("none").is_empty());

    let mut changed = r1.clone();
    changed.name = name("Touch 2");
    changed.capacity = None;
    changed.equipment = vec!["visio".into(), "screen".into(), "screen".into()];
    changed.bookable = false;
    changed.policy = BookingPolicy {
        slot_minutes: 15,
        min_minutes: 15,
        max_minutes: 60,
        horizon_days: 0,
        check_in_required: true,
        release_after_minutes: 5,
    };
    let mut tx = begin(store).await;
    tx.write_back_room(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(store.room(r1.id).await.expect("read"), Some(changed));
}

pub async fn price_lists_round_trip(store: &dyn Storage) {
    let (platform, partner, _) = seed_tree(store).await;
    let standard = price_list(&partner, "Standard", true);
    let premium = price_list(&partner, "Premium", false);
    let operator = price_list(&platform, "Operator", true);
    let mut tx = begin(store).await;
    for p in [&standard, &premium, &operator] {
        tx.insert_price_list(p).await.expect("insert");
    }
    commit(tx).await;

    assert_eq!(
        store.price_list(premium.id).await.expect("read"),
        Some(premium.clone())
    );
    assert_eq!(
        store.price_list(PriceListId::new()).await.expect("read"),
        None
    );
    let batch = store
        .price_lists_by_ids(&[operator.id, standard.id, PriceListId::new()])
        .await
        .expect("batch");
    assert_eq!(
        sorted(batch, |p| p.id),
        vec![standard.clone(), operator.clone()]
    );
    assert_eq!(
        store.price_lists_of(&[partner.id()]).await.expect("of"),
        vec![standard.clone(), premium.clone()]
    );
    assert_eq!(
        store
            .price_lists_of(&[platform.id(), partner.id()])
            .await
            .expect("of"),
        vec![standard.clone(), premium.clone(), operator.clone()]
    );

    // Switching the default: both rows change in one unit of work.
    let mut was_default = standard.clone();
    was_default.is_default = false;
    let mut now_default = premium.clone();
    now_default.is_default = true;
    now_default.name = name("Premium+");
    let mut tx = begin(store).await;
    tx.write_back_price_list(&now_default)
        .await
        .expect("update");
    tx.write_back_price_list(&was_default)
        .await
        .expect("update");
    commit(tx).await;
    assert_eq!(
        store.price_lists_of(&[partner.id()]).await.expect("of"),
        vec![was_default, now_default]
    );
}

/// `sites_with_rooms`: the sites asked for that exist (by id), each with every one of its rooms
/// (by id), a site without rooms included, unknown ids and other sites left out.
pub async fn sites_with_their_rooms(store: &dyn Storage) {
    let (_, _, company) = seed_tree(store).await;
    let paris = site(&company, "Paris");
    let lyon = site(&company, "Lyon");
    let empty = site(&company, "Empty");
    let other = site(&company, "Other");
    let mut tiny = room(&paris, "Tiny");
    tiny.capacity = None;
    tiny.equipment = vec![];
    tiny.bookable = false;
    let rooms = [
        room(&paris, "Touch"),
        room(&lyon, "Rhône"),
        tiny,
        room(&paris, "Focus"),
        room(&other, "Elsewhere"),
    ];
    let mut tx = begin(store).await;
    for s in [&paris, &lyon, &empty, &other] {
        tx.insert_site(s).await.expect("insert site");
    }
    for r in &rooms {
        tx.insert_room(r).await.expect("insert room");
    }
    commit(tx).await;

    let of = |s: &Site| {
        sorted(
            rooms
                .iter()
                .filter(|r| r.site_id == s.id)
                .cloned()
                .collect(),
            |r| r.id,
        )
    };
    let found = store
        .sites_with_rooms(&[lyon.id, SiteId::new(), empty.id, paris.id])
        .await
        .expect("read");
    let expected = sorted(
        vec![
            (paris.clone(), of(&paris)),
            (lyon.clone(), of(&lyon)),
            (empty.clone(), vec![]),
        ],
        |(s, _)| s.id,
    );
    assert_eq!(found, expected);
    assert_eq!(of(&paris).len(), 3);
    assert!(store.sites_with_rooms(&[]).await.expect("none").is_empty());
    assert!(
        store
            .sites_with_rooms(&[SiteId::new()])
            .await
            .expect("unknown")
            .is_empty()
    );
}
