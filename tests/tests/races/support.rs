//! What every race shares: the stage a case runs on (one application, on PostgreSQL or memory),
//! releasing GraphQL requests together, reading back, and the checks every race makes.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_graphql::{Request, Variables};
use concierge_api::graphql::context::RequestContext;
use concierge_domain::storage::Storage;
use concierge_tests::{Gql, Org, TestApp};
use serde_json::{Value, json};
use std::sync::Barrier;

/// How many times each race is run.
pub const ROUNDS: usize = 20;

/// Connections of the PostgreSQL pool of a race: enough for ten concurrent uses to hold a
/// transaction each, plus the reads around them.
const POOL: usize = 16;

/// One application under test, with what a case needs to reach its storage.
pub struct Stage {
    pub app: Arc<TestApp>,
    pub store: Arc<dyn Storage>,
    /// The PostgreSQL database, when the stage runs on it (to read the outbox).
    pub database_url: Option<String>,
}

impl std::ops::Deref for Stage {
    type Target = TestApp;

    fn deref(&self) -> &TestApp {
        &self.app
    }
}

impl Stage {
    /// An application on the memory backend.
    pub async fn memory() -> Stage {
        let app = TestApp::spawn().await;
        let store: Arc<dyn Storage> =
            Arc::new(app.memory.clone().expect("a memory app has its store"));
        Stage {
            app: Arc::new(app),
            store,
            database_url: None,
        }
    }

    /// An application on `database`, through a pool large enough for the widest race.
    pub async fn postgres(database: &concierge_tests::postgres::TestDatabase) -> Stage {
        let store: Arc<dyn Storage> = Arc::new(
            concierge_storage_postgres::PgStore::connect(database.url(), POOL)
                .await
                .expect("a pool on the test database"),
        );
        let app = TestApp::on_storage(store.clone()).await;
        Stage {
            app: Arc::new(app),
            store,
            database_url: Some(database.url().to_owned()),
        }
    }

    /// Another application over the same storage, with other settings (keys), e.g. a new
    /// release after a key rotation.
    pub async fn sibling(&self, settings: &[(&str, &str)]) -> Arc<TestApp> {
        let mut app = TestApp::on_storage_with_settings(self.store.clone(), settings).await;
        app.memory.clone_from(&self.app.memory);
        Arc::new(app)
    }

    /// Runs one document as the holder of `token`, from an address of its own (so that the
    /// failures a race provokes never add up to the per-address throttle).
    pub async fn ask(&self, token: Option<&str>, query: &str, variables: Value) -> Gql {
        ask(&self.app, token, query, variables).await
    }

    /// The token of the last link e-mailed to `to`, from the outbox of either backend.
    pub async fn link_token(&self, to: &str) -> String {
        let Some(url) = &self.database_url else {
            return self.app.last_link_token(to);
        };
        let rows = outbox_params(url, to).await;
        let link = rows
            .iter()
            .filter_map(|sealed| self.app.state.domain.secrets.open(sealed))
            .filter_map(|params| serde_json::from_str::<Value>(&params).ok())
            .find_map(|params| params["link"].as_str().map(str::to_owned))
            .unwrap_or_else(|| panic!("no link was e-mailed to {to}"));
        link.split("token=")
            .nth(1)
            .expect("a token in the link")
            .to_owned()
    }
}

/// The sealed parameters of the messages to `to`, newest first, read from PostgreSQL.
async fn outbox_params(url: &str, to: &str) -> Vec<String> {
    use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl};

    #[derive(diesel::QueryableByName)]
    struct Sealed {
        #[diesel(sql_type = diesel::sql_types::Text)]
        sealed_params: String,
    }
    let mut conn = AsyncPgConnection::establish(url)
        .await
        .expect("connect to the test database");
    let rows: Vec<Sealed> = diesel::sql_query(
        "SELECT sealed_params FROM outbox_emails WHERE lower(recipient) = lower($1) \
         ORDER BY created_at DESC, id DESC",
    )
    .bind::<diesel::sql_types::Text, _>(to)
    .load(&mut conn)
    .await
    .expect("read the outbox");
    rows.into_iter().map(|r| r.sealed_params).collect()
}

static NEXT_ADDRESS: AtomicU32 = AtomicU32::new(1);

