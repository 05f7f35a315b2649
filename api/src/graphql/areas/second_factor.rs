//! A second factor (TOTP): enrolment, the sign-in challenge, an organization's rule, an
//! administrator's reset. The rules are the domain's (`concierge_domain::ops::second_factor`).

use async_graphql::{Context, ErrorExtensions, ID, InputObject, Object, SimpleObject};
use concierge_domain as d;

use crate::graphql::areas::auth::{AuthPayload, LoginInput, OkPayload, signed_in};
use crate::graphql::context::{actor, client_ip, domain, enrollment_actor};
use crate::graphql::errors::{GqlResult, parse_id, to_graphql};
use crate::graphql::types::DateTime;

/// A sign-in waiting for its second factor.
#[derive(SimpleObject)]
pub struct SecondFactorChallenge {
    /// Opaque and single use: answer it with `verifySecondFactor`.
    pub challenge: String,
    pub expires_at: DateTime,
}

impl From<d::SecondFactorChallenge> for SecondFactorChallenge {
    fn from(c: d::SecondFactorChallenge) -> Self {
        SecondFactorChallenge {
            challenge: c.token,
            expires_at: c.expires_at.into(),
        }
    }
}

/// What `login` answers a person with a second factor: UNAUTHENTICATED on field
/// `secondFactor`, with the challenge in the error's extensions (the contract's `AuthPayload`
/// cannot hold a session that does not exist yet).
pub(crate) fn challenge_error(challenge: d::SecondFactorChallenge) -> async_graphql::Error {
    async_graphql::Error::new(
        "a second factor is required: answer the challenge with verifySecondFactor",
    )
    .extend_with(|_, ext| {
        ext.set("code", d::ErrorCode::Unauthenticated.as_str());
        ext.set("field", "secondFactor");
        ext.set("secondFactorChallenge", challenge.token.as_str());
        ext.set("challengeExpiresAt", challenge.expires_at.to_rfc3339());
    })
}

/// The answer of `signIn`: a session, or a challenge to answer with `verifySecondFactor`.
#[derive(SimpleObject)]
pub struct SignInPayload {
    pub session: Option<AuthPayload>,
    pub second_factor_challenge: Option<SecondFactorChallenge>,
}

#[derive(InputObject)]
pub struct VerifySecondFactorInput {
    /// The challenge `login` or `signIn` answered.
    pub challenge: String,
    /// A 6-digit code of the authenticator app, or an unused recovery code.
    pub code: String,
}

/// A session, or the challenge of a person with a second factor, as `signIn` answers them.
pub(crate) async fn sign_in_payload(
    ctx: &Context<'_>,
    answer: d::SignIn,
) -> async_graphql::Result<SignInPayload> {
    Ok(match answer {
        d::SignIn::Session(session) => SignInPayload {
            session: Some(signed_in(ctx, *session).await?),
            second_factor_challenge: None,
        },
        d::SignIn::Challenge(challenge) => SignInPayload {
            session: None,
            second_factor_challenge: Some(challenge.into()),
        },
    })
}

/// The key of a new enrolment, shown once.
#[derive(SimpleObject)]
pub struct TotpEnrollmentPayload {
    /// The key in base32, to type into an authenticator app.
    pub secret: String,
    /// `otpauth://totp/...`, what the QR code holds.
    pub otpauth_uri: String,
    /// The URI as an SVG QR code.
    pub qr_code_svg: String,
}

#[derive(InputObject)]
pub struct ConfirmTotpEnrollmentInput {
    pub code: String,
}

/// Recovery codes, shown once: each signs in once in place of a code.
#[derive(SimpleObject)]
pub struct RecoveryCodesPayload {
    pub recovery_codes: Vec<String>,
}

#[derive(InputObject)]
pub struct RegenerateRecoveryCodesInput {
    /// A current code of the authenticator app (not a recovery code).
    pub code: String,
}

#[derive(InputObject)]
pub struct ResetSecondFactorInput {
    pub user_id: ID,
}

#[derive(InputObject)]
pub struct SetSecondFactorRequiredInput {
    pub organization_id: ID,
    /// Whether everyone with `users` or `clients` at MANAGE must sign in with a second factor.
    pub required: bool,
}

#[derive(SimpleObject)]
pub struct SecondFactorPolicyPayload {
    pub organization_id: ID,
    pub required: bool,
}

/// The caller's own second factor.
#[derive(SimpleObject)]
pub struct SecondFactorStatus {
    pub enabled: bool,
    pub recovery_codes_left: i32,
    /// Their organization requires one of them.
    pub required: bool,
}

fn qr_svg(uri: &str) -> async_graphql::Result<String> {
    let code = qrcode::QrCode::new(uri.as_bytes())
        .map_err(|e| to_graphql(d::DomainError::internal(format!("qr code: {e}"))))?;
    Ok(code
        .render::<qrcode::render::svg::Color<'_>>()
        .min_dimensions(200, 200)
        .build())
}

#[derive(Default)]
pub struct SecondFactorQuery;

