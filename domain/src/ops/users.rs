//! People: creation with generated credentials (shown once), site grants, profiles, listing.

use std::collections::BTreeSet;

use crate::access::{Actor, SiteAccess, effective_site_ids, effective_sites};
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, PriceListId, ProfileId, SiteGroupId, SiteId, UserId};
use crate::model::*;
use crate::ops::mail::{Mail, mail_params, params};
use crate::ops::{Domain, page_size, search_text, user_target};
use crate::permissions::UsersPermission;
use crate::secrets::{BOOKING_CODE_DIGITS, random_digits, random_password};
use crate::storage::{Locked, Reads, Transaction};
use crate::values::{EmailAddress, Language, Name, Secret, Username, optional_text, optional_url};

/// Where generated credentials are e-mailed, besides being returned once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum CredentialsRecipient {
    #[default]
    None,
    User,
    OrganizationAdmin,
}

/// Credentials generated for a new user: returned once, never stored in clear.
#[derive(Clone, PartialEq, Eq)]
pub struct IssuedCredentials {
    pub login: String,
    pub temporary_password: Option<String>,
    pub booking_code: Option<String>,
}

impl std::fmt::Debug for IssuedCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IssuedCredentials")
            .field("login", &self.login)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub organization_id: Option<OrganizationId>,
    pub first_name: String,
    pub last_name: String,
    pub email: Option<String>,
    pub username: Option<String>,
    pub language: Option<Language>,
    pub profile_id: Option<ProfileId>,
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
    pub default_site_id: Option<SiteId>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub photo_url: Option<String>,
    pub send_credentials_to: CredentialsRecipient,
}

#[derive(Debug, Clone)]
pub struct CreatedUser {
    pub user: User,
    pub credentials: IssuedCredentials,
}

#[derive(Debug, Clone, Default)]
pub struct UserChanges {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub username: Option<String>,
    pub language: Option<Language>,
    pub profile_id: Option<ProfileId>,
    pub site_ids: Option<Vec<SiteId>>,
    pub site_group_ids: Option<Vec<SiteGroupId>>,
    pub default_site_id: Option<SiteId>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub photo_url: Option<String>,
}

/// The rule of logins: an e-mail or a username someone holds (`taken` says which, lower-cased)
/// is a CONFLICT on its field.
pub(crate) fn logins_free(
    email: Option<&EmailAddress>,
    username: Option<&Username>,
    taken: impl Fn(&str) -> bool,
) -> DomainResult<()> {
    if email.is_some_and(|e| taken(e.as_str())) {
        return Err(DomainError::conflict(
            "email",
            "a user with this e-mail already exists",
        ));
    }
    if username.is_some_and(|u| taken(u.as_str())) {
        return Err(DomainError::conflict(
            "username",
            "this username is already taken",
        ));
    }
    Ok(())
}

/// What a caller of [`Domain::users`] will use besides the page itself, so that nothing else
/// is read: the total, and the profiles the listed users hold.
#[derive(Debug, Clone, Copy, Default)]
pub struct UserListing {
    pub total_count: bool,
    pub profiles: bool,
}

#[derive(Debug, Clone, Default)]
pub struct UserFilter {
    pub organization_id: Option<OrganizationId>,
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    pub site_id: Option<SiteId>,
    pub profile_id: Option<ProfileId>,
}

/// Validated grants: what the user is given, and what that amounts to.
pub(crate) struct Grants {
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
    pub effective: BTreeSet<SiteId>,
}

/// Everything a new user is made of, validated.
pub(crate) struct NewUserParts<'a> {
    pub id: UserId,
    pub organization: &'a Organization,
    pub first_name: Name,
    pub last_name: Name,
    pub email: Option<EmailAddress>,
    pub username: Option<Username>,
    pub language: Language,
    pub profile: &'a Profile,
    pub site_ids: Vec<SiteId>,
    pub site_group_ids: Vec<SiteGroupId>,
    pub default_site_id: Option<SiteId>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<PriceListId>,
    pub photo_url: Option<String>,
    pub status: UserStatus,
    /// Made by [`Domain::new_password`] before the transaction opens; `None` for an invited
    /// person, who sets theirs on acceptance.
    pub password: Option<NewPassword>,
}

