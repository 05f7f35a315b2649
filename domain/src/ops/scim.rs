//! Provisioning from a company's directory (SCIM 2.0, RFC 7643/7644).
//!
//! An administrator of the organization creates a SCIM token (shown once, stored as a keyed
//! hash, revocable, audited). The directory then acts through it *as the person who created it,
//! within the token's organization only*: every operation below goes through the ordinary
//! operations of people (`create_user`, `update_user`, `deactivate_user`…) with that person's
//! current rights, so no rule is bypassed and nothing is escalated. The token's scope narrows
//! further: the people it creates get its profile (checked, when the token is created and at
//! each use, to be one its creator may grant) and its site group or site; it reaches no other
//! organization's people (NOT_FOUND, as for an id that does not exist). A token stops working
//! when revoked, when its creator is deactivated, or when its creator no longer may manage the
//! organization's people.

use std::collections::BTreeSet;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, ProfileId, ScimTokenId, SiteGroupId, SiteId, UserId};
use crate::model::*;
use crate::ops::users::{NewUser, UserChanges, refuse_self_deactivation};
use crate::ops::{Domain, MAX_PAGE_SIZE, find_by_hash};
use crate::permissions::UsersPermission;
use crate::secrets::random_token;
use crate::values::{EmailAddress, Language, Name, Username};

/// SCIM tokens start with this, so a bearer token says which kind it is.
pub const SCIM_TOKEN_PREFIX: &str = "scim_";
const SCIM_PURPOSE: &str = "scim";
/// The most resources one SCIM list answers (`ServiceProviderConfig.filter.maxResults`).
pub const SCIM_MAX_RESULTS: usize = MAX_PAGE_SIZE;

/// What `createScimToken` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewScimToken {
    pub organization_id: Option<OrganizationId>,
    pub name: String,
    /// Default: the organization's default profile.
    pub profile_id: Option<ProfileId>,
    pub site_group_id: Option<SiteGroupId>,
    pub site_id: Option<SiteId>,
}

/// A directory authenticated by its SCIM token: the token's creator acting, and the token.
#[derive(Debug)]
pub struct ScimCaller {
    pub actor: Actor,
    pub token: ScimToken,
}

impl ScimCaller {
    pub fn organization_id(&self) -> OrganizationId {
        self.token.organization_id
    }
}

/// A person as the directory describes them (a SCIM `User`, already read out of its JSON).
#[derive(Debug, Clone, Default)]
pub struct ScimUserInput {
    pub user_name: String,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub language: Option<Language>,
    pub active: bool,
}

/// A partial change of a person (SCIM PATCH, or PUT with every attribute set).
#[derive(Debug, Clone, Default)]
pub struct ScimUserChanges {
    pub user_name: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub email: Option<String>,
    pub language: Option<Language>,
    pub active: Option<bool>,
}

/// The conditions of a SCIM list filter, all to hold (`and`). Strings compare without case, as
/// `userName` and `emails` are not `caseExact` (RFC 7643 §4.1.1).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScimUserFilter {
    pub user_name: Option<String>,
    pub email: Option<String>,
    pub active: Option<bool>,
}

/// One page of a SCIM list: `startIndex` is 1-based.
#[derive(Debug, Clone)]
pub struct ScimPage<T> {
    pub items: Vec<T>,
    pub total_results: i64,
    pub start_index: usize,
}

/// The SCIM `userName` of a person: their username, else their e-mail (their login).
pub fn scim_user_name(user: &User) -> String {
    match (&user.username, &user.email) {
        (Some(username), _) => username.to_string(),
        (None, Some(email)) => email.to_string(),
        (None, None) => String::new(),
    }
}

impl Domain {
    /// Creates a SCIM token for an organization; returns it and its secret, shown once.
    pub async fn create_scim_token(
        &self,
        actor: &Actor,
        input: NewScimToken,
    ) -> DomainResult<(ScimToken, String)> {
        let org = self
            .organization(
                actor,
                input.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        require_scim_admin(actor, &org)?;
        let name = Name::parse("name", &input.name)?;
        // No escalation: only a profile, site group and site the creator could grant.
        let profile = self
            .assignable_profile(actor, &org, input.profile_id)
            .await
            .map_err(|e| on_field(e, "profileId"))?;
        let grants = self
            .check_grants(
                actor,
                &org,
                input.site_id.as_slice(),
                input.site_group_id.as_slice(),
            )
            .await?;
        let secret = format!("{SCIM_TOKEN_PREFIX}{}", random_token());
        let token = ScimToken {
            id: ScimTokenId::new(),
            organization_id: org.id,
            name,
            token_hash: self.secrets.token_hash(SCIM_PURPOSE, &secret),
            profile_id: profile.id,
            site_group_id: grants.site_group_ids.first().copied(),
            site_id: grants.site_ids.first().copied(),
            created_by: actor.user.id,
            created_at: self.now(),
            revoked_at: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_scim_token(&token).await?;
        let target = Some(("ScimToken", token.id.to_string()));
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "scim.token_created", target))
            .await?;
        tx.commit().await?;
        Ok((token, secret))
    }

