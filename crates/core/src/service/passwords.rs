//! Built-in users' passwords: set by an administrator (a new password, or a hash
//! imported from elsewhere), changed by the user with the old one, and a bcrypt hash
//! replaced by an argon2id one when its user signs in. A new password must meet the
//! policy (`password_policy`); a change ends the tokens taken with the old one.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::audit;
use super::identity::IdentityService;
use super::users::user_not_found;
use crate::error::{CoreError, CoreResult};
use crate::security::model::{IdentitySource, Role, User};
use crate::security::password::{check_imported_hash, hash_password, verify_stored};
use crate::security::password_policy::check_new_password;
use crate::security::{Principal, PrincipalKind};
use crate::store::SecurityOp;

/// `POST /api/users/{id}/password`. Its `Debug` shows no password.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct PasswordChange {
    /// The current password: required when users change their own.
    pub old_password: Option<String>,
    pub new_password: Option<String>,
}

impl std::fmt::Debug for PasswordChange {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PasswordChange").finish_non_exhaustive()
    }
}

/// A user the configuration file declares (`[[users]]`), created at start when absent.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ConfiguredUser {
    pub id: String,
    pub display_name: Option<String>,
    /// bcrypt (`$2a$`, `$2b$`, `$2y$`) or argon2id; never a password in clear.
    pub password_hash: Option<String>,
    pub roles: Vec<String>,
}

impl std::fmt::Debug for ConfiguredUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfiguredUser")
            .field("id", &self.id)
            .field("roles", &self.roles)
            .finish_non_exhaustive()
    }
}

/// The argon2id hash of a new password for `user_id`, once it meets the policy.
/// Hashed off the async threads: it takes a core for tens of milliseconds.
pub async fn new_password_hash(user_id: &str, password: &str) -> CoreResult<String> {
    check_new_password(user_id, password)?;
    let password = password.to_string();
    let turn = hashing_turn().await?;
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        hash_password(&password)
    })
    .await
    .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))?
}

/// Password hashes computed at once. Each argon2id hash holds 19 MiB while it runs
/// (an imported one up to 64 MiB), so a burst of sign-ins queues here instead of
/// taking the machine's memory; a few at a time keep its cores busy.
const HASHES_AT_ONCE: usize = 4;

static HASHING: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(HASHES_AT_ONCE);

/// Password checks waiting for a turn at most; more are answered 503 at once.
const MOST_WAITING: usize = 256;

static WAITING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Waits for a turn to hash a password. The turn is held by the hashing itself (it
/// moves into the blocking task), so a caller that goes away does not free it
/// while the hash still runs.
async fn hashing_turn() -> CoreResult<tokio::sync::SemaphorePermit<'static>> {
    use std::sync::atomic::Ordering;
    if WAITING.fetch_add(1, Ordering::AcqRel) >= MOST_WAITING {
        WAITING.fetch_sub(1, Ordering::AcqRel);
        return Err(CoreError::Unavailable(
            "Too many password checks are waiting; try again shortly".into(),
        ));
    }
    let turn = HASHING.acquire().await;
    WAITING.fetch_sub(1, Ordering::AcqRel);
    turn.map_err(|_| CoreError::Unavailable("password checks are shut down".into()))
}

/// Whether `password` matches `stored` (none: no password), checked off the async
/// threads, costing one hash either way.
pub(super) async fn check_password(password: &str, stored: Option<String>) -> (bool, bool) {
    let password = password.to_string();
    let Ok(turn) = hashing_turn().await else {
        return (false, false);
    };
    tokio::task::spawn_blocking(move || {
        let _turn = turn;
        let known = stored.is_some();
        let stored = stored.unwrap_or_else(super::identity::dummy_hash);
        let checked = verify_stored(&password, &stored);
        (checked.matches && known, checked.rehash && known)
    })
    .await
    .unwrap_or((false, false))
}

fn wrong_old_password() -> CoreError {
    CoreError::invalid("oldPassword is not the current password")
}

