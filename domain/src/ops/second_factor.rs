//! A second factor (TOTP, RFC 6238): enrolment, the sign-in challenge, recovery codes, an
//! organization's rule requiring it of the people who manage others, and an administrator's
//! reset of a lost factor. See `docs/architecture.md` for the shape of each change.
//!
//! - A code is accepted for the current 30-second step and the one before or after it (clock
//!   drift), and at most once: the last accepted step is kept, and no code of that step or an
//!   earlier one is accepted again.
//! - Wrong codes are throttled like passwords: the same per-account budget as sign-in (and the
//!   per-address one), claimed before the code is checked.
//! - The challenge is single use, bound to its person (`<user id>.<256 random bits>`, kept as a
//!   keyed hash on the factor's row) and expires after [`CHALLENGE_TTL_MINUTES`]; a new sign-in
//!   replaces the pending one. It is spent in the transaction that locks the factor's row, so
//!   of concurrent uses exactly one succeeds.

use chrono::{DateTime, Duration, Utc};
use rand::Rng as _;
use rand::rngs::OsRng;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, UserId};
use crate::model::*;
use crate::ops::mail::{Mail, mail_params, params};
use crate::ops::{AuthSession, Domain, user_target};
use crate::permissions::{ClientsPermission, Permissions, UsersPermission};
use crate::storage::Reads;
use crate::throttle::{Limit, claim_attempt, release};
use crate::values::Secret;

/// Whom an organization's second-factor rule concerns: the people who manage users or clients.
fn manages_people(permissions: &Permissions) -> bool {
    permissions.users >= UsersPermission::Manage || permissions.clients >= ClientsPermission::Manage
}

/// The rule: a person whose organization requires a second factor of them, and who has no
/// confirmed one, must enrol before anything else.
pub(crate) fn must_enroll(permissions: &Permissions, required: bool, confirmed: bool) -> bool {
    required && manages_people(permissions) && !confirmed
}

/// Length of a TOTP time step, in seconds (RFC 6238's default).
pub const TOTP_STEP_SECONDS: i64 = 30;
/// Digits of a TOTP code.
pub const TOTP_DIGITS: u8 = 6;
/// Steps accepted before and after the current one.
pub const TOTP_SKEW_STEPS: i64 = 1;
/// How many recovery codes a confirmed enrolment hands out.
pub const RECOVERY_CODE_COUNT: usize = 10;
/// How long a sign-in challenge may be answered.
pub const CHALLENGE_TTL_MINUTES: i64 = 5;
/// The issuer shown by authenticator apps.
pub const TOTP_ISSUER: &str = "Concierge";

const CHALLENGE_PURPOSE: &str = "mfa-challenge";
const RECOVERY_PURPOSE: &str = "mfa-recovery";
const RECOVERY_ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyz23456789";

/// Why [`crate::Authenticated::actor`] refuses someone who must enrol first.
pub const SECOND_FACTOR_ENROLLMENT_REQUIRED: &str =
    "your organization requires a second factor: enrol first (startTotpEnrollment)";

/// What starting an enrolment hands out, once: the key, for an authenticator app.
#[derive(Clone)]
pub struct TotpEnrollment {
    /// The key in base32, for typing it in by hand.
    pub secret: String,
    /// `otpauth://totp/Concierge:<login>?secret=…&issuer=Concierge&…`
    pub otpauth_uri: String,
}

impl std::fmt::Debug for TotpEnrollment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TotpEnrollment(***)")
    }
}

/// A sign-in waiting for its second factor.
#[derive(Clone)]
pub struct SecondFactorChallenge {
    /// Opaque, single use: hand it to `verifySecondFactor` with a code.
    pub token: String,
    pub expires_at: DateTime<Utc>,
}

impl std::fmt::Debug for SecondFactorChallenge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecondFactorChallenge")
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// What a password sign-in answers: a session, or a challenge when the person has a second
/// factor.
#[derive(Debug, Clone)]
pub enum SignIn {
    Session(Box<AuthSession>),
    Challenge(SecondFactorChallenge),
}

/// What the signed-in person may know of their own second factor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SecondFactorStatus {
    pub enabled: bool,
    pub recovery_codes_left: usize,
    /// Their organization requires one of them (they manage users or clients).
    pub required: bool,
}