    /// The SCIM tokens of an organization (never their secrets), oldest first.
    pub async fn scim_tokens(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<Vec<ScimToken>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        require_scim_admin(actor, &org)?;
        Ok(self.store.scim_tokens_of(org.id).await?)
    }

    /// Revokes a SCIM token: the directory's next request is refused. Revoking twice is fine.
    pub async fn revoke_scim_token(
        &self,
        actor: &Actor,
        id: ScimTokenId,
    ) -> DomainResult<ScimToken> {
        self.retrying("id", || self.revoke_scim_token_once(actor, id))
            .await
    }

    async fn revoke_scim_token_once(
        &self,
        actor: &Actor,
        id: ScimTokenId,
    ) -> DomainResult<ScimToken> {
        let not_found = DomainError::NotFound("SCIM token");
        // A token's organization never changes: checked before the transaction.
        let seen = self.store.scim_token(id).await?.ok_or(not_found.clone())?;
        let org = self
            .organization(actor, seen.organization_id)
            .await
            .map_err(|_| not_found.clone())?;
        require_scim_admin(actor, &org)?;
        let mut tx = self.store.begin().await?;
        let mut token = tx.lock_scim_token(id).await?.ok_or(not_found)?;
        if token.revoked_at.is_some() {
            return Ok(token.into_inner());
        }
        token.revoked_at = Some(self.now());
        tx.update_scim_token(&token).await?;
        let target = Some(("ScimToken", token.id.to_string()));
        tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "scim.token_revoked", target))
            .await?;
        tx.commit().await?;
        Ok(token.into_inner())
    }

    /// Resolves a SCIM bearer token into its creator acting for the token's organization, or
    /// UNAUTHENTICATED (unknown, revoked, creator inactive); FORBIDDEN when the creator may no
    /// longer manage that organization's people.
    pub async fn authenticate_scim(
        &self,
        token: &str,
        ip: Option<String>,
    ) -> DomainResult<ScimCaller> {
        let invalid = || DomainError::Unauthenticated("invalid or revoked SCIM token".into());
        if !token.starts_with(SCIM_TOKEN_PREFIX) {
            return Err(invalid());
        }
        let store = &*self.store;
        let (found, _) = find_by_hash(
            self.secrets.token_hashes(SCIM_PURPOSE, token),
            |hash| async move { store.scim_token_by_hash(hash.expose()).await },
        )
        .await?
        .ok_or_else(invalid)?;
        if found.revoked_at.is_some() {
            return Err(invalid());
        }
        // The token lives as long as its creator may act: deactivating them stops it too.
        let creator = store
            .user(found.created_by)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(invalid)?;
        let creator_org = self.organization_of(store, creator.organization_id).await?;
        let profile = store
            .profile(creator.profile_id)
            .await?
            .ok_or_else(invalid)?;
        let actor = Actor::new(creator, creator_org, profile.permissions, None, ip);
        let org = self.organization_of(store, found.organization_id).await?;
        require_scim_admin(&actor, &org)?;
        let token = self.rehash_scim_token(found, token).await?;
        Ok(ScimCaller { actor, token })
    }

    /// A token still stored under the previous pepper is stored under the current one from its
    /// first use on, so the directory keeps working once the previous pepper is dropped. The row
    /// is locked and changed only if its hash is still the one found (a revocation committed
    /// meanwhile stays).
    async fn rehash_scim_token(&self, found: ScimToken, secret: &str) -> DomainResult<ScimToken> {
        let current = self.secrets.token_hash(SCIM_PURPOSE, secret);
        if found.token_hash == current {
            return Ok(found);
        }
        let mut tx = self.store.begin().await?;
        let Some(mut locked) = tx.lock_scim_token(found.id).await? else {
            return Ok(found);
        };
        if locked.token_hash != found.token_hash {
            return Ok(found);
        }
        locked.token_hash = current;
        tx.update_scim_token(&locked).await?;
        tx.commit().await?;
        Ok(locked.into_inner())
    }

    /// A person of the token's organization; NOT_FOUND for anyone else.
    pub async fn scim_user(&self, caller: &ScimCaller, id: UserId) -> DomainResult<User> {
        let user = self.user(&caller.actor, id).await?;
        if user.organization_id != caller.organization_id() {
            return Err(DomainError::NotFound("user"));
        }
        Ok(user)
    }

    /// The people of the token's organization matching `filter`, from `start_index` (1-based).
    pub async fn scim_users(
        &self,
        caller: &ScimCaller,
        filter: &ScimUserFilter,
        start_index: usize,
        count: usize,
    ) -> DomainResult<ScimPage<User>> {
        let start_index = start_index.max(1);
        let count = count.min(SCIM_MAX_RESULTS);
        let org = caller.organization_id();
        let matches = |user: &User| {
            user.organization_id == org
                && filter
                    .user_name
                    .as_ref()
                    .is_none_or(|n| scim_user_name(user).eq_ignore_ascii_case(n.trim()))
                && filter.email.as_ref().is_none_or(|e| {
                    user.email
                        .as_ref()
                        .is_some_and(|mine| mine.as_str().eq_ignore_ascii_case(e.trim()))
                })
                && filter
                    .active
                    .is_none_or(|a| (user.status == UserStatus::Active) == a)
        };
        // A userName or an e-mail is a login: one lookup finds the only candidate.
        let login = filter.user_name.as_ref().or(filter.email.as_ref());
        if let Some(login) = login {
            let found = self
                .store
                .user_by_login(&login.trim().to_lowercase())
                .await?
                .filter(|u| matches(u));
            let total = i64::from(found.is_some());
            let items = found
                .filter(|_| start_index == 1 && count > 0)
                .into_iter()
                .collect();
            return Ok(ScimPage {
                items,
                total_results: total,
                start_index,
            });
        }
        // Offset pagination over the keyset-ordered list (creation order).
        let mut query = UserQuery {
            organization_ids: vec![org],
            search: None,
            status: filter
                .active
                .and_then(|active| active.then_some(UserStatus::Active)),
            site: None,
            profile_id: None,
            after: None,
            first: (start_index - 1).saturating_add(count),
            count_total: true,
            with_profiles: false,
        };
        let (items, total_results) = if filter.active == Some(false) {
            // Not active is every status but ACTIVE (invited and pending people too): no single
            // status of the query says it, so the organization's people are read and filtered.
            query.first = usize::MAX / 2;
            let all = self.store.users(&query).await?;
            let inactive: Vec<User> = all.items.into_iter().filter(|u| matches(u)).collect();
            let total = i64::try_from(inactive.len()).unwrap_or(i64::MAX);
            (inactive, total)
        } else {
            let page = self.store.users(&query).await?;
            (page.items, page.total_count)
        };
        Ok(ScimPage {
            items: items
                .into_iter()
                .skip(start_index - 1)
                .take(count)
                .collect(),
            total_results,
            start_index,
        })
    }

    /// Creates a person in the token's organization, with the token's profile and sites.
    pub async fn scim_create_user(
        &self,
        caller: &ScimCaller,
        input: ScimUserInput,
    ) -> DomainResult<User> {
        let (email, username) = login_of(&input.user_name, input.email.as_deref())?;
        let (first_name, last_name) = names_of(
            input.given_name.as_deref(),
            input.family_name.as_deref(),
            input.display_name.as_deref(),
        )?;
        let token = &caller.token;
        let new = NewUser {
            organization_id: Some(token.organization_id),
            first_name,
            last_name,
            email: email.map(|e| e.to_string()),
            username: username.map(|u| u.to_string()),
            language: input.language,
            profile_id: Some(token.profile_id),
            site_ids: token.site_id.into_iter().collect(),
            site_group_ids: token.site_group_id.into_iter().collect(),
            default_site_id: token.site_id,
            ..NewUser::default()
        };
        let created = self
            .create_user(&caller.actor, new)
            .await
            .map_err(|e| match e {
                DomainError::NotFound("profile") => DomainError::conflict(
                    "profileId",
                    "the SCIM token's profile no longer exists: create a new token",
                ),
                other => other,
            })?;
        if input.active {
            Ok(created.user)
        } else {
            self.deactivate_user(&caller.actor, created.user.id).await
        }
    }

    /// Changes a person of the token's organization; `active` deactivates (ending their
    /// sessions, cancelling their upcoming bookings) or reactivates them.
    pub async fn scim_update_user(
        &self,
        caller: &ScimCaller,
        id: UserId,
        changes: ScimUserChanges,
    ) -> DomainResult<User> {
        let current = self.scim_user(caller, id).await?;
        // The change and the (de)activation are two units of work: what would refuse the
        // second is checked before the first writes anything.
        if changes.active == Some(false) && current.status != UserStatus::Inactive {
            refuse_self_deactivation(&caller.actor, id)?;
        }
        let mut update = UserChanges::default();
        if let Some(user_name) = &changes.user_name {
            let same = scim_user_name(&current).eq_ignore_ascii_case(user_name.trim());
            if !same {
                // The login of people with a username never changes; for the others, userName
                // is their e-mail.
                if current.username.is_some() {
                    return Err(DomainError::validation(
                        "userName",
                        "a username never changes",
                    ));
                }
                let email = EmailAddress::parse("userName", user_name)?;
                update.email = Some(email.to_string());
            }
        }
        if let Some(raw) = &changes.email {
            let email = EmailAddress::parse("emails", raw)?;
            let user_name_is_email = current.username.is_none();
            if let Some(pending) = &update.email
                && pending != email.as_str()
            {
                return Err(DomainError::validation(
                    "emails",
                    "must equal userName for a person whose login is their e-mail",
                ));
            }
            if user_name_is_email
                && changes.user_name.is_none()
                && Some(&email) != current.email.as_ref()
            {
                return Err(DomainError::validation(
                    "emails",
                    "must equal userName for a person whose login is their e-mail",
                ));
            }
            if Some(&email) != current.email.as_ref() {
                update.email = Some(email.to_string());
            }
        }
        if let Some(given) = &changes.given_name
            && given.trim() != current.first_name.as_str()
        {
            update.first_name = Some(given.clone());
        }
        if let Some(family) = &changes.family_name
            && family.trim() != current.last_name.as_str()
        {
            update.last_name = Some(family.clone());
        }
        if let Some(language) = changes.language
            && language != current.language
        {
            update.language = Some(language);
        }
        let changed = update.first_name.is_some()
            || update.last_name.is_some()
            || update.email.is_some()
            || update.language.is_some();
        let mut user = if changed {
            self.update_user(&caller.actor, id, update)
                .await
                .map_err(|e| rename_field(e, "firstName", "name.givenName"))
                .map_err(|e| rename_field(e, "lastName", "name.familyName"))
                .map_err(|e| rename_field(e, "email", "emails"))?
        } else {
            current
        };
        match changes.active {
            Some(false) if user.status != UserStatus::Inactive => {
                user = self.deactivate_user(&caller.actor, id).await?;
            }
            Some(true) if user.status == UserStatus::Inactive => {
                user = self.reactivate_user(&caller.actor, id).await?;
            }
            _ => {}
        }
        Ok(user)
    }

    /// Deactivates a person of the token's organization (SCIM DELETE, or `active: false`).
    pub async fn scim_deactivate_user(
        &self,
        caller: &ScimCaller,
        id: UserId,
    ) -> DomainResult<User> {
        self.scim_user(caller, id).await?;
        self.deactivate_user(&caller.actor, id).await
    }

    /// The site groups of the token's organization (SCIM `Groups`), optionally by name.
    pub async fn scim_groups(
        &self,
        caller: &ScimCaller,
        display_name: Option<&str>,
    ) -> DomainResult<Vec<SiteGroup>> {
        let groups = self
            .site_groups(&caller.actor, Some(caller.organization_id()))
            .await?;
        Ok(groups
            .into_iter()
            .filter(|g| display_name.is_none_or(|n| g.name.as_str().eq_ignore_ascii_case(n.trim())))
            .collect())
    }

    /// A site group of the token's organization; NOT_FOUND for any other.
    pub async fn scim_group(
        &self,
        caller: &ScimCaller,
        id: SiteGroupId,
    ) -> DomainResult<SiteGroup> {
        self.store
            .site_group(id)
            .await?
            .filter(|g| g.organization_id == caller.organization_id())
            .ok_or(DomainError::NotFound("site group"))
    }

    /// The people of the token's organization granted the site group.
    pub async fn scim_group_members(
        &self,
        caller: &ScimCaller,
        group: &SiteGroup,
    ) -> DomainResult<Vec<User>> {
        if group.organization_id != caller.organization_id() {
            return Err(DomainError::NotFound("site group"));
        }
        let mut members = Vec::new();
        let mut after = None;
        loop {
            let page = self
                .store
                .users(&UserQuery {
                    organization_ids: vec![group.organization_id],
                    search: None,
                    status: None,
                    site: None,
                    profile_id: None,
                    after,
                    first: MAX_PAGE_SIZE,
                    count_total: false,
                    with_profiles: false,
                })
                .await?;
            after = page.items.last().map(|u| u.id);
            members.extend(
                page.items
                    .into_iter()
                    .filter(|u| u.site_group_ids.contains(&group.id)),
            );
            if !page.has_next_page {
                return Ok(members);
            }
        }
    }

    /// Grants the site group to `add` and withdraws it from `remove` (people of the token's
    /// organization), each person through `update_user` with the creator's rights.
    pub async fn scim_change_group_members(
        &self,
        caller: &ScimCaller,
        group_id: SiteGroupId,
        add: &[UserId],
        remove: &[UserId],
    ) -> DomainResult<SiteGroup> {
        let group = self.scim_group(caller, group_id).await?;
        // Everyone is checked first, so that an unknown member changes nobody.
        let add: BTreeSet<UserId> = add.iter().copied().collect();
        let remove: BTreeSet<UserId> = remove.iter().copied().collect();
        let mut people = Vec::new();
        for id in add.iter().chain(remove.iter()) {
            people.push(self.scim_user(caller, *id).await?);
        }
        for user in people {
            let has = user.site_group_ids.contains(&group.id);
            let mut groups = user.site_group_ids.clone();
            if add.contains(&user.id) && !has {
                groups.push(group.id);
            } else if remove.contains(&user.id) && !add.contains(&user.id) && has {
                groups.retain(|g| *g != group.id);
            } else {
                continue;
            }
            self.update_user(
                &caller.actor,
                user.id,
                UserChanges {
                    site_group_ids: Some(groups),
                    ..UserChanges::default()
                },
            )
            .await?;
        }
        Ok(group)
    }
}

