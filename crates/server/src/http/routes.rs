//! The route table. Every route is added with the access it needs; the route's layer
//! authenticates the caller (once, before the handler) for every route that is not
//! public, so a handler cannot be reached without a principal.

use std::net::SocketAddr;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::handler::Handler;
use axum::http::{HeaderMap, Method};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodFilter, on};
use podium_core::security::{Credentials, RouteAccess};
use podium_core::service::audit::{self, AuditContext};

use super::error::ApiError;
use super::state::AppState;

/// One entry of the route table.
#[derive(Debug, Clone)]
pub struct RouteSpec {
    pub method: Method,
    pub path: &'static str,
    pub access: RouteAccess,
}

/// Builds the router and the table of declared accesses together.
pub struct Routes {
    router: Router<AppState>,
    specs: Vec<RouteSpec>,
    state: AppState,
}

/// The token of a request: `X-Authorization`, else `Authorization: Bearer`.
pub fn token_of(headers: &HeaderMap) -> Option<&str> {
    if let Some(value) = headers.get("x-authorization").and_then(|v| v.to_str().ok()) {
        return Some(value.trim()).filter(|v| !v.is_empty());
    }
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| {
            let (scheme, token) = v.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .filter(|v| !v.is_empty())
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let token = token_of(req.headers());
    let principal = match (&state.oidc, token) {
        // A token that is not one of Podium's own (by its header) is checked as one
        // of the identity provider's access tokens.
        (Some(oidc), Some(token)) if !state.authenticator.minted_here(token) => {
            let token = token.to_string();
            oidc.authenticate(&token).await
        }
        _ => state.authenticator.authenticate(&Credentials { token }),
    };
    match principal {
        Ok(principal) => {
            tracing::Span::current().record("principal", principal.id());
            // The author of the security events the request causes.
            let author = AuditContext {
                principal: principal.id().to_string(),
                client: super::client_addr::client_of(
                    req.extensions().get::<ConnectInfo<SocketAddr>>(),
                    req.headers(),
                    &state,
                )
                .map(|ip| ip.to_string()),
            };
            req.extensions_mut().insert(principal);
            audit::scoped(author, next.run(req)).await
        }
        Err(err) => ApiError::from(err).into_response(),
    }
}

impl Routes {
    /// An empty table.
    pub fn new(state: AppState) -> Routes {
        Routes {
            router: Router::new(),
            specs: Vec::new(),
            state,
        }
    }

    /// Adds a route with the access it needs.
    pub fn add<H, T>(
        mut self,
        method: Method,
        path: &'static str,
        access: RouteAccess,
        handler: H,
    ) -> Routes
    where
        H: Handler<T, AppState>,
        T: 'static,
    {
        let filter = match MethodFilter::try_from(method.clone()) {
            Ok(filter) => filter,
            Err(_) => return self,
        };
        let method_router = on(filter, handler);
        let method_router = match access {
            RouteAccess::Public => method_router,
            _ => method_router.layer(middleware::from_fn_with_state(
                self.state.clone(),
                authenticate,
            )),
        };
        self.router = self.router.route(path, method_router);
        self.specs.push(RouteSpec {
            method,
            path,
            access,
        });
        self
    }

    /// The router and its table.
    pub fn finish(self) -> (Router<AppState>, Vec<RouteSpec>) {
        (self.router, self.specs)
    }
}
