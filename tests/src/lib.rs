//! Test support: a `TestApp` that drives the real GraphQL schema in process, with helpers that
//! set up the usual cast (platform operator, partner, company, sites, rooms, users).

pub mod http;
pub mod ical;
pub mod oidc_provider;
pub mod postgres;
pub mod server;
pub mod statement_counter;
pub mod tenant;

use std::sync::Arc;

use async_graphql::{Request, Variables};
use concierge_api::app::AppState;
use concierge_api::config::Config;
use concierge_api::graphql::context::RequestContext;
use concierge_domain::storage::Storage;
use concierge_storage_memory::{MemoryAttemptCounter, MemoryStore};
use serde_json::{Value, json};

pub const OPERATOR_EMAIL: &str = "operator@platform.test";
pub const OPERATOR_PASSWORD: &str = "operator-password-1";
/// The password the harness chooses when a new user first signs in.
pub const CHOSEN_PASSWORD: &str = "chosen-password-42";

/// A GraphQL response as a client sees it.
#[derive(Debug, Clone)]
pub struct Gql {
    pub data: Value,
    pub errors: Vec<Value>,
}

impl Gql {
    /// A GraphQL response read from its JSON form.
    pub fn from_json(response: &Value) -> Gql {
        Gql {
            data: response.get("data").cloned().unwrap_or(Value::Null),
            errors: response
                .get("errors")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default(),
        }
    }

    /// The data, asserting there was no error.
    #[track_caller]
    pub fn ok(&self) -> &Value {
        assert!(
            self.errors.is_empty(),
            "unexpected errors: {:#}",
            json!(self.errors)
        );
        &self.data
    }

    /// The first error's `extensions.code`.
    #[track_caller]
    pub fn code(&self) -> &str {
        self.errors
            .first()
            .and_then(|e| e["extensions"]["code"].as_str())
            .unwrap_or_else(|| panic!("expected an error, got data {:#}", self.data))
    }

    /// The first error's `extensions.field`.
    pub fn field(&self) -> Option<&str> {
        self.errors
            .first()
            .and_then(|e| e["extensions"]["field"].as_str())
    }

    pub fn message(&self) -> &str {
        self.errors
            .first()
            .and_then(|e| e["message"].as_str())
            .unwrap_or("")
    }

    /// Asserts the first error's code (and field, when given).
    #[track_caller]
    pub fn assert_error(&self, code: &str, field: Option<&str>) {
        assert_eq!(self.code(), code, "errors: {:#}", json!(self.errors));
        if field.is_some() {
            assert_eq!(self.field(), field, "errors: {:#}", json!(self.errors));
        }
    }
}

/// An organization created through the API, with its first administrator signed in.
#[derive(Debug, Clone)]
pub struct Org {
    pub id: String,
    pub admin_id: String,
    pub admin_email: String,
    pub admin_token: String,
}

/// The application under test.
pub struct TestApp {
    pub state: AppState,
    /// The memory store, when the app runs on it (to count storage calls).
    pub memory: Option<MemoryStore>,
    pub operator_token: String,
}

fn test_config(extra: &[(&str, &str)]) -> Config {
    let base = [
        ("ARGON2_COST", "fast-insecure"),
        ("JWT_SECRET", "test-jwt-secret"),
        ("CODE_PEPPER", "test-pepper"),
    ];
    let vars = base
        .iter()
        .chain(extra)
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Config::from_vars(&vars).expect("test configuration")
}

impl TestApp {
    /// A fresh application on its own memory store, with the platform operator signed in.
    pub async fn spawn() -> Self {
        let store = MemoryStore::new();
        let mut app = Self::on_storage(Arc::new(store.clone())).await;
        app.memory = Some(store);
        app
    }

    /// A fresh application on the given (empty) storage.
    pub async fn on_storage(store: Arc<dyn Storage>) -> Self {
        Self::configured(store, &[]).await
    }

    /// A fresh application on memory with extra settings (e.g. `APP_ENV=production`).
    pub async fn with_settings(settings: &[(&str, &str)]) -> Self {
        let store = MemoryStore::new();
        let mut app = Self::configured(Arc::new(store.clone()), settings).await;
        app.memory = Some(store);
        app
    }

