//! The HTTP layer: the route table, extractors, errors, metrics, and the layers every
//! request passes through (request id, trace span, panic guard, metrics).

pub mod api;
pub mod client_addr;
pub mod error;
pub mod extract;
pub mod login;
pub mod metrics;
pub mod pages;
pub mod routes;
pub mod session;
pub mod state;

use std::time::Duration;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request, Response};
use axum::response::IntoResponse;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use tracing::Span;

use error::ApiError;
use routes::{RouteSpec, Routes};
use state::AppState;

const REQUEST_ID: &str = "x-request-id";

/// Every route with its declared access, and the router serving them.
pub fn router(state: AppState) -> (Router, Vec<RouteSpec>) {
    let routes = Routes::new(state.clone());
    let routes = api::health::routes(routes);
    let routes = api::metadata::routes(routes);
    let routes = api::workflow::routes(routes);
    let routes = api::task::routes(routes);
    let routes = api::security::routes(routes);
    let routes = api::access::routes(routes);
    let routes = api::secrets::routes(routes);
    let routes = api::scheduler::routes(routes);
    let routes = api::schemas::routes(routes);
    let routes = api::roles::routes(routes);
    let routes = api::events::routes(routes);
    let routes = api::registry::routes(routes);
    let routes = login::routes(routes);
    let routes = crate::console::routes(routes);
    let routes = api::operate::routes(routes);
    let (router, specs) = routes.finish();
    let request_id = HeaderName::from_static(REQUEST_ID);
    let router = router
        .fallback(|uri: axum::http::Uri| async move { ApiError::NoRoute(uri.path().to_string()) })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(axum::middleware::from_fn_with_state(
            state.metrics.clone(),
            metrics::track,
        ))
        .layer(DefaultBodyLimit::disable())
        // No answer is ever to be read as something else than its content type says
        // (a secret's text/plain value among them).
        .layer(SetResponseHeaderLayer::if_not_present(
            axum::http::header::X_CONTENT_TYPE_OPTIONS,
            axum::http::HeaderValue::from_static("nosniff"),
        ))
        .layer(CatchPanicLayer::custom(|_| {
            tracing::error!("a request handler panicked; the request was answered with 500");
            ApiError::Core(podium_core::error::CoreError::Internal(
                "handler panicked".into(),
            ))
            .into_response()
        }))
        .layer(
            TraceLayer::new_for_http()
                .make_span_with(|req: &Request<_>| {
                    let id = req
                        .headers()
                        .get(REQUEST_ID)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or("-");
                    tracing::info_span!(
                        "request",
                        request_id = %id,
                        method = %req.method(),
                        path = %req.uri().path(),
                        principal = tracing::field::Empty,
                    )
                })
                .on_request(())
                .on_response(|res: &Response<_>, latency: Duration, _span: &Span| {
                    tracing::debug!(
                        status = res.status().as_u16(),
                        latency_ms = latency.as_millis() as u64,
                        "answered"
                    );
                })
                .on_failure(()),
        )
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, MakeRequestUuid))
        .with_state(state);
    (router, specs)
}
