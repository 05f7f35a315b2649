//! Users: creation with credentials shown once, updates, listing, (de)activation.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::{acting, loader};
use crate::graphql::errors::{GqlResult, nullable, parse_id, parse_ids, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject, Default)]
pub struct UserFilter {
    pub organization_id: Option<ID>,
    /// Case-insensitive substring of first name, last name, e-mail or username.
    pub search: Option<String>,
    pub status: Option<UserStatus>,
    /// Users granted this site, directly or through a site group.
    pub site_id: Option<ID>,
    pub profile_id: Option<ID>,
}

#[derive(InputObject)]
pub struct CreateUserInput {
    pub organization_id: ID,
    pub first_name: String,
    pub last_name: String,
    /// The login; required for profiles that may add users.
    pub email: Option<String>,
    /// The login of people without e-mail (unique, case-insensitive, immutable).
    pub username: Option<String>,
    pub language: Option<Language>,
    /// The organization's default profile when omitted.
    pub profile_id: Option<ID>,
    pub site_ids: Option<Vec<ID>>,
    pub site_group_ids: Option<Vec<ID>>,
    pub default_site_id: Option<ID>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<ID>,
    pub photo_url: Option<String>,
    /// Where the generated credentials are e-mailed; the payload returns them once either way.
    pub send_credentials_to: Option<CredentialsRecipient>,
}

#[derive(SimpleObject)]
pub struct CreateUserPayload {
    pub user: UserObject,
    /// Shown this once, never readable again.
    pub credentials: Credentials,
}

#[derive(InputObject)]
pub struct UpdateUserInput {
    pub id: ID,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    pub language: Option<Language>,
    pub profile_id: Option<ID>,
    pub site_ids: Option<Vec<ID>>,
    pub site_group_ids: Option<Vec<ID>>,
    pub default_site_id: Option<ID>,
    pub external_contact: Option<String>,
    pub price_list_id: Option<ID>,
    pub photo_url: Option<String>,
    /// Present only to be refused: a username never changes (VALIDATION on field username).
    pub username: Option<String>,
}

#[derive(SimpleObject)]
pub struct UserPayload {
    pub user: UserObject,
}

#[derive(InputObject)]
pub struct UserIdInput {
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct ResetUserPasswordInput {
    pub user_id: ID,
    pub method: PasswordResetMethod,
    /// With SET: the new temporary password (a 6-digit PIN will do); generated when omitted.
    pub new_password: Option<String>,
}

#[derive(SimpleObject)]
pub struct ResetUserPasswordPayload {
    pub user: UserObject,
    /// The generated password, shown this once.
    pub temporary_password: Option<String>,
}

#[derive(SimpleObject)]
pub struct BookingCodePayload {
    pub user: UserObject,
    /// The new booking code, shown this once.
    pub booking_code: String,
}

#[derive(Default)]
pub struct UsersQuery;

#[Object]
impl UsersQuery {
    async fn user(&self, ctx: &Context<'_>, id: ID) -> async_graphql::Result<Option<UserObject>> {
        let (domain, actor) = acting(ctx)?;
        let result = match parse_id(&id, "user") {
            Ok(id) => domain.user(&actor, id).await,
            Err(_) => Err(concierge_domain::DomainError::NotFound("user")),
        };
        Ok(nullable(ctx, result)?.map(UserObject::from))
    }

