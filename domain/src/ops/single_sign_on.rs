//! Single sign-on through an organization's OpenID Connect provider.
//!
//! The protocol (discovery, the code exchange with PKCE, the ID token's signature, `iss`, `aud`,
//! `exp` and `nonce`) is the API's, done with a well-kept crate. Here are the rules: who may
//! configure a provider, which verified identity signs in as whom, who is created at a first
//! sign-in and with what, and the single use of every step:
//!
//! 1. `begin_sso` records a sign-in found by the hash of its `state` (10 minutes to come back);
//! 2. `sso_callback` reads it back for the API to finish the protocol with the provider;
//! 3. `finish_sso` applies the rules to the verified claims and, in one transaction, consumes the
//!    `state` (a replay finds nothing), links or creates the person, and swaps the secret for a
//!    one-time code the front end exchanges (the tokens never travel in a URL);
//! 4. `complete_sso` spends that code and answers like `login` (a session, or the second-factor
//!    challenge of a person who has one).

use chrono::Duration;

use crate::access::Actor;
use crate::error::{DomainError, DomainResult};
use crate::ids::{OrganizationId, ProfileId, SiteId, SsoLoginId, UserId};
use crate::model::*;
use crate::ops::mail::{Mail, mail_params, params};
use crate::ops::scim::on_field;
use crate::ops::{
    Domain, NewPassword, NewUserParts, SignIn, find_by_hash, lock_by_hash, user_target,
};
use crate::permissions::UsersPermission;
use crate::secrets::{random_password, random_token};
use crate::values::{EmailAddress, Language, Name};

const STATE_PURPOSE: &str = "sso-state";
const HANDOFF_PURPOSE: &str = "sso-handoff";
/// How long the provider may take to send the person back.
const LOGIN_TTL_MINUTES: i64 = 10;
/// How long the front end has to exchange the one-time code.
const HANDOFF_TTL_SECONDS: i64 = 120;
const MAX_DOMAINS: usize = 50;
const MAX_BREAK_GLASS: usize = 20;

/// What an administrator sets (`clientSecret` may be left out to keep the stored one).
#[derive(Clone, Default)]
pub struct SsoSettings {
    pub organization_id: Option<OrganizationId>,
    pub issuer: String,
    pub client_id: String,
    pub client_secret: Option<String>,
    pub allowed_domains: Vec<String>,
    pub provisioning: Option<SsoProvisioning>,
    pub default_site_id: Option<SiteId>,
    pub require_sso: bool,
    pub break_glass_user_ids: Vec<UserId>,
}

/// What the API needs to talk to the provider, the client secret opened.
#[derive(Clone)]
pub struct SsoProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl std::fmt::Debug for SsoProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoProvider")
            .field("issuer", &self.issuer)
            .field("client_id", &self.client_id)
            .finish_non_exhaustive()
    }
}

/// A sign-in sent to the provider: `state`, `nonce` and the PKCE verifier go into the
/// authorization request (the verifier as its challenge).
#[derive(Clone)]
pub struct SsoStart {
    pub provider: SsoProvider,
    pub state: String,
    pub nonce: String,
    pub pkce_verifier: String,
}

impl std::fmt::Debug for SsoStart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoStart")
            .field("provider", &self.provider)
            .finish_non_exhaustive()
    }
}

/// A sign-in coming back from the provider, with what finishing the protocol needs.
#[derive(Clone)]
pub struct SsoCallback {
    pub provider: SsoProvider,
    pub nonce: String,
    pub pkce_verifier: String,
    pub return_to: String,
}

impl std::fmt::Debug for SsoCallback {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoCallback")
            .field("provider", &self.provider)
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// What the provider's ID token says, once the API verified it.
#[derive(Debug, Clone, Default)]
pub struct SsoClaims {
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub locale: Option<String>,
}

/// A verified sign-in: the one-time code for the front end, and where to send the person.
#[derive(Clone)]
pub struct SsoSignedIn {
    pub code: String,
    pub return_to: String,
}

impl std::fmt::Debug for SsoSignedIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SsoSignedIn")
            .field("return_to", &self.return_to)
            .finish_non_exhaustive()
    }
}

