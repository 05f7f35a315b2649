use async_graphql::{Context, ID, Object};
use concierge_domain as d;

use super::*;

pub struct AuditEventObject(pub d::AuditEvent);

impl From<d::AuditEvent> for AuditEventObject {
    fn from(value: d::AuditEvent) -> Self {
        Self(value)
    }
}

#[Object(name = "AuditEvent")]
impl AuditEventObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn at(&self) -> DateTime {
        self.0.at.into()
    }
    /// Who did it, when the caller may see them.
    async fn actor(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        match self.0.actor_id {
            Some(actor) => Ok(load_opt(ctx, actor).await?.map(UserObject::from)),
            None => Ok(None),
        }
    }
    async fn organization(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<OrganizationObject>> {
        match self.0.organization_id {
            Some(org) => Ok(load_opt(ctx, org).await?.map(OrganizationObject)),
            None => Ok(None),
        }
    }
    /// `<object>.<verb>`, e.g. `user.created`.
    async fn action(&self) -> &str {
        &self.0.action
    }
    async fn target_type(&self) -> Option<&str> {
        self.0.target_type.as_deref()
    }
    async fn target_id(&self) -> Option<ID> {
        self.0.target_id.clone().map(ID)
    }
    async fn ip(&self) -> Option<&str> {
        self.0.ip.as_deref()
    }
}

connection!(
    AuditEventConnection,
    AuditEventEdge,
    AuditEventObject,
    d::AuditEvent
);
