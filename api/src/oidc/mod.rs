//! OpenID Connect single sign-on, the protocol side: discovery (cached, refreshed when the
//! provider signs with a key it did not publish before), the authorization request with PKCE,
//! the code exchange, and the ID token's signature, `iss`, `aud`, `exp` and `nonce`, all checked
//! by the `openidconnect` crate. What a verified identity may do is the domain's
//! (`concierge_domain::ops::single_sign_on`).
//!
//! `GET /auth/oidc/<organization>/start` → the provider → `GET …/callback` → a redirect to the
//! front end with a one-time code in the URL fragment (never sent to a server, useless after
//! one exchange or two minutes), which `completeSingleSignOn` turns into a session.

mod routes;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use concierge_domain::{SsoCallback, SsoClaims, SsoStart};
use openidconnect::core::{CoreAuthenticationFlow, CoreClient, CoreProviderMetadata};
use openidconnect::{
    AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, IssuerUrl,
    Nonce, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope, SignatureVerificationError,
    TokenResponse as _,
};
use tokio::sync::RwLock;

pub use routes::{redirect_uri, router, start_url};

/// How long a provider's discovery document and keys are trusted before being fetched again.
const DISCOVERY_TTL: Duration = Duration::from_secs(3600);
/// A provider that does not answer within this is reported unavailable.
const PROVIDER_TIMEOUT: Duration = Duration::from_secs(10);

/// Why the protocol with the provider failed (logged; the person sees a generic refusal).
#[derive(Debug, thiserror::Error)]
pub enum OidcError {
    #[error("the identity provider is unavailable: {0}")]
    Unavailable(String),
    #[error("the identity provider's answer was refused: {0}")]
    Refused(String),
}

/// Discovery documents (with their keys) by issuer, shared by every request of the process.
pub struct OidcProviders {
    http: openidconnect::reqwest::Client,
    discovered: RwLock<HashMap<String, (CoreProviderMetadata, Instant)>>,
}

impl std::fmt::Debug for OidcProviders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcProviders").finish_non_exhaustive()
    }
}

impl OidcProviders {
    pub fn new() -> Result<Self, String> {
        let http = openidconnect::reqwest::ClientBuilder::new()
            // A provider's redirect could point the server anywhere (SSRF): none are followed.
            .redirect(openidconnect::reqwest::redirect::Policy::none())
            .timeout(PROVIDER_TIMEOUT)
            .build()
            .map_err(|e| format!("HTTP client for identity providers: {e}"))?;
        Ok(OidcProviders {
            http,
            discovered: RwLock::new(HashMap::new()),
        })
    }

    /// The provider's metadata and keys: cached, fetched again after an hour or when `fresh`.
    async fn metadata(&self, issuer: &str, fresh: bool) -> Result<CoreProviderMetadata, OidcError> {
        if !fresh
            && let Some((metadata, at)) = self.discovered.read().await.get(issuer)
            && at.elapsed() < DISCOVERY_TTL
        {
            return Ok(metadata.clone());
        }
        let url = IssuerUrl::new(issuer.to_owned())
            .map_err(|e| OidcError::Unavailable(format!("issuer URL: {e}")))?;
        // Discovery checks that the document names this issuer, and fetches the JWKS.
        let metadata = CoreProviderMetadata::discover_async(url, &self.http)
            .await
            .map_err(|e| OidcError::Unavailable(format!("discovery of {issuer}: {e}")))?;
        self.discovered
            .write()
            .await
            .insert(issuer.to_owned(), (metadata.clone(), Instant::now()));
        Ok(metadata)
    }

