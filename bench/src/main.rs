//! Concierge's benchmark suite. One command, from the workspace root:
//!
//! ```sh
//! cargo run --release -p concierge-bench -- [--quick] [--only WORKLOAD]... [--backend memory|postgresql]
//! ```
//!
//! Every workload drives the real stack (the router served by axum on 127.0.0.1:0, reached with
//! hyper's client over loopback) and a ceiling measured the same way in the same run; the table
//! is printed and written to `target/bench-report.md`. PostgreSQL: `DATABASE_URL` or
//! postgres://postgres@127.0.0.1:5432/postgres, on a fresh database dropped at the end.

mod ceiling;
mod load;
mod pg;
mod report;
mod setup;
mod workloads;

use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use concierge_api::app::DATABASE_POOL_SIZE;
use concierge_api::http::router;
use concierge_storage_memory::{MemoryAttemptCounter, MemoryStore};
use concierge_storage_postgres::PgStore;

use crate::load::Http;
use crate::pg::BenchDatabase;
use crate::report::Row;
use crate::setup::{Fixture, Server};
use crate::workloads::{Backend, Options, Slots};

const WORKLOADS: [&str; 10] = [
    "graphql-overhead",
    "users-page",
    "user-by-id",
    "me",
    "create-booking",
    "login-under-load",
    "booking-fanout",
    "available-rooms",
    "import-users",
    "cross-replica",
];
/// The workloads run on both backends; the others run on memory only.
const PER_BACKEND: [&str; 9] = [
    "users-page",
    "user-by-id",
    "me",
    "create-booking",
    "login-under-load",
    "booking-fanout",
    "available-rooms",
    "import-users",
    "cross-replica",
];

const USAGE: &str = "usage: cargo run --release -p concierge-bench -- [options]

  --quick                 about two minutes: shorter measurements, fewer fan-out rounds
  --only WORKLOAD         run only this workload (repeatable, or comma-separated):
                          graphql-overhead users-page user-by-id me create-booking
                          login-under-load booking-fanout available-rooms import-users
                          cross-replica (PostgreSQL only)
  --backend NAME          memory or postgresql (default: both)
  --clients N             concurrent clients (default 8)
  --duration SECONDS      recorded time of each measurement (default 5, quick 1.5)
  --report PATH           where the Markdown table goes (default target/bench-report.md)

PostgreSQL: DATABASE_URL, else postgres://postgres@127.0.0.1:5432/postgres; the run creates
its own database and drops it at the end.";

struct Args {
    quick: bool,
    only: Vec<String>,
    backends: Vec<String>,
    clients: usize,
    duration: Option<f64>,
    report: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        quick: false,
        only: Vec::new(),
        backends: vec!["memory".into(), "postgresql".into()],
        clients: 8,
        duration: None,
        report: std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join("target")
            .join("bench-report.md"),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().ok_or_else(|| format!("{name} needs a value"));
        match arg.as_str() {
            "--quick" => args.quick = true,
            "--only" => {
                for name in value("--only")?.split(',').filter(|s| !s.is_empty()) {
                    if !WORKLOADS.contains(&name) {
                        return Err(format!("unknown workload {name}"));
                    }
                    args.only.push(name.to_owned());
                }
            }
            "--backend" => {
                let name = value("--backend")?;
                let name = match name.as_str() {
                    "memory" => "memory",
                    "postgres" | "postgresql" | "pg" => "postgresql",
                    other => return Err(format!("unknown backend {other}")),
                };
                args.backends = vec![name.to_owned()];
            }
            "--clients" => {
                args.clients = value("--clients")?
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or("--clients takes 1 to 256")?;
            }
            "--duration" => {
                args.duration = Some(
                    value("--duration")?
                        .parse()
                        .ok()
                        .filter(|s: &f64| (0.1..=600.0).contains(s))
                        .ok_or("--duration takes 0.1 to 600 seconds")?,
                );
            }
            "--report" => args.report = PathBuf::from(value("--report")?),
            "-h" | "--help" => return Err(String::new()),
            other => return Err(format!("unknown argument {other}")),
        }
    }
    if args.only.is_empty() {
        args.only = WORKLOADS.iter().map(|w| (*w).to_owned()).collect();
    }
    Ok(args)
}

fn options(args: &Args) -> Options {
    let duration =
        Duration::from_secs_f64(args.duration.unwrap_or(if args.quick { 1.5 } else { 5.0 }));
    Options {
        clients: args.clients,
        warmup: if args.quick {
            Duration::from_millis(300)
        } else {
            Duration::from_secs(1)
        },
        duration,
        login_duration: if args.quick {
            Duration::from_secs(4)
        } else {
            Duration::from_secs(10)
        },
        fanout_subscribers: vec![1000, 5000],
        fanout_rounds: if args.quick { 5 } else { 20 },
        counted_requests: 20,
        max_requests: 2_000_000,
    }
}

