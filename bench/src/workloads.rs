//! The workloads: each measures the real stack and its ceiling in the same run, and returns rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use concierge_api::app::AppState;
use concierge_api::http::router;
use concierge_storage_memory::MemoryStore;
use concierge_storage_postgres::PgStore;
use diesel_async::{AsyncPgConnection, SimpleAsyncConnection as _};
use hyper::Uri;
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::ceiling::{self, Ceiling};
use crate::load::{Http, Load, Sample, drive, graphql_body, quantile_ms};
use crate::pg::{CountingProxy, Counts, PgPool};
use crate::report::{Row, ms, rate, ratio};
use crate::setup::{BOOKING_ROOMS, Fixture, PAGE_QUERY, Server, USER_FIELDS, state};

/// How long and how hard every workload runs.
#[derive(Debug, Clone)]
pub struct Options {
    pub clients: usize,
    pub warmup: Duration,
    pub duration: Duration,
    /// The login workload's loaded phase (the `me` probe runs alongside).
    pub login_duration: Duration,
    pub fanout_subscribers: Vec<usize>,
    pub fanout_rounds: usize,
    /// Sequential requests whose storage calls or statements are counted.
    pub counted_requests: u64,
    /// Most requests of one measurement.
    pub max_requests: u64,
}

impl Options {
    pub fn load(&self) -> Load {
        Load {
            clients: self.clients,
            warmup: self.warmup,
            duration: self.duration,
            max_requests: self.max_requests,
        }
    }
}

/// The backend a workload runs on, with what its ceilings and counts need.
#[derive(Clone)]
pub enum Backend {
    Memory(MemoryStore),
    /// The pool of the hand-written ceilings, and the database URL (for the counting instance).
    Postgres {
        pool: PgPool,
        url: String,
    },
}

impl Backend {
    pub fn name(&self) -> &'static str {
        match self {
            Backend::Memory(_) => "memory",
            Backend::Postgres { .. } => "postgresql",
        }
    }

    fn ceiling_path(&self, what: &str) -> String {
        match self {
            Backend::Memory(_) => format!("/memory/{what}"),
            Backend::Postgres { .. } => format!("/pg/{what}"),
        }
    }

    fn ceiling_state(&self, fixture: &Fixture) -> Ceiling {
        let mut ceiling = Ceiling {
            users: fixture.users.clone(),
            ..Ceiling::default()
        };
        if let Backend::Postgres { pool, .. } = self {
            ceiling.pg = Some(pool.clone());
        }
        ceiling
    }
}

type BodyFn = Arc<dyn Fn(usize, u64) -> Bytes + Send + Sync>;

/// Where and what one measurement sends: the body from (client, sequence), the token by client.
#[derive(Clone)]
pub struct Target {
    uri: Uri,
    tokens: Arc<Vec<String>>,
    body: BodyFn,
}

impl Target {
    fn new(uri: Uri, tokens: Vec<String>, body: BodyFn) -> Target {
        Target {
            uri,
            tokens: Arc::new(tokens),
            body,
        }
    }

    fn fixed(uri: Uri, tokens: Vec<String>, body: Bytes) -> Target {
        Self::new(uri, tokens, Arc::new(move |_, _| body.clone()))
    }

    /// Cycles through `bodies` by sequence number.
    fn cycling(uri: Uri, tokens: Vec<String>, bodies: Vec<Bytes>) -> Target {
        Self::new(
            uri,
            tokens,
            Arc::new(move |_, sequence| bodies[sequence as usize % bodies.len()].clone()),
        )
    }

    /// Cycles through `bodies` by client.
    fn per_client(uri: Uri, tokens: Vec<String>, bodies: Vec<Bytes>) -> Target {
        Self::new(
            uri,
            tokens,
            Arc::new(move |client, _| bodies[client % bodies.len()].clone()),
        )
    }

    fn at(&self, uri: Uri) -> Target {
        Target {
            uri,
            ..self.clone()
        }
    }

    async fn once(&self, http: &Http, client: usize, sequence: u64) -> Result<Bytes, String> {
        let token =
            (!self.tokens.is_empty()).then(|| self.tokens[client % self.tokens.len()].as_str());
        http.post(&self.uri, token, (self.body)(client, sequence))
            .await
    }
}

async fn measure(http: &Http, target: &Target, load: Load) -> Sample {
    let (http, target) = (http.clone(), target.clone());
    drive(load, move |client, sequence| {
        let (http, target) = (http.clone(), target.clone());
        async move { target.once(&http, client, sequence).await.map(|_| ()) }
    })
    .await
}

/// Segments in which a measurement and its ceiling alternate, so that a burst of load from
/// elsewhere on the machine weighs on both alike.
const SEGMENTS: u32 = 3;

/// Measures `measured` and `ceiling` in alternating segments (ceiling first), each a third of
/// `load`'s duration and count with its own short warm-up; returns (measured, ceiling).
async fn measure_pair(
    http: &Http,
    measured: &Target,
    ceiling: &Target,
    load: Load,
) -> (Sample, Sample) {
    let segment = Load {
        warmup: (load.warmup / SEGMENTS).max(Duration::from_millis(200)),
        duration: load.duration / SEGMENTS,
        max_requests: load.max_requests / u64::from(SEGMENTS),
        ..load
    };
    let (mut m, mut c) = (Sample::default(), Sample::default());
    for _ in 0..SEGMENTS {
        c.merge(measure(http, ceiling, segment).await);
        m.merge(measure(http, measured, segment).await);
    }
    (m, c)
}

async fn sequential(http: &Http, target: &Target, from: u64, count: u64) -> Result<(), String> {
    for sequence in from..from + count {
        target.once(http, 0, sequence).await?;
    }
    Ok(())
}

/// A second application on the same database whose store connects through the counting proxy,
/// so the statements of a few sequential requests can be told apart from everything else.
struct Counting {
    proxy: CountingProxy,
    server: Server,
}

impl Counting {
    async fn start(url: &str) -> Result<Counting, String> {
        let proxy = CountingProxy::start(url).await?;
        proxy.self_check().await?;
        let store = PgStore::connect(&proxy.url, 4)
            .await
            .map_err(|e| format!("counting store: {e}"))?;
        let attempts = Arc::new(store.attempt_counter());
        let state: AppState = state(Arc::new(store), attempts)?;
        let server = Server::start(router(state)).await?;
        Ok(Counting { proxy, server })
    }
}

/// The storage calls (memory) or statements (PostgreSQL) of one request of `target`, as a note.
async fn cost_note(opts: &Options, http: &Http, backend: &Backend, target: &Target) -> String {
    let n = opts.counted_requests.max(1);
    match backend {
        Backend::Memory(store) => {
            let outcome = async {
                sequential(http, target, 0, 3).await?;
                let before = store.calls();
                sequential(http, target, 3, n).await?;
                Ok::<_, String>(store.calls() - before)
            }
            .await;
            match outcome {
                Ok(calls) => format!("storage calls/request: {:.1}", calls as f64 / n as f64),
                Err(error) => format!("storage calls not counted: {error}"),
            }
        }
        Backend::Postgres { url, .. } => {
            let outcome = async {
                let counting = Counting::start(url).await?;
                let target = target.at(counting.server.uri("/graphql"));
                sequential(http, &target, 0, 3).await?;
                // Let the listener's catch-up after the warm-up requests finish.
                tokio::time::sleep(Duration::from_millis(100)).await;
                let before = counting.proxy.counters.snapshot();
                sequential(http, &target, 3, n).await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<Counts, String>(counting.proxy.counters.snapshot() - before)
            }
            .await;
            match outcome {
                Ok(counts) => {
                    let per = |x: u64| x as f64 / n as f64;
                    let mut note = format!(
                        "SQL statements/request: {:.1} ({:.1} round trips, {:.1} prepared on the spot)",
                        per(counts.statements),
                        per(counts.round_trips),
                        per(counts.parses)
                    );
                    if counts.listener_statements > 0 {
                        note.push_str(&format!(
                            " + {:.1} on the event listener",
                            per(counts.listener_statements)
                        ));
                    }
                    note
                }
                Err(error) => format!("statements not counted: {error}"),
            }
        }
    }
}