/// Managing an organization's SCIM tokens takes what creating its people takes: writing in it
/// and `users: MANAGE`.
fn require_scim_admin(actor: &Actor, org: &Organization) -> DomainResult<()> {
    actor.require_person()?;
    actor.require_write_in(org)?;
    actor.require("users", actor.permissions.users, UsersPermission::Manage)
}

/// The login of a provisioned person: a `userName` that is an e-mail address is their e-mail
/// (and `emails`, if given, must hold the same); any other is their username, beside the e-mail
/// of `emails`.
fn login_of(
    user_name: &str,
    email: Option<&str>,
) -> DomainResult<(Option<EmailAddress>, Option<Username>)> {
    let user_name = user_name.trim();
    if user_name.is_empty() {
        return Err(DomainError::validation("userName", "is required"));
    }
    let email = email
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| EmailAddress::parse("emails", e))
        .transpose()?;
    if user_name.contains('@') {
        let login = EmailAddress::parse("userName", user_name)?;
        if email.as_ref().is_some_and(|e| *e != login) {
            return Err(DomainError::validation(
                "emails",
                "must equal userName when userName is an e-mail address (map userName to the mail attribute)",
            ));
        }
        return Ok((Some(login), None));
    }
    Ok((email, Some(Username::parse("userName", user_name)?)))
}

