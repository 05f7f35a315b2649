//! Throttling of guessable secrets (DESIGN.md §9): per account (whichever login names it), per
//! client address, per device, per organization for booking codes; and of password-reset
//! e-mails, per account and per address.
//!
//! Attempts are *recorded before* the secret is checked, so parallel attempts cannot slip through
//! between a check and a record: of 50 simultaneous guesses against a limit of 10, exactly 10 are
//! checked. An attempt that turns out right is then forgotten, so only failures count.

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, UserId};
use crate::model::User;
use crate::storage::StorageResult;

/// What a counter holds for one key within the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub count: u32,
    pub oldest: Option<DateTime<Utc>>,
}

/// Sliding-window attempt counters, atomic per key.
#[async_trait]
pub trait AttemptCounter: Send + Sync {
    /// Records an attempt under `key` and answers the window with it included.
    async fn record(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: Duration,
    ) -> StorageResult<Window>;
    /// The window as it stands, recording nothing.
    async fn peek(&self, key: &str, now: DateTime<Utc>, window: Duration) -> StorageResult<Window>;
    /// Forgets the latest attempt under `key` (it succeeded).
    async fn forget_latest(&self, key: &str) -> StorageResult<()>;
}

/// The limits, from DESIGN.md §9.
#[derive(Debug, Clone, Copy)]
pub struct ThrottleRules {
    pub window: Duration,
    /// Failed sign-ins of one account.
    pub per_account: u32,
    /// Failed attempts of any kind from one client address.
    pub per_address: u32,
    /// Wrong booking codes from one device or address.
    pub per_device: u32,
    /// Wrong booking codes against one organization, from all devices and addresses together:
    /// the budget that rotating addresses cannot multiply.
    pub per_organization_codes: u32,
    /// The window of password-reset requests.
    pub reset_window: Duration,
    /// Password-reset e-mails to one account per `reset_window`.
    pub resets_per_account: u32,
    /// Password-reset requests from one client address per `reset_window`.
    pub resets_per_address: u32,
    /// Sign-ins through an organization's provider pending at once from one client address.
    /// Each start (`/auth/oidc/<org>/start`, no credentials needed) stores a pending sign-in
    /// for 10 minutes; finished ones go at once, so only abandoned or forged starts add up.
    pub sso_pending_per_address: u32,
    /// Sign-ins pending at once for one organization, from all addresses together: what
    /// rotating addresses can make the server store is bounded by this.
    pub sso_pending_per_organization: u32,
}

impl Default for ThrottleRules {
    fn default() -> Self {
        ThrottleRules {
            window: Duration::minutes(15),
            per_account: 10,
            per_address: 50,
            per_device: 10,
            per_organization_codes: 30,
            reset_window: Duration::hours(1),
            resets_per_account: 3,
            resets_per_address: 20,
            sso_pending_per_address: 20,
            sso_pending_per_organization: 5_000,
        }
    }
}

/// One throttled key and its limit.
#[derive(Debug, Clone)]
pub struct Limit {
    pub key: String,
    pub max: u32,
}

impl Limit {
    /// Password guesses against one account, whichever login string (e-mail or username) names
    /// it: keyed by the account's id when the login names one, else by the login itself (so
    /// that an unknown login is throttled exactly as a known one).
    pub fn account(login: &str, user: Option<&User>, rules: &ThrottleRules) -> Self {
        match user {
            Some(user) => Self::account_of(user.id, rules),
            None => Limit {
                key: format!("account:{login}"),
                max: rules.per_account,
            },
        }
    }
    /// Password guesses against account `user` (sign-in, `changePassword`).
    pub fn account_of(user: UserId, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("account:{user}"),
            max: rules.per_account,
        }
    }
    /// Wrong booking codes against one organization (see `per_organization_codes`).
    pub fn organization_codes(organization: OrganizationId, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("code-org:{organization}"),
            max: rules.per_organization_codes,
        }
    }
    /// Password-reset e-mails to one account (within `reset_window`).
    pub fn reset_requests_of(user: UserId, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("reset-account:{user}"),
            max: rules.resets_per_account,
        }
    }
    /// Password-reset requests from one client address (within `reset_window`).
    pub fn reset_requests_from(ip: &str, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("reset-address:{ip}"),
            max: rules.resets_per_address,
        }
    }
    pub fn address(ip: &str, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("address:{ip}"),
            max: rules.per_address,
        }
    }
    pub fn code_guesses(source: &str, rules: &ThrottleRules) -> Self {
        Limit {
            key: format!("code:{source}"),
            max: rules.per_device,
        }
    }
}

/// Claims one attempt under every limit, or refuses with RATE_LIMITED (claiming nothing more).
/// Returns the limits claimed, to be released if the attempt succeeds, and whether one of them
/// has just reached its maximum (a lock-out to audit).
pub async fn claim_attempt(
    counter: &dyn AttemptCounter,
    limits: &[Limit],
    now: DateTime<Utc>,
    window: Duration,
) -> DomainResult<(Vec<Limit>, bool)> {
    let retry_after = |w: Window| {
        let until = w.oldest.map_or(now + window, |oldest| oldest + window);
        DomainError::RateLimited {
            retry_after_secs: (until - now).num_seconds().max(1) as u64,
        }
    };
    // Already at the limit: refuse without counting, so the window is not prolonged.
    for limit in limits {
        let current = counter.peek(&limit.key, now, window).await?;
        if current.count >= limit.max {
            return Err(retry_after(current));
        }
    }
    let mut claimed = Vec::with_capacity(limits.len());
    let mut reached = false;
    for limit in limits {
        let after = counter.record(&limit.key, now, window).await?;
        claimed.push(limit.clone());
        if after.count > limit.max {
            // Lost a race to parallel attempts: give back what was claimed and refuse.
            release(counter, &claimed).await?;
            return Err(retry_after(after));
        }
        reached |= after.count == limit.max;
    }
    Ok((claimed, reached))
}

/// Forgets a successful attempt.
pub async fn release(counter: &dyn AttemptCounter, claimed: &[Limit]) -> StorageResult<()> {
    for limit in claimed {
        counter.forget_latest(&limit.key).await?;
    }
    Ok(())
}
