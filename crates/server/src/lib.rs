//! The Podium server: builds the store, services, HTTP API and background loops from a
//! configuration, and runs them until asked to stop.

pub mod config;
#[cfg(target_os = "linux")]
pub mod confine;
pub mod console;
mod data_dir;
pub mod destinations;
pub mod http;
pub mod identity;
mod keys;
pub mod runner;
mod store;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use podium_core::clock::{Clock, SystemClock, UuidGen};
use podium_core::engine::EngineLimits;
use podium_core::security::crypto::SecretHasher;
use podium_core::security::sign_in_delay::DelayPolicy;
use podium_core::security::throttle::ThrottleLimits;
use podium_core::security::token::TokenKeys;
use podium_core::security::{Authenticator, SecurityMode};
use podium_core::service::at_rest::{self, VaultSealer};
use podium_core::service::identity::{FirstAdmin, IdentityService, TokenPolicy};
use podium_core::service::operations::OperationsService;
use podium_core::service::runtime::VaultSettings;
use podium_core::service::secrets::SecretService;
use podium_core::service::sessions::{SessionPolicy, SessionService};
use podium_core::service::users::UserService;
use podium_core::service::{MetadataService, Runtime, TaskService, WorkflowService, jobs};
use podium_core::service::{archive, cluster, schedule_runs};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use config::{Config, Security};
use destinations::DestinationPolicy;
use http::metrics::Metrics;
use http::routes::RouteSpec;
use http::state::{AppState, Shared};
use identity::oidc_login::OidcLogin;
use keys::{SERVER_KEY_FILE, load_secrets_keyring, load_server_key, write_owner_only};

/// A configured number of seconds as the services count them; validation keeps it
/// far below the bound.
fn seconds(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX / 1000)
}

/// Why the server could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot create the data directory {path}: {source}")]
    DataDir {
        path: String,
        source: std::io::Error,
    },
    #[error("cannot open the store: {0}")]
    Store(String),
    #[error("cannot listen on {addr}: {source}")]
    Listen {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start: {0}")]
    Core(String),
    #[error("server key {path}: {message}")]
    ServerKey { path: String, message: String },
    #[error("secrets master key: {0}")]
    SecretsKey(String),
    #[error("data directory: {0}")]
    SharedDataDir(String),
    #[error("{0}")]
    Identity(String),
}

/// The file the first administrator's credentials go to when no terminal shows them.
pub const FIRST_ADMIN_FILE: &str = "first-admin-credentials.txt";

/// Shows the first administrator's credentials once: on the terminal when there is
/// one, otherwise in an owner-only file in the data directory. Never through the log.
fn show_first_admin(admin: &FirstAdmin, data_dir: &std::path::Path) {
    use std::io::IsTerminal;
    let Some(secret) = &admin.key_secret else {
        info!("created the first admin application from the configured access key");
        return;
    };
    let mut text = String::from(
        "Podium created its first administrator. These credentials are shown once and never again:\n",
    );
    if let Some((user, password)) = &admin.user {
        text.push_str(&format!(
            "  admin user:      {user}\n  password:        {password}\n"
        ));
    }
    text.push_str(&format!(
        "  admin application access key (ADMIN role), for CONDUCTOR_AUTH_KEY / CONDUCTOR_AUTH_SECRET:\n    key id:        {}\n    key secret:    {secret}\n",
        admin.key_id
    ));
    if std::io::stdout().is_terminal() {
        println!("\n{text}");
        return;
    }
    let path = data_dir.join(FIRST_ADMIN_FILE);
    match write_owner_only(&path, &text) {
        Ok(()) => warn!(
            "created the first administrator; no terminal to show its credentials, so they are in {} (owner-only): read it, then delete it",
            path.display()
        ),
        Err(err) => warn!(
            "created the first administrator but could not write its credentials to {}: {err}; delete the data directory's database to start over",
            path.display()
        ),
    }
}

