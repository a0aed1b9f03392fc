//! Identities: tokens, applications and their access keys, and the first
//! administrator. Users, groups and grants are in `users`.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::Mutex;
use serde::{Deserialize, Serialize};

use super::runtime::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::model::Tag;
use crate::security::crypto::{SecretHasher, hex, random_bytes};
use crate::security::model::{
    AccessKey, Application, KeyStatus, Role, Target, TargetType, User, application_user_id,
};
use crate::security::password::{generate_password, hash_password, verify_password};
use crate::security::token::{Claims, ISSUER, TokenKeys};
use crate::security::{Access, Principal, Resource, ResourceType};
use crate::store::SecurityOp;

/// Tag resource type of applications.
pub const APPLICATION_TAGS: &str = "APPLICATION";

/// How tokens are minted.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    /// Lifetime when the request names none.
    pub default_ttl_seconds: i64,
    /// Longest lifetime a request may ask for.
    pub max_ttl_seconds: i64,
    /// Failed attempts allowed per key id, and per client address, in one window.
    pub max_failures: u32,
    /// The window, in seconds.
    pub failure_window_seconds: i64,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            default_ttl_seconds: 3600,
            max_ttl_seconds: 24 * 3600,
            max_failures: 10,
            failure_window_seconds: 60,
        }
    }
}

/// `POST /api/token`: an access key, or a built-in user's credentials. Its `Debug`
/// shows no secret.
#[derive(Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TokenRequest {
    #[serde(default)]
    pub key_id: Option<String>,
    #[serde(default)]
    pub key_secret: Option<String>,
    /// A user's id (their email in Orkes), with `password`.
    #[serde(default, alias = "userId", alias = "username")]
    pub email: Option<String>,
    #[serde(default)]
    pub password: Option<String>,
    /// Requested lifetime in milliseconds; bounded by the policy. Zero or negative
    /// ("no expiry" in Orkes) gets the longest allowed.
    #[serde(default)]
    pub expiration: Option<i64>,
}

impl std::fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenRequest")
            .field("key_id", &self.key_id)
            .field("email", &self.email)
            .field("expiration", &self.expiration)
            .finish_non_exhaustive()
    }
}

/// A created access key: the only time its secret is shown.
#[derive(Serialize)]
pub struct CreatedKey {
    pub id: String,
    pub secret: String,
}

/// An access key as listed.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyView {
    pub id: String,
    pub created_at: i64,
    pub status: KeyStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_used_at: Option<i64>,
}

impl From<&AccessKey> for KeyView {
    fn from(key: &AccessKey) -> KeyView {
        KeyView {
            id: key.id.clone(),
            created_at: key.created_at,
            status: key.status,
            last_used_at: key.last_used_at,
        }
    }
}

/// An application as the API shows it.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ApplicationView {
    pub id: String,
    pub name: String,
    pub created_by: String,
    pub updated_by: String,
    pub create_time: i64,
    pub update_time: i64,
    pub tags: Vec<Tag>,
}

/// The first administrator's credentials, shown once at the first start.
pub struct FirstAdmin {
    /// The admin user and its generated password (none when the key was configured).
    pub user: Option<(String, String)>,
    pub application_id: String,
    pub key_id: String,
    /// The key's secret when it was generated; none when it came from configuration.
    pub key_secret: Option<String>,
}

/// Counts failed token requests per key id and per client address.
#[derive(Default)]
struct Failures {
    by_key: HashMap<String, (i64, u32)>,
    by_address: HashMap<String, (i64, u32)>,
}

/// How often a key's last use is written to the store, at most.
const KEY_USE_WRITE_INTERVAL_MS: i64 = 60_000;

/// Entries kept before old windows are swept.
const FAILURE_ENTRIES: usize = 100_000;

impl Failures {
    fn blocked(&self, key: &str, address: &str, now: i64, policy: &TokenPolicy) -> bool {
        let over = |map: &HashMap<String, (i64, u32)>, k: &str| {
            map.get(k).is_some_and(|(start, count)| {
                now - start < policy.failure_window_seconds && *count >= policy.max_failures
            })
        };
        over(&self.by_key, key) || over(&self.by_address, address)
    }

