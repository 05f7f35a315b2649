//! The two browser endpoints of single sign-on. Both answer with redirects; neither puts a
//! token in a URL a server could log: the front end gets a one-time code in the fragment.
//!
//! The `state` also goes into a cookie of the browser that started the sign-in (HttpOnly,
//! SameSite=Lax, for these two paths only), and the callback requires both to match: a callback
//! URL of someone else's sign-in, opened in another browser, signs nobody in (login CSRF).

use axum::Router;
use axum::extract::{Path, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use concierge_domain::DomainError;
use concierge_domain::ids::OrganizationId;
use serde::Deserialize;

use crate::app::AppState;
use crate::http::client_ip;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/oidc/{organization}/start", get(start))
        .route("/auth/oidc/{organization}/callback", get(callback))
}

/// Where the provider sends people back: registered at the provider as the redirect URI.
pub fn redirect_uri(public_url: &str, organization: OrganizationId) -> String {
    format!(
        "{}/auth/oidc/{organization}/callback",
        public_url.trim_end_matches('/')
    )
}

/// Where the front end sends people to sign in.
pub fn start_url(public_url: &str, organization: OrganizationId) -> String {
    format!(
        "{}/auth/oidc/{organization}/start",
        public_url.trim_end_matches('/')
    )
}

/// The cookie that binds a sign-in to the browser that started it.
const BINDING_COOKIE: &str = "concierge_sso_state";

fn binding_cookie(
    public_url: &str,
    organization: OrganizationId,
    state: &str,
    max_age: u32,
) -> String {
    let secure = if public_url.starts_with("https://") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{BINDING_COOKIE}={state}; Path=/auth/oidc/{organization}/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    )
}

/// The binding cookie the browser sent, if any.
fn bound_state(request: &Request) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == BINDING_COOKIE)
        .map(|(_, value)| value.to_owned())
}

#[derive(Deserialize)]
struct StartQuery {
    return_to: Option<String>,
}

#[derive(Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    error: Option<String>,
}

/// A redirect nobody caches and whose address no page passes on.
fn see_other(location: &str) -> Response {
    let Ok(location) = HeaderValue::from_str(location) else {
        return plain(StatusCode::INTERNAL_SERVER_ERROR, "invalid redirect");
    };
    let mut response = StatusCode::SEE_OTHER.into_response();
    let headers = response.headers_mut();
    headers.insert(header::LOCATION, location);
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    response
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], text).into_response()
}

/// `return_to` is a path of this server (not `//host`), or a URL of an allowed origin (a front
/// end served elsewhere); anything else would make the server an open redirect.
fn checked_return_to(state: &AppState, raw: Option<&str>) -> Option<String> {
    let raw = raw.unwrap_or("/").trim();
    if raw.len() > 1000 || raw.contains(['\\', '#']) || raw.chars().any(char::is_control) {
        return None;
    }
    if raw.starts_with('/') && !raw.starts_with("//") {
        return Some(raw.to_owned());
    }
    let (scheme, rest) = raw.split_once("://")?;
    let host = rest.split('/').next().unwrap_or_default();
    let origin = format!("{scheme}://{host}");
    state
        .allowed_origins
        .contains(&origin)
        .then(|| raw.to_owned())
}

/// The front end's address for `return_to` with `fragment` appended.
fn back_to(state: &AppState, return_to: &str, fragment: &str) -> Response {
    let base = if return_to.starts_with('/') {
        format!(
            "{}{return_to}",
            state.domain.config.public_url.trim_end_matches('/')
        )
    } else {
        return_to.to_owned()
    };
    see_other(&format!("{base}#{fragment}"))
}

fn refused(state: &AppState, return_to: &str, error: &DomainError) -> Response {
    if error.code() == concierge_domain::error::ErrorCode::Internal {
        tracing::error!(%error, "single sign-on failed");
    }
    let mut fragment = format!("sso_error={}", error.code());
    if let Some(field) = error.field() {
        fragment.push_str("&sso_field=");
        fragment.push_str(field);
    }
    back_to(state, return_to, &fragment)
}

fn organization(raw: &str) -> Option<OrganizationId> {
    raw.parse().ok()
}

