//! The README's first session: the operator creates a partner, whose administrator creates a
//! client company, whose administrator creates a site, a room and people (one signing in with an
//! e-mail, one with a username), who then sign in and see what they were given.

use concierge_tests::{CHOSEN_PASSWORD, TestApp};
use serde_json::json;

use crate::support::{node_ids, text};

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

pub async fn a_partner_onboards_a_company_with_sites_rooms_and_people(app: &TestApp) {
    let partner = app.create_partner("Acme Resellers").await;
    let company = app.create_company(&partner, "Globex").await;
    let token = company.admin_token.clone();
    let paris = app.create_site(&token, &company.id, "Paris HQ").await;
    let lyon = app.create_site(&token, &company.id, "Lyon").await;
    let room = app.create_room(&token, &paris, "Salle Curie").await;

    // The partner sees its client, with itself as the parent; the operator created the partner.
    let r = app
        .gql(
            Some(&partner.admin_token),
            "query($c: ID!) { organizations { edges { node { id kind } } }
                organization(id: $c) { id kind name timeZone parent { id } } }",
            json!({"c": company.id}),
        )
        .await;
    assert_eq!(
        sorted(node_ids(&r.ok()["organizations"])),
        sorted(vec![partner.id.clone(), company.id.clone()])
    );
    assert_eq!(
        r.ok()["organization"],
        json!({"id": company.id, "kind": "COMPANY", "name": "Globex",
            "timeZone": "Europe/Paris", "parent": {"id": partner.id}})
    );

    // The company's administrator reads the places back.
    let r = app
        .gql(
            Some(&token),
            "query($s: ID!, $r: ID!, $o: ID!) {
                site(id: $s) { id name timeZone organization { id } rooms { id name } }
                room(id: $r) { id name capacity site { id } }
                sites(organizationId: $o) { totalCount edges { node { id } } } }",
            json!({"s": paris, "r": room, "o": company.id}),
        )
        .await;
    let data = r.ok();
    assert_eq!(
        data["site"],
        json!({"id": paris, "name": "Paris HQ", "timeZone": "Europe/Paris",
            "organization": {"id": company.id}, "rooms": [{"id": room, "name": "Salle Curie"}]})
    );
    assert_eq!(
        data["room"],
        json!({"id": room, "name": "Salle Curie", "capacity": 8, "site": {"id": paris}})
    );
    assert_eq!(data["sites"]["totalCount"], json!(2));
    assert_eq!(
        sorted(node_ids(&data["sites"])),
        sorted(vec![paris.clone(), lyon.clone()])
    );

    // A person with an e-mail, on the organization's default (Enterprise) profile.
    let jean = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Jean", "lastName": "Dupont", "email": " Jean.Dupont@Globex.TEST ",
                "siteIds": [paris], "defaultSiteId": paris}),
        )
        .await;
    assert_eq!(jean["user"]["login"], json!("jean.dupont@globex.test"));
    assert_eq!(jean["user"]["status"], json!("ACTIVE"));
    assert_eq!(jean["user"]["mustChangePassword"], json!(true));
    assert_eq!(
        jean["credentials"]["login"],
        json!("jean.dupont@globex.test")
    );

    // A person without e-mail signs in with a username and a six-digit PIN.
    let booker = app
        .create_profile(
            &token,
            &company.id,
            "Booker",
            json!({"bookings": "SELF", "rooms": "READ", "sites": "READ", "modules": ["rooms"]}),
        )
        .await;
    let marie = app
        .create_user(
            &token,
            &company.id,
            json!({"firstName": "Marie", "lastName": "Curie", "username": "M.Curie",
                "profileId": booker, "siteIds": [lyon], "defaultSiteId": lyon}),
        )
        .await;
    assert_eq!(marie["user"]["login"], json!("m.curie"));
    let pin = text(&marie["credentials"]["temporaryPassword"]);
    assert!(
        pin.len() == 6 && pin.chars().all(|c| c.is_ascii_digit()),
        "{pin}"
    );

    // Both sign in (changing the temporary password first) and see what they were given.
    let me = "{ me { id login organization { id } profile { id } effectiveSites { id } defaultSite { id } } }";
    let jean_token = app
        .first_sign_in(
            "jean.dupont@globex.test",
            &text(&jean["credentials"]["temporaryPassword"]),
        )
        .await;
    let r = app.gql(Some(&jean_token), me, json!({})).await;
    assert_eq!(r.ok()["me"]["id"], jean["user"]["id"]);
    assert_eq!(r.ok()["me"]["organization"]["id"], json!(company.id));
    assert_eq!(r.ok()["me"]["defaultSite"]["id"], json!(paris));

    app.first_sign_in("m.curie", &pin).await;
    // The username is a login in any case; the chosen password is what counts now.
    let marie_token = app.login("M.CURIE", CHOSEN_PASSWORD).await;
    let r = app.gql(Some(&marie_token), me, json!({})).await;
    assert_eq!(
        r.ok()["me"],
        json!({"id": marie["user"]["id"], "login": "m.curie", "organization": {"id": company.id},
            "profile": {"id": booker}, "effectiveSites": [{"id": lyon}], "defaultSite": {"id": lyon}})
    );
    // Sites scope rooms: Marie (Lyon only) does not see the Paris room.
    app.gql(
        Some(&marie_token),
        "query($r: ID!) { room(id: $r) { id } }",
        json!({"r": room}),
    )
    .await
    .assert_error("NOT_FOUND", None);

    // The administrator lists everyone: themselves and the two newcomers.
    assert_eq!(app.user_count(&token, &company.id).await, 3);
}
