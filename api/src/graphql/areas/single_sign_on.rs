//! Single sign-on through an organization's OpenID Connect provider: configured by its
//! administrators (the client secret written, never read back), and the last step of a
//! sign-in, which turns the one-time code the callback handed the front end into a session.
//! The rules are the domain's (`concierge_domain::ops::single_sign_on`); the protocol with the
//! provider is `crate::oidc`.

use async_graphql::{Context, Enum, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::areas::auth::OkPayload;
use crate::graphql::areas::second_factor::{SignInPayload, sign_in_payload};
use crate::graphql::context::{acting, client_ip, domain};
use crate::graphql::errors::{GqlResult, parse_id, parse_ids, parse_opt_id};
use crate::graphql::types::*;

/// What a first sign-in does for someone the organization's provider knows and Concierge
/// does not (yet) under that provider.
#[derive(Enum, Copy, Clone, Eq, PartialEq, Debug)]
#[graphql(name = "SsoFirstSignIn")]
pub enum SsoFirstSignIn {
    /// Creates the person with the organization's default profile and the default site (a
    /// person of the organization with that e-mail is linked instead).
    CreatePerson,
    /// Only links to a person of the organization with that verified e-mail.
    LinkOnly,
}

impl From<SsoFirstSignIn> for d::SsoProvisioning {
    fn from(v: SsoFirstSignIn) -> Self {
        match v {
            SsoFirstSignIn::CreatePerson => d::SsoProvisioning::CreatePerson,
            SsoFirstSignIn::LinkOnly => d::SsoProvisioning::LinkOnly,
        }
    }
}

impl From<d::SsoProvisioning> for SsoFirstSignIn {
    fn from(v: d::SsoProvisioning) -> Self {
        match v {
            d::SsoProvisioning::CreatePerson => SsoFirstSignIn::CreatePerson,
            d::SsoProvisioning::LinkOnly => SsoFirstSignIn::LinkOnly,
        }
    }
}

#[derive(InputObject)]
pub struct ConfigureSingleSignOnInput {
    pub organization_id: ID,
    /// The provider's issuer, e.g. `https://login.microsoftonline.com/<tenant>/v2.0`.
    pub issuer: String,
    pub client_id: String,
    /// Required the first time; left out, the stored one is kept. Never readable back.
    pub client_secret: Option<String>,
    /// E-mail domains whose people may sign in through the provider.
    pub allowed_domains: Vec<String>,
    #[graphql(default_with = "SsoFirstSignIn::LinkOnly")]
    pub first_sign_in: SsoFirstSignIn,
    /// The site people created at their first sign-in get.
    pub default_site_id: Option<ID>,
    /// Passwords stop working for the organization's people, except break-glass administrators.
    #[graphql(default)]
    pub require_sso: bool,
    /// Administrators (users: MANAGE) whose password keeps working when SSO is required.
    #[graphql(default)]
    pub break_glass_user_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct RemoveSingleSignOnInput {
    pub organization_id: ID,
}

#[derive(InputObject)]
pub struct CompleteSingleSignOnInput {
    /// The `sso_code` the sign-in's last redirect put in the URL fragment (single use, two
    /// minutes).
    pub code: String,
}

#[derive(SimpleObject)]
pub struct SingleSignOnPayload {
    pub single_sign_on: SingleSignOnObject,
}

/// An organization's OpenID Connect provider, as its administrators see it.
pub struct SingleSignOnObject(pub d::SsoConnection);

#[Object(name = "SingleSignOn")]
impl SingleSignOnObject {
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.0.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    async fn issuer(&self) -> &str {
        &self.0.issuer
    }
    async fn client_id(&self) -> &str {
        &self.0.client_id
    }
    /// Always true: a secret is stored (sealed); it is never shown.
    async fn client_secret_set(&self) -> bool {
        !self.0.sealed_client_secret.is_empty()
    }
    async fn allowed_domains(&self) -> &[String] {
        &self.0.allowed_domains
    }
    async fn first_sign_in(&self) -> SsoFirstSignIn {
        self.0.provisioning.into()
    }
    async fn default_site(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SiteObject>> {
        match self.0.default_site_id {
            Some(site) => Ok(load_opt(ctx, site).await?.map(SiteObject)),
            None => Ok(None),
        }
    }
    async fn require_sso(&self) -> bool {
        self.0.require_sso
    }
    async fn break_glass_users(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<UserObject>> {
        let users: Vec<d::User> = load_many(ctx, &self.0.break_glass_user_ids).await?;
        Ok(users.into_iter().map(UserObject::from).collect())
    }
    /// Where the front end sends people to sign in (`?return_to=/path` brings them back there).
    async fn start_url(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let public_url = &domain(ctx)?.config.public_url;
        Ok(crate::oidc::start_url(public_url, self.0.organization_id))
    }
    /// The redirect URI to register at the provider.
    async fn redirect_uri(&self, ctx: &Context<'_>) -> async_graphql::Result<String> {
        let public_url = &domain(ctx)?.config.public_url;
        Ok(crate::oidc::redirect_uri(
            public_url,
            self.0.organization_id,
        ))
    }
    async fn updated_at(&self) -> DateTime {
        self.0.updated_at.into()
    }
}

#[derive(Default)]
pub struct SingleSignOnQuery;

#[Object]
impl SingleSignOnQuery {
    /// The organization's provider (its own by default), or null when it has none.
    async fn single_sign_on(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
    ) -> async_graphql::Result<Option<SingleSignOnObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        let connection = domain.sso_connection(&actor, org).await.gql()?;
        Ok(connection.map(SingleSignOnObject))
    }
}

#[derive(Default)]
pub struct SingleSignOnMutation;

#[Object]
impl SingleSignOnMutation {
    /// Configures (or changes) the organization's OpenID Connect provider.
    async fn configure_single_sign_on(
        &self,
        ctx: &Context<'_>,
        input: ConfigureSingleSignOnInput,
    ) -> async_graphql::Result<SingleSignOnPayload> {
        let (domain, actor) = acting(ctx)?;
        let settings = d::SsoSettings {
            organization_id: Some(parse_id(&input.organization_id, "organization")?),
            issuer: input.issuer,
            client_id: input.client_id,
            client_secret: input.client_secret,
            allowed_domains: input.allowed_domains,
            provisioning: Some(input.first_sign_in.into()),
            default_site_id: parse_opt_id(input.default_site_id.as_ref(), "site")?,
            require_sso: input.require_sso,
            break_glass_user_ids: parse_ids(Some(&input.break_glass_user_ids), "user")?
                .unwrap_or_default(),
        };
        let connection = domain.configure_sso(&actor, settings).await.gql()?;
        Ok(SingleSignOnPayload {
            single_sign_on: SingleSignOnObject(connection),
        })
    }

    /// Removes the organization's provider: passwords work again. `ok` is false when it had
    /// none.
    async fn remove_single_sign_on(
        &self,
        ctx: &Context<'_>,
        input: RemoveSingleSignOnInput,
    ) -> async_graphql::Result<OkPayload> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_id(&input.organization_id, "organization")?;
        let ok = domain.remove_sso(&actor, Some(org)).await.gql()?;
        Ok(OkPayload { ok })
    }

    /// Finishes a sign-in through the organization's provider: the one-time code becomes a
    /// session, or a second-factor challenge for a person who has one. A used, expired or
    /// unknown code is UNAUTHENTICATED.
    async fn complete_single_sign_on(
        &self,
        ctx: &Context<'_>,
        input: CompleteSingleSignOnInput,
    ) -> async_graphql::Result<SignInPayload> {
        let ip = client_ip(ctx);
        let answer = domain(ctx)?
            .complete_sso(&input.code, ip.as_deref())
            .await
            .gql()?;
        sign_in_payload(ctx, answer).await
    }
}
