//! The in-memory form of one workflow execution that the engine changes and the store
//! persists: the workflow record, its definition and its tasks, with dirty tracking so
//! that a unit of work writes only what changed.

use std::collections::BTreeSet;
use std::sync::Arc;

use crate::model::{Task, Workflow, WorkflowDef, WorkflowStatus};

/// Whose authority a run carries besides its starter's (`workflow.createdBy`). The
/// rules that fill it are in `exec::authority`; the engine only keeps it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Authority {
    /// Principals whose definitions the run trusts as its starter's own choice: the
    /// starter and the author of the definition the starter started. Children and
    /// failure workflows inherit them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vouched: Vec<String>,
    /// Authors of definitions the run executes that its starter never approved:
    /// everything the run does must be allowed to each of them as well.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub cosigners: Vec<String>,
    /// How many `START_WORKFLOW` tasks led to this run, one after the other (0: a
    /// person or program started it); children and failure workflows inherit it.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub generation: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

impl Authority {
    /// Whether the run trusts `author`'s definitions as its starter's own choice.
    pub fn vouches_for(&self, author: &str) -> bool {
        self.vouched.iter().any(|v| v == author)
    }

    /// Whether nothing beyond the starter is recorded.
    pub fn is_empty(&self) -> bool {
        self.vouched.is_empty() && self.cosigners.is_empty()
    }
}

/// One workflow execution with its tasks.
#[derive(Debug, Clone)]
pub struct WorkflowState {
    /// The workflow record. `tasks` and `workflow_definition` are always empty here;
    /// they live in [`WorkflowState::tasks`] and [`WorkflowState::def`].
    pub workflow: Workflow,
    /// The definition this execution runs, with the branches its dynamic forks
    /// started grafted in (read it; change it with [`WorkflowState::set_def`]).
    pub def: Arc<WorkflowDef>,
    /// The definition as stored under `def_revision`, without grafts.
    base: Arc<WorkflowDef>,
    /// Identifies `def` in the store; definitions are stored once per revision.
    pub def_revision: String,
    /// When the sweeper must look at this workflow next (timeouts, waits), if ever.
    pub next_check_at: Option<i64>,
    /// Whose authority the run carries besides its starter's.
    pub authority: Authority,
    tasks: Vec<Task>,
    dirty_tasks: BTreeSet<usize>,
    removed_tasks: Vec<String>,
    /// Tasks added since loading, not stored yet.
    unsaved_tasks: BTreeSet<String>,
    workflow_dirty: bool,
    is_new: bool,
    /// A fingerprint of the variables as last stored; None before the first write.
    variables_stored: Option<u64>,
    /// How many values the run masked when it was last stored.
    masked_stored: usize,
}

impl WorkflowState {
    /// A new execution, not yet stored.
    pub fn new(workflow: Workflow, def: Arc<WorkflowDef>, def_revision: String) -> WorkflowState {
        WorkflowState {
            workflow,
            base: def.clone(),
            def,
            def_revision,
            next_check_at: None,
            authority: Authority::default(),
            tasks: Vec::new(),
            dirty_tasks: BTreeSet::new(),
            removed_tasks: Vec::new(),
            unsaved_tasks: BTreeSet::new(),
            workflow_dirty: true,
            is_new: true,
            variables_stored: None,
            masked_stored: 0,
        }
    }

    /// An execution as loaded from the store (clean).
    pub fn loaded(
        workflow: Workflow,
        def: Arc<WorkflowDef>,
        def_revision: String,
        next_check_at: Option<i64>,
        authority: Authority,
        tasks: Vec<Task>,
    ) -> WorkflowState {
        let variables_stored = Some(fingerprint(&workflow.variables));
        let masked_stored = workflow.masked_values.len();
        // The branches its dynamic forks started are part of its definition.
        let grafted = super::dynamic::grafted(&def, &tasks);
        WorkflowState {
            workflow,
            base: def,
            def: grafted,
            def_revision,
            next_check_at,
            authority,
            tasks,
            dirty_tasks: BTreeSet::new(),
            removed_tasks: Vec::new(),
            unsaved_tasks: BTreeSet::new(),
            workflow_dirty: false,
            is_new: false,
            variables_stored,
            masked_stored,
        }
    }

    /// The workflow's id.
    pub fn id(&self) -> &str {
        &self.workflow.workflow_id
    }

    /// The workflow's status.
    pub fn status(&self) -> WorkflowStatus {
        self.workflow.status
    }

    /// The tasks, in scheduling order.
    pub fn tasks(&self) -> &[Task] {
        &self.tasks
    }

    /// A task by position, for change; marks it dirty.
    pub fn task_mut(&mut self, index: usize) -> Option<&mut Task> {
        let task = self.tasks.get_mut(index)?;
        self.dirty_tasks.insert(index);
        self.workflow_dirty = true;
        Some(task)
    }

