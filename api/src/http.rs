//! The HTTP surface: `/graphql` (POST, GET, GraphiQL), `/healthz`, `/readyz`.

use std::net::SocketAddr;
use std::time::Duration;

use async_graphql::BatchRequest;
use async_graphql::Data;
use async_graphql::http::ALL_WEBSOCKET_PROTOCOLS;
use async_graphql::http::GraphiQLSource;
use async_graphql_axum::{GraphQLBatchRequest, GraphQLProtocol, GraphQLResponse, GraphQLWebSocket};
use axum::Router;
use axum::extract::FromRequestParts;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{ConnectInfo, FromRequest, Request, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use futures::FutureExt as _;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;

use crate::app::AppState;
use crate::graphql::context::{RequestContext, SubscriberToken};
use crate::graphql::edge::{VALIDATION_FAILED, refusal};
use crate::graphql::execute as execute_graphql;
use crate::sockets::{ConnectionLimits, Incoming};

/// Largest request body accepted.
pub const MAX_BODY_BYTES: usize = 256 * 1024;
/// Most operations in one batched (JSON array) request; each counts on its own (throttles too).
pub const MAX_BATCH: usize = 10;

pub fn router(state: AppState) -> Router {
    let request_id = axum::http::HeaderName::from_static("x-request-id");
    Router::new()
        .route("/graphql", get(graphql_get).post(graphql_post))
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/display", get(crate::display::page))
        .merge(crate::scim::router())
        .merge(crate::oidc::router())
        .route("/calendar/{token}", get(crate::calendar::feed))
        .layer(tower_http::limit::RequestBodyLimitLayer::new(
            MAX_BODY_BYTES,
        ))
        .layer(cors(&state))
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state)
}

/// The log span of a request: method, route and request id. The route as declared
/// (`/calendar/{token}`), never the path it matched, which may be a secret (a calendar feed's
/// address), nor the query string, which may carry GraphQL variables (passwords, tokens) on a
/// GET; a request no route matched is `unmatched`.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let request_id = request
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("-");
    let path = request
        .extensions()
        .get::<axum::extract::MatchedPath>()
        .map_or(UNMATCHED, axum::extract::MatchedPath::as_str);
    tracing::info_span!("request", method = %request.method(), path = %path, request_id)
}

/// The route logged for a request no route matched (its path may be anything, a secret too).
const UNMATCHED: &str = "unmatched";