#[Object]
impl SecondFactorQuery {
    /// The caller's second factor (open during a required enrolment).
    async fn second_factor_status(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<SecondFactorStatus> {
        let status = domain(ctx)?
            .second_factor_status(&*enrollment_actor(ctx)?)
            .await
            .gql()?;
        Ok(SecondFactorStatus {
            enabled: status.enabled,
            recovery_codes_left: i32::try_from(status.recovery_codes_left).unwrap_or(i32::MAX),
            required: status.required,
        })
    }

    /// Whether an organization requires a second factor of those who manage users or clients.
    async fn second_factor_required(
        &self,
        ctx: &Context<'_>,
        organization_id: ID,
    ) -> async_graphql::Result<bool> {
        let organization = parse_id(&organization_id, "organization")?;
        domain(ctx)?
            .second_factor_required(&*actor(ctx)?, organization)
            .await
            .gql()
    }
}

#[derive(Default)]
pub struct SecondFactorMutation;

#[Object]
impl SecondFactorMutation {
    /// `login`, answering a person with a second factor in the payload rather than as an
    /// error: either `session` or `secondFactorChallenge` is set.
    async fn sign_in(
        &self,
        ctx: &Context<'_>,
        input: LoginInput,
    ) -> async_graphql::Result<SignInPayload> {
        let ip = client_ip(ctx);
        let answer = domain(ctx)?
            .login(&input.login, &input.password, ip.as_deref())
            .await
            .gql()?;
        sign_in_payload(ctx, answer).await
    }

    /// Finishes a sign-in with a code of the authenticator app or a recovery code. A wrong
    /// code is VALIDATION on `code` (throttled like a password); a used, expired or unknown
    /// challenge is UNAUTHENTICATED.
    async fn verify_second_factor(
        &self,
        ctx: &Context<'_>,
        input: VerifySecondFactorInput,
    ) -> async_graphql::Result<AuthPayload> {
        let ip = client_ip(ctx);
        let session = domain(ctx)?
            .verify_second_factor(&input.challenge, &input.code, ip.as_deref())
            .await
            .gql()?;
        signed_in(ctx, session).await
    }

    /// Starts enrolling an authenticator app: the key is shown this once. CONFLICT on
    /// `secondFactor` when one is active already.
    async fn start_totp_enrollment(
        &self,
        ctx: &Context<'_>,
    ) -> async_graphql::Result<TotpEnrollmentPayload> {
        let enrollment = domain(ctx)?
            .start_totp_enrollment(&*enrollment_actor(ctx)?)
            .await
            .gql()?;
        Ok(TotpEnrollmentPayload {
            qr_code_svg: qr_svg(&enrollment.otpauth_uri)?,
            secret: enrollment.secret,
            otpauth_uri: enrollment.otpauth_uri,
        })
    }

    /// Activates the pending enrolment with a first code; answers the recovery codes, once.
    async fn confirm_totp_enrollment(
        &self,
        ctx: &Context<'_>,
        input: ConfirmTotpEnrollmentInput,
    ) -> async_graphql::Result<RecoveryCodesPayload> {
        let recovery_codes = domain(ctx)?
            .confirm_totp_enrollment(&*enrollment_actor(ctx)?, &input.code)
            .await
            .gql()?;
        Ok(RecoveryCodesPayload { recovery_codes })
    }

    /// Replaces the caller's recovery codes with new ones, shown once; the old ones stop
    /// working. Needs a current code of the authenticator app.
    async fn regenerate_recovery_codes(
        &self,
        ctx: &Context<'_>,
        input: RegenerateRecoveryCodesInput,
    ) -> async_graphql::Result<RecoveryCodesPayload> {
        let recovery_codes = domain(ctx)?
            .regenerate_recovery_codes(&*actor(ctx)?, &input.code)
            .await
            .gql()?;
        Ok(RecoveryCodesPayload { recovery_codes })
    }

    /// Removes the second factor of someone the caller manages; the person is told by e-mail.
    async fn reset_second_factor(
        &self,
        ctx: &Context<'_>,
        input: ResetSecondFactorInput,
    ) -> async_graphql::Result<OkPayload> {
        let user = parse_id(&input.user_id, "user")?;
        domain(ctx)?
            .reset_second_factor(&*actor(ctx)?, user)
            .await
            .gql()?;
        Ok(OkPayload { ok: true })
    }

    /// Requires (or stops requiring) a second factor of everyone in the organization whose
    /// profile has `users` or `clients` at MANAGE.
    async fn set_second_factor_required(
        &self,
        ctx: &Context<'_>,
        input: SetSecondFactorRequiredInput,
    ) -> async_graphql::Result<SecondFactorPolicyPayload> {
        let organization = parse_id(&input.organization_id, "organization")?;
        let required = domain(ctx)?
            .set_second_factor_required(&*actor(ctx)?, organization, input.required)
            .await
            .gql()?;
        Ok(SecondFactorPolicyPayload {
            organization_id: input.organization_id,
            required,
        })
    }
}