impl IdentityService {
    /// A user changes their own password (the old one required), or an ADMIN sets
    /// another user's. Tokens issued before the change stop working. Failed checks
    /// of the old password count towards sign-in throttling, as failed sign-ins do.
    pub async fn change_password(
        &self,
        principal: &Principal,
        id: &str,
        change: PasswordChange,
        client: Option<IpAddr>,
    ) -> CoreResult<()> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
        let Some(new_password) = change.new_password.as_deref() else {
            return Err(CoreError::invalid(
                "Send {\"oldPassword\": ..., \"newPassword\": ...} (an ADMIN setting another user's password sends newPassword only)",
            ));
        };
        let own = principal.kind() == PrincipalKind::User && principal.id() == id;
        if !own {
            self.rt
                .authorizer
                .require_admin(principal, "set other users' passwords")?;
        }
        let user = self.rt.access.directory().read().user(id).cloned();
        let Some(user) = user else {
            return Err(user_not_found(id));
        };
        if let Some(source) = user.source {
            return Err(kept_elsewhere(id, source));
        }
        if own {
            let now = self.now_seconds();
            if self.throttle.admit(client, now).is_err() {
                return Err(self.too_many());
            }
            let account = format!("user:{}", id.to_lowercase());
            self.wait_for_turn(client, &account).await?;
            let old = change.old_password.unwrap_or_default();
            let (matches, _) = check_password(&old, user.password_hash.clone()).await;
            if !matches {
                self.delays.failed(client, &account, self.delays.now_ms());
                let throttled = self.throttle.failed(client, &account, now);
                tracing::info!(user = %id, "password change refused: the old password is wrong");
                self.rt.auditor.record(audit::event(
                    self.rt.now(),
                    "user.password",
                    format!("user:{id}"),
                    false,
                ));
                return Err(if throttled.is_err() {
                    self.too_many()
                } else {
                    wrong_old_password()
                });
            }
        }
        let hash = new_password_hash(id, new_password).await?;
        let now = self.rt.now();
        // The version of the user that was checked (replacing a bcrypt hash by an
        // argon2id one of the same password leaves it as it is).
        let checked = user.update_time;
        let mut changed = false;
        self.rt
            .access
            .commit_with(|directory| {
                changed = false;
                // Unless it changed meanwhile (then the old password checked may be
                // one replaced since).
                let Some(mut user) = directory
                    .user(id)
                    .filter(|u| u.source.is_none() && (!own || u.update_time == checked))
                    .cloned()
                else {
                    return Vec::new();
                };
                user.password_hash = Some(hash.clone());
                user.token_version = user.next_token_version(now);
                user.update_time = now;
                changed = true;
                let event = audit::event(now, "user.password", format!("user:{id}"), true);
                vec![SecurityOp::PutUser(user), SecurityOp::Audit(event)]
            })
            .await?;
        if !changed {
            return Err(CoreError::Conflict(
                "The user changed meanwhile; try again".into(),
            ));
        }
        tracing::info!(user = %id, by = %principal.id(), "password changed");
        Ok(())
    }

    /// After a sign-in with a bcrypt hash: stores an argon2id hash of the same
    /// password instead, unless the user's hash changed meanwhile. In the background;
    /// a failure leaves the bcrypt hash, to be replaced at a later sign-in.
    pub(super) fn replace_bcrypt_hash(&self, user_id: &str, password: &str, old_hash: String) {
        let rt = self.rt.clone();
        let (user_id, password) = (user_id.to_string(), password.to_string());
        tokio::spawn(async move {
            let Ok(turn) = hashing_turn().await else {
                return;
            };
            let hashed = tokio::task::spawn_blocking(move || {
                let _turn = turn;
                hash_password(&password)
            })
            .await;
            let Ok(Ok(hashed)) = hashed else {
                tracing::warn!(user = %user_id, "could not rehash a bcrypt password");
                return;
            };
            let stored = rt
                .access
                .commit_with(|directory| {
                    let Some(mut user) = directory
                        .user(&user_id)
                        .filter(|u| u.password_hash.as_ref() == Some(&old_hash))
                        .cloned()
                    else {
                        return Vec::new();
                    };
                    user.password_hash = Some(hashed.clone());
                    vec![SecurityOp::PutUser(user)]
                })
                .await;
            match stored {
                Ok(()) => {
                    tracing::info!(user = %user_id, "a bcrypt password hash was replaced by argon2id")
                }
                Err(err) => {
                    tracing::warn!(user = %user_id, error = %err, "could not store a rehashed password")
                }
            }
        });
    }

    /// Creates the users the configuration declares that do not exist yet; those
    /// that exist are left as they are (their password or roles may have changed
    /// since). Returns how many were created. Refuses the whole list, naming the
    /// entry, when one is malformed.
    pub async fn import_users(&self, users: &[ConfiguredUser]) -> CoreResult<usize> {
        if users.is_empty() {
            return Ok(0);
        }
        self.rt.access.fresh().await?;
        let now = self.rt.now();
        let mut ops = Vec::new();
        let mut seen = std::collections::BTreeSet::new();
        for configured in users {
            let id = configured.id.trim();
            let entry = |e: CoreError| CoreError::invalid(format!("[[users]] entry '{id}': {e}"));
            super::users::check_id("user", id).map_err(entry)?;
            if id.starts_with("app:") {
                return Err(entry(CoreError::invalid(
                    "ids starting with app: name applications",
                )));
            }
            if !seen.insert(id.to_string()) {
                return Err(entry(CoreError::invalid("declared twice")));
            }
            if let Some(hash) = &configured.password_hash {
                check_imported_hash(hash.trim()).map_err(entry)?;
            }
            let mut roles = Vec::new();
            for name in &configured.roles {
                let role = Role::parse(name).ok_or_else(|| {
                    entry(super::users::unknown(
                        "role",
                        name,
                        Role::ALL.map(Role::name),
                    ))
                })?;
                if !roles.contains(&role) {
                    roles.push(role);
                }
            }
            if roles.is_empty() {
                roles.push(Role::User);
            }
            if self.rt.access.directory().read().user(id).is_some() {
                tracing::info!(user = %id, "a configured user exists already; left as it is");
                continue;
            }
            ops.push(SecurityOp::PutUser(User {
                id: id.to_string(),
                name: configured
                    .display_name
                    .clone()
                    .filter(|n| !n.trim().is_empty())
                    .unwrap_or_else(|| id.to_string()),
                roles,
                custom_roles: Vec::new(),
                groups: Vec::new(),
                password_hash: configured
                    .password_hash
                    .as_ref()
                    .map(|h| h.trim().to_string()),
                disabled: false,
                token_version: now,
                source: None,
                external_id: None,
                create_time: now,
                update_time: now,
            }));
        }
        let created = ops.len();
        if created > 0 {
            self.rt.access.commit(ops).await?;
        }
        Ok(created)
    }
}

/// The 400 for changing what a directory keeps (a password, group membership).
pub(super) fn kept_elsewhere(id: &str, source: IdentitySource) -> CoreError {
    CoreError::invalid(format!(
        "User '{id}' signs in through {}: their password and groups are kept there; change them there",
        source.name()
    ))
}
