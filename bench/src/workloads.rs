//! The workloads: each measures the real stack and its ceiling in the same run, and returns rows.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use concierge_api::app::AppState;
use concierge_api::http::router;
use concierge_storage_memory::MemoryStore;
use concierge_storage_postgres::PgStore;
use hyper::Uri;
use hyper::body::Bytes;
use serde_json::{Value, json};

use crate::ceiling::{self, Ceiling};
use crate::load::{Http, Load, Sample, drive, graphql_body};
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
        let state: AppState = state(Arc::new(store))?;
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

/// Logins with production Argon2 from `clients` clients, and a `me` probe alongside.
pub async fn login_under_load(
    opts: &Options,
    http: &Http,
    fixture: &Fixture,
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
        "memory",
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
        "memory",
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

struct Fanout {
    /// Per delivery: receipt minus the instant the booking was issued, microseconds, sorted.
    latencies_us: Vec<u64>,
    deliveries_per_s: f64,
    rss_per_subscriber: Option<f64>,
    errors: u64,
    first_error: Option<String>,
}

/// Each subscriber's receipt instants, in order, and what went wrong.
type Receipts = (Vec<Instant>, u64, Option<String>);

fn summarise(issued: &[Instant], receipts: Vec<Receipts>) -> Fanout {
    let mut latencies = Vec::new();
    let mut span = vec![Duration::ZERO; issued.len()];
    let (mut errors, mut first_error) = (0, None);
    for (seen, e, first) in receipts {
        errors += e;
        if first_error.is_none() {
            first_error = first;
        }
        for (round, at) in seen.iter().enumerate().take(issued.len()) {
            let took = at.saturating_duration_since(issued[round]);
            latencies.push(took.as_micros() as u64);
            span[round] = span[round].max(took);
        }
    }
    latencies.sort_unstable();
    let total: f64 = span.iter().map(Duration::as_secs_f64).sum();
    Fanout {
        deliveries_per_s: if total > 0.0 {
            latencies.len() as f64 / total
        } else {
            0.0
        },
        latencies_us: latencies,
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

/// `subscribers` in-process subscriptions (the schema's `execute_stream`, as the WebSocket
/// handler drives them) to one room; `rounds` bookings, each issued once every subscriber has
/// the previous one.
async fn schema_fanout(
    fixture: &Fixture,
    subscribers: usize,
    rounds: usize,
    first_slot: u64,
    base_rss: u64,
) -> Result<Fanout, String> {
    use concierge_api::graphql::context::{RequestContext, SubscriberToken};
    use futures::StreamExt as _;
    let memory = fixture
        .app
        .memory
        .clone()
        .ok_or("fan-out runs on the memory backend")?;
    let query = "subscription($r: ID!) { bookingEvents(roomId: $r) { kind booking { id start end title user { displayName } } } }";
    let listening = memory.event_subscribers();
    let received = Arc::new(AtomicU64::new(0));
    let mut tasks = Vec::with_capacity(subscribers);
    for _ in 0..subscribers {
        let schema = fixture.app.state.schema.clone();
        let domain = fixture.app.state.domain.clone();
        let token = fixture.company.admin_token.clone();
        let room = fixture.fanout_room.clone();
        let received = Arc::clone(&received);
        tasks.push(tokio::spawn(async move {
            let context =
                RequestContext::for_subscriptions(&domain, Some(&token), Some("127.0.0.1".into()))
                    .await;
            let request = async_graphql::Request::new(query)
                .variables(async_graphql::Variables::from_json(json!({"r": room})))
                .data(context)
                .data(SubscriberToken(Some(token)));
            let mut stream = Box::pin(schema.execute_stream(request));
            let mut seen = Vec::with_capacity(rounds);
            while seen.len() < rounds {
                match stream.next().await {
                    Some(response) if response.errors.is_empty() => {
                        seen.push(Instant::now());
                        received.fetch_add(1, Ordering::SeqCst);
                    }
                    Some(response) => {
                        let error = response.errors.first().map(|e| e.message.clone());
                        return (seen, 1, error);
                    }
                    None => return (seen, 1, Some("the stream ended".into())),
                }
            }
            (seen, 0, None)
        }));
    }
    let subscribed = wait_until(Duration::from_secs(60), || {
        memory.event_subscribers() >= listening + subscribers
    })
    .await;
    if !subscribed {
        for task in &tasks {
            task.abort();
        }
        return Err(format!(
            "only {} of {subscribers} subscribers listen after 60 s",
            memory.event_subscribers().saturating_sub(listening)
        ));
    }
    let booker = fixture.bookers.first().ok_or("no booker")?;
    let mut issued = Vec::with_capacity(rounds);
    let mut rss_after_first = 0;
    for round in 0..rounds {
        let slot = first_slot + round as u64;
        let start = Slots::new().base + chrono::Duration::minutes(15 * slot as i64);
        let end = start + chrono::Duration::minutes(15);
        issued.push(Instant::now());
        let answer = fixture
            .app
            .gql(
                Some(&booker.token),
                BOOKING_MUTATION,
                json!({"i": {"roomId": fixture.fanout_room, "start": start.to_rfc3339(),
                    "end": end.to_rfc3339(), "title": format!("Fan-out {round}")}}),
            )
            .await;
        if !answer.errors.is_empty() {
            for task in &tasks {
                task.abort();
            }
            return Err(format!("booking for the fan-out: {}", answer.message()));
        }
        let target = ((round + 1) * subscribers) as u64;
        if !wait_until(Duration::from_secs(30), || {
            received.load(Ordering::SeqCst) >= target
        })
        .await
        {
            break;
        }
        if round == 0 {
            rss_after_first = rss_bytes();
        }
    }
    for task in &tasks {
        if !task.is_finished() {
            task.abort();
        }
    }
    let mut receipts = Vec::with_capacity(subscribers);
    for task in tasks {
        receipts.push(task.await.unwrap_or_else(|_| {
            (
                Vec::new(),
                1,
                Some("did not receive every event in 30 s".into()),
            )
        }));
    }
    let mut fanout = summarise(&issued, receipts);
    fanout.rss_per_subscriber = (rss_after_first > 0)
        .then(|| rss_after_first.saturating_sub(base_rss) as f64 / subscribers as f64);
    Ok(fanout)
}

/// The ceiling: a bare tokio broadcast channel (the store's buffer size) to as many tasks.
async fn broadcast_fanout(subscribers: usize, rounds: usize) -> Fanout {
    let (sender, _) =
        tokio::sync::broadcast::channel::<u64>(concierge_storage_memory::EVENT_BUFFER);
    let received = Arc::new(AtomicU64::new(0));
    let tasks: Vec<_> = (0..subscribers)
        .map(|_| {
            let mut events = sender.subscribe();
            let received = Arc::clone(&received);
            tokio::spawn(async move {
                let mut seen = Vec::with_capacity(rounds);
                while seen.len() < rounds {
                    match events.recv().await {
                        Ok(_) => {
                            seen.push(Instant::now());
                            received.fetch_add(1, Ordering::SeqCst);
                        }
                        Err(error) => return (seen, 1, Some(error.to_string())),
                    }
                }
                (seen, 0, None)
            })
        })
        .collect();
    let mut issued = Vec::with_capacity(rounds);
    for round in 0..rounds {
        issued.push(Instant::now());
        let _ = sender.send(round as u64);
        let target = ((round + 1) * subscribers) as u64;
        wait_until(Duration::from_secs(30), || {
            received.load(Ordering::SeqCst) >= target
        })
        .await;
    }
    let mut receipts = Vec::with_capacity(subscribers);
    for task in tasks {
        receipts.push(
            task.await
                .unwrap_or_else(|e| (Vec::new(), 1, Some(e.to_string()))),
        );
    }
    summarise(&issued, receipts)
}

/// Booking events to 1,000 and 5,000 subscribers of one room (memory backend).
///
/// Memory per subscriber is the resident-set growth from one baseline, taken before the first
/// (smallest) run, to the moment every subscriber of a run has had its first event: memory a
/// smaller run freed is reused by the next, not counted twice. The ceilings run after, so their
/// freed memory cannot hide the subscribers'.
pub async fn booking_fanout(opts: &Options, fixture: &Fixture) -> Result<Vec<Row>, String> {
    let mut sizes = opts.fanout_subscribers.clone();
    sizes.sort_unstable();
    let baseline = rss_bytes();
    let mut measured_runs = Vec::new();
    let mut slot = 0u64;
    for &subscribers in &sizes {
        let measured =
            schema_fanout(fixture, subscribers, opts.fanout_rounds, slot, baseline).await?;
        slot += opts.fanout_rounds as u64;
        measured_runs.push((subscribers, measured));
    }
    let mut rows = Vec::new();
    for (subscribers, measured) in measured_runs {
        let ceiling = broadcast_fanout(subscribers, opts.fanout_rounds).await;
        let as_sample = |f: &Fanout| Sample {
            latencies_us: f.latencies_us.clone(),
            seconds: if f.deliveries_per_s > 0.0 {
                f.latencies_us.len() as f64 / f.deliveries_per_s
            } else {
                0.0
            },
            errors: f.errors,
            first_error: f.first_error.clone(),
        };
        let mut notes = vec![format!(
            "{} bookings, each issued once all had the previous one",
            opts.fanout_rounds
        )];
        if let Some(bytes) = measured.rss_per_subscriber {
            notes.push(format!("RSS +{:.1} KiB/subscriber", bytes / 1024.0));
        }
        rows.push(Row::versus(
            &format!("booking-fanout to {subscribers} subscribers"),
            "memory",
            &as_sample(&measured),
            "deliveries/s",
            &as_sample(&ceiling),
            "bare tokio broadcast to as many tasks",
            notes,
        ));
    }
    Ok(rows)
}
