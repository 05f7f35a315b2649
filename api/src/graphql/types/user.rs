use std::collections::BTreeSet;

use async_graphql::{Context, ID, Object, SimpleObject};
use concierge_domain as d;

use super::*;

pub struct UserObject(pub d::User);

impl From<d::User> for UserObject {
    fn from(value: d::User) -> Self {
        Self(value)
    }
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        id(self.0.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.0.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    async fn first_name(&self) -> &str {
        self.0.first_name.as_str()
    }
    async fn last_name(&self) -> &str {
        self.0.last_name.as_str()
    }
    /// Public to the people who share a site with the user.
    async fn display_name(&self) -> String {
        self.0.display_name()
    }
    async fn email(&self) -> Option<String> {
        self.0.email.as_ref().map(|e| e.to_string())
    }
    /// Login of people without e-mail; never changes.
    async fn username(&self) -> Option<String> {
        self.0.username.as_ref().map(|u| u.to_string())
    }
    /// What the person types to sign in: the e-mail, else the username.
    async fn login(&self) -> String {
        self.0.login()
    }
    async fn language(&self) -> Language {
        self.0.language.into()
    }
    async fn status(&self) -> UserStatus {
        self.0.status.into()
    }
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<ProfileObject> {
        load_req(ctx, self.0.profile_id, "profile")
            .await
            .map(ProfileObject)
    }
    /// Sites granted directly.
    async fn sites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteObject>> {
        Ok(load_many(ctx, &self.0.site_ids)
            .await?
            .into_iter()
            .map(SiteObject)
            .collect())
    }
    async fn site_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteGroupObject>> {
        Ok(load_many(ctx, &self.0.site_group_ids)
            .await?
            .into_iter()
            .map(SiteGroupObject)
            .collect())
    }
    /// Sites granted directly or through site groups, computed at read time.
    async fn effective_sites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteObject>> {
        let groups: Vec<d::SiteGroup> = load_many(ctx, &self.0.site_group_ids).await?;
        let mut ids: BTreeSet<d::SiteId> = self.0.site_ids.iter().copied().collect();
        for group in groups
            .iter()
            .filter(|g| g.organization_id == self.0.organization_id)
        {
            ids.extend(group.site_ids.iter().copied());
        }
        let ids: Vec<d::SiteId> = ids.into_iter().collect();
        Ok(load_many(ctx, &ids)
            .await?
            .into_iter()
            .map(SiteObject)
            .collect())
    }
    async fn default_site(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SiteObject>> {
        match self.0.default_site_id {
            Some(site) => Ok(load_opt(ctx, site).await?.map(SiteObject)),
            None => Ok(None),
        }
    }
    /// A free display label (seed 004's "external contact").
    async fn external_contact(&self) -> Option<&str> {
        self.0.external_contact.as_deref()
    }
    async fn price_list(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PriceListObject>> {
        match self.0.price_list_id {
            Some(list) => Ok(load_opt(ctx, list).await?.map(PriceListObject)),
            None => Ok(None),
        }
    }
    async fn photo_url(&self) -> Option<&str> {
        self.0.photo_url.as_deref()
    }
    async fn must_change_password(&self) -> bool {
        self.0.must_change_password
    }
    /// Whether the user has a booking code (the code itself is never readable).
    async fn has_booking_code(&self) -> bool {
        self.0.booking_code_hash.is_some()
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        match self.0.created_by {
            Some(creator) => Ok(load_opt(ctx, creator).await?.map(UserObject)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime {
        self.0.created_at.into()
    }
}

connection!(UserConnection, UserEdge, UserObject, d::User);

/// Generated credentials, returned once by the mutation that creates them.
#[derive(SimpleObject)]
pub struct Credentials {
    pub login: String,
    pub temporary_password: Option<String>,
    pub booking_code: Option<String>,
}

impl From<d::IssuedCredentials> for Credentials {
    fn from(c: d::IssuedCredentials) -> Self {
        Credentials {
            login: c.login,
            temporary_password: c.temporary_password,
            booking_code: c.booking_code,
        }
    }
}
