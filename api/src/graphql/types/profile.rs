use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;

pub struct ProfileObject(pub d::Profile);

#[Object(name = "Profile")]
impl ProfileObject {
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
    /// The Enterprise profile: grants everything the organization may hold; cannot change.
    async fn built_in(&self) -> bool {
        self.0.built_in
    }
    /// Whether new users get this profile when none is chosen.
    async fn is_default(&self, ctx: &Context<'_>) -> async_graphql::Result<bool> {
        let org: Option<d::Organization> = load_opt(ctx, self.0.organization_id).await?;
        Ok(org.is_some_and(|o| o.default_profile_id == self.0.id))
    }
    /// Shown with `profiles: READ`, or for one's own profile; FORBIDDEN otherwise.
    async fn permissions(&self, ctx: &Context<'_>) -> async_graphql::Result<PermissionsObject> {
        let domain = crate::graphql::context::domain(ctx)?;
        let actor = crate::graphql::context::reader(ctx)?;
        domain
            .profile_permissions(&actor, &self.0)
            .map(PermissionsObject::from)
            .map_err(crate::graphql::errors::to_graphql)
    }
}