/// A client address no other request of this process used.
fn fresh_address() -> String {
    let n = NEXT_ADDRESS.fetch_add(1, Ordering::Relaxed);
    format!("10.{}.{}.{}", (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff)
}

/// Runs one document on `app` as the holder of `token`, from an address of its own.
pub async fn ask(app: &TestApp, token: Option<&str>, query: &str, variables: Value) -> Gql {
    let context = RequestContext::prepare(&app.state.domain, token, Some(fresh_address())).await;
    run(app, context, query, variables).await
}

async fn run(app: &TestApp, context: RequestContext, query: &str, variables: Value) -> Gql {
    let request = Request::new(query)
        .variables(Variables::from_json(variables))
        .data(context);
    let response = concierge_api::graphql::execute(&app.state.schema, request).await;
    Gql::from_json(&serde_json::to_value(&response).expect("response as JSON"))
}

/// One request of a race: who sends what.
#[derive(Debug, Clone)]
pub struct Call {
    pub token: Option<String>,
    pub query: &'static str,
    pub variables: Value,
    /// Whether the token is checked after the release too (by default it is checked before,
    /// as a server does before it runs the operation).
    pub authenticated_in_race: bool,
}

impl Call {
    /// The token is checked after the release, as part of what races.
    pub fn authenticated_in_race(mut self) -> Call {
        self.authenticated_in_race = true;
        self
    }
}

/// A request sent as the holder of `token`.
pub fn call(token: &str, query: &'static str, variables: Value) -> Call {
    Call {
        token: Some(token.to_owned()),
        query,
        variables,
        authenticated_in_race: false,
    }
}

/// A request sent without a token.
pub fn anonymous(query: &'static str, variables: Value) -> Call {
    Call {
        token: None,
        query,
        variables,
        authenticated_in_race: false,
    }
}

/// Sends `a` and `b` at the same moment on `app` (each on a thread of its own, released
/// together once both are authenticated); returns both answers, in that order.
pub async fn race(app: &Arc<TestApp>, a: Call, b: Call) -> (Gql, Gql) {
    let mut answers = race_all(app, vec![a, b]).await.into_iter();
    let a = answers.next().expect("two answers");
    let b = answers.next().expect("two answers");
    (a, b)
}

/// Sends every call at the same moment on `app`; returns the answers in the calls' order.
///
/// Each request runs on a thread of its own (driving the test's runtime through its handle), and
/// the threads are released together by a [`std::sync::Barrier`]. Tasks released by a tokio
/// barrier would not do: the waker puts the woken task in its own worker's LIFO slot, so that on
/// the memory backend, whose operations rarely wait, the "concurrent" requests would run one
/// after the other on one thread.
pub async fn race_all(app: &Arc<TestApp>, calls: Vec<Call>) -> Vec<Gql> {
    let handle = tokio::runtime::Handle::current();
    let barrier = Arc::new(Barrier::new(calls.len()));
    let threads: Vec<_> = calls
        .into_iter()
        .map(|c| {
            let (app, barrier, handle) = (app.clone(), barrier.clone(), handle.clone());
            tokio::task::spawn_blocking(move || {
                let prepare = || {
                    handle.block_on(RequestContext::prepare(
                        &app.state.domain,
                        c.token.as_deref(),
                        Some(fresh_address()),
                    ))
                };
                // Authenticate first, as a server does before it runs the operation: the
                // operations themselves are what is released together.
                let context = if c.authenticated_in_race {
                    barrier.wait();
                    prepare()
                } else {
                    let context = prepare();
                    barrier.wait();
                    context
                };
                handle.block_on(run(&app, context, c.query, c.variables))
            })
        })
        .collect();
    let mut answers = Vec::with_capacity(threads.len());
    for thread in threads {
        answers.push(thread.await.expect("a racing request panicked"));
    }
    answers
}

/// Runs `round` [`ROUNDS`] times (0, 1, …), each on fresh people and rows; a failed round does
/// not stop the others, and the case fails at the end naming every failed round, with what it
/// read back.
pub async fn rounds(mut round: impl AsyncFnMut(usize)) {
    use futures::FutureExt as _;
    let mut failed: Vec<(usize, String)> = Vec::new();
    for n in 0..ROUNDS {
        if let Err(panic) = std::panic::AssertUnwindSafe(round(n)).catch_unwind().await {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "(a panic without a message)".to_owned());
            failed.push((n, message));
        }
    }
    if let Some((_, first)) = failed.first() {
        let which: Vec<usize> = failed.iter().map(|(n, _)| *n).collect();
        panic!(
            "{} of {ROUNDS} rounds failed (rounds {which:?}); the first one:\n{first}",
            failed.len()
        );
    }
}

/// Whether the change was acknowledged (answered without error).
pub fn acked(r: &Gql) -> bool {
    r.errors.is_empty()
}

/// The first error's (code, field), for comparing answers.
pub fn refusal(r: &Gql) -> (String, Option<String>) {
    if r.errors.is_empty() {
        return ("OK".to_owned(), None);
    }
    (r.code().to_owned(), r.field().map(str::to_owned))
}

