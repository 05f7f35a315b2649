//! Collaborator invitations (seed 003). An inviter with `users: MANAGE` invites directly: the
//! person is INVITED and e-mailed a single-use link. With `users: INVITE_WITH_APPROVAL` the
//! person waits in PENDING_APPROVAL, with no e-mail, until a user manager approves (the link
//! leaves then) or rejects. Accepting sets the password and activates the account.

use chrono::{DateTime, Utc};

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{InvitationId, OrganizationId, ProfileId, SiteGroupId, SiteId, UserId};
use crate::model::*;
use crate::ops::auth::{AuthSession, check_password_policy};
use crate::ops::mail::{Mail, mail_params, params};
use crate::ops::users::NewUserParts;
use crate::ops::{Domain, find_by_hash, user_target};
use crate::permissions::UsersPermission;
use crate::secrets::random_token;
use crate::storage::{Locked, Transaction};
use crate::throttle::{Limit, claim_attempt, release};
use crate::values::{EmailAddress, Language, Name};

const INVITATION_PURPOSE: &str = "invitation";

#[derive(Debug, Clone, Default)]
pub struct NewInvitation {
    pub organization_id: Option<OrganizationId>,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub language: Option<Language>,
    pub profile_id: Option<ProfileId>,
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
}

/// The invited person, and their invitation when one was sent (none while pending approval).
#[derive(Debug, Clone)]
pub struct Invited {
    pub user: User,
    pub invitation: Option<Invitation>,
}

fn bad_token() -> DomainError {
    DomainError::validation(
        "token",
        "this invitation link is not valid any more (used, revoked or expired)",
    )
}

