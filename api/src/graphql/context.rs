//! Per-request data: who is calling (resolved once from the bearer token) and from where.

use std::sync::{Arc, RwLock};

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache};
use concierge_domain::{Actor, Authenticated, Domain, DomainError};

use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::DomainLoader;

pub type RequestLoader = DataLoader<DomainLoader, HashMapCache>;

/// The caller and their DataLoader, or why there is no caller.
#[derive(Clone)]
struct Auth {
    caller: Result<Authenticated, DomainError>,
    loader: Option<Arc<RequestLoader>>,
}

/// What a request carries into the schema.
pub struct RequestContext {
    auth: RwLock<Auth>,
    pub ip: Option<String>,
    /// The people the booking feed of this connection showed last (see
    /// [`FeedPeople`](crate::graphql::areas::bookings::FeedPeople)).
    pub feed_people: Arc<crate::graphql::areas::bookings::FeedPeople>,
}

fn loader_for(domain: &Domain, actor: &Arc<Actor>) -> Arc<RequestLoader> {
    Arc::new(DataLoader::with_cache(
        DomainLoader {
            domain: domain.clone(),
            actor: Arc::clone(actor),
        },
        tokio::spawn,
        HashMapCache::default(),
    ))
}

/// The bearer token of a WebSocket connection, kept to re-check the subscriber as events flow
/// (a deactivated user or a revoked tablet stops receiving at once).
#[derive(Clone)]
pub struct SubscriberToken(pub Option<String>);

impl RequestContext {
    /// For a subscription connection: like `prepare`, but related objects are read afresh for
    /// each event instead of being cached for the connection's lifetime.
    pub async fn for_subscriptions(
        domain: &Domain,
        bearer: Option<&str>,
        ip: Option<String>,
    ) -> Self {
        let context = Self::prepare(domain, bearer, ip).await;
        if let Some(loader) = &context.auth().loader {
            loader.enable_all_cache(false);
        }
        context
    }

    /// Authenticates `bearer` (when given) and prepares the request's DataLoader.
    pub async fn prepare(domain: &Domain, bearer: Option<&str>, ip: Option<String>) -> Self {
        let caller = match bearer {
            None => Err(DomainError::Unauthenticated(
                "sign in first (Authorization: Bearer <token>)".into(),
            )),
            Some(token) => domain.authenticate(token, ip.clone()).await,
        };
        // Relations resolve for whoever is signed in, pending password change or not: what may
        // be asked at the root is decided by `actor` below.
        let loader = caller
            .as_ref()
            .ok()
            .map(|c| loader_for(domain, &c.reader()));
        RequestContext {
            auth: RwLock::new(Auth { caller, loader }),
            ip,
            feed_people: Default::default(),
        }
    }

    fn auth(&self) -> Auth {
        self.auth
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After a sign-in, the rest of the request (the payload's relations) acts as that user.
    pub fn signed_in(&self, domain: &Domain, caller: Authenticated) {
        let loader = Some(loader_for(domain, &caller.reader()));
        *self
            .auth
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Auth {
            caller: Ok(caller),
            loader,
        };
    }
}

/// The people the booking feed of this connection showed last, as it may see them.
pub fn feed_people<'a>(
    ctx: &'a Context<'_>,
) -> Option<&'a Arc<crate::graphql::areas::bookings::FeedPeople>> {
    request(ctx).ok().map(|r| &r.feed_people)
}

fn request<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
}

pub fn domain<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Domain> {
    ctx.data::<Domain>()
}

fn caller(ctx: &Context<'_>) -> async_graphql::Result<Authenticated> {
    request(ctx)?.auth().caller.map_err(to_graphql)
}

/// The authenticated caller, or UNAUTHENTICATED (FORBIDDEN while a password change is pending,
/// and for a room tablet: see [`room_display_actor`]).
pub fn actor(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    caller(ctx)?.actor().map_err(to_graphql)
}

/// The caller of an operation of the room display (a tablet's, or a person's): the domain
/// decides what a tablet may do ([`Authenticated::for_room_display`]).
pub fn room_display_actor(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    caller(ctx)?.for_room_display().map_err(to_graphql)
}

/// The caller for `me`, `changePassword` and `logout`, open during a pending password change
/// (FORBIDDEN for a room tablet).
pub fn self_actor(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    caller(ctx)?
        .even_with_pending_password_change()
        .map_err(to_graphql)
}

/// The caller for enrolling a second factor, open to a person who must enrol before anything
/// else (FORBIDDEN for a room tablet).
pub fn enrollment_actor(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    caller(ctx)?
        .for_second_factor_enrollment()
        .map_err(to_graphql)
}

pub fn optional_self_actor(ctx: &Context<'_>) -> Option<Arc<Actor>> {
    caller(ctx)
        .ok()
        .and_then(|c| c.even_with_pending_password_change().ok())
}

/// The actor whose visibility rules govern relations (see [`Authenticated::reader`]).
pub fn reader(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    Ok(caller(ctx)?.reader())
}

pub fn client_ip(ctx: &Context<'_>) -> Option<String> {
    request(ctx).ok().and_then(|r| r.ip.clone())
}

pub fn loader(ctx: &Context<'_>) -> async_graphql::Result<Arc<RequestLoader>> {
    let auth = request(ctx)?.auth();
    auth.caller.map_err(to_graphql)?;
    auth.loader
        .ok_or_else(|| to_graphql(DomainError::internal("request without loader")))
}

/// Domain and actor at once: what almost every resolver starts with.
pub fn acting<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<(&'a Domain, Arc<Actor>)> {
    Ok((domain(ctx)?, actor(ctx)?))
}

/// Domain and actor for an operation of the room display (see [`room_display_actor`]).
pub fn acting_for_room_display<'a>(
    ctx: &'a Context<'_>,
) -> async_graphql::Result<(&'a Domain, Arc<Actor>)> {
    Ok((domain(ctx)?, room_display_actor(ctx)?))
}

/// Makes the newly signed-in user the actor for the rest of the request.
pub async fn adopt_session(
    ctx: &Context<'_>,
    session: &concierge_domain::AuthSession,
) -> async_graphql::Result<()> {
    let domain = domain(ctx)?;
    let request = request(ctx)?;
    let actor = domain
        .signed_in_actor(session, request.ip.clone())
        .await
        .map_err(to_graphql)?;
    request.signed_in(domain, actor);
    Ok(())
}
