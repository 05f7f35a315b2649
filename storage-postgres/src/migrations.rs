//! The schema, embedded in the binary and applied at start-up or by the `migrate` subcommand.

use concierge_domain::storage::{StorageError, StorageResult};
use diesel::connection::SimpleConnection as _;
use diesel_async::AsyncPgConnection;
use diesel_async::async_connection_wrapper::AsyncConnectionWrapper;
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

use crate::errors::{from_connection, from_diesel};
use crate::tls::Connector;

const MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations");

/// Serialises replicas that start together: the second waits, then finds nothing pending.
/// (Session-level: released when the connection closes, even if a migration fails.)
const LOCK: &str = "SELECT pg_advisory_lock(4242001)";

/// Applies every pending migration to the database at `database_url`.
///
/// diesel's migration harness is synchronous: it runs on a blocking thread, over the async
/// connection wrapped so that no libpq connection is needed. Works on both tokio flavours.
pub async fn run_migrations(database_url: &str) -> StorageResult<()> {
    // Connected here, on the caller's runtime, as `DATABASE_URL` says (TLS included: crate::tls);
    // the wrapper then drives it from the blocking thread through the same runtime.
    let conn = Connector::new(database_url)?
        .connect()
        .await
        .map_err(from_connection)?;
    tokio::task::spawn_blocking(move || {
        let mut conn = AsyncConnectionWrapper::<AsyncPgConnection>::from(conn);
        conn.batch_execute(LOCK).map_err(from_diesel)?;
        conn.run_pending_migrations(MIGRATIONS)
            .map(|applied| tracing::info!(count = applied.len(), "database migrations applied"))
            .map_err(|e| StorageError::Other(format!("migration failed: {e}")))
    })
    .await
    .map_err(|e| StorageError::Other(format!("migration task failed: {e}")))?
}
