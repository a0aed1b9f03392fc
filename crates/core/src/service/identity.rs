//! Identities: tokens and the first administrator. Applications and their access
//! keys are in `applications`; users, groups and grants in `users` and `grants`.

use std::net::IpAddr;
use std::sync::Arc;

use serde::Deserialize;

use super::directory_sign_in::{DirectorySignIn, SignInRefusal};
use super::runtime::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::security::Principal;
use crate::security::crypto::{SecretHasher, hex, random_bytes};
use crate::security::model::{AccessKey, Application, KeyStatus, Role, User};
use crate::security::password::{generate_password, hash_password};
use crate::security::sign_in_delay::{DelayPolicy, SignInDelays};
use crate::security::throttle::{SignInThrottle, ThrottleLimits};
use crate::security::token::{Claims, ISSUER, TokenKeys};
use crate::store::AuditEvent;
use crate::store::SecurityOp;

/// How tokens are minted.
#[derive(Debug, Clone, Copy)]
pub struct TokenPolicy {
    /// Lifetime when the request names none.
    pub default_ttl_seconds: i64,
    /// Longest lifetime a request may ask for.
    pub max_ttl_seconds: i64,
    /// Failed attempts allowed per client address and per key or user id.
    pub throttle: ThrottleLimits,
    /// How failed attempts delay the next ones.
    pub delays: DelayPolicy,
}

