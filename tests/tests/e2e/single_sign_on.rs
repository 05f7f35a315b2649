//! Single sign-on through an organization's OpenID Connect provider, on both backends, driven
//! as a browser would: `/auth/oidc/<org>/start` (the real router) → the test provider's
//! authorization endpoint (a real server with its own RS256 keys) → the callback → the front
//! end's address with a one-time code in the fragment → `completeSingleSignOn`.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode, header};
use chrono::{Duration, Utc};
use concierge_api::app::AppState;
use concierge_api::http::router;
use concierge_domain::clock::ManualClock;
use concierge_tests::oidc_provider::{CLIENT_ID, CLIENT_SECRET, Identity, Tamper, TestProvider};
use concierge_tests::{Org, TestApp};
use serde_json::{Value, json};
use tower::ServiceExt;

const CASE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(120);

concierge_tests::scenarios_on_both_backends!(
    a_first_sign_in_creates_the_person_and_the_next_ones_find_them,
    a_person_of_the_organization_is_linked_by_their_verified_email,
    what_the_provider_says_is_checked_and_refusals_are_audited,
    a_state_and_a_code_are_used_once,
    of_two_racing_uses_of_one_state_exactly_one_signs_in,
    keys_rotated_at_the_provider_keep_working,
    requiring_sso_stops_passwords_except_for_break_glass_administrators,
    only_administrators_configure_and_the_secret_is_never_read_back,
    starts_without_credentials_are_limited_per_address_and_per_organization,
    an_invitation_gives_no_password_where_sso_is_required,
    a_break_glass_administrator_who_no_longer_manages_users_loses_their_password,
    sign_ins_under_way_survive_a_pepper_rotation,
    loopback_issuers_are_refused_outside_development,
);

/// Where a sign-in ended: the front end's address and its fragment's parameters.
struct Landing {
    location: String,
    fragment: HashMap<String, String>,
}

impl Landing {
    fn code(&self) -> &str {
        self.fragment
            .get("sso_code")
            .unwrap_or_else(|| panic!("no code in {}", self.location))
    }
    fn error(&self) -> Option<&str> {
        self.fragment.get("sso_error").map(String::as_str)
    }
}

/// One GET through the application's router, with the browser's cookie if any: the status,
/// the `Location` header and the cookie set (`name=value`).
async fn get_with(app: &TestApp, uri: &str, cookie: Option<&str>) -> (StatusCode, String, String) {
    let mut request = Request::builder().uri(uri);
    if let Some(cookie) = cookie {
        request = request.header(header::COOKIE, cookie);
    }
    let response = router(app.state.clone())
        .oneshot(request.body(Body::empty()).expect("request"))
        .await
        .expect("response");
    let header = |name| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    let location = header(header::LOCATION);
    let set_cookie = header(header::SET_COOKIE);
    let cookie = set_cookie.split(';').next().unwrap_or_default().to_owned();
    (response.status(), location, cookie)
}

async fn get(app: &TestApp, uri: &str) -> (StatusCode, String) {
    let (status, location, _) = get_with(app, uri, None).await;
    (status, location)
}

/// The provider's redirect back to Concierge, in the browser that started the sign-in.
struct Callback {
    path: String,
    cookie: String,
}

/// The path and query of an absolute URL.
fn path_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.find('/')
        .map_or("/".to_owned(), |i| rest[i..].to_owned())
}

/// What the browser does between the start and the front end: returns the callback's path and
/// query, as the provider sent the browser there.
async fn through_provider(app: &TestApp, provider: &TestProvider, org: &str) -> Callback {
    let (status, to_provider, cookie) = get_with(
        app,
        &format!("/auth/oidc/{org}/start?return_to=/welcome"),
        None,
    )
    .await;
    assert_eq!(status, StatusCode::SEE_OTHER, "start: {to_provider}");
    assert!(cookie.starts_with("concierge_sso_state="), "{cookie}");
    assert!(to_provider.starts_with(&provider.issuer), "{to_provider}");
    assert!(
        to_provider.contains("code_challenge_method=S256"),
        "{to_provider}"
    );
    let addr = provider
        .issuer
        .trim_start_matches("http://")
        .parse()
        .expect("provider address");
    let at_provider =
        concierge_tests::http::request(addr, "GET", &path_of(&to_provider), None, None)
            .await
            .expect("the provider answers");
    assert_eq!(at_provider.status, 302, "{}", at_provider.text());
    let callback = at_provider.header("location").expect("back to Concierge");
    Callback {
        path: path_of(callback),
        cookie,
    }
}

async fn land(app: &TestApp, callback: &Callback) -> Landing {
    land_with(app, &callback.path, Some(&callback.cookie)).await
}