/// An answer in a line: `OK`, or the first error's code, field and message.
pub fn describe(r: &Gql) -> String {
    if r.errors.is_empty() {
        return "OK".to_owned();
    }
    match r.field() {
        Some(field) => format!("{} on {field}: {}", r.code(), r.message()),
        None => format!("{}: {}", r.code(), r.message()),
    }
}

/// No answer of a race is ever INTERNAL (a conflict answers CONFLICT) or a panic's error.
#[track_caller]
pub fn never_internal(round: usize, what: &str, r: &Gql) {
    for error in &r.errors {
        let code = error["extensions"]["code"].as_str().unwrap_or("(no code)");
        assert!(
            code != "INTERNAL" && code != "(no code)",
            "round {round}: {what} answered {code}: {error:#}"
        );
    }
}

/// The answer is either acknowledged or refused with one of `codes`; never INTERNAL.
#[track_caller]
pub fn acked_or(round: usize, what: &str, r: &Gql, codes: &[&str]) -> bool {
    never_internal(round, what, r);
    if acked(r) {
        return true;
    }
    assert!(
        codes.contains(&r.code()),
        "round {round}: {what} was refused with {:?}, expected one of {codes:?}: {:#}",
        refusal(r),
        json!(r.errors)
    );
    false
}

/// A string of a response.
#[track_caller]
pub fn text(value: &Value) -> String {
    value
        .as_str()
        .unwrap_or_else(|| panic!("expected a string, got {value:#}"))
        .to_owned()
}

/// The ids of a list of `{id}` objects, sorted.
pub fn sorted_ids(list: &Value) -> Vec<String> {
    let mut ids: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("expected a list, got {list:#}"))
        .iter()
        .map(|item| text(&item["id"]))
        .collect();
    ids.sort();
    ids
}

pub const ME: &str = "{ me { id status } }";
pub const LOGIN: &str =
    "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) {
    accessToken refreshToken mustChangePassword } }";
pub const REFRESH: &str = "mutation($t: String!) { refreshSession(input: {refreshToken: $t}) {
    accessToken refreshToken } }";
pub const USER: &str = "query($id: ID!) { user(id: $id) { id firstName language status
    mustChangePassword profile { id } siteGroups { id } sites { id } effectiveSites { id } } }";
pub const UPDATE_USER: &str =
    "mutation($i: UpdateUserInput!) { updateUser(input: $i) { user { id firstName } } }";
pub const DEACTIVATE: &str =
    "mutation($u: ID!) { deactivateUser(input: {userId: $u}) { user { id status } } }";

/// Whether `token` still answers `me` (any error is a refusal; INTERNAL is not one).
#[track_caller]
pub fn answers_me(round: usize, what: &str, r: &Gql) -> bool {
    never_internal(round, what, r);
    acked(r)
}

impl Stage {
    /// The user as the holder of `token` reads them (see [`USER`]); panics when unreadable.
    pub async fn read_user(&self, round: usize, token: &str, id: &str) -> Value {
        let r = self.ask(Some(token), USER, json!({"id": id})).await;
        assert!(
            acked(&r) && r.data["user"].is_object(),
            "round {round}: user {id} could not be read back: {r:#?}"
        );
        r.data["user"].clone()
    }

    /// Whether `token` still answers `me`.
    pub async fn still_signed_in(&self, round: usize, token: &str) -> bool {
        let r = self.ask(Some(token), ME, json!({})).await;
        answers_me(round, "me", &r)
    }

    /// Signs in with `login` and `password`; the answer (not unwrapped).
    pub async fn sign_in(&self, login: &str, password: &str) -> Gql {
        self.ask(None, LOGIN, json!({"l": login, "p": password}))
            .await
    }

    /// A profile of `org` for ordinary staff (books for themselves, no e-mail required).
    pub async fn staff_profile(&self, org: &Org, name: &str) -> String {
        self.create_profile(
            &org.admin_token,
            &org.id,
            name,
            json!({"bookings": "SELF", "modules": ["rooms"]}),
        )
        .await
    }

    /// A person of `org` with a username (`login`) and `profile`, created by its administrator
    /// and signed in with [`concierge_tests::CHOSEN_PASSWORD`]; returns (id, access token).
    pub async fn person(&self, org: &Org, login: &str, profile: &str) -> (String, String) {
        self.user_with_token(
            &org.admin_token,
            &org.id,
            json!({"firstName": "Before", "lastName": "Race", "username": login,
                "profileId": profile}),
        )
        .await
    }
}