    fn record(&mut self, key: &str, address: &str, now: i64, policy: &TokenPolicy) {
        for (map, k) in [(&mut self.by_key, key), (&mut self.by_address, address)] {
            if map.len() >= FAILURE_ENTRIES {
                map.retain(|_, (start, _)| now - *start < policy.failure_window_seconds);
            }
            let entry = map.entry(k.to_string()).or_insert((now, 0));
            if now - entry.0 >= policy.failure_window_seconds {
                *entry = (now, 0);
            }
            entry.1 += 1;
        }
    }
}

/// Tokens, applications and access keys.
#[derive(Clone)]
pub struct IdentityService {
    rt: Arc<Runtime>,
    tokens: Option<Arc<TokenKeys>>,
    hasher: Option<Arc<SecretHasher>>,
    policy: TokenPolicy,
    failures: Arc<Mutex<Failures>>,
}

fn bad_credentials() -> CoreError {
    CoreError::Unauthenticated {
        code: "INVALID_CREDENTIALS",
        message: "Invalid access key id or secret (or user credentials)".into(),
    }
}

fn application_not_found(id: &str) -> CoreError {
    CoreError::NotFound(format!("Application '{id}' not found"))
}

/// A new random id for a key: 16 bytes, hex.
fn new_key_id() -> CoreResult<String> {
    Ok(hex(&random_bytes::<16>()?))
}

/// A new random secret: 32 bytes (256 bits), hex.
fn new_key_secret() -> CoreResult<String> {
    Ok(hex(&random_bytes::<32>()?))
}

impl IdentityService {
    /// The service; `tokens` and `hasher` are none when security is disabled.
    pub fn new(
        rt: Arc<Runtime>,
        tokens: Option<TokenKeys>,
        hasher: Option<SecretHasher>,
        policy: TokenPolicy,
    ) -> IdentityService {
        IdentityService {
            rt,
            tokens: tokens.map(Arc::new),
            hasher: hasher.map(Arc::new),
            policy,
            failures: Arc::default(),
        }
    }

    fn now_seconds(&self) -> i64 {
        self.rt.now() / 1000
    }

    fn ttl_seconds(&self, expiration_ms: Option<i64>) -> i64 {
        match expiration_ms {
            None => self.policy.default_ttl_seconds,
            Some(ms) if ms <= 0 => self.policy.max_ttl_seconds,
            Some(ms) => (ms / 1000).clamp(1, self.policy.max_ttl_seconds),
        }
    }

    /// `POST /api/token`. Unknown keys, wrong secrets, inactive keys and unknown users
    /// all get the same answer, after the same work.
    pub async fn mint(&self, request: TokenRequest, client: &str) -> CoreResult<String> {
        let (Some(tokens), Some(hasher)) = (self.tokens.clone(), self.hasher.clone()) else {
            return Err(CoreError::NotFound(
                "Token minting is off: security is disabled on this server".into(),
            ));
        };
        let now = self.now_seconds();
        let ttl = self.ttl_seconds(request.expiration);
        let who = request
            .key_id
            .clone()
            .or_else(|| request.email.clone())
            .unwrap_or_default();
        if self
            .failures
            .lock()
            .blocked(&who, client, now, &self.policy)
        {
            return Err(CoreError::TooManyRequests(format!(
                "Too many failed token requests; try again in {} seconds",
                self.policy.failure_window_seconds
            )));
        }
        let claims = match (
            &request.key_id,
            &request.key_secret,
            &request.email,
            &request.password,
        ) {
            (Some(key_id), Some(secret), _, _) => {
                self.key_claims(&hasher, key_id.trim(), secret.trim(), now, ttl)
            }
            (None, _, Some(email), Some(password)) => {
                self.user_claims(email.trim(), password, now, ttl).await
            }
            _ => {
                return Err(CoreError::invalid(
                    "Send {\"keyId\": ..., \"keySecret\": ...} (or a user's {\"email\": ..., \"password\": ...})",
                ));
            }
        };
        match claims {
            Some(claims) => {
                if let Some(key_id) = claims.key.clone() {
                    self.note_key_use(key_id);
                }
                tokens.mint(&claims)
            }
            None => {
                // Sign (and drop) a token, so a refusal does the work of an acceptance.
                let _ = tokens.mint(&Claims {
                    sub: String::new(),
                    key: None,
                    iat: now,
                    exp: now,
                    iss: ISSUER.into(),
                });
                self.failures.lock().record(&who, client, now, &self.policy);
                tracing::info!(client, "token request refused: bad credentials");
                Err(bad_credentials())
            }
        }
    }

