//! The operations (use cases). Each takes the authenticated [`Actor`], checks tenancy and
//! permissions itself, and writes through one storage transaction.

mod audit;
mod auth;
mod availability;
mod booking_mail;
mod booking_series;
mod bookings;
mod bootstrap;
mod calendar_feeds;
mod check_in;
mod credentials;
mod devices;
mod feed;
mod import;
mod invitations;
mod mail;
mod organizations;
mod pagination;
mod password_resets;
mod price_lists;
mod profiles;
mod rooms;
mod scim;
mod second_factor;
mod single_sign_on;
mod site_groups;
mod sites;
mod users;

use std::sync::Arc;

pub use audit::*;
pub use auth::*;
pub use availability::*;
pub use booking_series::*;
pub use bookings::*;
pub use bootstrap::*;
pub use calendar_feeds::*;
pub use check_in::*;
pub use credentials::*;
pub use devices::*;
pub use feed::*;
pub use import::*;
pub use invitations::*;
pub use mail::*;
pub use organizations::*;
pub use pagination::*;
pub use price_lists::*;
pub use profiles::*;
pub use rooms::*;
pub use scim::*;
pub use second_factor::*;
pub use single_sign_on::*;
pub use site_groups::*;
pub use sites::*;
pub use users::*;

use crate::access::Actor;
use crate::clock::Clock;
use crate::error::{DomainError, DomainResult};
use crate::ids::{AuditEventId, OrganizationId, UserId};
use crate::model::{AuditEvent, Invitation, PasswordResetToken, Session, SsoLogin};
use crate::secrets::Secrets;
use crate::storage::{
    Locked, LockedResult, Reference, Storage, StorageError, Transaction, UniqueKey,
};
use crate::throttle::{AttemptCounter, ThrottleRules};
use crate::values::Secret;

/// Tunables of the domain, set from the server's configuration.
#[derive(Debug, Clone)]
pub struct DomainConfig {
    pub access_token_ttl: chrono::Duration,
    pub refresh_token_ttl: chrono::Duration,
    pub throttle: ThrottleRules,
    /// Base of links in e-mails (`{public_url}/invitation?token=…`); never taken from a request.
    pub public_url: String,
    pub invitation_ttl: chrono::Duration,
    pub password_reset_ttl: chrono::Duration,
    /// Whether a single sign-on issuer may be a plain-http loopback URL (a provider on the same
    /// machine, for development and tests). Off in production (`APP_ENV=production`): an
    /// organization's administrator could otherwise make the server call its local services.
    pub allow_loopback_issuers: bool,
}

impl Default for DomainConfig {
    fn default() -> Self {
        DomainConfig {
            access_token_ttl: chrono::Duration::minutes(15),
            refresh_token_ttl: chrono::Duration::days(30),
            throttle: ThrottleRules::default(),
            public_url: "http://127.0.0.1:8080".to_owned(),
            invitation_ttl: chrono::Duration::days(7),
            password_reset_ttl: chrono::Duration::hours(1),
            allow_loopback_issuers: true,
        }
    }
}

/// The entry point of every operation: storage, secrets, clock and configuration.
#[derive(Clone)]
pub struct Domain {
    pub store: Arc<dyn Storage>,
    /// Attempt counters for throttling guessable secrets.
    pub attempts: Arc<dyn AttemptCounter>,
    pub secrets: Arc<Secrets>,
    pub clock: Arc<dyn Clock>,
    pub config: DomainConfig,
}

impl std::fmt::Debug for Domain {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Domain")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl Domain {
    pub fn new(
        store: Arc<dyn Storage>,
        attempts: Arc<dyn AttemptCounter>,
        secrets: Arc<Secrets>,
        clock: Arc<dyn Clock>,
        config: DomainConfig,
    ) -> Self {
        Domain {
            store,
            attempts,
            secrets,
            clock,
            config,
        }
    }

    pub(crate) fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// An audit event about `target`, done by `actor` (or by nobody known, for failed sign-ins).
    pub(crate) fn audit(
        &self,
        actor: Option<&Actor>,
        organization: Option<OrganizationId>,
        action: &str,
        target: Option<(&str, String)>,
    ) -> AuditEvent {
        AuditEvent {
            id: AuditEventId::new(),
            at: self.now(),
            actor_id: actor.map(|a| a.user.id),
            organization_id: organization,
            action: action.to_owned(),
            target_type: target.as_ref().map(|(kind, _)| (*kind).to_owned()),
            target_id: target.map(|(_, id)| id),
            ip: actor.and_then(|a| a.ip.clone()),
        }
    }
}

impl Domain {
    /// Runs `attempt` (the transactional part of an operation) and, when it collided with a
    /// concurrent transaction (a deadlock or serialization failure: nothing was written), once
    /// more. A second collision answers CONFLICT on `field`.
    pub(crate) async fn retrying<T, Attempt>(
        &self,
        field: &'static str,
        mut attempt: impl FnMut() -> Attempt,
    ) -> DomainResult<T>
    where
        Attempt: std::future::Future<Output = DomainResult<T>>,
    {
        match attempt().await {
            Err(DomainError::Contended) => match attempt().await {
                Err(DomainError::Contended) => Err(DomainError::conflict(
                    field,
                    "changed concurrently by someone else; try again",
                )),
                other => other,
            },
            other => other,
        }
    }
}

