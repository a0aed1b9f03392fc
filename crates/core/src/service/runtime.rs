//! The shared runtime of the services: stores, clock, ids, caches, and the signals that
//! wake long polls, waiting callers and background loops after a commit. Also the
//! helper every state change goes through: run a closure as a unit of work with an
//! engine context, then signal what the commit changed.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use parking_lot::{Mutex, RwLock};
use tokio::sync::Notify;

use crate::clock::{Clock, IdGen};
use crate::engine::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use crate::error::{CoreError, CoreResult};
use crate::model::{PollData, TaskDef, WorkflowDef};
use crate::security::secret_box::Keyring;
use crate::security::{Authorizer, SecurityMode};
use crate::service::access::AccessControl;
use crate::service::audit::Auditor;
use crate::service::handoff::HandoffCache;
use crate::service::vault::Vault;
use crate::store::{Committed, Stores, Txn, UnitError, UnitOfWork};

/// Registered definitions, held in memory for the engine (which cannot wait on a
/// store while it decides). Every definition write goes through the metadata service,
/// which refreshes this cache after the store accepted the write.
#[derive(Default)]
pub struct DefinitionCache {
    task_defs: RwLock<HashMap<String, Arc<TaskDef>>>,
    workflow_defs: RwLock<HashMap<String, Versions>>,
    /// Counts this node's own changes, each made while holding the lock of the map it
    /// changes: a reload that read the store before one of them starts over, so it
    /// never puts back what was there before it.
    local_changes: AtomicU64,
    /// Whether some task definition enforces a schema: when none does, a task's
    /// result needs no look at its definition.
    task_schemas: AtomicBool,
}

/// Whether a task definition enforces an input or output schema.
fn enforces_schema(def: &TaskDef) -> bool {
    def.enforce_schema && (def.input_schema.is_some() || def.output_schema.is_some())
}

/// The versions of one workflow definition, each with its revision id.
type Versions = BTreeMap<i32, (Arc<WorkflowDef>, String)>;

/// A worker's poll record key: task type, domain, worker id.
type WorkerKey = (String, Option<String>, String);

impl DefinitionCache {
    /// Loads every definition.
    pub async fn load(stores: &Stores) -> CoreResult<DefinitionCache> {
        let cache = DefinitionCache::default();
        cache.replace_all(stores.metadata.list_task_defs().await?);
        for def in stores.metadata.list_workflow_defs().await? {
            if let Some((stored, revision)) = stores
                .metadata
                .get_workflow_def(&def.name, Some(def.version))
                .await?
            {
                cache.put_workflow(stored, revision);
            }
        }
        Ok(cache)
    }

    /// Reads every definition from the store again and replaces the cache (another
    /// node changed them).
    pub async fn reload(&self, stores: &Stores) -> CoreResult<()> {
        for _ in 0..5 {
            let before = self.local_changes.load(Ordering::Acquire);
            let fresh = DefinitionCache::load(stores).await?;
            let task_defs = std::mem::take(&mut *fresh.task_defs.write());
            let workflow_defs = std::mem::take(&mut *fresh.workflow_defs.write());
            let mut tasks = self.task_defs.write();
            let mut workflows = self.workflow_defs.write();
            if self.local_changes.load(Ordering::Acquire) == before {
                *tasks = task_defs;
                self.note_task_schemas(&tasks);
                *workflows = workflow_defs;
                return Ok(());
            }
        }
        // Changed here all along: what this node holds is as new as the store.
        Ok(())
    }