async fn land_with(app: &TestApp, path: &str, cookie: Option<&str>) -> Landing {
    let (status, location, _) = get_with(app, path, cookie).await;
    assert_eq!(status, StatusCode::SEE_OTHER, "callback: {location}");
    let fragment = location
        .split_once('#')
        .map(|(_, f)| f)
        .unwrap_or_default()
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect();
    Landing { location, fragment }
}

async fn sign_in(app: &TestApp, provider: &TestProvider, org: &str) -> Landing {
    let callback = through_provider(app, provider, org).await;
    land(app, &callback).await
}

const COMPLETE: &str = "mutation($c: String!) { completeSingleSignOn(input: {code: $c}) {
    session { accessToken refreshToken user { id email organization { id } } }
    secondFactorChallenge { challenge } } }";

/// The session a landing's code opens; its access token and user.
async fn complete(app: &TestApp, landing: &Landing) -> (String, Value) {
    let r = app.gql(None, COMPLETE, json!({"c": landing.code()})).await;
    let session = r.ok()["completeSingleSignOn"]["session"].clone();
    (
        session["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned(),
        session["user"].clone(),
    )
}

const CONFIGURE: &str =
    "mutation($i: ConfigureSingleSignOnInput!) { configureSingleSignOn(input: $i) {
    singleSignOn { issuer clientId clientSecretSet allowedDomains firstSignIn requireSso
        defaultSite { id } breakGlassUsers { id } startUrl redirectUri organization { id } } } }";

async fn configure(app: &TestApp, company: &Org, provider: &TestProvider, extra: Value) -> Value {
    let mut input = json!({
        "organizationId": company.id,
        "issuer": provider.issuer,
        "clientId": CLIENT_ID,
        "clientSecret": CLIENT_SECRET,
        "allowedDomains": ["acme.test"],
    });
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let r = app
        .gql(Some(&company.admin_token), CONFIGURE, json!({"i": input}))
        .await;
    r.ok()["configureSingleSignOn"]["singleSignOn"].clone()
}

async fn a_first_sign_in_creates_the_person_and_the_next_ones_find_them(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    let site = app
        .create_site(&company.admin_token, &company.id, "Lyon")
        .await;
    let saved = configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON", "defaultSiteId": site}),
    )
    .await;
    assert_eq!(saved["firstSignIn"], "CREATE_PERSON");
    assert_eq!(saved["clientSecretSet"], true);
    assert!(
        saved["redirectUri"]
            .as_str()
            .is_some_and(|u| u.ends_with(&format!("/auth/oidc/{}/callback", company.id))),
        "{saved}"
    );

    provider.next_sign_in(Identity::new("ada-at-provider", "Ada@Acme.test"));
    let landing = sign_in(app, &provider, &company.id).await;
    assert!(
        landing.location.contains("/welcome#sso_code="),
        "{}",
        landing.location
    );
    let (token, user) = complete(app, &landing).await;
    assert_eq!(user["email"], "ada@acme.test");
    assert_eq!(user["organization"]["id"], company.id.as_str());
    let me = app
        .gql(
            Some(&token),
            "{ me { firstName lastName status profile { name } defaultSite { id } sites { id } } }",
            json!({}),
        )
        .await;
    let me = &me.ok()["me"];
    assert_eq!(me["firstName"], "Ada");
    assert_eq!(me["lastName"], "Lovelace");
    assert_eq!(me["status"], "ACTIVE");
    assert_eq!(me["defaultSite"]["id"], site.as_str());
    assert_eq!(me["sites"][0]["id"], site.as_str());

    let provisioned = app
        .audit_events(&company.admin_token, "sso.user_provisioned")
        .await;
    assert_eq!(provisioned.len(), 1, "{provisioned:?}");
    assert_eq!(provisioned[0]["targetId"], user["id"]);
    if app.memory.is_some() {
        let welcome = app.mail_to("ada@acme.test");
        assert_eq!(welcome.len(), 1);
        assert_eq!(
            welcome[0].kind,
            concierge_domain::model::EmailKind::SsoWelcome
        );
        let code = &welcome[0].params["booking_code"];
        assert!(
            !code.is_empty() && code.chars().all(|c| c.is_ascii_digit()),
            "{code}"
        );
    }

    // The second sign-in finds the same person, creates nobody and e-mails nothing.
    let landing = sign_in(app, &provider, &company.id).await;
    let (_, again) = complete(app, &landing).await;
    assert_eq!(again["id"], user["id"]);
    assert_eq!(
        app.audit_events(&company.admin_token, "sso.user_provisioned")
            .await
            .len(),
        1
    );
    assert_eq!(
        app.audit_events(&company.admin_token, "sso.login")
            .await
            .len(),
        2
    );
    if app.memory.is_some() {
        assert_eq!(app.mail_to("ada@acme.test").len(), 1);
    }
}

