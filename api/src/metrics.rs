//! Prometheus metrics, served as text on `/metrics`. Labels come from closed sets: the operation
//! is the first root field of a document that validated, when it is one of the schema's root
//! fields (read from the schema once, at start), else [`UNKNOWN_OPERATION`]; the code is one of
//! the API's error codes.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};
use concierge_domain::storage::PoolUsage;
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};

/// The operation label of a request that did not validate, or whose first root field is not one
/// of the schema's (`__typename`, a fragment spread at the root).
pub const UNKNOWN_OPERATION: &str = "unknown";

pub struct Metrics {
    registry: Registry,
    /// Every root field of the schema (query, mutation and subscription): the operation labels.
    operations: HashSet<String>,
    requests: IntCounterVec,
    latency: HistogramVec,
    emails: IntCounterVec,
    outbox_backlog: IntGauge,
    throttled: IntCounterVec,
    pool: IntGaugeVec,
    subscriptions: IntGauge,
}

impl Metrics {
    /// A gauge of live WebSocket connections, registered with the others.
    pub fn live_websockets(&self) -> Option<prometheus::IntGauge> {
        let gauge = prometheus::IntGauge::new(
            "websocket_connections",
            "Live WebSocket (subscription) connections",
        )
        .ok()?;
        self.registry.register(Box::new(gauge.clone())).ok()?;
        Some(gauge)
    }

    pub fn new() -> Result<Arc<Self>, prometheus::Error> {
        let registry = Registry::new_custom(Some("concierge".into()), None)?;
        let requests = IntCounterVec::new(
            Opts::new(
                "graphql_requests_total",
                "GraphQL operations by first root field and outcome code",
            ),
            &["operation", "code"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "graphql_request_duration_seconds",
                "GraphQL operation latency",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
            ]),
            &["operation"],
        )?;
        let emails = IntCounterVec::new(
            Opts::new(
                "email_deliveries_total",
                "E-mail delivery attempts by outcome (sent, retry, abandoned)",
            ),
            &["outcome"],
        )?;
        let outbox_backlog = IntGauge::new(
            "email_outbox_backlog",
            "E-mails waiting in the outbox (undelivered, given up not included)",
        )?;
        let throttled = IntCounterVec::new(
            Opts::new(
                "throttled_attempts_total",
                "Attempts refused with RATE_LIMITED, by first root field",
            ),
            &["operation"],
        )?;
        let pool = IntGaugeVec::new(
            Opts::new(
                "database_pool_connections",
                "PostgreSQL pool connections by state (max, open, idle, in_use, waiting: tasks \
                 waiting for one)",
            ),
            &["state"],
        )?;
        let subscriptions = IntGauge::new(
            "live_subscriptions",
            "Subscriptions streaming now (bookingEvents), over every connection",
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        registry.register(Box::new(emails.clone()))?;
        registry.register(Box::new(outbox_backlog.clone()))?;
        registry.register(Box::new(throttled.clone()))?;
        registry.register(Box::new(pool.clone()))?;
        registry.register(Box::new(subscriptions.clone()))?;
        Ok(Arc::new(Metrics {
            registry,
            operations: root_fields(&crate::graphql::schema_sdl()),
            requests,
            latency,
            emails,
            outbox_backlog,
            throttled,
            pool,
            subscriptions,
        }))
    }

    /// Records the pool's state; called when `/metrics` is scraped, so it is current.
    pub fn set_pool_usage(&self, usage: PoolUsage) {
        let in_use = usage.open.saturating_sub(usage.idle);
        for (state, value) in [
            ("max", usage.max),
            ("open", usage.open),
            ("idle", usage.idle),
            ("in_use", in_use),
            ("waiting", usage.waiting),
        ] {
            self.pool
                .with_label_values(&[state])
                .set(i64::try_from(value).unwrap_or(i64::MAX));
        }
    }

    /// Counts one live subscription until the returned guard is dropped.
    pub fn subscription_started(&self) -> LiveSubscription {
        self.subscriptions.inc();
        LiveSubscription(self.subscriptions.clone())
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> String {
        let mut buffer = Vec::new();
        if let Err(error) = TextEncoder::new().encode(&self.registry.gather(), &mut buffer) {
            tracing::error!(%error, "encoding metrics");
        }
        String::from_utf8_lossy(&buffer).into_owned()
    }

    /// One e-mail delivery attempt: `sent`, `retry` or `abandoned`.
    pub fn count_email(&self, outcome: &str) {
        self.emails.with_label_values(&[outcome]).inc();
    }

    pub fn set_outbox_backlog(&self, pending: i64) {
        self.outbox_backlog.set(pending);
    }

    /// The operation label of a request: its first root field when the document validated and
    /// the field is one of the schema's, else [`UNKNOWN_OPERATION`].
    fn operation_label<'a>(&'a self, first_root_field: Option<&str>, validated: bool) -> &'a str {
        match first_root_field.and_then(|name| self.operations.get(name)) {
            Some(known) if validated => known,
            _ => UNKNOWN_OPERATION,
        }
    }

    fn observe(&self, operation: &str, code: &str, seconds: f64) {
        self.requests.with_label_values(&[operation, code]).inc();
        if code == "RATE_LIMITED" {
            self.throttled.with_label_values(&[operation]).inc();
        }
        self.latency
            .with_label_values(&[operation])
            .observe(seconds);
    }
}