fn ceiling_server(backend: &Backend, fixture: &Fixture) -> Arc<Ceiling> {
    Arc::new(backend.ceiling_state(fixture))
}

/// `{ __typename }` through the whole stack vs a bare axum JSON route.
pub async fn graphql_overhead(
    opts: &Options,
    http: &Http,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let bare = Server::start(ceiling::router(Arc::new(Ceiling::default()))).await?;
    let body = graphql_body("{ __typename }", json!({}));
    let measured = Target::fixed(app.uri("/graphql"), vec![], body.clone());
    let ceiling = Target::fixed(bare.uri("/typename"), vec![], body);
    measured.once(http, 0, 0).await?;
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, opts.load()).await;
    Ok(vec![Row::versus(
        "graphql-overhead `{ __typename }`",
        "(none)",
        &sample,
        "req/s",
        &ceiling_sample,
        "bare axum JSON route",
        vec![format!("{} clients", opts.clients)],
    )])
}

/// A page of 50 users with profile, sites and organization.
pub async fn users_page(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let token = fixture.company.admin_token.clone();
    let variables = fixture.page_variables();
    let measured = Target::fixed(
        app.uri("/graphql"),
        vec![token],
        graphql_body(PAGE_QUERY, variables.clone()),
    );
    let first: Value = serde_json::from_slice(&measured.once(http, 0, 0).await?)
        .map_err(|e| format!("users page: {e}"))?;
    let nodes: Vec<Value> = first["data"]["users"]["edges"]
        .as_array()
        .map(|edges| edges.iter().map(|e| e["node"].clone()).collect())
        .unwrap_or_default();
    if nodes.len() != 50 {
        return Err(format!("the page has {} users, not 50", nodes.len()));
    }
    let mut state = backend.ceiling_state(fixture);
    state.page = nodes;
    let bare = Server::start(ceiling::router(Arc::new(state))).await?;
    let ceiling = Target::fixed(
        bare.uri(&backend.ceiling_path("users-page")),
        vec![],
        Bytes::from(variables.to_string()),
    );
    let rows: Value = serde_json::from_slice(&ceiling.once(http, 0, 0).await?)
        .map_err(|e| format!("ceiling page: {e}"))?;
    let ceiling_rows = rows["data"]["users"]["edges"]
        .as_array()
        .map_or(0, Vec::len);
    if ceiling_rows != 50 {
        return Err(format!(
            "the ceiling's page has {ceiling_rows} rows, not 50"
        ));
    }
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, opts.load()).await;
    let cost = cost_note(opts, http, backend, &measured).await;
    let ceiling_name = match backend {
        Backend::Memory(_) => "bare route, rows from a Vec",
        Backend::Postgres { .. } => "bare route, one hand-written SQL query",
    };
    Ok(vec![Row::versus(
        "users-page (50 users + profile, sites, organization)",
        backend.name(),
        &sample,
        "req/s",
        &ceiling_sample,
        ceiling_name,
        vec![cost, format!("{} clients", opts.clients)],
    )])
}

fn user_query_body(id: &str) -> Bytes {
    graphql_body(
        &format!("query($id: ID!) {{ user(id: $id) {{ {USER_FIELDS} }} }}"),
        json!({"id": id}),
    )
}

fn id_body(id: &str) -> Bytes {
    Bytes::from(json!({"id": id}).to_string())
}

fn single_ceiling_name(backend: &Backend) -> &'static str {
    match backend {
        Backend::Memory(_) => "bare route, HashMap read",
        Backend::Postgres { .. } => "bare route, one SELECT by id",
    }
}

/// `user(id)` as the company's administrator, over the listed users.
pub async fn user_by_id(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let measured = Target::cycling(
        app.uri("/graphql"),
        vec![fixture.company.admin_token.clone()],
        fixture
            .listed
            .iter()
            .map(|id| user_query_body(id))
            .collect(),
    );
    let bare = Server::start(ceiling::router(ceiling_server(backend, fixture))).await?;
    let ceiling = Target::cycling(
        bare.uri(&backend.ceiling_path("user")),
        vec![],
        fixture.listed.iter().map(|id| id_body(id)).collect(),
    );
    measured.once(http, 0, 0).await?;
    ceiling.once(http, 0, 0).await?;
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, opts.load()).await;
    let cost = cost_note(opts, http, backend, &measured).await;
    Ok(vec![Row::versus(
        "user-by-id",
        backend.name(),
        &sample,
        "req/s",
        &ceiling_sample,
        single_ceiling_name(backend),
        vec![cost, format!("{} clients", opts.clients)],
    )])
}

fn me_target(fixture: &Fixture, app: &Server) -> Target {
    Target::fixed(
        app.uri("/graphql"),
        fixture.bookers.iter().map(|b| b.token.clone()).collect(),
        graphql_body(&format!("{{ me {{ {USER_FIELDS} }} }}"), json!({})),
    )
}

/// `me` for signed-in users (one per client).
pub async fn me(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let measured = me_target(fixture, app);
    let bare = Server::start(ceiling::router(ceiling_server(backend, fixture))).await?;
    let ceiling = Target::per_client(
        bare.uri(&backend.ceiling_path("user")),
        vec![],
        fixture.bookers.iter().map(|b| id_body(&b.id)).collect(),
    );
    measured.once(http, 0, 0).await?;
    ceiling.once(http, 0, 0).await?;
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, opts.load()).await;
    let cost = cost_note(opts, http, backend, &measured).await;
    Ok(vec![Row::versus(
        "me",
        backend.name(),
        &sample,
        "req/s",
        &ceiling_sample,
        single_ceiling_name(backend),
        vec![
            cost,
            format!(
                "{} clients; the ceiling skips the token check",
                opts.clients
            ),
        ],
    )])
}

/// Distinct 15-minute slots over the booking rooms, from tomorrow (UTC) on: slot `k` is room
/// `k % rooms`, the `k / rooms`-th quarter hour after tomorrow's midnight.
pub struct Slots {
    next: AtomicU64,
    base: DateTime<Utc>,
}

/// Quarter hours per room (85 days, within the rooms' 90-day horizon).
const QUARTERS_PER_ROOM: u64 = 85 * 96;

impl Slots {
    /// Slots from tomorrow's midnight (UTC), within the rooms' horizon.
    pub fn new() -> Slots {
        Self::days_ahead(1)
    }

    /// Slots from midnight (UTC) `days` days ahead: the raw-INSERT ceiling books far beyond the
    /// horizon (which only the application checks), in the same rooms, so it never collides.
    pub fn days_ahead(days: i64) -> Slots {
        let day = (Utc::now() + chrono::Duration::days(days)).date_naive();
        Slots {
            next: AtomicU64::new(0),
            base: day.and_time(chrono::NaiveTime::MIN).and_utc(),
        }
    }

    fn remaining(&self) -> u64 {
        (QUARTERS_PER_ROOM * BOOKING_ROOMS as u64).saturating_sub(self.next.load(Ordering::SeqCst))
    }

    /// (room index, start, end) of the next free slot.
    fn take(&self) -> (usize, String, String) {
        let k = self.next.fetch_add(1, Ordering::SeqCst);
        let rooms = BOOKING_ROOMS as u64;
        let start = self.base + chrono::Duration::minutes(15 * (k / rooms) as i64);
        let end = start + chrono::Duration::minutes(15);
        (
            (k % rooms) as usize,
            start.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            end.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        )
    }
}

const BOOKING_MUTATION: &str =
    "mutation($i: CreateBookingInput!) { createBooking(input: $i) { booking { id } } }";

