use chrono::{DateTime, Utc};

use crate::ids::{OrganizationId, SiteId, SsoLoginId, UserId};
use crate::values::Secret;

/// What a first sign-in through the organization's provider does for someone Concierge does
/// not know yet under that provider.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum SsoProvisioning {
    /// Creates the person (just in time) with the organization's default profile and the
    /// connection's default site; a person with that e-mail is linked instead.
    CreatePerson,
    /// Only links to an existing person of the organization with that (verified) e-mail.
    LinkOnly,
}

/// An organization's OpenID Connect provider (one per organization).
#[derive(Debug, Clone, PartialEq)]
pub struct SsoConnection {
    pub organization_id: OrganizationId,
    /// The provider's issuer identifier (its discovery document is under it).
    pub issuer: String,
    pub client_id: String,
    /// Sealed (see `Secrets::seal`): never stored nor shown in clear.
    pub sealed_client_secret: String,
    /// Lower-cased e-mail domains whose people may sign in through it.
    pub allowed_domains: Vec<String>,
    pub provisioning: SsoProvisioning,
    /// The site people created at their first sign-in get (granted, and as default).
    pub default_site_id: Option<SiteId>,
    /// The organization's people sign in only through the provider: their passwords stop
    /// working, except for the break-glass administrators.
    pub require_sso: bool,
    pub break_glass_user_ids: Vec<UserId>,
    /// Who configured it last: people created at a first sign-in are created as by them, so a
    /// connection never grants more than its author could.
    pub configured_by: UserId,
    pub updated_at: DateTime<Utc>,
}

/// A person's account at a provider (`iss`, `sub`), linked to them at their first sign-in.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoIdentity {
    pub issuer: String,
    pub subject: String,
    pub user_id: UserId,
    pub organization_id: OrganizationId,
    pub created_at: DateTime<Utc>,
}

/// Where a sign-in through a provider stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SsoLoginStage {
    /// Sent to the provider; `secret_hash` is the hash of the `state` it must bring back.
    AtProvider,
    /// The provider's answer was verified and names `user_id`; `secret_hash` is the hash of
    /// the one-time code the front end exchanges for a session.
    SignedIn,
}

/// One sign-in through a provider, from `/start` to the session. Single use at each step: the
/// secret it is found by changes when it moves on, and it is deleted once exchanged.
#[derive(Debug, Clone, PartialEq)]
pub struct SsoLogin {
    pub id: SsoLoginId,
    pub organization_id: OrganizationId,
    pub stage: SsoLoginStage,
    pub secret_hash: Secret,
    /// The issuer the sign-in was sent to (a connection changed meanwhile is not trusted).
    pub issuer: String,
    /// The ID token must carry it (replay protection).
    pub nonce: String,
    /// The PKCE verifier, sealed.
    pub sealed_pkce_verifier: String,
    /// Where the front end wants the person back (a path, or a URL of an allowed origin).
    pub return_to: String,
    pub user_id: Option<UserId>,
    /// The client address the sign-in was started from, when known: pending sign-ins are
    /// limited per address (see `ThrottleRules::sso_pending_per_address`).
    pub client_address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// The sign-ins of an organization still pending (started, neither finished nor expired).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct PendingSsoLogins {
    pub total: u64,
    /// Of those, the ones started from the address asked about.
    pub from_address: u64,
}