/// The token of a `connection_init` payload: `{"authorization": "Bearer <token>"}`.
fn payload_bearer(payload: &serde_json::Value) -> Option<String> {
    let value = payload
        .get("authorization")
        .or_else(|| payload.get("Authorization"))?
        .as_str()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// GraphQL over WebSocket (`graphql-transport-ws`, and the legacy protocol). The caller is
/// authenticated in `connection_init`; a token that is given but refused closes the connection.
async fn subscriptions(state: AppState, request: Request) -> Response {
    let ip = client_ip(&state, &request);
    let (mut parts, _body) = request.into_parts();
    let protocol = match GraphQLProtocol::from_request_parts(&mut parts, &state).await {
        Ok(protocol) => protocol,
        Err(rejection) => return rejection.into_response(),
    };
    let upgrade = match WebSocketUpgrade::from_request_parts(&mut parts, &state).await {
        Ok(upgrade) => upgrade,
        Err(rejection) => return rejection.into_response(),
    };
    // No message (nor frame) larger than an HTTP body: tungstenite refuses it while reading, and
    // the connection is closed with 1009.
    let limits = state.socket_limits;
    let upgrade = upgrade
        .max_message_size(limits.max_message_bytes)
        .max_frame_size(limits.max_message_bytes);
    let legacy = legacy_protocol(&parts.headers);
    let (schema, domain, sockets) = (
        state.schema.clone(),
        state.domain.clone(),
        state.sockets.clone(),
    );
    upgrade
        .protocols(ALL_WEBSOCKET_PROTOCOLS)
        .on_upgrade(move |socket| {
            // At shutdown the incoming stream ends: the GraphQL socket then completes its
            // subscriptions, and the forwarder below closes the connection with a close frame.
            let guard = sockets.enter();
            let closing = sockets.closing();
            let connection = ConnectionLimits::new(limits, legacy);
            let (socket_sink, stream) = futures::StreamExt::split(socket);
            let (refusals, refused) = futures::channel::mpsc::unbounded::<String>();
            let stream = limited(stream, connection.clone(), refusals, closing);
            let (sink, forwarder) = close_after(socket_sink, sockets.clone(), connection, refused);
            GraphQLWebSocket::new_with_pair(sink, stream, schema, protocol)
                .on_connection_init(move |payload| async move {
                    let token = payload_bearer(&payload);
                    if let Some(token) = &token {
                        domain
                            .authenticate(token, ip.clone())
                            .await
                            .map_err(crate::graphql::errors::to_graphql)?;
                    }
                    let context =
                        RequestContext::for_subscriptions(&domain, token.as_deref(), ip).await;
                    let mut data = Data::default();
                    data.insert(context);
                    data.insert(SubscriberToken(token));
                    Ok(data)
                })
                .serve()
                .then(move |()| async move {
                    let _ = forwarder.await;
                    drop(guard);
                })
        })
}

/// Whether the protocol `GraphQLProtocol` chose is the legacy `subscriptions-transport-ws` (its
/// name on the wire: `graphql-ws`): the first of the offered ones that is known.
fn legacy_protocol(headers: &HeaderMap) -> bool {
    headers
        .get(header::SEC_WEBSOCKET_PROTOCOL)
        .and_then(|value| value.to_str().ok())
        .and_then(|offered| {
            offered.split(',').map(str::trim).find(|p| {
                p.eq_ignore_ascii_case("graphql-ws")
                    || p.eq_ignore_ascii_case("graphql-transport-ws")
            })
        })
        .is_some_and(|p| p.eq_ignore_ascii_case("graphql-ws"))
}

/// The client's messages as the GraphQL socket reads them, within the connection's limits: the
/// stream ends (and the connection closes with the limit's code) at shutdown, when
/// `connection_init` is late, or at a message over the size limit; a subscription over the
/// limit is answered on `refusals` and never reaches the GraphQL side.
fn limited(
    stream: futures::stream::SplitStream<axum::extract::ws::WebSocket>,
    connection: std::sync::Arc<ConnectionLimits>,
    refusals: futures::channel::mpsc::UnboundedSender<String>,
    closing: impl Future<Output = ()> + Send + 'static,
) -> impl futures::Stream<Item = Result<axum::extract::ws::Message, axum::Error>> + Send + 'static {
    use axum::extract::ws::Message;
    use futures::StreamExt as _;
    let deadline = connection.init_deadline();
    let ends = async move {
        futures::pin_mut!(closing, deadline);
        futures::future::select(closing, deadline).await;
    };
    stream
        .take_until(ends)
        .map(move |message| {
            let verdict = match &message {
                Ok(Message::Text(text)) => connection.incoming(text.as_bytes()),
                Ok(Message::Binary(bytes)) => connection.incoming(bytes),
                Ok(_) => Incoming::Forward,
                Err(error) => connection.read_failed(&error.to_string()),
            };
            match verdict {
                Incoming::Forward => Some(Some(message)),
                Incoming::Refuse(id) => {
                    let _ = refusals.unbounded_send(connection.refusal(&id));
                    Some(None)
                }
                Incoming::Close(..) => None,
            }
        })
        .take_while(|step| std::future::ready(step.is_some()))
        .filter_map(|step| std::future::ready(step.flatten()))
}

/// A sink for the GraphQL socket that forwards to the real one (with the refusals of
/// subscriptions over the limit) and, when the GraphQL side is done, ends the connection with a
/// close frame: 1001 "going away" when the server shuts down, the limit's code when one ended it.
fn close_after(
    mut socket_sink: futures::stream::SplitSink<
        axum::extract::ws::WebSocket,
        axum::extract::ws::Message,
    >,
    sockets: std::sync::Arc<crate::sockets::LiveSockets>,
    connection: std::sync::Arc<ConnectionLimits>,
    mut refused: futures::channel::mpsc::UnboundedReceiver<String>,
) -> (
    futures::channel::mpsc::Sender<axum::extract::ws::Message>,
    tokio::task::JoinHandle<()>,
) {
    use axum::extract::ws::{CloseFrame, Message};
    use futures::{SinkExt as _, StreamExt as _};
    let (sender, mut receiver) = futures::channel::mpsc::channel::<Message>(64);
    let forwarder = tokio::spawn(async move {
        loop {
            let message = tokio::select! {
                message = receiver.next() => match message {
                    Some(message) => message,
                    None => break,
                },
                Some(refusal) = refused.next() => Message::Text(refusal.into()),
            };
            if let Message::Text(text) = &message {
                connection.outgoing(text.as_str());
            }
            if socket_sink.send(message).await.is_err() {
                return;
            }
        }
        let (code, reason) = if sockets.is_closing() {
            (1001, "server shutting down")
        } else {
            connection.close_reason().unwrap_or((1000, ""))
        };
        let _ = socket_sink
            .send(Message::Close(Some(CloseFrame {
                code,
                reason: reason.into(),
            })))
            .await;
        let _ = socket_sink.close().await;
    });
    (sender, forwarder)
}

fn bearer(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
}

/// The client's address: the socket's, or what trusted proxies say (`TRUSTED_PROXIES`).
pub(crate) fn client_ip(state: &AppState, request: &Request) -> Option<String> {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(addr)| addr.ip())?;
    let forwarded = request
        .headers()
        .get("x-forwarded-for")
        .and_then(|v| v.to_str().ok());
    Some(state.trusted_proxies.client(peer, forwarded).to_string())
}