    /// An application with extra settings (e.g. other keys) on the given storage, which may
    /// already hold another application's data (the operator is then only signed in).
    pub async fn on_storage_with_settings(
        store: Arc<dyn Storage>,
        settings: &[(&str, &str)],
    ) -> Self {
        Self::configured(store, settings).await
    }

    async fn configured(store: Arc<dyn Storage>, settings: &[(&str, &str)]) -> Self {
        // Throttle counters in memory whatever the storage: a `TestApp` is one process. (The
        // conformance suite and tests/tests/replicas cover the PostgreSQL counters.)
        let attempts = Arc::new(MemoryAttemptCounter::new());
        let state = AppState::new(store, attempts, &test_config(settings)).expect("app state");
        concierge_api::serve::bootstrap(&state, OPERATOR_EMAIL, OPERATOR_PASSWORD)
            .await
            .expect("bootstrap");
        let mut app = TestApp {
            state,
            memory: None,
            operator_token: String::new(),
        };
        app.operator_token = app.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
        app
    }

    /// The same application (same storage and keys) whose domain runs on `clock`, with the
    /// operator signed in again under it. Tokens issued by `self` before stay usable only while
    /// their expiry holds for both clocks: sign people in through the copy.
    pub async fn clocked(&self, clock: Arc<dyn concierge_domain::clock::Clock>) -> TestApp {
        let mut state = self.state.clone();
        state.domain.clock = clock;
        state.schema = concierge_api::graphql::build_schema(
            Some(state.domain.clone()),
            false,
            Some(Arc::clone(&state.metrics)),
        );
        let mut app = TestApp {
            state,
            memory: self.memory.clone(),
            operator_token: String::new(),
        };
        app.operator_token = app.login(OPERATOR_EMAIL, OPERATOR_PASSWORD).await;
        app
    }

    /// Runs one GraphQL document as the holder of `token` (anonymous when `None`).
    pub async fn gql(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        let context =
            RequestContext::prepare(&self.state.domain, token, Some("127.0.0.1".into())).await;
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(context);
        let response = concierge_api::graphql::execute(&self.state.schema, request).await;
        Gql::from_json(&serde_json::to_value(&response).expect("response as JSON"))
    }