/// A built server, bound to its address, not yet serving.
pub struct Application {
    listener: TcpListener,
    /// The metrics listener and its router, when `metrics_listen` is set.
    metrics_server: Option<(TcpListener, axum::Router)>,
    runtime: Arc<Runtime>,
    router: axum::Router,
    routes: Vec<RouteSpec>,
    store: Arc<dyn podium_core::store::StoreControl>,
    stop_background: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    grace: Duration,
}

/// Takes new secrets master keys while the server serves (`podium serve` does it on
/// SIGHUP), so a rotation needs no restart.
#[derive(Clone)]
pub struct KeyReloader {
    runtime: Arc<Runtime>,
    stopped: watch::Receiver<bool>,
}

impl KeyReloader {
    /// Loads the secrets keys from `config` (the current key from `secrets_key` or
    /// the key file, and `secrets_previous_keys`) and takes them if every stored
    /// value opens with them; values sealed with a previous key, stored or archived,
    /// are then re-sealed in the background. On error the server keeps the keys it
    /// has and nothing is changed.
    pub async fn reload(&self, config: &Config) -> Result<(), StartError> {
        let vault = self.runtime.vault();
        let (live, archived) = self
            .runtime
            .sealed_workflow_keys()
            .await
            .map_err(|e| StartError::Store(podium_core::error::error_chain(&e)))?;
        let sealed = SealedWorkflowKeys { live, archived };
        let (keyring, created) =
            load_secrets_keyring(config, vault.sealed_count() + sealed.count())?;
        sealed.check(&keyring)?;
        vault
            .replace_keyring(keyring)
            .await
            .map_err(|e| StartError::SecretsKey(e.to_string()))?;
        if let Some(path) = created {
            info!(
                "generated the secrets master key in {} with owner-only permissions; back it up with the data",
                path.display()
            );
        }
        info!(
            "secrets master keys reloaded: new values are sealed with key {}",
            vault.current_key_id()
        );
        if vault.stale_count() > 0 || vault.has_previous_keys() {
            tokio::spawn(jobs::run_reseal(self.runtime.clone(), self.stopped.clone()));
        }
        Ok(())
    }
}

/// The keys workflow data in the store is sealed with (live rows and the archive).
struct SealedWorkflowKeys {
    live: Vec<String>,
    archived: Vec<String>,
}

async fn sealed_workflow_keys(
    stores: &podium_core::store::Stores,
) -> Result<SealedWorkflowKeys, StartError> {
    let store_error =
        |e: podium_core::store::StoreError| StartError::Store(podium_core::error::error_chain(&e));
    Ok(SealedWorkflowKeys {
        live: stores.execution.payload_keys().await.map_err(store_error)?,
        archived: stores
            .execution
            .archived_seal_keys()
            .await
            .map_err(store_error)?,
    })
}

impl SealedWorkflowKeys {
    fn count(&self) -> usize {
        self.live.len() + self.archived.len()
    }

    /// Refuses keys that cannot open the workflow data, as for secrets.
    fn check(
        &self,
        keyring: &podium_core::security::secret_box::Keyring,
    ) -> Result<(), StartError> {
        match at_rest::unknown_workflow_key(&self.live, &self.archived, |k| keyring.knows(k)) {
            Some(refusal) => Err(StartError::SecretsKey(refusal)),
            None => Ok(()),
        }
    }
}

/// The address a listener is bound to.
fn addr_of(listener: &TcpListener, configured: SocketAddr) -> Result<SocketAddr, StartError> {
    listener.local_addr().map_err(|source| StartError::Listen {
        addr: configured,
        source,
    })
}

pub use store::DATABASE_FILE;

/// What `podium audit verify` found.
#[derive(Debug)]
pub enum AuditVerdict {
    /// The chain is whole; this many entries.
    Intact(i64),
    /// The first place it is broken.
    Broken(podium_core::store::audit::Broken),
}

