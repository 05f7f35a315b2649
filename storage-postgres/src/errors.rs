//! How database failures become [`StorageError`]s: a unique or exclusion violation names its key
//! by constraint, a lost connection or an exhausted pool is `Unavailable`, anything else `Other`.

use concierge_domain::storage::{Reference, StorageError, UniqueKey};
use diesel::result::{DatabaseErrorKind, Error as DieselError};
use diesel_async::pooled_connection::deadpool::PoolError;

/// The unique indexes and constraints of the migrations that stand for a [`UniqueKey`].
fn unique_key(constraint: &str) -> Option<UniqueKey> {
    match constraint {
        "users_email_key" => Some(UniqueKey::UserEmail),
        "users_username_key" => Some(UniqueKey::UserUsername),
        "users_booking_code_key" => Some(UniqueKey::BookingCode),
        "sessions_refresh_token_hash_key" => Some(UniqueKey::SessionToken),
        "sso_identities_pkey" => Some(UniqueKey::SsoIdentity),
        "sso_connections_pkey" => Some(UniqueKey::SsoConnection),
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

/// What a foreign key (named `<table>_<column>_fkey` by the migrations) refers to.
fn reference(constraint: &str) -> Reference {
    let refers_to = |column: &str| constraint.contains(column);
    if refers_to("site_group_id") {
        Reference::SiteGroup
    } else if refers_to("site_id") {
        Reference::Site
    } else if refers_to("profile_id") {
        Reference::Profile
    } else if refers_to("room_id") {
        Reference::Room
    } else if refers_to("price_list_id") {
        Reference::PriceList
    } else if refers_to("organization_id") || refers_to("parent_id") {
        Reference::Organization
    } else if refers_to("user_id") || refers_to("created_by") {
        Reference::User
    } else {
        Reference::Other
    }
}

/// PostgreSQL's message for SQLSTATE 40P01, which diesel does not name (it has no kind for it).
const DEADLOCK_DETECTED: &str = "deadlock detected";

pub(crate) fn from_diesel(error: DieselError) -> StorageError {
    match &error {
        DieselError::DatabaseError(DatabaseErrorKind::SerializationFailure, _) => {
            StorageError::Contended
        }
        DieselError::DatabaseError(DatabaseErrorKind::Unknown, info)
            if info.message().starts_with(DEADLOCK_DETECTED) =>
        {
            StorageError::Contended
        }
        DieselError::DatabaseError(DatabaseErrorKind::ForeignKeyViolation, info) => {
            StorageError::MissingReference(reference(info.constraint_name().unwrap_or_default()))
        }
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
