//! How database failures become [`StorageError`]s: a unique or exclusion violation names its key
//! by constraint, a lost connection or an exhausted pool is `Unavailable`, anything else `Other`.

use concierge_domain::storage::{StorageError, UniqueKey};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// The unique indexes and constraints of the migrations that stand for a [`UniqueKey`].
fn unique_key(constraint: &str) -> Option<UniqueKey> {
    match constraint {
        "users_email_key" => Some(UniqueKey::UserEmail),
        "users_username_key" => Some(UniqueKey::UserUsername),
        "users_booking_code_key" => Some(UniqueKey::BookingCode),
        "sessions_refresh_token_hash_key" => Some(UniqueKey::SessionToken),
        "devices_token_hash_key" => Some(UniqueKey::DeviceToken),
        "invitations_token_hash_key" | "password_resets_token_hash_key" => {
            Some(UniqueKey::LinkToken)
        }
        _ => None,
    }
}

/// The exclusion constraints that stand for a [`UniqueKey`] (SQLSTATE 23P01).
fn exclusion_key(constraint: &str) -> Option<UniqueKey> {
    match constraint {
        "bookings_no_overlap" => Some(UniqueKey::BookingOverlap),
        _ => None,
    }
}

pub(crate) fn from_diesel(error: DieselError) -> StorageError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::UniqueViolation, info) => {
            match info.constraint_name().and_then(unique_key) {
                Some(key) => StorageError::Unique(key),
                None => StorageError::Other(error.to_string()),
            }
        }
        DieselError::DatabaseError(DatabaseErrorKind::ExclusionViolation, info) => {
            match info.constraint_name().and_then(exclusion_key) {
                Some(key) => StorageError::Unique(key),
                None => StorageError::Other(error.to_string()),
            }
        }
        DieselError::DatabaseError(
            DatabaseErrorKind::ClosedConnection | DatabaseErrorKind::UnableToSendCommand,
            _,
        )
        | DieselError::BrokenTransactionManager => StorageError::Unavailable(error.to_string()),
        _ => StorageError::Other(error.to_string()),
    }
}

pub(crate) fn from_pool(error: PoolError) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

pub(crate) fn from_connection(error: diesel::ConnectionError) -> StorageError {
    StorageError::Unavailable(error.to_string())
}

/// Stored data that no longer parses into a domain value (a bug or a hand-edited row).
pub(crate) fn corrupt(what: &str, detail: impl std::fmt::Display) -> StorageError {
    StorageError::Other(format!("stored {what} is invalid: {detail}"))
}

/// `?` on diesel results inside this crate.
pub(crate) trait IntoStorage<T> {
    fn storage(self) -> Result<T, StorageError>;
}

impl<T> IntoStorage<T> for Result<T, DieselError> {
    fn storage(self) -> Result<T, StorageError> {
        self.map_err(from_diesel)
    }
}