/// Concurrent bookings of distinct slots, each client a different person booking for themselves.
pub async fn create_booking(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
    slots: &Arc<Slots>,
) -> Result<Vec<Row>, String> {
    let rooms = Arc::new(fixture.rooms.clone());
    let measured = {
        let (slots, rooms) = (Arc::clone(slots), Arc::clone(&rooms));
        Target::new(
            app.uri("/graphql"),
            fixture.bookers.iter().map(|b| b.token.clone()).collect(),
            Arc::new(move |_, _| {
                let (room, start, end) = slots.take();
                graphql_body(
                    BOOKING_MUTATION,
                    json!({"i": {"roomId": rooms[room], "start": start, "end": end, "title": "Bench"}}),
                )
            }),
        )
    };
    let bare = Server::start(ceiling::router(ceiling_server(backend, fixture))).await?;
    let ceiling = {
        let (slots, rooms) = (Arc::new(Slots::days_ahead(1000)), Arc::clone(&rooms));
        let users: Vec<String> = fixture.bookers.iter().map(|b| b.id.clone()).collect();
        Target::new(
            bare.uri(&backend.ceiling_path("booking")),
            vec![],
            Arc::new(move |client, _| {
                let (room, start, end) = slots.take();
                Bytes::from(
                    json!({"room": rooms[room], "user": users[client % users.len()],
                        "start": start, "end": end, "title": "Bench"})
                    .to_string(),
                )
            }),
        )
    };
    measured.once(http, 0, 0).await?;
    ceiling.once(http, 0, 0).await?;
    // Leave slots for the counted requests.
    let bounded = Load {
        max_requests: opts
            .max_requests
            .min(slots.remaining().saturating_sub(opts.counted_requests + 10)),
        ..opts.load()
    };
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, bounded).await;
    let cost = cost_note(opts, http, backend, &measured).await;
    let ceiling_name = match backend {
        Backend::Memory(_) => "bare route, insert into a mutex-guarded HashMap",
        Backend::Postgres { .. } => "bare route, one raw INSERT into bookings",
    };
    Ok(vec![Row::versus(
        "create-booking (distinct slots)",
        backend.name(),
        &sample,
        "bookings/s",
        &ceiling_sample,
        ceiling_name,
        vec![
            cost,
            format!("{} concurrent clients, {BOOKING_ROOMS} rooms", opts.clients),
        ],
    )])
}

/// Verifications per second of the production Argon2 parameters on every core, and one
/// verification's time.
fn raw_argon2(duration: Duration) -> Result<(u64, f64, usize, f64), String> {
    use argon2::password_hash::{
        PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString,
    };
    use argon2::{Algorithm, Argon2, Params, Version};
    let cost = concierge_domain::secrets::Argon2Cost::OWASP;
    let params = Params::new(cost.memory_kib, cost.iterations, cost.parallelism, None)
        .map_err(|e| format!("argon2: {e}"))?;
    let argon2 = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
    let salt = SaltString::encode_b64(b"concierge-bench!").map_err(|e| format!("salt: {e}"))?;
    let password = b"correct horse battery staple";
    let hash = argon2
        .hash_password(password, &salt)
        .map_err(|e| format!("argon2: {e}"))?
        .to_string();
    let single = Instant::now();
    let parsed = PasswordHash::new(&hash).map_err(|e| format!("argon2: {e}"))?;
    argon2
        .verify_password(password, &parsed)
        .map_err(|e| format!("argon2: {e}"))?;
    let single_ms = single.elapsed().as_secs_f64() * 1000.0;
    let threads = std::thread::available_parallelism().map_or(1, usize::from);
    let started = Instant::now();
    let deadline = started + duration;
    let total: u64 = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| {
                    let mut done = 0u64;
                    while Instant::now() < deadline {
                        if let Ok(parsed) = PasswordHash::new(&hash)
                            && argon2.verify_password(password, &parsed).is_ok()
                        {
                            done += 1;
                        }
                    }
                    done
                })
            })
            .collect();
        workers.into_iter().map(|w| w.join().unwrap_or(0)).sum()
    });
    Ok((total, started.elapsed().as_secs_f64(), threads, single_ms))
}

/// Logins with production Argon2 from `clients` clients, and a `me` probe alongside. Nothing in
/// it depends on the backend but the rows' label: a login reads the account and writes a session
/// on either, and the probe reads like the `me` workload.
pub async fn login_under_load(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let login = Target::per_client(
        app.uri("/graphql"),
        vec![],
        fixture
            .bookers
            .iter()
            .map(|b| {
                graphql_body(
                    "mutation($l: String!, $p: String!) { login(input: {login: $l, password: $p}) { accessToken } }",
                    json!({"l": b.login, "p": Fixture::password()}),
                )
            })
            .collect(),
    );
    login.once(http, 0, 0).await?;
    let probe = me_target(fixture, app);
    // Segments alternate raw hashing, the idle probe, and logins with the probe alongside, so
    // that the machine's drift weighs on the measurement and its ceilings alike.
    let segment = opts.login_duration / SEGMENTS;
    let raw_segment = (opts.duration / SEGMENTS).min(Duration::from_secs(1));
    let probe_load = Load {
        clients: 1,
        warmup: Duration::from_millis(100),
        duration: raw_segment,
        max_requests: opts.max_requests,
    };
    let login_load = Load {
        clients: opts.clients,
        warmup: Duration::from_millis(500),
        duration: segment,
        max_requests: opts.max_requests,
    };
    // The probe starts recording once the logins have filled the hashing threads.
    let loaded_probe = Load {
        clients: 1,
        warmup: Duration::from_millis(700),
        duration: segment.saturating_sub(Duration::from_millis(300)),
        max_requests: opts.max_requests,
    };
    let (mut raw_count, mut raw_seconds, mut threads, mut single_ms) = (0u64, 0.0f64, 1, 0.0);
    let (mut idle, mut logins, mut loaded) =
        (Sample::default(), Sample::default(), Sample::default());
    for index in 0..SEGMENTS {
        let (count, seconds, t, one) = tokio::task::spawn_blocking(move || raw_argon2(raw_segment))
            .await
            .map_err(|e| format!("argon2 task: {e}"))??;
        raw_count += count;
        raw_seconds += seconds;
        threads = t;
        if index == 0 {
            single_ms = one;
        }
        idle.merge(measure(http, &probe, probe_load).await);
        let (l, p) = tokio::join!(
            measure(http, &login, login_load),
            measure(http, &probe, loaded_probe)
        );
        logins.merge(l);
        loaded.merge(p);
    }
    let raw_rate = raw_count as f64 / raw_seconds.max(f64::EPSILON);
    let raw = Sample {
        latencies_us: vec![(single_ms * 1000.0) as u64],
        seconds: 1.0,
        ..Sample::default()
    };
    let mut login_row = Row::versus(
        "login-under-load (production Argon2)",
        backend.name(),
        &logins,
        "logins/s",
        &raw,
        "",
        vec![format!(
            "{} concurrent login clients; Argon2id m=19 MiB t=2 p=1",
            opts.clients
        )],
    );
    login_row.ceiling = format!(
        "raw Argon2 verifications on {threads} threads: {} /s (one: {})",
        rate(raw_rate),
        ms(single_ms)
    );
    login_row.ratio = ratio(logins.throughput(), raw_rate);
    let inflation = loaded.quantile_ms(0.99) / idle.quantile_ms(0.99);
    let probe_row = Row::versus(
        "`me` p99 while logins saturate hashing",
        backend.name(),
        &loaded,
        "req/s",
        &idle,
        "same probe, idle",
        vec![format!(
            "1 sequential client; p99 ×{inflation:.1} vs idle (p50 idle {})",
            ms(idle.quantile_ms(0.5))
        )],
    );
    Ok(vec![login_row, probe_row])
}

/// Resident memory of this process, bytes.
fn rss_bytes() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

/// Set by the first [`booking_fanout`] of the process. The memory a fan-out's subscribers free
/// stays resident and the next fan-out reuses it, so only the first one's resident-set growth is
/// its own.
static FANOUT_RAN: AtomicBool = AtomicBool::new(false);

/// How long the subscribers of one run may take to subscribe (and to have a warm-up event).
const SUBSCRIBE_TIMEOUT: Duration = Duration::from_secs(60);
/// How long every subscriber may take to have one measured event.
const ROUND_TIMEOUT: Duration = Duration::from_secs(30);
/// A warm-up event that has not reached every subscriber is followed by another once no
/// subscriber's stream has been polled for this long since it was issued (nothing under way: a
/// subscriber that joined after it was issued never gets it).
const WARMUP_QUIET: Duration = Duration::from_millis(250);
const MAX_WARMUPS: usize = 200;