    fn client(
        metadata: CoreProviderMetadata,
        start: &concierge_domain::SsoProvider,
        redirect_uri: &str,
    ) -> Result<
        CoreClient<
            openidconnect::EndpointSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointNotSet,
            openidconnect::EndpointMaybeSet,
            openidconnect::EndpointMaybeSet,
        >,
        OidcError,
    > {
        let redirect = RedirectUrl::new(redirect_uri.to_owned())
            .map_err(|e| OidcError::Unavailable(format!("redirect URI: {e}")))?;
        Ok(CoreClient::from_provider_metadata(
            metadata,
            ClientId::new(start.client_id.clone()),
            Some(ClientSecret::new(start.client_secret.clone())),
        )
        .set_redirect_uri(redirect))
    }

    /// The provider's authorization URL for a sign-in the domain started.
    pub async fn authorization_url(
        &self,
        start: SsoStart,
        redirect_uri: &str,
    ) -> Result<String, OidcError> {
        let metadata = self.metadata(&start.provider.issuer, false).await?;
        let client = Self::client(metadata, &start.provider, redirect_uri)?;
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(
            start.pkce_verifier,
        ));
        let (state, nonce) = (start.state, start.nonce);
        let (url, _, _) = client
            .authorize_url(
                CoreAuthenticationFlow::AuthorizationCode,
                move || CsrfToken::new(state),
                move || Nonce::new(nonce),
            )
            .add_scope(Scope::new("email".to_owned()))
            .add_scope(Scope::new("profile".to_owned()))
            .set_pkce_challenge(challenge)
            .url();
        Ok(url.to_string())
    }

    /// Exchanges the code (with the PKCE verifier) and verifies the ID token: signature against
    /// the provider's keys (fetched again once when it names a key not seen before: the
    /// provider rotated its keys), issuer, audience, expiry and nonce.
    pub async fn verified_claims(
        &self,
        callback: &SsoCallback,
        code: &str,
        redirect_uri: &str,
    ) -> Result<SsoClaims, OidcError> {
        let provider = &callback.provider;
        let metadata = self.metadata(&provider.issuer, false).await?;
        let client = Self::client(metadata, provider, redirect_uri)?;
        let response = client
            .exchange_code(AuthorizationCode::new(code.to_owned()))
            .map_err(|e| OidcError::Unavailable(format!("token endpoint: {e}")))?
            .set_pkce_verifier(PkceCodeVerifier::new(callback.pkce_verifier.clone()))
            .request_async(&self.http)
            .await
            .map_err(|e| OidcError::Refused(format!("code exchange: {e}")))?;
        let id_token = response
            .id_token()
            .ok_or_else(|| OidcError::Refused("no ID token in the token response".into()))?;
        let nonce = Nonce::new(callback.nonce.clone());
        let verified = id_token.claims(&client.id_token_verifier(), &nonce);
        let claims = match verified {
            Ok(claims) => claims.clone(),
            Err(ClaimsVerificationError::SignatureVerification(
                SignatureVerificationError::NoMatchingKey,
            )) => {
                let metadata = self.metadata(&provider.issuer, true).await?;
                let client = Self::client(metadata, provider, redirect_uri)?;
                id_token
                    .claims(&client.id_token_verifier(), &nonce)
                    .map_err(|e| OidcError::Refused(format!("ID token: {e}")))?
                    .clone()
            }
            Err(e) => return Err(OidcError::Refused(format!("ID token: {e}"))),
        };
        Ok(SsoClaims {
            issuer: claims.issuer().as_str().to_owned(),
            subject: claims.subject().as_str().to_owned(),
            email: claims.email().map(|e| e.as_str().to_owned()),
            email_verified: claims.email_verified().unwrap_or(false),
            given_name: localized(claims.given_name()),
            family_name: localized(claims.family_name()),
            name: localized(claims.name()),
            locale: claims.locale().map(|l| l.as_str().to_owned()),
        })
    }
}

/// A claim in the provider's default language.
fn localized<T: std::ops::Deref<Target = String>>(
    claim: Option<&openidconnect::LocalizedClaim<T>>,
) -> Option<String> {
    claim.and_then(|c| c.get(None)).map(|v| (**v).clone())
}