    /// Signs in and returns the access token.
    pub async fn login(&self, login: &str, password: &str) -> String {
        let r = self
            .gql(
                None,
                "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
                json!({"l": login, "p": password}),
            )
            .await;
        r.ok()["login"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned()
    }

    async fn create_org(&self, token: &str, kind: &str, name: &str, parent: Option<&str>) -> Org {
        let email = format!("admin@{}.test", name.to_lowercase().replace(' ', "-"));
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateOrganizationInput!) { createOrganization(input: $i) {
                    organization { id } administrator { id } credentials { login temporaryPassword } } }",
                json!({"i": {"kind": kind, "name": name, "parentId": parent, "timeZone": "Europe/Paris",
                    "administrator": {"firstName": "Admin", "lastName": name, "email": email}}}),
            )
            .await;
        let payload = &r.ok()["createOrganization"];
        let password = payload["credentials"]["temporaryPassword"]
            .as_str()
            .expect("temporary password");
        Org {
            id: payload["organization"]["id"]
                .as_str()
                .expect("org id")
                .to_owned(),
            admin_id: payload["administrator"]["id"]
                .as_str()
                .expect("admin id")
                .to_owned(),
            admin_token: self.first_sign_in(&email, password).await,
            admin_email: email,
        }
    }

    /// A partner created by the platform operator.
    pub async fn create_partner(&self, name: &str) -> Org {
        let token = self.operator_token.clone();
        self.create_org(&token, "PARTNER", name, None).await
    }

    /// A client company created by the partner's administrator.
    pub async fn create_company(&self, partner: &Org, name: &str) -> Org {
        self.create_org(&partner.admin_token, "COMPANY", name, Some(&partner.id))
            .await
    }

    /// A partner and one client company: the usual starting point.
    pub async fn company(&self, name: &str) -> (Org, Org) {
        let partner = self.create_partner(&format!("{name} Partner")).await;
        let company = self.create_company(&partner, name).await;
        (partner, company)
    }

    pub async fn create_site(&self, token: &str, org_id: &str, name: &str) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateSiteInput!) { createSite(input: $i) { site { id } } }",
                json!({"i": {"organizationId": org_id, "name": name, "timeZone": "Europe/Paris"}}),
            )
            .await;
        r.ok()["createSite"]["site"]["id"]
            .as_str()
            .expect("site id")
            .to_owned()
    }

    pub async fn create_room(&self, token: &str, site_id: &str, name: &str) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
                json!({"i": {"siteId": site_id, "name": name, "capacity": 8}}),
            )
            .await;
        r.ok()["createRoom"]["room"]["id"]
            .as_str()
            .expect("room id")
            .to_owned()
    }

    /// Creates a user from a `CreateUserInput` (organizationId filled in); returns the payload.
    pub async fn create_user(&self, token: &str, org_id: &str, mut input: Value) -> Value {
        input["organizationId"] = json!(org_id);
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateUserInput!) { createUser(input: $i) {
                    user { id login status mustChangePassword } credentials { login temporaryPassword bookingCode } } }",
                json!({"i": input}),
            )
            .await;
        r.ok()["createUser"].clone()
    }

    /// Creates a user and signs them in; returns (user id, access token).
    pub async fn user_with_token(
        &self,
        token: &str,
        org_id: &str,
        input: Value,
    ) -> (String, String) {
        let created = self.create_user(token, org_id, input).await;
        let login = created["credentials"]["login"]
            .as_str()
            .expect("login")
            .to_owned();
        let password = created["credentials"]["temporaryPassword"]
            .as_str()
            .expect("password")
            .to_owned();
        let id = created["user"]["id"].as_str().expect("user id").to_owned();
        (id, self.first_sign_in(&login, &password).await)
    }

    /// Signs in with a temporary password and changes it to [`CHOSEN_PASSWORD`], as a new user
    /// must before doing anything else; returns the new session's access token.
    pub async fn first_sign_in(&self, login: &str, temporary_password: &str) -> String {
        let token = self.login(login, temporary_password).await;
        let r = self
            .gql(
                Some(&token),
                "mutation($c: String!, $n: String!) { changePassword(input: {currentPassword: $c, newPassword: $n}) { accessToken } }",
                json!({"c": temporary_password, "n": CHOSEN_PASSWORD}),
            )
            .await;
        r.ok()["changePassword"]["accessToken"]
            .as_str()
            .expect("access token")
            .to_owned()
    }
}

/// Helpers for the area test modules: profiles, people holding them, site groups, the audit log.
impl TestApp {
    /// A permission set granting nothing but what `overrides` names, e.g.
    /// `json!({"users": "READ", "modules": ["directory"]})`, as a `PermissionsInput`.
    pub fn permissions(overrides: Value) -> Value {
        let mut set = json!({"users": "NONE", "profiles": "NONE", "sites": "NONE", "rooms": "NONE",
            "bookings": "NONE", "billing": "NONE", "clients": "NONE", "audit": "NONE", "modules": []});
        if let (Some(set), Some(overrides)) = (set.as_object_mut(), overrides.as_object()) {
            for (area, level) in overrides {
                set.insert(area.clone(), level.clone());
            }
        }
        set
    }

