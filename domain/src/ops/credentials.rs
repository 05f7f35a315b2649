//! Credentials an administrator hands out: booking codes (seed 000) and passwords set by hand
//! (seed 002), and signing in with a booking code.

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, UserId};
use crate::model::*;
use crate::ops::auth::{AuthSession, INVALID_CREDENTIALS, check_password_policy};
use crate::ops::{Domain, find_by_hash, user_target};
use crate::secrets::{random_digits, random_password};
use crate::storage::Reads;
use crate::throttle::{Limit, claim_attempt, release};

/// How an administrator resets someone's password.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordResetMethod {
    /// E-mail a single-use link.
    EmailLink,
    /// Set it now (given, or generated and returned once); it must change at next sign-in.
    Set,
}

/// The outcome of an administrator's password reset.
#[derive(Debug, Clone)]
pub struct PasswordReset {
    pub user: User,
    /// The generated temporary password, returned once (none when the administrator chose it).
    pub temporary_password: Option<String>,
}

/// A temporary password chosen by an administrator: a PIN of at least 6 digits, or a password
/// meeting the policy. Its owner must change it at next sign-in.
fn check_temporary_password(password: &str) -> DomainResult<()> {
    let is_pin = password.len() >= 6 && password.chars().all(|c| c.is_ascii_digit());
    if is_pin {
        Ok(())
    } else {
        check_password_policy("newPassword", password)
    }
}

impl Domain {
    /// Gives the user a new booking code, returned once; the old one stops working at once.
    pub async fn reset_booking_code(
        &self,
        actor: &Actor,
        id: UserId,
    ) -> DomainResult<(User, String)> {
        self.retrying("userId", || self.reset_booking_code_once(actor, id))
            .await
    }

    async fn reset_booking_code_once(
        &self,
        actor: &Actor,
        id: UserId,
    ) -> DomainResult<(User, String)> {
        let mut tx = self.store.begin().await?;
        let (mut user, org) = self.lock_manageable_user(&mut *tx, actor, id).await?;
        let (code, hash) = self.unused_booking_code(&*tx, org.id).await?;
        user.booking_code_hash = Some(hash);
        tx.update_user(&user).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "booking_code.reset",
            user_target(id),
        ))
        .await?;
        tx.commit().await?;
        Ok((user.into_inner(), code))
    }

    /// An administrator resets a user's password. Every session of the user ends.
    pub async fn reset_user_password(
        &self,
        actor: &Actor,
        id: UserId,
        method: PasswordResetMethod,
        new_password: Option<&str>,
    ) -> DomainResult<PasswordReset> {
        // Checked on the committed row first, so that nothing is hashed for a refusal; checked
        // again on the locked row below.
        let (current, org) = self.manageable_user(actor, id).await?;
        if method == PasswordResetMethod::EmailLink {
            let mut tx = self.store.begin().await?;
            self.send_reset_link(&mut *tx, &current).await?;
            let event = self.audit(Some(actor), Some(org.id), "password.reset", user_target(id));
            tx.insert_audit_event(&event).await?;
            tx.commit().await?;
            return Ok(PasswordReset {
                user: current,
                temporary_password: None,
            });
        }
        let (password, generated) = match new_password.filter(|p| !p.is_empty()) {
            Some(chosen) => {
                check_temporary_password(chosen)?;
                (chosen.to_owned(), false)
            }
            None if current.email.is_some() => (random_password(), true),
            None => (random_digits(6), true),
        };
        // Argon2 before the transaction: no lock is held while hashing.
        let hash = self.secrets.hash_password(&password).await?;
        let user = self
            .retrying("userId", || async {
                let mut tx = self.store.begin().await?;
                let (mut user, org) = self.lock_manageable_user(&mut *tx, actor, id).await?;
                user.password_hash = Some(hash.clone());
                user.must_change_password = true;
                user.session_epoch += 1;
                tx.update_user(&user).await?;
                tx.publish_access_ended(&AccessEnded::User(user.id)).await?;
                tx.insert_audit_event(&self.audit(
                    Some(actor),
                    Some(org.id),
                    "password.reset",
                    user_target(id),
                ))
                .await?;
                tx.commit().await?;
                Ok(user.into_inner())
            })
            .await?;
        Ok(PasswordReset {
            user,
            temporary_password: generated.then_some(password),
        })
    }

    /// Signs in to the apps with a personal booking code. Wrong codes are throttled per client
    /// address, like every guessable secret, and per organization (shared with its tablets).
    pub async fn login_with_booking_code(
        &self,
        organization: OrganizationId,
        code: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let rules = self.config.throttle;
        let source = ip.unwrap_or("unknown");
        let limits = [
            Limit::code_guesses(source, &rules),
            Limit::address(source, &rules),
            Limit::organization_codes(organization, &rules),
        ];
        let (claimed, _) =
            claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await?;
        let user = self.user_by_booking_code(organization, code).await?;
        match user {
            Some(user) if user.status == UserStatus::Active => {
                release(&*self.attempts, &claimed).await?;
                self.rehash_booking_code(&user, code).await?;
                let mut tx = self.store.begin().await?;
                let session = self
                    .start_session(&mut *tx, &user, "login.succeeded", ip)
                    .await?;
                tx.commit().await?;
                Ok(session)
            }
            other => {
                self.record_failure("login.failed", other.as_ref(), ip)
                    .await?;
                Err(DomainError::Unauthenticated(INVALID_CREDENTIALS.to_owned()))
            }
        }
    }

    /// The user of `organization` holding booking code `code`: looked up under the current
    /// pepper, then under the previous one during a rotation. `None` for what is not a code.
    pub(crate) async fn user_by_booking_code(
        &self,
        organization: OrganizationId,
        code: &str,
    ) -> DomainResult<Option<User>> {
        let code = code.trim();
        if code.is_empty() || code.len() > 32 || !code.chars().all(|c| c.is_ascii_digit()) {
            return Ok(None);
        }
        let store = &*self.store;
        let found = find_by_hash(
            self.secrets.booking_code_hashes(organization, code),
            |hash| async move {
                store
                    .user_by_booking_code(organization, hash.expose())
                    .await
            },
        )
        .await?;
        Ok(found.map(|(user, _)| user))
    }

    /// Whether `code` is held in `organization` under any pepper in use: a new code must not
    /// collide with one still stored under the previous pepper either.
    pub(crate) async fn booking_code_taken(
        &self,
        store: &dyn Reads,
        organization: OrganizationId,
        code: &str,
    ) -> DomainResult<bool> {
        let found = find_by_hash(
            self.secrets.booking_code_hashes(organization, code),
            |hash| async move {
                store
                    .user_by_booking_code(organization, hash.expose())
                    .await
            },
        )
        .await?;
        Ok(found.is_some())
    }

    /// After `user` used `code` successfully: a code still stored under the previous pepper is
    /// stored under the current one from now on, so it keeps working once that pepper is dropped.
    pub(crate) async fn rehash_booking_code(&self, user: &User, code: &str) -> DomainResult<()> {
        let current = self
            .secrets
            .booking_code_hash(user.organization_id, code.trim());
        let Some(used) = user.booking_code_hash.as_ref() else {
            return Ok(());
        };
        if *used == current {
            return Ok(());
        }
        let mut tx = self.store.begin().await?;
        // Compare-and-set of the hash column alone, never a whole-row write of the copy read
        // earlier: a deactivation (or any change) committed since must stay. Only the code just
        // used is re-hashed; `false` means it was reset or re-hashed meanwhile: nothing to do.
        tx.replace_booking_code_hash(user.id, used, &current)
            .await?;
        tx.commit().await?;
        Ok(())
    }
}
