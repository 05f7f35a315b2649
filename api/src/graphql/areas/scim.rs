//! SCIM provisioning tokens: created (shown once), listed without secrets, revoked. The rules
//! are the domain's (`concierge_domain::ops::scim`); the SCIM endpoint itself is `crate::scim`.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct CreateScimTokenInput {
    pub organization_id: ID,
    /// What the token is for, e.g. "Entra ID".
    pub name: String,
    /// The profile provisioned people get; the organization's default profile when absent.
    /// Only a profile the caller could grant.
    pub profile_id: Option<ID>,
    /// A site group provisioned people are granted.
    pub site_group_id: Option<ID>,
    /// A site provisioned people are granted, and get as their default site.
    pub site_id: Option<ID>,
}

#[derive(SimpleObject)]
pub struct CreateScimTokenPayload {
    pub scim_token: ScimTokenObject,
    /// The bearer token for the directory, shown this once: only its keyed hash is kept.
    pub token: String,
}

#[derive(InputObject)]
pub struct RevokeScimTokenInput {
    pub scim_token_id: ID,
}

#[derive(SimpleObject)]
pub struct ScimTokenPayload {
    pub scim_token: ScimTokenObject,
}

/// A directory's SCIM provisioning token (never its secret).
pub struct ScimTokenObject(pub d::ScimToken);

#[Object(name = "ScimToken")]
impl ScimTokenObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.0.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    /// The profile provisioned people get (null if it has since been deleted).
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<ProfileObject>> {
        Ok(load_opt(ctx, self.0.profile_id).await?.map(ProfileObject))
    }
    async fn site_group(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<SiteGroupObject>> {
        match self.0.site_group_id {
            Some(group) => Ok(load_opt(ctx, group).await?.map(SiteGroupObject)),
            None => Ok(None),
        }
    }
    async fn site(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SiteObject>> {
        match self.0.site_id {
            Some(site) => Ok(load_opt(ctx, site).await?.map(SiteObject)),
            None => Ok(None),
        }
    }
    /// Who created it: the directory acts with their rights.
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        Ok(load_opt(ctx, self.0.created_by)
            .await?
            .map(UserObject::from))
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
    async fn revoked_at(&self) -> Option<DateTime> {
        self.0.revoked_at.map(Into::into)
    }
}

#[derive(Default)]
pub struct ScimQuery;

#[Object]
impl ScimQuery {
    /// The SCIM tokens of an organization (its own by default), oldest first, revoked included.
    async fn scim_tokens(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
    ) -> async_graphql::Result<Vec<ScimTokenObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        let tokens = domain.scim_tokens(&actor, org).await.gql()?;
        Ok(tokens.into_iter().map(ScimTokenObject).collect())
    }
}

#[derive(Default)]
pub struct ScimMutation;

#[Object]
impl ScimMutation {
    /// Creates a bearer token for a directory (Entra ID, Okta, Google) to provision the
    /// organization's people at `/scim/v2`; the token is shown once.
    async fn create_scim_token(
        &self,
        ctx: &Context<'_>,
        input: CreateScimTokenInput,
    ) -> async_graphql::Result<CreateScimTokenPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewScimToken {
            organization_id: Some(parse_id(&input.organization_id, "organization")?),
            name: input.name,
            profile_id: parse_opt_id(input.profile_id.as_ref(), "profile")?,
            site_group_id: parse_opt_id(input.site_group_id.as_ref(), "site group")?,
            site_id: parse_opt_id(input.site_id.as_ref(), "site")?,
        };
        let (token, secret) = domain.create_scim_token(&actor, new).await.gql()?;
        Ok(CreateScimTokenPayload {
            scim_token: ScimTokenObject(token),
            token: secret,
        })
    }

    /// Revokes a SCIM token: the directory's next request is refused.
    async fn revoke_scim_token(
        &self,
        ctx: &Context<'_>,
        input: RevokeScimTokenInput,
    ) -> async_graphql::Result<ScimTokenPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.scim_token_id, "SCIM token")?;
        Ok(ScimTokenPayload {
            scim_token: ScimTokenObject(domain.revoke_scim_token(&actor, id).await.gql()?),
        })
    }
}