/// First and last names: `name.givenName` and `name.familyName`, else `displayName` split at
/// its first space.
fn names_of(
    given: Option<&str>,
    family: Option<&str>,
    display: Option<&str>,
) -> DomainResult<(String, String)> {
    let clean = |s: Option<&str>| {
        s.map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    let (display_first, display_rest) = match clean(display) {
        Some(display) => match display.split_once(' ') {
            Some((first, rest)) => (Some(first.to_owned()), clean(Some(rest))),
            None => (Some(display), None),
        },
        None => (None, None),
    };
    let first = clean(given)
        .or(display_first)
        .ok_or_else(|| DomainError::validation("name.givenName", "is required"))?;
    let last = clean(family)
        .or(display_rest)
        .ok_or_else(|| DomainError::validation("name.familyName", "is required"))?;
    Ok((first, last))
}

/// A VALIDATION or CONFLICT error of the operation's input, named as SCIM names it.
fn rename_field(error: DomainError, from: &str, to: &str) -> DomainError {
    match error {
        DomainError::Validation { field, message } if field == from => DomainError::Validation {
            field: to.to_owned(),
            message,
        },
        DomainError::Conflict { field, message } if field == from => DomainError::Conflict {
            field: to.to_owned(),
            message,
        },
        other => other,
    }
}

/// A NOT_FOUND or FORBIDDEN about a profile or a grant, reported on `field`.
pub(crate) fn on_field(error: DomainError, field: &str) -> DomainError {
    match error {
        DomainError::NotFound(what) => {
            DomainError::validation(field, format!("{what} not found in the organization"))
        }
        DomainError::Forbidden(message) => DomainError::ForbiddenOn {
            field: field.to_owned(),
            message,
        },
        other => other,
    }
}