/// Who a verified identity signs in as.
enum Arrival {
    /// Linked before.
    Known(User),
    /// A person of the organization with that e-mail, linked now.
    Link(User),
    /// Created now, as by the connection's author.
    Create(Box<NewPerson>),
}

/// A person to create at their first sign-in, checked (and their password hashed) before the
/// transaction opens.
struct NewPerson {
    author: Actor,
    first_name: Name,
    last_name: Name,
    email: EmailAddress,
    language: Language,
    profile: Profile,
    site_ids: Vec<SiteId>,
    default_site_id: Option<SiteId>,
    password: NewPassword,
}

impl NewPerson {
    fn parts<'a>(&'a self, org: &'a Organization) -> NewUserParts<'a> {
        NewUserParts {
            id: UserId::new(),
            organization: org,
            first_name: self.first_name.clone(),
            last_name: self.last_name.clone(),
            email: Some(self.email.clone()),
            username: None,
            language: self.language,
            profile: &self.profile,
            site_ids: self.site_ids.clone(),
            site_group_ids: Vec::new(),
            default_site_id: self.default_site_id,
            external_contact: None,
            price_list_id: None,
            photo_url: None,
            status: UserStatus::Active,
            password: Some(self.password.clone()),
        }
    }
}

fn expired_sign_in() -> DomainError {
    DomainError::Unauthenticated("this sign-in expired or was already used; start again".into())
}

fn refused(field: &str, message: &str) -> DomainError {
    DomainError::ForbiddenOn {
        field: field.to_owned(),
        message: message.to_owned(),
    }
}

/// Configuring a provider is managing the organization's people.
fn require_sso_admin(actor: &Actor, org: &Organization) -> DomainResult<()> {
    actor.require_person()?;
    actor.require_write_in(org)?;
    actor.require("users", actor.permissions.users, UsersPermission::Manage)
}

/// An issuer is an https URL without query or fragment (plain http only on the loopback, for
/// a provider on the same machine, and only when `allow_loopback` — never in production, where
/// it would let an administrator make the server call its own local services).
fn parse_issuer(raw: &str, allow_loopback: bool) -> DomainResult<String> {
    // Kept as typed, trailing slash included: discovery compares it with the provider's own.
    let issuer = raw.trim();
    let invalid =
        || DomainError::validation("issuer", "must be an https URL (the provider's issuer)");
    let rest = if let Some(rest) = issuer.strip_prefix("https://") {
        rest
    } else if let Some(rest) = issuer.strip_prefix("http://")
        && allow_loopback
    {
        let host = rest.split(['/', ':']).next().unwrap_or_default();
        if !matches!(host, "127.0.0.1" | "localhost" | "[::1]") {
            return Err(invalid());
        }
        rest
    } else {
        return Err(invalid());
    };
    if rest.is_empty()
        || issuer.len() > 500
        || rest.contains(['?', '#', ' ', '@'])
        || rest.chars().any(char::is_control)
    {
        return Err(invalid());
    }
    Ok(issuer.to_owned())
}

fn parse_text(field: &str, raw: &str, max: usize) -> DomainResult<String> {
    let value = raw.trim();
    if value.is_empty() || value.len() > max || value.chars().any(char::is_control) {
        return Err(DomainError::validation(
            field,
            format!("must be 1 to {max} printable characters"),
        ));
    }
    Ok(value.to_owned())
}

/// E-mail domains, lower-cased, each checked like the domain of an address.
fn parse_domains(raw: &[String]) -> DomainResult<Vec<String>> {
    let field = "allowedDomains";
    if raw.is_empty() || raw.len() > MAX_DOMAINS {
        return Err(DomainError::validation(
            field,
            format!("list 1 to {MAX_DOMAINS} e-mail domains"),
        ));
    }
    let mut domains = Vec::with_capacity(raw.len());
    for domain in raw {
        let domain = domain.trim().trim_start_matches('@').to_lowercase();
        EmailAddress::parse(field, &format!("x@{domain}"))
            .map_err(|_| DomainError::validation(field, format!("'{domain}' is not a domain")))?;
        if !domains.contains(&domain) {
            domains.push(domain);
        }
    }
    Ok(domains)
}

