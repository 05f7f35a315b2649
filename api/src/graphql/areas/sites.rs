//! Sites (establishments) and site groups.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::{acting, acting_for_room_display};
use crate::graphql::errors::{GqlResult, nullable, parse_id, parse_ids, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct CreateSiteInput {
    pub organization_id: ID,
    pub name: String,
    /// IANA time zone, e.g. Europe/Paris.
    pub time_zone: String,
    pub address: Option<String>,
}

#[derive(InputObject)]
pub struct UpdateSiteInput {
    pub id: ID,
    pub name: Option<String>,
    pub time_zone: Option<String>,
    pub address: Option<String>,
}

#[derive(SimpleObject)]
pub struct SitePayload {
    pub site: SiteObject,
}

#[derive(InputObject)]
pub struct CreateSiteGroupInput {
    pub organization_id: ID,
    pub name: String,
    pub site_ids: Vec<ID>,
}

#[derive(InputObject)]
pub struct UpdateSiteGroupInput {
    pub id: ID,
    pub name: Option<String>,
    pub site_ids: Option<Vec<ID>>,
}

#[derive(SimpleObject)]
pub struct SiteGroupPayload {
    pub site_group: SiteGroupObject,
}

#[derive(Default)]
pub struct SitesQuery;

#[Object]
impl SitesQuery {
    async fn site(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<SiteObject>> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let result = match parse_id(&id, "site") {
            Ok(id) => domain.site(&actor, id).await,
            Err(_) => Err(concierge_domain::DomainError::NotFound("site")),
        };
        Ok(nullable(ctx, result)?.map(SiteObject))
    }

    /// The sites the caller may use in an organization (its own by default).
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn sites(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<SiteConnection> {
        let (domain, actor) = acting_for_room_display(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        let page = domain
            .sites(
                &actor,
                org,
                first,
                decode_cursor(after.as_deref())?,
                total_count_selected(ctx),
            )
            .await
            .gql()?;
        Ok(SiteConnection::from_page(page, after.is_some()))
    }

    async fn site_groups(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
    ) -> async_graphql::Result<Vec<SiteGroupObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        Ok(domain
            .site_groups(&actor, org)
            .await
            .gql()?
            .into_iter()
            .map(SiteGroupObject)
            .collect())
    }
}

#[derive(Default)]
pub struct SitesMutation;

#[Object]
impl SitesMutation {
    async fn create_site(
        &self,
        ctx: &Context<'_>,
        input: CreateSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewSite {
            organization_id: parse_id(&input.organization_id, "organization")?,
            name: input.name,
            time_zone: input.time_zone,
            address: input.address,
        };
        Ok(SitePayload {
            site: SiteObject(domain.create_site(&actor, new).await.gql()?),
        })
    }

    async fn update_site(
        &self,
        ctx: &Context<'_>,
        input: UpdateSiteInput,
    ) -> async_graphql::Result<SitePayload> {
        let (domain, actor) = acting(ctx)?;
        let changes = d::SiteChanges {
            name: input.name,
            time_zone: input.time_zone,
            address: input.address,
        };
        let id = parse_id(&input.id, "site")?;
        Ok(SitePayload {
            site: SiteObject(domain.update_site(&actor, id, changes).await.gql()?),
        })
    }

    async fn create_site_group(
        &self,
        ctx: &Context<'_>,
        input: CreateSiteGroupInput,
    ) -> async_graphql::Result<SiteGroupPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewSiteGroup {
            organization_id: parse_id(&input.organization_id, "organization")?,
            name: input.name,
            site_ids: parse_ids(Some(&input.site_ids), "site")?.unwrap_or_default(),
        };
        Ok(SiteGroupPayload {
            site_group: SiteGroupObject(domain.create_site_group(&actor, new).await.gql()?),
        })
    }

    async fn update_site_group(
        &self,
        ctx: &Context<'_>,
        input: UpdateSiteGroupInput,
    ) -> async_graphql::Result<SiteGroupPayload> {
        let (domain, actor) = acting(ctx)?;
        let changes = d::SiteGroupChanges {
            name: input.name,
            site_ids: parse_ids(input.site_ids.as_deref(), "site")?,
        };
        let id = parse_id(&input.id, "site group")?;
        Ok(SiteGroupPayload {
            site_group: SiteGroupObject(domain.update_site_group(&actor, id, changes).await.gql()?),
        })
    }
}
