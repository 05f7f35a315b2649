use chrono::{DateTime, Utc};

use crate::ids::UserId;
use crate::values::Secret;

/// A person's second factor (TOTP, RFC 6238): at most one per user. It exists unconfirmed from
/// `startTotpEnrollment` until a first valid code confirms it (`confirmed_at`); only a confirmed
/// factor is asked for at sign-in.
#[derive(Clone, PartialEq)]
pub struct SecondFactor {
    pub user_id: UserId,
    /// The TOTP key (base32), sealed (see `Secrets::seal`): never stored nor shown in clear
    /// after enrolment started.
    pub sealed_secret: String,
    pub confirmed_at: Option<DateTime<Utc>>,
    /// The last time step whose code was accepted: a code is accepted at most once, and never
    /// one of an earlier step.
    pub last_used_step: Option<i64>,
    /// Keyed hashes of the recovery codes not used yet (a used one is removed).
    pub recovery_code_hashes: Vec<Secret>,
    /// The keyed hash of the pending sign-in challenge (one at a time: a new sign-in replaces
    /// it), and when it expires.
    pub challenge_hash: Option<Secret>,
    pub challenge_expires_at: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SecondFactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactor")
            .field("user_id", &self.user_id)
            .field("confirmed_at", &self.confirmed_at)
            .field("last_used_step", &self.last_used_step)
            .field("recovery_codes_left", &self.recovery_code_hashes.len())
            .field("challenge_expires_at", &self.challenge_expires_at)
            .finish_non_exhaustive()
    }
}
