//! End-to-end tests through the GraphQL schema on the memory backend. One binary, one module per
//! area, so the suite links once.

mod dataloaders;
mod schema;
mod sessions;
