//! Durability and resilience on PostgreSQL ("nothing acknowledged is lost"):
//!
//! - `restart`: the real `concierge` binary is stopped with SIGTERM (exit status 0) and started
//!   again on the same database; what was written through HTTP before is read back after.
//! - `outage`: the database goes away under a running API (a proxy cuts every connection) and
//!   comes back; the API answers 503 / INTERNAL "storage unavailable" meanwhile, then recovers
//!   by itself.
//! - `shutdown`: SIGTERM while clients are booking; the process exits in time and every
//!   acknowledged booking is read back by the next one.
//! - `concurrency`: twenty simultaneous creations of one username make exactly one user.
//!
//! The server process and its HTTP client are `concierge_tests::server` (shared with the
//! `replicas` tests). Each test has its own fresh database (`concierge_tests::postgres`); without
//! a PostgreSQL server they fail, they never skip.

mod concurrency;
mod outage;
mod proxy;
mod restart;
mod shutdown;
