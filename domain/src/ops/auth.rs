//! Sign-in and sessions: password login, access tokens (JWT, short-lived), rotating refresh
//! tokens with reuse detection, and resolving a bearer token into an [`Actor`].

use chrono::{DateTime, Utc};

use crate::access::{Actor, Authenticated};
use crate::error::{DomainError, DomainResult};
use crate::ids::{SessionId, UserId};
use crate::model::*;
use crate::ops::{Domain, lock_by_hash, user_target};
use crate::secrets::random_token;
use crate::storage::Writes;
use crate::throttle::{Limit, claim_attempt, release};

/// The one answer for an unknown login, a wrong password and an account that may not sign in.
pub const INVALID_CREDENTIALS: &str = "invalid login or password";
const REFRESH_PURPOSE: &str = "refresh";

/// Minimum length of a password chosen by its owner.
pub const MIN_PASSWORD_LENGTH: usize = 10;

/// The most common passwords of at least ten characters (from public breach corpora).
const COMMON_PASSWORDS: &[&str] = &[
    "1234567890",
    "0123456789",
    "1111111111",
    "0000000000",
    "9876543210",
    "qwertyuiop",
    "password12",
    "password123",
    "password1234",
    "passw0rd123",
    "iloveyou12",
    "1q2w3e4r5t",
    "qwerty1234",
    "qwerty12345",
    "1qaz2wsx3edc",
    "abcdefghij",
    "abc1234567",
    "azertyuiop",
    "motdepasse",
    "motdepasse1",
    "motdepasse123",
    "welcome123",
    "letmein123",
    "administrator",
    "changeme123",
    "football123",
    "sunshine12",
    "princess12",
    "q1w2e3r4t5",
    "zaq12wsxcde",
];

/// A signed-in session as handed to the client.
#[derive(Clone)]
pub struct AuthSession {
    pub session_id: SessionId,
    pub access_token: String,
    pub refresh_token: String,
    pub expires_at: DateTime<Utc>,
    pub user: User,
}

impl std::fmt::Debug for AuthSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSession")
            .field("user", &self.user.id)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// A refresh token names its session: `<session id>.<256 random bits>`.
fn refresh_token_for(session: SessionId) -> String {
    format!("{session}.{}", random_token())
}

fn session_of(refresh_token: &str) -> Option<SessionId> {
    refresh_token
        .trim()
        .split_once('.')
        .and_then(|(id, _)| id.parse().ok())
}

/// The person of `acting` in its session: their organization and rights as read with it, their
/// site groups (so their sites need no further read), and whether they must enrol a second
/// factor first.
fn person_acting(acting: SessionWithPerson, ip: Option<String>) -> Authenticated {
    let must_enroll = crate::ops::second_factor::must_enroll(
        &acting.profile.permissions,
        acting.second_factor_required,
        acting.second_factor_confirmed,
    );
    let mut actor = Actor::new(
        acting.user,
        acting.organization,
        acting.profile.permissions.clone(),
        Some(acting.session.id),
        ip,
    );
    actor.must_enroll_second_factor = must_enroll;
    actor.know_site_groups(&acting.site_groups);
    actor.own_profile = Some(acting.profile);
    Authenticated::new(actor)
}

fn unauthenticated() -> DomainError {
    DomainError::Unauthenticated(INVALID_CREDENTIALS.to_owned())
}

fn session_expired() -> DomainError {
    DomainError::Unauthenticated("session expired or revoked; sign in again".to_owned())
}

/// Checks a new password against the policy; errors name `field`.
pub fn check_password_policy(field: &str, password: &str) -> DomainResult<()> {
    if password.chars().count() < MIN_PASSWORD_LENGTH {
        return Err(DomainError::validation(
            field,
            format!("must be at least {MIN_PASSWORD_LENGTH} characters long"),
        ));
    }
    if password.len() > 1024 {
        return Err(DomainError::validation(
            field,
            "must be at most 1024 bytes long",
        ));
    }
    let lower = password.to_lowercase();
    if COMMON_PASSWORDS.contains(&lower.as_str()) {
        return Err(DomainError::validation(
            field,
            "is one of the most common passwords",
        ));
    }
    Ok(())
}