/// A new user's password with its Argon2 hash, computed before any transaction opens (hashing
/// never runs while a lock is held).
#[derive(Clone)]
pub(crate) struct NewPassword {
    pub(crate) clear: String,
    pub(crate) hash: Secret,
    /// Chosen by its owner (bootstrap) rather than generated: no change required.
    pub(crate) chosen: bool,
}

fn dedup<T: Ord + Copy>(items: &[T]) -> Vec<T> {
    let set: BTreeSet<T> = items.iter().copied().collect();
    set.into_iter().collect()
}

impl Domain {
    /// Whether the actor may see `user`: themselves, or anyone of an organization in reach when
    /// holding `users` ≥ READ.
    pub(crate) fn can_see_user(&self, actor: &Actor, user: &User, org: &Organization) -> bool {
        // A tablet acts for its registrant but may not read anyone's details, theirs included.
        actor.is_self(user.id)
            || (actor.permissions.users >= UsersPermission::Read && actor.can_read_in(org))
    }

    pub async fn user(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        let not_found = DomainError::NotFound("user");
        let user = self.store.user(id).await?.ok_or(not_found.clone())?;
        let org = self
            .organizations_as_stored(actor, &[user.organization_id])
            .await?
            .pop()
            .ok_or_else(|| DomainError::internal(format!("dangling organization of {id}")))?;
        if self.can_see_user(actor, &user, &org) {
            Ok(user)
        } else {
            Err(not_found)
        }
    }

    /// The users among `ids` the actor can see (DataLoader batches): two storage calls.
    pub async fn load_users(&self, actor: &Actor, ids: &[UserId]) -> DomainResult<Vec<User>> {
        let users = self.store.users_by_ids(ids).await?;
        let org_ids = dedup(&users.iter().map(|u| u.organization_id).collect::<Vec<_>>());
        let orgs = self.organizations_as_stored(actor, &org_ids).await?;
        Ok(users
            .into_iter()
            .filter(|user| {
                orgs.iter()
                    .find(|org| org.id == user.organization_id)
                    .is_some_and(|org| self.can_see_user(actor, user, org))
            })
            .collect())
    }

    /// People among `ids` met through something the caller sees (a booking's holder or maker):
    /// as they are when the caller may see the user anyway, else their limited view
    /// ([`User::limited_view`]: names only) within the caller's reach. Display names are public to
    /// people sharing a site.
    pub async fn load_people(&self, actor: &Actor, ids: &[UserId]) -> DomainResult<Vec<User>> {
        let users = self.store.users_by_ids(ids).await?;
        let org_ids = dedup(&users.iter().map(|u| u.organization_id).collect::<Vec<_>>());
        let orgs = self.organizations_as_stored(actor, &org_ids).await?;
        Ok(users
            .into_iter()
            .filter_map(|user| {
                let org = orgs.iter().find(|o| o.id == user.organization_id)?;
                self.person_as_seen(actor, &user, org)
            })
            .collect())
    }

    /// The one rule of how a person met through something the caller sees (a booking's holder)
    /// appears to them: whole to whom may see the user (a tablet never), else by their names
    /// within the caller's reach of `org` (the user's organization), else not at all.
    pub(crate) fn person_as_seen(
        &self,
        actor: &Actor,
        user: &User,
        org: &Organization,
    ) -> Option<User> {
        if self.can_see_user(actor, user, org) && actor.device.is_none() {
            Some(user.clone())
        } else {
            actor.can_read_in(org).then(|| user.limited_view())
        }
    }