async fn start(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(query): Query<StartQuery>,
    request: Request,
) -> Response {
    let ip = client_ip(&state, &request);
    let Some(org) = organization(&org) else {
        return plain(StatusCode::NOT_FOUND, "unknown organization");
    };
    let Some(return_to) = checked_return_to(&state, query.return_to.as_deref()) else {
        return plain(
            StatusCode::BAD_REQUEST,
            "return_to must be a path of this server or a URL of an allowed origin",
        );
    };
    let started = match state.domain.begin_sso(org, &return_to, ip.as_deref()).await {
        Ok(started) => started,
        Err(DomainError::NotFound(_)) => {
            return plain(
                StatusCode::NOT_FOUND,
                "this organization does not sign in through an identity provider",
            );
        }
        Err(DomainError::RateLimited { retry_after_secs }) => {
            tracing::warn!(organization = %org, ip = ?ip, "single sign-on: too many pending sign-ins");
            let mut response = plain(
                StatusCode::TOO_MANY_REQUESTS,
                "too many sign-ins are under way; try again in a minute",
            );
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
            return response;
        }
        Err(error) => {
            tracing::error!(%error, "single sign-on could not start");
            return plain(StatusCode::INTERNAL_SERVER_ERROR, "internal error");
        }
    };
    let public_url = &state.domain.config.public_url;
    let redirect = redirect_uri(public_url, org);
    let cookie = binding_cookie(public_url, org, &started.state, 600);
    match state.oidc.authorization_url(started, &redirect).await {
        Ok(url) => {
            let mut response = see_other(&url);
            if let Ok(cookie) = HeaderValue::from_str(&cookie) {
                response.headers_mut().insert(header::SET_COOKIE, cookie);
            }
            response
        }
        Err(error) => {
            tracing::warn!(%error, organization = %org, "single sign-on: provider unavailable");
            plain(
                StatusCode::BAD_GATEWAY,
                "the identity provider is unavailable; try again later",
            )
        }
    }
}

async fn callback(
    State(state): State<AppState>,
    Path(org): Path<String>,
    Query(query): Query<CallbackQuery>,
    request: Request,
) -> Response {
    let ip = client_ip(&state, &request);
    let Some(org) = organization(&org) else {
        return plain(StatusCode::NOT_FOUND, "unknown organization");
    };
    let sign_in_state = query.state.unwrap_or_default();
    if bound_state(&request).as_deref() != Some(sign_in_state.as_str()) {
        tracing::warn!(organization = %org, "single sign-on: callback from another browser");
        let error = DomainError::Unauthenticated("this sign-in was started elsewhere".into());
        return refused(&state, "/", &error);
    }
    let pending = match state.domain.sso_callback(org, &sign_in_state).await {
        Ok(pending) => pending,
        Err(error) => return refused(&state, "/", &error),
    };
    let protocol_failure = |reason: String| {
        tracing::warn!(organization = %org, %reason, "single sign-on refused");
        DomainError::Unauthenticated("the identity provider's answer was refused".into())
    };
    let redirect = redirect_uri(&state.domain.config.public_url, org);
    let claims = match (query.error, query.code) {
        (None, Some(code)) => state
            .oidc
            .verified_claims(&pending, &code, &redirect)
            .await
            .map_err(|e| protocol_failure(e.to_string())),
        (error, _) => Err(protocol_failure(format!(
            "the provider answered {}",
            error.unwrap_or_else(|| "no code".into())
        ))),
    };
    let outcome = match claims {
        Ok(claims) => {
            state
                .domain
                .finish_sso(org, &sign_in_state, claims, ip.as_deref())
                .await
        }
        Err(error) => {
            if let Err(audit) = state
                .domain
                .record_sso_refusal(org, None, ip.as_deref())
                .await
            {
                tracing::error!(error = %audit, "single sign-on refusal not audited");
            }
            Err(error)
        }
    };
    let mut response = match outcome {
        Ok(signed_in) => back_to(
            &state,
            &signed_in.return_to,
            &format!("sso_code={}", signed_in.code),
        ),
        Err(error) => refused(&state, &pending.return_to, &error),
    };
    // The browser forgets the state either way. Only a finished sign-in spent it (swapped for
    // the one-time code); after a refusal its pending sign-in stays until it expires (ten
    // minutes), but a callback without the cookie is refused as "started elsewhere".
    let expired = binding_cookie(&state.domain.config.public_url, org, "", 0);
    if let Ok(cookie) = HeaderValue::from_str(&expired) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}
