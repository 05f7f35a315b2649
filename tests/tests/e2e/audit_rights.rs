//! What a security audit found (issue 16, items 3 to 5): every guess at a secret is throttled per
//! account, per address and (booking codes) per organization; a room tablet's token does only
//! what a tablet needs; write reach, site grants and permission sets are checked in the domain.

use async_graphql::{Request, Variables};
use concierge_api::graphql::context::RequestContext;
use concierge_tests::bookings::{book, floor, iso, tomorrow};
use concierge_tests::{CHOSEN_PASSWORD, Gql, TestApp};
use serde_json::{Value, json};

use crate::support::text;

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";
const CHANGE: &str = "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { accessToken } }";
const REQUEST_RESET: &str =
    "mutation($l: String!) { requestPasswordReset(input: {login: $l}) { ok } }";
const CODE_LOGIN: &str = "mutation($o: ID!, $c: String!) { loginWithBookingCode(input: {organizationId: $o, code: $c}) { accessToken } }";
const WITH_CODE: &str = "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input: $i) { booking { id user { displayName email } } } }";

/// Runs one GraphQL document as the holder of `token`, from client address `ip`.
async fn gql_from(app: &TestApp, ip: &str, token: Option<&str>, query: &str, vars: Value) -> Gql {
    let context = RequestContext::prepare(&app.state.domain, token, Some(ip.into())).await;
    let request = Request::new(query)
        .variables(Variables::from_json(vars))
        .data(context);
    let response = concierge_api::graphql::execute(&app.state.schema, request).await;
    Gql::from_json(&serde_json::to_value(&response).expect("response as JSON"))
}

async fn audit_count(app: &TestApp, token: &str, action: &str) -> usize {
    app.audit_events(token, action).await.len()
}

// ---- item 3: every guess at a secret is throttled ----------------------------------------------

/// `changePassword` guesses the current password: ten wrong ones lock the account (for
/// `changePassword` and `login` alike: one budget per account), each failure is audited.
#[tokio::test]
async fn current_password_guesses_share_the_accounts_sign_in_budget() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Guessing").await;
    let (id, token) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"bookings": "SELF"}),
            json!({}),
        )
        .await;
    for i in 0..10 {
        app.gql(
            Some(&token),
            CHANGE,
            json!({"c": format!("wrong-guess-{i}"), "n": "a-new-password-1"}),
        )
        .await
        .assert_error("VALIDATION", Some("currentPassword"));
    }
    // The right password is refused now, and signing in with it too.
    app.gql(
        Some(&token),
        CHANGE,
        json!({"c": CHOSEN_PASSWORD, "n": "a-new-password-1"}),
    )
    .await
    .assert_error("RATE_LIMITED", None);
    let login = format!(
        "m-{}@members.test",
        text(
            &app.gql(Some(&token), "{ me { profile { id } } }", json!({}))
                .await
                .ok()["me"]["profile"]["id"]
        )
    );
    app.gql(None, LOGIN, json!({"l": login, "p": CHOSEN_PASSWORD}))
        .await
        .assert_error("RATE_LIMITED", None);
    let failed = app
        .audit_events(&company.admin_token, "password.change_failed")
        .await;
    assert_eq!(failed.len(), 11, "ten failures and one refusal: {failed:?}");
    assert!(failed.iter().all(|e| e["targetId"] == json!(id)));
    assert_eq!(
        audit_count(&app, &company.admin_token, "login.locked").await,
        1
    );
}

/// A person with an e-mail and a username has one budget of ten, not ten per login string.
#[tokio::test]
async fn one_account_has_one_budget_whichever_login_names_it() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Two Logins").await;
    let created = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Two", "lastName": "Names", "email": "two@logins.test", "username": "two.names"}),
        )
        .await;
    let password = text(&created["credentials"]["temporaryPassword"]);
    app.first_sign_in("two@logins.test", &password).await;
    app.login("two.names", CHOSEN_PASSWORD).await;
    for login in ["two@logins.test", "two.names"] {
        for _ in 0..5 {
            app.gql(None, LOGIN, json!({"l": login, "p": "not-the-password"}))
                .await
                .assert_error("UNAUTHENTICATED", None);
        }
    }
    for login in ["two@logins.test", "TWO.NAMES"] {
        app.gql(None, LOGIN, json!({"l": login, "p": CHOSEN_PASSWORD}))
            .await
            .assert_error("RATE_LIMITED", None);
    }
}