impl Default for TokenPolicy {
    fn default() -> Self {
        TokenPolicy {
            default_ttl_seconds: 3600,
            max_ttl_seconds: 24 * 3600,
            throttle: ThrottleLimits::default(),
            delays: DelayPolicy::default(),
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

/// The first administrator's credentials, shown once at the first start.
pub struct FirstAdmin {
    /// The admin user and its generated password (none when the key was configured).
    pub user: Option<(String, String)>,
    pub application_id: String,
    pub key_id: String,
    /// The key's secret when it was generated; none when it came from configuration.
    pub key_secret: Option<String>,
}

/// How often a key's last use is written to the store, at most.
const KEY_USE_WRITE_INTERVAL_MS: i64 = 60_000;

/// Tokens, applications and access keys.
#[derive(Clone)]
pub struct IdentityService {
    pub(super) rt: Arc<Runtime>,
    tokens: Option<Arc<TokenKeys>>,
    pub(super) hasher: Option<Arc<SecretHasher>>,
    policy: TokenPolicy,
    pub(super) throttle: Arc<SignInThrottle>,
    /// Growing delays for failed sign-ins.
    pub(super) delays: Arc<SignInDelays>,
    /// The directory people without a Podium password sign in through, if any.
    directory: Option<Arc<DirectorySignIn>>,
}

fn bad_credentials() -> CoreError {
    CoreError::Unauthenticated {
        code: "INVALID_CREDENTIALS",
        message: "Invalid access key id or secret (or user credentials)".into(),
    }
}

/// A new random id for a key: 16 bytes, hex.
pub(super) fn new_key_id() -> CoreResult<String> {
    Ok(hex(&random_bytes::<16>()?))
}

/// A new random secret: 32 bytes (256 bits), hex.
pub(super) fn new_key_secret() -> CoreResult<String> {
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
            throttle: Arc::new(SignInThrottle::new(policy.throttle)),
            delays: Arc::new(SignInDelays::new(policy.delays)),
            directory: None,
        }
    }

    /// The service, with people signing in through `directory` too.
    pub fn with_directory(mut self, directory: DirectorySignIn) -> IdentityService {
        self.directory = Some(Arc::new(directory));
        self
    }

    pub(super) fn now_seconds(&self) -> i64 {
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
    /// all get the same answer, after the same work. A client address that failed too
    /// often is refused (429) before any work; a key or user that failed too often,
    /// from anywhere, has further wrong attempts answered 429 too, but its right
    /// secret is always accepted, so nobody can lock its owner out.
    ///
    /// The attempt runs to its end even when its caller goes away (it runs in a
    /// task of its own), so closing the connection mid-check neither skips the
    /// counting of a failure nor frees a hashing turn early.
    pub async fn mint(&self, request: TokenRequest, client: Option<IpAddr>) -> CoreResult<String> {
        let this = self.clone();
        tokio::spawn(async move {
            let (tokens, claims) = this.attempt(request, client, "token.mint").await?;
            tokens.mint(&claims)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("a token request failed: {e}")))?
    }

    /// A person's sign-in at the login page, checked exactly as `POST /api/token`
    /// checks it (same delays, throttling and answers): the user id and the token
    /// version the password was checked at, and how it was checked (`password`
    /// or `ldap`), for a session.
    pub async fn sign_in_person(
        &self,
        user_id: String,
        password: String,
        client: Option<IpAddr>,
    ) -> CoreResult<(String, i64, &'static str)> {
        let this = self.clone();
        let request = TokenRequest {
            email: Some(user_id),
            password: Some(password),
            ..TokenRequest::default()
        };
        let claims = tokio::spawn(async move {
            this.attempt(request, client, "sign_in")
                .await
                .map(|(_, claims)| claims)
        })
        .await
        .map_err(|e| CoreError::Internal(format!("a sign-in failed: {e}")))??;
        let method = match self.rt.directory().read().user(&claims.sub) {
            Some(user) if user.source.is_some() => "ldap",
            _ => "password",
        };
        Ok((claims.sub, claims.ver.unwrap_or(0), method))
    }

    /// `GET /api/token/user` (Copy Token): a token for the person signed in with
    /// `session`, with exactly their access, that ends with the session (at its
    /// absolute end at the latest, and sooner if it is signed out or idles out) or
    /// after the default lifetime, whichever comes first.
    pub fn session_token(
        &self,
        principal: &Principal,
        session: &super::sessions::ActiveSession,
        client: Option<IpAddr>,
    ) -> CoreResult<(String, i64)> {
        let Some(tokens) = self.tokens.clone() else {
            return Err(CoreError::NotFound(
                "Token minting is off: security is disabled on this server".into(),
            ));
        };
        let version = self
            .rt
            .directory()
            .read()
            .user(&session.user_id)
            .filter(|_| principal.id() == session.user_id)
            .map(|u| u.token_version)
            .ok_or_else(|| crate::security::invalid_token("Sign in again at /login"))?;
        let now = self.now_seconds();
        let exp = (now + self.policy.default_ttl_seconds).min(session.ends_at / 1000);
        let claims = Claims {
            sub: session.user_id.clone(),
            key: None,
            iat: now,
            exp,
            iss: ISSUER.into(),
            ver: Some(version),
            sid: Some(session.id.clone()),
        };
        let token = tokens.mint(&claims)?;
        self.rt.auditor.record(AuditEvent {
            time: self.rt.now(),
            principal: session.user_id.clone(),
            client: client.map(|ip| ip.to_string()),
            action: "token.mint".into(),
            target: crate::store::audit::bounded(&format!("session:{}", session.user_id)),
            outcome: "success".into(),
        });
        Ok((token, exp))
    }

    async fn attempt(
        &self,
        request: TokenRequest,
        client: Option<IpAddr>,
        action: &'static str,
    ) -> CoreResult<(Arc<TokenKeys>, Claims)> {
        let (Some(tokens), Some(hasher)) = (self.tokens.clone(), self.hasher.clone()) else {
            return Err(CoreError::NotFound(
                "Token minting is off: security is disabled on this server".into(),
            ));
        };
        let now = self.now_seconds();
        if self.throttle.admit(client, now).is_err() {
            // Not a warning each time: a client that keeps trying would flood the log.
            tracing::debug!(
                client = %client_text(client),
                "token request refused: too many failed attempts from this address"
            );
            return Err(self.too_many());
        }
        let ttl = self.ttl_seconds(request.expiration);
        let subject = match (
            &request.key_id,
            &request.key_secret,
            &request.email,
            &request.password,
        ) {
            (Some(key_id), Some(_), _, _) => format!("key:{}", key_id.trim()),
            (None, _, Some(email), Some(_)) => format!("user:{}", self.account_key(email)),
            _ => {
                return Err(CoreError::invalid(
                    "Send {\"keyId\": ..., \"keySecret\": ...} (or a user's {\"email\": ..., \"password\": ...})",
                ));
            }
        };
        // Failures count per name whatever its case: a directory matches names in
        // any case, so "Alice" and "alice" are one person's attempts (and, for
        // Active Directory, "alice@domain" too).
        let throttle_key = subject.to_lowercase();
        self.wait_for_turn(client, &throttle_key).await?;
        let claims = match (
            &request.key_id,
            &request.key_secret,
            &request.email,
            &request.password,
        ) {
            (Some(key_id), Some(secret), _, _) => self
                .key_claims(&hasher, key_id.trim(), secret.trim(), now, ttl)
                .ok_or(SignInRefusal::BadCredentials),
            (_, _, Some(email), Some(password)) => {
                self.user_claims(email.trim(), password, now, ttl).await
            }
            _ => Err(SignInRefusal::BadCredentials),
        };
        let client_address = client.map(|ip| ip.to_string());
        let audit = |principal: &str, success: bool| AuditEvent {
            time: self.rt.now(),
            principal: principal.to_string(),
            client: client_address.clone(),
            action: action.into(),
            target: crate::store::audit::bounded(&subject),
            outcome: if success { "success" } else { "failure" }.into(),
        };
        match claims {
            Ok(claims) => {
                self.delays.succeeded(client, &throttle_key);
                if let Some(key_id) = claims.key.clone() {
                    self.note_key_use(key_id);
                }
                self.rt.auditor.record(audit(&claims.sub, true));
                Ok((tokens, claims))
            }
            Err(SignInRefusal::Unavailable) => {
                self.rt.auditor.record(audit("anonymous", false));
                Err(CoreError::Unavailable(
                    "The directory could not be reached to check the password; try again later"
                        .into(),
                ))
            }
            Err(SignInRefusal::Account(reason)) => {
                self.rt.auditor.record(audit("anonymous", false));
                self.delays
                    .failed(client, &throttle_key, self.delays.now_ms());
                let throttled = self.throttle.failed(client, &throttle_key, now).is_err();
                Err(if throttled {
                    self.too_many()
                } else {
                    CoreError::Unauthenticated {
                        code: "ACCOUNT_REFUSED",
                        message: format!("The directory refused the sign-in: {reason}"),
                    }
                })
            }
            Err(SignInRefusal::BadCredentials) => {
                // Sign (and drop) a token, so a refusal does the work of an acceptance.
                let _ = tokens.mint(&Claims {
                    sub: String::new(),
                    key: None,
                    iat: now,
                    exp: now,
                    iss: ISSUER.into(),
                    ver: None,
                    sid: None,
                });
                self.rt.auditor.record(audit("anonymous", false));
                self.delays
                    .failed(client, &throttle_key, self.delays.now_ms());
                let throttled = self.throttle.failed(client, &throttle_key, now).is_err();
                tracing::info!(
                    client = %client_text(client),
                    throttled,
                    "token request refused: bad credentials"
                );
                Err(if throttled {
                    self.too_many()
                } else {
                    bad_credentials()
                })
            }
        }
    }

    /// Records a sign-in the identity provider or its answer refused (`method`),
    /// counted as a failure of the client address: an address past its limit is
    /// not recorded one by one, so a flood cannot fill the trail.
    pub fn record_refused_sign_in(&self, client: Option<IpAddr>, method: &str) {
        let now = self.now_seconds();
        if self.throttle.admit(client, now).is_err() {
            return;
        }
        let _ = self
            .throttle
            .failed(client, &format!("{method}:sign-in"), now);
        self.rt.auditor.record(AuditEvent {
            time: self.rt.now(),
            principal: "anonymous".into(),
            client: client.map(|ip| ip.to_string()),
            action: "sign_in".into(),
            target: crate::store::audit::bounded(method),
            outcome: "failure".into(),
        });
    }

    /// The spelling of a typed user name that its failed sign-ins count under.
    fn account_key(&self, name: &str) -> String {
        match &self.directory {
            Some(sign_in) => sign_in.directory.account_key(name),
            None => name.trim().to_lowercase(),
        }
    }

    /// Waits for this attempt's turn (see `security::sign_in_delay`), or refuses it
    /// when so many attempts from the address for the account wait already that
    /// its turn is beyond the longest delay.
    pub(super) async fn wait_for_turn(
        &self,
        client: Option<IpAddr>,
        account: &str,
    ) -> CoreResult<()> {
        match self.delays.take_turn(client, account, self.delays.now_ms()) {
            Some(0) => Ok(()),
            Some(wait) => {
                tokio::time::sleep(std::time::Duration::from_millis(wait.unsigned_abs())).await;
                Ok(())
            }
            None => Err(CoreError::TooManyRequests(format!(
                "Too many sign-in attempts are waiting for this account from this address; try again in {} seconds",
                (self.delays.policy().max_ms + 999) / 1000
            ))),
        }
    }

    pub(super) fn too_many(&self) -> CoreError {
        CoreError::TooManyRequests(format!(
            "Too many failed token requests; try again in {} seconds",
            self.throttle.limits().window_seconds
        ))
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
            ver: None,
            sid: None,
        })
    }

