//! Partners' price lists.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct CreatePriceListInput {
    pub organization_id: ID,
    pub name: String,
    /// Makes it the partner's default (the first list always is).
    pub is_default: Option<bool>,
}

#[derive(SimpleObject)]
pub struct PriceListPayload {
    pub price_list: PriceListObject,
}

#[derive(Default)]
pub struct PriceListsQuery;

#[Object]
impl PriceListsQuery {
    /// A partner's price lists; for a company, its partner's (with `billing` ≥ READ).
    async fn price_lists(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
    ) -> async_graphql::Result<Vec<PriceListObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        Ok(domain
            .price_lists(&actor, org)
            .await
            .gql()?
            .into_iter()
            .map(PriceListObject)
            .collect())
    }
}

#[derive(Default)]
pub struct PriceListsMutation;

#[Object]
impl PriceListsMutation {
    async fn create_price_list(
        &self,
        ctx: &Context<'_>,
        input: CreatePriceListInput,
    ) -> async_graphql::Result<PriceListPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewPriceList {
            organization_id: parse_id(&input.organization_id, "organization")?,
            name: input.name,
            is_default: input.is_default.unwrap_or(false),
        };
        Ok(PriceListPayload {
            price_list: PriceListObject(domain.create_price_list(&actor, new).await.gql()?),
        })
    }
}