/// Checks the audit trail of the configured store from its first entry, a page at
/// a time.
pub async fn verify_audit(config: &Config) -> Result<AuditVerdict, StartError> {
    let file = config.data_dir.join(DATABASE_FILE);
    if config.database_url.is_none() && !file.is_file() {
        return Err(StartError::Store(format!(
            "there is no Podium database at {}",
            file.display()
        )));
    }
    let stores = store::open_store(config).await?;
    let mut check = podium_core::store::audit::ChainCheck::default();
    // From below the first entry, so a row put before it is found too.
    let mut after = i64::MIN;
    let verdict = loop {
        let page = stores
            .audit
            .audit_after(after, 1000)
            .await
            .map_err(|e| StartError::Store(podium_core::error::error_chain(&e)))?;
        if page.is_empty() {
            break AuditVerdict::Intact(check.checked());
        }
        if let Some(broken) = page.iter().find_map(|entry| check.check(entry).err()) {
            break AuditVerdict::Broken(broken);
        }
        after = page.last().map_or(after, |e| e.seq);
    };
    stores.control.close();
    Ok(verdict)
}

impl Application {
    /// Opens the store (creating the data directory, owner-only, or refusing one
    /// that other users can open), builds the services and binds the
    /// listener. Background loops start here too.
    pub async fn build(config: &Config) -> Result<Application, StartError> {
        Application::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with an injected clock (tests use a fake one).
    pub async fn build_with_clock(
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartError> {
        data_dir::prepare(config)?;
        data_dir::warn_exposed_keys(config);
        let stores = store::open_store(config).await?;
        let store = stores.control.clone();
        let limits = EngineLimits {
            active_worker_window_ms: i64::try_from(config.active_worker_seconds)
                .unwrap_or(i64::MAX)
                .saturating_mul(1000),
            max_payload_bytes: config.max_payload_bytes,
            ..EngineLimits::default()
        };
        let mode = match config.security {
            Security::Enabled => SecurityMode::Enforced,
            Security::Disabled => SecurityMode::Disabled,
        };
        let sealed_values = stores
            .secrets
            .load_secrets()
            .await
            .map_err(|e| StartError::Store(podium_core::error::error_chain(&e)))?
            .len();
        let sealed = sealed_workflow_keys(&stores).await?;
        let (keyring, created_secrets_key) =
            load_secrets_keyring(config, sealed_values + sealed.count())?;
        sealed.check(&keyring)?;
        let vault = VaultSettings {
            keyring,
            max_value_bytes: config.secret_max_bytes,
        };
        // Scripts never run in the server's own process: without a runner binary,
        // the server does not start.
        let script_runner = match config.script_runner.clone() {
            Some(path) => path,
            None => std::env::current_exe().map_err(|e| {
                StartError::Core(format!(
                    "cannot find this program's path to run scripts in ({e}); set script_runner"
                ))
            })?,
        };
        let runtime = Runtime::new(
            stores,
            clock.clone(),
            Arc::new(UuidGen),
            limits,
            mode,
            vault,
            podium_core::exec::script::ScriptLimits {
                max_time: std::time::Duration::from_millis(config.script_max_millis),
                max_memory_bytes: config.script_max_memory_mb.saturating_mul(1024 * 1024),
                max_result_bytes: config.max_payload_bytes,
                max_concurrent: config.script_max_concurrent,
                // Each evaluation in a process of this binary (or the one named), which
                // is killed at the deadline.
                runner: Some(script_runner),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| StartError::Core(e.to_string()))?;
        // Before anything reads a workflow: `_secrets` and `_masked` values are
        // sealed in the live tables.
        store.set_payload_sealer(Arc::new(VaultSealer::new(runtime.vault().clone())));
        let (authenticator, identity, created_key, login_signer) = match mode {
            SecurityMode::Enforced => {
                let key_path = config
                    .server_key_file
                    .clone()
                    .unwrap_or_else(|| config.data_dir.join(SERVER_KEY_FILE));
                let (master, created) = load_server_key(&key_path)?;
                let tokens =
                    TokenKeys::new(&master).map_err(|e| StartError::Core(e.to_string()))?;
                let authenticator =
                    Authenticator::enforced(tokens.clone(), runtime.directory().clone(), clock);
                let policy = TokenPolicy {
                    default_ttl_seconds: seconds(config.token_ttl_seconds),
                    max_ttl_seconds: seconds(config.token_max_ttl_seconds),
                    throttle: ThrottleLimits {
                        per_address: config.token_max_failures_per_address,
                        per_subject: config.token_max_failures_per_key,
                        window_seconds: seconds(config.token_failure_window_seconds),
                    },
                    delays: DelayPolicy {
                        base_ms: seconds(config.token_failure_delay_ms),
                        max_ms: seconds(config.token_failure_max_delay_ms),
                        ..DelayPolicy::default()
                    },
                };
                let mut identity = IdentityService::new(
                    runtime.clone(),
                    Some(tokens),
                    Some(SecretHasher::new(&master)),
                    policy,
                );
                if let Some(ldap) = &config.ldap {
                    let sign_in = crate::identity::ldap_sign_in(ldap)
                        .map_err(|e| StartError::Identity(format!("ldap: {e}")))?;
                    tracing::info!(url = %ldap.url, "people without a Podium password sign in through the LDAP directory");
                    identity = identity.with_directory(sign_in);
                }
                let login_signer = SecretHasher::for_purpose(&master, "podium browser sign-in v1");
                (
                    authenticator,
                    identity,
                    created.then_some(key_path),
                    Some(login_signer),
                )
            }
            SecurityMode::Disabled => (
                Authenticator::disabled(clock),
                IdentityService::new(runtime.clone(), None, None, TokenPolicy::default()),
                None,
                None,
            ),
        };
        let configured_key = match (&config.admin_key_id, &config.admin_key_secret) {
            (Some(id), Some(secret)) => Some((id.clone(), secret.expose().to_string())),
            _ => None,
        };
        let first_admin = identity
            .bootstrap(configured_key)
            .await
            .map_err(|e| StartError::Core(e.to_string()))?;
        let imported = identity
            .import_users(&config.users)
            .await
            .map_err(|e| StartError::Core(e.to_string()))?;
        if imported > 0 {
            info!(
                users = imported,
                "created the users the configuration declares"
            );
        }
        let metrics = Arc::new(Metrics::new());
        let oidc = match (&config.oidc, mode) {
            (Some(settings), SecurityMode::Enforced) => {
                tracing::info!(issuer = %settings.issuer_url, "API calls may carry the identity provider's access tokens");
                Some(
                    crate::identity::oidc::bearer(settings, runtime.clone())
                        .map_err(|e| StartError::Identity(format!("oidc: {e}")))?,
                )
            }
            _ => None,
        };
        let oidc_login = match (&config.oidc, &oidc, login_signer) {
            (Some(settings), Some(bearer), Some(signer)) => {
                OidcLogin::new(settings, bearer.clone(), signer).map(Arc::new)
            }
            _ => None,
        };
        if let Some(login) = &oidc_login {
            tracing::info!(provider = %login.provider_name(), "people may sign in through the identity provider in the browser");
        }
        let sessions = SessionService::new(
            runtime.clone(),
            SessionPolicy {
                idle_ms: seconds(config.session_idle_seconds).saturating_mul(1000),
                max_ms: seconds(config.session_max_seconds).saturating_mul(1000),
            },
        );
        let public_origin = config
            .public_url
            .as_deref()
            .map(http::session::Origin::parse)
            .transpose()
            .map_err(|why| StartError::Identity(format!("public_url: {why}")))?;
        let state = AppState::new(Shared {
            metadata: MetadataService::new(runtime.clone()),
            workflows: WorkflowService::new(runtime.clone()),
            tasks: TaskService::new(runtime.clone()),
            identity,
            users: UserService::new(runtime.clone()),
            secrets: SecretService::secrets(runtime.clone()),
            environment: SecretService::environment(runtime.clone()),
            authenticator: Arc::new(authenticator),
            trusted_proxies: http::client_addr::TrustedProxies::parse(&config.trusted_proxies)
                .map_err(StartError::Identity)?,
            oidc,
            oidc_login,
            sessions,
            public_origin,
            operations: OperationsService::new(runtime.clone()),
            schedules: podium_core::service::schedules::ScheduleService::new(runtime.clone()),
            schemas: podium_core::service::schemas::SchemaService::new(runtime.clone()),
            roles: podium_core::service::roles::RoleService::new(runtime.clone()),
            events: podium_core::service::event_handlers::EventHandlerService::new(runtime.clone()),
            event_records: podium_core::service::event_records::EventRecordService::new(
                runtime.clone(),
            ),
            registry: podium_core::service::service_registry::ServiceRegistryService::new(
                runtime.clone(),
            ),
            operate: podium_core::service::operate::OperateService::new(runtime.clone()),
            metrics: metrics.clone(),
            max_body_bytes: config.max_body_bytes,
        });
        let (router, routes) = http::router(state);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let metrics_listener = match config.metrics_listen {
            Some(want) => {
                let fail = |source| StartError::Listen { addr: want, source };
                let listener = TcpListener::bind(want).await.map_err(fail)?;
                Some((listener.local_addr().map_err(fail)?, listener))
            }
            None => None,
        };
        let addr = addr_of(&listener, config.listen)?;
        let (stop_background, stopped) = watch::channel(false);
        let own_addresses = std::iter::once(addr)
            .chain(metrics_listener.as_ref().map(|(addr, _)| *addr))
            .collect();
        let destinations = DestinationPolicy::parse(&config.http_task_allow)
            .map_err(StartError::Core)?
            .with_own_addresses(own_addresses);
        let caller = Arc::new(runner::ReqwestCaller::new(destinations).map_err(StartError::Core)?);
        let mut background = vec![
            tokio::spawn(jobs::run_sweeper(runtime.clone(), stopped.clone())),
            tokio::spawn(jobs::run_jobs(
                runtime.clone(),
                caller.clone(),
                stopped.clone(),
            )),
            tokio::spawn(jobs::run_script_jobs(
                runtime.clone(),
                caller,
                stopped.clone(),
            )),
            tokio::spawn(schedule_runs::run_scheduler(
                runtime.clone(),
                stopped.clone(),
            )),
        ];
        // Several nodes on one database: what the others change reaches this one.
        if let Some(changes) = store.changes() {
            background.push(tokio::spawn(cluster::follow_other_nodes(
                runtime.clone(),
                changes,
                stopped.clone(),
            )));
        }
        if runtime.vault().stale_count() > 0 || runtime.vault().has_previous_keys() {
            background.push(tokio::spawn(jobs::run_reseal(
                runtime.clone(),
                stopped.clone(),
            )));
        }
        if config.archive_after_seconds > 0 {
            let retention_ms = i64::try_from(config.archive_after_seconds)
                .unwrap_or(i64::MAX / 1000)
                .saturating_mul(1000);
            background.push(tokio::spawn(archive::run_archiver(
                runtime.clone(),
                retention_ms,
                stopped,
            )));
        }
        info!(
            "Podium {} listening on http://{addr} | data directory: {} | store: {}",
            env!("CARGO_PKG_VERSION"),
            config.data_dir.display(),
            store.describe(),
        );
        if config.http_task_allow.is_empty() {
            info!("HTTP tasks may call public addresses only (http_task_allow names no others)");
        } else {
            info!(
                "HTTP tasks may call public addresses and: {}",
                config.http_task_allow.join(", ")
            );
        }
        let metrics_server = metrics_listener.map(|(metrics_addr, listener)| {
            info!("metrics for Prometheus, without credentials: http://{metrics_addr}/metrics");
            (
                listener,
                http::metrics::router(metrics.clone(), OperationsService::new(runtime.clone())),
            )
        });
        match mode {
            SecurityMode::Enforced => {
                if let Some(path) = created_key {
                    info!(
                        "generated the server key (token signing, access key hashing) in {} with owner-only permissions; keep it with the data",
                        path.display()
                    );
                }
                info!(
                    "access control is enforced: every request needs a token from POST /api/token"
                );
            }
            SecurityMode::Disabled => warn!(
                "SECURITY IS DISABLED by configuration (security = \"disabled\"): every request is allowed, with no token; use this only for local experiments"
            ),
        }
        match created_secrets_key {
            Some(path) => info!(
                "generated the secrets master key in {} with owner-only permissions; back it up with the data: without it no secret can be read",
                path.display()
            ),
            None => info!(
                "secrets are sealed with master key {}",
                runtime.vault().current_key_id()
            ),
        }
        if let Some(admin) = &first_admin {
            show_first_admin(admin, &config.data_dir);
        }
        Ok(Application {
            listener,
            metrics_server,
            runtime,
            router,
            routes,
            store,
            stop_background,
            background,
            grace: Duration::from_secs(config.shutdown_grace_seconds),
        })
    }

    /// The bound address (useful with port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.listener
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)))
    }

    /// The bound address of the metrics listener, when there is one.
    pub fn metrics_addr(&self) -> Option<SocketAddr> {
        self.metrics_server
            .as_ref()
            .and_then(|(listener, _)| listener.local_addr().ok())
    }

    /// The services' shared runtime (tests use it to wake background loops).
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.clone()
    }

    /// What takes new secrets master keys while the server serves.
    pub fn key_reloader(&self) -> KeyReloader {
        KeyReloader {
            runtime: self.runtime.clone(),
            stopped: self.stop_background.subscribe(),
        }
    }

    /// The route table with each route's declared access.
    pub fn routes(&self) -> &[RouteSpec] {
        &self.routes
    }

    /// Serves until `shutdown` completes; in-flight requests then get the grace period
    /// to finish, background loops stop, and the store commits what it has.
    pub async fn run_until(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> std::io::Result<()> {
        let metrics_server = self.metrics_server.map(|(listener, router)| {
            let mut stopped = self.stop_background.subscribe();
            tokio::spawn(async move {
                let stop = async move {
                    let _ = stopped.wait_for(|stop| *stop).await;
                };
                if let Err(err) = axum::serve(listener, router)
                    .with_graceful_shutdown(stop)
                    .await
                {
                    warn!("the metrics listener stopped: {err}");
                }
            })
        });
        let (requested_tx, requested) = tokio::sync::oneshot::channel::<()>();
        let service = self
            .router
            .into_make_service_with_connect_info::<SocketAddr>();
        let server = axum::serve(self.listener, service).with_graceful_shutdown(async move {
            shutdown.await;
            let _ = requested_tx.send(());
        });
        let mut serving = tokio::spawn(async move { server.await });
        let flatten = |joined: Result<std::io::Result<()>, tokio::task::JoinError>| {
            joined.unwrap_or_else(|join| Err(std::io::Error::other(join.to_string())))
        };
        let result = tokio::select! {
            joined = &mut serving => flatten(joined),
            _ = requested => match tokio::time::timeout(self.grace, &mut serving).await {
                Ok(joined) => flatten(joined),
                Err(_) => {
                    warn!("in-flight requests did not finish within {}s; stopping anyway", self.grace.as_secs());
                    serving.abort();
                    Ok(())
                }
            },
        };
        let _ = self.stop_background.send(true);
        for handle in self.background.into_iter().chain(metrics_server) {
            let _ = handle.await;
        }
        self.store.close();
        info!("Podium stopped");
        result
    }
}
