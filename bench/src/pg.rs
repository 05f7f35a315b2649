//! PostgreSQL for the run: a fresh database (created, migrated, dropped at the end), a plain
//! deadpool/diesel-async pool for the hand-written ceilings, and a loopback proxy that counts
//! the statements a store sends.

use std::time::Duration;

use concierge_storage_postgres::run_migrations;
pub use concierge_tests::statement_counter::{CountingProxy, Counts};
use diesel::QueryableByName;
use diesel::sql_types::Text;
use diesel_async::SimpleAsyncConnection as _;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection as _, AsyncPgConnection};

pub const DEFAULT_DATABASE_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const PREFIX: &str = "concierge_bench_";

pub type PgPool = Pool<AsyncPgConnection>;

/// The server URL of the run (`DATABASE_URL`, else the local default).
pub fn server_url() -> String {
    std::env::var("DATABASE_URL").unwrap_or_else(|_| DEFAULT_DATABASE_URL.to_owned())
}

/// This run's own database; [`BenchDatabase::drop_now`] removes it.
pub struct BenchDatabase {
    pub name: String,
    pub url: String,
    admin_url: String,
}

impl BenchDatabase {
    /// Creates and migrates `concierge_bench_<pid>` on the server at `admin_url`, after dropping
    /// the databases of earlier runs whose process is gone.
    pub async fn create(admin_url: &str) -> Result<Self, String> {
        let mut admin = connect(admin_url).await?;
        sweep_stale(&mut admin).await;
        let name = format!("{PREFIX}{}", std::process::id());
        // Two statements: neither may run inside a (multi-statement) transaction block.
        for statement in [
            format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
            format!(
                "CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
            ),
        ] {
            admin
                .batch_execute(&statement)
                .await
                .map_err(|e| format!("cannot create database {name}: {e}"))?;
        }
        let url = with_database(admin_url, &name);
        let database = BenchDatabase {
            name,
            url,
            admin_url: admin_url.to_owned(),
        };
        if let Err(error) = run_migrations(&database.url).await {
            database.drop_now().await;
            return Err(format!("migrations failed: {error}"));
        }
        Ok(database)
    }

    /// Drops the database (ending whatever connection is still open on it).
    pub async fn drop_now(&self) {
        let dropped = async {
            let mut admin = connect(&self.admin_url).await?;
            admin
                .batch_execute(&format!(
                    "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                    self.name
                ))
                .await
                .map_err(|e| e.to_string())
        };
        match dropped.await {
            Ok(()) => eprintln!("dropped database {}", self.name),
            Err(error) => eprintln!("could not drop database {}: {error}", self.name),
        }
    }
}

#[derive(QueryableByName)]
struct DatabaseName {
    #[diesel(sql_type = Text)]
    datname: String,
}

async fn sweep_stale(admin: &mut AsyncPgConnection) {
    // Scoped: `RunQueryDsl::load` would shadow `AtomicU64::load` in this module.
    use diesel_async::RunQueryDsl as _;
    let Ok(names) = diesel::sql_query("SELECT datname::text AS datname FROM pg_database")
        .load::<DatabaseName>(admin)
        .await
    else {
        return;
    };
    for DatabaseName { datname } in names {
        let Some(pid) = datname
            .strip_prefix(PREFIX)
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if pid != std::process::id() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = admin
                .batch_execute(&format!("DROP DATABASE IF EXISTS {datname}"))
                .await;
        }
    }
}

pub async fn connect(url: &str) -> Result<AsyncPgConnection, String> {
    match tokio::time::timeout(Duration::from_secs(5), AsyncPgConnection::establish(url)).await {
        Ok(Ok(conn)) => Ok(conn),
        Ok(Err(error)) => Err(format!(
            "PostgreSQL unreachable at {}: {error}",
            redact(url)
        )),
        Err(_) => Err(format!(
            "PostgreSQL unreachable at {}: timed out",
            redact(url)
        )),
    }
}

/// A pool like the store's (same size), for the hand-written ceilings.
pub fn pool(url: &str, size: usize) -> Result<PgPool, String> {
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(url);
    Pool::builder(manager)
        .max_size(size)
        .build()
        .map_err(|e| format!("pool: {e}"))
}

/// `url` with its database (the path) replaced, query parameters kept.
pub fn with_database(url: &str, database: &str) -> String {
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

fn redact(url: &str) -> String {
    let Some(start) = url.find("://").map(|i| i + 3) else {
        return url.to_owned();
    };
    let rest = &url[start..];
    match (rest.find('@'), rest.find(':')) {
        (Some(at), Some(colon)) if colon < at => {
            format!("{}{}:***{}", &url[..start], &rest[..colon], &rest[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_rewritten() {
        assert_eq!(
            with_database("postgres://u@h:5432/postgres", "x"),
            "postgres://u@h:5432/x"
        );
        assert_eq!(
            concierge_tests::statement_counter::split_host(
                "postgres://u:p@db:6543/x?sslmode=disable",
                "127.0.0.1:9"
            ),
            Some((
                "db:6543".to_owned(),
                "postgres://u:p@127.0.0.1:9/x?sslmode=disable".to_owned()
            ))
        );
        assert_eq!(
            concierge_tests::statement_counter::split_host("postgres://localhost/x", "127.0.0.1:9"),
            Some((
                "localhost:5432".to_owned(),
                "postgres://127.0.0.1:9/x".to_owned()
            ))
        );
    }
}
