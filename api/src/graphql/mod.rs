//! The GraphQL schema: one query and one mutation object per area, merged.

pub mod areas;
pub mod context;
pub mod edge;
pub mod errors;
pub mod loaders;
pub mod types;

use async_graphql::{MergedObject, MergedSubscription, Schema};
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
    bookings::BookingsQuery,
    invitations::InvitationsQuery,
    second_factor::SecondFactorQuery,
    scim::ScimQuery,
    single_sign_on::SingleSignOnQuery,
    calendar_feeds::CalendarFeedsQuery,
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
    bookings::BookingsMutation,
    booking_series::BookingSeriesMutation,
    invitations::InvitationsMutation,
    second_factor::SecondFactorMutation,
    import::ImportMutation,
    scim::ScimMutation,
    single_sign_on::SingleSignOnMutation,
    calendar_feeds::CalendarFeedsMutation,
);

#[derive(MergedSubscription, Default)]
pub struct Subscription(bookings::BookingsSubscription);

pub type ConciergeSchema = Schema<Query, Mutation, Subscription>;

/// Limits that keep one request from costing more than a page of work. The standard
/// introspection query (GraphiQL, codegen) passes them.
pub const MAX_DEPTH: usize = 15;
pub const MAX_COMPLEXITY: usize = 5_000;

/// The schema. In production, introspection and "did you mean" suggestions are off.
/// The cost of a connection: its page size times the cost of one row.
pub fn page_complexity(first: Option<i32>, child_complexity: usize) -> usize {
    let rows = first.map_or(concierge_domain::DEFAULT_PAGE_SIZE, |n| {
        n.clamp(1, 10_000) as usize
    });
    rows.saturating_mul(child_complexity).saturating_add(1)
}

pub fn build_schema(
    domain: Option<Domain>,
    production: bool,
    metrics: Option<std::sync::Arc<crate::metrics::Metrics>>,
) -> ConciergeSchema {
    let mut builder = Schema::build(
        Query::default(),
        Mutation::default(),
        Subscription::default(),
    )
    .extension(edge::Edge)
    .limit_depth(MAX_DEPTH)
    .limit_complexity(MAX_COMPLEXITY);
    if let Some(metrics) = metrics {
        builder = builder
            .data(std::sync::Arc::clone(&metrics))
            .extension(crate::metrics::MetricsExtension(metrics));
    }
    if production {
        builder = builder.disable_introspection().disable_suggestions();
    }
    match domain {
        Some(domain) => builder.data(domain).finish(),
        None => builder.finish(),
    }
}

/// Executes one request; every error of the response carries a code.
pub async fn execute(
    schema: &ConciergeSchema,
    request: async_graphql::Request,
) -> async_graphql::Response {
    edge::ensure_codes(schema.execute(request).await)
}

/// The schema as SDL, as committed in `schema.graphql`.
pub fn schema_sdl() -> String {
    build_schema(None, false, None).sdl()
}
