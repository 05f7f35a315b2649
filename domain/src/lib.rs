//! Concierge's domain: entities, value types, permission rules and the operations (use cases)
//! every front end goes through. It performs no I/O of its own: storage is reached through the
//! traits of [`storage`], implemented by the `storage-*` crates.

pub mod access;
pub mod booking_rules;
pub mod clock;
pub mod error;
pub mod ids;
pub mod model;
pub mod ops;
pub mod permissions;
pub mod recurrence;
pub mod secrets;
pub mod storage;
pub mod throttle;
pub mod values;

pub use access::{Actor, Authenticated, Reach, SiteAccess, effective_sites};
pub use error::{DomainError, DomainResult, ErrorCode};
pub use ids::*;
pub use model::*;
pub use ops::*;
pub use permissions::*;
pub use recurrence::{Frequency, RecurrenceEnd, RecurrenceRule, RuleInput};
pub use values::*;
