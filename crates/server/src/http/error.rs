//! Errors on the wire: every failure becomes Conductor's error body, rendered here and
//! nowhere else. Internal causes are logged with the request id and never sent.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use podium_core::error::{CoreError, ValidationError};
use serde::Serialize;

/// Conductor's `ErrorResponse`, plus `error` on authentication failures (the SDKs read
/// it to decide whether to mint a new token).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct ErrorBody {
    status: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    code: Option<&'static str>,
    message: String,
    instance: &'static str,
    retryable: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    validation_errors: Vec<ValidationError>,
}

/// The value of `instance` in error bodies.
const INSTANCE: &str = "podium";

/// An error as the HTTP layer answers it.
#[derive(Debug)]
pub enum ApiError {
    /// A service error.
    Core(CoreError),
    /// The body is larger than the configured limit.
    PayloadTooLarge(usize),
    /// No route for the path.
    NoRoute(String),
    /// The route exists, not with this method.
    MethodNotAllowed,
}

impl From<CoreError> for ApiError {
    fn from(err: CoreError) -> Self {
        ApiError::Core(err)
    }
}

impl ApiError {
    /// A 400 with a message.
    pub fn bad_request(message: impl Into<String>) -> ApiError {
        ApiError::Core(CoreError::invalid(message))
    }
}

fn body(status: StatusCode, message: String) -> ErrorBody {
    ErrorBody {
        status: status.as_u16(),
        error: None,
        code: None,
        message,
        instance: INSTANCE,
        retryable: false,
        validation_errors: Vec::new(),
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, body) = match self {
            ApiError::Core(CoreError::NotFound(message)) => {
                (StatusCode::NOT_FOUND, body(StatusCode::NOT_FOUND, message))
            }
            ApiError::Core(CoreError::Conflict(message)) => {
                (StatusCode::CONFLICT, body(StatusCode::CONFLICT, message))
            }
            ApiError::Core(CoreError::InvalidInput {
                message,
                validation_errors,
            }) => (
                StatusCode::BAD_REQUEST,
                ErrorBody {
                    validation_errors,
                    ..body(StatusCode::BAD_REQUEST, message)
                },
            ),
            ApiError::Core(CoreError::Unauthenticated { code, message }) => (
                StatusCode::UNAUTHORIZED,
                ErrorBody {
                    error: Some(code),
                    ..body(StatusCode::UNAUTHORIZED, message)
                },
            ),
            ApiError::Core(CoreError::Forbidden(message)) => {
                (StatusCode::FORBIDDEN, body(StatusCode::FORBIDDEN, message))
            }
            ApiError::Core(CoreError::TooManyRequests(message)) => (
                StatusCode::TOO_MANY_REQUESTS,
                ErrorBody {
                    retryable: true,
                    ..body(StatusCode::TOO_MANY_REQUESTS, message)
                },
            ),
            ApiError::Core(CoreError::Unavailable(message)) => {
                tracing::warn!(cause = %message, "request refused: service unavailable");
                (
                    StatusCode::SERVICE_UNAVAILABLE,
                    ErrorBody {
                        retryable: true,
                        // Every such message is written for the caller (the store's
                        // are fixed texts; the database's own words reach the log only).
                        ..body(StatusCode::SERVICE_UNAVAILABLE, message)
                    },
                )
            }
            ApiError::Core(CoreError::Internal(cause)) => {
                tracing::error!(cause = %cause, "request failed inside Podium");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    ErrorBody {
                        retryable: true,
                        ..body(
                            StatusCode::INTERNAL_SERVER_ERROR,
                            "Internal error; the server log has the details under this request's id".into(),
                        )
                    },
                )
            }
            ApiError::PayloadTooLarge(limit) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                body(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!("The request body is larger than the limit of {limit} bytes"),
                ),
            ),
            ApiError::NoRoute(path) => (
                StatusCode::NOT_FOUND,
                body(StatusCode::NOT_FOUND, format!("No API at {path}")),
            ),
            ApiError::MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                body(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "This method is not allowed here".into(),
                ),
            ),
        };
        (status, Json(body)).into_response()
    }
}

/// Result of a handler.
pub type ApiResult<T> = Result<T, ApiError>;
