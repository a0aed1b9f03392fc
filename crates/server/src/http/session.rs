//! Browser sessions on the wire: the session cookie, the address Podium is reached
//! at (its own origin), and the check that a state-changing request made with a
//! session comes from Podium's own pages (CSRF).
//!
//! The cookie is `__Host-podium_session` (Secure, so a sibling domain cannot plant
//! one) when Podium is reached over HTTPS, else `podium_session`; always HttpOnly
//! and SameSite=Lax, for the path `/`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, header};
use cookie::{Cookie, SameSite};

use super::state::AppState;

/// The cookie's name over plain HTTP.
pub const PLAIN_COOKIE: &str = "podium_session";
/// The cookie's name over HTTPS.
pub const SECURE_COOKIE: &str = "__Host-podium_session";

/// A scheme, host and port: what an `Origin` header names, and where Podium is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
}

impl Origin {
    /// From a URL (`https://podium.example.org`, `http://127.0.0.1:8080/x`).
    pub fn parse(text: &str) -> Result<Origin, String> {
        let url = url::Url::parse(text.trim()).map_err(|e| e.to_string())?;
        let https = match url.scheme() {
            "https" => true,
            "http" => false,
            other => return Err(format!("the scheme must be http or https, not {other}")),
        };
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or("it names no host")?
            .to_ascii_lowercase();
        let port = url.port_or_known_default().ok_or("it names no port")?;
        Ok(Origin { https, host, port })
    }

    /// Whether its host is this machine by name or address (`localhost`,
    /// `127.0.0.1`, `[::1]`): what a name another site controls never is, even
    /// when it resolves here (DNS rebinding).
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }

    /// Whether it is reached over HTTPS.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// `scheme://host[:port]`, the port left out when it is the scheme's default.
    pub fn text(&self) -> String {
        let scheme = if self.https { "https" } else { "http" };
        let default = if self.https { 443 } else { 80 };
        if self.port == default {
            format!("{scheme}://{}", self.host)
        } else {
            format!("{scheme}://{}:{}", self.host, self.port)
        }
    }
}

/// Where a request reached Podium: the configured `public_url`, else the request's
/// `Host` over HTTP (HTTPS when a trusted proxy says so in `X-Forwarded-Proto`).
#[derive(Debug, Clone)]
pub struct Site {
    /// None when the request names no usable host.
    pub origin: Option<Origin>,
}

impl Site {
    /// The site of a request from `peer` with these headers.
    pub fn of(
        state: &AppState,
        peer: Option<&ConnectInfo<SocketAddr>>,
        headers: &HeaderMap,
    ) -> Site {
        if let Some(public) = &state.public_origin {
            return Site {
                origin: Some(public.clone()),
            };
        }
        let proxied_https = peer.is_some_and(|ConnectInfo(addr)| {
            state.trusted_proxies.trusts(addr.ip())
                && headers
                    .get("x-forwarded-proto")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|v| v.trim().eq_ignore_ascii_case("https"))
        });
        let scheme = if proxied_https { "https" } else { "http" };
        let origin = headers
            .get(header::HOST)
            .and_then(|v| v.to_str().ok())
            .filter(|host| !host.contains(['/', '@', '?', '#', '\\']))
            .and_then(|host| Origin::parse(&format!("{scheme}://{host}")).ok());
        Site { origin }
    }

    /// Whether cookies are for HTTPS.
    pub fn secure(&self) -> bool {
        self.origin.as_ref().is_some_and(Origin::is_https)
    }

    /// The session cookie's name here.
    pub fn cookie_name(&self) -> &'static str {
        self.named(PLAIN_COOKIE, SECURE_COOKIE)
    }

    /// Whether a request comes from one of Podium's own pages: its `Origin` names
    /// this site or, when the browser sent none, its `Referer` does.
    pub fn from_own_pages(&self, headers: &HeaderMap) -> bool {
        let Some(own) = &self.origin else {
            return false;
        };
        let named = headers
            .get(header::ORIGIN)
            .or_else(|| headers.get(header::REFERER))
            .and_then(|v| v.to_str().ok());
        named
            .and_then(|text| Origin::parse(text).ok())
            .is_some_and(|origin| origin == *own)
    }

    /// The session cookie the request carries: none when it carries none, an error
    /// when it carries several (one may have been planted for a parent domain, and
    /// which is whose cannot be told).
    pub fn session_cookie(&self, headers: &HeaderMap) -> Result<Option<String>, SeveralCookies> {
        self.cookie(headers, self.cookie_name())
    }

    /// The `Set-Cookie` that holds a new session for `max_age_seconds`.
    pub fn set_cookie(&self, value: &str, max_age_seconds: i64) -> HeaderValue {
        self.make_cookie(self.cookie_name(), value, "/", max_age_seconds)
    }

    /// The `Set-Cookie` that removes the session cookie.
    pub fn clear_cookie(&self) -> HeaderValue {
        self.make_cookie(self.cookie_name(), "", "/", 0)
    }

    /// `plain` over HTTP, `secure` (a `__Host-` name) over HTTPS.
    pub fn named(&self, plain: &'static str, secure: &'static str) -> &'static str {
        if self.secure() { secure } else { plain }
    }

    /// The value of the cookie `name`, if the request carries exactly one.
    pub fn cookie(
        &self,
        headers: &HeaderMap,
        name: &str,
    ) -> Result<Option<String>, SeveralCookies> {
        let mut found = None;
        for value in headers.get_all(header::COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            for cookie in Cookie::split_parse(text).flatten() {
                if cookie.name() == name {
                    if found.is_some() {
                        return Err(SeveralCookies);
                    }
                    found = Some(cookie.value().to_string());
                }
            }
        }
        Ok(found)
    }

    /// A `Set-Cookie`: HttpOnly, SameSite=Lax, Secure over HTTPS; a max age of 0
    /// removes the cookie.
    pub fn make_cookie(
        &self,
        name: &str,
        value: &str,
        path: &str,
        max_age_seconds: i64,
    ) -> HeaderValue {
        let cookie = Cookie::build((name.to_string(), value.to_string()))
            .path(path.to_string())
            .http_only(true)
            .secure(self.secure())
            .same_site(SameSite::Lax)
            .max_age(cookie::time::Duration::seconds(max_age_seconds.max(0)))
            .build();
        header_value(&cookie.to_string())
    }
}