/// One event of a fan-out run: warm-ups until every subscriber listens, then the measured rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FanoutEvent {
    WarmUp(usize),
    Round(usize),
}

impl FanoutEvent {
    /// The booking's title, which its subscribers read back.
    fn title(self) -> String {
        match self {
            FanoutEvent::WarmUp(k) => format!("Fan-out warm-up {k}"),
            FanoutEvent::Round(r) => format!("Fan-out {r}"),
        }
    }

    fn from_title(title: &str) -> Option<FanoutEvent> {
        if let Some(k) = title.strip_prefix("Fan-out warm-up ") {
            return k.parse().ok().map(FanoutEvent::WarmUp);
        }
        title
            .strip_prefix("Fan-out ")?
            .parse()
            .ok()
            .map(FanoutEvent::Round)
    }

    /// The payload of the bare ceilings: a round as itself, warm-up `k` as `-(k + 1)`.
    fn code(self) -> i64 {
        match self {
            FanoutEvent::WarmUp(k) => -(k as i64) - 1,
            FanoutEvent::Round(r) => r as i64,
        }
    }

    fn from_code(code: i64) -> FanoutEvent {
        if code < 0 {
            FanoutEvent::WarmUp((-code - 1) as usize)
        } else {
            FanoutEvent::Round(code as usize)
        }
    }
}

/// What the subscribers of one run report as they go, for the driver to wait on.
struct Tally {
    subscribers: u64,
    /// Subscriber tasks waiting on their stream (whose first poll subscribes).
    polling: AtomicU64,
    /// Polls of the subscribers' streams: a subscriber busy with an event (subscribing, its
    /// access check, its reads, its resolution) is polled again at every step, so while this
    /// stands still nothing is under way.
    polls: AtomicU64,
    /// Per warm-up: the subscribers that had it.
    warm: Vec<AtomicU64>,
    /// Subscribers that had at least one event.
    ready: AtomicU64,
    /// Receipts of measured rounds.
    received: AtomicU64,
    /// Subscribers whose stream failed or ended.
    failed: AtomicU64,
}

impl Tally {
    fn new(subscribers: usize) -> Arc<Tally> {
        Arc::new(Tally {
            subscribers: subscribers as u64,
            polling: AtomicU64::new(0),
            polls: AtomicU64::new(0),
            warm: (0..MAX_WARMUPS).map(|_| AtomicU64::new(0)).collect(),
            ready: AtomicU64::new(0),
            received: AtomicU64::new(0),
            failed: AtomicU64::new(0),
        })
    }
}

/// One subscriber's receipt instants by round, and what went wrong.
struct Receipts {
    seen: Vec<Option<Instant>>,
    got: usize,
    warmed: bool,
    errors: u64,
    first_error: Option<String>,
}

impl Receipts {
    fn new(rounds: usize) -> Receipts {
        Receipts {
            seen: vec![None; rounds],
            got: 0,
            warmed: false,
            errors: 0,
            first_error: None,
        }
    }

    fn complete(&self) -> bool {
        self.got >= self.seen.len()
    }

    /// Records an event received at `at` (`None`: one this run did not send).
    fn record(&mut self, tally: &Tally, event: Option<FanoutEvent>, at: Instant) {
        if !self.warmed {
            self.warmed = true;
            tally.ready.fetch_add(1, Ordering::SeqCst);
        }
        match event {
            Some(FanoutEvent::WarmUp(k)) => {
                if let Some(count) = tally.warm.get(k) {
                    count.fetch_add(1, Ordering::SeqCst);
                }
            }
            Some(FanoutEvent::Round(r)) => {
                if let Some(slot @ None) = self.seen.get_mut(r) {
                    *slot = Some(at);
                    self.got += 1;
                    tally.received.fetch_add(1, Ordering::SeqCst);
                }
            }
            None => {}
        }
    }

    /// The subscriber's stream failed with `error` (`tally`: while the run goes on).
    fn fail(mut self, tally: Option<&Tally>, error: String) -> Receipts {
        if let Some(tally) = tally {
            tally.failed.fetch_add(1, Ordering::SeqCst);
        }
        self.errors += 1;
        self.first_error.get_or_insert(error);
        self
    }
}

struct Fanout {
    /// Per delivery: receipt minus the instant the event was issued, microseconds, sorted.
    latencies_us: Vec<u64>,
    deliveries_per_s: f64,
    /// Per round: issue to the issuer's answer (the booking mutation's, the `NOTIFY`'s), sorted.
    answered_us: Vec<u64>,
    rss_per_subscriber: Option<f64>,
    errors: u64,
    first_error: Option<String>,
}

impl Fanout {
    fn as_sample(&self) -> Sample {
        Sample {
            latencies_us: self.latencies_us.clone(),
            seconds: if self.deliveries_per_s > 0.0 {
                self.latencies_us.len() as f64 / self.deliveries_per_s
            } else {
                0.0
            },
            errors: self.errors,
            first_error: self.first_error.clone(),
        }
    }
}

fn summarise(driven: &Driven, receipts: Vec<Receipts>) -> Fanout {
    let issued = &driven.issued;
    let mut latencies = Vec::new();
    let mut span = vec![Duration::ZERO; issued.len()];
    let (mut errors, mut first_error) = (0, None);
    for subscriber in receipts {
        errors += subscriber.errors;
        if first_error.is_none() {
            first_error = subscriber.first_error;
        }
        for (round, at) in subscriber.seen.iter().enumerate().take(issued.len()) {
            let Some(at) = at else { continue };
            let took = at.saturating_duration_since(issued[round]);
            latencies.push(took.as_micros() as u64);
            span[round] = span[round].max(took);
        }
    }
    latencies.sort_unstable();
    let total: f64 = span.iter().map(Duration::as_secs_f64).sum();
    let mut answered_us = driven.answered_us.clone();
    answered_us.sort_unstable();
    Fanout {
        deliveries_per_s: if total > 0.0 {
            latencies.len() as f64 / total
        } else {
            0.0
        },
        latencies_us: latencies,
        answered_us,
        rss_per_subscriber: None,
        errors,
        first_error,
    }
}

async fn wait_until(deadline: Duration, mut done: impl FnMut() -> bool) -> bool {
    let until = Instant::now() + deadline;
    while !done() {
        if Instant::now() >= until {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    true
}

/// What sends a run's events.
enum Issuer<'a> {
    /// `createBooking` in the fan-out room (through the schema, in-process), the slots taken in
    /// turn from `slot`.
    Booking {
        fixture: &'a Fixture,
        slot: &'a AtomicU64,
    },
    /// A bare broadcast send.
    Broadcast(tokio::sync::broadcast::Sender<i64>),
    /// A bare `NOTIFY` on its own connection.
    Notify(Box<AsyncPgConnection>),
}

/// The channel of the PostgreSQL ceiling (not the store's).
const NOTIFY_CHANNEL: &str = "concierge_bench_fanout";

impl Issuer<'_> {
    /// Sends `event`; returns once the sender has its answer.
    async fn issue(&mut self, event: FanoutEvent) -> Result<(), String> {
        match self {
            Issuer::Booking { fixture, slot } => {
                let booker = fixture.bookers.first().ok_or("no booker")?;
                let slot = slot.fetch_add(1, Ordering::SeqCst);
                let start = Slots::new().base + chrono::Duration::minutes(15 * slot as i64);
                let end = start + chrono::Duration::minutes(15);
                let answer = fixture
                    .app
                    .gql(
                        Some(&booker.token),
                        BOOKING_MUTATION,
                        json!({"i": {"roomId": fixture.fanout_room, "start": start.to_rfc3339(),
                            "end": end.to_rfc3339(), "title": event.title()}}),
                    )
                    .await;
                if answer.errors.is_empty() {
                    Ok(())
                } else {
                    Err(format!("booking for the fan-out: {}", answer.message()))
                }
            }
            Issuer::Broadcast(sender) => {
                // No receiver left is the subscribers' failure, counted on their side.
                let _ = sender.send(event.code());
                Ok(())
            }
            Issuer::Notify(conn) => conn
                .batch_execute(&format!("NOTIFY {NOTIFY_CHANNEL}, '{}'", event.code()))
                .await
                .map_err(|e| format!("NOTIFY: {e}")),
        }
    }
}

