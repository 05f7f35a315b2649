//! Wiring: storage backend, domain and schema from a configuration.

use std::sync::Arc;

use concierge_domain::clock::SystemClock;
use concierge_domain::secrets::{Keys, Secrets};
use concierge_domain::storage::Storage;
use concierge_domain::throttle::AttemptCounter;
use concierge_domain::{Domain, DomainConfig, DomainError};
use concierge_storage_memory::{MemoryAttemptCounter, MemoryStore};
use concierge_storage_postgres::{PgStore, run_migrations};

use crate::client_address::TrustedProxies;
use crate::config::Config;
use crate::graphql::{ConciergeSchema, build_schema};
use crate::metrics::Metrics;
use crate::sockets::{LiveSockets, SocketLimits};

/// Everything a request handler needs.
#[derive(Clone)]
pub struct AppState {
    pub domain: Domain,
    pub schema: ConciergeSchema,
    pub production: bool,
    pub metrics: Arc<Metrics>,
    pub trusted_proxies: TrustedProxies,
    /// Browser origins allowed besides the server's own (CORS and WebSocket upgrades).
    pub allowed_origins: Arc<Vec<String>>,
    pub sockets: Arc<LiveSockets>,
    /// What one WebSocket connection may do; the defaults are the documented ones (tests
    /// shorten the `connection_init` deadline).
    pub socket_limits: SocketLimits,
    /// Identity providers' discovery documents and keys (single sign-on).
    pub oidc: Arc<crate::oidc::OidcProviders>,
}

impl AppState {
    /// `attempts` holds the sign-in throttling counters ([`open_storage`] picks them with the
    /// storage).
    pub fn new(
        store: Arc<dyn Storage>,
        attempts: Arc<dyn AttemptCounter>,
        config: &Config,
    ) -> Result<Self, DomainError> {
        let keys = Keys {
            jwt: config.jwt_secret.clone(),
            pepper: config.code_pepper.clone(),
            jwt_previous: config.jwt_secret_previous.clone(),
            pepper_previous: config.code_pepper_previous.clone(),
        };
        let secrets = Secrets::new(keys, config.argon2)?;
        let domain = Domain::new(
            store,
            attempts,
            secrets,
            Arc::new(SystemClock),
            DomainConfig {
                public_url: config.public_url.clone(),
                invitation_ttl: config.invitation_ttl,
                allow_loopback_issuers: !config.production,
                ..DomainConfig::default()
            },
        );
        let metrics = Metrics::new().map_err(|e| DomainError::internal(format!("metrics: {e}")))?;
        let schema = build_schema(
            Some(domain.clone()),
            config.production,
            Some(Arc::clone(&metrics)),
        );
        let sockets = LiveSockets::new(metrics.live_websockets());
        Ok(AppState {
            domain,
            schema,
            production: config.production,
            metrics,
            trusted_proxies: config.trusted_proxies.clone(),
            allowed_origins: Arc::new(config.allowed_origins.clone()),
            sockets,
            socket_limits: SocketLimits::default(),
            oidc: Arc::new(crate::oidc::OidcProviders::new().map_err(DomainError::internal)?),
        })
    }
}

/// Connections in the PostgreSQL pool of one server process.
pub const DATABASE_POOL_SIZE: usize = 16;

/// The storage the configuration asks for, with the sign-in throttling counters that go with it:
/// PostgreSQL at `DATABASE_URL` (migrated first unless `AUTO_MIGRATE=false`), whose counters are
/// shared by every server on the database; else memory, counters included (one process).
pub async fn open_storage(
    config: &Config,
) -> Result<(Arc<dyn Storage>, Arc<dyn AttemptCounter>), String> {
    match &config.database_url {
        None => Ok((
            Arc::new(MemoryStore::new()),
            Arc::new(MemoryAttemptCounter::new()),
        )),
        Some(url) => {
            if config.auto_migrate {
                migrate(url).await?;
            }
            let store = PgStore::connect(url, DATABASE_POOL_SIZE)
                .await
                .map_err(|e| format!("cannot connect to PostgreSQL: {e}"))?;
            let attempts = Arc::new(store.attempt_counter());
            Ok((Arc::new(store), attempts))
        }
    }
}

/// Applies the embedded migrations.
pub async fn migrate(url: &str) -> Result<(), String> {
    run_migrations(url)
        .await
        .map_err(|e| format!("migrations failed: {e}"))
}