    pub async fn users(
        &self,
        actor: &Actor,
        filter: UserFilter,
        first: Option<i32>,
        after: Option<UserId>,
        wanted: UserListing,
    ) -> DomainResult<(Page<User>, Vec<Profile>)> {
        let org = self
            .organization(
                actor,
                filter.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        actor.require("users", actor.permissions.users, UsersPermission::Read)?;
        let site = match filter.site_id {
            None => None,
            Some(site_id) => {
                let groups = self
                    .store
                    .site_groups_of(&[org.id])
                    .await?
                    .into_iter()
                    .filter(|g| g.site_ids.contains(&site_id))
                    .map(|g| g.id)
                    .collect();
                Some((site_id, groups))
            }
        };
        let query = UserQuery {
            organization_ids: vec![org.id],
            search: search_text(filter.search.as_deref()),
            status: filter.status,
            site,
            profile_id: filter.profile_id,
            after,
            first: page_size(first)?,
            count_total: wanted.total_count,
            with_profiles: wanted.profiles,
        };
        let (page, mut profiles) = self.store.users_and_profiles(&query).await?;
        // The profiles of an organization the actor reads are theirs to see (the rule of
        // `load_profiles`); any other is left to that rule.
        profiles.retain(|p| p.organization_id == org.id);
        Ok((page, profiles))
    }

    /// Each user's sites, direct and through groups (the caller loads them through the visibility
    /// rules of `load_sites`).
    pub async fn effective_site_ids_of(
        &self,
        users: &[User],
    ) -> DomainResult<Vec<(UserId, Vec<SiteId>)>> {
        let group_ids = dedup(
            &users
                .iter()
                .flat_map(|u| u.site_group_ids.iter().copied())
                .collect::<Vec<_>>(),
        );
        let groups = if group_ids.is_empty() {
            vec![]
        } else {
            self.store.site_groups_by_ids(&group_ids).await?
        };
        Ok(users
            .iter()
            .map(|user| {
                (
                    user.id,
                    effective_sites(user, &groups).into_iter().collect(),
                )
            })
            .collect())
    }

    pub async fn create_user(&self, actor: &Actor, input: NewUser) -> DomainResult<CreatedUser> {
        let org = self
            .organization(
                actor,
                input.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        actor.require_write_in(&org)?;
        actor.require("users", actor.permissions.users, UsersPermission::Manage)?;

        let first_name = Name::parse("firstName", &input.first_name)?;
        let last_name = Name::parse("lastName", &input.last_name)?;
        let email = non_empty(input.email.as_deref())
            .map(|raw| EmailAddress::parse("email", raw))
            .transpose()?;
        let username = non_empty(input.username.as_deref())
            .map(|raw| Username::parse("username", raw))
            .transpose()?;
        if email.is_none() && username.is_none() {
            return Err(DomainError::validation(
                "username",
                "a user without e-mail needs a username to sign in",
            ));
        }
        let send_to = credentials_recipient(
            input.send_credentials_to,
            email.as_ref(),
            org.admin_email.as_ref(),
        )?;
        let profile = self
            .assignable_profile(actor, &org, input.profile_id)
            .await?;
        if email.is_none() && profile.permissions.users >= UsersPermission::InviteWithApproval {
            return Err(DomainError::validation(
                "email",
                "an e-mail is required for a profile that may add users",
            ));
        }
        let grants = self
            .check_grants(actor, &org, &input.site_ids, &input.site_group_ids)
            .await?;
        self.check_default_site(actor, &org, input.default_site_id, &grants.effective)
            .await?;
        let external_contact = optional_text(
            "externalContact",
            input.external_contact.as_deref(),
            Name::MAX,
        )?;
        let photo_url = optional_url("photoUrl", input.photo_url.as_deref())?;
        let price_list_id = self
            .check_user_price_list(actor, &org, input.price_list_id)
            .await?;
        self.check_login_free(&*self.store, email.as_ref(), username.as_ref())
            .await?;

        let has_email = email.is_some();
        let parts = NewUserParts {
            id: UserId::new(),
            organization: &org,
            first_name,
            last_name,
            email,
            username,
            language: input.language.unwrap_or(org.default_language),
            profile: &profile,
            site_ids: grants.site_ids,
            site_group_ids: grants.site_group_ids,
            default_site_id: input.default_site_id,
            external_contact,
            price_list_id,
            photo_url,
            status: UserStatus::Active,
            password: Some(self.new_password(None, has_email).await?),
        };
        let mut tx = self.store.begin().await?;
        let (user, credentials) = self.insert_new_user(&mut *tx, Some(actor), parts).await?;
        if let Some(to) = send_to {
            self.enqueue_credentials(&mut *tx, &org, &user, &credentials, to)
                .await?;
        }
        tx.commit().await?;
        Ok(CreatedUser { user, credentials })
    }

    /// The password of a new user: `chosen` (bootstrap), else a generated temporary one that
    /// must be changed — a 6-digit PIN for people without e-mail (seed 002). Hashed here, before
    /// the caller opens its transaction.
    pub(crate) async fn new_password(
        &self,
        chosen: Option<&str>,
        has_email: bool,
    ) -> DomainResult<NewPassword> {
        let clear = match chosen {
            Some(password) => password.to_owned(),
            None if has_email => random_password(),
            None => random_digits(6),
        };
        let hash = self.secrets.hash_password(&clear).await?;
        Ok(NewPassword {
            clear,
            hash,
            chosen: chosen.is_some(),
        })
    }

    /// Generates the user's credentials, inserts the user and its audit event in `tx`.
    pub(crate) async fn insert_new_user(
        &self,
        tx: &mut dyn Transaction,
        actor: Option<&Actor>,
        parts: NewUserParts<'_>,
    ) -> DomainResult<(User, IssuedCredentials)> {
        let Some(NewPassword {
            clear: password,
            hash: password_hash,
            chosen,
        }) = parts.password
        else {
            return Err(DomainError::internal("a new user needs a password"));
        };
        self.check_login_free(&*tx, parts.email.as_ref(), parts.username.as_ref())
            .await?;
        let (booking_code, booking_code_hash) = self
            .unused_booking_code(&*tx, parts.organization.id)
            .await?;
        let user = User {
            id: parts.id,
            organization_id: parts.organization.id,
            first_name: parts.first_name,
            last_name: parts.last_name,
            email: parts.email,
            username: parts.username,
            language: parts.language,
            status: parts.status,
            profile_id: parts.profile.id,
            site_ids: parts.site_ids,
            site_group_ids: parts.site_group_ids,
            default_site_id: parts.default_site_id,
            external_contact: parts.external_contact,
            price_list_id: parts.price_list_id,
            photo_url: parts.photo_url,
            password_hash: Some(password_hash),
            must_change_password: !chosen,
            booking_code_hash: Some(booking_code_hash),
            session_epoch: 0,
            created_by: actor.map(|a| a.user.id),
            created_at: self.now(),
        };
        tx.insert_user(&user).await?;
        tx.insert_audit_event(&self.audit(
            actor,
            Some(user.organization_id),
            "user.created",
            user_target(user.id),
        ))
        .await?;
        let credentials = IssuedCredentials {
            login: user.login(),
            temporary_password: (!chosen).then_some(password),
            booking_code: Some(booking_code),
        };
        Ok((user, credentials))
    }

    /// E-mails a new user's credentials (sealed in the outbox until sent).
    pub(crate) async fn enqueue_credentials(
        &self,
        tx: &mut dyn Transaction,
        org: &Organization,
        user: &User,
        credentials: &IssuedCredentials,
        to: EmailAddress,
    ) -> DomainResult<()> {
        let mail = self.credentials_mail(org, user, credentials, to);
        self.enqueue(tx, mail).await
    }

    /// The e-mail of a new user's credentials, to `to`.
    pub(crate) fn credentials_mail(
        &self,
        org: &Organization,
        user: &User,
        credentials: &IssuedCredentials,
        to: EmailAddress,
    ) -> Mail {
        let mut params = mail_params([
            (params::NAME, user.display_name()),
            (params::LOGIN, credentials.login.clone()),
            (params::ORGANIZATION, org.name.to_string()),
        ]);
        if let Some(password) = &credentials.temporary_password {
            params.insert(params::TEMPORARY_PASSWORD.to_owned(), password.clone());
        }
        if let Some(code) = &credentials.booking_code {
            params.insert(params::BOOKING_CODE.to_owned(), code.clone());
        }
        Mail {
            organization: Some(org.id),
            to,
            language: user.language,
            kind: EmailKind::Credentials,
            params,
        }
    }

    /// A fresh booking code, unique within the organization.
    pub(crate) async fn unused_booking_code(
        &self,
        store: &dyn Reads,
        org: OrganizationId,
    ) -> DomainResult<(String, Secret)> {
        for _ in 0..8 {
            let code = random_digits(BOOKING_CODE_DIGITS);
            if !self.booking_code_taken(store, org, &code).await? {
                let hash = self.secrets.booking_code_hash(org, &code);
                return Ok((code, hash));
            }
        }
        Err(DomainError::internal(
            "could not draw an unused booking code",
        ))
    }

    pub(crate) async fn check_login_free(
        &self,
        store: &dyn Reads,
        email: Option<&EmailAddress>,
        username: Option<&Username>,
    ) -> DomainResult<()> {
        let logins: Vec<String> = [
            email.map(EmailAddress::as_str),
            username.map(Username::as_str),
        ]
        .into_iter()
        .flatten()
        .map(str::to_owned)
        .collect();
        let taken = store.logins_taken(&logins).await?;
        logins_free(email, username, |login| taken.iter().any(|t| t == login))
    }

    /// The profile a new or edited user gets: it must belong to the organization and grant no
    /// more than the actor holds.
    pub(crate) async fn assignable_profile(
        &self,
        actor: &Actor,
        org: &Organization,
        requested: Option<ProfileId>,
    ) -> DomainResult<Profile> {
        let id = requested.unwrap_or(org.default_profile_id);
        let profile = self
            .store
            .profile(id)
            .await?
            .filter(|p| p.organization_id == org.id)
            .ok_or(DomainError::NotFound("profile"))?;
        check_assignable(actor, &profile)?;
        Ok(profile)
    }

    /// Checks site and site-group grants: each must belong to the organization and be within the
    /// actor's own site access (nobody grants what they do not have).
    pub(crate) async fn check_grants(
        &self,
        actor: &Actor,
        org: &Organization,
        site_ids: &[SiteId],
        group_ids: &[SiteGroupId],
    ) -> DomainResult<Grants> {
        let site_ids = dedup(site_ids);
        let group_ids = dedup(group_ids);
        let access = actor.site_access(&*self.store, org.id).await?;
        let mut effective = BTreeSet::new();
        if !site_ids.is_empty() {
            let sites = self.store.sites_by_ids(&site_ids).await?;
            for id in &site_ids {
                let ok = sites
                    .iter()
                    .any(|s| s.id == *id && s.organization_id == org.id)
                    && access.allows(*id);
                if !ok {
                    return Err(DomainError::NotFound("site"));
                }
                effective.insert(*id);
            }
        }
        if !group_ids.is_empty() {
            let groups = self.store.site_groups_by_ids(&group_ids).await?;
            for id in &group_ids {
                let group = groups
                    .iter()
                    .find(|g| g.id == *id && g.organization_id == org.id)
                    .ok_or(DomainError::NotFound("site group"))?;
                if let SiteAccess::Only(mine) = &access
                    && !group.site_ids.iter().all(|s| mine.contains(s))
                {
                    return Err(DomainError::forbidden(format!(
                        "you cannot grant the site group '{}': it holds sites you have no access to",
                        group.name
                    )));
                }
                effective.extend(group.site_ids.iter().copied());
            }
        }
        Ok(Grants {
            site_ids,
            site_group_ids: group_ids,
            effective,
        })
    }

    /// A default site must be one of the user's sites (VALIDATION on `defaultSiteId`); a site the
    /// actor cannot see in the organization (another tenant's, an unknown one) is NOT_FOUND.
    pub(crate) async fn check_default_site(
        &self,
        actor: &Actor,
        org: &Organization,
        default: Option<SiteId>,
        effective: &BTreeSet<SiteId>,
    ) -> DomainResult<()> {
        let Some(site) = default else { return Ok(()) };
        if effective.contains(&site) {
            return Ok(());
        }
        let visible = self
            .load_sites(actor, &[site])
            .await?
            .iter()
            .any(|s| s.organization_id == org.id);
        if !visible {
            return Err(DomainError::NotFound("site"));
        }
        Err(DomainError::validation(
            "defaultSiteId",
            "must be one of the user's sites",
        ))
    }

    pub(crate) async fn check_user_price_list(
        &self,
        actor: &Actor,
        org: &Organization,
        requested: Option<PriceListId>,
    ) -> DomainResult<Option<PriceListId>> {
        let Some(id) = requested else { return Ok(None) };
        let list = self.price_list(actor, id).await?;
        if list.organization_id != org.id && Some(list.organization_id) != org.parent_id {
            return Err(DomainError::validation(
                "priceListId",
                "must be a price list of the organization's partner",
            ));
        }
        Ok(Some(id))
    }

    /// A user the actor may manage (see [`Domain::check_manageable`]), as committed now: for
    /// checks made before a transaction. Operations that change the user lock it instead
    /// ([`Domain::lock_manageable_user`]) and decide on the locked copy.
    pub(crate) async fn manageable_user(
        &self,
        actor: &Actor,
        id: UserId,
    ) -> DomainResult<(User, Organization)> {
        let user = self
            .store
            .user(id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        let org = self.check_manageable(&*self.store, actor, &user).await?;
        Ok((user, org))
    }

    /// Locks user `id` in `tx` and checks that the actor may manage them, on the locked copy.
    pub(crate) async fn lock_manageable_user(
        &self,
        tx: &mut dyn Transaction,
        actor: &Actor,
        id: UserId,
    ) -> DomainResult<(Locked<User>, Organization)> {
        let user = tx
            .lock_user(id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        let org = self.check_manageable(&*tx, actor, &user).await?;
        Ok((user, org))
    }

    /// Whether the actor may manage `user`: visible, in an organization it can write in,
    /// `users: MANAGE`, holding a profile no richer than the actor's and no site the actor has
    /// no access to. Returns the user's organization.
    pub(crate) async fn check_manageable(
        &self,
        reads: &dyn Reads,
        actor: &Actor,
        user: &User,
    ) -> DomainResult<Organization> {
        let org = self.organization_of(reads, user.organization_id).await?;
        if !self.can_see_user(actor, user, &org) {
            return Err(DomainError::NotFound("user"));
        }
        actor.require_write_in(&org)?;
        actor.require("users", actor.permissions.users, UsersPermission::Manage)?;
        let profile = reads.profile(user.profile_id).await?;
        if profile.is_some_and(|p| !actor.permissions.covers(&p.permissions)) {
            return Err(DomainError::forbidden(
                "this user holds more rights than you do",
            ));
        }
        // Nobody grants site access they do not have (DESIGN.md §3), nor takes over (a new code,
        // a new password) someone who has it.
        if let SiteAccess::Only(mine) = actor.site_access(reads, org.id).await?
            && !effective_site_ids(reads, user).await?.is_subset(&mine)
        {
            return Err(DomainError::forbidden(
                "this user has access to sites you do not have",
            ));
        }
        Ok(org)
    }

    pub async fn update_user(
        &self,
        actor: &Actor,
        id: UserId,
        changes: UserChanges,
    ) -> DomainResult<User> {
        self.retrying("id", || self.update_user_once(actor, id, &changes))
            .await
    }

    /// One attempt: everything the change depends on is read and checked first (on committed
    /// data, through the store); then, in the transaction, the user is locked and the change is
    /// applied only if the locked row is still the one checked. If it changed meanwhile, the
    /// attempt ends with `Contended` and [`Domain::retrying`] runs it again on the new row. So
    /// the transaction reads nothing but through itself, and writes only what it locked.
    async fn update_user_once(
        &self,
        actor: &Actor,
        id: UserId,
        changes: &UserChanges,
    ) -> DomainResult<User> {
        // A tablet is never its registrant's self (`Actor::is_self`).
        let self_service = actor.is_self(id)
            && changes.email.is_none()
            && changes.profile_id.is_none()
            && changes.site_ids.is_none()
            && changes.site_group_ids.is_none()
            && changes.default_site_id.is_none()
            && changes.external_contact.is_none()
            && changes.price_list_id.is_none();
        let (current, org) = if self_service {
            let current = self
                .store
                .user(id)
                .await?
                .ok_or_else(|| DomainError::Unauthenticated("your session has ended".into()))?;
            // Editing oneself needs a session still valid on the row as committed: a
            // deactivation or password change that committed first has ended it.
            if current.status != UserStatus::Active
                || current.session_epoch != actor.user.session_epoch
            {
                return Err(DomainError::Unauthenticated(
                    "your session has ended".into(),
                ));
            }
            let org = self
                .organization_of(&*self.store, current.organization_id)
                .await?;
            (current, org)
        } else {
            self.manageable_user(actor, id).await?
        };
        // A username never changes; asked only once the user is known to be visible.
        if changes.username.is_some() {
            return Err(DomainError::validation(
                "username",
                "a username never changes",
            ));
        }
        let mut next = current.clone();
        if let Some(raw) = changes.first_name.as_deref() {
            next.first_name = Name::parse("firstName", raw)?;
        }
        if let Some(raw) = changes.last_name.as_deref() {
            next.last_name = Name::parse("lastName", raw)?;
        }
        if let Some(language) = changes.language {
            next.language = language;
        }
        if changes.photo_url.is_some() {
            next.photo_url = optional_url("photoUrl", changes.photo_url.as_deref())?;
        }
        if changes.external_contact.is_some() {
            next.external_contact = optional_text(
                "externalContact",
                changes.external_contact.as_deref(),
                Name::MAX,
            )?;
        }
        if let Some(raw) = non_empty(changes.email.as_deref()) {
            let email = EmailAddress::parse("email", raw)?;
            if Some(&email) != current.email.as_ref() {
                self.check_login_free(&*self.store, Some(&email), None)
                    .await?;
                next.email = Some(email);
            }
        }
        if let Some(profile_id) = changes.profile_id {
            next.profile_id = self
                .assignable_profile(actor, &org, Some(profile_id))
                .await?
                .id;
        }
        let profile = self
            .store
            .profile(next.profile_id)
            .await?
            .ok_or(DomainError::NotFound("profile"))?;
        if next.email.is_none() && profile.permissions.users >= UsersPermission::InviteWithApproval
        {
            return Err(DomainError::validation(
                "email",
                "an e-mail is required for a profile that may add users",
            ));
        }
        if changes.site_ids.is_some() || changes.site_group_ids.is_some() {
            let sites = changes.site_ids.as_deref().unwrap_or(&current.site_ids);
            let groups = changes
                .site_group_ids
                .as_deref()
                .unwrap_or(&current.site_group_ids);
            let grants = self.check_grants(actor, &org, sites, groups).await?;
            next.site_ids = grants.site_ids;
            next.site_group_ids = grants.site_group_ids;
        }
        if let Some(price_list) = changes.price_list_id {
            next.price_list_id = self
                .check_user_price_list(actor, &org, Some(price_list))
                .await?;
        }
        let effective = effective_site_ids(&*self.store, &next).await?;
        if let Some(site) = changes.default_site_id {
            self.check_default_site(actor, &org, Some(site), &effective)
                .await?;
            next.default_site_id = Some(site);
        }

        let mut tx = self.store.begin().await?;
        // Lock order (docs/architecture.md): the profile and site groups being given, then the
        // user. A concurrent deletion of the profile or change of a group waits for us, or we
        // for it, and then the check below sees what it committed.
        if changes.profile_id.is_some() && tx.lock_profile(next.profile_id).await?.is_none() {
            return Err(DomainError::Contended);
        }
        // Only the groups this change grants: a group the person already had, if changed
        // meanwhile, locks the person after itself and fixes their default site then.
        if changes.site_group_ids.is_some() {
            for group in &next.site_group_ids {
                tx.lock_site_group(*group).await?;
            }
        }
        let mut user = tx
            .lock_user(id)
            .await?
            .ok_or(DomainError::NotFound("user"))?;
        if *user != current {
            return Err(DomainError::Contended);
        }
        // Sites granted through groups as now committed (the groups are locked): a default site
        // that is no longer granted is refused, or cleared rather than left dangling.
        let effective_now = effective_site_ids(&*tx, &next).await?;
        if effective_now != effective {
            return Err(DomainError::Contended);
        }
        if changes.default_site_id.is_none() {
            next.default_site_id = next.default_site_id.filter(|s| effective.contains(s));
        }
        if next == current {
            return Ok(current);
        }
        *user = next;
        tx.update_user(&user).await?;
        // Their profile, sites or status may no longer let their subscriptions listen.
        tx.publish_access_ended(&AccessEnded::User(user.id)).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "user.updated",
            user_target(id),
        ))
        .await?;
        tx.commit().await?;
        Ok(user.into_inner())
    }

    /// Deactivates a user: they can no longer sign in and every session ends at once.
    pub async fn deactivate_user(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        refuse_self_deactivation(actor, id)?;
        self.retrying("userId", || self.deactivate_user_once(actor, id))
            .await
    }

    async fn deactivate_user_once(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        let mut tx = self.store.begin().await?;
        let (mut user, org) = self.lock_manageable_user(&mut *tx, actor, id).await?;
        if user.status == UserStatus::Inactive {
            return Ok(user.into_inner());
        }
        user.status = UserStatus::Inactive;
        user.session_epoch += 1;
        tx.update_user(&user).await?;
        tx.publish_access_ended(&AccessEnded::User(user.id)).await?;
        // Their upcoming bookings free up, in the same unit of work (and tablets hear of it).
        self.cancel_future_bookings(&mut *tx, actor, &user).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "user.deactivated",
            user_target(id),
        ))
        .await?;
        tx.commit().await?;
        Ok(user.into_inner())
    }

