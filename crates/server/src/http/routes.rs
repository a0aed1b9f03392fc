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
use podium_core::error::CoreError;
use podium_core::security::{Credentials, Principal, RouteAccess, SecurityMode, invalid_token};
use podium_core::service::audit::{self, AuditContext};
use podium_core::service::sessions::ActiveSession;

use super::error::ApiError;
use super::session::{Site, is_safe};
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

/// Who a request is: by its token (Podium's own, or the identity provider's), else
/// by its session cookie. A request made with a session that would change
/// something must come from Podium's own pages.
/// Whether a request changes something: every method but the safe ones, and the
/// scheduler's pause and resume, which Orkes serves on `GET` (the SDKs fall back to
/// it): a link followed in a browser must not pause or take over a schedule.
fn changes_state(method: &Method, path: &str) -> bool {
    !is_safe(method)
        || (path.starts_with("/api/scheduler/schedules/")
            && (path.ends_with("/pause") || path.ends_with("/resume")))
}

async fn principal_of(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    peer: Option<ConnectInfo<SocketAddr>>,
) -> Result<(Principal, Option<ActiveSession>), CoreError> {
    if let Some(token) = token_of(headers) {
        if let Some(oidc) = &state.oidc
            && !state.authenticator.minted_here(token)
        {
            // Not one of Podium's own (by its header): one of the provider's.
            return oidc.authenticate(token).await.map(|p| (p, None));
        }
        let authenticated = state
            .authenticator
            .authenticate(&Credentials { token: Some(token) })?;
        if let Some(key) = &authenticated.session {
            state
                .sessions
                .check_bound(key, authenticated.principal.id())
                .await?;
        }
        return Ok((authenticated.principal, None));
    }
    if let Some(caller) = session_of(state, method, path, headers, peer.as_ref(), false).await? {
        return Ok((caller.principal, Some(caller.session)));
    }
    let authenticated = state
        .authenticator
        .authenticate(&Credentials { token: None })?;
    Ok((authenticated.principal, None))
}

/// A person calling with a browser session: who, the session, and the cookie's
/// value (the session's secret, which the console's form tokens derive from).
pub struct SessionCaller {
    pub principal: Principal,
    pub session: ActiveSession,
    pub cookie: String,
}

/// The person a request's session cookie names, when security is on and it carries
/// one: only Podium's own pages (or a person typing an address) may use a session,
/// for reads too (a poll takes tasks), and a change made with it must come from
/// Podium's own pages. A console `page` may also be opened by a navigation from
/// elsewhere.
pub async fn session_of(
    state: &AppState,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    peer: Option<&ConnectInfo<SocketAddr>>,
    page: bool,
) -> Result<Option<SessionCaller>, CoreError> {
    if state.authenticator.mode() != SecurityMode::Enforced {
        return Ok(None);
    }
    let site = Site::of(state, peer, headers);
    let cookie = site.session_cookie(headers).map_err(|_| {
        invalid_token(
            "The request carries several session cookies: clear this site's cookies and sign in again",
        )
    })?;
    let Some(cookie) = cookie else {
        return Ok(None);
    };
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // A console page opened from elsewhere (a link, the identity provider's
    // redirect) is a top-level navigation that reads, which is harmless: the page
    // cannot be framed and a read changes nothing.
    let opens_page = page
        && is_safe(method)
        && header("sec-fetch-mode") == Some("navigate")
        && header("sec-fetch-dest") == Some("document");
    if !opens_page && header("sec-fetch-site").is_some_and(|v| v != "same-origin" && v != "none") {
        return Err(CoreError::Forbidden(
            "A browser session is used only by Podium's own pages (Sec-Fetch-Site)".into(),
        ));
    }
    if changes_state(method, path) && !site.from_own_pages(headers) {
        return Err(CoreError::Forbidden(
            "A change made with a browser session must come from Podium's own pages (its Origin header must name this server)".into(),
        ));
    }
    let (principal, session) = state.sessions.resolve(&cookie).await?;
    Ok(Some(SessionCaller {
        principal,
        session,
        cookie,
    }))
}

async fn authenticate(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let found = principal_of(&state, req.method(), req.uri().path(), req.headers(), peer).await;
    match found {
        Ok((principal, session)) => run_as(&state, req, next, principal, session).await,
        Err(err) => ApiError::from(err).into_response(),
    }
}

/// Runs the rest of a request as `principal`: it is in the request's extensions
/// (with the session it came with), and it authors the security events the
/// request causes.
pub async fn run_as(
    state: &AppState,
    mut req: Request,
    next: Next,
    principal: Principal,
    session: Option<ActiveSession>,
) -> Response {
    tracing::Span::current().record("principal", principal.id());
    let author = AuditContext {
        principal: principal.id().to_string(),
        client: super::client_addr::client_of(
            req.extensions().get::<ConnectInfo<SocketAddr>>(),
            req.headers(),
            state,
        )
        .map(|ip| ip.to_string()),
    };
    req.extensions_mut().insert(principal);
    if let Some(session) = session {
        req.extensions_mut().insert(session);
    }
    audit::scoped(author, next.run(req)).await
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
            RouteAccess::Page => method_router.layer(middleware::from_fn_with_state(
                self.state.clone(),
                crate::console::viewer::person,
            )),
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
