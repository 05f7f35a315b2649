//! Concierge's storage traits on PostgreSQL, with diesel and diesel-async over a deadpool pool.
//! The schema lives in `migrations/`, embedded in the binary and applied by [`run_migrations`].

mod errors;
mod migrations;
mod queries;
mod reads;
mod rows;
mod schema;
mod store;
mod transaction;

pub use migrations::run_migrations;
pub use store::PgStore;