async fn a_person_of_the_organization_is_linked_by_their_verified_email(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    let existing = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Bob", "lastName": "Martin", "email": "bob@acme.test"}),
        )
        .await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "LINK_ONLY"}),
    )
    .await;

    provider.next_sign_in(Identity::new("bob-at-provider", "bob@acme.test"));
    let (_, user) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(user["id"], existing["user"]["id"]);
    assert_eq!(
        app.audit_events(&company.admin_token, "sso.linked")
            .await
            .len(),
        1
    );
    if app.memory.is_some() {
        assert!(
            app.mail_to("bob@acme.test")
                .iter()
                .any(|m| m.kind == concierge_domain::model::EmailKind::SsoLinked)
        );
    }

    // Only linking: someone the organization does not know is refused, and nobody is created.
    let before = app.user_count(&company.admin_token, &company.id).await;
    provider.next_sign_in(Identity::new("stranger", "carol@acme.test"));
    let landing = sign_in(app, &provider, &company.id).await;
    assert_eq!(landing.error(), Some("FORBIDDEN"), "{}", landing.location);
    assert_eq!(
        landing.fragment.get("sso_field").map(String::as_str),
        Some("email")
    );
    assert_eq!(
        app.user_count(&company.admin_token, &company.id).await,
        before
    );
}

async fn what_the_provider_says_is_checked_and_refusals_are_audited(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (partner, company) = app.company("Acme").await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON"}),
    )
    .await;
    // Someone of another organization, and a deactivated person of this one.
    let elsewhere = app.create_company(&partner, "Globex").await;
    app.create_user(
        &elsewhere.admin_token,
        &elsewhere.id,
        json!({"firstName": "Eve", "lastName": "Other", "email": "eve@acme.test"}),
    )
    .await;
    let gone = app
        .create_user(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Dan", "lastName": "Gone", "email": "dan@acme.test"}),
        )
        .await;
    let r = app
        .gql(
            Some(&company.admin_token),
            "mutation($id: ID!) { deactivateUser(input: {userId: $id}) { user { status } } }",
            json!({"id": gone["user"]["id"]}),
        )
        .await;
    assert_eq!(r.ok()["deactivateUser"]["user"]["status"], "INACTIVE");

    let someone = || Identity::new("someone", "someone@acme.test");
    let cases: Vec<(&str, Identity, Tamper, &str)> = vec![
        (
            "a signature by a key the provider never published",
            someone(),
            Tamper {
                foreign_signature: true,
                ..Tamper::default()
            },
            "UNAUTHENTICATED",
        ),
        (
            "another audience",
            someone(),
            Tamper {
                audience: Some("another-client".into()),
                ..Tamper::default()
            },
            "UNAUTHENTICATED",
        ),
        (
            "another issuer",
            someone(),
            Tamper {
                issuer: Some("http://127.0.0.1:1".into()),
                ..Tamper::default()
            },
            "UNAUTHENTICATED",
        ),
        (
            "an expired token",
            someone(),
            Tamper {
                expired: true,
                ..Tamper::default()
            },
            "UNAUTHENTICATED",
        ),
        (
            "the nonce of another sign-in",
            someone(),
            Tamper {
                nonce: Some("a-replayed-nonce".into()),
                ..Tamper::default()
            },
            "UNAUTHENTICATED",
        ),
        (
            "an e-mail outside the allowed domains",
            Identity::new("outsider", "mallory@evil.test"),
            Tamper::default(),
            "FORBIDDEN",
        ),
        (
            "an e-mail the provider has not verified",
            Identity {
                email_verified: false,
                ..someone()
            },
            Tamper::default(),
            "FORBIDDEN",
        ),
        (
            "a deactivated person",
            Identity::new("dan-at-provider", "dan@acme.test"),
            Tamper::default(),
            "FORBIDDEN",
        ),
        (
            "a person of another organization",
            Identity::new("eve-at-provider", "eve@acme.test"),
            Tamper::default(),
            "FORBIDDEN",
        ),
    ];
    let users_before = app.user_count(&company.admin_token, &company.id).await;
    for (number, (what, identity, tamper, code)) in cases.iter().enumerate() {
        provider.next_sign_in(identity.clone());
        provider.tamper(tamper.clone());
        let landing = sign_in(app, &provider, &company.id).await;
        assert_eq!(landing.error(), Some(*code), "{what}: {}", landing.location);
        assert!(!landing.fragment.contains_key("sso_code"), "{what}");
        let refused = app.audit_events(&company.admin_token, "sso.refused").await;
        assert_eq!(refused.len(), number + 1, "{what}: audited");
    }
    assert_eq!(
        app.user_count(&company.admin_token, &company.id).await,
        users_before,
        "nobody was created"
    );
    assert!(
        app.audit_events(&company.admin_token, "sso.login")
            .await
            .is_empty()
    );

    // The same provider, behaving, signs the person in.
    provider.tamper(Tamper::default());
    provider.next_sign_in(someone());
    let (_, user) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(user["email"], "someone@acme.test");
}

