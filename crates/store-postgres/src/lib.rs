//! Podium's shared store: the core store traits on PostgreSQL, so that several nodes
//! can serve one cluster.
//!
//! - A unit of work is one transaction that locks its workflow's row (`FOR UPDATE`)
//!   first; every other writer of that workflow's rows takes the same lock first, so
//!   the engine sees each workflow's changes in one order on every node.
//! - Claims of queue messages and jobs take rows with `FOR UPDATE SKIP LOCKED`: a
//!   task or a job goes to exactly one claimant across all nodes.
//! - Waits on the pool are bounded ([`PgOptions::pool_wait`]); a database that is
//!   away makes calls fail as [`StoreError::Unavailable`] with a fixed message, and
//!   the pool reconnects by itself when it is back. Database text reaches the log
//!   only.

mod audit;
mod claims;
mod connect;
mod event_handlers;
mod event_records;
mod execution;
mod figures;
mod limits;
mod listen;
mod metadata;
mod migrate;
mod rows;
mod schedules;
mod schemas;
mod search;
mod secrets;
mod security;
mod service_registry;
mod sessions;
pub mod testing;
mod tx;
mod variables;
mod wakeups;

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Object, Pool};
use parking_lot::Mutex;
use podium_core::model::WorkflowDef;
use podium_core::store::{RowCodec, StoreError, StoreResult, Stores};
use tokio_postgres::error::SqlState;

pub use connect::PgOptions;

/// The PostgreSQL store. Cheap to share through [`PostgresStore::stores`].
pub struct PostgresStore {
    pool: Pool,
    revisions: Revisions,
    codec: RowCodec,
    /// `host:port/database`, for the log.
    target: String,
    /// This node's name in its announcements.
    node: String,
    /// The channel this cluster's announcements go on.
    channel: String,
    /// What other nodes announce, until the server takes it.
    changes: Mutex<Option<tokio::sync::mpsc::UnboundedReceiver<podium_core::store::Change>>>,
    /// Sends queue and workflow wake-ups to the other nodes after commit.
    wakeups: wakeups::Wakeups,
    /// Tells the listener to stop.
    closed: tokio::sync::watch::Sender<bool>,
    /// Call timings, for `/metrics`.
    timings: figures::Timings,
    /// Most connections the pool opens.
    pool_size: usize,
}

/// Definitions by revision id; revisions never change, so caching them is always
/// safe, on every node.
#[derive(Default)]
pub(crate) struct Revisions {
    cache: Mutex<HashMap<String, Arc<WorkflowDef>>>,
}

impl Revisions {
    /// A definition by revision, from the cache or the database.
    pub(crate) async fn get(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        revision: &str,
    ) -> StoreResult<Option<Arc<WorkflowDef>>> {
        if let Some(def) = self.cache.lock().get(revision) {
            return Ok(Some(def.clone()));
        }
        let statement = client
            .prepare_cached("SELECT json FROM def_revision WHERE revision = $1")
            .await
            .map_err(map_err)?;
        let Some(row) = client
            .query_opt(&statement, &[&revision])
            .await
            .map_err(map_err)?
        else {
            return Ok(None);
        };
        let json: String = row.try_get(0).map_err(map_err)?;
        let def: WorkflowDef = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("revision {revision}: {e}")))?;
        let def = Arc::new(def);
        self.cache.lock().insert(revision.to_string(), def.clone());
        Ok(Some(def))
    }
}

/// The message a caller sees while the database is away.
pub(crate) const UNAVAILABLE: &str = "The database is unavailable; try again shortly.";

/// Maps a database error to a store error: uniqueness violations become conflicts,
/// a lost connection, a shutdown, a timeout or a conflict between transactions
/// becomes unavailable (with a fixed message; the detail goes to the log), and the
/// rest keeps its typed source.
pub(crate) fn map_err(err: tokio_postgres::Error) -> StoreError {
    let code = err.code();
    if code == Some(&SqlState::UNIQUE_VIOLATION) {
        return StoreError::Conflict("the item already exists".to_string());
    }
    if code.is_some_and(|c| {
        *c == SqlState::CHARACTER_NOT_IN_REPERTOIRE || *c == SqlState::UNTRANSLATABLE_CHARACTER
    }) {
        return StoreError::Rejected(
            "Text must not contain NUL characters or bytes that are not UTF-8.".to_string(),
        );
    }
    let passing = [
        SqlState::T_R_SERIALIZATION_FAILURE,
        SqlState::T_R_DEADLOCK_DETECTED,
        SqlState::QUERY_CANCELED,
        SqlState::ADMIN_SHUTDOWN,
        SqlState::CRASH_SHUTDOWN,
        SqlState::CANNOT_CONNECT_NOW,
        SqlState::LOCK_NOT_AVAILABLE,
        SqlState::TOO_MANY_CONNECTIONS,
        SqlState::READ_ONLY_SQL_TRANSACTION,
    ];
    let connection_lost = code.is_none() || err.is_closed();
    if connection_lost || code.is_some_and(|c| passing.contains(c) || c.code().starts_with("08")) {
        tracing::warn!(error = %podium_core::error::error_chain(&err), "a database call failed; the caller is told to retry");
        let message = if code == Some(&SqlState::QUERY_CANCELED) {
            "The database did not answer in time; try again shortly."
        } else {
            UNAVAILABLE
        };
        return StoreError::Unavailable(message.to_string());
    }
    StoreError::backend(err)
}