/// Issue instants and answer times of a run's measured rounds, and the resident set once every
/// subscriber had a first event.
struct Driven {
    issued: Vec<Instant>,
    answered_us: Vec<u64>,
    rss_when_ready: u64,
}

/// Drives one run: once every subscriber task polls its stream, warm-up events until every
/// subscriber has had the latest one (so every subscriber listens, and none is still busy with an
/// earlier warm-up: a subscriber receives in order), a new one each time nothing is under way any
/// more ([`WARMUP_QUIET`]) and the previous one has not reached everyone; then `rounds` measured
/// events, each issued once every subscriber has the previous one (a round that is not complete
/// in [`ROUND_TIMEOUT`], or a failed subscription, ends the run: missing receipts are errors).
async fn drive_fanout(
    tally: &Tally,
    rounds: usize,
    issuer: &mut Issuer<'_>,
) -> Result<Driven, String> {
    let n = tally.subscribers;
    if !wait_until(SUBSCRIBE_TIMEOUT, || {
        tally.polling.load(Ordering::SeqCst) >= n
    })
    .await
    {
        return Err(format!(
            "only {} of {n} subscriber tasks started in {} s",
            tally.polling.load(Ordering::SeqCst),
            SUBSCRIBE_TIMEOUT.as_secs()
        ));
    }
    let deadline = Instant::now() + SUBSCRIBE_TIMEOUT;
    let mut warmup = 0;
    loop {
        if warmup >= MAX_WARMUPS {
            return Err(format!(
                "only {} of {n} subscribers had an event after {warmup} warm-up events",
                tally.ready.load(Ordering::SeqCst)
            ));
        }
        issuer.issue(FanoutEvent::WarmUp(warmup)).await?;
        let mut progress = (tally.polls.load(Ordering::SeqCst), Instant::now());
        let everyone = loop {
            if tally.warm[warmup].load(Ordering::SeqCst) >= n {
                break true;
            }
            let failed = tally.failed.load(Ordering::SeqCst);
            if failed > 0 {
                return Err(format!(
                    "{failed} of {n} subscriptions failed while warming up"
                ));
            }
            if Instant::now() >= deadline {
                return Err(format!(
                    "only {} of {n} subscribers had an event after {warmup} warm-up events and {} s",
                    tally.ready.load(Ordering::SeqCst),
                    SUBSCRIBE_TIMEOUT.as_secs()
                ));
            }
            let polls = tally.polls.load(Ordering::SeqCst);
            if polls != progress.0 {
                progress = (polls, Instant::now());
            } else if progress.1.elapsed() >= WARMUP_QUIET {
                break false;
            }
            tokio::time::sleep(Duration::from_millis(5)).await;
        };
        if everyone {
            break;
        }
        warmup += 1;
    }
    let rss_when_ready = rss_bytes();
    let mut driven = Driven {
        issued: Vec::with_capacity(rounds),
        answered_us: Vec::with_capacity(rounds),
        rss_when_ready,
    };
    for round in 0..rounds {
        let at = Instant::now();
        driven.issued.push(at);
        issuer.issue(FanoutEvent::Round(round)).await?;
        driven.answered_us.push(at.elapsed().as_micros() as u64);
        let target = (round as u64 + 1) * n;
        // A failed subscription will not have the rest: its missing receipts are errors.
        if !wait_until(ROUND_TIMEOUT, || {
            tally.received.load(Ordering::SeqCst) >= target
                || tally.failed.load(Ordering::SeqCst) > 0
        })
        .await
            || tally.failed.load(Ordering::SeqCst) > 0
        {
            break;
        }
    }
    Ok(driven)
}

/// The error of a subscriber task still running at the end.
const UNFINISHED: &str = "did not receive every event in";

/// Ends the subscriber tasks still running and collects every subscriber's receipts.
async fn collect(tasks: Vec<tokio::task::JoinHandle<Receipts>>, rounds: usize) -> Vec<Receipts> {
    for task in &tasks {
        if !task.is_finished() {
            task.abort();
        }
    }
    let mut receipts = Vec::with_capacity(tasks.len());
    for task in tasks {
        receipts.push(task.await.unwrap_or_else(|_| {
            Receipts::new(rounds).fail(None, format!("{UNFINISHED} {} s", ROUND_TIMEOUT.as_secs()))
        }));
    }
    receipts
}

/// `error`, with the first error a subscriber saw (why some never had an event, say).
fn with_first_error(error: String, receipts: &[Receipts]) -> String {
    // A subscriber's own error before those of the tasks ended by `collect`.
    let own = receipts
        .iter()
        .filter_map(|r| r.first_error.as_deref())
        .find(|e| !e.starts_with(UNFINISHED));
    match own.or_else(|| receipts.iter().find_map(|r| r.first_error.as_deref())) {
        Some(first) => format!("{error} (first subscriber error: {first})"),
        None => error,
    }
}

/// A field of a GraphQL object value.
fn field<'v>(value: &'v async_graphql::Value, name: &str) -> Option<&'v async_graphql::Value> {
    match value {
        async_graphql::Value::Object(map) => map.get(name),
        _ => None,
    }
}

/// Which event a subscription's `bookingEvents` item is, from the booking's title.
fn event_of(data: &async_graphql::Value) -> Option<FanoutEvent> {
    let booking = field(field(data, "bookingEvents")?, "booking")?;
    match field(booking, "title")? {
        async_graphql::Value::String(title) => FanoutEvent::from_title(title),
        _ => None,
    }
}

/// `subscribers` in-process subscriptions (the schema's `execute_stream`, as the WebSocket
/// handler drives them) to one room, on whatever store the fixture's application runs: bookings
/// reach them through the store's booking event feed (a broadcast in memory; on PostgreSQL,
/// NOTIFY to the store's listener, which reads the event back and broadcasts it). Each stream is
/// wrapped to count its polls (one atomic add each) for the driver's warm-ups.
async fn schema_fanout(
    fixture: &Fixture,
    on: &concierge_tests::TestApp,
    subscribers: usize,
    rounds: usize,
    slot: &AtomicU64,
) -> Result<(Fanout, u64), String> {
    use concierge_api::graphql::context::{RequestContext, SubscriberToken};
    use futures::StreamExt as _;
    let query = "subscription($r: ID!) { bookingEvents(roomId: $r) { kind booking { id start end title user { displayName } } } }";
    let tally = Tally::new(subscribers);
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let schema = on.state.schema.clone();
        let domain = on.state.domain.clone();
        let token = fixture.company.admin_token.clone();
        let room = fixture.fanout_room.clone();
        let tally = Arc::clone(&tally);
        tasks.push(tokio::spawn(async move {
            let context =
                RequestContext::for_subscriptions(&domain, Some(&token), Some("127.0.0.1".into()))
                    .await;
            let request = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(json!({"r": room})))
                .data(context)
                .data(SubscriberToken(Some(token)));
            let mut inner = Box::pin(schema.execute_stream(request));
            let counted = Arc::clone(&tally);
            let mut stream = futures::stream::poll_fn(move |cx| {
                counted.polls.fetch_add(1, Ordering::Relaxed);
                inner.poll_next_unpin(cx)
            });
            let mut receipts = Receipts::new(rounds);
            tally.polling.fetch_add(1, Ordering::SeqCst);
            while !receipts.complete() {
                match stream.next().await {
                    Some(response) if response.errors.is_empty() => {
                        let at = Instant::now();
                        receipts.record(&tally, event_of(&response.data), at);
                    }
                    Some(response) => {
                        let error = response.errors.first().map(|e| e.message.clone());
                        return receipts.fail(Some(&tally), error.unwrap_or_default());
                    }
                    None => return receipts.fail(Some(&tally), "the stream ended".into()),
                }
            }
            receipts
        }));
    }
    let mut issuer = Issuer::Booking { fixture, slot };
    let driven = drive_fanout(&tally, rounds, &mut issuer).await;
    let receipts = collect(tasks, rounds).await;
    let driven = driven.map_err(|e| with_first_error(e, &receipts))?;
    Ok((summarise(&driven, receipts), driven.rss_when_ready))
}

