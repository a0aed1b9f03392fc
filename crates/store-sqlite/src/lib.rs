//! Podium's embedded store: the core store traits on one SQLite database file.
//!
//! One writer thread applies every change (see [`writer`]); reads use a small pool of
//! read-only connections, which WAL mode lets run beside the writer and see only
//! committed data.

mod audit;
mod claims;
mod codec;
mod event_handlers;
mod event_records;
mod execution;
mod metadata;
mod rows;
mod schedules;
mod schemas;
mod search;
mod secrets;
mod security;
mod service_registry;
mod sessions;
mod variables;
mod writer;

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use parking_lot::Mutex;
use podium_core::model::WorkflowDef;
use podium_core::store::{StoreError, StoreResult, Stores};
use rusqlite::{Connection, OpenFlags};

use writer::Writer;

/// How hard commits are pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Survives a crash of the process (WAL, `synchronous=NORMAL`): the default.
    Process,
    /// Survives a power loss too (`synchronous=FULL`), at a cost in throughput.
    PowerLoss,
}

/// Options for opening the store.
#[derive(Debug, Clone)]
pub struct SqliteOptions {
    pub path: PathBuf,
    pub durability: Durability,
    /// Read-only connections for concurrent reads.
    pub readers: usize,
}

impl SqliteOptions {
    /// Defaults for a database file.
    pub fn new(path: impl Into<PathBuf>) -> SqliteOptions {
        SqliteOptions {
            path: path.into(),
            durability: Durability::Process,
            readers: 8,
        }
    }
}

/// The SQLite store. Cheap to share through [`SqliteStore::stores`].
pub struct SqliteStore {
    writer: Writer,
    checkpointer: Checkpointer,
    readers: Arc<ReaderPool>,
    path: PathBuf,
    revisions: Arc<Revisions>,
    codec: Arc<codec::Codec>,
}

/// Read-only connections, opened on first need up to a fixed number and kept; a read
/// waits for a free one rather than opening more.
pub(crate) struct ReaderPool {
    path: PathBuf,
    idle: Mutex<Vec<Connection>>,
    permits: tokio::sync::Semaphore,
}