    /// Adds or replaces one workflow definition version.
    pub fn put_workflow(&self, def: WorkflowDef, revision: String) {
        let mut defs = self.workflow_defs.write();
        defs.entry(def.name.clone())
            .or_default()
            .insert(def.version, (Arc::new(def), revision));
        self.local_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets one workflow definition version.
    pub fn remove_workflow(&self, name: &str, version: i32) {
        let mut defs = self.workflow_defs.write();
        if let Some(versions) = defs.get_mut(name) {
            versions.remove(&version);
            if versions.is_empty() {
                defs.remove(name);
            }
        }
        self.local_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// A workflow definition version (the latest when `version` is None), with its revision.
    pub fn workflow(&self, name: &str, version: Option<i32>) -> Option<(Arc<WorkflowDef>, String)> {
        let defs = self.workflow_defs.read();
        let versions = defs.get(name)?;
        match version {
            Some(v) => versions.get(&v).cloned(),
            None => versions.values().next_back().cloned(),
        }
    }

    /// Every workflow definition version, by name then version.
    pub fn all_workflows(&self) -> Vec<Arc<WorkflowDef>> {
        self.workflow_defs
            .read()
            .values()
            .flat_map(|versions| versions.values().map(|(def, _)| def.clone()))
            .collect()
    }

    /// Every task definition, by name.
    pub fn all_task_defs(&self) -> Vec<Arc<TaskDef>> {
        let mut defs: Vec<Arc<TaskDef>> = self.task_defs.read().values().cloned().collect();
        defs.sort_by(|a, b| a.name.cmp(&b.name));
        defs
    }

    /// Replaces the whole cache.
    pub fn replace_all(&self, defs: Vec<TaskDef>) {
        let map = defs
            .into_iter()
            .map(|d| (d.name.clone(), Arc::new(d)))
            .collect();
        let mut task_defs = self.task_defs.write();
        *task_defs = map;
        self.note_task_schemas(&task_defs);
        self.local_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Whether some task definition enforces an input or output schema.
    pub fn enforces_task_schemas(&self) -> bool {
        self.task_schemas.load(Ordering::Acquire)
    }

    fn note_task_schemas(&self, defs: &HashMap<String, Arc<TaskDef>>) {
        let any = defs.values().any(|d| enforces_schema(d));
        self.task_schemas.store(any, Ordering::Release);
    }

    /// Adds or replaces one definition.
    pub fn put(&self, def: TaskDef) {
        let mut task_defs = self.task_defs.write();
        task_defs.insert(def.name.clone(), Arc::new(def));
        self.note_task_schemas(&task_defs);
        self.local_changes.fetch_add(1, Ordering::AcqRel);
    }

    /// Forgets one definition.
    pub fn remove(&self, name: &str) {
        let mut task_defs = self.task_defs.write();
        task_defs.remove(name);
        self.note_task_schemas(&task_defs);
        self.local_changes.fetch_add(1, Ordering::AcqRel);
    }
}

impl TaskDefs for DefinitionCache {
    fn task_def(&self, name: &str) -> Option<Arc<TaskDef>> {
        self.task_defs.read().get(name).cloned()
    }
}

/// When workers last polled each task type and domain; used to route tasks across
/// domain lists, and persisted (at most once a second per worker) for the poll-data API.
pub struct PollTracker {
    last: RwLock<HashMap<(String, Option<String>), i64>>,
    persisted: Mutex<HashMap<WorkerKey, i64>>,
}

/// How often one worker's poll record is written.
const POLL_PERSIST_INTERVAL_MS: i64 = 1000;

impl PollTracker {
    /// A tracker seeded with the stored poll records.
    pub async fn load(stores: &Stores) -> CoreResult<PollTracker> {
        let tracker = PollTracker {
            last: RwLock::new(HashMap::new()),
            persisted: Mutex::new(HashMap::new()),
        };
        for poll in stores.execution.poll_data(None).await? {
            tracker.note(
                &poll.queue_name,
                poll.domain.as_deref(),
                poll.last_poll_time,
            );
        }
        Ok(tracker)
    }

    fn note(&self, task_type: &str, domain: Option<&str>, at: i64) {
        let key = (task_type.to_string(), domain.map(str::to_string));
        let mut last = self.last.write();
        let entry = last.entry(key).or_insert(at);
        *entry = (*entry).max(at);
    }

    /// Records a poll; returns the record to persist when it is due.
    pub fn record(
        &self,
        task_type: &str,
        domain: Option<&str>,
        worker_id: &str,
        at: i64,
    ) -> Option<PollData> {
        self.note(task_type, domain, at);
        let key = (
            task_type.to_string(),
            domain.map(str::to_string),
            worker_id.to_string(),
        );
        let mut persisted = self.persisted.lock();
        let due = persisted
            .get(&key)
            .is_none_or(|last| at - last >= POLL_PERSIST_INTERVAL_MS);
        if !due {
            return None;
        }
        persisted.insert(key, at);
        Some(PollData {
            queue_name: task_type.to_string(),
            domain: domain.map(str::to_string),
            worker_id: worker_id.to_string(),
            last_poll_time: at,
        })
    }
}

impl PollTracker {
    /// Takes in the poll records other nodes stored, so that routing by domain sees
    /// workers that poll any node.
    pub async fn refresh(&self, stores: &Stores) -> CoreResult<()> {
        for poll in stores.execution.poll_data(None).await? {
            self.note(
                &poll.queue_name,
                poll.domain.as_deref(),
                poll.last_poll_time,
            );
        }
        Ok(())
    }
}

impl PollActivity for PollTracker {
    fn last_poll(&self, task_type: &str, domain: Option<&str>) -> Option<i64> {
        self.last
            .read()
            .get(&(task_type.to_string(), domain.map(str::to_string)))
            .copied()
    }
}

/// The wake-up and emptiness hint of one queue.
///
/// `pushes` counts messages that became pollable; `empty_as_of` is the `pushes` value
/// at which a claim last found the queue empty. While the two are equal no message
/// arrived since, and a poll need not ask the store. Messages that were already stored
/// with a later visibility (a callback, a retry delay, messages from before a restart)
/// become pollable without a push, so the hint also expires [`QueueSignal::HINT_TTL_MS`]
/// after the claim that set it, by the engine's clock. The hint only ever errs towards
/// asking.
pub struct QueueSignal {
    notify: Notify,
    pushes: AtomicU64,
    empty_as_of: AtomicU64,
    empty_checked_at: AtomicI64,
}

impl QueueSignal {
    fn new() -> QueueSignal {
        QueueSignal {
            notify: Notify::new(),
            pushes: AtomicU64::new(0),
            empty_as_of: AtomicU64::new(u64::MAX),
            empty_checked_at: AtomicI64::new(i64::MIN),
        }
    }

    /// How long (engine milliseconds) a claim that found the queue empty spares the
    /// store: the longest a message that became visible without a push waits.
    pub const HINT_TTL_MS: i64 = 1_000;

    /// Where the queue stands: pass it to [`QueueSignal::found_empty`] after a claim.
    pub fn mark(&self) -> u64 {
        self.pushes.load(Ordering::Acquire)
    }

    /// Whether the queue may hold a pollable message at engine time `now`.
    pub fn may_have_messages(&self, now: i64) -> bool {
        self.empty_as_of.load(Ordering::Acquire) != self.pushes.load(Ordering::Acquire)
            || now.saturating_sub(self.empty_checked_at.load(Ordering::Acquire))
                >= Self::HINT_TTL_MS
    }

    /// Records that a claim started at `mark`, at engine time `now`, found no (more)
    /// messages.
    pub fn found_empty(&self, mark: u64, now: i64) {
        // The time first: a reader pairing the new mark with an older time only asks
        // the store sooner.
        self.empty_checked_at.store(now, Ordering::Release);
        self.empty_as_of.store(mark, Ordering::Release);
    }

    /// What a long poll waits on.
    pub fn notified(&self) -> tokio::sync::futures::Notified<'_> {
        self.notify.notified()
    }

    fn pushed(&self) {
        self.pushes.fetch_add(1, Ordering::AcqRel);
        // One message, one waiter: waking every poller would send them all to the store.
        self.notify.notify_one();
    }
}

/// Wake-ups after commits: long polls per queue, callers waiting on a workflow, and the
/// background loops.
#[derive(Default)]
pub struct Signals {
    queues: Mutex<HashMap<String, Arc<QueueSignal>>>,
    workflows: Mutex<HashMap<String, Arc<Notify>>>,
    /// Wakes the job runner.
    pub jobs: Notify,
    /// Wakes the job runner's lane of script evaluations.
    pub scripts: Notify,
    /// Wakes the sweeper.
    pub sweeper: Notify,
}

impl Signals {
    /// The signal of a queue, for a long poll to wait on.
    pub fn queue(&self, name: &str) -> Arc<QueueSignal> {
        self.queues
            .lock()
            .entry(name.to_string())
            .or_insert_with(|| Arc::new(QueueSignal::new()))
            .clone()
    }

    /// The notifier of a workflow, for a caller waiting on it. Call
    /// [`Signals::release_workflow`] when done.
    pub fn workflow(&self, id: &str) -> Arc<Notify> {
        self.workflows
            .lock()
            .entry(id.to_string())
            .or_insert_with(|| Arc::new(Notify::new()))
            .clone()
    }

    /// Drops a workflow notifier nobody waits on any more.
    pub fn release_workflow(&self, id: &str, notify: Arc<Notify>) {
        drop(notify);
        let mut workflows = self.workflows.lock();
        if workflows.get(id).is_some_and(|n| Arc::strong_count(n) == 1) {
            workflows.remove(id);
        }
    }

    /// Wakes one long poll of a queue (a message became pollable).
    pub(crate) fn wake_queue(&self, name: &str) {
        self.queue(name).pushed();
    }

    /// Wakes a long poll of every queue (a message arrived on one whose name another
    /// node could not announce).
    pub(crate) fn wake_every_queue(&self) {
        let queues: Vec<Arc<QueueSignal>> = self.queues.lock().values().cloned().collect();
        for queue in queues {
            queue.pushed();
        }
    }

    /// Wakes the callers waiting on a workflow (it ended on another node).
    pub(crate) fn wake_workflow(&self, id: &str) {
        if let Some(notify) = self.workflows.lock().get(id) {
            notify.notify_waiters();
        }
    }

    /// Wakes a long poll of every queue and every waiting caller (announcements
    /// from other nodes may have been missed).
    pub(crate) fn wake_everyone(&self) {
        self.wake_every_queue();
        for notify in self.workflows.lock().values() {
            notify.notify_waiters();
        }
        self.wake_jobs();
        self.sweeper.notify_one();
    }

    /// Wakes both lanes of the job runner.
    pub fn wake_jobs(&self) {
        self.jobs.notify_one();
        self.scripts.notify_one();
    }

    /// Wakes whoever a commit concerns. Messages that become visible later wake their
    /// queue at that time.
    pub fn after_commit(self: &Arc<Self>, committed: &Committed, now: i64) {
        for (queue, visible_at) in &committed.queues {
            if *visible_at <= now {
                self.wake_queue(queue);
            } else if tokio::runtime::Handle::try_current().is_ok() {
                let signals = self.clone();
                let queue = queue.clone();
                let delay = std::time::Duration::from_millis((*visible_at - now) as u64);
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    signals.wake_queue(&queue);
                });
            }
        }
        if !committed.workflows.is_empty() {
            let workflows = self.workflows.lock();
            for (id, _) in &committed.workflows {
                if let Some(notify) = workflows.get(id) {
                    notify.notify_waiters();
                }
            }
        }
        if committed.jobs_added {
            self.wake_jobs();
        }
        if committed.earliest_check.is_some() {
            self.sweeper.notify_one();
        }
    }
}