    /// Records that a key was used: in memory at once, in the store at most once a
    /// minute per key (a burst of mints costs no burst of writes).
    fn note_key_use(&self, key_id: String) {
        let at = self.rt.now();
        let stored_recently = {
            let mut directory = self.rt.access.directory().write();
            match directory.keys.get_mut(&key_id) {
                Some(key) => {
                    let recent = key
                        .last_used_at
                        .is_some_and(|last| at - last < KEY_USE_WRITE_INTERVAL_MS);
                    if !recent {
                        key.last_used_at = Some(at);
                    }
                    recent
                }
                None => true,
            }
        };
        if stored_recently {
            return;
        }
        let access = self.rt.access.clone();
        tokio::spawn(async move {
            if let Err(err) = access.record_key_use(vec![(key_id, at)]).await {
                tracing::warn!(error = %err, "could not record an access key's use");
            }
        });
    }

    fn key_claims(
        &self,
        hasher: &SecretHasher,
        key_id: &str,
        secret: &str,
        now: i64,
        ttl: i64,
    ) -> Option<Claims> {
        let directory = self.rt.access.directory().read();
        let key = directory.key(key_id);
        // Hash and compare even for an unknown key, so timing says nothing.
        let stored = key.map(|k| k.secret_hash.as_str()).unwrap_or("");
        let matches = hasher.verify(secret, stored);
        let key = key.filter(|_| matches)?;
        if key.status != KeyStatus::Active {
            return None;
        }
        let app = directory.application(&key.application_id)?;
        Some(Claims {
            sub: app.user_id(),
            key: Some(key.id.clone()),
            iat: now,
            exp: now + ttl,
            iss: ISSUER.into(),
        })
    }

    async fn user_claims(
        &self,
        user_id: &str,
        password: &str,
        now: i64,
        ttl: i64,
    ) -> Option<Claims> {
        let stored = {
            let directory = self.rt.access.directory().read();
            directory
                .user(user_id)
                .filter(|u| !u.disabled)
                .and_then(|u| u.password_hash.clone())
        };
        let password = password.to_string();
        // Unknown users cost one hash too.
        let known = stored.is_some();
        let ok = tokio::task::spawn_blocking(move || {
            let stored = stored.unwrap_or_else(dummy_hash);
            verify_password(&password, &stored)
        })
        .await
        .unwrap_or(false);
        (ok && known).then(|| Claims {
            sub: user_id.to_string(),
            key: None,
            iat: now,
            exp: now + ttl,
            iss: ISSUER.into(),
        })
    }

