//! Makes the calls of `HTTP` tasks with reqwest, with the task's timeouts.

use std::time::Duration;

use async_trait::async_trait;
use podium_core::engine::http::{HttpAnswer, HttpCall, HttpCaller};

/// The largest response body an `HTTP` task keeps.
const MAX_RESPONSE_BYTES: usize = 10 * 1024 * 1024;

/// An [`HttpCaller`] on a shared reqwest client.
pub struct ReqwestCaller {
    client: reqwest::Client,
}

impl ReqwestCaller {
    /// A caller with a pooled client; redirects are followed (up to 10).
    pub fn new() -> Result<ReqwestCaller, String> {
        let client = reqwest::Client::builder()
            .user_agent(concat!("podium/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| format!("cannot build the HTTP client: {e}"))?;
        Ok(ReqwestCaller { client })
    }
}

#[async_trait]
impl HttpCaller for ReqwestCaller {
    async fn call(&self, call: HttpCall) -> Result<HttpAnswer, String> {
        let method =
            reqwest::Method::from_bytes(call.method.as_bytes()).map_err(|e| e.to_string())?;
        let mut request = self
            .client
            .request(method, &call.uri)
            .timeout(Duration::from_millis(
                call.connect_timeout_ms.saturating_add(call.read_timeout_ms),
            ))
            .header(reqwest::header::ACCEPT, &call.accept);
        for (name, value) in &call.headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = &call.body {
            let bytes = match body {
                serde_json::Value::String(text) if !call.content_type.contains("json") => {
                    text.clone().into_bytes()
                }
                other => serde_json::to_vec(other).map_err(|e| e.to_string())?,
            };
            request = request
                .header(reqwest::header::CONTENT_TYPE, &call.content_type)
                .body(bytes);
        }
        let mut response = request.send().await.map_err(describe)?;
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
}

/// A transport error in a few words, without the URL's query (it may hold secrets).
fn describe(err: reqwest::Error) -> String {
    let kind = if err.is_timeout() {
        "timed out"
    } else if err.is_connect() {
        "could not connect"
    } else if err.is_redirect() {
        "too many redirects"
    } else if err.is_body() || err.is_decode() {
        "could not read the response"
    } else {
        "request failed"
    };
    match err.url() {
        Some(url) => format!(
            "{kind}: {}://{}{}",
            url.scheme(),
            url.host_str().unwrap_or(""),
            url.path()
        ),
        None => kind.to_string(),
    }
}