async fn a_state_and_a_code_are_used_once(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON"}),
    )
    .await;
    provider.next_sign_in(Identity::new("ada-at-provider", "ada@acme.test"));

    let callback = through_provider(app, &provider, &company.id).await;
    // The callback URL opened in another browser (login CSRF: someone else's sign-in pushed to
    // a victim) signs nobody in, and leaves the sign-in to its own browser.
    let elsewhere = land_with(app, &callback.path, None).await;
    assert_eq!(
        elsewhere.error(),
        Some("UNAUTHENTICATED"),
        "{}",
        elsewhere.location
    );
    let other_cookie = land_with(app, &callback.path, Some("concierge_sso_state=other")).await;
    assert_eq!(other_cookie.error(), Some("UNAUTHENTICATED"));
    let landing = land(app, &callback).await;
    // The callback replayed (the browser's history, a leaked URL): the state is spent.
    let replay = land(app, &callback).await;
    assert_eq!(
        replay.error(),
        Some("UNAUTHENTICATED"),
        "{}",
        replay.location
    );
    // A state nobody issued.
    let forged = land_with(
        app,
        &format!(
            "/auth/oidc/{}/callback?code=code-1&state=forged",
            company.id
        ),
        Some("concierge_sso_state=forged"),
    )
    .await;
    assert_eq!(forged.error(), Some("UNAUTHENTICATED"));

    complete(app, &landing).await;
    let again = app.gql(None, COMPLETE, json!({"c": landing.code()})).await;
    again.assert_error("UNAUTHENTICATED", None);
}

async fn keys_rotated_at_the_provider_keep_working(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON"}),
    )
    .await;
    provider.next_sign_in(Identity::new("ada-at-provider", "ada@acme.test"));
    let (_, first) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    let (_, second) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(first["id"], second["id"]);
    assert_eq!(provider.jwks_fetches(), 1, "keys are cached");

    // A new key, under a new `kid`: fetched once when first seen, then cached again.
    provider.rotate_keys();
    let (_, third) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(third["id"], first["id"]);
    assert_eq!(provider.jwks_fetches(), 2);
    complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(provider.jwks_fetches(), 2);
}