    /// Creates the first administrator when nobody exists yet: an ADMIN application
    /// with one access key (the configured one, or a generated one) and, unless the
    /// key was configured, an ADMIN user with a generated password.
    pub async fn bootstrap(
        &self,
        configured_key: Option<(String, String)>,
    ) -> CoreResult<Option<FirstAdmin>> {
        let Some(hasher) = self.hasher.clone() else {
            return Ok(None);
        };
        if !self.rt.access.directory().read().is_empty() {
            return Ok(None);
        }
        let now = self.rt.now();
        let app_id = self.rt.ids.new_id();
        let app = Application {
            id: app_id.clone(),
            name: "podium-admin".into(),
            roles: vec![Role::Admin],
            created_by: "podium".into(),
            updated_by: "podium".into(),
            create_time: now,
            update_time: now,
        };
        let generated = configured_key.is_none();
        let (key_id, secret) = match configured_key {
            Some((id, secret)) => (id, secret),
            None => (new_key_id()?, new_key_secret()?),
        };
        let key = AccessKey {
            id: key_id.clone(),
            application_id: app_id.clone(),
            secret_hash: hasher.hash(&secret),
            status: KeyStatus::Active,
            created_at: now,
            last_used_at: None,
        };
        let mut ops = vec![SecurityOp::PutApplication(app), SecurityOp::PutKey(key)];
        let mut user = None;
        if generated {
            let password = generate_password()?;
            let hashed = {
                let password = password.clone();
                tokio::task::spawn_blocking(move || hash_password(&password))
                    .await
                    .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))??
            };
            ops.push(SecurityOp::PutUser(User {
                id: "admin".into(),
                name: "Administrator".into(),
                roles: vec![Role::Admin],
                groups: Vec::new(),
                password_hash: Some(hashed),
                disabled: false,
                create_time: now,
                update_time: now,
            }));
            user = Some(("admin".to_string(), password));
        }
        self.rt.access.commit(ops).await?;
        Ok(Some(FirstAdmin {
            user,
            application_id: app_id,
            key_id,
            key_secret: generated.then_some(secret),
        }))
    }

    // ---- applications ------------------------------------------------------------

    async fn view(&self, app: &Application) -> CoreResult<ApplicationView> {
        let tags = self
            .rt
            .stores
            .tags
            .get_tags(APPLICATION_TAGS, &app.id)
            .await?;
        Ok(ApplicationView {
            id: app.id.clone(),
            name: app.name.clone(),
            created_by: app.created_by.clone(),
            updated_by: app.updated_by.clone(),
            create_time: app.create_time,
            update_time: app.update_time,
            tags,
        })
    }

    fn application(&self, id: &str) -> CoreResult<Application> {
        self.rt
            .access
            .directory()
            .read()
            .application(id)
            .cloned()
            .ok_or_else(|| application_not_found(id))
    }

    fn authorize_app(&self, principal: &Principal, access: Access, id: &str) -> CoreResult<()> {
        self.rt.authorizer.authorize(
            principal,
            access,
            Resource::new(ResourceType::Application, id),
        )
    }

    /// Creates an application; its creator owns it.
    pub async fn create_application(
        &self,
        principal: &Principal,
        name: &str,
    ) -> CoreResult<ApplicationView> {
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::invalid("Application name cannot be empty"));
        }
        self.authorize_app(principal, Access::Create, name)?;
        let now = self.rt.now();
        let app = Application {
            id: self.rt.ids.new_id(),
            name: name.to_string(),
            roles: Vec::new(),
            created_by: principal.id().to_string(),
            updated_by: principal.id().to_string(),
            create_time: now,
            update_time: now,
        };
        let mut ops = vec![SecurityOp::PutApplication(app.clone())];
        ops.extend(self.rt.access.creation_ops(
            principal,
            Target::new(TargetType::Application, app.id.clone()),
        ));
        self.rt.access.commit(ops).await?;
        self.view(&app).await
    }

    /// Applications the caller may read.
    pub async fn list_applications(
        &self,
        principal: &Principal,
    ) -> CoreResult<Vec<ApplicationView>> {
        let mut apps: Vec<Application> = self
            .rt
            .access
            .directory()
            .read()
            .applications()
            .filter(|a| {
                self.rt.authorizer.can(
                    principal,
                    Access::Read,
                    Resource::new(ResourceType::Application, &a.id),
                )
            })
            .cloned()
            .collect();
        apps.sort_by(|a, b| a.create_time.cmp(&b.create_time).then(a.id.cmp(&b.id)));
        let mut views = Vec::with_capacity(apps.len());
        for app in &apps {
            views.push(self.view(app).await?);
        }
        Ok(views)
    }

    /// One application.
    pub async fn get_application(
        &self,
        principal: &Principal,
        id: &str,
    ) -> CoreResult<ApplicationView> {
        self.authorize_app(principal, Access::Read, id)?;
        let app = self.application(id)?;
        self.view(&app).await
    }

    /// Renames an application.
    pub async fn update_application(
        &self,
        principal: &Principal,
        id: &str,
        name: &str,
    ) -> CoreResult<ApplicationView> {
        let name = name.trim();
        if name.is_empty() {
            return Err(CoreError::invalid("Application name cannot be empty"));
        }
        self.authorize_app(principal, Access::Update, id)?;
        let mut app = self.application(id)?;
        app.name = name.to_string();
        app.updated_by = principal.id().to_string();
        app.update_time = self.rt.now();
        self.rt
            .access
            .commit(vec![SecurityOp::PutApplication(app.clone())])
            .await?;
        self.view(&app).await
    }

    /// Deletes an application, its keys (their tokens stop at once), its grants and
    /// the grants on it.
    pub async fn delete_application(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.authorize_app(principal, Access::Delete, id)?;
        let app = self.application(id)?;
        let user_id = app.user_id();
        let mut ops: Vec<SecurityOp> = {
            let directory = self.rt.access.directory().read();
            let mut ops: Vec<SecurityOp> = directory
                .keys_of(id)
                .map(|k| SecurityOp::DeleteKey(k.id.clone()))
                .collect();
            ops.extend(
                directory
                    .all_grants()
                    .filter(|g| {
                        g.subject.kind == crate::security::model::SubjectType::User
                            && g.subject.id == user_id
                    })
                    .map(|g| SecurityOp::DeleteGrant {
                        subject: g.subject,
                        target: g.target,
                    }),
            );
            ops
        };
        ops.extend(
            self.rt
                .access
                .deletion_ops(&Target::new(TargetType::Application, id)),
        );
        ops.push(SecurityOp::DeleteApplication(id.to_string()));
        self.rt.access.commit(ops).await?;
        self.rt
            .stores
            .tags
            .set_tags(APPLICATION_TAGS, id, &[])
            .await?;
        self.rt
            .access
            .refresh_tags(TargetType::Application, id)
            .await
    }

    /// Gives an application a role (`add`) or takes it away. Roles beyond WORKER,
    /// METADATA_API and APPLICATION_CREATOR need an administrator either way.
    pub async fn change_role(
        &self,
        principal: &Principal,
        id: &str,
        role: &str,
        add: bool,
    ) -> CoreResult<ApplicationView> {
        let role = parse_app_role(role)?;
        self.authorize_app(principal, Access::Update, id)?;
        if role.admin_only_for_applications() {
            let what = if add {
                format!("give an application the {role} role")
            } else {
                format!("take the {role} role from an application")
            };
            self.rt.authorizer.require_admin(principal, &what)?;
        }
        let mut app = self.application(id)?;
        app.roles.retain(|r| *r != role);
        if add {
            app.roles.push(role);
            app.roles.sort();
        }
        app.updated_by = principal.id().to_string();
        app.update_time = self.rt.now();
        self.rt
            .access
            .commit(vec![SecurityOp::PutApplication(app.clone())])
            .await?;
        self.view(&app).await
    }

    /// Creates an access key; its secret is in the answer and nowhere else.
    pub async fn create_key(&self, principal: &Principal, id: &str) -> CoreResult<CreatedKey> {
        let Some(hasher) = self.hasher.clone() else {
            return Err(CoreError::invalid(
                "Access keys need security: this server runs with security disabled",
            ));
        };
        self.authorize_app(principal, Access::Update, id)?;
        self.application(id)?;
        let (key_id, secret) = (new_key_id()?, new_key_secret()?);
        let key = AccessKey {
            id: key_id.clone(),
            application_id: id.to_string(),
            secret_hash: hasher.hash(&secret),
            status: KeyStatus::Active,
            created_at: self.rt.now(),
            last_used_at: None,
        };
        self.rt.access.commit(vec![SecurityOp::PutKey(key)]).await?;
        Ok(CreatedKey { id: key_id, secret })
    }

    /// The keys of an application.
    pub async fn list_keys(&self, principal: &Principal, id: &str) -> CoreResult<Vec<KeyView>> {
        self.authorize_app(principal, Access::Read, id)?;
        self.application(id)?;
        let mut keys: Vec<KeyView> = self
            .rt
            .access
            .directory()
            .read()
            .keys_of(id)
            .map(KeyView::from)
            .collect();
        keys.sort_by(|a, b| a.created_at.cmp(&b.created_at).then(a.id.cmp(&b.id)));
        Ok(keys)
    }

    fn key_of(&self, app_id: &str, key_id: &str) -> CoreResult<AccessKey> {
        self.rt
            .access
            .directory()
            .read()
            .key(key_id)
            .filter(|k| k.application_id == app_id)
            .cloned()
            .ok_or_else(|| CoreError::NotFound(format!("Access key '{key_id}' not found")))
    }

    /// Flips a key between ACTIVE and INACTIVE; tokens from an inactive key are
    /// refused from the next request on.
    pub async fn toggle_key(
        &self,
        principal: &Principal,
        app_id: &str,
        key_id: &str,
    ) -> CoreResult<KeyView> {
        self.authorize_app(principal, Access::Update, app_id)?;
        self.application(app_id)?;
        let mut key = self.key_of(app_id, key_id)?;
        key.status = match key.status {
            KeyStatus::Active => KeyStatus::Inactive,
            KeyStatus::Inactive => KeyStatus::Active,
        };
        self.rt
            .access
            .commit(vec![SecurityOp::PutKey(key.clone())])
            .await?;
        Ok(KeyView::from(&key))
    }

    /// Deletes a key; its tokens are refused from the next request on.
    pub async fn delete_key(
        &self,
        principal: &Principal,
        app_id: &str,
        key_id: &str,
    ) -> CoreResult<()> {
        self.authorize_app(principal, Access::Update, app_id)?;
        self.application(app_id)?;
        self.key_of(app_id, key_id)?;
        self.rt
            .access
            .commit(vec![SecurityOp::DeleteKey(key_id.to_string())])
            .await
    }

    /// The application that owns a key.
    pub async fn application_of_key(
        &self,
        principal: &Principal,
        key_id: &str,
    ) -> CoreResult<ApplicationView> {
        let app_id = self
            .rt
            .access
            .directory()
            .read()
            .key(key_id)
            .map(|k| k.application_id.clone())
            .ok_or_else(|| CoreError::NotFound(format!("Access key '{key_id}' not found")))?;
        self.get_application(principal, &app_id).await
    }

    /// The tags of an application.
    pub async fn application_tags(&self, principal: &Principal, id: &str) -> CoreResult<Vec<Tag>> {
        self.authorize_app(principal, Access::Read, id)?;
        self.application(id)?;
        Ok(self.rt.stores.tags.get_tags(APPLICATION_TAGS, id).await?)
    }

    /// Changes the tags of an application: `replace` sets them, otherwise `remove`
    /// takes the given ones away or they are added.
    pub async fn change_application_tags(
        &self,
        principal: &Principal,
        id: &str,
        tags: Vec<Tag>,
        remove: bool,
    ) -> CoreResult<()> {
        self.authorize_app(principal, Access::Update, id)?;
        self.application(id)?;
        if remove {
            self.rt
                .stores
                .tags
                .remove_tags(APPLICATION_TAGS, id, &tags)
                .await?;
        } else {
            self.rt
                .stores
                .tags
                .add_tags(APPLICATION_TAGS, id, &tags)
                .await?;
        }
        self.rt
            .access
            .refresh_tags(TargetType::Application, id)
            .await
    }

    /// The user id an application acts as.
    pub fn application_user(id: &str) -> String {
        application_user_id(id)
    }
}