    /// Creates a profile with `TestApp::permissions(overrides)`; returns its id.
    pub async fn create_profile(
        &self,
        token: &str,
        org_id: &str,
        name: &str,
        overrides: Value,
    ) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateProfileInput!) { createProfile(input: $i) { profile { id } } }",
                json!({"i": {"organizationId": org_id, "name": name,
                    "permissions": Self::permissions(overrides)}}),
            )
            .await;
        r.ok()["createProfile"]["profile"]["id"]
            .as_str()
            .expect("profile id")
            .to_owned()
    }

    /// A person of `org_id` holding a new profile with `TestApp::permissions(overrides)`, created
    /// by the holder of `token` and signed in with the returned temporary password; returns
    /// (user id, access token). `extra` adds fields of `CreateUserInput` (sites, groups…).
    pub async fn member(
        &self,
        token: &str,
        org_id: &str,
        overrides: Value,
        extra: Value,
    ) -> (String, String) {
        let profile = self
            .create_profile(token, org_id, "Member profile", overrides)
            .await;
        let mut input = json!({"firstName": "Member", "lastName": "Of Staff",
            "email": format!("m-{profile}@members.test"), "profileId": profile});
        if let (Some(input), Some(extra)) = (input.as_object_mut(), extra.as_object()) {
            for (key, value) in extra {
                input.insert(key.clone(), value.clone());
            }
        }
        self.user_with_token(token, org_id, input).await
    }

    pub async fn create_site_group(
        &self,
        token: &str,
        org_id: &str,
        name: &str,
        site_ids: &[&str],
    ) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreateSiteGroupInput!) { createSiteGroup(input: $i) { siteGroup { id } } }",
                json!({"i": {"organizationId": org_id, "name": name, "siteIds": site_ids}}),
            )
            .await;
        r.ok()["createSiteGroup"]["siteGroup"]["id"]
            .as_str()
            .expect("site group id")
            .to_owned()
    }

    /// A price list of a partner, created by the holder of `token`; returns its id.
    pub async fn create_price_list(
        &self,
        token: &str,
        partner_id: &str,
        name: &str,
        is_default: bool,
    ) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($i: CreatePriceListInput!) { createPriceList(input: $i) { priceList { id } } }",
                json!({"i": {"organizationId": partner_id, "name": name, "isDefault": is_default}}),
            )
            .await;
        r.ok()["createPriceList"]["priceList"]["id"]
            .as_str()
            .expect("price list id")
            .to_owned()
    }

    /// The audit events with this action that the holder of `token` may read, newest first:
    /// `{ action actor { id } organization { id } targetType targetId }` each.
    pub async fn audit_events(&self, token: &str, action: &str) -> Vec<Value> {
        let r = self
            .gql(
                Some(token),
                "query($a: String!) { auditEvents(filter: {action: $a}, first: 200) { edges { node {
                    action actor { id } organization { id } targetType targetId } } } }",
                json!({"a": action}),
            )
            .await;
        r.ok()["auditEvents"]["edges"]
            .as_array()
            .expect("audit edges")
            .iter()
            .map(|edge| edge["node"].clone())
            .collect()
    }

    /// How many users `users(filter: {organizationId})` counts for the holder of `token`.
    pub async fn user_count(&self, token: &str, org_id: &str) -> i64 {
        let r = self
            .gql(
                Some(token),
                "query($o: ID!) { users(filter: {organizationId: $o}) { totalCount } }",
                json!({"o": org_id}),
            )
            .await;
        r.ok()["users"]["totalCount"].as_i64().expect("totalCount")
    }
}

/// Helpers for bookings, tablets and live events.
impl TestApp {
    /// Registers a tablet for a site (and optionally one room); returns its bearer token.
    pub async fn register_device(
        &self,
        token: &str,
        site_id: &str,
        room_id: Option<&str>,
    ) -> String {
        let r = self
            .gql(
                Some(token),
                "mutation($s: ID!, $r: ID) { registerDevice(input: {siteId: $s, roomId: $r, name: \"Door tablet\"}) { token } }",
                json!({"s": site_id, "r": room_id}),
            )
            .await;
        r.ok()["registerDevice"]["token"]
            .as_str()
            .expect("device token")
            .to_owned()
    }

    /// How many booking-feed subscribers the memory store has (0 on other backends).
    pub fn event_subscribers(&self) -> usize {
        self.memory
            .as_ref()
            .map_or(0, MemoryStore::event_subscribers)
    }