async fn requiring_sso_stops_passwords_except_for_break_glass_administrators(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    let (_, _) = app
        .user_with_token(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Bob", "lastName": "Martin", "email": "bob@acme.test"}),
        )
        .await;
    configure(
        app,
        &company,
        &provider,
        json!({"requireSso": true, "breakGlassUserIds": [company.admin_id]}),
    )
    .await;

    let login = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";
    let r = app
        .gql(
            None,
            login,
            json!({"l": "bob@acme.test", "p": concierge_tests::CHOSEN_PASSWORD}),
        )
        .await;
    r.assert_error("FORBIDDEN", Some("password"));
    // A wrong password still says only that it is wrong: SSO tells nothing before it.
    let r = app
        .gql(
            None,
            login,
            json!({"l": "bob@acme.test", "p": "not-the-password"}),
        )
        .await;
    r.assert_error("UNAUTHENTICATED", None);
    // The break-glass administrator keeps their password.
    let r = app
        .gql(
            None,
            login,
            json!({"l": company.admin_email, "p": concierge_tests::CHOSEN_PASSWORD}),
        )
        .await;
    assert!(r.ok()["login"]["accessToken"].is_string());
    // Bob signs in through the provider.
    provider.next_sign_in(Identity::new("bob-at-provider", "bob@acme.test"));
    let (_, user) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(user["email"], "bob@acme.test");
    // Removing the provider gives passwords back.
    let r = app
        .gql(
            Some(&company.admin_token),
            "mutation($o: ID!) { removeSingleSignOn(input: {organizationId: $o}) { ok } }",
            json!({"o": company.id}),
        )
        .await;
    assert_eq!(r.ok()["removeSingleSignOn"]["ok"], true);
    let r = app
        .gql(
            None,
            login,
            json!({"l": "bob@acme.test", "p": concierge_tests::CHOSEN_PASSWORD}),
        )
        .await;
    assert!(r.ok()["login"]["accessToken"].is_string());
    let (status, _) = get(app, &format!("/auth/oidc/{}/start", company.id)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn only_administrators_configure_and_the_secret_is_never_read_back(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (partner, company) = app.company("Acme").await;
    let other = app.create_company(&partner, "Globex").await;
    // Someone who reads the directory but does not manage its people.
    let (_, member) = app
        .member(
            &company.admin_token,
            &company.id,
            json!({"users": "READ"}),
            json!({}),
        )
        .await;
    app.create_user(
        &company.admin_token,
        &company.id,
        json!({"firstName": "Bob", "lastName": "Martin", "email": "bob@acme.test"}),
    )
    .await;
    let input = json!({"organizationId": company.id, "issuer": provider.issuer,
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "allowedDomains": ["acme.test"]});
    let r = app.gql(Some(&member), CONFIGURE, json!({"i": input})).await;
    assert_eq!(r.code(), "FORBIDDEN");
    let r = app
        .gql(Some(&other.admin_token), CONFIGURE, json!({"i": input}))
        .await;
    r.assert_error("NOT_FOUND", None);
    // The partner's administrator may configure it for their client.
    let r = app
        .gql(Some(&partner.admin_token), CONFIGURE, json!({"i": input}))
        .await;
    assert_eq!(
        r.ok()["configureSingleSignOn"]["singleSignOn"]["clientSecretSet"],
        true
    );

    // Bad input names its field and changes nothing.
    for (field, value, expected) in [
        ("issuer", json!("ftp://idp.example"), "issuer"),
        ("issuer", json!("http://idp.example.com"), "issuer"),
        ("allowedDomains", json!([]), "allowedDomains"),
        ("allowedDomains", json!(["not a domain"]), "allowedDomains"),
        (
            "breakGlassUserIds",
            json!([other.admin_id]),
            "breakGlassUserIds",
        ),
    ] {
        let mut bad = input.clone();
        bad[field] = value;
        let r = app
            .gql(Some(&company.admin_token), CONFIGURE, json!({"i": bad}))
            .await;
        r.assert_error("VALIDATION", Some(expected));
    }
    // Changing it without a secret keeps the stored one; the schema has no field to read it.
    let mut change = input.clone();
    change["clientSecret"] = Value::Null;
    change["allowedDomains"] = json!(["acme.test", "acme.example"]);
    let r = app
        .gql(Some(&company.admin_token), CONFIGURE, json!({"i": change}))
        .await;
    let saved = &r.ok()["configureSingleSignOn"]["singleSignOn"];
    assert_eq!(
        saved["allowedDomains"],
        json!(["acme.test", "acme.example"])
    );
    let r = app
        .gql(
            Some(&company.admin_token),
            "{ __type(name: \"SingleSignOn\") { fields { name } } }",
            json!({}),
        )
        .await;
    let fields = r.ok()["__type"]["fields"].to_string();
    assert!(!fields.contains("\"clientSecret\""), "{fields}");
    // And it still works: the secret kept is the right one.
    provider.next_sign_in(Identity::new("bob-at-provider", "bob@acme.test"));
    let (_, user) = complete(app, &sign_in(app, &provider, &company.id).await).await;
    assert_eq!(user["email"], "bob@acme.test");
    let r = app
        .gql(
            Some(&member),
            "query($o: ID) { singleSignOn(organizationId: $o) { issuer } }",
            json!({"o": company.id}),
        )
        .await;
    assert_eq!(r.code(), "FORBIDDEN");
}

async fn of_two_racing_uses_of_one_state_exactly_one_signs_in(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON"}),
    )
    .await;
    // Ada is known already: nothing but the single use of the state could stop a second
    // sign-in (no new person, no unique e-mail).
    provider.next_sign_in(Identity::new("ada-at-provider", "ada@acme.test"));
    complete(app, &sign_in(app, &provider, &company.id).await).await;
    let org = company.id.parse().expect("organization id");
    let domain = &app.state.domain;
    let started = domain.begin_sso(org, "/", None).await.expect("start");
    let claims = concierge_domain::SsoClaims {
        issuer: provider.issuer.clone(),
        subject: "ada-at-provider".into(),
        email: Some("ada@acme.test".into()),
        email_verified: true,
        ..Default::default()
    };
    // Both released together, past every check made before the transaction.
    let (first, second) = tokio::join!(
        domain.finish_sso(org, &started.state, claims.clone(), None),
        domain.finish_sso(org, &started.state, claims, None),
    );
    let (won, lost) = match (first, second) {
        (Ok(won), Err(lost)) | (Err(lost), Ok(won)) => (won, lost),
        (a, b) => panic!("expected exactly one sign-in, got {a:?} and {b:?}"),
    };
    assert_eq!(
        lost.code(),
        concierge_domain::ErrorCode::Unauthenticated,
        "{lost:?}"
    );
    let r = app.gql(None, COMPLETE, json!({"c": won.code})).await;
    assert_eq!(
        r.ok()["completeSingleSignOn"]["session"]["user"]["email"],
        "ada@acme.test"
    );
}

/// A start from `address` through `state`'s router: the status and the `Retry-After` header.
async fn start_from(state: &AppState, org: &str, address: [u8; 4]) -> (StatusCode, Option<String>) {
    let mut request = Request::builder()
        .uri(format!("/auth/oidc/{org}/start?return_to=/welcome"))
        .body(Body::empty())
        .expect("request");
    request
        .extensions_mut()
        .insert(ConnectInfo(SocketAddr::from((address, 40_000))));
    let response = router(state.clone())
        .oneshot(request)
        .await
        .expect("response");
    let retry_after = response
        .headers()
        .get(header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    (response.status(), retry_after)
}

/// A start needs no credentials and stores a pending sign-in for ten minutes: a loop of them
/// must not fill the database. Pending sign-ins are limited per address and per organization;
/// other organizations and, once the pending ones expire, the same address start again.
async fn starts_without_credentials_are_limited_per_address_and_per_organization(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (partner, company) = app.company("Acme").await;
    let other = app.create_company(&partner, "Globex").await;
    configure(app, &company, &provider, json!({})).await;
    configure(app, &other, &provider, json!({})).await;
    let clock = Arc::new(ManualClock::new(Utc::now()));
    let mut state = app.state.clone();
    let shared: Arc<dyn concierge_domain::clock::Clock> = clock.clone();
    state.domain.clock = shared;
    state.domain.config.throttle.sso_pending_per_address = 3;
    state.domain.config.throttle.sso_pending_per_organization = 5;
    let (a, b, c) = ([192, 0, 2, 1], [192, 0, 2, 2], [192, 0, 2, 3]);

    for _ in 0..3 {
        assert_eq!(
            start_from(&state, &company.id, a).await.0,
            StatusCode::SEE_OTHER
        );
    }
    let (status, retry_after) = start_from(&state, &company.id, a).await;
    assert_eq!(
        status,
        StatusCode::TOO_MANY_REQUESTS,
        "a fourth from one address"
    );
    assert_eq!(retry_after.as_deref(), Some("60"));
    // Another address still starts, up to the organization's limit, which holds for all.
    for _ in 0..2 {
        assert_eq!(
            start_from(&state, &company.id, b).await.0,
            StatusCode::SEE_OTHER
        );
    }
    assert_eq!(
        start_from(&state, &company.id, c).await.0,
        StatusCode::TOO_MANY_REQUESTS,
        "a sixth for the organization, from a fresh address"
    );
    // Another organization is not concerned.
    assert_eq!(
        start_from(&state, &other.id, a).await.0,
        StatusCode::SEE_OTHER
    );
    // Ten minutes later the pending sign-ins have expired and are swept by the next start.
    clock.advance(Duration::minutes(11));
    assert_eq!(
        start_from(&state, &company.id, a).await.0,
        StatusCode::SEE_OTHER
    );
    assert_eq!(
        start_from(&state, &company.id, c).await.0,
        StatusCode::SEE_OTHER
    );
}

const LOGIN: &str = "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }";
const INVITE: &str = "mutation($i: InviteCollaboratorInput!) { inviteCollaborator(input: $i) {
    user { id status } invitation { status } } }";
