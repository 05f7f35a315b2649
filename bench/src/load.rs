//! The load generator: hyper's client over loopback, N closed-loop clients bounded in time and in
//! count, latencies kept per request and summarised as throughput, p50 and p99.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use http_body_util::{BodyExt as _, Full};
use hyper::body::Bytes;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HeaderValue};
use hyper::{Method, Request, StatusCode, Uri};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// An HTTP/1.1 client with a keep-alive pool (one connection per concurrent client).
#[derive(Clone)]
pub struct Http {
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    pub fn new() -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Http { client }
    }

    /// POSTs a JSON body; the response body when the status is 200 and the body holds no
    /// GraphQL `errors`, else why not.
    pub async fn post(&self, uri: &Uri, token: Option<&str>, body: Bytes) -> Result<Bytes, String> {
        let mut request = Request::builder()
            .method(Method::POST)
            .uri(uri.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Some(token) = token {
            request = request.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Full::new(body))
            .map_err(|e| format!("request: {e}"))?;
        let response = self
            .client
            .request(request)
            .await
            .map_err(|e| format!("HTTP: {e}"))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| format!("body: {e}"))?
            .to_bytes();
        if status != StatusCode::OK {
            return Err(format!(
                "status {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        if contains(&body, b"\"errors\"") {
            return Err(format!(
                "GraphQL errors: {}",
                String::from_utf8_lossy(&body)
            ));
        }
        Ok(body)
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// How long and how hard to drive one measurement.
#[derive(Debug, Clone, Copy)]
pub struct Load {
    /// Concurrent closed-loop clients.
    pub clients: usize,
    /// Requests before this much time are not recorded.
    pub warmup: Duration,
    /// Recorded time after the warm-up.
    pub duration: Duration,
    /// Most requests started in all (warm-up included).
    pub max_requests: u64,
}

/// What one measurement saw.
#[derive(Debug, Clone, Default)]
pub struct Sample {
    /// Latencies of the recorded requests, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// Recorded time, seconds.
    pub seconds: f64,
    pub errors: u64,
    pub first_error: Option<String>,
}

impl Sample {
    pub fn count(&self) -> usize {
        self.latencies_us.len()
    }

    pub fn throughput(&self) -> f64 {
        if self.seconds > 0.0 {
            self.count() as f64 / self.seconds
        } else {
            0.0
        }
    }

    /// Adds another sample's requests (of the same kind) to this one.
    pub fn merge(&mut self, other: Sample) {
        self.latencies_us.extend(other.latencies_us);
        self.latencies_us.sort_unstable();
        self.seconds += other.seconds;
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }

    /// The `q` quantile (nearest rank), milliseconds.
    pub fn quantile_ms(&self, q: f64) -> f64 {
        quantile_ms(&self.latencies_us, q)
    }
}

/// The `q` quantile (nearest rank) of sorted microseconds, in milliseconds.
pub fn quantile_ms(sorted_us: &[u64], q: f64) -> f64 {
    if sorted_us.is_empty() {
        return f64::NAN;
    }
    let rank = ((q * sorted_us.len() as f64).ceil() as usize).clamp(1, sorted_us.len());
    sorted_us[rank - 1] as f64 / 1000.0
}

/// Runs `request(client, sequence)` from `load.clients` closed-loop clients until the warm-up
/// and the duration have passed or `max_requests` were started, whichever comes first.
pub async fn drive<F, Fut>(load: Load, request: F) -> Sample
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<(), String>> + Send + 'static,
{
    let request = Arc::new(request);
    let started = Arc::new(AtomicU64::new(0));
    let begin = Instant::now();
    let recording = begin + load.warmup;
    let end = recording + load.duration;
    let mut tasks = Vec::with_capacity(load.clients);
    for client in 0..load.clients.max(1) {
        let (request, started) = (Arc::clone(&request), Arc::clone(&started));
        tasks.push(tokio::spawn(async move {
            let mut latencies = Vec::new();
            let mut errors = 0u64;
            let mut first_error = None;
            loop {
                let at = Instant::now();
                if at >= end {
                    break;
                }
                let sequence = started.fetch_add(1, Ordering::Relaxed);
                if sequence >= load.max_requests {
                    break;
                }
                let outcome = request(client, sequence).await;
                let took = at.elapsed();
                match outcome {
                    Ok(()) if at >= recording => latencies.push(took.as_micros() as u64),
                    Ok(()) => {}
                    Err(error) => {
                        errors += 1;
                        first_error.get_or_insert(error);
                    }
                }
            }
            (latencies, errors, first_error)
        }));
    }
    let mut sample = Sample::default();
    for task in tasks {
        match task.await {
            Ok((latencies, errors, first_error)) => {
                sample.latencies_us.extend(latencies);
                sample.errors += errors;
                if sample.first_error.is_none() {
                    sample.first_error = first_error;
                }
            }
            Err(error) => {
                sample.errors += 1;
                sample
                    .first_error
                    .get_or_insert(format!("client task: {error}"));
            }
        }
    }
    let finished = Instant::now();
    sample.seconds = finished.saturating_duration_since(recording).as_secs_f64();
    sample.latencies_us.sort_unstable();
    sample
}

/// A GraphQL request body.
pub fn graphql_body(query: &str, variables: serde_json::Value) -> Bytes {
    Bytes::from(
        serde_json::json!({"query": query, "variables": variables})
            .to_string()
            .into_bytes(),
    )
}