/// Why recovery codes are handed out: the enrolment's confirmation, or a renewal.
#[derive(Debug, Clone, Copy)]
enum CodesFor {
    Enrolment,
    Renewal,
}

fn invalid_challenge() -> DomainError {
    DomainError::Unauthenticated(
        "the sign-in challenge is invalid, used or expired; sign in again".into(),
    )
}

fn wrong_code() -> DomainError {
    DomainError::validation("code", "is not correct")
}

fn challenge_of(token: &str) -> Option<UserId> {
    token
        .trim()
        .split_once('.')
        .and_then(|(id, _)| id.parse().ok())
}

/// The TOTP of `key` (raw bytes) for `account`.
fn totp(key: Vec<u8>, account: &str) -> DomainResult<totp_rs::Totp> {
    totp_rs::Builder::new()
        .with_algorithm(totp_rs::Algorithm::SHA1)
        .with_digits(TOTP_DIGITS)
        .with_skew(TOTP_SKEW_STEPS as u16)
        .with_step_duration(TOTP_STEP_SECONDS as u64)
        .with_secret(key)
        .with_account_name(account.replace(':', "_"))
        .with_issuer(Some(TOTP_ISSUER))
        .build()
        .map_err(|e| DomainError::internal(format!("totp: {e}")))
}

/// The step of `code` in the window around `now`, later than `after`; `None` when the code is
/// not one of them (or not a TOTP code at all).
fn matching_step(
    totp: &totp_rs::Totp,
    code: &str,
    now: DateTime<Utc>,
    after: Option<i64>,
) -> Option<i64> {
    if code.len() != usize::from(TOTP_DIGITS) || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let origin = now.timestamp().div_euclid(TOTP_STEP_SECONDS);
    (origin - TOTP_SKEW_STEPS..=origin + TOTP_SKEW_STEPS)
        .filter(|step| *step >= 0 && after.is_none_or(|last| *step > last))
        .find(|step| {
            let time = u64::try_from(step * TOTP_STEP_SECONDS).unwrap_or(0);
            // `check` at the step's own time with the skew taken out: one exact comparison.
            totp.generate(time).to_string() == code
        })
}

/// A code as typed: spaces and dashes dropped, lower-cased.
fn normalize_code(code: &str) -> String {
    code.chars()
        .filter(|c| !c.is_whitespace() && *c != '-')
        .flat_map(char::to_lowercase)
        .collect()
}

fn recovery_code() -> String {
    let pick = || char::from(RECOVERY_ALPHABET[OsRng.gen_range(0..RECOVERY_ALPHABET.len())]);
    let left: String = (0..5).map(|_| pick()).collect();
    let right: String = (0..5).map(|_| pick()).collect();
    format!("{left}-{right}")
}

impl Domain {
    /// Whether `user`, holding `permissions`, must enrol a second factor before doing anything
    /// else: their organization requires one of those who manage users or clients, and they have
    /// none confirmed.
    pub(crate) async fn must_enroll_second_factor(
        &self,
        reads: &dyn Reads,
        user: &User,
        permissions: &Permissions,
    ) -> DomainResult<bool> {
        if !manages_people(permissions)
            || !reads.second_factor_required(user.organization_id).await?
        {
            return Ok(false);
        }
        let factor = reads.second_factor(user.id).await?;
        Ok(must_enroll(
            permissions,
            true,
            factor.is_some_and(|f| f.confirmed_at.is_some()),
        ))
    }

    /// [`Domain::must_enroll_second_factor`] for a person as committed (the sign-in payload's
    /// `mustEnrollSecondFactor`).
    pub async fn second_factor_enrollment_required(&self, user: &User) -> DomainResult<bool> {
        let Some(profile) = self.store.profile(user.profile_id).await? else {
            return Ok(false);
        };
        self.must_enroll_second_factor(&*self.store, user, &profile.permissions)
            .await
    }