impl Domain {
    /// Signs in with e-mail or username. Throttled per account and per client address: attempts
    /// beyond the limits answer RATE_LIMITED whatever the password. A person with a second
    /// factor gets a challenge to answer with `verify_second_factor` instead of a session.
    pub async fn login(
        &self,
        login: &str,
        password: &str,
        ip: Option<&str>,
    ) -> DomainResult<crate::ops::SignIn> {
        let normalized = login.trim().to_lowercase();
        let user = if normalized.is_empty() || normalized.len() > 254 {
            None
        } else {
            self.store.user_by_login(&normalized).await?
        };
        // Counted per account, whichever of its logins (e-mail, username) is typed.
        let rules = self.config.throttle;
        let mut limits = vec![Limit::account(&normalized, user.as_ref(), &rules)];
        limits.extend(ip.map(|ip| Limit::address(ip, &rules)));
        let now = self.now();
        let (claimed, locking) =
            match claim_attempt(&*self.attempts, &limits, now, rules.window).await {
                Ok(claim) => claim,
                Err(refusal) => {
                    self.record_failure("login.failed", user.as_ref(), ip)
                        .await?;
                    return Err(refusal);
                }
            };
        // Always one Argon2 verification, so that timing tells nothing about the login.
        let password_ok = self
            .secrets
            .verify_password(
                password,
                user.as_ref().and_then(|u| u.password_hash.as_ref()),
            )
            .await;
        match user {
            Some(user) if password_ok && user.status == UserStatus::Active => {
                release(&*self.attempts, &claimed).await?;
                self.check_password_allowed(user.organization_id, user.id, Some(user.profile_id))
                    .await?;
                self.session_or_challenge(&user, ip, "login.succeeded")
                    .await
            }
            other => {
                self.record_failure("login.failed", other.as_ref(), ip)
                    .await?;
                if locking {
                    self.record_failure("login.locked", other.as_ref(), ip)
                        .await?;
                }
                Err(unauthenticated())
            }
        }
    }

