use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;

pub struct OrganizationObject(pub d::Organization);

impl From<d::Organization> for OrganizationObject {
    fn from(value: d::Organization) -> Self {
        Self(value)
    }
}

#[Object(name = "Organization")]
impl OrganizationObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn kind(&self) -> OrganizationKind {
        self.0.kind.into()
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// The partner of a company (the platform, for a partner), when the caller may see it.
    async fn parent(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<OrganizationObject>> {
        match self.0.parent_id {
            Some(parent) => Ok(load_opt(ctx, parent).await?.map(OrganizationObject)),
            None => Ok(None),
        }
    }
    /// Where new users' credentials are sent by default.
    async fn admin_email(&self) -> Option<String> {
        self.0.admin_email.as_ref().map(|e| e.to_string())
    }
    async fn external_contact(&self) -> Option<&str> {
        self.0.external_contact.as_deref()
    }
    async fn default_language(&self) -> Language {
        self.0.default_language.into()
    }
    async fn time_zone(&self) -> &str {
        self.0.time_zone.name()
    }
    /// The profile given to new users without an explicit one.
    async fn default_profile(&self, ctx: &Context<'_>) -> async_graphql::Result<ProfileObject> {
        load_req(ctx, self.0.default_profile_id, "profile")
            .await
            .map(ProfileObject)
    }
    /// The price list the company is billed on, for callers with `billing` ≥ READ.
    async fn price_list(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PriceListObject>> {
        match self.0.price_list_id {
            Some(list) => Ok(load_opt(ctx, list).await?.map(PriceListObject)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

connection!(
    OrganizationConnection,
    OrganizationEdge,
    OrganizationObject,
    d::Organization
);