    /// After a right password: a session, or a challenge when the person has a confirmed
    /// second factor (which replaces any challenge still pending).
    pub(crate) async fn session_or_challenge(
        &self,
        user: &User,
        ip: Option<&str>,
        action: &str,
    ) -> DomainResult<SignIn> {
        self.retrying("login", || async {
            let mut tx = self.store.begin().await?;
            let factor = tx.lock_second_factor(user.id).await?;
            let answer = match factor {
                Some(mut factor) if factor.confirmed_at.is_some() => {
                    let token = format!("{}.{}", user.id, crate::secrets::random_token());
                    let expires_at = self.now() + Duration::minutes(CHALLENGE_TTL_MINUTES);
                    factor.challenge_hash =
                        Some(self.secrets.token_hash(CHALLENGE_PURPOSE, &token));
                    factor.challenge_expires_at = Some(expires_at);
                    tx.update_second_factor(&factor).await?;
                    let mut event = self.audit(
                        None,
                        Some(user.organization_id),
                        "mfa.challenged",
                        user_target(user.id),
                    );
                    (event.actor_id, event.ip) = (Some(user.id), ip.map(str::to_owned));
                    tx.insert_audit_event(&event).await?;
                    SignIn::Challenge(SecondFactorChallenge { token, expires_at })
                }
                _ => SignIn::Session(Box::new(
                    self.start_session(&mut *tx, user, action, ip).await?,
                )),
            };
            tx.commit().await?;
            Ok(answer)
        })
        .await
    }

    /// Finishes a sign-in that answered a challenge, with a TOTP code or an unused recovery
    /// code. Throttled per account and per address like a password; a wrong code leaves the
    /// challenge open (until it expires), a right one spends it.
    pub async fn verify_second_factor(
        &self,
        challenge: &str,
        code: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let user_id = challenge_of(challenge).ok_or_else(invalid_challenge)?;
        let user = self
            .store
            .user(user_id)
            .await?
            .ok_or_else(invalid_challenge)?;
        let claimed = self.claim_code_attempt(&user, ip, "mfa.failed").await?;
        let outcome = self
            .retrying("code", || {
                self.verify_second_factor_once(&user, challenge, code, ip)
            })
            .await;
        self.settle_code_attempt(&user, ip, claimed, outcome).await
    }

    async fn verify_second_factor_once(
        &self,
        user: &User,
        challenge: &str,
        code: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let mut factor = tx
            .lock_second_factor(user.id)
            .await?
            .ok_or_else(invalid_challenge)?;
        let presented = self
            .secrets
            .token_hashes(CHALLENGE_PURPOSE, challenge.trim())
            .any(|hash| factor.challenge_hash.as_ref() == Some(&hash));
        if factor.confirmed_at.is_none()
            || !presented
            || factor.challenge_expires_at.is_none_or(|at| at <= now)
        {
            return Err(invalid_challenge());
        }
        let person = tx.user(user.id).await?.ok_or_else(invalid_challenge)?;
        if person.status != UserStatus::Active {
            return Err(invalid_challenge());
        }
        let recovery_used = self.accept_code(&mut factor, &person, code, now)?;
        factor.challenge_hash = None;
        factor.challenge_expires_at = None;
        tx.update_second_factor(&factor).await?;
        if recovery_used {
            let mut event = self.audit(
                None,
                Some(person.organization_id),
                "mfa.recovery_code_used",
                user_target(person.id),
            );
            (event.actor_id, event.ip) = (Some(person.id), ip.map(str::to_owned));
            tx.insert_audit_event(&event).await?;
        }
        let session = self
            .start_session(&mut *tx, &person, "login.succeeded", ip)
            .await?;
        tx.commit().await?;
        Ok(session)
    }

    /// Checks `code` against the locked factor and spends it: a TOTP code of a step later than
    /// the last accepted one, or an unused recovery code. `true` when a recovery code was used.
    fn accept_code(
        &self,
        factor: &mut SecondFactor,
        user: &User,
        code: &str,
        now: DateTime<Utc>,
    ) -> DomainResult<bool> {
        let code = normalize_code(code);
        if code.is_empty() || code.len() > 64 {
            return Err(wrong_code());
        }
        let totp = self.totp_of(factor, user)?;
        if let Some(step) = matching_step(&totp, &code, now, factor.last_used_step) {
            factor.last_used_step = Some(step);
            return Ok(false);
        }
        let hashes: Vec<Secret> = self
            .secrets
            .token_hashes(RECOVERY_PURPOSE, &format!("{}:{code}", user.id))
            .collect();
        match factor
            .recovery_code_hashes
            .iter()
            .position(|stored| hashes.contains(stored))
        {
            Some(index) => {
                factor.recovery_code_hashes.remove(index);
                Ok(true)
            }
            None => Err(wrong_code()),
        }
    }

