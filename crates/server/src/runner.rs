//! Makes the calls of `HTTP` tasks with reqwest, with the task's timeouts, and only to
//! destinations the [`DestinationPolicy`] allows. The check is made on the addresses
//! actually connected to: names go through a resolver that keeps only allowed
//! addresses (so a name that resolves elsewhere on the next lookup gains nothing),
//! addresses written in the URL are checked before the request, and redirects are
//! followed here, hop by hop, each hop checked the same way. No proxy is used: a
//! proxy would resolve names itself, out of the policy's sight.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use async_trait::async_trait;
use parking_lot::Mutex;
use podium_core::engine::http::{HttpAnswer, HttpCall, HttpCaller};
use reqwest::header::{self, HeaderName};
use reqwest::{Method, StatusCode, Url};

use crate::destinations::{DestinationPolicy, Refusal};

/// The largest response body an `HTTP` task keeps.
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// Redirects followed at most, as reqwest does by default.
const MAX_REDIRECTS: usize = 10;

/// Clients kept, one per destination port (each resolver checks for its port).
const MAX_CLIENTS: usize = 64;

/// A refused destination; its text names the host and port, never the path, query or
/// credentials of the URL.
#[derive(Debug)]
struct Denied {
    host: String,
    port: u16,
    refusal: Refusal,
    resolved: bool,
}

impl std::fmt::Display for Denied {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let verb = if self.resolved { "resolves to" } else { "is" };
        write!(
            f,
            "destination not allowed: {}:{} {verb} {}; an administrator can allow it with the http_task_allow setting",
            self.host, self.port, self.refusal
        )
    }
}

impl std::error::Error for Denied {}

/// Resolves names for one destination port, keeping only the addresses the policy
/// allows; when none is left, the lookup fails with [`Denied`].
struct CheckedResolver {
    policy: Arc<DestinationPolicy>,
    port: u16,
}

impl reqwest::dns::Resolve for CheckedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let policy = self.policy.clone();
        let port = self.port;
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), port))
                .await?
                .collect();
            let mut refusal = None;
            let allowed: Vec<SocketAddr> = found
                .into_iter()
                .filter(|addr| match policy.check(Some(&host), addr.ip(), port) {
                    Ok(()) => true,
                    Err(why) => {
                        refusal.get_or_insert(why);
                        false
                    }
                })
                .collect();
            match (allowed.is_empty(), refusal) {
                (true, Some(refusal)) => Err(Box::new(Denied {
                    host,
                    port,
                    refusal,
                    resolved: true,
                })
                    as Box<dyn std::error::Error + Send + Sync>),
                _ => Ok(Box::new(allowed.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// An [`HttpCaller`] on pooled reqwest clients, one per destination port.
pub struct ReqwestCaller {
    policy: Arc<DestinationPolicy>,
    clients: Mutex<HashMap<u16, reqwest::Client>>,
}

impl ReqwestCaller {
    /// A caller that connects only where `policy` allows; redirects are followed (up
    /// to 10), each hop checked.
    pub fn new(policy: DestinationPolicy) -> Result<ReqwestCaller, String> {
        let caller = ReqwestCaller {
            policy: Arc::new(policy),
            clients: Mutex::new(HashMap::new()),
        };
        // The usual ports, built now so that a client that cannot be built stops the start.
        caller.client_for(80)?;
        caller.client_for(443)?;
        Ok(caller)
    }

    fn client_for(&self, port: u16) -> Result<reqwest::Client, String> {
        if let Some(client) = self.clients.lock().get(&port) {
            return Ok(client.clone());
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("podium/", env!("CARGO_PKG_VERSION")))
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(CheckedResolver {
                policy: self.policy.clone(),
                port,
            })
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        let mut clients = self.clients.lock();
        if clients.len() < MAX_CLIENTS {
            clients.insert(port, client.clone());
        }
        Ok(client)
    }

    /// Checks a hop's URL before any connection: the scheme, and an address written
    /// in the URL (names are checked by the resolver). Returns the port.
    fn check_url(&self, url: &Url) -> Result<u16, String> {
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "only http and https destinations are allowed, not {}",
                url.scheme()
            ));
        }
        let port = url
            .port_or_known_default()
            .ok_or_else(|| "the URL has no port".to_string())?;
        let host = url
            .host_str()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| "the URL has no host".to_string())?;
        // The URL parser turns every numeric host form into an address; IPv6 ones
        // come bracketed. Anything else is a name, for the resolver.
        let Ok(ip) = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
        else {
            return Ok(port);
        };
        self.policy.check(None, ip, port).map_err(|refusal| {
            Denied {
                host: host.to_string(),
                port,
                refusal,
                resolved: false,
            }
            .to_string()
        })?;
        Ok(port)
    }
}

/// What the next hop of a redirect is, if `response` is one to follow.
fn redirect_target(response: &reqwest::Response, from: &Url) -> Option<Url> {
    if !matches!(
        response.status(),
        StatusCode::MOVED_PERMANENTLY
            | StatusCode::FOUND
            | StatusCode::SEE_OTHER
            | StatusCode::TEMPORARY_REDIRECT
            | StatusCode::PERMANENT_REDIRECT
    ) {
        return None;
    }
    let location = response.headers().get(header::LOCATION)?.to_str().ok()?;
    from.join(location).ok()
}

