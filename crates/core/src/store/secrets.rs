//! Secrets and environment variables, sealed, and the record of their reads.

use async_trait::async_trait;

use super::{StoreError, StoreResult};

/// What a stored value is: a secret (masked, never shown but to its readers) or an
/// environment variable (plain configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SecretKind {
    Secret,
    Env,
}

impl SecretKind {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            SecretKind::Secret => "SECRET",
            SecretKind::Env => "ENV",
        }
    }

    /// Parses a stored name.
    pub fn parse(text: &str) -> Option<SecretKind> {
        match text {
            "SECRET" => Some(SecretKind::Secret),
            "ENV" => Some(SecretKind::Env),
            _ => None,
        }
    }

    /// Parses the name a row holds; an unknown one is corrupt.
    pub fn decode(text: &str) -> StoreResult<SecretKind> {
        SecretKind::parse(text)
            .ok_or_else(|| StoreError::Corrupt(format!("unknown secret kind {text}")))
    }
}

/// A secret or environment variable as stored: its value sealed, never plain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRecord {
    pub kind: SecretKind,
    pub name: String,
    /// The id of the master key that sealed the value.
    pub key_id: String,
    /// The sealed value.
    pub sealed: Vec<u8>,
    pub created_by: String,
    pub created_at: i64,
    pub updated_by: String,
    pub updated_at: i64,
}

/// One read of a secret's value through the API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretRead {
    pub kind: SecretKind,
    pub name: String,
    /// Who read it (a principal id).
    pub principal: String,
    /// When (epoch ms).
    pub at: i64,
}

/// Secrets and environment variables, sealed, and the record of who read which.
/// The data is small and read whole at start-up; every change is written here first.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// Every secret and environment variable.
    async fn load_secrets(&self) -> StoreResult<Vec<SecretRecord>>;
    /// Inserts or replaces one.
    async fn put_secret(&self, record: SecretRecord) -> StoreResult<()>;
    /// Deletes one; false when there was none.
    async fn delete_secret(&self, kind: SecretKind, name: &str) -> StoreResult<bool>;
    /// Replaces sealed values after a key rotation: each record is written only if
    /// its stored value is still sealed under `from_key`, so a concurrent update is
    /// never overwritten. Returns how many were replaced.
    async fn reseal_secrets(
        &self,
        records: Vec<SecretRecord>,
        from_key: &str,
    ) -> StoreResult<usize>;
    /// Records reads of values.
    async fn record_secret_reads(&self, reads: Vec<SecretRead>) -> StoreResult<()>;
    /// The latest reads of one secret (or of all of a kind), newest first.
    async fn secret_reads(
        &self,
        kind: SecretKind,
        name: Option<&str>,
        limit: usize,
    ) -> StoreResult<Vec<SecretRead>>;
}