impl PostgresStore {
    /// Connects, applies the migrations (one node at a time, under an advisory
    /// lock), and returns the store.
    pub async fn open(options: &PgOptions) -> StoreResult<Arc<PostgresStore>> {
        let settings = connect::settings(options)?;
        let pool = connect::pool(options, &settings)?;
        let (closed, on_close) = tokio::sync::watch::channel(false);
        let node = uuid::Uuid::new_v4().simple().to_string();
        let mut client = pool.get().await.map_err(connect::pool_error)?;
        migrate::run(&mut client).await?;
        // Drawn at random by the migration that made the table (see its text).
        let channel: String = client
            .query_one("SELECT name FROM podium_channel", &[])
            .await
            .map_err(map_err)?
            .try_get(0)
            .map_err(map_err)?;
        drop(client);
        let wakeups = wakeups::Wakeups::start(pool.clone(), channel.clone(), on_close.clone());
        let changes = listen::start(&settings, channel.clone(), node.clone(), on_close).await?;
        Ok(Arc::new(PostgresStore {
            pool,
            revisions: Revisions::default(),
            codec: RowCodec::default(),
            target: settings.target,
            node,
            channel,
            changes: Mutex::new(Some(changes)),
            wakeups,
            closed,
            timings: figures::Timings::default(),
            pool_size: options.pool_size.max(1),
        }))
    }

    /// The store as the trait objects the core uses.
    pub fn stores(self: &Arc<Self>) -> Stores {
        Stores {
            control: self.clone(),
            metadata: self.clone(),
            tags: self.clone(),
            execution: self.clone(),
            security: self.clone(),
            secrets: self.clone(),
            audit: self.clone(),
            sessions: self.clone(),
            schedules: self.clone(),
            schemas: self.clone(),
            events: self.clone(),
            registry: self.clone(),
            event_records: self.clone(),
        }
    }

    /// A pooled connection; waits at most the configured pool wait.
    pub(crate) async fn client(&self) -> StoreResult<Object> {
        let began = std::time::Instant::now();
        let got = self.pool.get().await.map_err(connect::pool_error);
        self.timings
            .record(figures::Kind::PoolWait, began, got.is_err());
        got
    }

    /// Times a call of a kind.
    pub(crate) async fn timed<T, E>(
        &self,
        kind: figures::Kind,
        call: impl std::future::Future<Output = Result<T, E>>,
    ) -> Result<T, E> {
        let began = std::time::Instant::now();
        let result = call.await;
        self.timings.record(kind, began, result.is_err());
        result
    }

    /// Wakes the other nodes for a change that has committed (see [`wakeups`]).
    pub(crate) fn wake_others(&self, change: &podium_core::store::Change) {
        self.wakeups.send(listen::payload(&self.node, change));
    }

    /// Moves the access-control version on, in the transaction of a change to it.
    pub(crate) async fn bump_security_version(
        &self,
        client: &impl deadpool_postgres::GenericClient,
    ) -> StoreResult<()> {
        let statement = client
            .prepare_cached(
                "UPDATE podium_version SET version = version + 1 WHERE name = 'security'",
            )
            .await
            .map_err(map_err)?;
        client.execute(&statement, &[]).await.map_err(map_err)?;
        Ok(())
    }

    /// Announces a change in the transaction (or, outside one, at once).
    pub(crate) async fn announce(
        &self,
        client: &impl deadpool_postgres::GenericClient,
        change: podium_core::store::Change,
    ) -> StoreResult<()> {
        let payload = listen::payload(&self.node, &change);
        let statement = client
            .prepare_cached(listen::NOTIFY)
            .await
            .map_err(map_err)?;
        client
            .execute(&statement, &[&self.channel, &payload])
            .await
            .map_err(map_err)?;
        Ok(())
    }
}

#[async_trait::async_trait]
impl podium_core::store::StoreControl for PostgresStore {
    fn set_payload_sealer(&self, sealer: Arc<dyn podium_core::store::PayloadSealer>) {
        self.codec.set_sealer(sealer);
    }

    async fn ping(&self) -> StoreResult<()> {
        let client = self.client().await?;
        client.simple_query("SELECT 1").await.map_err(map_err)?;
        Ok(())
    }

    fn describe(&self) -> String {
        format!("PostgreSQL ({})", self.target)
    }

    fn close(&self) {
        let _ = self.closed.send(true);
        self.pool.close();
    }

    fn figures(&self) -> podium_core::store::StoreFigures {
        let status = self.pool.status();
        podium_core::store::StoreFigures {
            pool: Some(podium_core::store::PoolFigures {
                open: status.size,
                idle: status.available,
                waiting: status.waiting,
                max: self.pool_size,
            }),
            calls: self.timings.figures(),
        }
    }

    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<podium_core::store::Change>> {
        self.changes.lock().take()
    }
}

/// Converts a count or limit for a query.
pub(crate) fn to_i64(value: usize) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

/// How long the pool waits for a connection by default.
pub const DEFAULT_POOL_WAIT: Duration = Duration::from_secs(5);