/// Reset requests: a few e-mails per account per hour, a few requests per address; beyond
/// that the answer is unchanged (nothing is enumerated) but no e-mail leaves.
#[tokio::test]
async fn reset_requests_are_throttled_without_saying_so() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Mailbox").await;
    let email = company.admin_email.clone();
    for _ in 0..6 {
        let r = app.gql(None, REQUEST_RESET, json!({"l": email})).await;
        assert_eq!(r.ok()["requestPasswordReset"]["ok"], json!(true));
    }
    let resets = |app: &TestApp, to: &str| {
        app.mail_to(to)
            .iter()
            .filter(|m| m.kind == concierge_domain::EmailKind::PasswordReset)
            .count()
    };
    assert_eq!(resets(&app, &email), 3, "three per account per hour");
    assert_eq!(
        audit_count(&app, &company.admin_token, "password.reset_throttled").await,
        3
    );

    // One address spraying logins (known or not) gets a few answers' worth of e-mail too.
    let other = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Other", "lastName": "Person", "email": "other@mailbox.test"}),
        )
        .await;
    assert_eq!(other["user"]["status"], json!("ACTIVE"));
    for i in 0..20 {
        let r = gql_from(
            &app,
            "203.0.113.9",
            None,
            REQUEST_RESET,
            json!({"l": format!("nobody{i}@mailbox.test")}),
        )
        .await;
        assert_eq!(r.ok()["requestPasswordReset"]["ok"], json!(true));
    }
    let r = gql_from(
        &app,
        "203.0.113.9",
        None,
        REQUEST_RESET,
        json!({"l": "other@mailbox.test"}),
    )
    .await;
    assert_eq!(r.ok()["requestPasswordReset"]["ok"], json!(true));
    assert_eq!(resets(&app, "other@mailbox.test"), 0);
    // From another address the person still gets their link.
    app.gql(None, REQUEST_RESET, json!({"l": "other@mailbox.test"}))
        .await
        .ok();
    assert_eq!(resets(&app, "other@mailbox.test"), 1);
}

/// Wrong booking codes are also counted per organization: rotating addresses (and tablets)
/// does not multiply the budget; a tablet's failure is in the organization's audit log.
#[tokio::test]
async fn booking_codes_have_an_organization_budget_that_addresses_cannot_multiply() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Rotation").await;
    let tablet = app
        .register_device(&f.company.admin_token, &f.site, Some(&f.room))
        .await;
    let at = |code: &str| json!({"i": {"roomId": f.room, "code": code, "start": iso(tomorrow(10, 0)), "end": iso(tomorrow(10, 30))}});
    gql_from(
        &app,
        "198.51.100.1",
        Some(&tablet),
        WITH_CODE,
        at("0000000001"),
    )
    .await
    .assert_error("VALIDATION", Some("code"));
    let failures = app
        .audit_events(&f.company.admin_token, "booking_code.failed")
        .await;
    assert_eq!(failures.len(), 1, "{failures:?}");
    assert_eq!(failures[0]["targetType"], json!("Device"));
    // 29 more wrong codes, from three addresses (each under its own limit of 10).
    for guess in 0..29 {
        let ip = format!("198.51.100.{}", 10 + guess / 10);
        gql_from(
            &app,
            &ip,
            None,
            CODE_LOGIN,
            json!({"o": f.company.id, "c": format!("{:010}", 100 + guess)}),
        )
        .await
        .assert_error("UNAUTHENTICATED", None);
    }
    // A fresh address, with the right code: the organization's budget is spent.
    gql_from(
        &app,
        "198.51.100.99",
        None,
        CODE_LOGIN,
        json!({"o": f.company.id, "c": f.booker_code}),
    )
    .await
    .assert_error("RATE_LIMITED", None);
    gql_from(
        &app,
        "198.51.100.98",
        Some(&tablet),
        WITH_CODE,
        at(&f.booker_code),
    )
    .await
    .assert_error("RATE_LIMITED", None);
    // Another organization's codes are not affected.
    let g = floor(&app, "Untouched").await;
    gql_from(
        &app,
        "198.51.100.99",
        None,
        CODE_LOGIN,
        json!({"o": g.company.id, "c": g.booker_code}),
    )
    .await
    .ok();
}

// ---- item 4: a device token does only what a tablet needs --------------------------------------