    pub async fn reactivate_user(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        self.retrying("userId", || self.reactivate_user_once(actor, id))
            .await
    }

    async fn reactivate_user_once(&self, actor: &Actor, id: UserId) -> DomainResult<User> {
        let mut tx = self.store.begin().await?;
        let (mut user, org) = self.lock_manageable_user(&mut *tx, actor, id).await?;
        if user.status != UserStatus::Inactive {
            return Err(DomainError::validation(
                "userId",
                "only an inactive user can be reactivated",
            ));
        }
        user.status = UserStatus::Active;
        tx.update_user(&user).await?;
        tx.insert_audit_event(&self.audit(
            Some(actor),
            Some(org.id),
            "user.reactivated",
            user_target(id),
        ))
        .await?;
        tx.commit().await?;
        Ok(user.into_inner())
    }
}

/// Nobody deactivates themselves.
pub(crate) fn refuse_self_deactivation(actor: &Actor, id: UserId) -> DomainResult<()> {
    if id == actor.user.id {
        return Err(DomainError::forbidden("you cannot deactivate yourself"));
    }
    Ok(())
}

/// Nobody assigns a profile that grants more than they hold.
pub(crate) fn check_assignable(actor: &Actor, profile: &Profile) -> DomainResult<()> {
    match actor.permissions.first_excess(&profile.permissions) {
        Some(area) => Err(DomainError::forbidden(format!(
            "you cannot assign a profile with more rights than your own ({area})"
        ))),
        None => Ok(()),
    }
}

pub(crate) fn non_empty(raw: Option<&str>) -> Option<&str> {
    raw.map(str::trim).filter(|s| !s.is_empty())
}

/// Where generated credentials are e-mailed: the user's address, the organization's admin
/// address (seed 004), or nowhere.
pub(crate) fn credentials_recipient(
    recipient: CredentialsRecipient,
    user_email: Option<&EmailAddress>,
    org_admin_email: Option<&EmailAddress>,
) -> DomainResult<Option<EmailAddress>> {
    let missing = |what: &str| {
        DomainError::validation("sendCredentialsTo", format!("{what} has no e-mail address"))
    };
    match recipient {
        CredentialsRecipient::None => Ok(None),
        CredentialsRecipient::User => user_email
            .cloned()
            .map(Some)
            .ok_or_else(|| missing("the user")),
        CredentialsRecipient::OrganizationAdmin => org_admin_email
            .cloned()
            .map(Some)
            .ok_or_else(|| missing("the organization")),
    }
}