fn header_value(text: &str) -> HeaderValue {
    // Names and values are ours (hex and fixed names): always valid.
    HeaderValue::from_str(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// A request carried several session cookies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SeveralCookies;

/// Whether a method changes nothing (and so needs no CSRF check).
pub fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

impl FromRequestParts<AppState> for Site {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        Ok(Site::of(
            state,
            parts.extensions.get::<ConnectInfo<SocketAddr>>(),
            &parts.headers,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                axum::http::HeaderName::from_bytes(name.as_bytes()).expect("name"),
                value.parse().expect("value"),
            );
        }
        map
    }

    fn site(origin: &str) -> Site {
        Site {
            origin: Some(Origin::parse(origin).expect("origin")),
        }
    }

    #[test]
    fn origins_compare_by_scheme_host_and_port() {
        let own = Origin::parse("http://127.0.0.1:8080").expect("parse");
        assert_eq!(
            own,
            Origin::parse("http://127.0.0.1:8080/login?x=1").expect("parse")
        );
        assert_ne!(own, Origin::parse("https://127.0.0.1:8080").expect("parse"));
        assert_ne!(own, Origin::parse("http://127.0.0.1:8081").expect("parse"));
        assert_eq!(
            Origin::parse("HTTPS://Podium.Example.org:443")
                .expect("parse")
                .text(),
            "https://podium.example.org"
        );
        assert!(Origin::parse("ftp://x").is_err());
        assert!(Origin::parse("null").is_err());
    }

    #[test]
    fn only_requests_from_own_pages_pass() {
        let own = site("http://127.0.0.1:8080");
        assert!(own.from_own_pages(&headers(&[("origin", "http://127.0.0.1:8080")])));
        assert!(own.from_own_pages(&headers(&[("referer", "http://127.0.0.1:8080/login")])));
        assert!(!own.from_own_pages(&headers(&[("origin", "http://evil.example")])));
        assert!(!own.from_own_pages(&headers(&[("origin", "null")])));
        // The Origin decides when both are sent.
        assert!(!own.from_own_pages(&headers(&[
            ("origin", "http://evil.example"),
            ("referer", "http://127.0.0.1:8080/")
        ])));
        assert!(!own.from_own_pages(&headers(&[])));
        assert!(!Site { origin: None }.from_own_pages(&headers(&[("origin", "http://x")])));
    }

    #[test]
    fn cookies_are_named_by_the_scheme_and_never_ambiguous() {
        let plain = site("http://127.0.0.1:8080");
        let secure = site("https://podium.example.org");
        assert_eq!(plain.cookie_name(), PLAIN_COOKIE);
        assert_eq!(secure.cookie_name(), SECURE_COOKIE);
        let set = secure.set_cookie("abc", 60);
        let text = set.to_str().expect("text");
        for part in [
            "__Host-podium_session=abc",
            "HttpOnly",
            "SameSite=Lax",
            "Secure",
            "Path=/",
            "Max-Age=60",
        ] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
        assert!(
            !plain
                .set_cookie("abc", 60)
                .to_str()
                .expect("text")
                .contains("Secure")
        );
        let one = headers(&[("cookie", "a=1; podium_session=s1")]);
        assert_eq!(plain.session_cookie(&one), Ok(Some("s1".into())));
        // The plain name does not count over HTTPS.
        assert_eq!(secure.session_cookie(&one), Ok(None));
        let two = headers(&[
            ("cookie", "podium_session=s1"),
            ("cookie", "podium_session=s2"),
        ]);
        assert_eq!(plain.session_cookie(&two), Err(SeveralCookies));
    }
}
