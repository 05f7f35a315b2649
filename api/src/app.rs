//! Wiring: storage backend, domain and schema from a configuration.

use std::sync::Arc;

use concierge_domain::clock::SystemClock;
use concierge_domain::secrets::{Keys, Secrets};
use concierge_domain::storage::Storage;
use concierge_domain::{Domain, DomainConfig, DomainError};
use concierge_storage_memory::{MemoryAttemptCounter, MemoryStore};

use crate::config::Config;
use crate::graphql::{ConciergeSchema, build_schema};
use crate::metrics::Metrics;

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub domain: Domain,
    pub schema: ConciergeSchema,
    pub production: bool,
    pub metrics: Arc<Metrics>,
}

impl AppState {
    pub fn new(store: Arc<dyn Storage>, config: &Config) -> Result<Self, DomainError> {
        let keys = Keys {
            jwt: config.jwt_secret.clone(),
            pepper: config.code_pepper.clone(),
        };
        let secrets = Secrets::new(keys, config.argon2)?;
        // Throttle counters are per process for now (see the note on multi-replica in README).
        let domain = Domain::new(
            store,
            Arc::new(MemoryAttemptCounter::new()),
            secrets,
            Arc::new(SystemClock),
            DomainConfig::default(),
        );
        let metrics = Metrics::new().map_err(|e| DomainError::internal(format!("metrics: {e}")))?;
        let schema = build_schema(
            Some(domain.clone()),
            config.production,
            Some(Arc::clone(&metrics)),
        );
        Ok(AppState {
            domain,
            schema,
            production: config.production,
            metrics,
        })
    }
}

/// The storage the configuration asks for. PostgreSQL arrives with its own backend crate.
pub async fn open_storage(config: &Config) -> Result<Arc<dyn Storage>, String> {
    match &config.database_url {
        None => Ok(Arc::new(MemoryStore::new())),
        Some(_) => Err("DATABASE_URL is set, but this build has no PostgreSQL backend yet".into()),
    }
}
