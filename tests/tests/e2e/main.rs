//! End-to-end tests through the GraphQL schema on the memory backend. One binary, one module per
//! area, so the suite links once.

mod audit;
mod audit_edge;
mod audit_rights;
mod booking_codes;
mod bookings;
mod calendar_feeds;
mod dataloaders;
mod edge;
mod grants;
mod http;
mod import;
mod invitations;
mod key_rotation;
mod organizations;
mod origins;
mod password_reset;
mod passwords;
mod price_lists;
mod profiles;
mod readme;
mod rooms;
mod schema;
mod second_factor;
mod sessions;
mod signin;
mod single_sign_on;
mod sites;
mod support;
mod tenancy;
mod throttling;
mod users;
mod validation;
mod websocket;