    /// Users of an organization (the caller's by default), oldest first; needs `users` ≥ READ.
    #[graphql(complexity = "crate::graphql::page_complexity(first, child_complexity)")]
    async fn users(
        &self,
        ctx: &Context<'_>,
        filter: Option<UserFilter>,
        first: Option<i32>,
        after: Option<String>,
    ) -> async_graphql::Result<UserConnection> {
        let (domain, actor) = acting(ctx)?;
        let filter = filter.unwrap_or_default();
        let domain_filter = d::UserFilter {
            organization_id: parse_opt_id(filter.organization_id.as_ref(), "organization")?,
            search: filter.search,
            status: filter.status.map(Into::into),
            site_id: parse_opt_id(filter.site_id.as_ref(), "site")?,
            profile_id: parse_opt_id(filter.profile_id.as_ref(), "profile")?,
        };
        // Read only what the selection uses: the total when asked, and the listed users'
        // profiles with the page (fed to the loader, so `profile` reads nothing more).
        let selection = ctx.look_ahead();
        let wanted = d::UserListing {
            total_count: selection.field("totalCount").exists(),
            profiles: selection
                .field("edges")
                .field("node")
                .field("profile")
                .exists(),
        };
        let (page, profiles) = domain
            .users(
                &actor,
                domain_filter,
                first,
                decode_cursor(after.as_deref())?,
                wanted,
            )
            .await
            .gql()?;
        let loader = loader(ctx)?;
        if !profiles.is_empty() {
            loader
                .feed_many(profiles.into_iter().map(|p| (p.id, p)))
                .await;
        }
        // The sites of the whole page in one batch, whatever the pace at which each user's
        // `sites` resolves afterwards (from the loader's cache).
        let node = selection.field("edges").field("node");
        if node.field("sites").exists() {
            let ids = distinct(page.items.iter().flat_map(|u| u.site_ids.iter().copied()));
            loader.load_many(ids).await.gql()?;
        }
        Ok(UserConnection::from_page(page, after.is_some()))
    }
}

#[derive(Default)]
pub struct UsersMutation;

#[Object]
impl UsersMutation {
    async fn create_user(
        &self,
        ctx: &Context<'_>,
        input: CreateUserInput,
    ) -> async_graphql::Result<CreateUserPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewUser {
            organization_id: Some(parse_id(&input.organization_id, "organization")?),
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            username: input.username,
            language: input.language.map(Into::into),
            profile_id: parse_opt_id(input.profile_id.as_ref(), "profile")?,
            site_ids: parse_ids(input.site_ids.as_deref(), "site")?.unwrap_or_default(),
            site_group_ids: parse_ids(input.site_group_ids.as_deref(), "site group")?
                .unwrap_or_default(),
            default_site_id: parse_opt_id(input.default_site_id.as_ref(), "site")?,
            external_contact: input.external_contact,
            price_list_id: parse_opt_id(input.price_list_id.as_ref(), "price list")?,
            photo_url: input.photo_url,
            send_credentials_to: input
                .send_credentials_to
                .map(Into::into)
                .unwrap_or_default(),
        };
        let created = domain.create_user(&actor, new).await.gql()?;
        Ok(CreateUserPayload {
            user: UserObject::from(created.user),
            credentials: created.credentials.into(),
        })
    }

    async fn update_user(
        &self,
        ctx: &Context<'_>,
        input: UpdateUserInput,
    ) -> async_graphql::Result<UserPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.id, "user")?;
        let changes = d::UserChanges {
            first_name: input.first_name,
            last_name: input.last_name,
            email: input.email,
            username: input.username,
            language: input.language.map(Into::into),
            profile_id: parse_opt_id(input.profile_id.as_ref(), "profile")?,
            site_ids: parse_ids(input.site_ids.as_deref(), "site")?,
            site_group_ids: parse_ids(input.site_group_ids.as_deref(), "site group")?,
            default_site_id: parse_opt_id(input.default_site_id.as_ref(), "site")?,
            external_contact: input.external_contact,
            price_list_id: parse_opt_id(input.price_list_id.as_ref(), "price list")?,
            photo_url: input.photo_url,
        };
        Ok(UserPayload {
            user: UserObject::from(domain.update_user(&actor, id, changes).await.gql()?),
        })
    }

    /// The user can no longer sign in; every session ends at once.
    async fn deactivate_user(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> async_graphql::Result<UserPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        Ok(UserPayload {
            user: UserObject::from(domain.deactivate_user(&actor, id).await.gql()?),
        })
    }

    async fn reactivate_user(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> async_graphql::Result<UserPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        Ok(UserPayload {
            user: UserObject::from(domain.reactivate_user(&actor, id).await.gql()?),
        })
    }

    /// Sets a new password (returned once when generated) that must change at next sign-in.
    async fn reset_user_password(
        &self,
        ctx: &Context<'_>,
        input: ResetUserPasswordInput,
    ) -> async_graphql::Result<ResetUserPasswordPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        let reset = domain
            .reset_user_password(
                &actor,
                id,
                input.method.into(),
                input.new_password.as_deref(),
            )
            .await
            .gql()?;
        Ok(ResetUserPasswordPayload {
            user: UserObject::from(reset.user),
            temporary_password: reset.temporary_password,
        })
    }

    /// A new booking code, shown once; the old one stops working at once.
    async fn reset_booking_code(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> async_graphql::Result<BookingCodePayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        let (user, booking_code) = domain.reset_booking_code(&actor, id).await.gql()?;
        Ok(BookingCodePayload {
            user: UserObject::from(user),
            booking_code,
        })
    }
}
