//! Extractors that read requests the way both SDKs send them: lenient query values
//! (`True`, `None`, empty), JSON bodies with or without a content type (chunked or
//! not), bodies on DELETE, and plain-string bodies in either SDK's encoding.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use podium_core::security::Principal;
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::state::AppState;

/// The caller, authenticated once by the route layer of the route's declared access.
pub struct Auth(pub Principal);

impl FromRequestParts<AppState> for Auth {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .map(Auth)
            .ok_or_else(|| {
                ApiError::Core(podium_core::error::CoreError::Internal(
                    "route has no principal: its access declaration is missing".into(),
                ))
            })
    }
}

/// Query parameters, decoded leniently.
pub struct Params(HashMap<String, Vec<String>>);

impl<S: Send + Sync> FromRequestParts<S> for Params {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let mut map: HashMap<String, Vec<String>> = HashMap::new();
        if let Some(query) = parts.uri.query() {
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                let key = decode(key)?;
                let value = decode(value)?;
                map.entry(key).or_default().push(value);
            }
        }
        Ok(Params(map))
    }
}

fn decode(text: &str) -> Result<String, ApiError> {
    let malformed = || ApiError::bad_request("Malformed percent-encoding in the query string");
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).ok_or_else(malformed)?;
                let hex = std::str::from_utf8(hex).map_err(|_| malformed())?;
                out.push(u8::from_str_radix(hex, 16).map_err(|_| malformed())?);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("The query string is not valid UTF-8"))
}

impl Params {
    /// A text value; empty and the Python SDK's literal `None` count as absent.
    pub fn text(&self, name: &str) -> Option<String> {
        self.0
            .get(name)
            .and_then(|values| values.iter().rev().find(|v| !v.is_empty() && *v != "None"))
            .cloned()
    }

    /// A boolean, case-insensitive (`True`, `true`, `1`); absent gives `default`.
    pub fn flag(&self, name: &str, default: bool) -> Result<bool, ApiError> {
        match self.text(name) {
            None => Ok(default),
            Some(value) => match value.to_ascii_lowercase().as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(ApiError::bad_request(format!(
                    "Query parameter {name} must be true or false, not '{value}'"
                ))),
            },
        }
    }

    /// An integer.
    pub fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.text(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!(
                        "Query parameter {name} must be an integer, not '{v}'"
                    ))
                })
            })
            .transpose()
    }

    /// Every value of a repeated (or comma-separated) parameter.
    pub fn list(&self, name: &str) -> Vec<String> {
        self.0
            .get(name)
            .map(|values| {
                values
                    .iter()
                    .flat_map(|v| v.split(','))
                    .map(str::trim)
                    .filter(|v| !v.is_empty() && *v != "None")
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Reads the whole body within the configured limit.
async fn read_body(req: Request, state: &AppState) -> Result<Bytes, ApiError> {
    let limit = state.max_body_bytes;
    axum::body::to_bytes(req.into_body(), limit)
        .await
        .map_err(|err| {
            let too_large = std::error::Error::source(&err)
                .is_some_and(|s| s.is::<http_body_util::LengthLimitError>())
                || err.to_string().contains("length limit");
            if too_large {
                ApiError::PayloadTooLarge(limit)
            } else {
                ApiError::bad_request("The request body could not be read")
            }
        })
}

/// Decodes JSON, describing where it is wrong.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_json::from_slice(bytes).map_err(|err| {
        let what = match err.classify() {
            serde_json::error::Category::Syntax | serde_json::error::Category::Eof => {
                "Malformed JSON in the request body"
            }
            _ => "The request body does not have the expected shape",
        };
        ApiError::bad_request(format!("{what}: {err}"))
    })
}

/// A required JSON body.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request("A JSON request body is required"));
        }
        parse_json(&bytes).map(JsonBody)
    }
}

/// An optional JSON body: empty (or the Python SDK's `{}` on bodiless calls) gives the
/// default.
pub struct OptionalJson<T>(pub T);

impl<T: DeserializeOwned + Default> FromRequest<AppState> for OptionalJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(OptionalJson(T::default()));
        }
        parse_json(&bytes).map(OptionalJson)
    }
}

/// Any body, read and discarded within the limit (the Python SDK sends `{}` on calls
/// that take none).
pub struct IgnoredBody;

impl FromRequest<AppState> for IgnoredBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_body(req, state).await.map(|_| IgnoredBody)
    }
}

/// A body as it came (a file upload), within the configured limit.
pub struct RawBody(pub Bytes);

impl FromRequest<AppState> for RawBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        read_body(req, state).await.map(RawBody)
    }
}

/// A plain-string body. JSON bodies are decoded as a JSON string (the JavaScript SDK),
/// else as an escaped string without its quotes (the Python SDK), else taken as is;
/// `text/plain` bodies are taken as is.
pub struct StringBody(pub String);

/// Decodes a string body as described on [`StringBody`].
pub fn decode_string_body(bytes: &[u8], content_type: Option<&str>) -> Result<String, ApiError> {
    let text = std::str::from_utf8(bytes)
        .map_err(|_| ApiError::bad_request("The request body is not valid UTF-8"))?;
    let is_plain = content_type.is_some_and(|ct| ct.starts_with("text/"));
    if is_plain {
        return Ok(text.to_string());
    }
    if let Ok(serde_json::Value::String(decoded)) = serde_json::from_str::<serde_json::Value>(text)
    {
        return Ok(decoded);
    }
    if let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{text}\"")) {
        return Ok(decoded);
    }
    Ok(text.to_string())
}

impl FromRequest<AppState> for StringBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let content_type = req
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_ascii_lowercase);
        let bytes = read_body(req, state).await?;
        decode_string_body(&bytes, content_type.as_deref()).map(StringBody)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn string_bodies_from_both_sdks_decode_alike() {
        let value = "hello \"world\"\nline2";
        let js = serde_json::to_string(value).unwrap();
        let python = &js[1..js.len() - 1];
        assert_eq!(
            decode_string_body(js.as_bytes(), Some("application/json")).unwrap(),
            value
        );
        assert_eq!(
            decode_string_body(python.as_bytes(), Some("application/json")).unwrap(),
            value
        );
        assert_eq!(
            decode_string_body(b"my secret value", Some("application/json")).unwrap(),
            "my secret value"
        );
        assert_eq!(
            decode_string_body(b"\"quoted\"", Some("text/plain")).unwrap(),
            "\"quoted\""
        );
        assert_eq!(decode_string_body(b"a\\qb", None).unwrap(), "a\\qb");
    }

    #[test]
    fn query_values_decode_leniently() {
        assert_eq!(decode("a%20b+c").unwrap(), "a b c");
        assert!(decode("%zz").is_err());
        assert!(decode("%4").is_err());
        let mut map = HashMap::new();
        map.insert("b".to_string(), vec!["True".to_string()]);
        map.insert("n".to_string(), vec!["None".to_string()]);
        map.insert("e".to_string(), vec![String::new()]);
        map.insert("l".to_string(), vec!["x".to_string(), "y,z".to_string()]);
        let params = Params(map);
        assert!(params.flag("b", false).unwrap());
        assert_eq!(params.text("n"), None);
        assert_eq!(params.text("e"), None);
        assert!(!params.flag("e", false).unwrap());
        assert_eq!(params.list("l"), vec!["x", "y", "z"]);
    }
}