    /// Audits a failed or refused attempt against `user` (when the login named one).
    pub(crate) async fn record_failure(
        &self,
        action: &str,
        user: Option<&User>,
        ip: Option<&str>,
    ) -> DomainResult<()> {
        let mut event = self.audit(None, user.map(|u| u.organization_id), action, None);
        if let Some(user) = user {
            (event.target_type, event.target_id) = (Some("User".into()), Some(user.id.to_string()));
        }
        event.ip = ip.map(str::to_owned);
        let mut tx = self.store.begin().await?;
        tx.insert_audit_event(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Opens a session (one refresh-token family) and records `action` in the audit log.
    pub(crate) async fn start_session(
        &self,
        tx: &mut dyn Writes,
        user: &User,
        action: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let now = self.now();
        let session_id = SessionId::new();
        let refresh_token = refresh_token_for(session_id);
        let session = Session {
            id: session_id,
            user_id: user.id,
            refresh_token_hash: self.secrets.token_hash(REFRESH_PURPOSE, &refresh_token),
            previous_token_hash: None,
            epoch: user.session_epoch,
            created_at: now,
            expires_at: now + self.config.refresh_token_ttl,
            revoked_at: None,
        };
        tx.insert_session(&session).await?;
        let mut event = self.audit(
            None,
            Some(user.organization_id),
            action,
            user_target(user.id),
        );
        event.actor_id = Some(user.id);
        event.ip = ip.map(str::to_owned);
        tx.insert_audit_event(&event).await?;
        let (access_token, expires_at) = self.secrets.issue_access_token(
            user.id,
            session.id,
            now,
            self.config.access_token_ttl,
        )?;
        Ok(AuthSession {
            session_id: session.id,
            access_token,
            refresh_token,
            expires_at,
            user: user.clone(),
        })
    }

    /// Rotates a refresh token. Presenting one already spent revokes the whole session. Of
    /// concurrent uses of one token exactly one rotates it: the session is locked, and the
    /// others then find the token spent.
    pub async fn refresh_session(
        &self,
        refresh_token: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        self.retrying("refreshToken", || {
            self.refresh_session_once(refresh_token, ip)
        })
        .await
    }

    async fn refresh_session_once(
        &self,
        refresh_token: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        let current = lock_by_hash::<Session>(
            &mut *tx,
            self.secrets
                .token_hashes(REFRESH_PURPOSE, refresh_token.trim()),
        )
        .await?;
        // A token that names a session but is not its current one is a spent token (or a
        // forgery by someone who holds the session's id): either way the session ends.
        // `presented` is the hash of the session's current token, `None` for a spent one.
        let (mut session, presented) = match current {
            Some((session, hash)) if session.previous_token_hash.as_ref() == Some(&hash) => {
                (session, None)
            }
            Some((session, hash)) => (session, Some(hash)),
            None => match session_of(refresh_token) {
                Some(id) => match tx.lock_session(id).await? {
                    Some(session) => (session, None),
                    None => return Err(session_expired()),
                },
                None => return Err(session_expired()),
            },
        };
        let Some(hash) = presented else {
            if session.revoked_at.is_none() {
                session.revoked_at = Some(now);
                tx.update_session(&session).await?;
                tx.publish_access_ended(&AccessEnded::Session(session.id))
                    .await?;
                let user = tx.user(session.user_id).await?;
                let mut event = self.audit(
                    None,
                    user.map(|u| u.organization_id),
                    "session.reuse_detected",
                    user_target(session.user_id),
                );
                event.ip = ip.map(str::to_owned);
                tx.insert_audit_event(&event).await?;
                tx.commit().await?;
            }
            return Err(session_expired());
        };
        if session.revoked_at.is_some() || session.expires_at <= now {
            return Err(session_expired());
        }
        let user = tx
            .user(session.user_id)
            .await?
            .ok_or_else(session_expired)?;
        if user.status != UserStatus::Active || user.session_epoch != session.epoch {
            return Err(session_expired());
        }
        let refresh_token = refresh_token_for(session.id);
        session.previous_token_hash = Some(hash);
        session.refresh_token_hash = self.secrets.token_hash(REFRESH_PURPOSE, &refresh_token);
        tx.update_session(&session).await?;
        tx.commit().await?;
        let (access_token, expires_at) = self.secrets.issue_access_token(
            user.id,
            session.id,
            now,
            self.config.access_token_ttl,
        )?;
        Ok(AuthSession {
            session_id: session.id,
            access_token,
            refresh_token,
            expires_at,
            user,
        })
    }

    /// Ends the session of `refresh_token`, or else the actor's current session.
    pub async fn logout(
        &self,
        actor: Option<&Actor>,
        refresh_token: Option<&str>,
    ) -> DomainResult<()> {
        self.retrying("refreshToken", || self.logout_once(actor, refresh_token))
            .await
    }

    async fn logout_once(
        &self,
        actor: Option<&Actor>,
        refresh_token: Option<&str>,
    ) -> DomainResult<()> {
        let mut tx = self.store.begin().await?;
        let session = match (
            refresh_token.map(str::trim).filter(|t| !t.is_empty()),
            actor.and_then(|a| a.session_id),
        ) {
            (Some(token), _) => {
                lock_by_hash::<Session>(&mut *tx, self.secrets.token_hashes(REFRESH_PURPOSE, token))
                    .await?
                    .map(|(session, _)| session)
            }
            (None, Some(id)) => tx.lock_session(id).await?,
            (None, None) => {
                return Err(DomainError::Unauthenticated(
                    "nothing to sign out of".into(),
                ));
            }
        };
        let Some(mut session) = session else {
            return Ok(());
        };
        if session.revoked_at.is_none() {
            session.revoked_at = Some(self.now());
            tx.update_session(&session).await?;
            tx.publish_access_ended(&AccessEnded::Session(session.id))
                .await?;
            let user = tx.user(session.user_id).await?;
            let mut event = self.audit(
                actor,
                user.map(|u| u.organization_id),
                "session.revoked",
                user_target(session.user_id),
            );
            event.actor_id = event.actor_id.or(Some(session.user_id));
            tx.insert_audit_event(&event).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// The actor of a session this request just started (sign-in, refresh, password change):
    /// the person as the operation committed them, whatever happened to the session since.
    /// Checking the new token again instead would answer UNAUTHENTICATED for a sign-in that
    /// succeeded whenever a concurrent request ended the session in between (a reused refresh
    /// token, a sign-out); that request's own answer tells the client the session is over.
    pub async fn signed_in_actor(
        &self,
        session: &AuthSession,
        ip: Option<String>,
    ) -> DomainResult<Authenticated> {
        let acting = self
            .store
            .session_with_person(session.session_id)
            .await?
            .ok_or_else(unauthenticated)?;
        // As the sign-in committed it: the person may have been changed since, the session not
        // replaced (see above).
        Ok(person_acting(
            SessionWithPerson {
                user: session.user.clone(),
                ..acting
            },
            ip,
        ))
    }

    /// Resolves a bearer access token into the acting person, or UNAUTHENTICATED. Revoked
    /// sessions, deactivated users and sessions older than the user's epoch are refused at once.
    /// One read: the session with everything the actor is made of.
    pub async fn authenticate(
        &self,
        access_token: &str,
        ip: Option<String>,
    ) -> DomainResult<Authenticated> {
        if access_token.starts_with(crate::ops::devices::DEVICE_TOKEN_PREFIX) {
            return self.authenticate_device(access_token, ip).await;
        }
        let invalid = || DomainError::Unauthenticated("invalid or expired access token".into());
        let claims = self
            .secrets
            .decode_access_token(access_token)
            .ok_or_else(invalid)?;
        let session_id: SessionId = claims.sid.parse().map_err(|_| invalid())?;
        let user_id: UserId = claims.sub.parse().map_err(|_| invalid())?;
        let acting = self
            .store
            .session_with_person(session_id)
            .await?
            .ok_or_else(invalid)?;
        let (session, user) = (&acting.session, &acting.user);
        if session.user_id != user_id
            || session.revoked_at.is_some()
            || user.status != UserStatus::Active
            || user.session_epoch != session.epoch
        {
            return Err(invalid());
        }
        Ok(person_acting(acting, ip))
    }

    /// Changes the actor's own password; every session (this one too) ends and a new one starts.
    pub async fn change_password(
        &self,
        actor: &Actor,
        current: &str,
        new: &str,
    ) -> DomainResult<AuthSession> {
        actor.require_person()?;
        let user = self
            .store
            .user(actor.user.id)
            .await?
            .ok_or_else(unauthenticated)?;
        // The current password is a guess like a sign-in's: the same per-account budget (a
        // stolen session must not become a way to guess the password), audited alike.
        let ip = actor.ip.as_deref();
        let rules = self.config.throttle;
        let mut limits = vec![Limit::account_of(user.id, &rules)];
        limits.extend(ip.map(|ip| Limit::address(ip, &rules)));
        let (claimed, locking) =
            match claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await {
                Ok(claim) => claim,
                Err(refusal) => {
                    self.record_failure("password.change_failed", Some(&user), ip)
                        .await?;
                    return Err(refusal);
                }
            };
        if !self
            .secrets
            .verify_password(current, user.password_hash.as_ref())
            .await
        {
            self.record_failure("password.change_failed", Some(&user), ip)
                .await?;
            if locking {
                self.record_failure("login.locked", Some(&user), ip).await?;
            }
            return Err(DomainError::validation("currentPassword", "is not correct"));
        }
        release(&*self.attempts, &claimed).await?;
        check_password_policy("newPassword", new)?;
        if current == new {
            return Err(DomainError::validation(
                "newPassword",
                "must differ from the current password",
            ));
        }
        // Argon2 before the transaction: no lock is held while hashing.
        let hash = self.secrets.hash_password(new).await?;
        let verified = user.password_hash;
        self.retrying("currentPassword", || async {
            let mut tx = self.store.begin().await?;
            let mut next = tx
                .lock_user(actor.user.id)
                .await?
                .ok_or_else(unauthenticated)?;
            // Decided on the row as now committed: a deactivation, reset or other password
            // change that committed first ended this session, and the password verified above
            // may no longer be the current one.
            if next.status != UserStatus::Active || next.session_epoch != actor.user.session_epoch {
                return Err(unauthenticated());
            }
            if next.password_hash != verified {
                return Err(DomainError::conflict(
                    "currentPassword",
                    "the password was changed meanwhile; sign in again",
                ));
            }
            next.password_hash = Some(hash.clone());
            next.must_change_password = false;
            next.session_epoch += 1;
            tx.update_user(&next).await?;
            tx.publish_access_ended(&AccessEnded::User(next.id)).await?;
            let session = self
                .start_session(&mut *tx, &next, "password.changed", actor.ip.as_deref())
                .await?;
            self.notify_password_changed(&mut *tx, &next).await?;
            tx.commit().await?;
            Ok(session)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_policy() {
        assert!(check_password_policy("p", "short").is_err());
        assert!(check_password_policy("p", "correct-horse-9").is_ok());
        assert!(check_password_policy("p", "Password123").is_err());
        assert_eq!(
            check_password_policy("p", "AzertyUIOP")
                .unwrap_err()
                .field(),
            Some("p")
        );
    }
}