/// Everything the services share. Its parts are the services' own: code outside
/// this crate reaches the store and the security data only through a service, so
/// no handler can skip a check (a test build may reach the stores, to set up what
/// no API can).
pub struct Runtime {
    pub(crate) stores: Stores,
    pub(crate) clock: Arc<dyn Clock>,
    pub(crate) ids: Arc<dyn IdGen>,
    pub(crate) defs: Arc<DefinitionCache>,
    pub(crate) polls: Arc<PollTracker>,
    pub(crate) limits: Arc<EngineLimits>,
    pub(crate) signals: Arc<Signals>,
    pub(crate) authorizer: Authorizer,
    pub(crate) access: Arc<AccessControl>,
    /// Appends security events outside access-control changes to the audit trail.
    pub(crate) auditor: Auditor,
    pub(crate) vault: Arc<Vault>,
    pub(crate) handoffs: HandoffCache,
    /// Runs `INLINE` scripts within their limits.
    pub(crate) scripts: Arc<crate::exec::script::Scripts>,
    /// Whether this node starts no due schedules (Orkes's "pause all scheduling
    /// in a server instance", for debugging); not kept across a restart.
    pub(crate) scheduling_paused: AtomicBool,
}

/// How the vault seals values and how large they may be.
pub struct VaultSettings {
    pub keyring: Keyring,
    pub max_value_bytes: usize,
}

