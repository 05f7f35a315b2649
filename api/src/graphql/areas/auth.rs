//! Sign-in and sessions.

use async_graphql::{Context, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::context::{adopt_session, client_ip, domain, optional_self_actor, self_actor};
use crate::graphql::errors::GqlResult;
use crate::graphql::types::{DateTime, UserObject};

#[derive(SimpleObject)]
pub struct AuthPayload {
    /// Short-lived JWT for `Authorization: Bearer`.
    pub access_token: String,
    /// Opaque, single use: exchange it with `refreshSession` for a new pair.
    pub refresh_token: String,
    pub expires_at: DateTime,
    pub user: UserObject,
    /// When true, the user must call `changePassword` before anything else.
    pub must_change_password: bool,
    /// When true, the organization requires a second factor of this user and they have none:
    /// these tokens only serve `startTotpEnrollment`, `confirmTotpEnrollment`, `me` and `logout`.
    pub must_enroll_second_factor: bool,
}

impl From<d::AuthSession> for AuthPayload {
    fn from(s: d::AuthSession) -> Self {
        AuthPayload {
            access_token: s.access_token,
            refresh_token: s.refresh_token,
            expires_at: s.expires_at.into(),
            must_change_password: s.user.must_change_password,
            must_enroll_second_factor: false,
            user: UserObject::from(s.user),
        }
    }
}

#[derive(SimpleObject)]
pub struct OkPayload {
    pub ok: bool,
}

#[derive(InputObject)]
pub struct LoginInput {
    /// E-mail, or username for people without one.
    pub login: String,
    pub password: String,
}

#[derive(InputObject)]
pub struct LoginWithBookingCodeInput {
    pub organization_id: ID,
    /// The person's personal booking code.
    pub code: String,
}

#[derive(InputObject)]
pub struct RefreshSessionInput {
    pub refresh_token: String,
}

#[derive(InputObject)]
pub struct LogoutInput {
    /// The session to end; the current one when omitted.
    pub refresh_token: Option<String>,
}

#[derive(InputObject)]
pub struct ChangePasswordInput {
    pub current_password: String,
    pub new_password: String,
}

/// The payload of a new session; its relations resolve as the signed-in user.
pub(crate) async fn signed_in(
    ctx: &Context<'_>,
    session: d::AuthSession,
) -> async_graphql::Result<AuthPayload> {
    adopt_session(ctx, &session).await?;
    let must_enroll = domain(ctx)?
        .second_factor_enrollment_required(&session.user)
        .await
        .gql()?;
    let mut payload = AuthPayload::from(session);
    payload.must_enroll_second_factor = must_enroll;
    Ok(payload)
}

#[derive(Default)]
pub struct AuthQuery;

#[Object]
impl AuthQuery {
    /// The signed-in user.
    async fn me(&self, ctx: &Context<'_>) -> async_graphql::Result<UserObject> {
        Ok(UserObject::from(self_actor(ctx)?.user.clone()))
    }
}

#[derive(Default)]
pub struct AuthMutation;

#[Object]
impl AuthMutation {
    /// Signs in with e-mail or username and password. Unknown login, wrong password and an
    /// account that may not sign in all answer the same UNAUTHENTICATED error. A person with a
    /// second factor gets UNAUTHENTICATED on field `secondFactor`, its extensions carrying
    /// `secondFactorChallenge` and `challengeExpiresAt` for `verifySecondFactor` (`signIn`
    /// answers the same in its payload).
    async fn login(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = client_ip(ctx);
        let answer = domain(ctx)?
            .login(&input.login, &input.password, ip.as_deref())
            .await
            .gql()?;
        match answer {
            d::SignIn::Session(session) => signed_in(ctx, *session).await,
            d::SignIn::Challenge(challenge) => Err(
                crate::graphql::areas::second_factor::challenge_error(challenge),
            ),
        }
    }

    /// Signs in to the apps with a personal booking code (throttled per client address).
    async fn login_with_booking_code(
        &self,
        ctx: &Context<'_>,
        input: LoginWithBookingCodeInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = client_ip(ctx);
        let Ok(organization) = input.organization_id.as_str().parse() else {
            return Err(crate::graphql::errors::to_graphql(
                d::DomainError::Unauthenticated(d::INVALID_CREDENTIALS.into()),
            ));
        };
        let session = domain(ctx)?
            .login_with_booking_code(organization, &input.code, ip.as_deref())
            .await
            .gql()?;
        signed_in(ctx, session).await
    }

    /// Exchanges a refresh token for a new pair. A spent token revokes its whole session.
    async fn refresh_session(
        &self,
        ctx: &Context<'_>,
        input: RefreshSessionInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = client_ip(ctx);
        let session = domain(ctx)?
            .refresh_session(&input.refresh_token, ip.as_deref())
            .await
            .gql()?;
        signed_in(ctx, session).await
    }

    /// Ends a session.
    async fn logout(
        &self,
        ctx: &Context<'_>,
        input: LogoutInput,
    ) -> async_graphql::Result<OkPayload> {
        domain(ctx)?
            .logout(
                optional_self_actor(ctx).as_deref(),
                input.refresh_token.as_deref(),
            )
            .await
            .gql()?;
        Ok(OkPayload { ok: true })
    }

    /// Changes the caller's password; every other session ends.
    async fn change_password(
        &self,
        ctx: &Context<'_>,
        input: ChangePasswordInput,
    ) -> async_graphql::Result<AuthPayload> {
        let (domain, actor) = (domain(ctx)?, self_actor(ctx)?);
        let session = domain
            .change_password(&actor, &input.current_password, &input.new_password)
            .await
            .gql()?;
        signed_in(ctx, session).await
    }
}
