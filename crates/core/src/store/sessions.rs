//! Browser sessions: what a signed-in person's cookie stands for. Only the SHA-256
//! of the cookie's value is stored, so a copy of the database opens no session.

use async_trait::async_trait;

use super::StoreResult;

/// One session as stored. Times are epoch milliseconds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredSession {
    /// The SHA-256 (hex) of the cookie's value.
    pub id: String,
    pub user_id: String,
    /// The user's token version when the session began: a change of password or
    /// status changes the version, and the session ends with it.
    pub token_version: i64,
    /// How the person signed in: `password`, `ldap` or `oidc`.
    pub method: String,
    /// The client address it began from.
    pub client: Option<String>,
    pub created_at: i64,
    /// When it was last used (written at most once a minute or so).
    pub last_seen_at: i64,
    /// Its absolute end, whatever its use.
    pub expires_at: i64,
}

/// Where sessions are kept, so they survive a restart and every node sees them.
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Stores a new session (an existing one with its id is replaced).
    async fn put_session(&self, session: StoredSession) -> StoreResult<()>;
    /// The session with this id, if there is one.
    async fn session(&self, id: &str) -> StoreResult<Option<StoredSession>>;
    /// Records a use at `at` (a later one than stored only).
    async fn touch_session(&self, id: &str, at: i64) -> StoreResult<()>;
    /// Ends a session; whether there was one.
    async fn delete_session(&self, id: &str) -> StoreResult<bool>;
    /// Deletes the sessions that ended at or before `now`, or were last used at or
    /// before `idle_before`; how many.
    async fn purge_sessions(&self, now: i64, idle_before: i64) -> StoreResult<u64>;
}