fn parse_app_role(text: &str) -> CoreResult<Role> {
    let role = Role::parse(text).ok_or_else(|| {
        CoreError::invalid(format!(
            "Unknown role '{text}'; application roles: {}",
            Role::ALL
                .iter()
                .filter(|r| r.for_applications())
                .map(|r| r.name())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })?;
    if !role.for_applications() {
        return Err(CoreError::invalid(format!(
            "Role {role} is for users, not applications"
        )));
    }
    Ok(role)
}

/// An argon2id hash of a random password nobody knows, so unknown users cost the
/// same as known ones. Made once, on first need.
fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            generate_password()
                .and_then(|p| hash_password(&p))
                .unwrap_or_default()
        })
        .clone()
}

/// A role as `userInfo` and the user APIs show it: its name and permission atoms.
pub fn role_view(role: Role) -> serde_json::Value {
    serde_json::json!({
        "name": role.name(),
        "permissions": role.atoms().iter().map(|a| serde_json::json!({"name": a})).collect::<Vec<_>>(),
    })
}

impl IdentityService {
    /// `GET /api/token/userInfo`: the caller in the `ConductorUser` shape.
    pub fn user_info(&self, principal: &Principal) -> serde_json::Value {
        use crate::security::PrincipalKind;
        let directory = self.rt.access.directory().read();
        let groups: Vec<serde_json::Value> = principal
            .groups()
            .iter()
            .filter_map(|g| directory.group(g))
            .map(|g| {
                serde_json::json!({
                    "id": g.id,
                    "description": g.description,
                    "roles": g.roles.iter().map(|r| role_view(*r)).collect::<Vec<_>>(),
                    "defaultAccess": g.default_access,
                })
            })
            .collect();
        let is_app = principal.kind() == PrincipalKind::Application;
        serde_json::json!({
            "id": principal.id(),
            "name": principal.name(),
            "roles": principal.roles().iter().map(role_view).collect::<Vec<_>>(),
            "groups": groups,
            "uuid": principal.id(),
            "applicationUser": is_app,
            "namespace": "podium",
            "orkesWorkersApp": false,
            "contactInformation": {},
        })
    }
}
