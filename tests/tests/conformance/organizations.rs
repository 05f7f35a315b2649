use concierge_domain::ids::*;
use concierge_domain::model::*;
use concierge_domain::storage::{Storage, StorageError};

use crate::fixtures::*;

pub async fn organizations_round_trip(store: &dyn Storage) {
    let (platform, partner, company) = seed_tree(store).await;

    for org in [&platform, &partner, &company] {
        assert_eq!(
            store.organization(org.id()).await.expect("read"),
            Some(org.org.clone())
        );
    }
    assert_eq!(
        store
            .organization(OrganizationId::new())
            .await
            .expect("read"),
        None
    );

    let found = store
        .organizations_by_ids(&[company.id(), OrganizationId::new(), platform.id()])
        .await
        .expect("read by ids");
    assert_eq!(
        sorted(found, |o| o.id),
        sorted(vec![company.org.clone(), platform.org.clone()], |o| o.id)
    );
    assert!(
        store
            .organizations_by_ids(&[])
            .await
            .expect("empty batch")
            .is_empty()
    );

    // Every field changes, optional ones to and from none.
    let list = price_list(&partner, "Standard", true);
    let mut changed = company.org.clone();
    changed.name = name("Company Renamed");
    changed.admin_email = None;
    changed.external_contact = None;
    changed.default_language = concierge_domain::values::Language::En;
    changed.time_zone = concierge_domain::values::TimeZone::utc();
    changed.price_list_id = Some(list.id);
    let custom = profile(&company, "Custom", reader_permissions());
    changed.default_profile_id = custom.id;
    let mut tx = begin(store).await;
    tx.insert_price_list(&list)
        .await
        .expect("insert price list");
    tx.insert_profile(&custom).await.expect("insert profile");
    tx.write_back_organization(&changed).await.expect("update");
    commit(tx).await;
    assert_eq!(
        store.organization(company.id()).await.expect("read"),
        Some(changed)
    );
}

pub async fn updating_a_missing_row_fails(store: &dyn Storage) {
    let (_, partner, _) = seed_tree(store).await;
    let ghost = organization(OrganizationKind::Company, Some(&partner), "Ghost");
    let mut tx = begin(store).await;
    let error = tx
        .write_back_organization(&ghost.org)
        .await
        .expect_err("nothing to update");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
    drop(tx);
    let mut tx = begin(store).await;
    let ghost_user = user(&partner, "Ghost", "User", Some("ghost@example.com"), None);
    let error = tx
        .write_back_user(&ghost_user)
        .await
        .expect_err("nothing to update");
    assert!(matches!(error, StorageError::Other(_)), "{error:?}");
}

pub async fn platform_organization(store: &dyn Storage) {
    assert_eq!(store.platform_organization().await.expect("read"), None);
    let (platform, _, _) = seed_tree(store).await;
    assert_eq!(
        store.platform_organization().await.expect("read"),
        Some(platform.org)
    );
}

fn query(own: OrganizationId) -> OrganizationQuery {
    OrganizationQuery {
        own,
        include_children: true,
        parent_id: None,
        kind: None,
        search: None,
        after: None,
        first: 100,
        count_total: true,
    }
}

pub async fn organizations_pagination_and_filters(store: &dyn Storage) {
    let platform = organization(OrganizationKind::Platform, None, "Platform");
    let partner = organization(OrganizationKind::Partner, Some(&platform), "Acme Partner");
    let other = organization(OrganizationKind::Partner, Some(&platform), "Other Partner");
    let companies: Vec<Org> = ["Acme North", "Beta", "ACME South", "Gamma", "Delta acme"]
        .iter()
        .map(|n| organization(OrganizationKind::Company, Some(&partner), n))
        .collect();
    let foreign = organization(OrganizationKind::Company, Some(&other), "Acme Elsewhere");
    let mut all: Vec<&Org> = vec![&platform, &partner, &other, &foreign];
    all.extend(companies.iter());
    seed_orgs(store, &all).await;

    let ids = |page: &Page<Organization>| page.items.iter().map(|o| o.id).collect::<Vec<_>>();
    let mut expected: Vec<OrganizationId> = vec![partner.id()];
    expected.extend(companies.iter().map(Org::id));

    // Own organization only.
    let own = store
        .organizations(&OrganizationQuery {
            include_children: false,
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (ids(&own), own.has_next_page, own.total_count),
        (vec![partner.id()], false, 1)
    );

    // With children, oldest first, page by page.
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = store
            .organizations(&OrganizationQuery {
                after,
                first: 2,
                ..query(partner.id())
            })
            .await
            .expect("list");
        assert_eq!(page.total_count, 6);
        seen.extend(ids(&page));
        after = page.items.last().map(|o| o.id);
        assert_eq!(
            page.has_next_page,
            seen.len() < 6,
            "after {} rows",
            seen.len()
        );
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, expected);
    let everything = store
        .organizations(&query(partner.id()))
        .await
        .expect("list");
    assert_eq!(everything.items, all_of(&[&partner], &companies));

    // A page of zero rows still counts and tells whether rows exist.
    let empty = store
        .organizations(&OrganizationQuery {
            first: 0,
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (ids(&empty), empty.has_next_page, empty.total_count),
        (vec![], true, 6)
    );

    // Filters.
    let by_kind = store
        .organizations(&OrganizationQuery {
            kind: Some(OrganizationKind::Company),
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (ids(&by_kind), by_kind.total_count),
        (expected[1..].to_vec(), 5)
    );
    let by_parent = store
        .organizations(&OrganizationQuery {
            parent_id: Some(partner.id()),
            first: 3,
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (
            ids(&by_parent),
            by_parent.has_next_page,
            by_parent.total_count
        ),
        (expected[1..4].to_vec(), true, 5)
    );
    let search = store
        .organizations(&OrganizationQuery {
            search: Some("acme".into()),
            ..query(partner.id())
        })
        .await
        .expect("list");
    let acme = vec![
        partner.id(),
        companies[0].id(),
        companies[2].id(),
        companies[4].id(),
    ];
    assert_eq!((ids(&search), search.total_count), (acme.clone(), 4));
    let search_after = store
        .organizations(&OrganizationQuery {
            search: Some("acme".into()),
            after: Some(acme[1]),
            first: 1,
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (
            ids(&search_after),
            search_after.has_next_page,
            search_after.total_count
        ),
        (vec![acme[2]], true, 4)
    );
    let nothing = store
        .organizations(&OrganizationQuery {
            search: Some("zeta".into()),
            ..query(partner.id())
        })
        .await
        .expect("list");
    assert_eq!(
        (
            nothing.items.len(),
            nothing.has_next_page,
            nothing.total_count
        ),
        (0, false, 0)
    );

    // The platform sees its partners, not their companies.
    let platform_view = store
        .organizations(&query(platform.id()))
        .await
        .expect("list");
    assert_eq!(
        ids(&platform_view),
        vec![platform.id(), partner.id(), other.id()]
    );
}

fn all_of(first: &[&Org], rest: &[Org]) -> Vec<Organization> {
    first
        .iter()
        .map(|o| o.org.clone())
        .chain(rest.iter().map(|o| o.org.clone()))
        .collect()
}