    /// A person's claims: checked against their Podium password when they have one,
    /// else through the directory when one is configured.
    async fn user_claims(
        &self,
        user_id: &str,
        password: &str,
        now: i64,
        ttl: i64,
    ) -> Result<Claims, SignInRefusal> {
        // The hash and the token version are read together: the token carries the
        // version of the password that was checked, so a change made meanwhile
        // refuses it.
        let (stored, version) = {
            let directory = self.rt.access.directory().read();
            match directory.user(user_id).filter(|u| !u.disabled) {
                Some(user) => (user.password_hash.clone(), user.token_version),
                None => (None, 0),
            }
        };
        if stored.is_none()
            && let Some(sign_in) = &self.directory
        {
            return self
                .directory_claims(sign_in, user_id, password, (now, ttl))
                .await;
        }
        // Unknown users cost one hash too.
        let (ok, rehash) = super::passwords::check_password(password, stored.clone()).await;
        if ok
            && rehash
            && let Some(old_hash) = stored
        {
            self.replace_bcrypt_hash(user_id, password, old_hash);
        }
        ok.then(|| Claims {
            sub: user_id.to_string(),
            key: None,
            iat: now,
            exp: now + ttl,
            iss: ISSUER.into(),
            ver: Some(version),
            sid: None,
        })
        .ok_or(SignInRefusal::BadCredentials)
    }

