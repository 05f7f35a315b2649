//! Provisioning from a directory: the SCIM 2.0 endpoint (RFC 7643/7644) at `/scim/v2`.
//!
//! Entra ID, Okta or Google authenticate with a SCIM token (`createScimToken`) and manage the
//! token's organization's people at `/Users` and the membership of its site groups at `/Groups`.
//! Handlers only translate: the token is resolved by `Domain::authenticate_scim`, and every
//! rule (tenancy, permissions, no escalation, what deactivation ends) is the domain's
//! (`concierge_domain::ops::scim`). Answers are `application/scim+json`; errors use SCIM's error
//! shape with `status` and, where one fits, `scimType`.

mod discovery;
mod filter;
mod resources;

use std::net::SocketAddr;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{ConnectInfo, Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use concierge_domain as d;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::app::AppState;

pub use filter::{InvalidFilter, group_filter, user_filter};

/// Where the endpoint lives, below the server's root.
pub const SCIM_PATH: &str = "/scim/v2";
const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";
const SCIM_JSON: &str = "application/scim+json";

/// The SCIM routes, to merge into the server's router.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/scim/v2/ServiceProviderConfig",
            get(service_provider_config),
        )
        .route("/scim/v2/ResourceTypes", get(resource_types))
        .route("/scim/v2/ResourceTypes/{id}", get(resource_type))
        .route("/scim/v2/Schemas", get(schemas))
        .route("/scim/v2/Schemas/{id}", get(schema))
        .route("/scim/v2/Users", get(list_users).post(create_user))
        .route(
            "/scim/v2/Users/{id}",
            get(get_user)
                .put(replace_user)
                .patch(patch_user)
                .delete(delete_user),
        )
        .route("/scim/v2/Groups", get(list_groups).post(create_group))
        .route(
            "/scim/v2/Groups/{id}",
            get(get_group)
                .patch(patch_group)
                .put(replace_group)
                .delete(delete_group),
        )
}

/// A SCIM error response (RFC 7644 §3.12).
#[derive(Debug)]
pub struct ScimError {
    status: StatusCode,
    scim_type: Option<&'static str>,
    detail: String,
}

impl ScimError {
    fn new(status: StatusCode, scim_type: Option<&'static str>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidValue"), detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidSyntax"), detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidPath"), detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("noTarget"), detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("mutability"), detail)
    }
    fn not_found(what: &str) -> Self {
        Self::new(StatusCode::NOT_FOUND, None, format!("{what} not found"))
    }
}

impl From<InvalidFilter> for ScimError {
    fn from(error: InvalidFilter) -> Self {
        Self::new(StatusCode::BAD_REQUEST, Some("invalidFilter"), error.0)
    }
}

impl From<d::DomainError> for ScimError {
    fn from(error: d::DomainError) -> Self {
        use d::DomainError as E;
        let detail = match error.field() {
            Some(field) => format!("{field}: {}", error.public_message()),
            None => error.public_message(),
        };
        let (status, scim_type) = match &error {
            E::Unauthenticated(_) => (StatusCode::UNAUTHORIZED, None),
            E::Forbidden(_) | E::ForbiddenOn { .. } => (StatusCode::FORBIDDEN, None),
            E::NotFound(_) => (StatusCode::NOT_FOUND, None),
            E::Validation { message, .. } if message.contains("never changes") => {
                (StatusCode::BAD_REQUEST, Some("mutability"))
            }
            E::Validation { .. } => (StatusCode::BAD_REQUEST, Some("invalidValue")),
            E::Conflict { field, .. }
                if ["email", "username", "userName", "emails"].contains(&field.as_str()) =>
            {
                (StatusCode::CONFLICT, Some("uniqueness"))
            }
            E::Conflict { .. } | E::Contended => (StatusCode::CONFLICT, None),
            E::RateLimited { .. } => (StatusCode::TOO_MANY_REQUESTS, None),
            E::Internal(cause) | E::Unavailable(cause) => {
                tracing::error!(%cause, "SCIM request failed");
                (StatusCode::INTERNAL_SERVER_ERROR, None)
            }
        };
        ScimError::new(status, scim_type, detail)
    }
}

impl IntoResponse for ScimError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.as_u16().to_string(),
            "detail": self.detail,
        });
        if let Some(scim_type) = self.scim_type {
            body["scimType"] = json!(scim_type);
        }
        let mut response = scim_json(self.status, &body);
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"scim\""),
            );
        }
        response
    }
}

type ScimResult = Result<Response, ScimError>;

fn scim_json(status: StatusCode, body: &Value) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, HeaderValue::from_static(SCIM_JSON))],
        body.to_string(),
    )
        .into_response()
}

