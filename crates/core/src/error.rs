//! The error every service method returns; the HTTP layer renders it once.

use serde::Serialize;

use crate::store::StoreError;

/// One problem found while validating a request body.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ValidationError {
    /// Where in the body, e.g. `tasks[1].taskReferenceName`.
    pub path: String,
    /// What is wrong.
    pub message: String,
    /// The offending value, when it helps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invalid_value: Option<String>,
}

impl ValidationError {
    /// A validation error at `path`.
    pub fn new(path: impl Into<String>, message: impl Into<String>) -> ValidationError {
        ValidationError {
            path: path.into(),
            message: message.into(),
            invalid_value: None,
        }
    }
}

/// Why a request could not be served.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// The named thing does not exist (404). The message is shown to the client.
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The request is malformed or invalid (400).
    #[error("{message}")]
    InvalidInput {
        message: String,
        validation_errors: Vec<ValidationError>,
    },
    /// No valid credentials (401). `code` is `INVALID_TOKEN` or `EXPIRED_TOKEN`.
    #[error("{message}")]
    Unauthenticated { code: &'static str, message: String },
    /// Valid credentials without the needed access (403).
    #[error("{0}")]
    Forbidden(String),
    /// Too many attempts; the message says when to try again (429).
    #[error("{0}")]
    TooManyRequests(String),
    /// The server cannot serve this now, e.g. while shutting down or while its
    /// database is away (503). The message is shown to the client: it never holds a
    /// database's own words.
    #[error("{0}")]
    Unavailable(String),
    /// Something failed inside Podium (500). The text is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
}

impl CoreError {
    /// A plain 400 without field details.
    pub fn invalid(message: impl Into<String>) -> CoreError {
        CoreError::InvalidInput {
            message: message.into(),
            validation_errors: Vec::new(),
        }
    }

    /// A 400 that lists the problems found.
    pub fn validation(errors: Vec<ValidationError>) -> CoreError {
        let message = match errors.as_slice() {
            [one] => one.message.clone(),
            _ => "Validation failed, check below errors for detail.".to_string(),
        };
        CoreError::InvalidInput {
            message,
            validation_errors: errors,
        }
    }

    /// The text a client may see: the message for client mistakes, a fixed text for
    /// internal causes (which only the log sees). For answers that carry errors
    /// inside a body, such as bulk results; the HTTP renderer does the same.
    pub fn public_message(&self) -> String {
        match self {
            CoreError::Internal(_) => "Internal error: see the server log".to_string(),
            other => other.to_string(),
        }
    }

    /// The text for a reason people see (a task's `reasonForIncompletion`): the
    /// public message; an internal cause goes to the log only.
    pub fn into_reason(self) -> String {
        if let CoreError::Internal(cause) = &self {
            tracing::warn!(error = %cause, "an internal error failed a task");
        }
        self.public_message()
    }

    /// Conductor's 404 for an unknown workflow execution.
    pub fn workflow_not_found(id: &str) -> CoreError {
        CoreError::NotFound(format!("Workflow with id: {id} not found."))
    }

    /// Conductor's 404 for an unknown task execution.
    pub fn task_not_found(id: &str) -> CoreError {
        CoreError::NotFound(format!("No such task found by id: {id}"))
    }
}

impl From<StoreError> for CoreError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict(message) => CoreError::Conflict(message),
            StoreError::Unavailable(message) => CoreError::Unavailable(message),
            StoreError::Rejected(message) => CoreError::invalid(message),
            // The internal text is logged, never sent: it may name the database's
            // own message, so the whole chain of causes goes there.
            other => CoreError::Internal(error_chain(&other)),
        }
    }
}

impl From<crate::store::UnitError> for CoreError {
    fn from(err: crate::store::UnitError) -> Self {
        match err {
            // The closure's own error, as it was raised.
            crate::store::UnitError::Refused(refusal) => match refusal.downcast::<CoreError>() {
                Ok(err) => *err,
                Err(other) => CoreError::Internal(error_chain(other.as_ref())),
            },
            crate::store::UnitError::Store(err) => err.into(),
        }
    }
}

/// An error's text followed by each of its sources'.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

/// Result of a service call.
pub type CoreResult<T> = Result<T, CoreError>;
