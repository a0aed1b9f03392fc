//! Browser sessions: a person who signed in at `/login` holds a cookie whose value
//! is a random 256-bit secret; the store keeps only its SHA-256. Every request with
//! the cookie resolves the session again: it must not have reached its absolute end
//! or been idle too long, and its user must still exist, be enabled and hold the
//! token version the session began with (a new password or a change of status
//! ends it at once). A token copied from a session (`GET /api/token/user`) names
//! the session and ends with it.

use std::net::IpAddr;
use std::sync::Arc;

use sha2::{Digest, Sha256};

use super::runtime::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::security::crypto::{hex, random_bytes};
use crate::security::{Principal, principal_for_user};
use crate::store::{AuditEvent, StoredSession};

/// How long sessions last.
#[derive(Debug, Clone, Copy)]
pub struct SessionPolicy {
    /// A session not used for this long ends (milliseconds).
    pub idle_ms: i64,
    /// A session ends this long after it began, however it is used (milliseconds).
    pub max_ms: i64,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_ms: 30 * 60 * 1000,
            max_ms: 10 * 3600 * 1000,
        }
    }
}

impl SessionPolicy {
    /// How often a session's last use is written: a minute, or a tenth of the idle
    /// time when that is shorter.
    fn touch_every_ms(&self) -> i64 {
        (self.idle_ms / 10).clamp(1, 60_000)
    }
}

/// A live session, as a request found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveSession {
    /// The SHA-256 of the cookie (what the store keys it by).
    pub id: String,
    pub user_id: String,
    /// Its absolute end, epoch milliseconds.
    pub ends_at: i64,
}

/// The store key of a cookie value: none for a value Podium cannot have set, so
/// junk costs no read.
pub fn session_key(cookie: &str) -> Option<String> {
    let well_formed = cookie.len() == 64 && cookie.bytes().all(|b| b.is_ascii_hexdigit());
    well_formed.then(|| hex(&Sha256::digest(cookie.as_bytes())))
}

fn ended() -> CoreError {
    CoreError::Unauthenticated {
        code: "SESSION_ENDED",
        message: "Your session has ended: sign in again at /login".into(),
    }
}

/// Starts, resolves and ends sessions.
#[derive(Clone)]
pub struct SessionService {
    rt: Arc<Runtime>,
    policy: SessionPolicy,
}