    /// Position of a task by id.
    pub fn task_index(&self, task_id: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.task_id == task_id)
    }

    /// Position of the latest task with this reference name.
    pub fn latest_task_index(&self, reference_name: &str) -> Option<usize> {
        self.tasks
            .iter()
            .rposition(|t| t.reference_task_name == reference_name)
    }

    /// Adds a task; it gets the next sequence number.
    pub fn push_task(&mut self, mut task: Task) -> usize {
        task.seq = self.tasks.iter().map(|t| t.seq).max().unwrap_or(0) + 1;
        self.unsaved_tasks.insert(task.task_id.clone());
        self.tasks.push(task);
        let index = self.tasks.len() - 1;
        self.dirty_tasks.insert(index);
        self.workflow_dirty = true;
        index
    }

    /// Removes every task for which `remove` says so (restart, rerun).
    pub fn remove_tasks(&mut self, mut remove: impl FnMut(&Task) -> bool) -> Vec<Task> {
        let mut kept = Vec::with_capacity(self.tasks.len());
        let mut removed = Vec::new();
        let old_dirty: BTreeSet<String> = self
            .dirty_tasks
            .iter()
            .filter_map(|i| self.tasks.get(*i).map(|t| t.task_id.clone()))
            .collect();
        for task in self.tasks.drain(..) {
            if remove(&task) {
                removed.push(task);
            } else {
                kept.push(task);
            }
        }
        self.tasks = kept;
        self.dirty_tasks = self
            .tasks
            .iter()
            .enumerate()
            .filter(|(_, t)| old_dirty.contains(&t.task_id))
            .map(|(i, _)| i)
            .collect();
        for task in &removed {
            if !self.is_new && !self.unsaved_tasks.remove(&task.task_id) {
                self.removed_tasks.push(task.task_id.clone());
            }
        }
        self.workflow_dirty = true;
        removed
    }

    /// Replaces a task with its stored version without marking it changed (a store
    /// keeping states in memory applies changes made outside units of work this way).
    pub fn refresh_task(&mut self, task: Task) {
        if let Some(slot) = self.tasks.iter_mut().find(|t| t.task_id == task.task_id) {
            *slot = task;
        }
    }

    /// The definition as stored, without the branches of its dynamic forks.
    pub fn base_def(&self) -> &Arc<WorkflowDef> {
        &self.base
    }

    /// Runs another definition from now on (a restart on the latest version).
    pub fn set_def(&mut self, def: Arc<WorkflowDef>, revision: String) {
        self.base = def;
        self.def_revision = revision;
        self.regraft();
    }

    /// Derives the definition again from the stored one and the dynamic forks that
    /// have forked among the tasks (after tasks were removed or reset, or a
    /// workflow was rebuilt from its tasks, as one restored from the archive).
    pub fn regraft(&mut self) {
        self.def = super::dynamic::grafted(&self.base, &self.tasks);
    }

    /// Marks the workflow record as changed.
    pub fn touch(&mut self) {
        self.workflow_dirty = true;
    }

    /// Whether anything needs writing.
    pub fn is_dirty(&self) -> bool {
        self.workflow_dirty || !self.dirty_tasks.is_empty() || !self.removed_tasks.is_empty()
    }

    /// Whether this execution is not stored yet.
    pub fn is_new(&self) -> bool {
        self.is_new
    }

    /// Whether a task was added since loading and is not stored yet.
    pub fn is_unsaved(&self, task_id: &str) -> bool {
        self.is_new || self.unsaved_tasks.contains(task_id)
    }

    /// The tasks changed or added since loading.
    pub fn dirty_tasks(&self) -> impl Iterator<Item = &Task> {
        self.dirty_tasks.iter().filter_map(|i| self.tasks.get(*i))
    }

    /// Ids of tasks removed since loading.
    pub fn removed_task_ids(&self) -> &[String] {
        &self.removed_tasks
    }

    /// Whether the variables differ from those last stored (or none were stored).
    pub fn variables_changed(&self) -> bool {
        self.variables_stored != Some(fingerprint(&self.workflow.variables))
    }

    /// Whether the run masks other values than when it was last stored (they only
    /// grow, so a different count tells).
    pub fn masking_changed(&self) -> bool {
        self.is_new || self.workflow.masked_values.len() != self.masked_stored
    }

    /// Forgets the dirty marks, after the store wrote the changes.
    pub fn mark_clean(&mut self) {
        self.variables_stored = Some(fingerprint(&self.workflow.variables));
        self.masked_stored = self.workflow.masked_values.len();
        self.dirty_tasks.clear();
        self.removed_tasks.clear();
        self.unsaved_tasks.clear();
        self.workflow_dirty = false;
        self.is_new = false;
    }

    /// The full `Workflow` as the API serves it: tasks and definition included.
    pub fn to_workflow(&self, include_tasks: bool) -> Workflow {
        let mut workflow = self.workflow.clone();
        if include_tasks {
            workflow.tasks = self.tasks.iter().map(|t| self.served_task(t)).collect();
        }
        workflow.workflow_definition = Some((*self.def).clone());
        workflow
    }

    /// A task as the API serves it, with its definition node attached.
    pub fn served_task(&self, task: &Task) -> Task {
        let mut task = task.clone();
        if task.workflow_task.is_none() {
            task.workflow_task =
                crate::engine::graph::find_task(&self.def, &task.reference_task_name).cloned();
        }
        task
    }
}

/// A fingerprint of a map's JSON (to tell whether it changed without a copy).
fn fingerprint(map: &crate::model::JsonMap) -> u64 {
    use std::hash::Hasher;
    struct Feed(std::collections::hash_map::DefaultHasher);
    impl std::io::Write for Feed {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.write(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    if map.is_empty() {
        return 0;
    }
    let mut feed = Feed(std::collections::hash_map::DefaultHasher::new());
    // Writing to a hasher cannot fail; a map that cannot be written counts as changed.
    if serde_json::to_writer(&mut feed, map).is_err() {
        return u64::MAX;
    }
    feed.0.finish()
}
