//! Per-request data: who is calling (resolved once from the bearer token) and from where.

use std::sync::{Arc, RwLock};

use async_graphql::Context;
use async_graphql::dataloader::{DataLoader, HashMapCache};
use concierge_domain::{Actor, Domain, DomainError};

use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::DomainLoader;

pub type RequestLoader = DataLoader<DomainLoader, HashMapCache>;

/// The caller and their DataLoader, or why there is no caller.
#[derive(Clone)]
struct Auth {
    actor: Result<Arc<Actor>, DomainError>,
    loader: Option<Arc<RequestLoader>>,
}

/// What a request carries into the schema.
pub struct RequestContext {
    auth: RwLock<Auth>,
    pub ip: Option<String>,
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

impl RequestContext {
    /// Authenticates `bearer` (when given) and prepares the request's DataLoader.
    pub async fn prepare(domain: &Domain, bearer: Option<&str>, ip: Option<String>) -> Self {
        let actor = match bearer {
            None => Err(DomainError::Unauthenticated(
                "sign in first (Authorization: Bearer <token>)".into(),
            )),
            Some(token) => domain.authenticate(token, ip.clone()).await.map(Arc::new),
        };
        let loader = actor.as_ref().ok().map(|actor| loader_for(domain, actor));
        RequestContext {
            auth: RwLock::new(Auth { actor, loader }),
            ip,
        }
    }

    fn auth(&self) -> Auth {
        self.auth
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }

    /// After a sign-in, the rest of the request (the payload's relations) acts as that user.
    pub fn signed_in(&self, domain: &Domain, actor: Actor) {
        let actor = Arc::new(actor);
        let loader = Some(loader_for(domain, &actor));
        *self
            .auth
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner()) = Auth {
            actor: Ok(actor),
            loader,
        };
    }
}

fn request<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a RequestContext> {
    ctx.data::<RequestContext>()
}

pub fn domain<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<&'a Domain> {
    ctx.data::<Domain>()
}

/// The authenticated caller, or UNAUTHENTICATED.
pub fn actor(ctx: &Context<'_>) -> async_graphql::Result<Arc<Actor>> {
    request(ctx)?.auth().actor.map_err(to_graphql)
}

pub fn optional_actor(ctx: &Context<'_>) -> Option<Arc<Actor>> {
    request(ctx).ok().and_then(|r| r.auth().actor.ok())
}

pub fn client_ip(ctx: &Context<'_>) -> Option<String> {
    request(ctx).ok().and_then(|r| r.ip.clone())
}

pub fn loader(ctx: &Context<'_>) -> async_graphql::Result<Arc<RequestLoader>> {
    let auth = request(ctx)?.auth();
    auth.actor.map_err(to_graphql)?;
    auth.loader
        .ok_or_else(|| to_graphql(DomainError::internal("request without loader")))
}

/// Domain and actor at once: what almost every resolver starts with.
pub fn acting<'a>(ctx: &'a Context<'_>) -> async_graphql::Result<(&'a Domain, Arc<Actor>)> {
    Ok((domain(ctx)?, actor(ctx)?))
}

/// Makes the newly signed-in user the actor for the rest of the request.
pub async fn adopt_session(ctx: &Context<'_>, access_token: &str) -> async_graphql::Result<()> {
    let domain = domain(ctx)?;
    let request = request(ctx)?;
    let actor = domain
        .authenticate(access_token, request.ip.clone())
        .await
        .map_err(to_graphql)?;
    request.signed_in(domain, actor);
    Ok(())
}
