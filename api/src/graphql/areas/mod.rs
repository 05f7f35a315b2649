//! One file per area of the API; each contributes a query and a mutation object, merged in
//! `graphql::schema`.

pub mod audit;
pub mod auth;
pub mod booking_series;
pub mod bookings;
pub mod calendar_feeds;
pub mod import;
pub mod invitations;
pub mod organizations;
pub mod price_lists;
pub mod profiles;
pub mod rooms;
pub mod scim;
pub mod second_factor;
pub mod single_sign_on;
pub mod sites;
pub mod users;