/// The ceilings: `subscribers` tasks on a bare tokio broadcast channel (the store's buffer size),
/// fed directly (memory), or (`notify_url`) by a task that relays each notification of a bare
/// LISTENing connection, sent by a bare `NOTIFY` on another connection of the same database.
async fn bare_fanout(
    subscribers: usize,
    rounds: usize,
    buffer: usize,
    notify_url: Option<&str>,
) -> Result<Fanout, String> {
    use futures::StreamExt as _;
    let (sender, _) = tokio::sync::broadcast::channel::<i64>(buffer);
    let tally = Tally::new(subscribers);
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut events = sender.subscribe();
            let tally = Arc::clone(&tally);
            tokio::spawn(async move {
                let mut receipts = Receipts::new(rounds);
                tally.polling.fetch_add(1, Ordering::SeqCst);
                while !receipts.complete() {
                    match events.recv().await {
                        Ok(code) => {
                            let at = Instant::now();
                            receipts.record(&tally, Some(FanoutEvent::from_code(code)), at);
                        }
                        Err(error) => return receipts.fail(Some(&tally), error.to_string()),
                    }
                }
                receipts
            })
        })
        .collect();
    let mut relay = None;
    let issuer = match notify_url {
        None => Ok(Issuer::Broadcast(sender)),
        Some(url) => {
            async {
                let mut listening = crate::pg::connect(url).await?;
                listening
                    .batch_execute(&format!("LISTEN {NOTIFY_CHANNEL}"))
                    .await
                    .map_err(|e| format!("LISTEN: {e}"))?;
                relay = Some(tokio::spawn(async move {
                    let mut notifications = std::pin::pin!(listening.notifications_stream());
                    while let Some(Ok(notification)) = notifications.next().await {
                        if let Ok(code) = notification.payload.parse::<i64>() {
                            let _ = sender.send(code);
                        }
                    }
                }));
                Ok(Issuer::Notify(Box::new(crate::pg::connect(url).await?)))
            }
            .await
        }
    };
    let driven = match issuer {
        Ok(mut issuer) => drive_fanout(&tally, rounds, &mut issuer).await,
        Err(error) => Err(error),
    };
    if let Some(relay) = relay {
        relay.abort();
    }
    let receipts = collect(tasks, rounds).await;
    let driven = driven.map_err(|e| with_first_error(e, &receipts))?;
    Ok(summarise(&driven, receipts))
}

/// Booking events to 1,000 and 5,000 subscribers of one room, on either backend.
///
/// Each run subscribes its subscribers, sends warm-up bookings until every subscriber has had
/// the latest one (the only sign, on every backend, that a subscription listens), then the
/// measured bookings, each once every subscriber has the previous one. Latency runs from issuing
/// the booking (so it includes the booking's own transaction and commit) to a subscriber's
/// stream yielding it.
///
/// Ceilings, measured the same way after the subscriptions:
/// - memory: a bare tokio broadcast channel (the store's buffer size) to as many tasks;
/// - PostgreSQL: the unavoidable database hop then the same broadcast: a bare `NOTIFY` on one
///   connection, received by a bare `LISTEN`ing connection (diesel-async, as the store's listener
///   listens) whose task relays the payload on the broadcast channel. Latency runs from issuing
///   the `NOTIFY` (a statement that commits on its own). What the ratio leaves out is the stack:
///   the booking's transaction, the listener reading the event back, and each subscriber's
///   checks and resolution of the event.
///
/// Memory per subscriber is the resident-set growth from one baseline, taken before the first
/// (smallest) run, to the moment every subscriber of a run has had its first event: memory a
/// smaller run freed is reused by the next, not counted twice. The ceilings run after, so their
/// freed memory cannot hide the subscribers'. Only the first fan-out of the process reports it:
/// a later one (PostgreSQL's after memory's) would reuse what the earlier one freed.
pub async fn booking_fanout(
    opts: &Options,
    fixture: &Fixture,
    backend: &Backend,
) -> Result<Vec<Row>, String> {
    let first_in_process = !FANOUT_RAN.swap(true, Ordering::SeqCst);
    let mut sizes = opts.fanout_subscribers.clone();
    sizes.sort_unstable();
    let baseline = rss_bytes();
    let slot = AtomicU64::new(0);
    let mut measured_runs = Vec::new();
    for &subscribers in &sizes {
        let (mut measured, rss) = schema_fanout(
            fixture,
            &fixture.app,
            subscribers,
            opts.fanout_rounds,
            &slot,
        )
        .await?;
        if first_in_process && rss > 0 {
            measured.rss_per_subscriber =
                Some(rss.saturating_sub(baseline) as f64 / subscribers as f64);
        }
        measured_runs.push((subscribers, measured));
    }
    let (buffer, notify_url, ceiling_name) = match backend {
        Backend::Memory(_) => (
            concierge_storage_memory::EVENT_BUFFER,
            None,
            "bare tokio broadcast to as many tasks",
        ),
        Backend::Postgres { url, .. } => (
            concierge_storage_postgres::EVENT_BUFFER,
            Some(url.as_str()),
            "bare NOTIFY → bare LISTENing connection → bare tokio broadcast to as many tasks",
        ),
    };
    let mut rows = Vec::new();
    for (subscribers, measured) in measured_runs {
        let ceiling = bare_fanout(subscribers, opts.fanout_rounds, buffer, notify_url).await?;
        let mut notes = vec![format!(
            "{} bookings, each issued once all had the previous one; the booking's own answer p50 {}",
            opts.fanout_rounds,
            ms(quantile_ms(&measured.answered_us, 0.5))
        )];
        if notify_url.is_some() {
            notes.push(format!(
                "ceiling p50 {} (the NOTIFY's answer p50 {})",
                ms(quantile_ms(&ceiling.latencies_us, 0.5)),
                ms(quantile_ms(&ceiling.answered_us, 0.5))
            ));
        }
        match measured.rss_per_subscriber {
            Some(bytes) => notes.push(format!("RSS +{:.1} KiB/subscriber", bytes / 1024.0)),
            None if !first_in_process => notes.push(format!(
                "RSS/subscriber not measured: it would reuse memory an earlier fan-out of the process freed (run --backend {} alone)",
                backend.name()
            )),
            None => {}
        }
        rows.push(Row::versus(
            &format!("booking-fanout to {subscribers} subscribers"),
            backend.name(),
            &measured.as_sample(),
            "deliveries/s",
            &ceiling.as_sample(),
            ceiling_name,
            notes,
        ));
    }
    Ok(rows)
}

/// Subscribers of the cross-replica run (and of its same-replica baseline).
const CROSS_REPLICA_SUBSCRIBERS: usize = 100;

/// Two servers on one database: bookings committed through the fixture's application (A), and
/// delivered to subscribers of a second application (B) with its own store, pool and listener,
/// against the same subscribers on A itself, measured in the same run. PostgreSQL only (on
/// memory there is one process, hence one replica).
pub async fn cross_replica(
    opts: &Options,
    fixture: &Fixture,
    backend: &Backend,
) -> Result<Vec<Row>, String> {
    let Backend::Postgres { url, .. } = backend else {
        return Ok(Vec::new());
    };
    let store = concierge_storage_postgres::PgStore::connect(url, 8)
        .await
        .map_err(|e| format!("replica B: {e}"))?;
    // The bench's configuration (its keys): B accepts the tokens A signs, as replicas do.
    let attempts = Arc::new(store.attempt_counter());
    let replica = concierge_tests::TestApp {
        state: crate::setup::state(Arc::new(store), attempts)?,
        memory: None,
        operator_token: String::new(),
    };
    // Slots of their own (15 minutes each), after the fan-out's and within the rooms' 90-day
    // horizon.
    let slot = AtomicU64::new(2_000);
    let rounds = opts.fanout_rounds.max(10);
    let (same, _) = schema_fanout(
        fixture,
        &fixture.app,
        CROSS_REPLICA_SUBSCRIBERS,
        rounds,
        &slot,
    )
    .await?;
    let (across, _) =
        schema_fanout(fixture, &replica, CROSS_REPLICA_SUBSCRIBERS, rounds, &slot).await?;
    Ok(vec![Row::versus(
        &format!(
            "cross-replica delivery: commit through A, {CROSS_REPLICA_SUBSCRIBERS} subscribers of B"
        ),
        backend.name(),
        &across.as_sample(),
        "deliveries/s",
        &same.as_sample(),
        "the same subscribers on A (the committing replica)",
        vec![format!(
            "{rounds} bookings; latency from issuing each booking (its transaction included) to delivery; B has its own pool and listener on the same database"
        )],
    )])
}

