use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;

pub struct InvitationObject(pub d::Invitation);

#[Object(name = "Invitation")]
impl InvitationObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn user(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        load_req(ctx, self.0.user_id, "user")
            .await
            .map(UserObject::from)
    }
    async fn email(&self) -> String {
        self.0.email.to_string()
    }
    /// As of now (the domain's clock): PENDING until accepted, revoked or past `expiresAt`.
    async fn status(&self, ctx: &Context<'_>) -> async_graphql::Result<InvitationStatus> {
        let domain = ctx.data::<d::Domain>()?;
        Ok(self.0.status(domain.clock.now()).into())
    }
    async fn expires_at(&self) -> DateTime {
        self.0.expires_at.into()
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        let user: d::User = load_req(
            ctx,
            crate::graphql::loaders::Person(self.0.created_by),
            "user",
        )
        .await?;
        Ok(UserObject::from(user))
    }
}