const ACCEPT: &str =
    "mutation($t: String!, $p: String!) { acceptInvitation(input: {token: $t, password: $p}) {
    accessToken user { status } } }";

/// Invites `email` into `company` (with `extra` fields of the input); returns the person's id
/// and the invitation's token.
async fn invite(app: &TestApp, company: &Org, email: &str, extra: Value) -> (String, String) {
    let mut input = json!({"organizationId": company.id, "email": email,
        "firstName": "Ines", "lastName": "Roux"});
    if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
        input.extend(extra.clone());
    }
    let r = app
        .gql(Some(&company.admin_token), INVITE, json!({"i": input}))
        .await;
    let invited = &r.ok()["inviteCollaborator"];
    assert_eq!(invited["user"]["status"], "INVITED", "{invited}");
    let id = invited["user"]["id"].as_str().expect("user id").to_owned();
    (id, link_token(app, email).await)
}

/// The token of the last link e-mailed to `to`, read from the outbox on either backend (the
/// messages read are claimed, as a sender would).
async fn link_token(app: &TestApp, to: &str) -> String {
    let domain = &app.state.domain;
    let mut tx = domain.store.begin().await.expect("transaction");
    let claimed = tx
        .claim_emails(Utc::now() + Duration::days(1), Duration::zero(), 1_000)
        .await
        .expect("the outbox");
    tx.commit().await.expect("commit");
    let link = claimed
        .iter()
        .rev()
        .filter(|m| m.to.as_str() == to)
        .find_map(|m| {
            let params: HashMap<String, String> =
                serde_json::from_str(&domain.secrets.open(&m.sealed_params)?).ok()?;
            params.get("link").cloned()
        })
        .expect("a link was e-mailed");
    link.split("token=")
        .nth(1)
        .expect("a token in the link")
        .to_owned()
}

