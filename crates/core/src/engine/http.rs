//! The `HTTP` system task: how a task's input describes a request, and how the answer
//! becomes the task's output. The call itself is made by an [`HttpCaller`] the server
//! provides, after the state that scheduled it is committed.

use async_trait::async_trait;
use serde_json::{Map, Value, json};

use crate::model::JsonMap;

/// A request an `HTTP` task makes.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpCall {
    pub uri: String,
    pub method: String,
    pub headers: Vec<(String, String)>,
    /// Sent as JSON unless it is a string and the content type is not JSON.
    pub body: Option<Value>,
    pub accept: String,
    pub content_type: String,
    pub connect_timeout_ms: u64,
    pub read_timeout_ms: u64,
}

/// What came back.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpAnswer {
    pub status: u16,
    pub reason_phrase: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

/// Makes HTTP calls for `HTTP` tasks.
#[async_trait]
pub trait HttpCaller: Send + Sync {
    /// Performs the call; an error is a transport failure (no answer), described in text.
    async fn call(&self, call: HttpCall) -> Result<HttpAnswer, String>;
}

const DEFAULT_CONNECT_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_READ_TIMEOUT_MS: u64 = 60_000;

fn text(map: &JsonMap, key: &str) -> Option<String> {
    match map.get(key)? {
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_string()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

/// Longest connect or read timeout, in milliseconds: a hundred years, so the deadline
/// of a call can always be computed.
const MAX_TIMEOUT_MS: u64 = 100 * 365 * 24 * 3600 * 1000;

fn millis(map: &JsonMap, key: &str) -> Option<u64> {
    let ms: u64 = match map.get(key)? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }?;
    Some(ms.min(MAX_TIMEOUT_MS))
}

/// The request part of a task's input: the `http_request` object, or the input itself.
fn request_spec(input: &JsonMap) -> Result<&JsonMap, String> {
    match input.get("http_request") {
        Some(Value::Object(map)) => Ok(map),
        Some(Value::Null) | None => Ok(input),
        Some(_) => Err("http_request must be an object".to_string()),
    }
}

/// The task's `outputFilter`, if it has one: a map evaluated once the call succeeded,
/// against the workflow with this task's output in place, that becomes the task's
/// whole output. Written with `$${...}` so that scheduling leaves it unevaluated; the
/// documented use keeps a fetched token under `_secrets`, where every view shows
/// `***`. Read from the top level of the input or from `http_request`.
pub fn output_filter(input: &JsonMap) -> Result<Option<&JsonMap>, String> {
    let found = match input.get("outputFilter") {
        Some(filter) => Some(filter),
        None => request_spec(input)?.get("outputFilter"),
    };
    match found {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Object(map)) => Ok(Some(map)),
        Some(_) => Err("outputFilter must be an object".to_string()),
    }
}

/// Reads the request from a task's input: the `http_request` object, or the same keys
/// at the top level of the input.
pub fn call_from_input(input: &JsonMap) -> Result<HttpCall, String> {
    let spec = request_spec(input)?;
    output_filter(input)?;
    let uri = text(spec, "uri")
        .ok_or("Missing HTTP URI. See documentation for HttpTask for required input parameters")?;
    let parsed = uri
        .parse::<http_uri::Checked>()
        // The URI itself is left out: it may carry credentials or a secret.
        .map_err(|e| format!("Invalid HTTP URI: {e}"))?;
    let method = text(spec, "method")
        .unwrap_or_else(|| "GET".to_string())
        .to_ascii_uppercase();
    if !matches!(
        method.as_str(),
        "GET" | "POST" | "PUT" | "PATCH" | "DELETE" | "HEAD" | "OPTIONS" | "TRACE"
    ) {
        return Err(format!("Invalid HTTP method '{method}'"));
    }
    let mut headers = Vec::new();
    match spec.get("headers") {
        Some(Value::Object(map)) => {
            for (name, value) in map {
                let value = match value {
                    Value::String(s) => s.clone(),
                    Value::Null => continue,
                    other => other.to_string(),
                };
                headers.push((name.clone(), value));
            }
        }
        Some(Value::Null) | None => {}
        Some(_) => return Err("http_request.headers must be an object".to_string()),
    }
    Ok(HttpCall {
        uri: parsed.0,
        method,
        headers,
        body: spec.get("body").filter(|b| !b.is_null()).cloned(),
        accept: text(spec, "accept").unwrap_or_else(|| "application/json".to_string()),
        content_type: text(spec, "contentType").unwrap_or_else(|| "application/json".to_string()),
        connect_timeout_ms: millis(spec, "connectionTimeOut").unwrap_or(DEFAULT_CONNECT_TIMEOUT_MS),
        read_timeout_ms: millis(spec, "readTimeOut").unwrap_or(DEFAULT_READ_TIMEOUT_MS),
    })
}

/// Checks that a URI is absolute http(s) before any call is attempted.
mod http_uri {
    pub struct Checked(pub String);

    impl std::str::FromStr for Checked {
        type Err = &'static str;