/// Runs `work` on its own task, so that a panic (a failed setup step) becomes an error row.
async fn guarded<F>(work: F) -> Result<Vec<Row>, String>
where
    F: Future<Output = Result<Vec<Row>, String>> + Send + 'static,
{
    match tokio::spawn(work).await {
        Ok(result) => result,
        Err(error) if error.is_panic() => {
            let payload = error.into_panic();
            let message = payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
                .unwrap_or_else(|| "panic".into());
            Err(format!("failed: {message}"))
        }
        Err(error) => Err(format!("failed: {error}")),
    }
}

fn wanted(args: &Args, workload: &str) -> bool {
    args.only.iter().any(|w| w == workload)
}

async fn run_workload<F>(name: &str, backend: &str, work: F) -> Vec<Row>
where
    F: Future<Output = Result<Vec<Row>, String>>,
{
    eprintln!("[{backend}] {name}…");
    let started = Instant::now();
    let rows = match work.await {
        Ok(rows) => {
            for row in &rows {
                eprintln!(
                    "  {} | {} | p50 {} | p99 {} | ceiling {} | ratio {} | {}",
                    row.workload,
                    row.throughput,
                    row.p50,
                    row.p99,
                    row.ceiling,
                    row.ratio,
                    row.notes
                );
            }
            rows
        }
        Err(error) => {
            eprintln!("  failed: {error}");
            vec![Row::skipped(name, backend, &format!("failed: {error}"))]
        }
    };
    eprintln!("  ({:.1} s)", started.elapsed().as_secs_f64());
    rows
}

/// `workloads` with the fan-out first: its memory per subscriber is read from the resident set,
/// which memory freed by earlier workloads would make look smaller. Rows are reported in the
/// given order all the same.
fn fanout_first<'a>(workloads: &[&'a str]) -> Vec<&'a str> {
    let mut order = workloads.to_vec();
    order.sort_by_key(|w| *w != "booking-fanout");
    order
}

/// Memory backend: every workload.
async fn memory_run(args: Arc<Args>, opts: Options, http: Http) -> Result<Vec<Row>, String> {
    eprintln!("[memory] setting up (production Argon2: a few seconds)…");
    let store = MemoryStore::new();
    let fixture = Fixture::create(
        Arc::new(store.clone()),
        Arc::new(MemoryAttemptCounter::new()),
        Some(store.clone()),
        opts.clients,
    )
    .await?;
    let app = Server::start(router(fixture.app.state.clone())).await?;
    let backend = Backend::Memory(store);
    let slots = Arc::new(Slots::new());
    let mut done: Vec<(usize, Vec<Row>)> = Vec::new();
    for workload in fanout_first(&WORKLOADS) {
        if !wanted(&args, workload) {
            continue;
        }
        let (o, h, f, b, a) = (&opts, &http, &fixture, &backend, &app);
        let m = "memory";
        let new = match workload {
            "graphql-overhead" => {
                run_workload(workload, m, workloads::graphql_overhead(o, h, a)).await
            }
            "users-page" => run_workload(workload, m, workloads::users_page(o, h, f, b, a)).await,
            "user-by-id" => run_workload(workload, m, workloads::user_by_id(o, h, f, b, a)).await,
            "me" => run_workload(workload, m, workloads::me(o, h, f, b, a)).await,
            "create-booking" => {
                run_workload(
                    workload,
                    m,
                    workloads::create_booking(o, h, f, b, a, &slots),
                )
                .await
            }
            "login-under-load" => {
                run_workload(workload, m, workloads::login_under_load(o, h, f, b, a)).await
            }
            "booking-fanout" => run_workload(workload, m, workloads::booking_fanout(o, f, b)).await,
            "available-rooms" => {
                run_workload(workload, m, workloads::available_rooms(o, h, f, b, a)).await
            }
            "import-users" => {
                run_workload(workload, m, workloads::import_users(o, h, f, b, a)).await
            }
            _ => Vec::new(),
        };
        let index = WORKLOADS.iter().position(|w| *w == workload).unwrap_or(0);
        done.push((index, new));
    }
    done.sort_by_key(|(index, _)| *index);
    Ok(done.into_iter().flat_map(|(_, rows)| rows).collect())
}