/// The root fields of every root type of a schema, read from its SDL.
fn root_fields(sdl: &str) -> HashSet<String> {
    use async_graphql::parser::types::{TypeKind, TypeSystemDefinition};
    let Ok(document) = async_graphql::parser::parse_schema(sdl) else {
        tracing::error!(
            "the schema's own SDL does not parse: every operation is counted as unknown"
        );
        return HashSet::new();
    };
    let mut roots: HashSet<String> = ["Query", "Mutation", "Subscription"]
        .map(String::from)
        .into();
    for definition in &document.definitions {
        if let TypeSystemDefinition::Schema(schema) = definition {
            let schema = &schema.node;
            roots.extend(
                [&schema.query, &schema.mutation, &schema.subscription]
                    .into_iter()
                    .flatten()
                    .map(|name| name.node.to_string()),
            );
        }
    }
    let mut fields = HashSet::new();
    for definition in &document.definitions {
        if let TypeSystemDefinition::Type(ty) = definition
            && roots.contains(ty.node.name.node.as_str())
            && let TypeKind::Object(object) = &ty.node.kind
        {
            fields.extend(object.fields.iter().map(|f| f.node.name.node.to_string()));
        }
    }
    fields
}

/// One live subscription on the `live_subscriptions` gauge, for as long as it is held.
pub struct LiveSubscription(IntGauge);

impl Drop for LiveSubscription {
    fn drop(&mut self) {
        self.0.dec();
    }
}

/// Records each GraphQL request in [`Metrics`].
pub struct MetricsExtension(pub Arc<Metrics>);

impl ExtensionFactory for MetricsExtension {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(RequestMetrics {
            metrics: Arc::clone(&self.0),
            operation: Mutex::new(None),
            validated: AtomicBool::new(false),
        })
    }
}

struct RequestMetrics {
    metrics: Arc<Metrics>,
    /// The first root field of the parsed document: client text until checked against the schema.
    operation: Mutex<Option<String>>,
    /// Whether the document passed validation.
    validated: AtomicBool,
}

fn first_root_field(doc: &ExecutableDocument) -> Option<String> {
    let (_, operation) = doc.operations.iter().next()?;
    operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .find_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.to_string()),
            _ => None,
        })
}

#[async_trait::async_trait]
impl Extension for RequestMetrics {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let first_root_field = self
            .operation
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .take();
        let operation = self.metrics.operation_label(
            first_root_field.as_deref(),
            self.validated.load(Ordering::SeqCst),
        );
        let code = response
            .errors
            .first()
            .and_then(|e| e.extensions.as_ref())
            .and_then(|ext| match ext.get("code") {
                Some(async_graphql::Value::String(code)) => Some(code.clone()),
                _ => None,
            })
            .unwrap_or_else(|| {
                if response.errors.is_empty() {
                    "OK".into()
                } else {
                    "INTERNAL".into()
                }
            });
        self.metrics
            .observe(operation, &code, started.elapsed().as_secs_f64());
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let doc = next.run(ctx, query, variables).await?;
        if let Ok(mut slot) = self.operation.lock() {
            *slot = first_root_field(&doc);
        }
        Ok(doc)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await;
        self.validated.store(result.is_ok(), Ordering::SeqCst);
        result
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operation_labels_are_the_schemas_root_fields_or_unknown() {
        let metrics = Metrics::new().expect("metrics");
        for field in ["me", "login", "bookingEvents"] {
            assert_eq!(metrics.operation_label(Some(field), true), field);
            assert_eq!(
                metrics.operation_label(Some(field), false),
                UNKNOWN_OPERATION,
                "a document that did not validate"
            );
        }
        for other in ["madeUp", "__typename", "User", ""] {
            assert_eq!(
                metrics.operation_label(Some(other), true),
                UNKNOWN_OPERATION
            );
        }
        assert_eq!(metrics.operation_label(None, true), UNKNOWN_OPERATION);
    }
}
