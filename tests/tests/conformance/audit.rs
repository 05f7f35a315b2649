use concierge_domain::model::*;
use concierge_domain::storage::Storage;

use crate::fixtures::*;

pub async fn audit_events_newest_first(store: &dyn Storage) {
    let (platform, partner, company) = seed_tree(store).await;
    let ada = user(&company, "Ada", "Lovelace", Some("ada@example.com"), None);
    let bob = user(&company, "Bob", "Builder", Some("bob@example.com"), None);
    // Written in time order, as the domain does: ids and `at` agree.
    let events = [
        audit_event(Some(&company), Some(&ada), "user.created", at(0)),
        audit_event(Some(&company), Some(&bob), "user.updated", at(10)),
        audit_event(Some(&company), Some(&ada), "user.updated", at(20)),
        audit_event(Some(&partner), Some(&ada), "user.updated", at(25)),
        audit_event(None, None, "login.failed", at(27)),
        audit_event(Some(&company), None, "login.failed", at(30)),
        audit_event(Some(&company), Some(&ada), "profile.created", at(40)),
        audit_event(Some(&platform), None, "organization.created", at(50)),
    ];
    let mut tx = begin(store).await;
    tx.insert_user(&ada).await.expect("user");
    tx.insert_user(&bob).await.expect("user");
    for e in &events {
        tx.insert_audit_event(e).await.expect("event");
    }
    commit(tx).await;

    let query = AuditQuery {
        organization_ids: vec![company.id()],
        actor_id: None,
        action: None,
        from: None,
        to: None,
        before: None,
        first: 100,
        count_total: true,
    };
    let ids = |page: &Page<AuditEvent>| page.items.iter().map(|e| e.id).collect::<Vec<_>>();
    let ours: Vec<_> = [6, 5, 2, 1, 0].iter().map(|&i| events[i].id).collect();

    let all = store.audit_events(&query).await.expect("list");
    assert_eq!(
        (all.items.clone(), all.has_next_page, all.total_count),
        (
            [6, 5, 2, 1, 0]
                .iter()
                .map(|&i| events[i].clone())
                .collect::<Vec<_>>(),
            false,
            5
        )
    );

    // Pages run downwards from the cursor.
    let mut seen = Vec::new();
    let mut before = None;
    loop {
        let page = store
            .audit_events(&AuditQuery {
                before,
                first: 2,
                ..query.clone()
            })
            .await
            .expect("list");
        assert_eq!(page.total_count, 5);
        seen.extend(ids(&page));
        before = page.items.last().map(|e| e.id);
        assert_eq!(page.has_next_page, seen.len() < 5);
        if !page.has_next_page {
            break;
        }
    }
    assert_eq!(seen, ours);

    let by_actor = store
        .audit_events(&AuditQuery {
            actor_id: Some(ada.id),
            ..query.clone()
        })
        .await
        .expect("actor");
    assert_eq!(
        (ids(&by_actor), by_actor.total_count),
        (vec![events[6].id, events[2].id, events[0].id], 3)
    );
    let by_action = store
        .audit_events(&AuditQuery {
            action: Some("user.updated".into()),
            ..query.clone()
        })
        .await
        .expect("action");
    assert_eq!(ids(&by_action), vec![events[2].id, events[1].id]);
    let prefix = store
        .audit_events(&AuditQuery {
            action: Some("user".into()),
            ..query.clone()
        })
        .await
        .expect("exact");
    assert_eq!(prefix.total_count, 0);

    // `from` is inclusive, `to` exclusive.
    let window = store
        .audit_events(&AuditQuery {
            from: Some(at(10)),
            to: Some(at(30)),
            ..query.clone()
        })
        .await
        .expect("window");
    assert_eq!(
        (ids(&window), window.total_count),
        (vec![events[2].id, events[1].id], 2)
    );
    let window_page = store
        .audit_events(&AuditQuery {
            from: Some(at(10)),
            to: Some(at(40)),
            first: 1,
            before: Some(events[5].id),
            ..query.clone()
        })
        .await
        .expect("window page");
    assert_eq!(
        (
            ids(&window_page),
            window_page.has_next_page,
            window_page.total_count
        ),
        (vec![events[2].id], true, 3)
    );

    // Several organizations; events of none are in no organization's log.
    let several = store
        .audit_events(&AuditQuery {
            organization_ids: vec![partner.id(), company.id()],
            ..query.clone()
        })
        .await
        .expect("several");
    assert_eq!(several.total_count, 6);
    assert_eq!(several.items[2].id, events[3].id);
    let nobody = store
        .audit_events(&AuditQuery {
            organization_ids: vec![],
            ..query
        })
        .await
        .expect("none");
    assert_eq!(
        (nobody.items.len(), nobody.has_next_page, nobody.total_count),
        (0, false, 0)
    );
}
