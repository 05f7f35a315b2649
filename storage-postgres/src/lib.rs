//! Concierge's storage traits on PostgreSQL, with diesel and diesel-async over a deadpool pool.
//! The schema lives in `migrations/`, embedded in the binary and applied by [`run_migrations`].
//! Booking events reach every server on the database through LISTEN/NOTIFY and the
//! `booking_events` log (see `listener`).

mod errors;
mod listener;
mod migrations;
mod queries;
mod reads;
mod rows;
mod schema;
mod store;
mod transaction;

pub use listener::{EVENT_BUFFER, LISTENER_APPLICATION_NAME};
pub use migrations::run_migrations;
pub use store::PgStore;