    /// Waits (up to 2 s) until the booking feed has at least `count` subscribers.
    pub async fn wait_for_subscribers(&self, count: usize) {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(2);
        while self.event_subscribers() < count && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Starts a subscription as the holder of `token` and drives it, as a WebSocket server does;
    /// returns once the subscriber listens (on the memory backend), with its responses.
    pub async fn subscribe(
        &self,
        token: &str,
        query: &str,
        variables: Value,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = Gql> + Send>> {
        use futures::StreamExt as _;
        let listening_before = self.memory.as_ref().map(MemoryStore::event_subscribers);
        let (schema, domain, token, query) = (
            self.state.schema.clone(),
            self.state.domain.clone(),
            token.to_owned(),
            query.to_owned(),
        );
        let (sender, receiver) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            let mut stream =
                std::pin::pin!(async_stream_of(schema, domain, token, query, variables));
            while let Some(response) = stream.next().await {
                let gql =
                    Gql::from_json(&serde_json::to_value(&response).expect("response as JSON"));
                if sender.send(gql).is_err() {
                    break;
                }
            }
        });
        if let Some(before) = listening_before {
            self.wait_for_subscribers(before + 1).await;
        }
        Box::pin(futures::stream::unfold(
            receiver,
            |mut receiver| async move { receiver.recv().await.map(|item| (item, receiver)) },
        ))
    }
}

fn async_stream_of(
    schema: concierge_api::graphql::ConciergeSchema,
    domain: concierge_domain::Domain,
    token: String,
    query: String,
    variables: Value,
) -> impl futures::Stream<Item = async_graphql::Response> + Send {
    use futures::StreamExt as _;
    futures::stream::once(async move {
        let context =
            RequestContext::for_subscriptions(&domain, Some(&token), Some("127.0.0.1".into()))
                .await;
        let request = Request::new(query)
            .variables(Variables::from_json(variables))
            .data(context)
            .data(concierge_api::graphql::context::SubscriberToken(Some(
                token,
            )));
        schema.execute_stream(request)
    })
    .flatten()
}

/// A message of the outbox as its recipient would read it (parameters opened).
#[derive(Debug, Clone)]
pub struct Mail {
    pub to: String,
    pub kind: concierge_domain::EmailKind,
    pub language: concierge_domain::Language,
    pub params: std::collections::BTreeMap<String, String>,
}

/// Helpers for e-mail (memory backend).
impl TestApp {
    /// The messages the outbox holds for `to`, oldest first.
    pub fn mail_to(&self, to: &str) -> Vec<Mail> {
        let store = self
            .memory
            .as_ref()
            .expect("the outbox is read on the memory backend");
        store
            .outbox()
            .into_iter()
            .filter(|m| m.to.as_str() == to)
            .map(|m| Mail {
                to: m.to.to_string(),
                kind: m.kind,
                language: m.language,
                params: self
                    .state
                    .domain
                    .secrets
                    .open(&m.sealed_params)
                    .and_then(|json| serde_json::from_str(&json).ok())
                    .unwrap_or_default(),
            })
            .collect()
    }

    /// The token of the last link e-mailed to `to`.
    pub fn last_link_token(&self, to: &str) -> String {
        let mails = self.mail_to(to);
        let link = mails
            .iter()
            .rev()
            .find_map(|m| m.params.get("link"))
            .expect("a link was e-mailed");
        link.split("token=")
            .nth(1)
            .expect("a token in the link")
            .to_owned()
    }
}

