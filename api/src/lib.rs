//! Concierge's API server: the GraphQL schema, the HTTP surface, configuration and start-up.

pub mod app;
pub mod calendar;
pub mod client_address;
pub mod config;
pub mod display;
pub mod graphql;
pub mod http;
pub mod mail;
pub mod metrics;
pub mod oidc;
pub mod release;
pub mod scim;
pub mod serve;
pub mod sockets;
pub mod telemetry;
