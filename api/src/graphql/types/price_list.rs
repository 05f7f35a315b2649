use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;
use crate::graphql::loaders::PriceListOwner;

pub struct PriceListObject(pub d::PriceList);

#[Object(name = "PriceList")]
impl PriceListObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, PriceListOwner(self.0.organization_id), "organization")
            .await
            .map(OrganizationObject)
    }
    async fn name(&self) -> &str {
        self.0.name.as_str()
    }
    async fn is_default(&self) -> bool {
        self.0.is_default
    }
}
