//! Concierge's storage traits on PostgreSQL, with diesel and diesel-async over a deadpool pool.
//! The schema lives in `migrations/`, embedded in the binary and applied by [`run_migrations`].
//! Booking events reach every server on the database through LISTEN/NOTIFY and the
//! `booking_events` log (see `listener`). Sign-in throttling counters live in the database too,
//! shared by every server on it (see `attempts`).

mod attempts;
mod errors;
mod listener;
mod migrations;
mod queries;
mod reads;
mod rows;
mod schema;
mod store;
mod tls;
mod transaction;

pub use attempts::PgAttemptCounter;
pub use listener::{EVENT_BUFFER, LISTENER_APPLICATION_NAME};
pub use migrations::run_migrations;
pub use store::PgStore;