    /// Creates the first administrator when nobody exists yet: an ADMIN application
    /// with one access key (the configured one, or a generated one) and, unless the
    /// key was configured, an ADMIN user with a generated password.
    pub async fn bootstrap(
        &self,
        configured_key: Option<(String, String)>,
    ) -> CoreResult<Option<FirstAdmin>> {
        // Computed from the directory: first take in what other nodes changed.
        self.rt.access.fresh().await?;
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
            custom_roles: Vec::new(),
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
                custom_roles: Vec::new(),
                groups: Vec::new(),
                password_hash: Some(hashed),
                disabled: false,
                token_version: now,
                source: None,
                external_id: None,
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
}

/// A client address for the log.
fn client_text(client: Option<IpAddr>) -> String {
    client.map_or_else(|| "unknown".to_string(), |ip| ip.to_string())
}

/// An argon2id hash of a random password nobody knows, so unknown users cost the
/// same as known ones. Made once, on first need.
pub(super) fn dummy_hash() -> String {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY
        .get_or_init(|| {
            generate_password()
                .and_then(|p| hash_password(&p))
                .unwrap_or_default()
        })
        .clone()
}

impl IdentityService {
    /// `GET /api/token/userInfo`: the caller in the `ConductorUser` shape.
    pub fn user_info(&self, principal: &Principal) -> serde_json::Value {
        use super::roles::held_roles_view;
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
                    "roles": held_roles_view(&directory, g.roles.iter().copied(), &g.custom_roles),
                    "defaultAccess": g.default_access,
                })
            })
            .collect();
        let is_app = principal.kind() == PrincipalKind::Application;
        serde_json::json!({
            "id": principal.id(),
            "name": principal.name(),
            "roles": held_roles_view(&directory, principal.roles().iter(), principal.custom_roles()),
            "groups": groups,
            "uuid": principal.id(),
            "applicationUser": is_app,
            "namespace": "podium",
            "orkesWorkersApp": false,
            "contactInformation": {},
        })
    }
}