impl ReaderPool {
    fn open(&self) -> StoreResult<Connection> {
        let conn = Connection::open_with_flags(
            &self.path,
            OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )
        .map_err(map_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(map_err)?;
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        Ok(conn)
    }

    fn take(&self) -> StoreResult<Connection> {
        match self.idle.lock().pop() {
            Some(conn) => Ok(conn),
            None => self.open(),
        }
    }

    fn give_back(&self, conn: Connection) {
        self.idle.lock().push(conn);
    }
}

/// Definitions by revision id; revisions never change, so caching them is always safe.
#[derive(Default)]
pub(crate) struct Revisions {
    cache: Mutex<HashMap<String, Arc<WorkflowDef>>>,
}

impl Revisions {
    /// A definition by revision, from the cache or the given connection.
    pub(crate) fn get(
        &self,
        conn: &Connection,
        revision: &str,
    ) -> StoreResult<Option<Arc<WorkflowDef>>> {
        if let Some(def) = self.cache.lock().get(revision) {
            return Ok(Some(def.clone()));
        }
        let json: Option<String> = conn
            .prepare_cached("SELECT json FROM def_revision WHERE revision = ?1")
            .and_then(|mut stmt| {
                let mut rows = stmt.query([revision])?;
                match rows.next()? {
                    Some(row) => Ok(Some(row.get(0)?)),
                    None => Ok(None),
                }
            })
            .map_err(map_err)?;
        let Some(json) = json else { return Ok(None) };
        let def: WorkflowDef = serde_json::from_str(&json)
            .map_err(|e| StoreError::Corrupt(format!("revision {revision}: {e}")))?;
        let def = Arc::new(def);
        self.cache.lock().insert(revision.to_string(), def.clone());
        Ok(Some(def))
    }
}

const MIGRATIONS: &[(&str, &str)] = &[
    ("0001_init", include_str!("migrations/0001_init.sql")),
    (
        "0002_security",
        include_str!("migrations/0002_security.sql"),
    ),
    ("0003_secrets", include_str!("migrations/0003_secrets.sql")),
    ("0004_archive", include_str!("migrations/0004_archive.sql")),
    (
        "0005_archive_keys",
        include_str!("migrations/0005_archive_keys.sql"),
    ),
    (
        "0006_payload_keys",
        include_str!("migrations/0006_payload_keys.sql"),
    ),
    (
        "0007_run_authority",
        include_str!("migrations/0007_run_authority.sql"),
    ),
    (
        "0008_archive_authority",
        include_str!("migrations/0008_archive_authority.sql"),
    ),
    ("0009_audit", include_str!("migrations/0009_audit.sql")),
    (
        "0010_sessions",
        include_str!("migrations/0010_sessions.sql"),
    ),
    (
        "0011_operate_seq",
        include_str!("migrations/0011_operate_seq.sql"),
    ),
    (
        "0012_operate_variables",
        include_str!("migrations/0012_operate_variables.sql"),
    ),
    (
        "0013_job_lanes",
        include_str!("migrations/0013_job_lanes.sql"),
    ),
    (
        "0014_queue_handouts",
        include_str!("migrations/0014_queue_handouts.sql"),
    ),
    (
        "0015_schedules",
        include_str!("migrations/0015_schedules.sql"),
    ),
    ("0016_schemas", include_str!("migrations/0016_schemas.sql")),
    (
        "0017_event_handlers",
        include_str!("migrations/0017_event_handlers.sql"),
    ),
    (
        "0018_service_registry",
        include_str!("migrations/0018_service_registry.sql"),
    ),
    (
        "0019_schedule_run_order",
        include_str!("migrations/0019_schedule_run_order.sql"),
    ),
    (
        "0020_event_records",
        include_str!("migrations/0020_event_records.sql"),
    ),
];

/// Maps a database error to a store error; uniqueness violations become conflicts.
pub(crate) fn map_err(err: rusqlite::Error) -> StoreError {
    match &err {
        rusqlite::Error::SqliteFailure(code, _)
            if code.code == rusqlite::ErrorCode::ConstraintViolation =>
        {
            StoreError::Conflict("the item already exists".to_string())
        }
        rusqlite::Error::SqliteFailure(code, _)
            if matches!(
                code.code,
                rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
            ) =>
        {
            tracing::warn!(error = %err, "the database is busy");
            StoreError::Unavailable("The database is busy; try again shortly.".to_string())
        }
        _ => StoreError::backend(err),
    }
}

/// Maps an error from the writer back to a store error.
pub(crate) fn to_store(err: podium_core::store::UnitError) -> StoreError {
    use podium_core::store::UnitError;
    match err {
        UnitError::Store(err) => err,
        UnitError::Refused(refusal) => match refusal.downcast::<StoreError>() {
            Ok(err) => *err,
            Err(other) => StoreError::Backend(other),
        },
    }
}

fn configure(conn: &Connection, durability: Durability) -> StoreResult<()> {
    let sync = match durability {
        Durability::Process => "NORMAL",
        Durability::PowerLoss => "FULL",
    };
    conn.execute_batch(&format!(
        "PRAGMA journal_mode = WAL;
         PRAGMA synchronous = {sync};
         PRAGMA foreign_keys = OFF;
         PRAGMA temp_store = MEMORY;
         PRAGMA cache_size = -4000;
         PRAGMA wal_autocheckpoint = 0;"
    ))
    .map_err(map_err)?;
    conn.busy_timeout(std::time::Duration::from_secs(10))
        .map_err(map_err)?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

/// Prepared statements kept per connection (more than the store uses).
const STATEMENT_CACHE: usize = 128;

/// Creates an empty database file (a valid empty SQLite database) with owner-only
/// permissions, unless it exists. SQLite would create it with the process umask
/// (usually world-readable), and it copies the database file's permissions to the
/// `-wal`, `-shm` and journal files it creates beside it.
fn create_owner_only(path: &Path) -> StoreResult<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(_) => Ok(()),
        Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(err) => Err(StoreError::backend(format!(
            "cannot create the database file {}: {err}",
            path.display()
        ))),
    }
}

fn migrate(conn: &mut Connection) -> StoreResult<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(map_err)?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        return Err(StoreError::Corrupt(format!(
            "the database was written by a newer Podium (schema {current}, this version knows {known})"
        )));
    }
    for (index, (name, sql)) in MIGRATIONS.iter().enumerate().skip(current as usize) {
        let tx = conn.transaction().map_err(map_err)?;
        tx.execute_batch(sql).map_err(map_err)?;
        if *name == "0012_operate_variables" {
            variables::index_stored(&tx)?;
        }
        tx.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
            .map_err(map_err)?;
        tx.commit().map_err(map_err)?;
    }
    Ok(())
}