impl SessionService {
    pub fn new(rt: Arc<Runtime>, policy: SessionPolicy) -> SessionService {
        SessionService { rt, policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// The server's time, epoch milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.rt.now()
    }

    /// Starts a session for a user who just signed in (`method`: `password`,
    /// `ldap` or `oidc`) at the token version their credentials were checked at.
    /// The session the browser held before, if any, ends: every sign-in gets a new
    /// id, so an id planted in a browser never becomes a signed-in session.
    /// Answers the cookie's value.
    pub async fn start(
        &self,
        user_id: &str,
        token_version: i64,
        method: &str,
        client: Option<IpAddr>,
        previous: Option<&str>,
    ) -> CoreResult<(String, ActiveSession)> {
        let sessions = &self.rt.stores.sessions;
        if let Some(key) = previous.and_then(session_key) {
            sessions.delete_session(&key).await?;
        }
        let now = self.rt.now();
        if let Err(err) = sessions
            .purge_sessions(now, now - self.policy.idle_ms)
            .await
        {
            tracing::warn!(error = %err, "could not delete ended sessions");
        }
        let cookie = hex(&random_bytes::<32>()?);
        let key = session_key(&cookie)
            .ok_or_else(|| CoreError::Internal("a new session id is malformed".into()))?;
        let ends_at = now.saturating_add(self.policy.max_ms);
        let client = client.map(|ip| ip.to_string());
        sessions
            .put_session(StoredSession {
                id: key.clone(),
                user_id: user_id.to_string(),
                token_version,
                method: method.to_string(),
                client: client.clone(),
                created_at: now,
                last_seen_at: now,
                expires_at: ends_at,
            })
            .await?;
        self.rt.auditor.record(AuditEvent {
            time: now,
            principal: user_id.to_string(),
            client,
            action: "session.start".into(),
            target: crate::store::audit::bounded(&format!("user:{user_id} ({method})")),
            outcome: "success".into(),
        });
        Ok((
            cookie,
            ActiveSession {
                id: key,
                user_id: user_id.to_string(),
                ends_at,
            },
        ))
    }

    /// The principal of a request that carries a session cookie; its use is
    /// recorded (now and then) for the idle timeout.
    pub async fn resolve(&self, cookie: &str) -> CoreResult<(Principal, ActiveSession)> {
        let key = session_key(cookie).ok_or_else(ended)?;
        self.live(&key, true).await
    }

    /// Checks that the session a copied token names is still live and is
    /// `user_id`'s; its use does not keep the session from idling.
    pub async fn check_bound(&self, key: &str, user_id: &str) -> CoreResult<()> {
        let (_, session) = self.live(key, false).await.map_err(|_| {
            crate::security::invalid_token(
                "Invalid token: the session it was copied from has ended; sign in again",
            )
        })?;
        if session.user_id != user_id {
            return Err(crate::security::invalid_token(
                "Invalid token: get a new one from POST /api/token",
            ));
        }
        Ok(())
    }

    async fn live(&self, key: &str, touch: bool) -> CoreResult<(Principal, ActiveSession)> {
        let sessions = &self.rt.stores.sessions;
        let stored = sessions.session(key).await?.ok_or_else(ended)?;
        let now = self.rt.now();
        let idle = now.saturating_sub(stored.last_seen_at) >= self.policy.idle_ms;
        if now >= stored.expires_at || idle {
            sessions.delete_session(key).await?;
            return Err(ended());
        }
        // What other nodes changed (a password, a user's status) counts at once.
        self.rt.access.fresh().await?;
        let principal = {
            let directory = self.rt.directory().read();
            let current = directory
                .user(&stored.user_id)
                .is_some_and(|u| !u.disabled && u.token_version == stored.token_version);
            current
                .then(|| principal_for_user(&directory, &stored.user_id).ok())
                .flatten()
        };
        let Some(principal) = principal else {
            sessions.delete_session(key).await?;
            return Err(ended());
        };
        if touch && now.saturating_sub(stored.last_seen_at) >= self.policy.touch_every_ms() {
            let sessions = sessions.clone();
            let key = key.to_string();
            tokio::spawn(async move {
                if let Err(err) = sessions.touch_session(&key, now).await {
                    tracing::warn!(error = %err, "could not record a session's use");
                }
            });
        }
        Ok((
            principal,
            ActiveSession {
                id: stored.id,
                user_id: stored.user_id,
                ends_at: stored.expires_at,
            },
        ))
    }

    /// Ends the session of a cookie (signing out); whether there was one.
    pub async fn end(&self, cookie: &str, client: Option<IpAddr>) -> CoreResult<bool> {
        let Some(key) = session_key(cookie) else {
            return Ok(false);
        };
        let sessions = &self.rt.stores.sessions;
        let Some(stored) = sessions.session(&key).await? else {
            return Ok(false);
        };
        let ended = sessions.delete_session(&key).await?;
        if ended {
            self.rt.auditor.record(AuditEvent {
                time: self.rt.now(),
                principal: stored.user_id.clone(),
                client: client.map(|ip| ip.to_string()),
                action: "session.end".into(),
                target: crate::store::audit::bounded(&format!("user:{}", stored.user_id)),
                outcome: "success".into(),
            });
        }
        Ok(ended)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_values_podium_sets_are_looked_up() {
        let cookie = "ab".repeat(32);
        let key = session_key(&cookie).expect("well formed");
        assert_eq!(key.len(), 64);
        assert_ne!(key, cookie);
        assert_eq!(session_key("short"), None);
        assert_eq!(session_key(&"zz".repeat(32)), None);
        assert_eq!(session_key(&"ab".repeat(33)), None);
        let policy = SessionPolicy::default();
        assert_eq!(policy.touch_every_ms(), 60_000);
        let short = SessionPolicy {
            idle_ms: 2000,
            max_ms: 10_000,
        };
        assert_eq!(short.touch_every_ms(), 200);
    }
}
