//! Prometheus metrics: requests by route and status, latencies, queue depths and
//! workflows by status. The registry is a value passed down, not a global. On the API
//! listener `/metrics` is for administrators; [`router`] serves it without
//! credentials on the separate metrics listener (`metrics_listen`), for a scraper.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::encoding::text::encode;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use podium_core::error::CoreResult;
use podium_core::security::Principal;
use podium_core::service::operations::{Gauges, OperationsService};

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: String,
    route: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RouteLabels {
    method: String,
    route: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct QueueLabels {
    queue: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct StatusLabels {
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct PoolLabels {
    state: &'static str,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CallLabels {
    kind: &'static str,
}

/// A gauge holding a float (seconds).
type SecondsGauge = Gauge<f64, std::sync::atomic::AtomicU64>;

fn latency_histogram() -> Histogram {
    Histogram::new([
        0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
    ])
}

/// The server's metrics.
pub struct Metrics {
    registry: parking_lot::Mutex<Registry>,
    requests: Family<RequestLabels, Counter>,
    latency: Family<RouteLabels, Histogram, fn() -> Histogram>,
    queue_depth: Family<QueueLabels, Gauge>,
    workflows: Family<StatusLabels, Gauge>,
    pool: Family<PoolLabels, Gauge>,
    store_calls: Family<CallLabels, Gauge>,
    store_call_errors: Family<CallLabels, Gauge>,
    store_call_seconds: Family<CallLabels, SecondsGauge>,
}

impl Metrics {
    /// A registry with Podium's metrics.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("podium");
        let requests = Family::<RequestLabels, Counter>::default();
        let latency = Family::<RouteLabels, Histogram, fn() -> Histogram>::new_with_constructor(
            latency_histogram,
        );
        let queue_depth = Family::<QueueLabels, Gauge>::default();
        let workflows = Family::<StatusLabels, Gauge>::default();
        registry.register(
            "http_requests",
            "HTTP requests by route and status",
            requests.clone(),
        );
        registry.register(
            "http_request_duration_seconds",
            "HTTP request latency by route",
            latency.clone(),
        );
        registry.register(
            "queue_depth",
            "Tasks waiting in each queue",
            queue_depth.clone(),
        );
        registry.register("workflows", "Workflows by status", workflows.clone());
        let pool = Family::<PoolLabels, Gauge>::default();
        registry.register(
            "db_pool_connections",
            "Database connections by state (open, idle, waiting callers, max); PostgreSQL only",
            pool.clone(),
        );
        let store_calls = Family::<CallLabels, Gauge>::default();
        registry.register(
            "store_calls",
            "Store calls by kind since the start (unit_of_work, claim, claim_jobs, pool_wait)",
            store_calls.clone(),
        );
        let store_call_errors = Family::<CallLabels, Gauge>::default();
        registry.register(
            "store_call_errors",
            "Failed store calls by kind since the start",
            store_call_errors.clone(),
        );
        let store_call_seconds = Family::<CallLabels, SecondsGauge>::default();
        registry.register(
            "store_call_seconds",
            "Time spent in store calls by kind since the start, in seconds (divide by store_calls for the mean)",
            store_call_seconds.clone(),
        );
        Metrics {
            registry: parking_lot::Mutex::new(registry),
            requests,
            latency,
            queue_depth,
            workflows,
            pool,
            store_calls,
            store_call_errors,
            store_call_seconds,
        }
    }

    /// Records one request.
    pub fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        self.requests
            .get_or_create(&RequestLabels {
                method: method.to_string(),
                route: route.to_string(),
                status,
            })
            .inc();
        self.latency
            .get_or_create(&RouteLabels {
                method: method.to_string(),
                route: route.to_string(),
            })
            .observe(seconds);
    }

    /// Renders every metric for a caller of the API: administrators only.
    pub async fn render_for(
        &self,
        principal: &Principal,
        operations: &OperationsService,
    ) -> CoreResult<String> {
        let gauges = operations.gauges_for(principal).await?;
        self.render(gauges)
    }

    /// Renders every metric with the gauges read from the store.
    fn render(&self, gauges: Gauges) -> CoreResult<String> {
        let Gauges {
            queues,
            workflows: counts,
            store,
        } = gauges;
        if let Some(pool) = store.pool {
            for (state, value) in [
                ("open", pool.open),
                ("idle", pool.idle),
                ("waiting", pool.waiting),
                ("max", pool.max),
            ] {
                self.pool
                    .get_or_create(&PoolLabels { state })
                    .set(i64::try_from(value).unwrap_or(i64::MAX));
            }
        }
        for call in store.calls {
            let labels = CallLabels { kind: call.kind };
            let count = |n: u64| i64::try_from(n).unwrap_or(i64::MAX);
            self.store_calls
                .get_or_create(&labels)
                .set(count(call.count));
            self.store_call_errors
                .get_or_create(&labels)
                .set(count(call.errors));
            self.store_call_seconds
                .get_or_create(&labels)
                .set(call.seconds);
        }
        self.queue_depth.clear();
        for (queue, size) in queues {
            self.queue_depth
                .get_or_create(&QueueLabels { queue })
                .set(size);
        }
        for status in podium_core::model::WorkflowStatus::ALL {
            let count = counts.get(&status).copied().unwrap_or(0);
            self.workflows
                .get_or_create(&StatusLabels {
                    status: status.as_str().to_string(),
                })
                .set(count);
        }
        let mut out = String::new();
        encode(&mut out, &self.registry.lock())
            .map_err(|e| podium_core::error::CoreError::Internal(e.to_string()))?;
        Ok(out)
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

/// Middleware recording every request under its route template (never the raw path,
/// which would carry ids).
pub async fn track(State(metrics): State<Arc<Metrics>>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let response = next.run(req).await;
    metrics.observe(
        &method,
        &route,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// The Prometheus text answer.
pub fn text_response(text: String) -> Response {
    (
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response()
}

/// What the metrics listener serves: `GET /metrics` without credentials, nothing else.
#[derive(Clone)]
struct Scrape {
    metrics: Arc<Metrics>,
    operations: OperationsService,
}

/// The router of the metrics listener (`metrics_listen`): `GET /metrics` with no
/// credentials, for a Prometheus scraper on an address only it reaches; every other
/// path is 404. Its requests are not counted in the request metrics.
pub fn router(metrics: Arc<Metrics>, operations: OperationsService) -> axum::Router {
    axum::Router::new()
        .route("/metrics", axum::routing::get(scrape))
        .fallback(|uri: axum::http::Uri| async move {
            crate::http::error::ApiError::NoRoute(uri.path().to_string())
        })
        .with_state(Scrape {
            metrics,
            operations,
        })
}

async fn scrape(State(scrape): State<Scrape>) -> Response {
    let rendered = match scrape.operations.gauges_for_metrics_listener().await {
        Ok(gauges) => scrape.metrics.render(gauges),
        Err(err) => Err(err),
    };
    match rendered {
        Ok(text) => text_response(text),
        Err(err) => crate::http::error::ApiError::from(err).into_response(),
    }
}