impl Runtime {
    /// A user as the directory holds it, password hash included (for tests of what
    /// is stored; nothing a request can reach).
    #[cfg(feature = "testkit")]
    pub fn stored_user(&self, id: &str) -> Option<crate::security::model::User> {
        self.access.directory().read().user(id).cloned()
    }

    /// A runtime over stores, loading the caches from them.
    pub async fn new(
        stores: Stores,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGen>,
        limits: EngineLimits,
        mode: SecurityMode,
        vault: VaultSettings,
        scripts: crate::exec::script::ScriptLimits,
    ) -> CoreResult<Arc<Runtime>> {
        let defs = Arc::new(DefinitionCache::load(&stores).await?);
        let polls = Arc::new(PollTracker::load(&stores).await?);
        let access = Arc::new(AccessControl::load(&stores, clock.clone()).await?);
        let auditor = Auditor::start(stores.audit.clone());
        let authorizer = Authorizer::new(mode, access.directory().clone());
        let vault = Arc::new(
            Vault::load(stores.secrets.clone(), vault.keyring, vault.max_value_bytes).await?,
        );
        Ok(Arc::new(Runtime {
            stores,
            clock,
            ids,
            defs,
            polls,
            limits: Arc::new(limits),
            signals: Arc::new(Signals::default()),
            authorizer,
            access,
            auditor,
            vault,
            handoffs: HandoffCache::default(),
            scripts: Arc::new(crate::exec::script::Scripts::new(scripts)),
            scheduling_paused: AtomicBool::new(false),
        }))
    }