impl Domain {
    pub async fn invite_collaborator(
        &self,
        actor: &Actor,
        input: NewInvitation,
    ) -> DomainResult<Invited> {
        let org = self
            .organization(
                actor,
                input.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        actor.require_write_in(&org)?;
        actor.require(
            "users",
            actor.permissions.users,
            UsersPermission::InviteWithApproval,
        )?;
        let email = EmailAddress::parse("email", &input.email)?;
        let first_name = Name::parse("firstName", &input.first_name)?;
        let last_name = Name::parse("lastName", &input.last_name)?;
        if self.store.user_by_login(email.as_str()).await?.is_some() {
            return Err(DomainError::conflict(
                "email",
                "this person already has an account",
            ));
        }
        let profile = self
            .assignable_profile(actor, &org, input.profile_id)
            .await?;
        let grants = self
            .check_grants(actor, &org, &input.site_ids, &input.site_group_ids)
            .await?;
        let direct = actor.permissions.users >= UsersPermission::Manage;
        let parts = NewUserParts {
            id: UserId::new(),
            organization: &org,
            first_name,
            last_name,
            email: Some(email),
            username: None,
            language: input.language.unwrap_or(org.default_language),
            profile: &profile,
            site_ids: grants.site_ids,
            site_group_ids: grants.site_group_ids,
            default_site_id: None,
            external_contact: None,
            price_list_id: None,
            photo_url: None,
            status: if direct {
                UserStatus::Invited
            } else {
                UserStatus::PendingApproval
            },
            password: None,
        };
        let mut tx = self.store.begin().await?;
        let user = self.insert_invited_user(&mut *tx, actor, parts).await?;
        let action = if direct {
            "user.invited"
        } else {
            "user.invited_pending_approval"
        };
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), action, user_target(user.id)))
            .await?;
        let invitation = if direct {
            Some(self.send_invitation(&mut *tx, actor, &org, &user).await?)
        } else {
            None
        };
        tx.commit().await?;
        Ok(Invited { user, invitation })
    }

    /// Inserts an invited person: no password until they accept, no booking code until an
    /// administrator issues one.
    async fn insert_invited_user(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        parts: NewUserParts<'_>,
    ) -> DomainResult<User> {
        let user = User {
            id: parts.id,
            organization_id: parts.organization.id,
            first_name: parts.first_name,
            last_name: parts.last_name,
            email: parts.email,
            username: None,
            language: parts.language,
            status: parts.status,
            profile_id: parts.profile.id,
            site_ids: parts.site_ids,
            site_group_ids: parts.site_group_ids,
            default_site_id: None,
            external_contact: None,
            price_list_id: None,
            photo_url: None,
            password_hash: None,
            must_change_password: false,
            booking_code_hash: None,
            session_epoch: 0,
            created_by: Some(actor.user.id),
            created_at: self.now(),
        };
        tx.insert_user(&user).await?;
        Ok(user)
    }

    /// Creates an invitation for `user` and e-mails its link.
    async fn send_invitation(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        org: &Organization,
        user: &User,
    ) -> DomainResult<Invitation> {
        let email = user
            .email
            .clone()
            .ok_or_else(|| DomainError::validation("email", "an invitation needs an e-mail"))?;
        let token = random_token();
        let now = self.now();
        let invitation = Invitation {
            id: InvitationId::new(),
            organization_id: org.id,
            user_id: user.id,
            email: email.clone(),
            token_hash: self.secrets.token_hash(INVITATION_PURPOSE, &token),
            accepted_at: None,
            revoked_at: None,
            expires_at: now + self.config.invitation_ttl,
            created_by: actor.user.id,
            created_at: now,
        };
        tx.insert_invitation(&invitation).await?;
        let params = mail_params([
            (params::NAME, user.display_name()),
            (params::INVITER, actor.user.display_name()),
            (params::ORGANIZATION, org.name.to_string()),
            (params::LINK, self.link("invitation", &token)),
            (params::EXPIRES_AT, invitation.expires_at.to_rfc3339()),
        ]);
        let mail = Mail {
            organization: Some(org.id),
            to: email,
            language: user.language,
            kind: EmailKind::Invitation,
            params,
        };
        self.enqueue(tx, mail).await?;
        Ok(invitation)
    }

    /// Locks user `id` in `tx` and checks, on the locked copy, that the actor manages them and
    /// that they await a decision or an acceptance (`expected`).
    async fn lock_invitee(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        id: UserId,
        expected: &[UserStatus],
    ) -> DomainResult<(Locked<User>, Organization)> {
        let user = tx
            .lock_user(id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        let org = self.organization_of(&*tx, user.organization_id).await?;
        if !self.can_see_user(actor, &user, &org) {
            return Err(DomainError::NotFound("user"));
        }
        actor.require_write_in(&org)?;
        actor.require("users", actor.permissions.users, UsersPermission::Manage)?;
        if !expected.contains(&user.status) {
            return Err(DomainError::validation(
                "userId",
                format!("this person is {:?}", user.status).to_uppercase(),
            ));
        }
        Ok((user, org))
    }

    /// Approves a pending collaborator: the invitation leaves now.
    pub async fn approve_collaborator(&self, actor: &Actor, id: UserId) -> DomainResult<Invited> {
        self.retrying("userId", || self.approve_collaborator_once(actor, id))
            .await
    }

    async fn approve_collaborator_once(&self, actor: &Actor, id: UserId) -> DomainResult<Invited> {
        let mut tx = self.store.begin().await?;
        let (mut user, org) = self
            .lock_invitee(&mut *tx, actor, id, &[UserStatus::PendingApproval])
            .await?;
        user.status = UserStatus::Invited;
        tx.update_user(&user).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "user.approved",
            user_target(id),
        ))
        .await?;
        let invitation = self.send_invitation(&mut *tx, actor, &org, &user).await?;
        tx.commit().await?;
        Ok(Invited {
            user: user.into_inner(),
            invitation: Some(invitation),
        })
    }

    /// Rejects a pending (or still invited) collaborator: the account is closed and any link dies.
    pub async fn reject_collaborator(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        self.retrying("userId", || self.reject_collaborator_once(actor, id))
            .await
    }

    async fn reject_collaborator_once(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        let now = self.now();
        let mut tx = self.store.begin().await?;
        // Lock order: the person's links, then the person.
        let Some(seen) = tx.user(id).await? else {
            return Err(DomainError::NotFound("user"));
        };
        let ids: Vec<InvitationId> = tx
            .invitations(&[seen.organization_id], Some(id))
            .await?
            .iter()
            .map(|i| i.id)
            .collect();
        let invitations = tx.lock_invitations(&ids).await?;
        let (mut user, org) = self
            .lock_invitee(
                &mut *tx,
                actor,
                id,
                &[UserStatus::PendingApproval, UserStatus::Invited],
            )
            .await?;
        user.status = UserStatus::Inactive;
        tx.update_user(&user).await?;
        for mut invitation in invitations {
            if invitation.status(now) == InvitationStatus::Pending {
                invitation.revoked_at = Some(now);
                tx.update_invitation(&invitation).await?;
            }
        }
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "user.rejected",
            user_target(id),
        ))
        .await?;
        tx.commit().await?;
        Ok(user.into_inner())
    }

    /// Locks invitation `id` and then its person in `tx`: an invitation the actor may manage.
    async fn lock_managed_invitation(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        id: InvitationId,
    ) -> DomainResult<(Locked<Invitation>, Locked<User>, Organization)> {
        let invitation = tx
            .lock_invitations(&[id])
            .await?
            .pop()
            .ok_or(DomainError::NotFound("invitation"))?;
        let (user, org) = self
            .lock_invitee(
                tx,
                actor,
                invitation.user_id,
                &[
                    UserStatus::Invited,
                    UserStatus::PendingApproval,
                    UserStatus::Active,
                    UserStatus::Inactive,
                ],
            )
            .await
            .map_err(|e| match e {
                DomainError::NotFound(_) => DomainError::NotFound("invitation"),
                other => other,
            })?;
        Ok((invitation, user, org))
    }

    /// Sends a fresh link; the previous one dies at once.
    pub async fn resend_invitation(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> DomainResult<Invited> {
        self.retrying("invitationId", || self.resend_invitation_once(actor, id))
            .await
    }

    async fn resend_invitation_once(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> DomainResult<Invited> {
        let mut tx = self.store.begin().await?;
        let (mut old, user, org) = self.lock_managed_invitation(&mut *tx, actor, id).await?;
        if user.status != UserStatus::Invited || old.accepted_at.is_some() {
            return Err(DomainError::validation(
                "invitationId",
                "only an invitation not yet accepted can be resent",
            ));
        }
        if old.revoked_at.is_none() {
            old.revoked_at = Some(self.now());
            tx.update_invitation(&old).await?;
        }
        let invitation = self.send_invitation(&mut *tx, actor, &org, &user).await?;
        let target = Some(("Invitation", invitation.id.to_string()));
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "invitation.resent", target))
            .await?;
        tx.commit().await?;
        Ok(Invited {
            user: user.into_inner(),
            invitation: Some(invitation),
        })
    }

    pub async fn revoke_invitation(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> DomainResult<Invited> {
        self.retrying("invitationId", || self.revoke_invitation_once(actor, id))
            .await
    }

    async fn revoke_invitation_once(
        &self,
        actor: &Actor,
        id: InvitationId,
    ) -> DomainResult<Invited> {
        let mut tx = self.store.begin().await?;
        let (mut invitation, user, org) = self.lock_managed_invitation(&mut *tx, actor, id).await?;
        if invitation.accepted_at.is_some() {
            return Err(DomainError::validation(
                "invitationId",
                "an accepted invitation cannot be revoked",
            ));
        }
        if invitation.revoked_at.is_none() {
            invitation.revoked_at = Some(self.now());
            tx.update_invitation(&invitation).await?;
            let target = Some(("Invitation", invitation.id.to_string()));
            tx.insert_audit_event(&self.audit(
                Some(actor),
                Some(org.id),
                "invitation.revoked",
                target,
            ))
            .await?;
            tx.commit().await?;
        }
        Ok(Invited {
            user: user.into_inner(),
            invitation: Some(invitation.into_inner()),
        })
    }

    /// The invitations of an organization, optionally in one status (computed at `now`).
    pub async fn invitations(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
        status: Option<InvitationStatus>,
    ) -> DomainResult<Vec<Invitation>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        actor.require("users", actor.permissions.users, UsersPermission::Read)?;
        let now = self.now();
        let all = self.store.invitations(&[org.id], None).await?;
        Ok(all
            .into_iter()
            .filter(|i| status.is_none_or(|s| i.status(now) == s))
            .collect())
    }

    /// Accepts an invitation: sets the password, activates the account, signs the person in.
    /// The token is single-use; guesses are throttled per client address. FORBIDDEN on
    /// `password`, as `login`, when the organization requires single sign-on and the person is
    /// not one of its break-glass administrators (the invitation stays pending).
    pub async fn accept_invitation(
        &self,
        token: &str,
        password: &str,
        ip: Option<&str>,
    ) -> DomainResult<AuthSession> {
        let rules = self.config.throttle;
        let limits: Vec<Limit> = ip
            .map(|ip| Limit::address(ip, &rules))
            .into_iter()
            .collect();
        let (claimed, _) =
            claim_attempt(&*self.attempts, &limits, self.now(), rules.window).await?;
        let store = &*self.store;
        let found = find_by_hash(
            self.secrets.token_hashes(INVITATION_PURPOSE, token.trim()),
            |hash| async move { store.invitation_by_token_hash(hash.expose()).await },
        )
        .await?;
        let Some((found, _)) =
            found.filter(|(i, _)| i.status(self.now()) == InvitationStatus::Pending)
        else {
            return Err(bad_token());
        };
        release(&*self.attempts, &claimed).await?;
        // An organization that requires its identity provider gives nobody a password by
        // invitation either (its break-glass administrators aside): refused like `login`,
        // before anything is written.
        self.check_password_allowed(found.organization_id, found.user_id, None)
            .await?;
        check_password_policy("password", password)?;
        // Argon2 before the transaction: no lock is held while hashing.
        let password_hash = self.secrets.hash_password(password).await?;
        self.retrying("token", || async {
            let mut tx = self.store.begin().await?;
            // Locked inside the transaction: of concurrent acceptances exactly one succeeds;
            // the others wait, then find it accepted.
            let mut invitation = tx
                .lock_invitations(&[found.id])
                .await?
                .pop()
                .ok_or_else(bad_token)?;
            let now: DateTime<Utc> = self.now();
            if invitation.status(now) != InvitationStatus::Pending {
                return Err(bad_token());
            }
            let mut user = tx
                .lock_user(invitation.user_id)
                .await?
                .ok_or_else(bad_token)?;
            if user.status != UserStatus::Invited {
                return Err(bad_token());
            }
            invitation.accepted_at = Some(now);
            tx.update_invitation(&invitation).await?;
            user.status = UserStatus::Active;
            user.password_hash = Some(password_hash.clone());
            user.must_change_password = false;
            tx.update_user(&user).await?;
            let mut event = self.audit(
                None,
                Some(user.organization_id),
                "invitation.accepted",
                user_target(user.id),
            );
            event.actor_id = Some(user.id);
            event.ip = ip.map(str::to_owned);
            tx.insert_audit_event(&event).await?;
            let session = self
                .start_session(&mut *tx, &user, "login.succeeded", ip)
                .await?;
            tx.commit().await?;
            Ok(session)
        })
        .await
    }
}