/// Rooms of the `available-rooms` site.
pub const SEARCH_ROOMS: usize = 200;
/// Bookings per room of that site (200 × 100 = 20,000).
const BOOKINGS_PER_ROOM: usize = 100;
/// Searches cycled through: one-hour windows, each with half the rooms booked across it.
const SEARCH_WINDOWS: usize = 5;

const AVAILABLE_QUERY: &str = "query($site: ID!, $start: DateTime!, $end: DateTime!, $min: Int) {
    availableRooms(siteId: $site, start: $start, end: $end, minCapacity: $min) { id name capacity } }";

/// A site of [`SEARCH_ROOMS`] rooms (2 to 24 seats) with [`BOOKINGS_PER_ROOM`] bookings each:
/// half an hour every two hours from tomorrow's midnight (UTC), shifted by 0, 30, 60 or 90
/// minutes by room, so that any searched hour on the hour overlaps the bookings of half the
/// rooms and touches those of the others back to back. Returns (site id, first instant).
async fn search_floor(
    fixture: &Fixture,
    backend: &Backend,
) -> Result<(String, DateTime<Utc>), String> {
    use concierge_domain::ids::{BookingId, OrganizationId, RoomId, SiteId, UserId};
    use concierge_domain::model::{Booking, BookingSource, BookingStatus};
    let token = &fixture.company.admin_token;
    let site = fixture
        .app
        .create_site(token, &fixture.company.id, "Search floor")
        .await;
    let mut rooms = Vec::with_capacity(SEARCH_ROOMS);
    for i in 0..SEARCH_ROOMS {
        let r = fixture
            .app
            .gql(
                Some(token),
                "mutation($i: CreateRoomInput!) { createRoom(input: $i) { room { id } } }",
                json!({"i": {"siteId": site, "name": format!("Room {i:03}"), "capacity": 2 + (i % 12) * 2}}),
            )
            .await;
        let id = r.ok()["createRoom"]["room"]["id"]
            .as_str()
            .ok_or("room id")?
            .to_owned();
        rooms.push(id);
    }
    let base = (Utc::now() + chrono::Duration::days(1))
        .date_naive()
        .and_time(chrono::NaiveTime::MIN)
        .and_utc();
    let slot = |room: usize, k: usize| {
        let start = base
            + chrono::Duration::hours(2 * k as i64)
            + chrono::Duration::minutes(30 * (room % 4) as i64);
        (start, start + chrono::Duration::minutes(30))
    };
    match backend {
        Backend::Memory(_) => {
            let parse = |what: &str, s: &str| format!("{what} {s} does not parse");
            let site_id: SiteId = site.parse().map_err(|_| parse("site", &site))?;
            let org: OrganizationId = fixture
                .company
                .id
                .parse()
                .map_err(|_| parse("organization", &fixture.company.id))?;
            let user: UserId = fixture
                .company
                .admin_id
                .parse()
                .map_err(|_| parse("user", &fixture.company.admin_id))?;
            let store = &fixture.app.state.domain.store;
            let mut tx = store.begin().await.map_err(|e| e.to_string())?;
            for (i, room) in rooms.iter().enumerate() {
                let room_id: RoomId = room.parse().map_err(|_| parse("room", room))?;
                for k in 0..BOOKINGS_PER_ROOM {
                    let (start, end) = slot(i, k);
                    let booking = Booking {
                        id: BookingId::new(),
                        room_id,
                        site_id,
                        organization_id: org,
                        user_id: user,
                        created_by: user,
                        title: Some("Bench".into()),
                        start,
                        end,
                        source: BookingSource::App,
                        status: BookingStatus::Confirmed,
                        checked_in_at: None,
                        release_at: None,
                        created_at: Utc::now(),
                        series_id: None,
                    };
                    tx.insert_booking(&booking)
                        .await
                        .map_err(|e| e.to_string())?;
                }
            }
            tx.commit().await.map_err(|e| e.to_string())?;
        }
        Backend::Postgres { pool, .. } => {
            use diesel_async::RunQueryDsl as _;
            let mut conn = pool.get().await.map_err(|e| format!("pool: {e}"))?;
            // One statement: every room of the site × every k, shifted by the room's rank.
            let sql = format!(
                "INSERT INTO bookings (id, room_id, site_id, organization_id, user_id, created_by, \
                 title, start_at, end_at, source, status, created_at) \
                 SELECT gen_random_uuid(), r.id, r.site_id, r.organization_id, $2::uuid, $2::uuid, 'Bench', \
                   s.start_at, s.start_at + interval '30 minutes', 'APP', 'CONFIRMED', now() \
                 FROM (SELECT id, site_id, organization_id, row_number() OVER (ORDER BY name) - 1 AS rank \
                       FROM rooms WHERE site_id = $1::uuid) r \
                 CROSS JOIN generate_series(0, {last}) k \
                 CROSS JOIN LATERAL (SELECT $3::timestamptz + k * interval '2 hours' \
                   + (r.rank % 4) * interval '30 minutes' AS start_at) s",
                last = BOOKINGS_PER_ROOM - 1
            );
            let inserted = diesel::sql_query(sql)
                .bind::<diesel::sql_types::Text, _>(&site)
                .bind::<diesel::sql_types::Text, _>(&fixture.company.admin_id)
                .bind::<diesel::sql_types::Timestamptz, _>(base)
                .execute(&mut *conn)
                .await
                .map_err(|e| format!("seeding bookings: {e}"))?;
            if inserted != SEARCH_ROOMS * BOOKINGS_PER_ROOM {
                return Err(format!("seeded {inserted} bookings"));
            }
            conn.batch_execute("ANALYZE rooms; ANALYZE bookings")
                .await
                .map_err(|e| format!("analyze: {e}"))?;
        }
    }
    Ok((site, base))
}

