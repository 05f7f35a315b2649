//! Password reset by e-mailed link: requested by the person (the answer never says whether the
//! login exists) or sent by an administrator. The link is single-use and expires in an hour.

use crate::error::{DomainError, DomainResult};
use crate::ids::PasswordResetId;
use crate::model::*;
use crate::ops::auth::check_password_policy;
use crate::ops::mail::{Mail, mail_params, params};
use crate::ops::{Domain, find_by_hash, lock_by_hash, user_target};
use crate::secrets::random_token;
use crate::storage::Transaction;
use crate::throttle::{Limit, claim_attempt, release};

const RESET_PURPOSE: &str = "password-reset";

fn bad_token() -> DomainError {
    DomainError::validation(
        "token",
        "this reset link is not valid any more (used or expired)",
    )
}

impl Domain {
    /// Creates a reset link for `user` and e-mails it.
    pub(crate) async fn send_reset_link(
        &self,
        tx: &mut dyn Transaction,
        user: &User,
    ) -> DomainResult<()> {
        let Some(email) = user.email.clone() else {
            return Err(DomainError::validation(
                "method",
                "this user has no e-mail; set the password instead",
            ));
        };
        let token = random_token();
        let now = self.now();
        let reset = PasswordResetToken {
            id: PasswordResetId::new(),
            user_id: user.id,
            token_hash: self.secrets.token_hash(RESET_PURPOSE, &token),
            expires_at: now + self.config.password_reset_ttl,
            used_at: None,
            created_at: now,
        };
        tx.insert_password_reset(&reset).await?;
        let params = mail_params([
            (params::NAME, user.display_name()),
            (params::LINK, self.link("reset-password", &token)),
            (params::EXPIRES_AT, reset.expires_at.to_rfc3339()),
        ]);
        let mail = Mail {
            organization: Some(user.organization_id),
            to: email,
            language: user.language,
            kind: EmailKind::PasswordReset,
            params,
        };
        self.enqueue(tx, mail).await
    }

    /// Always succeeds: whether the login exists is never told, by the answer or its timing
    /// (both paths draw a token and seal parameters; only a real account gets a message).
    /// Throttled (DESIGN.md §9) per account and per client address: beyond a few requests an
    /// hour the answer is the same, but no e-mail leaves (the suppression is audited).
    pub async fn request_password_reset(&self, login: &str, ip: Option<&str>) -> DomainResult<()> {
        let normalized = login.trim().to_lowercase();
        let user = if normalized.is_empty() || normalized.len() > 254 {
            None
        } else {
            self.store.user_by_login(&normalized).await?
        };
        let user = user.filter(|u| u.status == UserStatus::Active && u.email.is_some());
        // Every request counts (none is "successful"), whether or not the login exists.
        let rules = self.config.throttle;
        let mut limits: Vec<Limit> = user
            .iter()
            .map(|u| Limit::reset_requests_of(u.id, &rules))
            .collect();
        limits.extend(ip.map(|ip| Limit::reset_requests_from(ip, &rules)));
        let throttled =
            match claim_attempt(&*self.attempts, &limits, self.now(), rules.reset_window).await {
                Ok(_) => false,
                Err(DomainError::RateLimited { .. }) => true,
                Err(other) => return Err(other),
            };
        match user {
            Some(user) if throttled => {
                let _ = self.secrets.token_hash(RESET_PURPOSE, &random_token());
                let _ = self.secrets.seal(&normalized)?;
                let mut event = self.audit(
                    None,
                    Some(user.organization_id),
                    "password.reset_throttled",
                    user_target(user.id),
                );
                event.ip = ip.map(str::to_owned);
                let mut tx = self.store.begin().await?;
                tx.insert_audit_event(&event).await?;
                tx.commit().await?;
            }
            Some(user) => {
                let mut tx = self.store.begin().await?;
                self.send_reset_link(&mut *tx, &user).await?;
                let mut event = self.audit(
                    None,
                    Some(user.organization_id),
                    "password.reset_requested",
                    user_target(user.id),
                );
                event.ip = ip.map(str::to_owned);
                tx.insert_audit_event(&event).await?;
                tx.commit().await?;
            }
            None => {
                // The same work as above, minus the writes.
                let _ = self.secrets.token_hash(RESET_PURPOSE, &random_token());
                let _ = self.secrets.seal(&normalized)?;
            }
        }
        Ok(())
    }

    /// Consumes a reset link: sets the password and ends every session. Guesses are throttled
    /// per client address.
    pub async fn reset_password(
        &self,
        token: &str,
        new_password: &str,
        ip: Option<&str>,
    ) -> DomainResult<()> {
        let rules = self.config.throttle;
        let limits: Vec<Limit> = ip
            .map(|ip| Limit::address(ip, &rules))
            .into_iter()
            .collect();
        let (claimed, _) =
            claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await?;
        let now = self.now();
        let usable = |r: &PasswordResetToken| r.used_at.is_none() && r.expires_at > now;
        let store = &*self.store;
        let found = find_by_hash(
            self.secrets.token_hashes(RESET_PURPOSE, token.trim()),
            |hash| async move { store.password_reset_by_token_hash(hash.expose()).await },
        )
        .await?;
        let Some((_, hash)) = found.filter(|(reset, _)| usable(reset)) else {
            return Err(bad_token());
        };
        release(&*self.attempts, &claimed).await?;
        check_password_policy("newPassword", new_password)?;
        // Argon2 before the transaction: no lock is held while hashing.
        let password_hash = self.secrets.hash_password(new_password).await?;
        self.retrying("token", || async {
            let mut tx = self.store.begin().await?;
            // Locked inside the transaction: of concurrent uses of one link exactly one
            // succeeds; the others wait, then find it used.
            let mut reset = lock_by_hash::<PasswordResetToken>(&mut *tx, [hash.clone()])
                .await?
                .map(|(reset, _)| reset)
                .filter(|reset| usable(reset))
                .ok_or_else(bad_token)?;
            let mut user = tx.lock_user(reset.user_id).await?.ok_or_else(bad_token)?;
            if user.status != UserStatus::Active {
                return Err(bad_token());
            }
            reset.used_at = Some(now);
            tx.update_password_reset(&reset).await?;
            user.password_hash = Some(password_hash.clone());
            user.must_change_password = false;
            user.session_epoch += 1;
            tx.update_user(&user).await?;
            tx.publish_access_ended(&AccessEnded::User(user.id)).await?;
            let mut event = self.audit(
                None,
                Some(user.organization_id),
                "password.reset",
                user_target(user.id),
            );
            (event.actor_id, event.ip) = (Some(user.id), ip.map(str::to_owned));
            tx.insert_audit_event(&event).await?;
            self.notify_password_changed(&mut *tx, &user).await?;
            tx.commit().await?;
            Ok(())
        })
        .await
    }

    /// Tells the person their password changed (when they have an e-mail).
    pub(crate) async fn notify_password_changed(
        &self,
        tx: &mut dyn Transaction,
        user: &User,
    ) -> DomainResult<()> {
        let Some(email) = user.email.clone() else {
            return Ok(());
        };
        let params = mail_params([
            (params::NAME, user.display_name()),
            (params::AT, self.now().to_rfc3339()),
        ]);
        let mail = Mail {
            organization: Some(user.organization_id),
            to: email,
            language: user.language,
            kind: EmailKind::PasswordChanged,
            params,
        };
        self.enqueue(tx, mail).await
    }
}