        fn from_str(s: &str) -> Result<Self, Self::Err> {
            let lower = s.to_ascii_lowercase();
            let rest = lower
                .strip_prefix("http://")
                .or_else(|| lower.strip_prefix("https://"))
                .ok_or("only absolute http:// and https:// URIs are supported")?;
            if rest.is_empty() || rest.starts_with('/') {
                return Err("the URI has no host");
            }
            if s.chars().any(char::is_whitespace) {
                return Err("the URI contains whitespace");
            }
            Ok(Checked(s.to_string()))
        }
    }
}

/// The task output for an answer: `response: {statusCode, reasonPhrase, headers, body}`.
/// A body that parses as JSON is kept as JSON, otherwise as text.
pub fn output_of(answer: &HttpAnswer) -> JsonMap {
    let mut headers = Map::new();
    for (name, value) in &answer.headers {
        match headers.get_mut(name) {
            Some(Value::Array(values)) => values.push(Value::String(value.clone())),
            _ => {
                headers.insert(name.clone(), json!([value]));
            }
        }
    }
    let text = String::from_utf8_lossy(&answer.body);
    let body = if text.trim().is_empty() {
        Value::Null
    } else {
        serde_json::from_str::<Value>(&text).unwrap_or_else(|_| Value::String(text.into_owned()))
    };
    let mut output = JsonMap::new();
    output.insert(
        "response".into(),
        json!({
            "statusCode": answer.status,
            "reasonPhrase": answer.reason_phrase,
            "headers": headers,
            "body": body,
        }),
    );
    output
}

/// Whether an answer completes the task (2xx), else the failure reason.
pub fn failure_reason(answer: &HttpAnswer) -> Option<String> {
    if (200..300).contains(&answer.status) {
        return None;
    }
    let body = String::from_utf8_lossy(&answer.body);
    let snippet: String = body.chars().take(500).collect();
    Some(format!(
        "Failed to invoke HTTP task due to: status code {} {}{}",
        answer.status,
        answer.reason_phrase,
        if snippet.is_empty() {
            String::new()
        } else {
            format!(", body: {snippet}")
        }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(v: Value) -> JsonMap {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn reads_http_request_and_top_level_forms() {
        let call = call_from_input(&input(json!({"http_request": {"uri": "http://h/x", "method": "post", "body": {"a": 1}, "headers": {"A": "b", "N": 5}}}))).unwrap();
        assert_eq!(call.method, "POST");
        assert_eq!(call.body, Some(json!({"a": 1})));
        assert_eq!(
            call.headers,
            vec![("A".into(), "b".into()), ("N".into(), "5".into())]
        );
        assert_eq!(call.connect_timeout_ms, DEFAULT_CONNECT_TIMEOUT_MS);
        let call = call_from_input(&input(json!({"uri": "https://h", "readTimeOut": 50}))).unwrap();
        assert_eq!(call.method, "GET");
        assert_eq!(call.read_timeout_ms, 50);
        let call = call_from_input(&input(
            json!({"uri": "https://h", "readTimeOut": u64::MAX, "connectionTimeOut": u64::MAX.to_string()}),
        ))
        .unwrap();
        assert_eq!(call.read_timeout_ms, MAX_TIMEOUT_MS);
        assert!(
            call.connect_timeout_ms
                .checked_add(call.read_timeout_ms)
                .is_some()
        );
    }

    #[test]
    fn rejects_bad_requests() {
        assert!(call_from_input(&input(json!({}))).is_err());
        assert!(call_from_input(&input(json!({"uri": "ftp://h"}))).is_err());
        let reason = call_from_input(&input(json!({"uri": "ftp://user:pw@h/?token=abc"})))
            .err()
            .unwrap_or_default();
        assert!(
            reason.starts_with("Invalid HTTP URI")
                && !reason.contains("abc")
                && !reason.contains("pw"),
            "{reason}"
        );
        assert!(call_from_input(&input(json!({"uri": "http://h", "method": "FETCH"}))).is_err());
        assert!(call_from_input(&input(json!({"http_request": "x"}))).is_err());
        assert_eq!(
            call_from_input(&input(json!({"uri": "http://h", "outputFilter": "x"}))).err(),
            Some("outputFilter must be an object".to_string())
        );
    }

    #[test]
    fn maps_answers() {
        let answer = HttpAnswer {
            status: 200,
            reason_phrase: "OK".into(),
            headers: vec![("content-type".into(), "application/json".into())],
            body: br#"{"ok":true}"#.to_vec(),
        };
        let out = output_of(&answer);
        assert_eq!(out["response"]["body"], json!({"ok": true}));
        assert_eq!(out["response"]["statusCode"], json!(200));
        assert_eq!(failure_reason(&answer), None);
        let answer = HttpAnswer {
            status: 503,
            reason_phrase: "Service Unavailable".into(),
            headers: vec![],
            body: b"down".to_vec(),
        };
        assert_eq!(output_of(&answer)["response"]["body"], json!("down"));
        assert!(failure_reason(&answer).unwrap().contains("503"));
    }
}
