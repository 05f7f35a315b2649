//! Rotating `JWT_SECRET` and `CODE_PEPPER` (issue 8): three applications over one store — one
//! with the old keys (K1), one with the new keys and the old ones as previous (K2 + K1), one with
//! the new keys alone (K2). What K1 issued works under K2 + K1 and not under K2 alone, except the
//! booking codes and tablet tokens used meanwhile, which are hashed again under K2 on that use.

use std::sync::Arc;

use concierge_storage_memory::MemoryStore;
use concierge_tests::bookings::{SCHEDULE, floor, iso, tomorrow};
use concierge_tests::{CHOSEN_PASSWORD, Gql, TestApp};
use serde_json::{Value, json};

const K1: &[(&str, &str)] = &[("JWT_SECRET", "k1-jwt"), ("CODE_PEPPER", "k1-pepper")];
const K2_AND_K1: &[(&str, &str)] = &[
    ("JWT_SECRET", "k2-jwt"),
    ("CODE_PEPPER", "k2-pepper"),
    ("JWT_SECRET_PREVIOUS", "k1-jwt"),
    ("CODE_PEPPER_PREVIOUS", "k1-pepper"),
];
const K2: &[(&str, &str)] = &[("JWT_SECRET", "k2-jwt"), ("CODE_PEPPER", "k2-pepper")];

const ME: &str = "{ me { id } }";
const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken } }";
const REFRESH: &str = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
    accessToken refreshToken } }";
const WITH_CODE: &str =
    "mutation($i: CreateBookingWithCodeInput!) { createBookingWithCode(input: $i) {
    booking { source user { id } } } }";
const CODE_LOGIN: &str =
    "mutation($o: ID!, $c: String!) { loginWithBookingCode(input: {organizationId: $o, code: $c}) {
    user { id } } }";
const INVITE: &str = "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
    invitation { status } } }";
const ACCEPT: &str =
    "mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t, password: $p}) {
    user { status } } }";
const REQUEST_RESET: &str =
    "mutation($l: String!) { requestPasswordReset(input: {login: $l}) { ok } }";
const RESET: &str = "mutation($t: String!, $p: String!) { resetPassword(input: {token: $t, newPassword: $p}) { ok } }";

/// An application with `keys` over `store`, reading the outbox of that store.
async fn app_with(store: &MemoryStore, keys: &[(&str, &str)]) -> TestApp {
    let mut app = TestApp::on_storage_with_settings(Arc::new(store.clone()), keys).await;
    app.memory = Some(store.clone());
    app
}

fn string(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value:#}"))
        .to_owned()
}

/// The first error's code and field, for comparing refusals in one assertion.
fn refusal(r: &Gql) -> (String, Option<String>) {
    (r.code().to_owned(), r.field().map(str::to_owned))
}

fn unauthenticated() -> (String, Option<String>) {
    ("UNAUTHENTICATED".to_owned(), None)
}

fn invalid(field: &str) -> (String, Option<String>) {
    ("VALIDATION".to_owned(), Some(field.to_owned()))
}