fn domain_allowed(connection: &SsoConnection, email: &EmailAddress) -> bool {
    let domain = email.as_str().rsplit_once('@').map_or("", |(_, d)| d);
    connection.allowed_domains.iter().any(|d| d == domain)
}

/// The names of a new person: the provider's given and family names, else its full name split
/// at the first space, else the e-mail's local part.
fn names_from(claims: &SsoClaims, email: &EmailAddress) -> DomainResult<(Name, Name)> {
    let clean = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    let (first, last) = match (clean(&claims.given_name), clean(&claims.family_name)) {
        (Some(first), Some(last)) => (first, last),
        _ => match clean(&claims.name) {
            Some(name) => match name.split_once(' ') {
                Some((first, last)) => (first.to_owned(), last.trim().to_owned()),
                None => (name.clone(), name),
            },
            None => {
                let local = email.as_str().split('@').next().unwrap_or_default();
                (local.to_owned(), local.to_owned())
            }
        },
    };
    Ok((
        Name::parse("given_name", &first)?,
        Name::parse("family_name", &last)?,
    ))
}

impl Domain {
    /// Configures (or changes) the organization's provider. The client secret is sealed and
    /// never readable again; people created at a first sign-in get the organization's default
    /// profile and `default_site_id`, both of which the caller must be able to grant.
    pub async fn configure_sso(
        &self,
        actor: &Actor,
        settings: SsoSettings,
    ) -> DomainResult<SsoConnection> {
        let org = self
            .organization(
                actor,
                settings.organization_id.unwrap_or(actor.organization.id),
            )
            .await?;
        require_sso_admin(actor, &org)?;
        let issuer = parse_issuer(&settings.issuer, self.config.allow_loopback_issuers)?;
        let client_id = parse_text("clientId", &settings.client_id, 255)?;
        let sealed_secret = match settings.client_secret.as_deref().map(str::trim) {
            Some(secret) if !secret.is_empty() => Some(self.secrets.seal(&parse_text(
                "clientSecret",
                secret,
                1000,
            )?)?),
            _ => None,
        };
        let allowed_domains = parse_domains(&settings.allowed_domains)?;
        let provisioning = settings.provisioning.unwrap_or(SsoProvisioning::LinkOnly);
        // No escalation: the default profile and the default site are granted as by the caller.
        if provisioning == SsoProvisioning::CreatePerson {
            self.assignable_profile(actor, &org, None)
                .await
                .map_err(|e| on_field(e, "firstSignIn"))?;
        }
        if let Some(site) = settings.default_site_id {
            self.check_grants(actor, &org, &[site], &[])
                .await
                .map_err(|e| on_field(e, "defaultSiteId"))?;
        }
        let break_glass = self
            .check_break_glass(actor, &org, &settings.break_glass_user_ids)
            .await?;
        let connection = SsoConnection {
            organization_id: org.id,
            issuer,
            client_id,
            sealed_client_secret: String::new(),
            allowed_domains,
            provisioning,
            default_site_id: settings.default_site_id,
            require_sso: settings.require_sso,
            break_glass_user_ids: break_glass,
            configured_by: actor.user.id,
            updated_at: self.now(),
        };
        self.retrying("organizationId", || async {
            let mut tx = self.store.begin().await?;
            let saved = match tx.lock_sso_connection(org.id).await? {
                Some(mut stored) => {
                    let secret = sealed_secret
                        .clone()
                        .unwrap_or_else(|| stored.sealed_client_secret.clone());
                    *stored = SsoConnection {
                        sealed_client_secret: secret,
                        ..connection.clone()
                    };
                    tx.update_sso_connection(&stored).await?;
                    stored.into_inner()
                }
                None => {
                    let secret = sealed_secret
                        .clone()
                        .ok_or_else(|| DomainError::validation("clientSecret", "is required"))?;
                    let new = SsoConnection {
                        sealed_client_secret: secret,
                        ..connection.clone()
                    };
                    tx.insert_sso_connection(&new).await?;
                    new
                }
            };
            let target = Some(("Organization", org.id.to_string()));
            tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "sso.configured", target))
                .await?;
            tx.commit().await?;
            Ok(saved)
        })
        .await
    }

    /// Break-glass administrators: people of the organization who manage its users.
    async fn check_break_glass(
        &self,
        actor: &Actor,
        org: &Organization,
        ids: &[UserId],
    ) -> DomainResult<Vec<UserId>> {
        let field = "breakGlassUserIds";
        if ids.len() > MAX_BREAK_GLASS {
            return Err(DomainError::validation(
                field,
                format!("at most {MAX_BREAK_GLASS} people"),
            ));
        }
        let mut checked = Vec::new();
        for id in ids {
            let user = self
                .user(actor, *id)
                .await
                .ok()
                .filter(|u| u.organization_id == org.id)
                .ok_or_else(|| {
                    DomainError::validation(
                        field,
                        format!("{id} is not a person of the organization"),
                    )
                })?;
            let profile = self.store.profile(user.profile_id).await?;
            if profile.is_none_or(|p| p.permissions.users < UsersPermission::Manage) {
                return Err(DomainError::validation(
                    field,
                    format!("{id} is not an administrator (users: MANAGE)"),
                ));
            }
            if !checked.contains(id) {
                checked.push(*id);
            }
        }
        Ok(checked)
    }

    /// The organization's provider as its administrators see it (no secret), if any.
    pub async fn sso_connection(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<Option<SsoConnection>> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        require_sso_admin(actor, &org)?;
        Ok(self.store.sso_connection(org.id).await?)
    }

    /// Removes the organization's provider: passwords work again; linked accounts stay linked
    /// for when a provider is configured again. `false` when there was none.
    pub async fn remove_sso(
        &self,
        actor: &Actor,
        organization_id: Option<OrganizationId>,
    ) -> DomainResult<bool> {
        let org = self
            .organization(actor, organization_id.unwrap_or(actor.organization.id))
            .await?;
        require_sso_admin(actor, &org)?;
        self.retrying("organizationId", || async {
            let mut tx = self.store.begin().await?;
            let Some(stored) = tx.lock_sso_connection(org.id).await? else {
                return Ok(false);
            };
            tx.delete_sso_connection(stored).await?;
            let target = Some(("Organization", org.id.to_string()));
            tx.insert_audit_event(&self.audit(Some(actor), Some(org.id), "sso.removed", target))
                .await?;
            tx.commit().await?;
            Ok(true)
        })
        .await
    }

    /// Password sign-in is refused to the people of an organization that requires its provider,
    /// except its break-glass administrators while they still manage its users (their profile
    /// is read only then: nobody else pays a statement for it). `profile_id` is the person's
    /// profile when the caller has it at hand; else, on that rare path, the person is read.
    pub(crate) async fn check_password_allowed(
        &self,
        organization_id: OrganizationId,
        user_id: UserId,
        profile_id: Option<ProfileId>,
    ) -> DomainResult<()> {
        let Some(connection) = self.store.sso_connection(organization_id).await? else {
            return Ok(());
        };
        if !connection.require_sso {
            return Ok(());
        }
        if connection.break_glass_user_ids.contains(&user_id) {
            let profile_id = match profile_id {
                Some(id) => Some(id),
                None => self.store.user(user_id).await?.map(|u| u.profile_id),
            };
            let profile = match profile_id {
                Some(id) => self.store.profile(id).await?,
                None => None,
            };
            if profile.is_some_and(|p| p.permissions.users >= UsersPermission::Manage) {
                return Ok(());
            }
        }
        Err(refused(
            "password",
            "your organization signs in through its identity provider: use single sign-on",
        ))
    }

    /// Starts a sign-in through the organization's provider (NOT_FOUND when it has none).
    /// `return_to` was checked by the caller (a path or an allowed origin).
    pub async fn begin_sso(
        &self,
        organization_id: OrganizationId,
        return_to: &str,
        ip: Option<&str>,
    ) -> DomainResult<SsoStart> {
        let connection = self
            .store
            .sso_connection(organization_id)
            .await?
            .ok_or(DomainError::NotFound("single sign-on"))?;
        let provider = self.provider_of(&connection)?;
        let (state, nonce, pkce_verifier) = (random_token(), random_token(), random_token());
        let now = self.now();
        let login = SsoLogin {
            id: SsoLoginId::new(),
            organization_id,
            stage: SsoLoginStage::AtProvider,
            secret_hash: self.secrets.token_hash(STATE_PURPOSE, &state),
            issuer: connection.issuer.clone(),
            nonce: nonce.clone(),
            sealed_pkce_verifier: self.secrets.seal(&pkce_verifier)?,
            return_to: return_to.to_owned(),
            user_id: None,
            client_address: ip.map(str::to_owned),
            created_at: now,
            expires_at: now + Duration::minutes(LOGIN_TTL_MINUTES),
        };
        let mut tx = self.store.begin().await?;
        // Abandoned sign-ins go with the next one: the table holds ten minutes of them, and
        // no more than the limits let anyone start without credentials. (Starts racing past
        // the count may overshoot a limit by a few: it bounds storage, it guards no secret.)
        let pending = tx.sweep_sso_logins(organization_id, now, ip).await?;
        let rules = &self.config.throttle;
        if pending.from_address >= u64::from(rules.sso_pending_per_address)
            || pending.total >= u64::from(rules.sso_pending_per_organization)
        {
            tx.commit().await?;
            return Err(DomainError::RateLimited {
                retry_after_secs: 60,
            });
        }
        tx.insert_sso_login(&login).await?;
        tx.commit().await?;
        Ok(SsoStart {
            provider,
            state,
            nonce,
            pkce_verifier,
        })
    }

    fn provider_of(&self, connection: &SsoConnection) -> DomainResult<SsoProvider> {
        let client_secret = self
            .secrets
            .open(&connection.sealed_client_secret)
            .ok_or_else(|| DomainError::internal("the provider's client secret does not open"))?;
        Ok(SsoProvider {
            issuer: connection.issuer.clone(),
            client_id: connection.client_id.clone(),
            client_secret,
        })
    }

    /// The sign-in the provider sends back with `state`: what the API needs to exchange the
    /// code and verify the ID token. UNAUTHENTICATED when unknown, used, expired, or when the
    /// organization's provider changed meanwhile.
    pub async fn sso_callback(
        &self,
        organization_id: OrganizationId,
        state: &str,
    ) -> DomainResult<SsoCallback> {
        let store = &*self.store;
        let (login, _) = find_by_hash(
            self.secrets.token_hashes(STATE_PURPOSE, state),
            |hash| async move { store.sso_login_by_hash(hash.expose()).await },
        )
        .await?
        .filter(|(l, _)| self.awaits_provider(l, organization_id))
        .ok_or_else(expired_sign_in)?;
        let connection = self
            .store
            .sso_connection(organization_id)
            .await?
            .filter(|c| c.issuer == login.issuer)
            .ok_or_else(expired_sign_in)?;
        let pkce_verifier = self
            .secrets
            .open(&login.sealed_pkce_verifier)
            .ok_or_else(expired_sign_in)?;
        Ok(SsoCallback {
            provider: self.provider_of(&connection)?,
            nonce: login.nonce,
            pkce_verifier,
            return_to: login.return_to,
        })
    }

    fn awaits_provider(&self, login: &SsoLogin, organization_id: OrganizationId) -> bool {
        login.stage == SsoLoginStage::AtProvider
            && login.organization_id == organization_id
            && login.expires_at > self.now()
    }

    /// Applies the organization's rules to the provider's verified claims and finishes the
    /// sign-in: the `state` is spent, the person found, linked or created, and a one-time code
    /// handed out for `complete_sso`. Refusals are audited (`sso.refused`).
    pub async fn finish_sso(
        &self,
        organization_id: OrganizationId,
        state: &str,
        claims: SsoClaims,
        ip: Option<&str>,
    ) -> DomainResult<SsoSignedIn> {
        let outcome = self
            .finish_sso_checked(organization_id, state, &claims, ip)
            .await;
        if let Err(error) = &outcome
            && !matches!(
                error,
                DomainError::Internal(_) | DomainError::Unavailable(_)
            )
        {
            self.record_sso_refusal(organization_id, Some(&claims.subject), ip)
                .await?;
        }
        outcome
    }

    /// Audits a refused sign-in through the provider (`sso.refused`): by the rules here, or by
    /// the protocol (a bad signature, audience, issuer, expiry or nonce), when `subject` is
    /// unknown.
    pub async fn record_sso_refusal(
        &self,
        organization_id: OrganizationId,
        subject: Option<&str>,
        ip: Option<&str>,
    ) -> DomainResult<()> {
        let mut event = self.audit(None, Some(organization_id), "sso.refused", None);
        event.ip = ip.map(str::to_owned);
        if let Some(subject) = subject {
            event.target_type = Some("SsoSubject".into());
            event.target_id = Some(subject.chars().take(200).collect());
        }
        let mut tx = self.store.begin().await?;
        tx.insert_audit_event(&event).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn finish_sso_checked(
        &self,
        organization_id: OrganizationId,
        state: &str,
        claims: &SsoClaims,
        ip: Option<&str>,
    ) -> DomainResult<SsoSignedIn> {
        let store = &*self.store;
        let connection = store
            .sso_connection(organization_id)
            .await?
            .filter(|c| c.issuer == claims.issuer)
            .ok_or_else(expired_sign_in)?;
        if !claims.email_verified {
            return Err(refused(
                "email",
                "the identity provider has not verified this e-mail address",
            ));
        }
        let email = EmailAddress::parse("email", claims.email.as_deref().unwrap_or_default())?;
        if !domain_allowed(&connection, &email) {
            return Err(refused(
                "email",
                "people of this e-mail domain may not sign in to the organization",
            ));
        }
        let org = self.organization_of(store, organization_id).await?;
        let inactive = || refused("user", "this account is deactivated");
        let no_account = || {
            refused(
                "email",
                "no person of the organization has this e-mail address",
            )
        };
        let arrival = match store.sso_identity(&claims.issuer, &claims.subject).await? {
            Some(identity) => {
                let user = store
                    .user(identity.user_id)
                    .await?
                    .filter(|u| u.organization_id == organization_id)
                    .ok_or_else(no_account)?;
                Arrival::Known(user)
            }
            None => match store.user_by_login(email.as_str()).await? {
                Some(user) if user.organization_id == organization_id => Arrival::Link(user),
                Some(_) => return Err(no_account()),
                None if connection.provisioning == SsoProvisioning::CreatePerson => {
                    let author = self.connection_author(&connection, &org).await?;
                    let person = self
                        .new_person(author, &org, &connection, claims, email)
                        .await?;
                    Arrival::Create(Box::new(person))
                }
                None => return Err(no_account()),
            },
        };
        if let Arrival::Known(user) | Arrival::Link(user) = &arrival
            && user.status != UserStatus::Active
        {
            return Err(inactive());
        }
        self.retrying("state", || {
            self.finish_sso_once(&org, &connection, state, claims, &arrival, ip)
        })
        .await
    }

    /// The actor people are created as: the connection's author, while they still may.
    async fn connection_author(
        &self,
        connection: &SsoConnection,
        org: &Organization,
    ) -> DomainResult<Actor> {
        let unable = || {
            refused(
                "email",
                "no person of the organization has this e-mail address, and the single sign-on \
                 connection may no longer create people: an administrator must save it again",
            )
        };
        let store = &*self.store;
        let author = store
            .user(connection.configured_by)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(unable)?;
        let author_org = self.organization_of(store, author.organization_id).await?;
        let profile = store.profile(author.profile_id).await?.ok_or_else(unable)?;
        let actor = Actor::new(author, author_org, profile.permissions, None, None);
        require_sso_admin(&actor, org).map_err(|_| unable())?;
        Ok(actor)
    }

    /// A person created at their first sign-in: the organization's default profile, the
    /// connection's default site, a password nobody knows (they sign in through the provider).
    async fn new_person(
        &self,
        author: Actor,
        org: &Organization,
        connection: &SsoConnection,
        claims: &SsoClaims,
        email: EmailAddress,
    ) -> DomainResult<NewPerson> {
        let (first_name, last_name) = names_from(claims, &email)?;
        let profile = self.assignable_profile(&author, org, None).await?;
        let site_ids: Vec<SiteId> = connection.default_site_id.into_iter().collect();
        let grants = self.check_grants(&author, org, &site_ids, &[]).await?;
        self.check_login_free(&*self.store, Some(&email), None)
            .await?;
        let language = claims
            .locale
            .as_deref()
            .and_then(|l| l.get(..2))
            .and_then(|code| Language::from_code(&code.to_lowercase()))
            .unwrap_or(org.default_language);
        let password = self.new_password(Some(&random_password()), true).await?;
        Ok(NewPerson {
            author,
            first_name,
            last_name,
            email,
            language,
            profile,
            site_ids: grants.site_ids,
            default_site_id: connection.default_site_id,
            password,
        })
    }

    /// The transaction of `finish_sso`: spends the `state` (locked: of two uses one finds it),
    /// links or creates the person, and hands out the one-time code.
    async fn finish_sso_once(
        &self,
        org: &Organization,
        connection: &SsoConnection,
        state: &str,
        claims: &SsoClaims,
        arrival: &Arrival,
        ip: Option<&str>,
    ) -> DomainResult<SsoSignedIn> {
        let mut tx = self.store.begin().await?;
        // Under the current pepper's hash first (the common case: one statement), then the
        // previous one's, for a sign-in started before a rotation.
        let (mut login, _) =
            lock_by_hash::<SsoLogin>(&mut *tx, self.secrets.token_hashes(STATE_PURPOSE, state))
                .await?
                .filter(|(l, _)| self.awaits_provider(l, org.id) && l.issuer == connection.issuer)
                .ok_or_else(expired_sign_in)?;
        let link = |user: &User| SsoIdentity {
            issuer: claims.issuer.clone(),
            subject: claims.subject.clone(),
            user_id: user.id,
            organization_id: org.id,
            created_at: self.now(),
        };
        let user = match arrival {
            Arrival::Known(user) => user.clone(),
            Arrival::Link(user) => {
                tx.insert_sso_identity(&link(user)).await?;
                let mut event = self.audit(None, Some(org.id), "sso.linked", user_target(user.id));
                event.ip = ip.map(str::to_owned);
                tx.insert_audit_event(&event).await?;
                if let Some(to) = user.email.clone() {
                    let mail = self.sso_mail(org, user, to, EmailKind::SsoLinked, None);
                    self.enqueue(&mut *tx, mail).await?;
                }
                user.clone()
            }
            Arrival::Create(person) => {
                let (user, credentials) = self
                    .insert_new_user(&mut *tx, Some(&person.author), person.parts(org))
                    .await?;
                tx.insert_sso_identity(&link(&user)).await?;
                let mut event = self.audit(
                    Some(&person.author),
                    Some(org.id),
                    "sso.user_provisioned",
                    user_target(user.id),
                );
                event.ip = ip.map(str::to_owned);
                tx.insert_audit_event(&event).await?;
                let mail = self.sso_mail(
                    org,
                    &user,
                    person.email.clone(),
                    EmailKind::SsoWelcome,
                    credentials.booking_code.as_deref(),
                );
                self.enqueue(&mut *tx, mail).await?;
                user
            }
        };
        let code = random_token();
        login.stage = SsoLoginStage::SignedIn;
        login.secret_hash = self.secrets.token_hash(HANDOFF_PURPOSE, &code);
        login.user_id = Some(user.id);
        login.expires_at = self.now() + Duration::seconds(HANDOFF_TTL_SECONDS);
        tx.update_sso_login(&login).await?;
        tx.commit().await?;
        Ok(SsoSignedIn {
            code,
            return_to: login.return_to.clone(),
        })
    }

    /// The e-mail telling a person their account now signs in through their organization's
    /// provider (created, with their booking code, or linked).
    fn sso_mail(
        &self,
        org: &Organization,
        user: &User,
        to: EmailAddress,
        kind: EmailKind,
        booking_code: Option<&str>,
    ) -> Mail {
        let mut params = mail_params([
            (params::NAME, user.display_name()),
            (params::LOGIN, user.login()),
            (params::ORGANIZATION, org.name.to_string()),
        ]);
        if let Some(code) = booking_code {
            params.insert(params::BOOKING_CODE.to_owned(), code.to_owned());
        }
        Mail {
            organization: Some(org.id),
            to,
            language: user.language,
            kind,
            params,
        }
    }

    /// Spends the one-time code of a verified sign-in and answers like `login`: a session
    /// (audited `sso.login`), or the challenge of a person with a second factor.
    pub async fn complete_sso(&self, code: &str, ip: Option<&str>) -> DomainResult<SignIn> {
        let code = code.trim();
        let user_id = self
            .retrying("code", || async {
                let mut tx = self.store.begin().await?;
                let (login, _) = lock_by_hash::<SsoLogin>(
                    &mut *tx,
                    self.secrets.token_hashes(HANDOFF_PURPOSE, code),
                )
                .await?
                .filter(|(l, _)| l.stage == SsoLoginStage::SignedIn && l.expires_at > self.now())
                .ok_or_else(expired_sign_in)?;
                let user_id = login.user_id.ok_or_else(expired_sign_in)?;
                tx.delete_sso_login(login).await?;
                tx.commit().await?;
                Ok(user_id)
            })
            .await?;
        // Deactivation in Concierge ends everything, whatever the provider said a minute ago.
        let user = self
            .store
            .user(user_id)
            .await?
            .filter(|u| u.status == UserStatus::Active)
            .ok_or_else(expired_sign_in)?;
        self.session_or_challenge(&user, ip, "sso.login").await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider() -> SsoProvider {
        SsoProvider {
            issuer: "https://sso.example.com/realms/acme".into(),
            client_id: "concierge".into(),
            client_secret: "client-secret-value".into(),
        }
    }

    #[test]
    fn debug_output_redacts_the_secrets_of_a_sign_in() {
        let start = SsoStart {
            provider: provider(),
            state: "state-value".into(),
            nonce: "nonce-value".into(),
            pkce_verifier: "verifier-value".into(),
        };
        let callback = SsoCallback {
            provider: provider(),
            nonce: "nonce-value".into(),
            pkce_verifier: "verifier-value".into(),
            return_to: "/welcome".into(),
        };
        for printed in [format!("{start:?}"), format!("{callback:?}")] {
            for secret in [
                "state-value",
                "nonce-value",
                "verifier-value",
                "client-secret-value",
            ] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
            assert!(printed.contains("sso.example.com"), "{printed}");
        }
        assert!(format!("{callback:?}").contains("/welcome"));
    }

    #[test]
    fn loopback_issuers_only_where_allowed() {
        for issuer in ["http://127.0.0.1:9000/realms/acme", "http://localhost/"] {
            assert_eq!(parse_issuer(issuer, true).ok().as_deref(), Some(issuer));
            let refused = parse_issuer(issuer, false).expect_err(issuer);
            assert_eq!(refused.code(), crate::error::ErrorCode::Validation);
            assert_eq!(refused.field(), Some("issuer"));
        }
        for allow in [true, false] {
            assert!(parse_issuer("https://sso.example.com/realms/acme", allow).is_ok());
            assert!(parse_issuer("http://sso.example.com/realms/acme", allow).is_err());
        }
    }
}