fn ok(body: &Value) -> ScimResult {
    Ok(scim_json(StatusCode::OK, body))
}

/// The endpoint's absolute base (`meta.location`): from `PUBLIC_URL`, never from the request.
fn base(state: &AppState) -> String {
    format!(
        "{}{SCIM_PATH}",
        state.domain.config.public_url.trim_end_matches('/')
    )
}

/// The directory behind the request's bearer token, or 401.
async fn caller(
    state: &AppState,
    headers: &HeaderMap,
    peer: Option<SocketAddr>,
) -> Result<d::ScimCaller, ScimError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned())
        .ok_or_else(|| {
            ScimError::new(
                StatusCode::UNAUTHORIZED,
                None,
                "a SCIM bearer token is required (createScimToken)",
            )
        })?;
    let ip = peer.map(|addr| {
        let forwarded = headers.get("x-forwarded-for").and_then(|v| v.to_str().ok());
        state
            .trusted_proxies
            .client(addr.ip(), forwarded)
            .to_string()
    });
    Ok(state.domain.authenticate_scim(&token, ip).await?)
}

/// The request's extensions, where the server puts the peer's address.
type Peer = axum::http::Extensions;

/// The peer's address when the server was started with it (tests driving the router directly
/// have none).
fn peer(extensions: Peer) -> Option<SocketAddr> {
    extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| *addr)
}

fn json_body(body: &Bytes) -> Result<Value, ScimError> {
    serde_json::from_slice(body)
        .map_err(|e| ScimError::invalid_syntax(format!("the body is not JSON: {e}")))
}

fn user_id(raw: &str) -> Result<d::UserId, ScimError> {
    raw.parse().map_err(|_| ScimError::not_found("user"))
}

fn group_id(raw: &str) -> Result<d::SiteGroupId, ScimError> {
    raw.parse().map_err(|_| ScimError::not_found("site group"))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ListParams {
    filter: Option<String>,
    start_index: Option<String>,
    count: Option<String>,
}

impl ListParams {
    /// `startIndex` (1-based; below 1 is 1) and `count` (negative is 0; capped by the domain).
    fn window(&self) -> Result<(usize, usize), ScimError> {
        let number = |raw: &Option<String>, name: &str, default: i64| -> Result<i64, ScimError> {
            match raw {
                None => Ok(default),
                Some(raw) => raw
                    .trim()
                    .parse()
                    .map_err(|_| ScimError::invalid_value(format!("{name} must be an integer"))),
            }
        };
        let start = number(&self.start_index, "startIndex", 1)?.max(1);
        let count = number(&self.count, "count", d::SCIM_MAX_RESULTS as i64)?.max(0);
        Ok((
            usize::try_from(start).unwrap_or(usize::MAX),
            usize::try_from(count).unwrap_or(usize::MAX),
        ))
    }
}

async fn service_provider_config(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    ok(&discovery::service_provider_config(&base(&state)))
}

/// A discovery list (`ResourceTypes`, `Schemas`) as a SCIM list response.
fn discovery_list(items: Vec<serde_json::Value>) -> ScimResult {
    let total = items.len() as i64;
    ok(&resources::list(items, total, 1))
}

/// One item of a discovery list by its `id`, or 404 naming `what`.
fn discovery_item(items: Vec<serde_json::Value>, id: &str, what: &'static str) -> ScimResult {
    items
        .into_iter()
        .find(|item| item["id"] == id)
        .map(|item| ok(&item))
        .unwrap_or_else(|| Err(ScimError::not_found(what)))
}

async fn resource_types(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    discovery_list(discovery::resource_types(&base(&state)))
}

async fn resource_type(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    discovery_item(
        discovery::resource_types(&base(&state)),
        &id,
        "resource type",
    )
}

async fn schemas(State(state): State<AppState>, info: Peer, headers: HeaderMap) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    discovery_list(discovery::schemas(&base(&state)))
}

async fn schema(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    discovery_item(discovery::schemas(&base(&state)), &id, "schema")
}

async fn list_users(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let filter = match params.filter.as_deref().map(str::trim) {
        None | Some("") => d::ScimUserFilter::default(),
        Some(raw) => user_filter(raw)?,
    };
    let (start, count) = params.window()?;
    let page = state
        .domain
        .scim_users(&caller, &filter, start, count)
        .await?;
    let base = base(&state);
    let items = page
        .items
        .iter()
        .map(|u| resources::user(&base, u))
        .collect();
    ok(&resources::list(
        items,
        page.total_results,
        page.start_index,
    ))
}