/// Accepting an invitation sets a password and opens a session: where the organization
/// requires its provider, it is refused as a password sign-in is, before anything is written,
/// however often it is tried; a break-glass administrator invited still accepts.
async fn an_invitation_gives_no_password_where_sso_is_required(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    let admins = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Admins",
            json!({"users": "MANAGE"}),
        )
        .await;
    let (_, ines_token) = invite(app, &company, "ines@acme.test", json!({})).await;
    let (vera, vera_token) = invite(
        app,
        &company,
        "vera@acme.test",
        json!({"profileId": admins}),
    )
    .await;
    configure(
        app,
        &company,
        &provider,
        json!({"requireSso": true, "breakGlassUserIds": [vera]}),
    )
    .await;

    for password in ["ines-chooses-this", "another-password"] {
        let r = app
            .gql(None, ACCEPT, json!({"t": ines_token, "p": password}))
            .await;
        r.assert_error("FORBIDDEN", Some("password"));
        assert!(
            r.data.get("acceptInvitation").is_none_or(Value::is_null),
            "no session: {:?}",
            r.data
        );
    }
    // Nothing was written: still invited, no password to sign in with, the invitation pending.
    let r = app
        .gql(
            Some(&company.admin_token),
            "{ users(filter: {status: INVITED}) { edges { node { email } } } }",
            json!({}),
        )
        .await;
    assert!(
        r.ok()["users"]["edges"]
            .to_string()
            .contains("ines@acme.test"),
        "{}",
        r.ok()
    );
    app.gql(
        None,
        LOGIN,
        json!({"l": "ines@acme.test", "p": "ines-chooses-this"}),
    )
    .await
    .assert_error("UNAUTHENTICATED", None);
    // The break-glass administrator, invited, still gets a password.
    let r = app
        .gql(
            None,
            ACCEPT,
            json!({"t": vera_token, "p": "vera-chooses-this"}),
        )
        .await;
    assert_eq!(r.ok()["acceptInvitation"]["user"]["status"], "ACTIVE");
    assert!(r.ok()["acceptInvitation"]["accessToken"].is_string());
    // Without the requirement the same invitation is accepted.
    configure(app, &company, &provider, json!({"requireSso": false})).await;
    let r = app
        .gql(
            None,
            ACCEPT,
            json!({"t": ines_token, "p": "ines-chooses-this"}),
        )
        .await;
    assert_eq!(r.ok()["acceptInvitation"]["user"]["status"], "ACTIVE");
}

/// A break-glass administrator keeps a password only while they manage the organization's
/// people: once their profile loses users MANAGE, a password is refused as for anyone.
async fn a_break_glass_administrator_who_no_longer_manages_users_loses_their_password(
    app: &TestApp,
) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    let keepers = app
        .create_profile(
            &company.admin_token,
            &company.id,
            "Keepers",
            json!({"users": "MANAGE"}),
        )
        .await;
    let (keeper, _) = app
        .user_with_token(
            &company.admin_token,
            &company.id,
            json!({"firstName": "Kim", "lastName": "Keeper", "email": "kim@acme.test",
                "profileId": keepers}),
        )
        .await;
    configure(
        app,
        &company,
        &provider,
        json!({"requireSso": true, "breakGlassUserIds": [keeper]}),
    )
    .await;
    let kim = json!({"l": "kim@acme.test", "p": concierge_tests::CHOSEN_PASSWORD});
    let r = app.gql(None, LOGIN, kim.clone()).await;
    assert!(r.ok()["login"]["accessToken"].is_string());

    let r = app
        .gql(
            Some(&company.admin_token),
            "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { profile { id } } }",
            json!({"i": {"id": keepers,
                "permissions": TestApp::permissions(json!({"users": "READ"}))}}),
        )
        .await;
    assert_eq!(r.ok()["updateProfile"]["profile"]["id"], keepers.as_str());
    let r = app.gql(None, LOGIN, kim.clone()).await;
    r.assert_error("FORBIDDEN", Some("password"));
    // Given users MANAGE again, they have their password back.
    app.gql(
        Some(&company.admin_token),
        "mutation($i: UpdateProfileInput!) { updateProfile(input: $i) { profile { id } } }",
        json!({"i": {"id": keepers,
            "permissions": TestApp::permissions(json!({"users": "MANAGE"}))}}),
    )
    .await
    .ok();
    let r = app.gql(None, LOGIN, kim).await;
    assert!(r.ok()["login"]["accessToken"].is_string());
}

/// The domain of `app` with other keys: `pepper` current, `previous` the one before it.
fn with_pepper(
    app: &TestApp,
    pepper: &str,
    previous: Option<&str>,
) -> concierge_domain::ops::Domain {
    let keys = concierge_domain::secrets::Keys {
        jwt: b"test-jwt-secret".to_vec(),
        pepper: pepper.as_bytes().to_vec(),
        jwt_previous: None,
        pepper_previous: previous.map(|p| p.as_bytes().to_vec()),
    };
    let mut domain = app.state.domain.clone();
    domain.secrets = concierge_domain::secrets::Secrets::new(
        keys,
        concierge_domain::secrets::Argon2Cost::FAST_INSECURE,
    )
    .expect("secrets");
    domain
}

