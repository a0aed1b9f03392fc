//! Health and metrics, for load balancers and Prometheus.

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use podium_core::security::RouteAccess;

use crate::http::error::ApiResult;
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the health and metrics routes.
pub fn routes(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/health", RouteAccess::Public, health)
        .add(Method::GET, "/api/health", RouteAccess::Public, health)
        .add(Method::GET, "/metrics", RouteAccess::Public, metrics)
}

/// Whether the server can reach its store. Public.
async fn health(State(state): State<AppState>) -> Response {
    match state.runtime.stores.execution.next_check_due().await {
        Ok(_) => Json(serde_json::json!({"healthy": true})).into_response(),
        Err(err) => {
            tracing::error!(error = %err, "health check failed: the store is not reachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"healthy": false})),
            )
                .into_response()
        }
    }
}

/// Metrics in Prometheus text format. Public: it shows counts, never ids or payloads.
async fn metrics(State(state): State<AppState>) -> ApiResult<Response> {
    let text = state.metrics.render(&state.runtime).await?;
    Ok((
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        text,
    )
        .into_response())
}