    /// The current time.
    pub fn now(&self) -> i64 {
        self.clock.now_millis()
    }

    /// The vault of secrets and environment variables (the server seals workflow
    /// values at rest with it and replaces its keys on SIGHUP).
    pub fn vault(&self) -> &Arc<Vault> {
        &self.vault
    }

    /// The access-control directory, for the authenticator.
    pub fn directory(&self) -> &Arc<parking_lot::RwLock<crate::security::Directory>> {
        self.access.directory()
    }

    /// The ids of the keys the store's workflow data (live rows, then the archive)
    /// is sealed with.
    pub async fn sealed_workflow_keys(&self) -> CoreResult<(Vec<String>, Vec<String>)> {
        Ok((
            self.stores.execution.payload_keys().await?,
            self.stores.execution.archived_seal_keys().await?,
        ))
    }

    /// Wakes the sweeper and the job runner (after a test moved its clock).
    pub fn wake_background(&self) {
        self.signals.sweeper.notify_one();
        self.signals.wake_jobs();
    }

    /// The stores, for tests that set up what no API can.
    #[cfg(any(test, feature = "testkit"))]
    pub fn stores(&self) -> &Stores {
        &self.stores
    }

    /// The definition cache, for tests that plant a definition no API accepts.
    #[cfg(any(test, feature = "testkit"))]
    pub fn defs(&self) -> &DefinitionCache {
        &self.defs
    }

    /// Runs `f` as a unit of work: with `lock`, on that workflow's state (None in the
    /// transaction when it does not exist). The engine context's time is read when the
    /// unit runs. Signals what the commit changed and returns `f`'s value.
    pub async fn mutate<T, F>(&self, lock: Option<String>, f: F) -> CoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&mut Txn, &EngineContext<'_>) -> CoreResult<T> + Send + 'static,
    {
        self.mutate_committed(lock, f).await.map(|(value, _)| value)
    }

    /// [`Runtime::mutate`], also returning what the commit wrote (and claimed).
    pub async fn mutate_committed<T, F>(
        &self,
        lock: Option<String>,
        f: F,
    ) -> CoreResult<(T, Committed)>
    where
        T: Send + 'static,
        F: FnOnce(&mut Txn, &EngineContext<'_>) -> CoreResult<T> + Send + 'static,
    {
        let slot: Arc<Mutex<Option<T>>> = Arc::new(Mutex::new(None));
        let out = slot.clone();
        let clock = self.clock.clone();
        let ids = self.ids.clone();
        let defs = self.defs.clone();
        let polls = self.polls.clone();
        let limits = self.limits.clone();
        let work = Box::new(move |txn: &mut Txn| {
            let ctx = EngineContext {
                now: clock.now_millis(),
                ids: ids.as_ref(),
                task_defs: defs.as_ref(),
                polls: polls.as_ref(),
                limits: limits.as_ref(),
            };
            let value = f(txn, &ctx).map_err(|e| Box::new(e) as crate::store::Refusal)?;
            *out.lock() = Some(value);
            Ok(())
        });
        // The unit and the wake-ups after it run to their end even when the caller
        // stops waiting (a request its client gave up on): cut off after its commit,
        // a unit would be kept without waking the polls and callers it concerns.
        let execution = self.stores.execution.clone();
        let signals = self.signals.clone();
        let clock = self.clock.clone();
        let unit = tokio::spawn(async move {
            let committed = execution.run(UnitOfWork { lock, work }).await?;
            signals.after_commit(&committed, clock.now_millis());
            Ok::<Committed, UnitError>(committed)
        });
        let committed = match unit.await {
            Ok(done) => done?,
            Err(err) => {
                return Err(CoreError::Internal(format!(
                    "a unit of work stopped before its end: {err}"
                )));
            }
        };
        let value = slot.lock().take();
        let value =
            value.ok_or_else(|| CoreError::Internal("a unit of work returned no value".into()))?;
        Ok((value, committed))
    }
}