/// Live booking events that provably reach their subscriber, on any backend.
impl TestApp {
    /// Subscribes as the holder of `token` to `query`, a `bookingEvents(roomId: $r)` subscription
    /// selecting `kind` and `booking { id }`, for `room`; returns the stream once it provably
    /// hears the room, with nothing pending on it.
    ///
    /// [`TestApp::subscribe`] waits for readiness on the memory backend only; on PostgreSQL the
    /// subscriber joins the feed asynchronously. So the holder of `prober` (who may book the room
    /// and cancel their own bookings) books probe quarters of an hour from `probes_from`, one at a
    /// time, waiting a little longer each time (10 ms doubling to 500 ms, 5 s in all) until an
    /// event arrives. The feed delivers in commit order, so from the first probe heard on, every
    /// later probe is heard too: those events are read, the probes cancelled and their CANCELLED
    /// events read, in order. `probes_from` must be a free slot start, clear of the scenario's.
    pub async fn listen_to_room(
        &self,
        token: &str,
        query: &str,
        room: &str,
        prober: &str,
        probes_from: chrono::DateTime<chrono::Utc>,
    ) -> std::pin::Pin<Box<dyn futures::Stream<Item = Gql> + Send>> {
        use futures::StreamExt as _;
        use tokio::time::{Instant, timeout};
        const PROBE: &str = "mutation($i: CreateBookingInput!) { createBooking(input: $i) {
            booking { id } } }";
        const CANCEL: &str =
            "mutation($id: ID!) { cancelBooking(input: {id: $id}) { booking { status } } }";
        let quarter = chrono::Duration::minutes(15);
        let deadline = Instant::now() + std::time::Duration::from_secs(5);
        let mut events = self.subscribe(token, query, json!({"r": room})).await;

        let mut probes: Vec<String> = Vec::new();
        let mut wait = std::time::Duration::from_millis(10);
        let first = loop {
            assert!(
                Instant::now() < deadline,
                "the subscription heard none of {} probes within 5 s",
                probes.len()
            );
            let start = probes_from + quarter * i32::try_from(probes.len()).expect("few probes");
            let r = self
                .gql(
                    Some(prober),
                    PROBE,
                    json!({"i": {"roomId": room, "start": start.to_rfc3339(),
                        "end": (start + quarter).to_rfc3339(), "title": "Probe"}}),
                )
                .await;
            probes.push(
                r.ok()["createBooking"]["booking"]["id"]
                    .as_str()
                    .expect("probe id")
                    .to_owned(),
            );
            let remaining = deadline.saturating_duration_since(Instant::now());
            if let Ok(event) = timeout(wait.min(remaining), events.next()).await {
                break Self::kind_and_id(event);
            }
            wait = (wait * 2).min(std::time::Duration::from_millis(500));
        };
        let heard_from = probes
            .iter()
            .position(|id| *id == first.1)
            .unwrap_or_else(|| panic!("{first:?} is not a probe's event: {probes:?}"));
        assert_eq!(first.0, "CREATED", "{first:?}");
        for probe in &probes[heard_from + 1..] {
            assert_eq!(
                Self::next_probe_event(&mut events, deadline).await,
                ("CREATED".to_owned(), probe.clone())
            );
        }
        for probe in &probes {
            let r = self.gql(Some(prober), CANCEL, json!({"id": probe})).await;
            assert_eq!(
                r.ok()["cancelBooking"]["booking"]["status"],
                json!("CANCELLED")
            );
        }
        for probe in &probes {
            assert_eq!(
                Self::next_probe_event(&mut events, deadline).await,
                ("CANCELLED".to_owned(), probe.clone())
            );
        }
        events
    }

    /// The (kind, booking id) of the next event, within the probes' deadline.
    async fn next_probe_event(
        events: &mut std::pin::Pin<Box<dyn futures::Stream<Item = Gql> + Send>>,
        deadline: tokio::time::Instant,
    ) -> (String, String) {
        use futures::StreamExt as _;
        let event = tokio::time::timeout_at(deadline, events.next())
            .await
            .expect("a probe's event within 5 s");
        Self::kind_and_id(event)
    }

    #[track_caller]
    fn kind_and_id(event: Option<Gql>) -> (String, String) {
        let event = event.expect("the subscription goes on");
        let payload = &event.ok()["bookingEvents"];
        (
            payload["kind"].as_str().unwrap_or_default().to_owned(),
            payload["booking"]["id"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
        )
    }
}

pub mod bookings;

/// Stamps out `postgres::<case>` (on a fresh database of its own) and `memory::<case>` for every
/// scenario `async fn case(app: &TestApp)` listed in the calling module, each failing instead of
/// hanging after the calling module's `CASE_TIMEOUT`.
#[macro_export]
macro_rules! scenarios_on_both_backends {
    ($($case:ident),+ $(,)?) => {
        mod postgres {
            $(
                #[tokio::test]
                async fn $case() {
                    let database = $crate::postgres::fresh_database().await;
                    let store = std::sync::Arc::new(database.store().clone());
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let app = $crate::TestApp::on_storage(store).await;
                        super::$case(&app).await;
                    })
                    .await
                    .expect("the scenario timed out");
                }
            )+
        }

        mod memory {
            $(
                #[tokio::test]
                async fn $case() {
                    tokio::time::timeout(super::CASE_TIMEOUT, async {
                        let app = $crate::TestApp::spawn().await;
                        super::$case(&app).await;
                    })
                    .await
                    .expect("the scenario timed out");
                }
            )+
        }
    };
}