impl SqliteStore {
    /// Opens (creating if needed) the database, migrates it, and starts the writer.
    /// A new database file is created readable and writable by its owner only;
    /// SQLite gives its `-wal` and `-shm` files the same permissions.
    pub fn open(options: &SqliteOptions) -> StoreResult<Arc<SqliteStore>> {
        create_owner_only(&options.path)?;
        let mut conn = Connection::open(&options.path).map_err(map_err)?;
        configure(&conn, options.durability)?;
        migrate(&mut conn)?;
        // This process owns the file: leases held by a previous process are void.
        conn.execute(
            "UPDATE job SET lease_until = NULL WHERE lease_until IS NOT NULL",
            [],
        )
        .map_err(map_err)?;
        let readers = Arc::new(ReaderPool {
            path: options.path.clone(),
            idle: Mutex::new(Vec::new()),
            permits: tokio::sync::Semaphore::new(options.readers.max(1)),
        });
        let checkpointer = Checkpointer::start(&options.path)?;
        Ok(Arc::new(SqliteStore {
            writer: Writer::start(conn)?,
            checkpointer,
            readers,
            path: options.path.clone(),
            revisions: Arc::new(Revisions::default()),
            codec: Arc::default(),
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

    /// Seals `_secrets` and `_masked` values in the live execution tables from now
    /// on (see `podium_core::service::at_rest`). Set once, before workflows are read.
    pub fn set_payload_sealer(&self, sealer: Arc<dyn podium_core::store::PayloadSealer>) {
        self.codec.set_sealer(sealer);
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops the writer after everything already sent is committed.
    pub fn close(&self) {
        self.writer.close();
        self.checkpointer.stop();
    }

    /// Runs a read on a pooled read-only connection, off the async threads.
    pub(crate) async fn read<T, F>(&self, f: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection, &Revisions) -> StoreResult<T> + Send + 'static,
    {
        let readers = self.readers.clone();
        let revisions = self.revisions.clone();
        let _permit = readers.permits.acquire().await.map_err(|_| {
            StoreError::Unavailable("The server is shutting down; try again shortly.".into())
        })?;
        let pool = readers.clone();
        tokio::task::spawn_blocking(move || {
            let conn = pool.take()?;
            let result = f(&conn, &revisions);
            pool.give_back(conn);
            result
        })
        .await
        .map_err(|e| StoreError::backend(format!("read task failed: {e}")))?
    }
}

#[async_trait::async_trait]
impl podium_core::store::StoreControl for SqliteStore {
    fn set_payload_sealer(&self, sealer: Arc<dyn podium_core::store::PayloadSealer>) {
        SqliteStore::set_payload_sealer(self, sealer);
    }

    async fn ping(&self) -> StoreResult<()> {
        self.read(|conn, _| conn.query_row("SELECT 1", [], |_| Ok(())).map_err(map_err))
            .await
    }

    fn describe(&self) -> String {
        format!("embedded SQLite ({})", self.path.display())
    }

    fn close(&self) {
        SqliteStore::close(self);
    }
}

impl Drop for SqliteStore {
    fn drop(&mut self) {
        self.writer.close();
        self.checkpointer.stop();
    }
}

/// Copies the write-ahead log into the database file from its own thread, so the
/// writer never pays for checkpoints on its commits.
struct Checkpointer {
    stop: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

/// How often the log is checkpointed.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

/// Log size (frames) above which a checkpoint also makes the writer start the log
/// over: about 16 MB with 4 KB pages.
const RESTART_FRAMES: i64 = 4_000;

/// One checkpoint pass. A passive checkpoint copies what it can without blocking
/// anyone; but under a steady stream of commits the log never becomes fully copied
/// at the moment the writer begins, so it would never start over and would grow
/// without bound (every commit then pays for extending the file). When the log is
/// long, a `RESTART` checkpoint copies the few frames the passive one left behind and
/// waits for readers, so the next commit writes from the start of the log again.
fn checkpoint(conn: &Connection) {
    let passive = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |row| {
        Ok((row.get::<_, i64>(1)?, row.get::<_, i64>(2)?))
    });
    match passive {
        Ok((log, _copied)) if log > RESTART_FRAMES => {
            if let Err(err) = conn.query_row("PRAGMA wal_checkpoint(RESTART)", [], |_| Ok(())) {
                tracing::warn!(error = %err, "checkpoint failed; it is tried again");
            }
        }
        Ok(_) => {}
        Err(err) => tracing::warn!(error = %err, "checkpoint failed; it is tried again"),
    }
}

impl Checkpointer {
    fn start(path: &Path) -> StoreResult<Checkpointer> {
        let conn = Connection::open(path).map_err(map_err)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))
            .map_err(map_err)?;
        let (stop, stopped) = std::sync::mpsc::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("podium-sqlite-checkpoint".into())
            .spawn(move || {
                // Until the sender is dropped (or a stop is sent).
                while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) =
                    stopped.recv_timeout(CHECKPOINT_EVERY)
                {
                    checkpoint(&conn);
                }
                // A last full checkpoint leaves a compact database behind.
                let _ = conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
            })
            .map_err(|e| StoreError::backend(format!("cannot start the checkpoint thread: {e}")))?;
        Ok(Checkpointer {
            stop: Mutex::new(Some(stop)),
            thread: Mutex::new(Some(thread)),
        })
    }

    fn stop(&self) {
        drop(self.stop.lock().take());
        if let Some(thread) = self.thread.lock().take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod migration_tests {
    use super::*;

    #[test]
    fn executions_stored_before_get_operate_numbers_in_creation_order() {
        let mut conn = Connection::open_in_memory().expect("open");
        let before = MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "0011_operate_seq")
            .expect("the migration tested");
        for (index, (_name, sql)) in MIGRATIONS.iter().take(before).enumerate() {
            conn.execute_batch(sql).expect("older migration");
            conn.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .expect("version");
        }
        let row = |table: &str, id: &str, created: i64| {
            format!(
                "INSERT INTO {table} (id, name, version, status, priority, create_time, start_time,
                    end_time, update_time, def_revision, json)
                 VALUES ('{id}', 'w', 1, 'COMPLETED', 0, {created}, {created}, {created}, {created}, 'r', '{{}}')"
            )
        };
        conn.execute_batch(&row("workflow", "late", 300))
            .expect("live");
        conn.execute_batch(&row("archived_workflow", "early", 100))
            .expect("archived");
        conn.execute_batch(&row("workflow", "middle", 200))
            .expect("live");
        migrate(&mut conn).expect("migrate");
        let seq = |id: &str| -> i64 {
            conn.query_row(
                "SELECT operate_seq FROM workflow_all WHERE id = ?1",
                [id],
                |r| r.get(0),
            )
            .expect("numbered")
        };
        assert_eq!((seq("early"), seq("middle"), seq("late")), (1, 2, 3));
        let counter: i64 = conn
            .query_row("SELECT n FROM operate_seq_counter", [], |r| r.get(0))
            .expect("counter");
        assert_eq!(counter, 3, "the next execution takes 4");
    }

    #[test]
    fn variables_stored_before_are_indexed_as_people_see_them() {
        let mut conn = Connection::open_in_memory().expect("open");
        let before = MIGRATIONS
            .iter()
            .position(|(name, _)| *name == "0012_operate_variables")
            .expect("the migration that indexes variables");
        for (index, (_name, sql)) in MIGRATIONS.iter().take(before).enumerate() {
            conn.execute_batch(sql).expect("older migration");
            conn.execute_batch(&format!("PRAGMA user_version = {}", index + 1))
                .expect("version");
        }
        let row = |table: &str, id: &str, seq: i64, json: &str| {
            conn.execute(
                &format!(
                    "INSERT INTO {table} (id, name, version, status, priority, create_time,
                        start_time, end_time, update_time, def_revision, json, operate_seq)
                     VALUES (?1, 'w', 1, 'COMPLETED', 0, 1, 1, 1, 1, 'r', ?2, ?3)"
                ),
                rusqlite::params![id, json, seq],
            )
            .expect("row");
        };
        row(
            "workflow",
            "live",
            1,
            r#"{"workflowId":"live","variables":{"a":1,"_secrets":{"$podiumAtRest":{"v":1}}}}"#,
        );
        row(
            "archived_workflow",
            "old",
            2,
            r#"{"workflowId":"old","variables":{"b":"***"}}"#,
        );
        row("workflow", "damaged", 3, "not json");
        row(
            "workflow",
            "plain",
            4,
            r#"{"workflowId":"plain","variables":{"c":2}}"#,
        );
        migrate(&mut conn).expect("migrate");
        let mut rows: Vec<(i64, String, String)> = conn
            .prepare(
                "SELECT operate_seq, name, value FROM operate_variable ORDER BY operate_seq, name",
            )
            .and_then(|mut s| {
                s.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?
                    .collect::<Result<Vec<_>, _>>()
            })
            .expect("rows");
        rows.sort();
        assert_eq!(
            rows,
            vec![
                (1, "_secrets".to_string(), "\"***\"".to_string()),
                // A run that masks anything: every value, until its next write.
                (1, "a".to_string(), "\"***\"".to_string()),
                (2, "b".to_string(), "\"***\"".to_string()),
                (4, "c".to_string(), "2".to_string()),
            ]
        );
    }
}