/// Looks a secret up under each of its keyed hashes in turn (the current pepper's, then the
/// previous one's during a rotation, see [`Secrets::token_hashes`]): the first row found, with
/// the hash that found it.
pub(crate) async fn find_by_hash<T, Found>(
    hashes: impl IntoIterator<Item = Secret>,
    mut lookup: impl FnMut(Secret) -> Found,
) -> DomainResult<Option<(T, Secret)>>
where
    Found: std::future::Future<Output = crate::storage::StorageResult<Option<T>>>,
{
    for hash in hashes {
        if let Some(found) = lookup(hash.clone()).await? {
            return Ok(Some((found, hash)));
        }
    }
    Ok(None)
}

/// A row that a transaction can find by one of its token hashes and lock.
pub(crate) trait LockedByHash: Sized {
    fn lock<'a>(
        tx: &'a mut dyn Transaction,
        hash: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = LockedResult<Self>> + Send + 'a>>;
}

impl LockedByHash for Session {
    fn lock<'a>(
        tx: &'a mut dyn Transaction,
        hash: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = LockedResult<Self>> + Send + 'a>> {
        tx.lock_session_by_token_hash(hash)
    }
}

impl LockedByHash for Invitation {
    fn lock<'a>(
        tx: &'a mut dyn Transaction,
        hash: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = LockedResult<Self>> + Send + 'a>> {
        tx.lock_invitation_by_token_hash(hash)
    }
}

impl LockedByHash for PasswordResetToken {
    fn lock<'a>(
        tx: &'a mut dyn Transaction,
        hash: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = LockedResult<Self>> + Send + 'a>> {
        tx.lock_password_reset_by_token_hash(hash)
    }
}

impl LockedByHash for SsoLogin {
    fn lock<'a>(
        tx: &'a mut dyn Transaction,
        hash: &'a str,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = LockedResult<Self>> + Send + 'a>> {
        tx.lock_sso_login_by_hash(hash)
    }
}

/// [`find_by_hash`] inside a transaction, locking the row found: the first of `hashes` that
/// names a row, with that hash. Of concurrent uses of one single-use token, each waits for the
/// one before it and then reads what it committed.
pub(crate) async fn lock_by_hash<T: LockedByHash>(
    tx: &mut dyn Transaction,
    hashes: impl IntoIterator<Item = Secret>,
) -> DomainResult<Option<(Locked<T>, Secret)>> {
    for hash in hashes {
        if let Some(found) = T::lock(tx, hash.expose()).await? {
            return Ok(Some((found, hash)));
        }
    }
    Ok(None)
}

pub(crate) fn user_target(id: UserId) -> Option<(&'static str, String)> {
    Some(("User", id.to_string()))
}

impl From<StorageError> for DomainError {
    fn from(error: StorageError) -> Self {
        match error {
            StorageError::Unique(UniqueKey::UserEmail) => {
                DomainError::conflict("email", "a user with this e-mail already exists")
            }
            StorageError::Unique(UniqueKey::UserUsername) => {
                DomainError::conflict("username", "this username is already taken")
            }
            StorageError::Unique(UniqueKey::BookingCode) => {
                DomainError::conflict("code", "this booking code is already in use")
            }
            StorageError::Unique(UniqueKey::BookingOverlap) => bookings::conflict(),
            StorageError::Unique(UniqueKey::LinkToken) => {
                DomainError::internal("link token collision")
            }
            StorageError::Unique(UniqueKey::DeviceToken) => {
                DomainError::internal("device token collision")
            }
            StorageError::Unique(UniqueKey::SessionToken) => {
                DomainError::internal("refresh token collision")
            }
            StorageError::Unique(UniqueKey::SsoIdentity) => DomainError::conflict(
                "email",
                "this account of the identity provider was linked concurrently; sign in again",
            ),
            StorageError::Unique(UniqueKey::SsoConnection) => DomainError::conflict(
                "organizationId",
                "single sign-on was configured concurrently; try again",
            ),
            StorageError::MissingReference(reference) => {
                let (field, what) = match reference {
                    Reference::Organization => ("organizationId", "organization"),
                    Reference::Profile => ("profileId", "profile"),
                    Reference::Site => ("siteIds", "site"),
                    Reference::SiteGroup => ("siteGroupIds", "site group"),
                    Reference::Room => ("roomId", "room"),
                    Reference::User => ("userId", "user"),
                    Reference::PriceList => ("priceListId", "price list"),
                    Reference::Other => ("id", "referenced object"),
                };
                DomainError::conflict(field, format!("the {what} was removed meanwhile"))
            }
            StorageError::Contended => DomainError::Contended,
            StorageError::Unavailable(detail) => DomainError::Unavailable(detail),
            StorageError::Other(detail) => DomainError::internal(format!("storage: {detail}")),
        }
    }
}