    fn totp_of(&self, factor: &SecondFactor, user: &User) -> DomainResult<totp_rs::Totp> {
        let encoded = self
            .secrets
            .open(&factor.sealed_secret)
            .ok_or_else(|| DomainError::internal("second factor key does not open"))?;
        let key = totp_rs::Secret::try_from_base32(&encoded)
            .map_err(|e| DomainError::internal(format!("second factor key: {e:?}")))?;
        totp(key.to_vec(), &user.login())
    }

    /// Claims one guess of a code against `user`'s budget (and the address's), auditing a
    /// refusal as `action`.
    async fn claim_code_attempt(
        &self,
        user: &User,
        ip: Option<&str>,
        action: &str,
    ) -> DomainResult<(Vec<Limit>, bool)> {
        let rules = self.config.throttle;
        let mut limits = vec![Limit::account_of(user.id, &rules)];
        limits.extend(ip.map(|ip| Limit::address(ip, &rules)));
        match claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await {
            Ok(claim) => Ok(claim),
            Err(refusal) => {
                self.record_failure(action, Some(user), ip).await?;
                Err(refusal)
            }
        }
    }

    /// Counts a wrong code (audited, and a lock-out too); gives back every other attempt: a
    /// right code, and one that checked no code at all (a spent, expired or unknown challenge,
    /// which cannot be guessed; nothing pending): the budget guards the codes.
    async fn settle_code_attempt<T>(
        &self,
        user: &User,
        ip: Option<&str>,
        (claimed, locking): (Vec<Limit>, bool),
        outcome: DomainResult<T>,
    ) -> DomainResult<T> {
        match &outcome {
            Err(DomainError::Validation { .. }) => {
                self.record_failure("mfa.failed", Some(user), ip).await?;
                if locking {
                    self.record_failure("login.locked", Some(user), ip).await?;
                }
            }
            _ => release(&*self.attempts, &claimed).await?,
        }
        outcome
    }