#[tokio::test]
async fn what_the_old_keys_issued_works_while_they_are_previous_and_not_after() {
    let store = MemoryStore::new();

    // --- Under K1: everything a person or a tablet may hold.
    let k1 = app_with(&store, K1).await;
    let f = floor(&k1, "Rotation").await;
    let admin = f.company.admin_token.clone();
    let booker_login = "lea.rotation";
    let signed_in = |r: Gql, what: &str| -> (String, String) {
        let data = &r.ok()[what];
        (string(&data["accessToken"]), string(&data["refreshToken"]))
    };
    let (_, refresh_kept) = signed_in(
        k1.gql(
            None,
            LOGIN,
            json!({"l": booker_login, "p": CHOSEN_PASSWORD}),
        )
        .await,
        "login",
    );
    let (_, refresh_probed) = signed_in(
        k1.gql(
            None,
            LOGIN,
            json!({"l": booker_login, "p": CHOSEN_PASSWORD}),
        )
        .await,
        "login",
    );
    let tablet = k1.register_device(&admin, &f.site, Some(&f.room)).await;
    // A tablet and a code nobody uses during the rotation.
    let idle_tablet = k1.register_device(&admin, &f.site, Some(&f.room)).await;
    let idle = k1
        .create_user(&admin, &f.company.id, json!({"firstName": "Ivo", "lastName": "Idle", "email": "ivo@rotation.test", "siteIds": [f.site]}))
        .await;
    let idle_code = string(&idle["credentials"]["bookingCode"]);
    k1.gql(Some(&admin), INVITE, json!({"i": {"organizationId": f.company.id, "email": "ines@rotation.test", "firstName": "Inès", "lastName": "Roux"}}))
        .await
        .ok();
    let invitation = k1.last_link_token("ines@rotation.test");
    k1.create_user(
        &admin,
        &f.company.id,
        json!({"firstName": "Eve", "lastName": "Lost", "email": "eve@rotation.test"}),
    )
    .await;
    k1.gql(None, REQUEST_RESET, json!({"l": "eve@rotation.test"}))
        .await
        .ok();
    let reset = k1.last_link_token("eve@rotation.test");
    let schedule = json!({"r": f.room, "d": tomorrow(9, 0).date_naive().to_string()});
    let code_at = |code: &str, hour: u32| json!({"i": {"roomId": f.room, "code": code, "start": iso(tomorrow(hour, 0)), "end": iso(tomorrow(hour, 30))}});

    // --- K2 alone refuses all of it, as a cut-over would.
    let k2 = app_with(&store, K2).await;
    assert_eq!(
        refusal(&k2.gql(Some(&f.booker_token), ME, json!({})).await),
        unauthenticated(),
        "access token signed with K1"
    );
    assert_eq!(
        refusal(&k2.gql(None, REFRESH, json!({"t": refresh_probed})).await),
        unauthenticated(),
        "refresh token hashed with K1"
    );
    assert_eq!(
        refusal(&k2.gql(Some(&tablet), SCHEDULE, schedule.clone()).await),
        unauthenticated(),
        "device token hashed with K1"
    );
    let k2_admin = k2.login(&f.company.admin_email, CHOSEN_PASSWORD).await;
    let k2_tablet = k2.register_device(&k2_admin, &f.site, Some(&f.room)).await;
    assert_eq!(
        refusal(
            &k2.gql(Some(&k2_tablet), WITH_CODE, code_at(&f.booker_code, 8))
                .await
        ),
        invalid("code"),
        "booking code hashed with K1"
    );
    assert_eq!(
        refusal(
            &k2.gql(
                None,
                ACCEPT,
                json!({"t": invitation, "p": "ines-new-password"})
            )
            .await
        ),
        invalid("token"),
        "invitation hashed with K1"
    );
    assert_eq!(
        refusal(
            &k2.gql(None, RESET, json!({"t": reset, "p": "eve-new-password"}))
                .await
        ),
        invalid("token"),
        "reset link hashed with K1"
    );
    let sealed = k2.mail_to("ines@rotation.test");
    assert!(
        !sealed.is_empty() && sealed.iter().all(|m| m.params.is_empty()),
        "outbox parameters sealed with K1 do not open under K2 alone"
    );

    // --- K2 + K1 accepts all of it.
    let both = app_with(&store, K2_AND_K1).await;
    let me = both.gql(Some(&f.booker_token), ME, json!({})).await;
    assert_eq!(me.ok()["me"]["id"], json!(f.booker_id));
    let (access, refresh) = signed_in(
        both.gql(None, REFRESH, json!({"t": refresh_kept})).await,
        "refreshSession",
    );
    // What the refresh issued is made with K2: K2 alone takes it.
    assert_eq!(
        k2.gql(Some(&access), ME, json!({})).await.ok()["me"]["id"],
        json!(f.booker_id)
    );
    let r = both.gql(Some(&tablet), SCHEDULE, schedule.clone()).await;
    assert_eq!(r.ok()["room"]["schedule"], json!([]));
    let r = both
        .gql(Some(&tablet), WITH_CODE, code_at(&f.booker_code, 9))
        .await;
    let booking = &r.ok()["createBookingWithCode"]["booking"];
    assert_eq!(booking["user"]["id"], json!(f.booker_id));
    assert_eq!(booking["source"], json!("TABLET"));
    // The invitation and reset e-mails, sealed with K1, open under K2 + K1: their links work.
    assert_eq!(both.last_link_token("ines@rotation.test"), invitation);
    assert_eq!(both.last_link_token("eve@rotation.test"), reset);
    let r = both
        .gql(
            None,
            ACCEPT,
            json!({"t": invitation, "p": "ines-new-password"}),
        )
        .await;
    assert_eq!(
        r.ok()["acceptInvitation"]["user"]["status"],
        json!("ACTIVE")
    );
    let r = both
        .gql(None, RESET, json!({"t": reset, "p": "eve-new-password"}))
        .await;
    assert_eq!(r.ok()["resetPassword"]["ok"], json!(true));
    k2.login("eve@rotation.test", "eve-new-password").await;
    k2.login("ines@rotation.test", "ines-new-password").await;

    // --- Used once under K2 + K1, the tablet token and the booking code were hashed again
    // with K2: K2 alone takes them now.
    let r = k2.gql(Some(&tablet), SCHEDULE, schedule.clone()).await;
    assert_eq!(r.ok()["room"]["schedule"].as_array().map(Vec::len), Some(1));
    let r = k2
        .gql(Some(&tablet), WITH_CODE, code_at(&f.booker_code, 10))
        .await;
    assert_eq!(
        r.ok()["createBookingWithCode"]["booking"]["user"]["id"],
        json!(f.booker_id)
    );
    let r = k2
        .gql(
            None,
            CODE_LOGIN,
            json!({"o": f.company.id, "c": f.booker_code}),
        )
        .await;
    assert_eq!(
        r.ok()["loginWithBookingCode"]["user"]["id"],
        json!(f.booker_id)
    );
    // The refreshed session goes on under K2 alone.
    signed_in(
        k2.gql(None, REFRESH, json!({"t": refresh})).await,
        "refreshSession",
    );
    // What nobody used during the rotation is still K1's, and dies with it.
    assert_eq!(
        refusal(&k2.gql(Some(&idle_tablet), SCHEDULE, schedule.clone()).await),
        unauthenticated(),
        "an unused tablet token needs K1"
    );
    assert_eq!(
        refusal(
            &k2.gql(None, CODE_LOGIN, json!({"o": f.company.id, "c": idle_code}))
                .await
        ),
        unauthenticated(),
        "an unused booking code needs K1"
    );
    assert_eq!(
        refusal(&k2.gql(Some(&f.booker_token), ME, json!({})).await),
        unauthenticated(),
        "the K1 access token is still refused by K2 alone"
    );
    // … and under K2 + K1 they still work.
    both.gql(Some(&idle_tablet), SCHEDULE, schedule).await.ok();
    let r = both
        .gql(None, CODE_LOGIN, json!({"o": f.company.id, "c": idle_code}))
        .await;
    assert_eq!(
        r.ok()["loginWithBookingCode"]["user"]["id"],
        idle["user"]["id"]
    );
}