/// A sign-in started (or finished) before `CODE_PEPPER` rotates is finished (or exchanged)
/// after it, while the old pepper is the previous one; not once it is gone.
async fn sign_ins_under_way_survive_a_pepper_rotation(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    configure(
        app,
        &company,
        &provider,
        json!({"firstSignIn": "CREATE_PERSON"}),
    )
    .await;
    let org = company.id.parse().expect("organization id");
    let before = with_pepper(app, "test-pepper", None);
    let during = with_pepper(app, "rotated-pepper", Some("test-pepper"));
    let after = with_pepper(app, "rotated-pepper", None);
    let claims = concierge_domain::SsoClaims {
        issuer: provider.issuer.clone(),
        subject: "ada-at-provider".into(),
        email: Some("ada@acme.test".into()),
        email_verified: true,
        ..Default::default()
    };

    // Started before, come back from the provider during the rotation.
    let started = before.begin_sso(org, "/", None).await.expect("start");
    let pending = during
        .sso_callback(org, &started.state)
        .await
        .expect("the state is found under the previous pepper");
    assert_eq!(pending.nonce, started.nonce);
    let signed_in = during
        .finish_sso(org, &started.state, claims.clone(), None)
        .await
        .expect("finished under the previous pepper");
    let session = during
        .complete_sso(&signed_in.code, None)
        .await
        .expect("exchanged");
    assert!(
        matches!(session, concierge_domain::ops::SignIn::Session(_)),
        "{session:?}"
    );

    // Finished before, the code exchanged during the rotation.
    let started = before.begin_sso(org, "/", None).await.expect("start");
    let signed_in = before
        .finish_sso(org, &started.state, claims.clone(), None)
        .await
        .expect("finished");
    during
        .complete_sso(&signed_in.code, None)
        .await
        .expect("the code is found under the previous pepper");

    // Once the old pepper is dropped, what it hashed is not found.
    let started = before.begin_sso(org, "/", None).await.expect("start");
    let lost = after
        .sso_callback(org, &started.state)
        .await
        .expect_err("gone");
    assert_eq!(
        lost.code(),
        concierge_domain::ErrorCode::Unauthenticated,
        "{lost:?}"
    );
    let signed_in = before
        .finish_sso(org, &started.state, claims, None)
        .await
        .expect("finished");
    let lost = after
        .complete_sso(&signed_in.code, None)
        .await
        .expect_err("gone");
    assert_eq!(
        lost.code(),
        concierge_domain::ErrorCode::Unauthenticated,
        "{lost:?}"
    );
}

/// A plain-http issuer on the loopback (the test provider's) is for development: with
/// `APP_ENV=production` (`allow_loopback_issuers` off) it is refused like any other http URL,
/// so an administrator cannot make the server call its own local services.
async fn loopback_issuers_are_refused_outside_development(app: &TestApp) {
    let provider = TestProvider::start().await;
    let (_, company) = app.company("Acme").await;
    assert!(app.state.domain.config.allow_loopback_issuers);
    let mut state = app.state.clone();
    state.domain.config.allow_loopback_issuers = false;
    state.schema = concierge_api::graphql::build_schema(
        Some(state.domain.clone()),
        false,
        Some(Arc::clone(&state.metrics)),
    );
    let production = TestApp {
        state,
        memory: app.memory.clone(),
        operator_token: String::new(),
    };
    for issuer in [
        provider.issuer.clone(),
        "http://localhost:8080/realms/acme".to_owned(),
    ] {
        let input = json!({"organizationId": company.id, "issuer": issuer,
            "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "allowedDomains": ["acme.test"]});
        let r = production
            .gql(Some(&company.admin_token), CONFIGURE, json!({"i": input}))
            .await;
        r.assert_error("VALIDATION", Some("issuer"));
    }
    let r = production
        .gql(
            Some(&company.admin_token),
            "query($o: ID) { singleSignOn(organizationId: $o) { issuer } }",
            json!({"o": company.id}),
        )
        .await;
    assert!(r.ok()["singleSignOn"].is_null(), "{}", r.ok());
    // https stays allowed there, and the loopback where it is allowed.
    let input = json!({"organizationId": company.id, "issuer": "https://sso.example.com/realms/acme",
        "clientId": CLIENT_ID, "clientSecret": CLIENT_SECRET, "allowedDomains": ["acme.test"]});
    let r = production
        .gql(Some(&company.admin_token), CONFIGURE, json!({"i": input}))
        .await;
    assert_eq!(
        r.ok()["configureSingleSignOn"]["singleSignOn"]["issuer"],
        "https://sso.example.com/realms/acme"
    );
    configure(app, &company, &provider, json!({})).await;
}
