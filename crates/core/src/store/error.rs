//! Why a store call failed.

/// Why the store could not do what was asked.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A uniqueness rule was violated; the message is safe to show.
    #[error("{0}")]
    Conflict(String),
    /// The database refused a value the caller sent (for example text holding a NUL
    /// character, which PostgreSQL cannot store); the message is safe to show.
    #[error("{0}")]
    Rejected(String),
    /// The store is shutting down or unreachable.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// Stored data could not be decoded.
    #[error("corrupt stored data: {0}")]
    Corrupt(String),
    /// The database reported an error. Its text (and the typed error beneath it)
    /// reaches the log only, as the source of the internal error it becomes.
    #[error("database error")]
    Backend(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl StoreError {
    /// A database error, keeping its cause as the source.
    pub fn backend(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> StoreError {
        StoreError::Backend(cause.into())
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;
