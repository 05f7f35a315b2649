//! GraphQL object types: thin wrappers over domain entities, resolving relations through the
//! request's DataLoader.

mod audit;
mod booking;
mod booking_series;
mod connection;
mod enums;
mod invitation;
mod organization;
mod permissions;
mod price_list;
mod profile;
mod room;
mod scalars;
mod site;
mod user;

pub use audit::*;
pub use booking::*;
pub use booking_series::*;
pub use connection::*;
pub use enums::*;
pub use invitation::*;
pub use organization::*;
pub use permissions::*;
pub use price_list::*;
pub use profile::*;
pub use room::*;
pub use scalars::*;
pub use site::*;
pub use user::*;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ID};
use concierge_domain::DomainError;

use crate::graphql::context::loader;
use crate::graphql::errors::to_graphql;
use crate::graphql::loaders::DomainLoader;

pub fn id(value: impl std::fmt::Display) -> ID {
    ID(value.to_string())
}

/// Loads a related object the caller may see, or `None`.
pub async fn load_opt<K, V>(ctx: &Context<'_>, key: K) -> async_graphql::Result<Option<V>>
where
    K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
    V: Send + Sync + Clone + 'static,
    DomainLoader: Loader<K, Value = V, Error = DomainError>,
{
    loader(ctx)?.load_one(key).await.map_err(to_graphql)
}

/// Loads a related object that must be visible whenever its parent is.
pub async fn load_req<K, V>(
    ctx: &Context<'_>,
    key: K,
    what: &'static str,
) -> async_graphql::Result<V>
where
    K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
    V: Send + Sync + Clone + 'static,
    DomainLoader: Loader<K, Value = V, Error = DomainError>,
{
    load_opt(ctx, key)
        .await?
        .ok_or_else(|| to_graphql(DomainError::NotFound(what)))
}

/// Loads many related objects, keeping the order of `keys` and dropping invisible ones.
pub async fn load_many<K, V>(ctx: &Context<'_>, keys: &[K]) -> async_graphql::Result<Vec<V>>
where
    K: Send + Sync + Clone + Eq + std::hash::Hash + 'static,
    V: Send + Sync + Clone + 'static,
    DomainLoader: Loader<K, Value = V, Error = DomainError>,
{
    let mut found = loader(ctx)?
        .load_many(keys.iter().cloned())
        .await
        .map_err(to_graphql)?;
    Ok(keys.iter().filter_map(|k| found.remove(k)).collect())
}