/// Headers that do not follow a redirect to another host, port or scheme.
fn is_sensitive(name: &str) -> bool {
    [
        header::AUTHORIZATION.as_str(),
        header::COOKIE.as_str(),
        "cookie2",
        header::PROXY_AUTHORIZATION.as_str(),
        header::WWW_AUTHENTICATE.as_str(),
    ]
    .iter()
    .any(|s| name.eq_ignore_ascii_case(s))
}

/// Headers about a body, dropped with it.
fn is_body_header(name: &str) -> bool {
    [
        header::CONTENT_TYPE,
        header::CONTENT_LENGTH,
        header::CONTENT_ENCODING,
        header::TRANSFER_ENCODING,
    ]
    .iter()
    .any(|h: &HeaderName| name.eq_ignore_ascii_case(h.as_str()))
}

/// One request of a call as it moves through redirects.
struct Hop {
    url: Url,
    method: Method,
    headers: Vec<(String, String)>,
    body: Option<Vec<u8>>,
}

impl Hop {
    /// Moves to the next hop the way browsers and reqwest do: 301, 302 and 303 turn
    /// into a GET without body (HEAD stays HEAD), 307 and 308 repeat the request;
    /// credentials stay behind when the host, port or scheme changes.
    fn follow(&mut self, status: StatusCode, next: Url) {
        if matches!(
            status,
            StatusCode::MOVED_PERMANENTLY | StatusCode::FOUND | StatusCode::SEE_OTHER
        ) {
            if self.method != Method::HEAD {
                self.method = Method::GET;
            }
            self.body = None;
            self.headers.retain(|(name, _)| !is_body_header(name));
        }
        let cross_origin = next.host_str() != self.url.host_str()
            || next.port_or_known_default() != self.url.port_or_known_default()
            || next.scheme() != self.url.scheme();
        if cross_origin {
            self.headers.retain(|(name, _)| !is_sensitive(name));
        }
        self.url = next;
    }
}

#[async_trait]
impl HttpCaller for ReqwestCaller {
    async fn call(&self, call: HttpCall) -> Result<HttpAnswer, String> {
        let url = Url::parse(&call.uri).map_err(|e| format!("the URI is not valid: {e}"))?;
        let method = Method::from_bytes(call.method.as_bytes()).map_err(|e| e.to_string())?;
        let body = match &call.body {
            None => None,
            Some(serde_json::Value::String(text)) if !call.content_type.contains("json") => {
                Some(text.clone().into_bytes())
            }
            Some(other) => Some(serde_json::to_vec(other).map_err(|e| e.to_string())?),
        };
        let mut hop = Hop {
            url,
            method,
            headers: call.headers.clone(),
            body,
        };
        let deadline = Instant::now()
            + Duration::from_millis(call.connect_timeout_ms.saturating_add(call.read_timeout_ms));
        for _ in 0..=MAX_REDIRECTS {
            let port = self.check_url(&hop.url)?;
            let client = self.client_for(port)?;
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(format!("timed out: {}", place(&hop.url)));
            }
            let mut request = client
                .request(hop.method.clone(), hop.url.clone())
                .timeout(remaining)
                .header(header::ACCEPT, &call.accept);
            for (name, value) in &hop.headers {
                request = request.header(name.as_str(), value.as_str());
            }
            if let Some(bytes) = &hop.body {
                request = request
                    .header(header::CONTENT_TYPE, &call.content_type)
                    .body(bytes.clone());
            }
            let response = request.send().await.map_err(describe)?;
            match redirect_target(&response, &hop.url) {
                Some(next) => hop.follow(response.status(), next),
                None => return read_answer(response).await,
            }
        }
        Err(format!("too many redirects: {}", place(&hop.url)))
    }
}

/// Reads the status, headers and body (up to [`MAX_RESPONSE_BYTES`]).
async fn read_answer(mut response: reqwest::Response) -> Result<HttpAnswer, String> {
    let status = response.status();
    let headers = response
        .headers()
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_RESPONSE_BYTES {
            return Err(format!(
                "the response body is larger than {MAX_RESPONSE_BYTES} bytes"
            ));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(HttpAnswer {
        status: status.as_u16(),
        reason_phrase: status.canonical_reason().unwrap_or("").to_string(),
        headers,
        body,
    })
}

/// A URL without its credentials and query (they may hold secrets).
fn place(url: &Url) -> String {
    format!(
        "{}://{}{}",
        url.scheme(),
        url.host_str().unwrap_or(""),
        url.path()
    )
}

/// A transport error in a few words, without the URL's credentials or query; a
/// refused destination says so.
fn describe(err: reqwest::Error) -> String {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
    while let Some(cause) = source {
        if let Some(denied) = cause.downcast_ref::<Denied>() {
            return denied.to_string();
        }
        source = cause.source();
    }
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_body() || err.is_decode() {
        "could not read the response"
    } else {
        "request failed"
    };
    match err.url() {
        Some(url) => format!("{kind}: {}", place(url)),
        None => kind.to_string(),
    }
}
