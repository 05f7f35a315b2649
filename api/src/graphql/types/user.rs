use async_graphql::{Context, ID, Object, SimpleObject};
use concierge_domain as d;

use super::*;

/// A user as the domain lets the caller see them (someone met only through a booking comes
/// as their limited view, `User::limited_view`).
pub struct UserObject {
    pub user: d::User,
}

impl From<d::User> for UserObject {
    fn from(user: d::User) -> Self {
        UserObject { user }
    }
}

#[Object(name = "User")]
impl UserObject {
    async fn id(&self) -> ID {
        id(self.user.id)
    }
    async fn organization(&self, ctx: &Context<'_>) -> async_graphql::Result<OrganizationObject> {
        load_req(ctx, self.user.organization_id, "organization")
            .await
            .map(OrganizationObject)
    }
    async fn first_name(&self) -> &str {
        self.user.first_name.as_str()
    }
    async fn last_name(&self) -> &str {
        self.user.last_name.as_str()
    }
    /// Public to the people who share a site with the user.
    async fn display_name(&self) -> String {
        self.user.display_name()
    }
    async fn email(&self) -> Option<String> {
        self.user.email.as_ref().map(|e| e.to_string())
    }
    /// Login of people without e-mail; never changes.
    async fn username(&self) -> Option<String> {
        self.user.username.as_ref().map(|u| u.to_string())
    }
    /// What the person types to sign in: the e-mail, else the username (empty in the limited
    /// view of someone met only through a booking).
    async fn login(&self) -> String {
        self.user.login()
    }
    async fn language(&self) -> Language {
        self.user.language.into()
    }
    async fn status(&self) -> UserStatus {
        self.user.status.into()
    }
    async fn profile(&self, ctx: &Context<'_>) -> async_graphql::Result<ProfileObject> {
        load_req(ctx, self.user.profile_id, "profile")
            .await
            .map(ProfileObject)
    }
    /// Sites granted directly.
    async fn sites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteObject>> {
        Ok(load_many(ctx, &self.user.site_ids)
            .await?
            .into_iter()
            .map(SiteObject)
            .collect())
    }
    async fn site_groups(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteGroupObject>> {
        Ok(load_many(ctx, &self.user.site_group_ids)
            .await?
            .into_iter()
            .map(SiteGroupObject)
            .collect())
    }
    /// Sites granted directly or through site groups, computed at read time.
    async fn effective_sites(&self, ctx: &Context<'_>) -> async_graphql::Result<Vec<SiteObject>> {
        let groups: Vec<d::SiteGroup> = load_many(ctx, &self.user.site_group_ids).await?;
        let ids: Vec<d::SiteId> = d::effective_sites(&self.user, &groups)
            .into_iter()
            .collect();
        Ok(load_many(ctx, &ids)
            .await?
            .into_iter()
            .map(SiteObject)
            .collect())
    }
    async fn default_site(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<SiteObject>> {
        match self.user.default_site_id {
            Some(site) => Ok(load_opt(ctx, site).await?.map(SiteObject)),
            None => Ok(None),
        }
    }
    /// A free display label (seed 004's "external contact").
    async fn external_contact(&self) -> Option<&str> {
        self.user.external_contact.as_deref()
    }
    async fn price_list(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<Option<PriceListObject>> {
        match self.user.price_list_id {
            Some(list) => Ok(load_opt(ctx, list).await?.map(PriceListObject)),
            None => Ok(None),
        }
    }
    async fn photo_url(&self) -> Option<&str> {
        self.user.photo_url.as_deref()
    }
    async fn must_change_password(&self) -> bool {
        self.user.must_change_password
    }
    /// Whether the user has a booking code (the code itself is never readable).
    async fn has_booking_code(&self) -> bool {
        self.user.booking_code_hash.is_some()
    }
    async fn created_by(&self, ctx: &Context<'_>) -> async_graphql::Result<Option<UserObject>> {
        match self.user.created_by {
            Some(creator) => Ok(load_opt(ctx, creator).await?.map(UserObject::from)),
            None => Ok(None),
        }
    }
    async fn created_at(&self) -> DateTime {
        self.user.created_at.into()
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
