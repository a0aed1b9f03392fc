//! Browser sign-in: `GET /login` (the password form, and "Sign in with <provider>"
//! when OpenID Connect is configured), `POST /login`, the provider's round trip at
//! `/login/oidc` and `/login/oidc/callback`, `POST /logout`, the signed-in page at
//! `/`, and Copy Token at `GET /api/token/user`.
//!
//! A password typed here is checked exactly as at `POST /api/token` (the same
//! delays, throttling, directory and audit). Sign-in and sign-out are posts that
//! must come from Podium's own pages, so another site can neither sign a browser
//! in to an account of its choosing nor out.

use axum::Extension;
use axum::extract::{RawQuery, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use podium_core::error::CoreError;
use podium_core::security::RouteAccess;
use podium_core::service::sessions::ActiveSession;
use serde_json::json;

use super::client_addr::ClientAddr;
use super::error::{ApiError, ApiResult};
use super::extract::Auth;
use super::pages;
use super::routes::Routes;
use super::session::Site;
use super::state::AppState;
use crate::identity::oidc_login::{
    Callback, PENDING_COOKIE, PENDING_SECONDS, SECURE_PENDING_COOKIE,
};

/// Largest sign-in form read.
const MAX_FORM_BYTES: usize = 16 * 1024;
/// Longest user name or password taken from the form.
const MAX_FIELD_CHARS: usize = 1024;
/// The path of the pending provider sign-in cookie (a `__Host-` cookie's must be
/// `/`).
const PENDING_PATH: &str = "/";

/// Adds the sign-in routes.
pub fn routes(routes: Routes) -> Routes {
    routes
        .add(Method::GET, "/login", RouteAccess::Public, login_page)
        .add(Method::POST, "/login", RouteAccess::Public, login)
        .add(Method::POST, "/logout", RouteAccess::Public, logout)
        .add(Method::GET, "/login/oidc", RouteAccess::Public, oidc_begin)
        .add(
            Method::GET,
            "/login/oidc/callback",
            RouteAccess::Public,
            oidc_callback,
        )
        .add(
            Method::GET,
            "/api/token/user",
            RouteAccess::Authenticated,
            copy_token,
        )
        .add(Method::GET, "/static/podium.css", RouteAccess::Public, css)
        .add(
            Method::GET,
            "/static/session.js",
            RouteAccess::Public,
            script,
        )
}

async fn css() -> Response {
    pages::asset(
        "text/css; charset=utf-8",
        include_str!("../../assets/podium.css"),
    )
}

async fn script() -> Response {
    pages::asset(
        "text/javascript; charset=utf-8",
        include_str!("../../assets/session.js"),
    )
}

/// Sends the browser to `to` (303: the next request is a GET).
fn see_other(to: &str) -> Response {
    let mut response = Redirect::to(to).into_response();
    pages::secure_headers(&mut response);
    response
}

fn with_cookie(mut response: Response, cookie: HeaderValue) -> Response {
    response.headers_mut().append(header::SET_COOKIE, cookie);
    response
}

/// The person signed in with the request's session cookie, if any.
async fn signed_in(
    state: &AppState,
    site: &Site,
    headers: &HeaderMap,
) -> Option<podium_core::security::Principal> {
    let cookie = site.session_cookie(headers).ok().flatten()?;
    state.sessions.resolve(&cookie).await.ok().map(|(p, _)| p)
}

fn provider_name(state: &AppState) -> Option<&str> {
    state.oidc_login.as_deref().map(|l| l.provider_name())
}

/// `GET /login`.
async fn login_page(State(state): State<AppState>, site: Site, headers: HeaderMap) -> Response {
    if state.authenticator.mode() != podium_core::security::SecurityMode::Enforced {
        return pages::message(
            StatusCode::NOT_FOUND,
            "Sign-in is off",
            "Security is disabled on this server: there is nobody to sign in as.",
        );
    }
    if signed_in(&state, &site, &headers).await.is_some() {
        return see_other("/");
    }
    pages::login(StatusCode::OK, None, "", provider_name(&state))
}

/// The fields of the sign-in form.
fn form_fields(body: &[u8]) -> (String, String) {
    let mut username = String::new();
    let mut password = String::new();
    for (name, value) in url::form_urlencoded::parse(body) {
        match name.as_ref() {
            "username" => username = value.chars().take(MAX_FIELD_CHARS).collect(),
            "password" => password = value.chars().take(MAX_FIELD_CHARS).collect(),
            _ => {}
        }
    }
    (username, password)
}

fn refused_here() -> Response {
    pages::message(
        StatusCode::FORBIDDEN,
        "Refused",
        "This form must be sent from Podium's own sign-in page.",
    )
}

/// `POST /login`: a password sign-in; a session on success.
async fn login(
    State(state): State<AppState>,
    site: Site,
    ClientAddr(client): ClientAddr,
    req: Request,
) -> Response {
    if !site.from_own_pages(req.headers()) {
        return refused_here();
    }
    let previous = site.session_cookie(req.headers()).ok().flatten();
    let Ok(body) = axum::body::to_bytes(req.into_body(), MAX_FORM_BYTES).await else {
        return pages::message(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Sign-in refused",
            "The form is too large.",
        );
    };
    let (username, password) = form_fields(&body);
    let provider = provider_name(&state);
    if username.trim().is_empty() || password.is_empty() {
        return pages::login(
            StatusCode::BAD_REQUEST,
            Some("Enter your user name and password."),
            &username,
            provider,
        );
    }
    let checked = state
        .identity
        .sign_in_person(username.clone(), password, client)
        .await;
    let (user_id, version, method) = match checked {
        Ok(found) => found,
        Err(err) => {
            let (status, text) = match &err {
                // The same words for an unknown user and a wrong password.
                CoreError::Unauthenticated {
                    code: "INVALID_CREDENTIALS",
                    ..
                } => (
                    StatusCode::UNAUTHORIZED,
                    "Invalid user name or password.".to_string(),
                ),
                CoreError::Unauthenticated { message, .. } => {
                    (StatusCode::UNAUTHORIZED, message.clone())
                }
                CoreError::TooManyRequests(message) => {
                    (StatusCode::TOO_MANY_REQUESTS, message.clone())
                }
                CoreError::Unavailable(message) => {
                    (StatusCode::SERVICE_UNAVAILABLE, message.clone())
                }
                CoreError::NotFound(message) => (StatusCode::NOT_FOUND, message.clone()),
                CoreError::InvalidInput { message, .. } => {
                    (StatusCode::BAD_REQUEST, message.clone())
                }
                _ => {
                    tracing::error!(error = %err, "a sign-in failed");
                    (
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The sign-in failed; try again".to_string(),
                    )
                }
            };
            return pages::login(status, Some(&text), &username, provider);
        }
    };
    start_session(&state, &site, client, &user_id, version, method, previous).await
}

/// Starts a session and sends the browser to the signed-in page with its cookie.
async fn start_session(
    state: &AppState,
    site: &Site,
    client: Option<std::net::IpAddr>,
    user_id: &str,
    version: i64,
    method: &str,
    previous: Option<String>,
) -> Response {
    match state
        .sessions
        .start(user_id, version, method, client, previous.as_deref())
        .await
    {
        Ok((cookie, session)) => {
            let max_age = (session.ends_at - state.sessions.now_ms()) / 1000;
            with_cookie(see_other("/"), site.set_cookie(&cookie, max_age))
        }
        Err(err) => {
            tracing::error!(error = %err, "could not start a session");
            pages::message(
                StatusCode::SERVICE_UNAVAILABLE,
                "Sign-in failed",
                "The session could not be stored; try again later.",
            )
        }
    }
}

/// `POST /logout`: ends the session and removes its cookie.
async fn logout(
    State(state): State<AppState>,
    site: Site,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Response {
    if !site.from_own_pages(&headers) {
        return refused_here();
    }
    let cookie = site.session_cookie(&headers).ok().flatten();
    // The sign-out form of a console page carries the session's form token.
    if let Some(cookie) = &cookie {
        let body = axum::body::to_bytes(body, MAX_FORM_BYTES)
            .await
            .unwrap_or_default();
        let token = url::form_urlencoded::parse(&body)
            .find(|(name, _)| name == crate::console::form::TOKEN_FIELD)
            .map(|(_, value)| value.into_owned())
            .unwrap_or_default();
        if !crate::console::viewer::token_matches(cookie, &token) {
            return refused_here();
        }
    }
    if let Some(cookie) = cookie
        && let Err(err) = state.sessions.end(&cookie, client).await
    {
        tracing::error!(error = %err, "could not end a session");
        return pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-out failed",
            "The session could not be ended; try again.",
        );
    }
    with_cookie(see_other("/login"), site.clear_cookie())
}

/// `GET /login/oidc`: sends the browser to the provider.
async fn oidc_begin(State(state): State<AppState>, site: Site) -> Response {
    let Some(login) = state.oidc_login.as_deref() else {
        return pages::message(
            StatusCode::NOT_FOUND,
            "No identity provider",
            "Sign-in through an identity provider is not configured on this server.",
        );
    };
    match login.begin(state.sessions.now_ms() / 1000).await {
        Ok(begun) => with_cookie(
            see_other(&begun.location),
            site.make_cookie(
                site.named(PENDING_COOKIE, SECURE_PENDING_COOKIE),
                &begun.cookie,
                PENDING_PATH,
                PENDING_SECONDS,
            ),
        ),
        Err(refusal) => pages::message(
            StatusCode::SERVICE_UNAVAILABLE,
            "Sign-in failed",
            &refusal.text,
        ),
    }
}

/// `GET /login/oidc/callback`: the provider sends the browser back.
async fn oidc_callback(
    State(state): State<AppState>,
    site: Site,
    ClientAddr(client): ClientAddr,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let Some(login) = state.oidc_login.as_deref() else {
        return pages::message(
            StatusCode::NOT_FOUND,
            "No identity provider",
            "Sign-in through an identity provider is not configured on this server.",
        );
    };
    let pending_name = site.named(PENDING_COOKIE, SECURE_PENDING_COOKIE);
    let clear_pending = site.make_cookie(pending_name, "", PENDING_PATH, 0);
    let pending = site.cookie(&headers, pending_name).ok().flatten();
    let now = state.sessions.now_ms() / 1000;
    let finished = match Callback::parse(query.as_deref().unwrap_or("")) {
        Ok(callback) => login.finish(&callback, pending.as_deref(), now).await,
        Err(refusal) => Err(refusal),
    };
    let response = match finished {
        Ok((user_id, version)) => {
            let previous = site.session_cookie(&headers).ok().flatten();
            start_session(&state, &site, client, &user_id, version, "oidc", previous).await
        }
        Err(refusal) => {
            if refusal.started_here {
                state.identity.record_refused_sign_in(client, "oidc");
            }
            pages::message(StatusCode::UNAUTHORIZED, "Sign-in failed", &refusal.text)
        }
    };
    with_cookie(response, clear_pending)
}

/// `GET /api/token/user` (Copy Token): a token of the person signed in with the
/// request's session. Needs: a browser session.
async fn copy_token(
    State(state): State<AppState>,
    Auth(principal): Auth,
    ClientAddr(client): ClientAddr,
    session: Option<Extension<ActiveSession>>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let Some(Extension(session)) = session else {
        return Err(ApiError::bad_request(
            "Copy Token works with a browser session: sign in at /login (programs get tokens at POST /api/token)",
        ));
    };
    // Only Podium's own pages ask for it (browsers say who asks).
    if headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v != "same-origin" && v != "none")
    {
        return Err(
            CoreError::Forbidden("A token is handed only to Podium's own pages".into()).into(),
        );
    }
    let (token, exp) = state.identity.session_token(&principal, &session, client)?;
    let mut response = axum::Json(json!({
        "token": token,
        "expiresAt": exp * 1000,
        "userId": session.user_id,
    }))
    .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_fields_are_read_and_bounded() {
        let (user, password) = form_fields(b"username=alice%40example.org&password=a+b%26c&x=1");
        assert_eq!(
            (user.as_str(), password.as_str()),
            ("alice@example.org", "a b&c")
        );
        let long = format!("username={}", "a".repeat(5000));
        assert_eq!(form_fields(long.as_bytes()).0.len(), MAX_FIELD_CHARS);
        assert_eq!(form_fields(b"junk"), (String::new(), String::new()));
    }
}