/// A refresh token spent under K1 and presented again under K2 + K1 is still recognised as
/// spent: the session ends, as it would without a rotation.
#[tokio::test]
async fn reusing_a_refresh_token_spent_before_the_rotation_still_ends_the_session() {
    let store = MemoryStore::new();
    let k1 = app_with(&store, K1).await;
    let (_, company) = k1.company("Reuse").await;
    let first = k1
        .gql(
            None,
            LOGIN,
            json!({"l": company.admin_email, "p": CHOSEN_PASSWORD}),
        )
        .await;
    let spent = string(&first.ok()["login"]["refreshToken"]);
    let r = k1.gql(None, REFRESH, json!({"t": spent})).await;
    let live = string(&r.ok()["refreshSession"]["refreshToken"]);

    let both = app_with(&store, K2_AND_K1).await;
    assert_eq!(
        refusal(&both.gql(None, REFRESH, json!({"t": spent})).await),
        unauthenticated()
    );
    // The reuse revoked the session: its live token is refused too.
    assert_eq!(
        refusal(&both.gql(None, REFRESH, json!({"t": live})).await),
        unauthenticated()
    );
    let events = both
        .gql(
            Some(&company.admin_token),
            "{ auditEvents(filter: {action: \"session.reuse_detected\"}) { totalCount } }",
            json!({}),
        )
        .await;
    assert_eq!(events.ok()["auditEvents"]["totalCount"], json!(1));
}