#[tokio::test]
async fn a_tablet_token_does_only_what_a_tablet_needs() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "Kiosk").await;
    let admin = f.company.admin_token.clone();
    let tablet = app.register_device(&admin, &f.site, Some(&f.room)).await;

    // What the room display does still works.
    let day = tomorrow(9, 0).date_naive().to_string();
    let r = app
        .gql(
            Some(&tablet),
            "query($r: ID!, $d: Date!) { sites { edges { node { id rooms { id } } } }
                room(id: $r) { name schedule(date: $d) { id } } }",
            json!({"r": f.room, "d": day}),
        )
        .await;
    assert_eq!(r.ok()["room"]["name"], json!("Touch Room"));
    let r = app
        .gql(
            Some(&tablet),
            WITH_CODE,
            json!({"i": {"roomId": f.room, "code": f.booker_code, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(9, 30))}}),
        )
        .await;
    let booking = &r.ok()["createBookingWithCode"]["booking"];
    assert_eq!(booking["user"]["displayName"], json!("Léa Moreau"));
    let r = app
        .gql(
            Some(&tablet),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { id user { displayName email login } createdBy { displayName email } } } } }",
            json!({"r": f.room}),
        )
        .await;
    let node = &r.ok()["bookings"]["edges"][0]["node"];
    assert_eq!(node["user"]["email"], Value::Null);
    assert_eq!(node["user"]["login"], json!(""));
    assert_eq!(node["createdBy"]["email"], Value::Null);

    // Everything else: FORBIDDEN, the registrant's details and password included.
    for (query, vars) in [
        ("{ me { id email } }", json!({})),
        (
            "mutation($u: ID!) { updateUser(input: {id: $u, firstName: \"Tablet\"}) { user { firstName } } }",
            json!({"u": f.company.admin_id}),
        ),
        (
            CHANGE,
            json!({"c": CHOSEN_PASSWORD, "n": "taken-over-password"}),
        ),
        ("{ organizations { edges { node { id } } } }", json!({})),
        ("{ siteGroups { id } }", json!({})),
        (
            "mutation($r: ID!) { registerDevice(input: {siteId: $r, name: \"Rogue\"}) { token } }",
            json!({"r": f.site}),
        ),
    ] {
        let r = app.gql(Some(&tablet), query, vars).await;
        r.assert_error("FORBIDDEN", None);
        assert!(!r.data.to_string().contains("@"), "{query}: {:#}", r.data);
    }
    // The registrant is untouched and still signs in with their password.
    let me = app
        .gql(Some(&admin), "{ me { firstName } }", json!({}))
        .await;
    assert_eq!(me.ok()["me"]["firstName"], json!("Admin"));
    app.login(&f.company.admin_email, CHOSEN_PASSWORD).await;
}

// ---- item 5: write reach, site grants, permission sets -----------------------------------------

