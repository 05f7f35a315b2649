//! The GraphQL schema: one query and one mutation object per area, merged.

pub mod areas;
pub mod context;
pub mod errors;
pub mod loaders;
pub mod types;

use async_graphql::{EmptySubscription, MergedObject, Schema};
use concierge_domain::Domain;

use areas::*;

#[derive(MergedObject, Default)]
pub struct Query(
    auth::AuthQuery,
    organizations::OrganizationsQuery,
    users::UsersQuery,
    sites::SitesQuery,
    rooms::RoomsQuery,
    profiles::ProfilesQuery,
    price_lists::PriceListsQuery,
    audit::AuditQuery,
);

#[derive(MergedObject, Default)]
pub struct Mutation(
    auth::AuthMutation,
    organizations::OrganizationsMutation,
    users::UsersMutation,
    sites::SitesMutation,
    rooms::RoomsMutation,
    profiles::ProfilesMutation,
    price_lists::PriceListsMutation,
);

pub type ConciergeSchema = Schema<Query, Mutation, EmptySubscription>;

/// Limits that keep one request from costing more than a page of work. The standard
/// introspection query (GraphiQL, codegen) passes them.
pub const MAX_DEPTH: usize = 15;
pub const MAX_COMPLEXITY: usize = 5_000;

pub fn build_schema(domain: Option<Domain>) -> ConciergeSchema {
    let builder = Schema::build(Query::default(), Mutation::default(), EmptySubscription)
        .limit_depth(MAX_DEPTH)
        .limit_complexity(MAX_COMPLEXITY);
    match domain {
        Some(domain) => builder.data(domain).finish(),
        None => builder.finish(),
    }
}

/// The schema as SDL, as committed in `schema.graphql`.
pub fn schema_sdl() -> String {
    build_schema(None).sdl()
}