/// The status of a calendar application's fetch of the feed at `url`.
async fn fetch_feed(app: &TestApp, url: &str) -> axum::http::StatusCode {
    use tower::ServiceExt as _;
    let path = &url[url.find("/calendar/").expect("a feed path")..];
    concierge_api::http::router(app.state.clone())
        .oneshot(
            axum::http::Request::builder()
                .uri(path)
                .body(axum::body::Body::empty())
                .expect("request"),
        )
        .await
        .expect("response")
        .status()
}

/// A calendar feed made under K1 keeps working through the rotation: fetched under K2 + K1, its
/// token is hashed again under K2 and it still answers under K2 alone. One nobody fetched
/// during the transition stops with the old pepper; a revoked one stays revoked.
#[tokio::test]
async fn a_calendar_feed_outlives_a_pepper_rotation_once_fetched() {
    use axum::http::StatusCode;
    let store = MemoryStore::new();
    let k1 = app_with(&store, K1).await;
    let f = floor(&k1, "Feeds").await;
    let create = "mutation($r: ID) { createCalendarFeed(input: {roomId: $r}) {
        url calendarFeed { id } } }";
    let feed = |r: Gql| {
        let created = &r.ok()["createCalendarFeed"];
        (
            string(&created["url"]),
            string(&created["calendarFeed"]["id"]),
        )
    };
    let (fetched, _) = feed(
        k1.gql(Some(&f.booker_token), create, json!({"r": null}))
            .await,
    );
    let (idle, _) = feed(
        k1.gql(Some(&f.booker_token), create, json!({"r": f.room}))
            .await,
    );
    let (revoked, revoked_id) = feed(
        k1.gql(Some(&f.booker_token), create, json!({"r": null}))
            .await,
    );
    let r = k1
        .gql(
            Some(&f.booker_token),
            "mutation($id: ID!) { revokeCalendarFeed(input: {calendarFeedId: $id}) {
                calendarFeed { revokedAt } } }",
            json!({"id": revoked_id}),
        )
        .await;
    r.ok();
    for url in [&fetched, &idle] {
        assert_eq!(fetch_feed(&k1, url).await, StatusCode::OK);
    }

    let both = app_with(&store, K2_AND_K1).await;
    assert_eq!(fetch_feed(&both, &fetched).await, StatusCode::OK);
    assert_eq!(fetch_feed(&both, &fetched).await, StatusCode::OK);
    assert_eq!(fetch_feed(&both, &revoked).await, StatusCode::NOT_FOUND);

    let k2 = app_with(&store, K2).await;
    assert_eq!(fetch_feed(&k2, &fetched).await, StatusCode::OK);
    assert_eq!(fetch_feed(&k2, &idle).await, StatusCode::NOT_FOUND);
    assert_eq!(fetch_feed(&k2, &revoked).await, StatusCode::NOT_FOUND);
    // Re-hashed, not re-made: still one feed of each, the revoked one still revoked.
    let r = both
        .gql(
            Some(&f.booker_token),
            "{ calendarFeeds { id revokedAt } }",
            json!({}),
        )
        .await;
    let listed = r.ok()["calendarFeeds"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(listed.len(), 3, "{listed:#?}");
    let still_revoked = listed
        .iter()
        .find(|feed| feed["id"] == revoked_id.as_str())
        .expect("the revoked feed");
    assert!(still_revoked["revokedAt"].is_string());
}
