//! A fresh PostgreSQL database per test.
//!
//! The server is the one at `DATABASE_URL`, or `postgres://postgres@127.0.0.1:5432/postgres`. The
//! first test of a process migrates a template database (`concierge_tpl_<pid>`); every test then
//! gets `CREATE DATABASE concierge_test_<pid>_<n> TEMPLATE concierge_tpl_<pid>`, dropped when its
//! [`TestDatabase`] is. Databases left behind by processes that died are swept at start-up. No
//! server means a failing test, never a skipped one.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use concierge_domain::storage::Storage;
use concierge_storage_postgres::{PgStore, run_migrations};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::{AsyncConnection, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection};
use tokio::sync::OnceCell;

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const TEST_PREFIX: &str = "concierge_test_";
const TEMPLATE_PREFIX: &str = "concierge_tpl_";
/// Connections of one test's pool: enough for two concurrent transactions plus reads.
const POOL_SIZE: usize = 4;

static TEMPLATE: OnceCell<String> = OnceCell::const_new();
static NEXT: AtomicUsize = AtomicUsize::new(0);

/// One test's own database, dropped with this guard.
pub struct TestDatabase {
    name: String,
    url: String,
    admin_url: String,
    store: Option<PgStore>,
}

impl TestDatabase {
    /// The database's URL, for code that opens its own connections.
    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// A store over this database (migrated, empty).
    pub fn store(&self) -> &PgStore {
        self.store
            .as_ref()
            .expect("the store lives as long as the test database")
    }

    /// The store as the trait object the domain takes.
    pub fn storage(&self) -> &dyn Storage {
        self.store()
    }
}

impl std::fmt::Debug for TestDatabase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        // Close our pool first; FORCE ends whatever connection is still open (a rollback task
        // that has not run yet, a pooled connection whose runtime is gone).
        drop(self.store.take());
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs outside any async context we could await in: do the work on a thread of
        // its own, with its own runtime, and wait for it.
        let dropped = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime.block_on(async {
                let mut admin = connect(&admin_url).await?;
                drop_database(&mut admin, &name).await
            })
        })
        .join();
        match dropped {
            Ok(Ok(())) => {}
            // Never panic in drop (it may run while a failed test unwinds); the next process sweeps.
            Ok(Err(error)) => eprintln!("could not drop test database {}: {error}", self.name),
            Err(_) => eprintln!(
                "could not drop test database {}: the dropping thread panicked",
                self.name
            ),
        }
    }
}

/// A new, migrated, empty database for one test. Panics, with how to start a server, when none
/// answers.
pub async fn fresh_database() -> TestDatabase {
    let admin_url = admin_url();
    let template = TEMPLATE
        .get_or_try_init(|| prepare_template(&admin_url))
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    create(admin_url, &format!("TEMPLATE {}", quote(template))).await
}

/// A new database without any table, for tests of the migrations themselves.
pub async fn unmigrated_database() -> TestDatabase {
    create(admin_url(), BARE_DATABASE).await
}

fn admin_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// UTF-8 whatever the cluster's default, and the plain C locale: the backend must not depend on
/// the database's locale (search lower-cases in the application), and the suite proves it.
const BARE_DATABASE: &str = "TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'";

async fn create(admin_url: String, options: &str) -> TestDatabase {
    let name = format!(
        "{TEST_PREFIX}{}_{}",
        std::process::id(),
        NEXT.fetch_add(1, Ordering::Relaxed)
    );
    let mut admin = connect(&admin_url)
        .await
        .unwrap_or_else(|error| panic!("{error}"));
    admin
        .batch_execute(&format!("CREATE DATABASE {} {options}", quote(&name)))
        .await
        .unwrap_or_else(|error| panic!("could not create test database {name}: {error}"));
    drop(admin);
    let url = with_database(&admin_url, &name);
    let store = PgStore::connect(&url, POOL_SIZE)
        .await
        .unwrap_or_else(|error| panic!("could not connect to test database {name}: {error}"));
    TestDatabase {
        name,
        url,
        admin_url,
        store: Some(store),
    }
}

