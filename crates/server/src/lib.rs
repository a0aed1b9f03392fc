//! The Podium server: builds the store, services, HTTP API and background loops from a
//! configuration, and runs them until asked to stop.

pub mod config;
pub mod http;
pub mod runner;
pub mod telemetry;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use podium_core::clock::{Clock, SystemClock, UuidGen};
use podium_core::engine::EngineLimits;
use podium_core::security::{Authenticator, Authorizer, SecurityMode};
use podium_core::service::{MetadataService, Runtime, TaskService, WorkflowService, jobs};
use podium_store_sqlite::{SqliteOptions, SqliteStore};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tracing::{info, warn};

use config::{Config, Durability};
use http::metrics::Metrics;
use http::routes::RouteSpec;
use http::state::AppState;

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
}

/// A built server, bound to its address, not yet serving.
pub struct Application {
    listener: TcpListener,
    runtime: Arc<Runtime>,
    router: axum::Router,
    routes: Vec<RouteSpec>,
    store: Arc<SqliteStore>,
    stop_background: watch::Sender<bool>,
    background: Vec<JoinHandle<()>>,
    grace: Duration,
}

/// The database file inside the data directory.
pub const DATABASE_FILE: &str = "podium.db";

impl Application {
    /// Opens the store (creating the data directory), builds the services and binds the
    /// listener. Background loops start here too.
    pub async fn build(config: &Config) -> Result<Application, StartError> {
        Application::build_with_clock(config, Arc::new(SystemClock)).await
    }

    /// [`Application::build`] with an injected clock (tests use a fake one).
    pub async fn build_with_clock(
        config: &Config,
        clock: Arc<dyn Clock>,
    ) -> Result<Application, StartError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|source| StartError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let mut options = SqliteOptions::new(config.data_dir.join(DATABASE_FILE));
        options.durability = match config.durability {
            Durability::Process => podium_store_sqlite::Durability::Process,
            Durability::PowerLoss => podium_store_sqlite::Durability::PowerLoss,
        };
        let store = SqliteStore::open(&options).map_err(|e| StartError::Store(e.to_string()))?;
        let limits = EngineLimits {
            active_worker_window_ms: (config.active_worker_seconds as i64) * 1000,
            ..EngineLimits::default()
        };
        let mode = SecurityMode::Disabled;
        let runtime = Runtime::new(
            store.stores(),
            clock,
            Arc::new(UuidGen),
            limits,
            Authorizer::new(mode),
        )
        .await
        .map_err(|e| StartError::Core(e.to_string()))?;
        let state = AppState {
            metadata: MetadataService::new(runtime.clone()),
            workflows: WorkflowService::new(runtime.clone()),
            tasks: TaskService::new(runtime.clone()),
            authenticator: Arc::new(Authenticator::new(mode)),
            runtime: runtime.clone(),
            metrics: Arc::new(Metrics::new()),
            max_body_bytes: config.max_body_bytes,
        };
        let (router, routes) = http::router(state);
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| StartError::Listen {
                    addr: config.listen,
                    source,
                })?;
        let (stop_background, stopped) = watch::channel(false);
        let caller = Arc::new(runner::ReqwestCaller::new().map_err(StartError::Core)?);
        let background = vec![
            tokio::spawn(jobs::run_sweeper(runtime.clone(), stopped.clone())),
            tokio::spawn(jobs::run_jobs(runtime.clone(), caller, stopped)),
        ];
        let addr = listener.local_addr().map_err(|source| StartError::Listen {
            addr: config.listen,
            source,
        })?;
        info!(
            "Podium {} listening on http://{addr} | data directory: {} | store: embedded SQLite ({}), durability: {:?}",
            env!("CARGO_PKG_VERSION"),
            config.data_dir.display(),
            store.path().display(),
            config.durability,
        );
        warn!("access control is not enforced by this version: every request is allowed");
        Ok(Application {
            listener,
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

    /// The services' shared runtime (tests use it to wake background loops).
    pub fn runtime(&self) -> Arc<Runtime> {
        self.runtime.clone()
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
        let (requested_tx, requested) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(self.listener, self.router).with_graceful_shutdown(async move {
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
        for handle in self.background {
            let _ = handle.await;
        }
        self.store.close();
        info!("Podium stopped");
        result
    }
}