    /// Starts (or starts again) the actor's enrolment: a new key, returned once and kept
    /// sealed. CONFLICT when a confirmed factor exists already (an administrator resets it).
    pub async fn start_totp_enrollment(&self, actor: &Actor) -> DomainResult<TotpEnrollment> {
        actor.require_person()?;
        let key: [u8; 20] = OsRng.r#gen();
        let encoded = totp_rs::Secret::from(key.to_vec()).to_base32();
        let sealed = self.secrets.seal(&encoded)?;
        let otpauth_uri = totp(key.to_vec(), &actor.user.login())?
            .to_url()
            .map_err(|e| DomainError::internal(format!("otpauth uri: {e}")))?;
        self.retrying("secondFactor", || async {
            let now = self.now();
            let mut tx = self.store.begin().await?;
            match tx.lock_second_factor(actor.user.id).await? {
                Some(factor) if factor.confirmed_at.is_some() => {
                    return Err(DomainError::conflict(
                        "secondFactor",
                        "a second factor is already active; an administrator can reset it",
                    ));
                }
                Some(mut factor) => {
                    factor.sealed_secret = sealed.clone();
                    factor.last_used_step = None;
                    factor.recovery_code_hashes.clear();
                    factor.challenge_hash = None;
                    factor.challenge_expires_at = None;
                    factor.created_at = now;
                    tx.update_second_factor(&factor).await?;
                }
                None => {
                    let factor = SecondFactor {
                        user_id: actor.user.id,
                        sealed_secret: sealed.clone(),
                        confirmed_at: None,
                        last_used_step: None,
                        recovery_code_hashes: Vec::new(),
                        challenge_hash: None,
                        challenge_expires_at: None,
                        created_at: now,
                    };
                    if !tx.insert_second_factor(&factor).await? {
                        return Err(DomainError::Contended);
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
        .await?;
        Ok(TotpEnrollment {
            secret: encoded,
            otpauth_uri,
        })
    }

    /// Confirms the actor's pending enrolment with a first valid code; answers the recovery
    /// codes, shown this once (kept as keyed hashes). Wrong codes are throttled like passwords.
    pub async fn confirm_totp_enrollment(
        &self,
        actor: &Actor,
        code: &str,
    ) -> DomainResult<Vec<String>> {
        self.issue_recovery_codes(actor, code, CodesFor::Enrolment)
            .await
    }

    /// Replaces the actor's recovery codes with a new set, shown this once, on a current code
    /// of their authenticator (a recovery code does not do: it would renew itself). The old
    /// codes stop working at once. Wrong codes are throttled like passwords.
    pub async fn regenerate_recovery_codes(
        &self,
        actor: &Actor,
        code: &str,
    ) -> DomainResult<Vec<String>> {
        self.issue_recovery_codes(actor, code, CodesFor::Renewal)
            .await
    }

    /// On a code of the actor's authenticator (a step later than the last accepted one; none
    /// was accepted for a pending enrolment), stores a new set of recovery codes, activating
    /// the factor when it was pending, and answers the codes in clear.
    async fn issue_recovery_codes(
        &self,
        actor: &Actor,
        code: &str,
        purpose: CodesFor,
    ) -> DomainResult<Vec<String>> {
        actor.require_person()?;
        let user = actor.user.clone();
        let ip = actor.ip.as_deref();
        let codes: Vec<String> = (0..RECOVERY_CODE_COUNT).map(|_| recovery_code()).collect();
        let hashes: Vec<Secret> = codes
            .iter()
            .map(|c| {
                self.secrets.token_hash(
                    RECOVERY_PURPOSE,
                    &format!("{}:{}", user.id, normalize_code(c)),
                )
            })
            .collect();
        let claimed = self.claim_code_attempt(&user, ip, "mfa.failed").await?;
        let outcome = self
            .retrying("code", || async {
                let now = self.now();
                let mut tx = self.store.begin().await?;
                let factor = tx.lock_second_factor(user.id).await?;
                let active = factor.as_ref().is_some_and(|f| f.confirmed_at.is_some());
                let (mut factor, action) = match (purpose, factor) {
                    (CodesFor::Enrolment, Some(f)) if !active => (f, "mfa.enrolled"),
                    (CodesFor::Enrolment, Some(_)) => {
                        return Err(DomainError::conflict(
                            "code",
                            "the second factor is already active",
                        ));
                    }
                    (CodesFor::Enrolment, None) => {
                        return Err(DomainError::conflict(
                            "code",
                            "no enrolment is pending; call startTotpEnrollment first",
                        ));
                    }
                    (CodesFor::Renewal, Some(f)) if active => (f, "mfa.recovery_codes_regenerated"),
                    (CodesFor::Renewal, _) => {
                        return Err(DomainError::conflict(
                            "code",
                            "no second factor is active; enrol one first",
                        ));
                    }
                };
                let totp = self.totp_of(&factor, &user)?;
                let step = matching_step(&totp, &normalize_code(code), now, factor.last_used_step)
                    .ok_or_else(wrong_code)?;
                factor.confirmed_at.get_or_insert(now);
                factor.last_used_step = Some(step);
                factor.recovery_code_hashes = hashes.clone();
                tx.update_second_factor(&factor).await?;
                let event = self.audit(
                    Some(actor),
                    Some(user.organization_id),
                    action,
                    user_target(user.id),
                );
                tx.insert_audit_event(&event).await?;
                tx.commit().await?;
                Ok(())
            })
            .await;
        self.settle_code_attempt(&user, ip, claimed, outcome)
            .await?;
        Ok(codes)
    }

    /// The actor's own second factor, as far as they may know it.
    pub async fn second_factor_status(&self, actor: &Actor) -> DomainResult<SecondFactorStatus> {
        actor.require_person()?;
        let factor = self.store.second_factor(actor.user.id).await?;
        let confirmed = factor.filter(|f| f.confirmed_at.is_some());
        let required = (actor.permissions.users >= UsersPermission::Manage
            || actor.permissions.clients >= ClientsPermission::Manage)
            && self
                .store
                .second_factor_required(actor.user.organization_id)
                .await?;
        Ok(SecondFactorStatus {
            enabled: confirmed.is_some(),
            recovery_codes_left: confirmed.map_or(0, |f| f.recovery_code_hashes.len()),
            required,
        })
    }

    /// Removes the second factor of someone the actor may manage (not their own: another
    /// administrator does that), audited `mfa.reset` and e-mailed to the person.
    pub async fn reset_second_factor(&self, actor: &Actor, user_id: UserId) -> DomainResult<()> {
        let target = self
            .store
            .user(user_id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        self.check_manageable(&*self.store, actor, &target).await?;
        if actor.is_self(user_id) {
            return Err(DomainError::forbidden(
                "you cannot reset your own second factor; ask another administrator",
            ));
        }
        self.retrying("userId", || async {
            let mut tx = self.store.begin().await?;
            let user = tx
                .lock_user(user_id)
                .await?
                .ok_or(DomainError::NotFound("user"))?;
            // Decided again on the locked row: who may manage the person may have changed.
            if user.profile_id != target.profile_id
                || user.organization_id != target.organization_id
                || user.site_ids != target.site_ids
                || user.site_group_ids != target.site_group_ids
            {
                return Err(DomainError::Contended);
            }
            let factor = tx
                .lock_second_factor(user_id)
                .await?
                .ok_or(DomainError::NotFound("second factor"))?;
            tx.delete_second_factor(factor).await?;
            // They may now have to enrol before anything else.
            tx.publish_access_ended(&AccessEnded::User(user.id)).await?;
            let event = self.audit(
                Some(actor),
                Some(user.organization_id),
                "mfa.reset",
                user_target(user.id),
            );
            tx.insert_audit_event(&event).await?;
            if let Some(email) = user.email.clone() {
                let mail = Mail {
                    organization: Some(user.organization_id),
                    to: email,
                    language: user.language,
                    kind: EmailKind::SecondFactorReset,
                    params: mail_params([
                        (params::NAME, user.display_name()),
                        (params::AT, self.now().to_rfc3339()),
                    ]),
                };
                self.enqueue(&mut *tx, mail).await?;
            }
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Sets whether `organization` requires a second factor of everyone whose profile has
    /// `users` or `clients` at MANAGE. Same rights as editing the organization.
    pub async fn set_second_factor_required(
        &self,
        actor: &Actor,
        organization: OrganizationId,
        required: bool,
    ) -> DomainResult<bool> {
        let current = self.organization(actor, organization).await?;
        actor.require_write_in(&current)?;
        actor.require("users", actor.permissions.users, UsersPermission::Manage)?;
        self.retrying("organizationId", || async {
            let mut tx = self.store.begin().await?;
            tx.lock_organization(organization)
                .await?
                .ok_or(DomainError::NotFound("organization"))?;
            tx.set_second_factor_required(organization, required)
                .await?;
            tx.publish_access_ended(&AccessEnded::Organization(organization))
                .await?;
            let event = self.audit(
                Some(actor),
                Some(organization),
                if required {
                    "mfa.required"
                } else {
                    "mfa.not_required"
                },
                Some(("Organization", organization.to_string())),
            );
            tx.insert_audit_event(&event).await?;
            tx.commit().await?;
            Ok(required)
        })
        .await
    }

    /// Whether `organization` (visible to the actor) requires a second factor.
    pub async fn second_factor_required(
        &self,
        actor: &Actor,
        organization: OrganizationId,
    ) -> DomainResult<bool> {
        let org = self.organization(actor, organization).await?;
        Ok(self.store.second_factor_required(org.id).await?)
    }
}

/// The current code of a base32 key at `at`: for tests and tools that play the authenticator.
pub fn totp_code_at(secret_base32: &str, at: DateTime<Utc>) -> DomainResult<String> {
    let key = totp_rs::Secret::try_from_base32(secret_base32)
        .map_err(|_| DomainError::validation("secret", "is not base32"))?;
    let totp = totp(key.to_vec(), "x")?;
    Ok(totp
        .generate(u64::try_from(at.timestamp()).unwrap_or(0))
        .to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_sha1_vector() {
        // RFC 6238 appendix B: key "12345678901234567890", T = 59 → 94287082 (8 digits); the
        // 6-digit code is its last six digits.
        let key = totp_rs::Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let at = DateTime::from_timestamp(59, 0).expect("time");
        assert_eq!(totp_code_at(&key, at).expect("code"), "287082");
    }

    #[test]
    fn codes_are_normalized() {
        assert_eq!(normalize_code(" AbCde-fGh2 3 "), "abcdefgh23");
        assert_eq!(recovery_code().len(), 11);
    }
}