/// Sweeps databases of dead test processes, then creates and migrates this process's template.
async fn prepare_template(admin_url: &str) -> Result<String, String> {
    let mut admin = connect(admin_url).await?;
    sweep_stale(&mut admin).await?;
    let template = format!("{TEMPLATE_PREFIX}{}", std::process::id());
    drop_database(&mut admin, &template).await?;
    admin
        .batch_execute(&format!(
            "CREATE DATABASE {} {BARE_DATABASE}",
            quote(&template)
        ))
        .await
        .map_err(|e| format!("could not create template database {template}: {e}"))?;
    run_migrations(&with_database(admin_url, &template))
        .await
        .map_err(|e| format!("could not migrate template database {template}: {e}"))?;
    Ok(template)
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = Text)]
    datname: String,
}

/// Drops the test and template databases whose creating process is gone.
async fn sweep_stale(admin: &mut AsyncPgConnection) -> Result<(), String> {
    let names: Vec<DatabaseName> =
        diesel::sql_query("SELECT datname::text AS datname FROM pg_database")
            .load(admin)
            .await
            .map_err(|e| format!("could not list databases: {e}"))?;
    for DatabaseName { datname } in names {
        let Some(rest) = datname
            .strip_prefix(TEST_PREFIX)
            .or_else(|| datname.strip_prefix(TEMPLATE_PREFIX))
        else {
            continue;
        };
        let Some(pid) = rest
            .split('_')
            .next()
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        // Without FORCE: a database still in use (its process lives in another PID namespace)
        // is left alone.
        if pid != std::process::id()
            && !process_alive(pid)
            && let Err(error) = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {}", quote(&datname)))
                .await
        {
            eprintln!("left stale database {datname} in place: {error}");
        }
    }
    Ok(())
}

fn process_alive(pid: u32) -> bool {
    std::path::Path::new(&format!("/proc/{pid}")).exists()
}

async fn drop_database(admin: &mut AsyncPgConnection, name: &str) -> Result<(), String> {
    admin
        .batch_execute(&format!(
            "DROP DATABASE IF EXISTS {} WITH (FORCE)",
            quote(name)
        ))
        .await
        .map_err(|e| format!("could not drop database {name}: {e}"))
}

async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    let unreachable = |detail: String| {
        format!(
            "PostgreSQL does not answer at {} ({detail}). The Postgres half of the conformance suite needs a \
             server: start the local one with `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, \
             or set DATABASE_URL to a server where this user may create databases.",
            redact(url)
        )
    };
    match tokio::time::timeout(Duration::from_secs(10), AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(unreachable(error.to_string())),
        Err(_) => Err(unreachable("timed out after 10 s".into())),
    }
}

/// Database names are generated here, never taken from input; quoting keeps them one identifier.
fn quote(identifier: &str) -> String {
    format!("\"{}\"", identifier.replace('"', "\"\""))
}

/// `url` with its database (the path) replaced by `database`, query parameters kept.
fn with_database(url: &str, database: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, Some(query)),
        None => (url, None),
    };
    let authority_start = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_start..].find('/') {
        Some(slash) => &base[..authority_start + slash],
        None => base,
    };
    match query {
        Some(query) => format!("{server}/{database}?{query}"),
        None => format!("{server}/{database}"),
    }
}

/// The URL without its password, for messages.
fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[scheme_end..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => format!(
            "{}{}:***{}",
            &url[..scheme_end],
            &rest[..colon],
            &rest[at..]
        ),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_is_swapped_in_the_url() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            with_database("postgres://u:p@h/db?sslmode=disable", "x"),
            "postgres://u:p@h/x?sslmode=disable"
        );
        assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
    }

    #[test]
    fn passwords_are_redacted() {
        assert_eq!(redact("postgres://u:secret@h/db"), "postgres://u:***@h/db");
        assert_eq!(redact("postgres://u@h:5432/db"), "postgres://u@h:5432/db");
    }
}
