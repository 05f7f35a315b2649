use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;
use crate::graphql::loaders::RoomsOfSite;

pub struct SiteObject(pub d::Site);

impl From<d::Site> for SiteObject {
    fn from(value: d::Site) -> Self {
        Self(value)
    }
}

#[Object(name = "Site")]
impl SiteObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.0.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// IANA time zone; schedules of the site's rooms are given in it.
    async fn time_zone(&self) -> &str {
        self.0.time_zone.name()
    }
    async fn address(&self) -> Option<&str> {
        self.0.address.as_deref()
    }
    async fn rooms(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<RoomObject>> {
        let rooms: Option<Vec<d::Room>> =
            load_opt(ctx, RoomsOfSite(self.0.id, self.0.organization_id)).await?;
        Ok(rooms
            .unwrap_or_default()
            .into_iter()
            .map(RoomObject)
            .collect())
    }
}

connection!(SiteConnection, SiteEdge, SiteObject, d::Site);

pub struct SiteGroupObject(pub d::SiteGroup);

#[Object(name = "SiteGroup")]
impl SiteGroupObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.0.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    /// The group's sites that the caller may see.
    async fn sites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteObject>> {
        Ok(load_many(ctx, &self.0.site_ids)
            .await?
            .into_iter()
            .map(SiteObject)
            .collect())
    }
}
