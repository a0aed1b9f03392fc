//! The store traits: everything Podium persists goes through these, split by concern.
//!
//! Writes are units of work, never open transactions: a [`UnitOfWork`] names the
//! workflow it changes, and its closure runs against that workflow's current state
//! with exclusive access; the store then writes the state's changes and the
//! [`ChangeSet`] (new workflows, queue messages, jobs) atomically and answers only
//! after the commit. Reads may run concurrently and see only committed data.

//! One file per concern: [`executions`] (units of work, queues, jobs, the archive),
//! [`metadata`] (definitions and tags), [`security`], [`sessions`], [`secrets`], [`sealing`],
//! [`query`] (searches), [`variables`] (the variables index) and [`error`]. It imports nothing from the services above it.

use std::sync::Arc;

pub mod audit;
pub mod codec;
pub mod error;
pub mod event_handlers;
pub mod event_records;
pub mod executions;
pub mod limits;
pub mod metadata;
pub mod query;
pub mod schedules;
pub mod schemas;
pub mod sealing;
pub mod secrets;
pub mod security;
pub mod service_registry;
pub mod sessions;
pub mod variables;

pub use audit::{AuditEntry, AuditEvent, AuditQuery, AuditStore};
pub use codec::{Encoded, RowCodec};
pub use error::{StoreError, StoreResult};
pub use event_handlers::EventHandlerStore;
pub use event_records::EventRecordStore;
pub use executions::*;
pub use limits::{ClaimLimits, RateLimit};
pub use metadata::{MetadataStore, TagStore};
pub use schedules::{RunOrder, RunSearch, ScheduleRun, ScheduleStore, StoredSchedule};
pub use schemas::SchemaStore;
pub use sealing::PayloadSealer;
pub use secrets::*;
pub use security::*;
pub use service_registry::{
    MethodKey, RegistryLimits, RegistryWrite, ServiceRegistryStore, check_methods, method_row,
    methods_after, service_row,
};
pub use sessions::{SessionStore, StoredSession};

/// A change another node made to what every node keeps in memory or waits on, as the
/// store that several nodes share announces it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Messages became pollable on the named queue: long polls wake.
    Queue(String),
    /// Messages became pollable on a queue whose name is too long to announce (a
    /// notification's text is bounded): a long poll of every queue looks.
    AnyQueue,
    /// The workflow ended: callers waiting on it (a synchronous start) look again.
    Workflow(String),
    /// Access control changed (applications, keys, users, groups, grants, owners,
    /// tags): the directory is reloaded.
    Security,
    /// Secrets or environment variables changed: the vault is reloaded.
    Secrets,
    /// Task or workflow definitions changed: the definition cache is reloaded.
    Definitions,
    /// Announcements may have been missed (the connection that hears them was
    /// lost): everything is reloaded and every waiter woken.
    Resync,
}

/// Figures a store keeps about its own work, for `/metrics`.
#[derive(Debug, Default, Clone)]
pub struct StoreFigures {
    /// The connection pool, when the store has one.
    pub pool: Option<PoolFigures>,
    /// Calls by kind since the start.
    pub calls: Vec<CallFigures>,
}

/// A connection pool's state now.
#[derive(Debug, Default, Clone, Copy)]
pub struct PoolFigures {
    /// Connections open.
    pub open: usize,
    /// Of those, free.
    pub idle: usize,
    /// Calls waiting for a connection.
    pub waiting: usize,
    /// Most connections it opens.
    pub max: usize,
}

/// One kind of store call since the start: how many, how long in all, how many
/// failed.
#[derive(Debug, Default, Clone)]
pub struct CallFigures {
    pub kind: &'static str,
    pub count: u64,
    pub seconds: f64,
    pub errors: u64,
}

/// What the server needs of a store besides its data: sealing at rest, a
/// reachability check, what to call it in the log, and shutdown.
#[async_trait::async_trait]
pub trait StoreControl: Send + Sync {
    /// Seals `_secrets` and `_masked` values in the live execution tables from now
    /// on (see `service::at_rest`). Set once, before workflows are read.
    fn set_payload_sealer(&self, sealer: Arc<dyn PayloadSealer>);
    /// Whether the database answers now.
    async fn ping(&self) -> StoreResult<()>;
    /// What the store is, for the log: never a password.
    fn describe(&self) -> String;
    /// Finishes what was sent and stops; later calls fail as unavailable.
    fn close(&self);
    /// Figures about the store's own work.
    fn figures(&self) -> StoreFigures {
        StoreFigures::default()
    }
    /// The changes other nodes make, as they are announced; None for a store that
    /// only this process uses. Called once, at start-up.
    fn changes(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<Change>> {
        None
    }
}

/// The store a server runs on: one value holding every concern.
#[derive(Clone)]
pub struct Stores {
    pub control: Arc<dyn StoreControl>,
    pub metadata: Arc<dyn MetadataStore>,
    pub tags: Arc<dyn TagStore>,
    pub execution: Arc<dyn ExecutionStore>,
    pub security: Arc<dyn SecurityStore>,
    pub secrets: Arc<dyn SecretStore>,
    pub audit: Arc<dyn AuditStore>,
    pub sessions: Arc<dyn SessionStore>,
    pub schedules: Arc<dyn ScheduleStore>,
    pub schemas: Arc<dyn SchemaStore>,
    pub events: Arc<dyn EventHandlerStore>,
    pub registry: Arc<dyn ServiceRegistryStore>,
    pub event_records: Arc<dyn EventRecordStore>,
}