/// A partner profile with `clients: READ` reads its client's bookings but may not create, move
/// or cancel any.
#[tokio::test]
async fn read_only_client_reach_cannot_book_move_or_cancel() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "ReadOnly").await;
    let partner_admin = app
        .login("admin@readonly-partner.test", CHOSEN_PASSWORD)
        .await;
    let partner = app
        .gql(
            Some(&partner_admin),
            "{ me { organization { id } } }",
            json!({}),
        )
        .await;
    let partner_id = text(&partner.ok()["me"]["organization"]["id"]);
    let (_, watcher) = app
        .member(
            &partner_admin,
            &partner_id,
            json!({"clients": "READ", "sites": "EDIT", "rooms": "READ", "users": "READ", "bookings": "ALL"}),
            json!({}),
        )
        .await;
    let slot = |hour: u32| json!({"roomId": f.room, "start": iso(tomorrow(hour, 0)), "end": iso(tomorrow(hour, 30)), "userId": f.booker_id});
    // It sees the room and the bookings…
    let existing = book(&app, &f.company.admin_token, slot(9)).await;
    let booking_id = text(&existing.ok()["createBooking"]["booking"]["id"]);
    let seen = app
        .gql(
            Some(&watcher),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { totalCount } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(seen.ok()["bookings"]["totalCount"], json!(1));
    // …but changes none.
    book(&app, &watcher, slot(11))
        .await
        .assert_error("FORBIDDEN", None);
    app.gql(
        Some(&watcher),
        "mutation($b: ID!, $s: DateTime!, $e: DateTime!) { updateBooking(input: {id: $b, start: $s, end: $e}) { booking { id } } }",
        json!({"b": booking_id, "s": iso(tomorrow(12, 0)), "e": iso(tomorrow(12, 30))}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    app.gql(
        Some(&watcher),
        "mutation($b: ID!) { cancelBooking(input: {id: $b}) { booking { status } } }",
        json!({"b": booking_id}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    let after = app
        .gql(
            Some(&f.company.admin_token),
            "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { start status } } } }",
            json!({"r": f.room}),
        )
        .await;
    assert_eq!(
        after.ok()["bookings"]["edges"],
        json!([{"node": {"start": existing.ok()["createBooking"]["booking"]["start"], "status": "CONFIRMED"}}])
    );
    // The partner's administrator (clients: MANAGE) may.
    assert!(book(&app, &partner_admin, slot(13)).await.errors.is_empty());
}

/// An administrator limited to site S1 may not take over (new code, new password, edit,
/// deactivate) a person granted S1 and S2; a person granted S1 only, yes.
#[tokio::test]
async fn managing_a_person_requires_covering_their_sites() {
    let app = TestApp::spawn().await;
    let (_, company) = app.company("Two Sites").await;
    let admin = company.admin_token.clone();
    let s1 = app.create_site(&admin, &company.id, "S1").await;
    let s2 = app.create_site(&admin, &company.id, "S2").await;
    let (_, limited) = app
        .member(
            &admin,
            &company.id,
            json!({"users": "MANAGE", "sites": "READ", "bookings": "SELF"}),
            json!({"siteIds": [s1]}),
        )
        .await;
    let bookers = app
        .create_profile(&admin, &company.id, "Bookers", json!({"bookings": "SELF"}))
        .await;
    let person = |email: &str, sites: Vec<&str>| json!({"firstName": "Site", "lastName": "Person", "email": email, "profileId": bookers, "siteIds": sites});
    let both = app
        .create_user(
            &admin,
            &company.id,
            person("both@two-sites.test", vec![&s1, &s2]),
        )
        .await;
    let both = text(&both["user"]["id"]);
    let one = app
        .create_user(&admin, &company.id, person("one@two-sites.test", vec![&s1]))
        .await;
    let one = text(&one["user"]["id"]);

    const RESET_CODE: &str =
        "mutation($u: ID!) { resetBookingCode(input: {userId: $u}) { bookingCode } }";
    const RESET_PASSWORD: &str = "mutation($u: ID!) { resetUserPassword(input: {userId: $u, method: SET}) { temporaryPassword } }";
    const UPDATE: &str =
        "mutation($u: ID!) { updateUser(input: {id: $u, lastName: \"Renamed\"}) { user { id } } }";
    const DEACTIVATE: &str =
        "mutation($u: ID!) { deactivateUser(input: {userId: $u}) { user { status } } }";
    for mutation in [RESET_CODE, RESET_PASSWORD, UPDATE, DEACTIVATE] {
        app.gql(Some(&limited), mutation, json!({"u": both}))
            .await
            .assert_error("FORBIDDEN", None);
    }
    // Through a site group, likewise.
    let group = app
        .create_site_group(&admin, &company.id, "Both", &[&s1, &s2])
        .await;
    let grouped = app
        .create_user(
            &admin,
            &company.id,
            json!({"firstName": "Group", "lastName": "Person", "email": "group@two-sites.test", "profileId": bookers, "siteIds": [s1], "siteGroupIds": [group]}),
        )
        .await;
    app.gql(
        Some(&limited),
        RESET_CODE,
        json!({"u": text(&grouped["user"]["id"])}),
    )
    .await
    .assert_error("FORBIDDEN", None);
    // Covered: allowed.
    for mutation in [RESET_CODE, RESET_PASSWORD, UPDATE, DEACTIVATE] {
        app.gql(Some(&limited), mutation, json!({"u": one}))
            .await
            .ok();
    }
    // The full administrator may manage both.
    app.gql(Some(&admin), RESET_CODE, json!({"u": both}))
        .await
        .ok();
}

/// A permission set shows only to holders of `profiles: READ`, or to its own holders, wherever
/// it is reached from.
#[tokio::test]
async fn permission_sets_show_only_with_profiles_read_or_ones_own() {
    let app = TestApp::spawn().await;
    let f = floor(&app, "HiddenRights").await;
    // The administrator's booking, visible to the booker in the room's bookings.
    book(
        &app,
        &f.company.admin_token,
        json!({"roomId": f.room, "start": iso(tomorrow(9, 0)), "end": iso(tomorrow(9, 30))}),
    )
    .await
    .ok();
    const NESTED: &str = "query($r: ID!) { bookings(filter: {roomId: $r}) { edges { node { user { displayName profile { name permissions { users profiles } } } } } } }";
    const DEFAULT: &str =
        "{ me { organization { defaultProfile { name permissions { users } } } } }";
    for (query, vars) in [(NESTED, json!({"r": f.room})), (DEFAULT, json!({}))] {
        let r = app.gql(Some(&f.booker_token), query, vars.clone()).await;
        r.assert_error("FORBIDDEN", None);
        assert!(
            !r.data.to_string().contains("MANAGE"),
            "{query}: {:#}",
            r.data
        );
        // With profiles: READ (the administrator), shown.
        let r = app.gql(Some(&f.company.admin_token), query, vars).await;
        assert!(r.ok().to_string().contains("MANAGE"), "{:#}", r.data);
    }
    // One's own: shown.
    let r = app
        .gql(
            Some(&f.booker_token),
            "{ me { profile { permissions { bookings } } } }",
            json!({}),
        )
        .await;
    assert_eq!(
        r.ok()["me"]["profile"]["permissions"]["bookings"],
        json!("SELF")
    );
}
