//! Profiles (roles).

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::acting;
use crate::graphql::errors::{GqlResult, parse_id, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct CreateProfileInput {
    pub organization_id: ID,
    pub name: String,
    pub permissions: PermissionsInput,
}

#[derive(InputObject)]
pub struct UpdateProfileInput {
    pub id: ID,
    pub name: Option<String>,
    pub permissions: Option<PermissionsInput>,
}

#[derive(InputObject)]
pub struct DeleteProfileInput {
    pub id: ID,
}

#[derive(InputObject)]
pub struct SetDefaultProfileInput {
    pub organization_id: ID,
    pub profile_id: ID,
}

#[derive(SimpleObject)]
pub struct ProfilePayload {
    pub profile: ProfileObject,
}

#[derive(SimpleObject)]
pub struct DeletePayload {
    pub deleted_id: ID,
}

#[derive(Default)]
pub struct ProfilesQuery;

#[Object]
impl ProfilesQuery {
    /// An organization's profiles (its own by default), the built-in Enterprise profile first.
    async fn profiles(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
    ) -> async_graphql::Result<Vec<ProfileObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        Ok(domain
            .profiles(&actor, org)
            .await
            .gql()?
            .into_iter()
            .map(ProfileObject)
            .collect())
    }
}

#[derive(Default)]
pub struct ProfilesMutation;

#[Object]
impl ProfilesMutation {
    async fn create_profile(
        &self,
        ctx: &Context<'_>,
        input: CreateProfileInput,
    ) -> async_graphql::Result<ProfilePayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewProfile {
            organization_id: parse_id(&input.organization_id, "organization")?,
            name: input.name,
            permissions: input.permissions.into_domain().gql()?,
        };
        Ok(ProfilePayload {
            profile: ProfileObject(domain.create_profile(&actor, new).await.gql()?),
        })
    }

    async fn update_profile(
        &self,
        ctx: &Context<'_>,
        input: UpdateProfileInput,
    ) -> async_graphql::Result<ProfilePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "profile")?;
        let changes = d::ProfileChanges {
            name: input.name,
            permissions: input
                .permissions
                .map(PermissionsInput::into_domain)
                .transpose()
                .gql()?,
        };
        Ok(ProfilePayload {
            profile: ProfileObject(domain.update_profile(&actor, id, changes).await.gql()?),
        })
    }

    async fn delete_profile(
        &self,
        ctx: &Context<'_>,
        input: DeleteProfileInput,
    ) -> async_graphql::Result<DeletePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "profile")?;
        let deleted = domain.delete_profile(&actor, id).await.gql()?;
        Ok(DeletePayload {
            deleted_id: id_of(deleted),
        })
    }

    async fn set_default_profile(
        &self,
        ctx: &Context<'_>,
        input: SetDefaultProfileInput,
    ) -> async_graphql::Result<super::organizations::OrganizationPayload> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_id(&input.organization_id, "organization")?;
        let profile = parse_id(&input.profile_id, "profile")?;
        let organization = domain
            .set_default_profile(&actor, org, profile)
            .await
            .gql()?;
        Ok(super::organizations::OrganizationPayload {
            organization: OrganizationObject(organization),
        })
    }
}

fn id_of(value: impl std::fmt::Display) -> ID {
    crate::graphql::types::id(value)
}
