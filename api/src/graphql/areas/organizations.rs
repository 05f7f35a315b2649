//! Organizations: partners and their client companies.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, nullable, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject, Default)]
pub struct OrganizationFilter {
    pub parent_id: Option<ID>,
    pub kind: Option<OrganizationKind>,
    /// Case-insensitive substring of the name.
    pub search: Option<String>,
}

#[derive(InputObject)]
pub struct NewAdministratorInput {
    pub first_name: String,
    pub last_name: String,
    pub email: String,
    pub language: Option<Language>,
}

/// Creates a partner (by the platform) or a client company (by a partner) and its first administrator.
#[derive(InputObject)]
pub struct CreateOrganizationInput {
    pub kind: OrganizationKind,
    pub name: String,
    pub parent_id: Option<ID>,
    /// Where credentials go; defaults to the parent organization's admin e-mail.
    pub admin_email: Option<String>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<ID>,
    pub default_language: Option<Language>,
    pub time_zone: Option<String>,
    pub administrator: NewAdministratorInput,
    pub send_credentials_to: Option<CredentialsRecipient>,
}

#[derive(SimpleObject)]
pub struct CreateOrganizationPayload {
    pub organization: OrganizationObject,
    pub administrator: UserObject,
    /// The administrator's credentials: shown this once, never readable again.
    pub credentials: Credentials,
}

#[derive(InputObject)]
pub struct UpdateOrganizationInput {
    pub id: ID,
    pub name: Option<String>,
    pub admin_email: Option<String>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<ID>,
    pub default_language: Option<Language>,
    pub time_zone: Option<String>,
}

#[derive(SimpleObject)]
pub struct OrganizationPayload {
    pub organization: OrganizationObject,
}

#[derive(Default)]
pub struct OrganizationsQuery;

#[Object]
impl OrganizationsQuery {
    async fn organization(
        &self,
        ctx: &Context<'_>,
        id: ID,
    ) -> async_graphql::Result<Option<OrganizationObject>> {
        let (domain, actor) = acting(ctx)?;
        let result = match parse_id(&id, "organization") {
            Ok(id) => domain.organization(&actor, id).await,
            Err(_) => Err(concierge_domain::DomainError::NotFound("organization")),
        };
        Ok(nullable(ctx, result)?.map(OrganizationObject))
    }

    /// The caller's organization and, with `clients` ≥ READ, those it acts for.
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn organizations(
        &self,
        ctx: &Context<'_>,
        filter: Option<OrganizationFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<OrganizationConnection> {
        let (domain, actor) = acting(ctx)?;
        let filter = filter.unwrap_or_default();
        let domain_filter = d::OrganizationFilter {
            parent_id: parse_opt_id(filter.parent_id.as_ref(), "organization")?,
            kind: filter.kind.map(Into::into),
            search: filter.search,
        };
        let cursor = decode_cursor(after.as_deref())?;
        let page = domain
            .organizations(
                &actor,
                domain_filter,
                first,
                cursor,
                total_count_selected(ctx),
            )
            .await
            .gql()?;
        Ok(OrganizationConnection::from_page(page, after.is_some()))
    }
}

#[derive(Default)]
pub struct OrganizationsMutation;

#[Object]
impl OrganizationsMutation {
    async fn create_organization(
        &self,
        ctx: &Context<'_>,
        input: CreateOrganizationInput,
    ) -> async_graphql::Result<CreateOrganizationPayload> {
        let (domain, actor) = acting(ctx)?;
        let admin = input.administrator;
        let new = d::NewOrganization {
            kind: input.kind.into(),
            name: input.name,
            parent_id: parse_opt_id(input.parent_id.as_ref(), "organization")?,
            admin_email: input.admin_email,
            external_contact: input.external_contact,
            price_list_id: parse_opt_id(input.price_list_id.as_ref(), "price list")?,
            default_language: input.default_language.map(Into::into),
            time_zone: input.time_zone,
            administrator: d::NewAdministrator {
                first_name: admin.first_name,
                last_name: admin.last_name,
                email: admin.email,
                language: admin.language.map(Into::into),
            },
            send_credentials_to: input.send_credentials_to.map(Into::into),
        };
        let created = domain.create_organization(&actor, new).await.gql()?;
        Ok(CreateOrganizationPayload {
            organization: OrganizationObject(created.organization),
            administrator: UserObject::from(created.administrator),
            credentials: created.credentials.into(),
        })
    }

    async fn update_organization(
        &self,
        ctx: &Context<'_>,
        input: UpdateOrganizationInput,
    ) -> async_graphql::Result<OrganizationPayload> {
        let (domain, actor) = acting(ctx)?;
        let changes = d::OrganizationChanges {
            name: input.name,
            admin_email: input.admin_email,
            external_contact: input.external_contact,
            price_list_id: parse_opt_id(input.price_list_id.as_ref(), "price list")?,
            default_language: input.default_language.map(Into::into),
            time_zone: input.time_zone,
        };
        let id = parse_id(&input.id, "organization")?;
        let organization = domain
            .update_organization(&actor, id, changes)
            .await
            .gql()?;
        Ok(OrganizationPayload {
            organization: OrganizationObject(organization),
        })
    }
}