/// `availableRooms` over a site of 200 rooms and 20,000 bookings (4 seats or more, one hour),
/// as the company's administrator, against one hand-written statement (PostgreSQL) or the
/// answer from a Vec (memory).
pub async fn available_rooms(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    let (site, base) = search_floor(fixture, backend).await?;
    let iso = |t: DateTime<Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    // Hours on the hour from base + 100 h: bookings start every 2 h at +0/+30/+60/+90 minutes.
    let windows: Vec<Value> = (0..SEARCH_WINDOWS)
        .map(|j| {
            let start = base + chrono::Duration::hours(100 + 2 * j as i64);
            json!({"site": site, "start": iso(start), "end": iso(start + chrono::Duration::hours(1)), "min": 4})
        })
        .collect();
    let measured = Target::cycling(
        app.uri("/graphql"),
        vec![fixture.company.admin_token.clone()],
        windows
            .iter()
            .map(|v| graphql_body(AVAILABLE_QUERY, v.clone()))
            .collect(),
    );
    let first: Value = serde_json::from_slice(&measured.once(http, 0, 0).await?)
        .map_err(|e| format!("available rooms: {e}"))?;
    let found = first["data"]["availableRooms"]
        .as_array()
        .cloned()
        .ok_or_else(|| format!("no rooms in {first}"))?;
    // Rooms of 4 seats or more: 11 of 12 capacities; of those, half are busy.
    let expected = (0..SEARCH_ROOMS)
        .filter(|i| 2 + (i % 12) * 2 >= 4 && i % 4 >= 2)
        .count();
    if found.len() != expected {
        return Err(format!("found {} rooms, not {expected}", found.len()));
    }
    let mut state = backend.ceiling_state(fixture);
    state.available = found.clone();
    let bare = Server::start(ceiling::router(Arc::new(state))).await?;
    let ceiling = Target::cycling(
        bare.uri(&backend.ceiling_path("available-rooms")),
        vec![],
        windows.iter().map(|v| Bytes::from(v.to_string())).collect(),
    );
    let answer: Value = serde_json::from_slice(&ceiling.once(http, 0, 0).await?)
        .map_err(|e| format!("ceiling: {e}"))?;
    if answer["data"]["availableRooms"] != Value::Array(found) {
        return Err(format!("the ceiling answers otherwise: {answer}"));
    }
    let (sample, ceiling_sample) = measure_pair(http, &measured, &ceiling, opts.load()).await;
    let cost = cost_note(opts, http, backend, &measured).await;
    let ceiling_name = match backend {
        Backend::Memory(_) => "bare route, rows from a Vec",
        Backend::Postgres { .. } => {
            "bare route, one hand-written SQL query (NOT EXISTS over the exclusion index)"
        }
    };
    Ok(vec![Row::versus(
        "available-rooms (200 rooms, 20,000 bookings)",
        backend.name(),
        &sample,
        "req/s",
        &ceiling_sample,
        ceiling_name,
        vec![
            cost,
            format!("{} clients; {expected} of 200 rooms found", opts.clients),
        ],
    )])
}

/// People per import: the most one `importUsers` takes.
const IMPORT_ROWS: usize = 1_000;

const IMPORT_MUTATION: &str = "mutation($i: ImportUsersInput!) { importUsers(input: $i) {
    dryRun problems { row field message } imported { row } } }";

/// An import of [`IMPORT_ROWS`] new people of `org` granted `site`; `batch` keeps their logins
/// apart from every other batch's.
fn import_body(org: &str, site: &str, batch: u64, dry_run: bool) -> Bytes {
    let rows: Vec<Value> = (0..IMPORT_ROWS)
        .map(|n| {
            json!({"firstName": "Imported", "lastName": format!("Person {n:04}"),
                "email": format!("import-{batch}-{n:04}@bench.test"), "siteIds": [site]})
        })
        .collect();
    graphql_body(
        IMPORT_MUTATION,
        json!({"i": {"organizationId": org, "rows": rows, "dryRun": dry_run}}),
    )
}

/// Sends one import and checks its answer: every row reported clean, and (a real run) every
/// person created. Returns its duration.
async fn one_import(
    http: &Http,
    uri: &Uri,
    token: &str,
    body: Bytes,
    dry_run: bool,
) -> Result<Duration, String> {
    let started = Instant::now();
    let answer = http.post(uri, Some(token), body).await?;
    let elapsed = started.elapsed();
    let answer: Value =
        serde_json::from_slice(&answer).map_err(|e| format!("import answer: {e}"))?;
    if let Some(errors) = answer.get("errors") {
        return Err(format!("import failed: {errors}"));
    }
    let payload = &answer["data"]["importUsers"];
    let listed = |field: &str| payload[field].as_array().map_or(0, Vec::len);
    let expected = if dry_run { 0 } else { IMPORT_ROWS };
    if listed("problems") != 0 || listed("imported") != expected {
        return Err(format!("unexpected import answer: {payload}"));
    }
    Ok(elapsed)
}

/// `importUsers` of 1,000 people with production Argon2: real runs (one temporary password
/// hashed per person, one transaction) against raw Argon2 on every core, which bounds them; and
/// dry runs (every check, no hashing, no write). On PostgreSQL the statements of one real
/// import are counted; on memory, its storage calls.
pub async fn import_users(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
    backend: &Backend,
    app: &Server,
) -> Result<Vec<Row>, String> {
    // A company of its own, so the thousands imported stay out of the other workloads' data.
    let (_, company) = fixture.app.company("Import Corp").await;
    let token = company.admin_token.clone();
    let site = fixture
        .app
        .create_site(&token, &company.id, "Import HQ")
        .await;
    let uri = app.uri("/graphql");
    let imports: u64 = if opts.duration < Duration::from_secs(3) {
        1
    } else {
        3
    };
    let mut batch = 0;
    let mut real = Sample::default();
    let mut dry = Sample::default();
    for _ in 0..imports {
        batch += 1;
        let body = import_body(&company.id, &site, batch, true);
        let took = one_import(http, &uri, &token, body, true).await?;
        dry.latencies_us.push(took.as_micros() as u64);
        dry.seconds += took.as_secs_f64();
        let body = import_body(&company.id, &site, batch, false);
        let took = one_import(http, &uri, &token, body, false).await?;
        real.latencies_us.push(took.as_micros() as u64);
        real.seconds += took.as_secs_f64();
    }
    real.latencies_us.sort_unstable();
    dry.latencies_us.sort_unstable();
    let raw_duration = opts.duration.min(Duration::from_secs(2));
    let (raw_count, raw_seconds, threads, single_ms) =
        tokio::task::spawn_blocking(move || raw_argon2(raw_duration))
            .await
            .map_err(|e| format!("argon2 task: {e}"))??;
    let raw_rate = raw_count as f64 / raw_seconds.max(f64::EPSILON);

    batch += 1;
    let cost = match backend {
        Backend::Memory(store) => {
            let before = store.calls();
            one_import(
                http,
                &uri,
                &token,
                import_body(&company.id, &site, batch, false),
                false,
            )
            .await?;
            format!("storage calls/import: {}", store.calls() - before)
        }
        Backend::Postgres { url, .. } => {
            let counting = Counting::start(url).await?;
            let counted_uri = counting.server.uri("/graphql");
            tokio::time::sleep(Duration::from_millis(100)).await;
            let before = counting.proxy.counters.snapshot();
            one_import(
                http,
                &counted_uri,
                &token,
                import_body(&company.id, &site, batch, false),
                false,
            )
            .await?;
            tokio::time::sleep(Duration::from_millis(100)).await;
            let counts = counting.proxy.counters.snapshot() - before;
            format!(
                "SQL statements/import: {} ({} round trips)",
                counts.statements, counts.round_trips
            )
        }
    };

    let people_per_second =
        |sample: &Sample| (sample.count() * IMPORT_ROWS) as f64 / sample.seconds.max(f64::EPSILON);
    let mut real_row = Row::versus(
        "import-users (1,000 rows, production Argon2)",
        backend.name(),
        &real,
        "imports/s",
        &Sample::default(),
        "",
        vec![
            format!("{imports} sequential imports"),
            format!("{:.0} people/s", people_per_second(&real)),
            cost,
        ],
    );
    real_row.ceiling = format!(
        "raw Argon2 hashes on {threads} threads: {} /s (one: {})",
        rate(raw_rate),
        ms(single_ms)
    );
    real_row.ratio = ratio(people_per_second(&real), raw_rate);
    let mut dry_row = Row::versus(
        "import-users dry run (1,000 rows)",
        backend.name(),
        &dry,
        "imports/s",
        &Sample::default(),
        "",
        vec![format!("{:.0} rows checked/s", people_per_second(&dry))],
    );
    dry_row.ceiling = "—".into();
    dry_row.ratio = "—".into();
    Ok(vec![real_row, dry_row])
}

#[cfg(test)]
mod tests {
    use super::FanoutEvent;

    #[test]
    fn fanout_events_round_trip() {
        for event in [
            FanoutEvent::WarmUp(0),
            FanoutEvent::WarmUp(17),
            FanoutEvent::Round(0),
            FanoutEvent::Round(19),
        ] {
            assert_eq!(FanoutEvent::from_title(&event.title()), Some(event));
            assert_eq!(FanoutEvent::from_code(event.code()), event);
        }
        assert_eq!(FanoutEvent::from_title("Bench"), None);
    }
}