/// PostgreSQL: the per-backend workloads, on a database of this run.
async fn postgres_run(
    args: Arc<Args>,
    opts: Options,
    http: Http,
    url: String,
) -> Result<Vec<Row>, String> {
    eprintln!("[postgresql] setting up (production Argon2: a few seconds)…");
    let store = PgStore::connect(&url, DATABASE_POOL_SIZE)
        .await
        .map_err(|e| format!("cannot connect: {e}"))?;
    // Sign-in throttling counters in PostgreSQL, as `serve` has them on this backend.
    let attempts = Arc::new(store.attempt_counter());
    let fixture = Fixture::create(Arc::new(store), attempts, None, opts.clients).await?;
    let app = Server::start(router(fixture.app.state.clone())).await?;
    let pool = pg::pool(&url, DATABASE_POOL_SIZE)?;
    let backend = Backend::Postgres { pool, url };
    let slots = Arc::new(Slots::new());
    let mut done: Vec<(usize, Vec<Row>)> = Vec::new();
    for workload in fanout_first(&PER_BACKEND) {
        if !wanted(&args, workload) {
            continue;
        }
        let (o, h, f, b, a) = (&opts, &http, &fixture, &backend, &app);
        let name = "postgresql";
        let new = match workload {
            "users-page" => {
                run_workload(workload, name, workloads::users_page(o, h, f, b, a)).await
            }
            "user-by-id" => {
                run_workload(workload, name, workloads::user_by_id(o, h, f, b, a)).await
            }
            "me" => run_workload(workload, name, workloads::me(o, h, f, b, a)).await,
            "create-booking" => {
                run_workload(
                    workload,
                    name,
                    workloads::create_booking(o, h, f, b, a, &slots),
                )
                .await
            }
            "login-under-load" => {
                run_workload(workload, name, workloads::login_under_load(o, h, f, b, a)).await
            }
            "booking-fanout" => {
                run_workload(workload, name, workloads::booking_fanout(o, f, b)).await
            }
            "available-rooms" => {
                run_workload(workload, name, workloads::available_rooms(o, h, f, b, a)).await
            }
            "import-users" => {
                run_workload(workload, name, workloads::import_users(o, h, f, b, a)).await
            }
            "cross-replica" => {
                run_workload(workload, name, workloads::cross_replica(o, f, b)).await
            }
            _ => Vec::new(),
        };
        let index = PER_BACKEND.iter().position(|w| *w == workload).unwrap_or(0);
        done.push((index, new));
    }
    done.sort_by_key(|(index, _)| *index);
    Ok(done.into_iter().flat_map(|(_, rows)| rows).collect())
}

#[tokio::main]
async fn main() {
    let args = match parse_args() {
        Ok(args) => Arc::new(args),
        Err(error) => {
            if !error.is_empty() {
                eprintln!("{error}\n");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    let opts = options(&args);
    let load_at_start = load_average();
    let http = Http::new();
    let started = Instant::now();
    eprintln!("load average at start: {load_at_start}");
    let mut rows = Vec::new();

    if args.backends.iter().any(|b| b == "memory") {
        match guarded(memory_run(Arc::clone(&args), opts.clone(), http.clone())).await {
            Ok(new) => rows.extend(new),
            Err(error) => {
                eprintln!("memory backend: {error}");
                rows.push(Row::skipped("(all)", "memory", &error));
            }
        }
    }

    let pg_workloads: Vec<&str> = PER_BACKEND
        .into_iter()
        .filter(|w| wanted(&args, w))
        .collect();
    if args.backends.iter().any(|b| b == "postgresql") && !pg_workloads.is_empty() {
        match BenchDatabase::create(&pg::server_url()).await {
            Err(error) => {
                eprintln!("[postgresql] {error}");
                for workload in pg_workloads {
                    rows.push(Row::skipped(workload, "postgresql", &error));
                }
            }
            Ok(database) => {
                eprintln!("[postgresql] database {}", database.name);
                let outcome = guarded(postgres_run(
                    Arc::clone(&args),
                    opts.clone(),
                    http.clone(),
                    database.url.clone(),
                ))
                .await;
                match outcome {
                    Ok(new) => rows.extend(new),
                    Err(error) => {
                        eprintln!("[postgresql] {error}");
                        rows.push(Row::skipped("(all)", "postgresql", &error));
                    }
                }
                // Let pooled connections of the finished run close before dropping (FORCE ends
                // any that remain).
                tokio::time::sleep(Duration::from_millis(200)).await;
                database.drop_now().await;
            }
        }
    }

    let table = report::markdown(&rows);
    println!("\n{table}");
    let document = format!(
        "# Concierge benchmark report\n\nCommand: `cargo run --release -p concierge-bench --{}`  \n\
         Machine: {}  \nLoad average (1, 5, 15 min) at start: {load_at_start}; at the end: {}  \n\
         Total time: {:.0} s\n\n{table}",
        std::env::args()
            .skip(1)
            .map(|a| format!(" {a}"))
            .collect::<String>(),
        machine(),
        load_average(),
        started.elapsed().as_secs_f64()
    );
    if let Some(parent) = args.report.parent() {
        let _ = std::fs::create_dir_all(parent);
    }
    match std::fs::write(&args.report, document) {
        Ok(()) => eprintln!("report written to {}", args.report.display()),
        Err(error) => eprintln!("could not write {}: {error}", args.report.display()),
    }
}

/// CPU model, core count, memory and load average, from /proc.
fn machine() -> String {
    let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
    let cpuinfo = read("/proc/cpuinfo");
    let model = cpuinfo
        .lines()
        .find_map(|l| {
            l.strip_prefix("model name")
                .map(|v| v.trim_start_matches([' ', '\t', ':']).to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let memory = read("/proc/meminfo")
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse::<f64>().ok())
        .map_or_else(String::new, |kib| {
            format!("{:.1} GiB", kib / 1024.0 / 1024.0)
        });
    format!("{model}, {cores} cores, {memory} RAM")
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}
