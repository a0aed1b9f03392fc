//! Who looks at a console page. The console's door resolves the browser session
//! exactly as the API does (`routes::session_of`: the same cookie, the same
//! `Sec-Fetch-Site` and `Origin` checks), sends a person who is not signed in to
//! the sign-in page, and hands the page a [`Viewer`]. With security off, everyone
//! is the open principal and there is no session.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{KeyInit, Mac};
use podium_core::error::CoreError;
use podium_core::security::{Credentials, Principal};

use super::layout;
use crate::http::routes::{run_as, session_of};
use crate::http::session::{Site, is_safe};
use crate::http::state::AppState;

type HmacSha256 = hmac::Hmac<sha2::Sha256>;

/// What every form token is derived for (the session's secret is the key).
const FORM_PURPOSE: &[u8] = b"podium console form v1";

/// The person a page is rendered for.
#[derive(Clone)]
pub struct Viewer {
    pub principal: Principal,
    /// The session's secret (its cookie's value), to derive form tokens from; none
    /// with security off.
    session_secret: Option<String>,
}

impl Viewer {
    /// Whether the person signed in with a session (not so with security off).
    pub fn signed_in(&self) -> bool {
        self.session_secret.is_some()
    }

    /// The token every form of this person's pages carries: an HMAC of a fixed
    /// purpose keyed by the session's secret. Another site can neither read it nor
    /// compute it, and it changes with every sign-in. Empty with security off.
    pub fn form_token(&self) -> String {
        match &self.session_secret {
            Some(secret) => URL_SAFE_NO_PAD.encode(mac_of(secret).finalize().into_bytes()),
            None => String::new(),
        }
    }

    /// Whether a form's token is this person's (in constant time). Any token
    /// passes with security off, where nothing is refused anyway.
    pub fn accepts(&self, token: &str) -> bool {
        match &self.session_secret {
            Some(secret) => token_matches(secret, token),
            None => true,
        }
    }
}

/// Whether `token` is the form token of the session whose secret is `secret` (in
/// constant time).
pub fn token_matches(secret: &str, token: &str) -> bool {
    let Ok(bytes) = URL_SAFE_NO_PAD.decode(token.trim()) else {
        return false;
    };
    mac_of(secret).verify_slice(&bytes).is_ok()
}

fn mac_of(secret: &str) -> HmacSha256 {
    let mut mac = match HmacSha256::new_from_slice(secret.as_bytes()) {
        Ok(mac) => mac,
        // HMAC takes a key of any length.
        Err(_) => unreachable!("HMAC accepts keys of every length"),
    };
    mac.update(FORM_PURPOSE);
    mac
}

/// The door of every console page (`RouteAccess::Page`).
pub async fn person(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().cloned();
    let method = req.method().clone();
    let found = session_of(
        &state,
        &method,
        req.uri().path(),
        req.headers(),
        peer.as_ref(),
        true,
    )
    .await;
    let (principal, session, secret) = match found {
        Ok(Some(caller)) => (caller.principal, Some(caller.session), Some(caller.cookie)),
        Ok(None) => match state
            .authenticator
            .authenticate(&Credentials { token: None })
        {
            // Security is off: everyone is the open principal, but another site
            // still may not post a form to the pages of a server on this machine.
            Ok(open) => {
                if !is_safe(&method) && !from_own_page(&state, peer.as_ref(), req.headers()) {
                    return layout::message(
                        StatusCode::FORBIDDEN,
                        "Form refused",
                        "A form must be sent from Podium's own pages, so nothing was changed.",
                    );
                }
                (open.principal, None, None)
            }
            Err(_) => return sign_in_first(&method),
        },
        // The session ended, or was never valid.
        Err(CoreError::Unauthenticated { .. }) => return sign_in_first(&method),
        Err(err) => return layout::refusal(None, &err),
    };
    req.extensions_mut().insert(Viewer {
        principal: principal.clone(),
        session_secret: secret,
    });
    run_as(&state, req, next, principal, session).await
}

/// Whether a request comes from Podium's own pages: the browser says it is
/// same-origin (or says nothing of it), and its `Origin` names this server, by its
/// configured address or a loopback name.
fn from_own_page(
    state: &AppState,
    peer: Option<&ConnectInfo<SocketAddr>>,
    headers: &axum::http::HeaderMap,
) -> bool {
    let same_origin = headers
        .get("sec-fetch-site")
        .and_then(|v| v.to_str().ok())
        .is_none_or(|v| v == "same-origin" || v == "none");
    let site = Site::of(state, peer, headers);
    // Without a configured address, the Host header names the server; a name
    // another site controls can be made to resolve here (DNS rebinding), so only
    // this machine's own names are taken.
    let trusted =
        state.public_origin.is_some() || site.origin.as_ref().is_some_and(|o| o.is_loopback());
    same_origin && trusted && site.from_own_pages(headers)
}

/// Someone without a session: a page read goes to the sign-in page; a form sent is
/// refused with a way to sign in again (what it asked is not done).
fn sign_in_first(method: &Method) -> Response {
    if is_safe(method) {
        layout::see_other("/login")
    } else {
        layout::message(
            StatusCode::FORBIDDEN,
            "Signed out",
            "Your session has ended, so nothing was changed. Sign in again and repeat what you were doing.",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_core::security::PrincipalKind;

    fn viewer(secret: Option<&str>) -> Viewer {
        Viewer {
            principal: Principal::for_tests("carol", PrincipalKind::User, &[], &[]),
            session_secret: secret.map(str::to_string),
        }
    }

    #[test]
    fn a_form_token_belongs_to_its_session_only() {
        let mine = viewer(Some("session one"));
        let token = mine.form_token();
        assert!(mine.accepts(&token));
        assert!(!viewer(Some("session two")).accepts(&token));
        assert!(!mine.accepts(""));
        assert!(!mine.accepts("not base64 at all!"));
        assert!(!mine.accepts(&token[1..]));
        // Security off: there is no session, and nothing to forge.
        assert!(viewer(None).accepts("anything"));
        assert_eq!(viewer(None).form_token(), "");
    }
}