/// Whether a browser page from `Origin` may open a WebSocket here: no Origin (not a browser),
/// the server's own origin, or one of `ALLOWED_ORIGINS`.
fn origin_allowed(state: &AppState, headers: &HeaderMap) -> bool {
    let Some(origin) = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok()) else {
        return true;
    };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let own = origin
        .split_once("://")
        .is_some_and(|(_, rest)| rest.trim_end_matches('/') == host);
    own || state
        .allowed_origins
        .iter()
        .any(|allowed| allowed == origin.trim_end_matches('/'))
}

/// CORS for `ALLOWED_ORIGINS`; none at all (same-origin only) when the list is empty.
fn cors(state: &AppState) -> tower_http::cors::CorsLayer {
    use tower_http::cors::{AllowOrigin, CorsLayer};
    let origins: Vec<axum::http::HeaderValue> = state
        .allowed_origins
        .iter()
        .filter_map(|o| o.parse().ok())
        .collect();
    CorsLayer::new()
        .allow_origin(AllowOrigin::list(origins))
        .allow_methods([axum::http::Method::GET, axum::http::Method::POST])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .max_age(Duration::from_secs(600))
}

async fn execute(state: AppState, request: Request) -> Response {
    let token = bearer(request.headers());
    let ip = client_ip(&state, &request);
    let batch =
        match <GraphQLBatchRequest as FromRequest<AppState>>::from_request(request, &state).await {
            Ok(batch) => batch.into_inner(),
            Err(rejection) => return refuse_unreadable(rejection.0),
        };
    let run = |request: async_graphql::Request| {
        let (state, token, ip) = (state.clone(), token.clone(), ip.clone());
        async move {
            let context = RequestContext::prepare(&state.domain, token.as_deref(), ip).await;
            execute_graphql(&state.schema, request.data(context)).await
        }
    };
    match batch {
        BatchRequest::Single(request) => GraphQLResponse::from(run(request).await).into_response(),
        BatchRequest::Batch(many) if many.len() > MAX_BATCH => {
            let body = refusal(
                &format!("a batch may hold at most {MAX_BATCH} operations"),
                VALIDATION_FAILED,
            );
            (StatusCode::BAD_REQUEST, axum::Json(body)).into_response()
        }
        BatchRequest::Batch(many) => {
            let mut responses = Vec::with_capacity(many.len());
            for request in many {
                responses.push(run(request).await);
            }
            GraphQLResponse::from(async_graphql::BatchResponse::Batch(responses)).into_response()
        }
    }
}

/// A body that is not a GraphQL request: 413 when too large, 400 otherwise, with a coded error.
fn refuse_unreadable(error: async_graphql::ParseRequestError) -> Response {
    let too_large = matches!(error, async_graphql::ParseRequestError::PayloadTooLarge)
        || error.to_string().to_lowercase().contains("length limit");
    let (status, message) = if too_large {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body may be at most {MAX_BODY_BYTES} bytes"),
        )
    } else {
        (
            StatusCode::BAD_REQUEST,
            format!("not a GraphQL request: {error}"),
        )
    };
    (
        status,
        axum::Json(refusal(&message, crate::graphql::edge::PARSE_FAILED)),
    )
        .into_response()
}

async fn graphql_post(State(state): State<AppState>, request: Request) -> Response {
    execute(state, request).await
}

/// GET with a `query` parameter executes it; a browser's plain GET gets GraphiQL (outside production).
async fn graphql_get(State(state): State<AppState>, request: Request) -> Response {
    let upgrade = request
        .headers()
        .get(header::UPGRADE)
        .and_then(|v| v.to_str().ok());
    if upgrade.is_some_and(|v| v.eq_ignore_ascii_case("websocket")) {
        if !origin_allowed(&state, request.headers()) {
            let body = refusal("this origin may not open a WebSocket here", "FORBIDDEN");
            return (StatusCode::FORBIDDEN, axum::Json(body)).into_response();
        }
        return subscriptions(state, request).await;
    }
    let has_query = request
        .uri()
        .query()
        .is_some_and(|q| q.split('&').any(|p| p.starts_with("query=")));
    if !has_query && !state.production {
        return Html(GraphiQLSource::build().endpoint("/graphql").finish()).into_response();
    }
    execute(state, request).await
}

async fn metrics(State(state): State<AppState>) -> Response {
    if let Some(usage) = state.domain.store.pool_usage() {
        state.metrics.set_pool_usage(usage);
    }
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
        state.metrics.render(),
    )
        .into_response()
}

async fn readyz(State(state): State<AppState>) -> Response {
    match tokio::time::timeout(Duration::from_secs(2), state.domain.store.ping()).await {
        Ok(Ok(())) => (StatusCode::OK, "ready").into_response(),
        Ok(Err(error)) => {
            tracing::warn!(%error, "storage not ready");
            (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response()
        }
        Err(_) => (StatusCode::SERVICE_UNAVAILABLE, "storage unavailable").into_response(),
    }
}
