//! Collaborator invitations (with approval) and password reset by e-mailed link.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::areas::auth::{AuthPayload, OkPayload, signed_in};
use crate::graphql::areas::users::{UserIdInput, UserPayload};
use crate::graphql::context::{acting, client_ip, domain};
use crate::graphql::errors::{GqlResult, parse_id, parse_ids, parse_opt_id};
use crate::graphql::types::*;

#[derive(InputObject)]
pub struct InviteCollaboratorInput {
    pub organization_id: ID,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub language: Option<Language>,
    pub profile_id: Option<ID>,
    pub site_ids: Option<Vec<ID>>,
    /// A group grants its sites, including those added to it later.
    pub site_group_ids: Option<Vec<ID>>,
}

#[derive(SimpleObject)]
pub struct InvitationPayload {
    pub user: UserObject,
    /// None while the person awaits an administrator's approval.
    pub invitation: Option<InvitationObject>,
}

impl From<d::Invited> for InvitationPayload {
    fn from(invited: d::Invited) -> Self {
        InvitationPayload {
            user: UserObject::from(invited.user),
            invitation: invited.invitation.map(InvitationObject),
        }
    }
}

#[derive(InputObject)]
pub struct InvitationIdInput {
    pub invitation_id: ID,
}

#[derive(InputObject)]
pub struct AcceptInvitationInput {
    pub token: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct RequestPasswordResetInput {
    pub login: String,
}

#[derive(InputObject)]
pub struct ResetPasswordInput {
    pub token: String,
    pub new_password: String,
}

#[derive(Default)]
pub struct InvitationsQuery;

#[Object]
impl InvitationsQuery {
    /// An organization's invitations (its own by default), optionally in one status.
    async fn invitations(
        &self,
        ctx: &Context<'_>,
        organization_id: Option<ID>,
        status: Option<InvitationStatus>,
    ) -> async_graphql::Result<Vec<InvitationObject>> {
        let (domain, actor) = acting(ctx)?;
        let org = parse_opt_id(organization_id.as_ref(), "organization")?;
        let found = domain
            .invitations(&actor, org, status.map(Into::into))
            .await
            .gql()?;
        Ok(found.into_iter().map(InvitationObject).collect())
    }
}

#[derive(Default)]
pub struct InvitationsMutation;

#[Object]
impl InvitationsMutation {
    /// Invites a collaborator: e-mailed at once with `users: MANAGE`; pending an administrator's
    /// approval with `users: INVITE_WITH_APPROVAL`.
    async fn invite_collaborator(
        &self,
        ctx: &Context<'_>,
        input: InviteCollaboratorInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let (domain, actor) = acting(ctx)?;
        let new = d::NewInvitation {
            organization_id: Some(parse_id(&input.organization_id, "organization")?),
            email: input.email,
            first_name: input.first_name,
            last_name: input.last_name,
            language: input.language.map(Into::into),
            profile_id: parse_opt_id(input.profile_id.as_ref(), "profile")?,
            site_ids: parse_ids(input.site_ids.as_deref(), "site")?.unwrap_or_default(),
            site_group_ids: parse_ids(input.site_group_ids.as_deref(), "site group")?
                .unwrap_or_default(),
        };
        Ok(domain.invite_collaborator(&actor, new).await.gql()?.into())
    }

    /// Approves a pending collaborator; the invitation e-mail leaves now.
    async fn approve_collaborator(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        Ok(domain.approve_collaborator(&actor, id).await.gql()?.into())
    }

    async fn reject_collaborator(
        &self,
        ctx: &Context<'_>,
        input: UserIdInput,
    ) -> async_graphql::Result<UserPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.user_id, "user")?;
        Ok(UserPayload {
            user: UserObject::from(domain.reject_collaborator(&actor, id).await.gql()?),
        })
    }

    /// Sends a new link; the previous one stops working.
    async fn resend_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.invitation_id, "invitation")?;
        Ok(domain.resend_invitation(&actor, id).await.gql()?.into())
    }

    async fn revoke_invitation(
        &self,
        ctx: &Context<'_>,
        input: InvitationIdInput,
    ) -> async_graphql::Result<InvitationPayload> {
        let (domain, actor) = acting(ctx)?;
        let id = parse_id(&input.invitation_id, "invitation")?;
        Ok(domain.revoke_invitation(&actor, id).await.gql()?.into())
    }

    /// Sets the password of an invited person and signs them in.
    async fn accept_invitation(
        &self,
        ctx: &Context<'_>,
        input: AcceptInvitationInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = client_ip(ctx);
        let session = domain(ctx)?
            .accept_invitation(&input.token, &input.password, ip.as_deref())
            .await
            .gql()?;
        signed_in(ctx, session).await
    }

    /// Always answers ok: true, whether or not the login exists.
    async fn request_password_reset(
        &self,
        ctx: &Context<'_>,
        input: RequestPasswordResetInput,
    ) -> async_graphql::Result<OkPayload> {
        let ip = client_ip(ctx);
        domain(ctx)?
            .request_password_reset(&input.login, ip.as_deref())
            .await
            .gql()?;
        Ok(OkPayload { ok: true })
    }

    async fn reset_password(
        &self,
        ctx: &Context<'_>,
        input: ResetPasswordInput,
    ) -> async_graphql::Result<OkPayload> {
        let ip = client_ip(ctx);
        domain(ctx)?
            .reset_password(&input.token, &input.new_password, ip.as_deref())
            .await
            .gql()?;
        Ok(OkPayload { ok: true })
    }
}