async fn get_user(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let user = state.domain.scim_user(&caller, user_id(&id)?).await?;
    ok(&resources::user(&base(&state), &user))
}

async fn create_user(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    body: Bytes,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let (input, _) = resources::user_input(&json_body(&body)?)?;
    let user = state.domain.scim_create_user(&caller, input).await?;
    let base = base(&state);
    let mut response = scim_json(StatusCode::CREATED, &resources::user(&base, &user));
    if let Ok(location) = HeaderValue::from_str(&format!("{base}/Users/{}", user.id)) {
        response.headers_mut().insert(header::LOCATION, location);
    }
    Ok(response)
}

async fn replace_user(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let id = user_id(&id)?;
    let (_, changes) = resources::user_input(&json_body(&body)?)?;
    let mut changes = changes.changes;
    // A PUT replaces the whole person: names come from displayName when not given apart.
    if changes.given_name.is_none() || changes.family_name.is_none() {
        return Err(ScimError::invalid_value(
            "name.givenName and name.familyName are required",
        ));
    }
    changes.active = changes.active.or(Some(true));
    let user = state.domain.scim_update_user(&caller, id, changes).await?;
    ok(&resources::user(&base(&state), &user))
}

async fn patch_user(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let id = user_id(&id)?;
    let operations = resources::operations(&json_body(&body)?)?;
    let changes = resources::user_patch(&operations)?;
    let user = state.domain.scim_update_user(&caller, id, changes).await?;
    ok(&resources::user(&base(&state), &user))
}

/// DELETE deactivates: Concierge keeps people (their bookings, the audit log) and a deactivated
/// person can do nothing; a GET afterwards shows them with `active: false`.
async fn delete_user(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    state
        .domain
        .scim_deactivate_user(&caller, user_id(&id)?)
        .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_groups(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Query(params): Query<ListParams>,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let name = match params.filter.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(group_filter(raw)?),
    };
    let (start, count) = params.window()?;
    let groups = state.domain.scim_groups(&caller, name.as_deref()).await?;
    let total = groups.len() as i64;
    let base = base(&state);
    let items = groups
        .iter()
        .skip(start - 1)
        .take(count.min(d::SCIM_MAX_RESULTS))
        .map(|g| resources::group(&base, g, None))
        .collect();
    ok(&resources::list(items, total, start))
}

async fn get_group(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let group = state.domain.scim_group(&caller, group_id(&id)?).await?;
    let members = state.domain.scim_group_members(&caller, &group).await?;
    ok(&resources::group(&base(&state), &group, Some(&members)))
}

async fn patch_group(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Bytes,
) -> ScimResult {
    let caller = caller(&state, &headers, peer(info)).await?;
    let group_id = group_id(&id)?;
    let operations = resources::operations(&json_body(&body)?)?;
    let changes = resources::group_patch(&operations)?;
    let ids = |raw: &[String]| -> Result<Vec<d::UserId>, ScimError> {
        raw.iter().map(|id| user_id(id)).collect()
    };
    let mut add = ids(&changes.add)?;
    let mut remove = ids(&changes.remove)?;
    if let Some(replace) = &changes.replace {
        // The whole list: everyone not in it leaves, everyone in it joins.
        let group = state.domain.scim_group(&caller, group_id).await?;
        let now = state.domain.scim_group_members(&caller, &group).await?;
        let wanted = ids(replace)?;
        remove.extend(now.iter().map(|u| u.id).filter(|id| !wanted.contains(id)));
        add.extend(wanted);
    }
    let group = state
        .domain
        .scim_change_group_members(&caller, group_id, &add, &remove)
        .await?;
    let members = state.domain.scim_group_members(&caller, &group).await?;
    ok(&resources::group(&base(&state), &group, Some(&members)))
}

/// Site groups are made of sites, which a directory knows nothing of: they are created, renamed
/// and removed in Concierge; the directory manages their members.
async fn create_group(State(state): State<AppState>, info: Peer, headers: HeaderMap) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    Err(ScimError::new(
        StatusCode::FORBIDDEN,
        None,
        "site groups are created in Concierge (createSiteGroup); the directory manages their members",
    ))
}

async fn replace_group(
    State(state): State<AppState>,
    info: Peer,
    headers: HeaderMap,
) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    Err(ScimError::mutability(
        "a site group's name and sites are managed in Concierge: PATCH its members instead",
    ))
}

async fn delete_group(State(state): State<AppState>, info: Peer, headers: HeaderMap) -> ScimResult {
    caller(&state, &headers, peer(info)).await?;
    Err(ScimError::new(
        StatusCode::FORBIDDEN,
        None,
        "site groups are removed in Concierge, not by the directory",
    ))
}
