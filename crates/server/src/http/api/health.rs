//! Health, for load balancers, and metrics on the API listener for administrators.
//! A Prometheus scraper without a token reads them from the metrics listener
//! (`metrics_listen`, see [`crate::http::metrics::router`]).

use axum::Json;
use axum::extract::State;
use axum::http::Method;
use axum::response::{IntoResponse, Response};
use podium_core::security::RouteAccess;

use crate::http::error::ApiResult;
use crate::http::extract::Auth;
use crate::http::metrics::text_response;
use crate::http::routes::Routes;
use crate::http::state::AppState;

/// Adds the health and metrics routes.
pub fn routes(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/health", RouteAccess::Public, health)
        .add(Method::GET, "/api/health", RouteAccess::Public, health)
        .add(Method::GET, "/metrics", RouteAccess::Admin, metrics)
}

/// Whether the server can reach its store. Public.
async fn health(State(state): State<AppState>) -> Response {
    match state.operations.health().await {
        Ok(_) => {
            Json(serde_json::json!({"healthy": true, "database": "reachable"})).into_response()
        }
        Err(err) => {
            tracing::error!(error = %err, "health check failed: the store is not reachable");
            (
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({"healthy": false, "database": "unreachable"})),
            )
                .into_response()
        }
    }
}

/// Metrics in Prometheus text format. Needs: the ADMIN role (they name every queue,
/// that is every task type and domain, and count workflows by status).
async fn metrics(State(state): State<AppState>, Auth(principal): Auth) -> ApiResult<Response> {
    let text = state
        .metrics
        .render_for(&principal, &state.operations)
        .await?;
    Ok(text_response(text))
}
