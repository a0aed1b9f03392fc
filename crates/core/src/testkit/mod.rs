//! The store conformance suite: the behaviour every store backend must show, run by
//! each store crate against a fresh store per case.
//!
//! ```text
//! for case in podium_core::testkit::CASES {
//!     (case.run)(fresh_stores()).await;
//! }
//! ```

// Test support: a failed expectation is the test's failure.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use serde_json::{Value, json};

use crate::clock::SequentialIds;
use crate::engine::ops::{self, StartParams};
use crate::engine::state::WorkflowState;
use crate::engine::{EngineContext, EngineLimits, PollActivity, TaskDefs};
use crate::error::CoreError;
use crate::model::{
    PollData, Tag, Task, TaskDef, TaskExecLog, TaskStatus, WorkflowDef, WorkflowStatus,
};
use crate::service::search::{TaskSearch, WorkflowSearch};
use crate::store::{ChangeSet, Claim, Job, JobKind, QueueMessage, Stores, UnitOfWork};

/// One conformance case.
pub struct Case {
    pub name: &'static str,
    pub run: fn(Stores) -> Pin<Box<dyn Future<Output = ()> + Send>>,
}

mod archive;
mod secrets;
mod security;
use archive::ended_workflows_move_to_the_archive_and_back;
use secrets::secrets_are_stored_resealed_and_their_reads_recorded;
use security::security_records_grants_and_owners_round_trip;

macro_rules! cases {
    ($($name:ident),* $(,)?) => {
        /// Every conformance case.
        pub const CASES: &[Case] = &[$(Case { name: stringify!($name), run: |stores| Box::pin($name(stores)) }),*];
    };
}

cases!(
    task_definitions_round_trip,
    workflow_definitions_have_versions,
    tags_are_per_resource,
    units_of_work_are_atomic,
    workflows_round_trip_with_their_tasks,
    claims_hand_each_task_out_once,
    claims_respect_visibility_and_priority,
    concurrent_claims_never_share_a_task,
    jobs_are_leased,
    searches_filter_page_and_sort,
    lookups_by_correlation_key_and_parent,
    idempotency_keys_are_unique_per_definition,
    logs_and_poll_data,
    deletes_remove_everything_of_a_workflow,
    due_workflows_are_found,
    changed_columns_reach_every_query,
    security_records_grants_and_owners_round_trip,
    secrets_are_stored_resealed_and_their_reads_recorded,
    ended_workflows_move_to_the_archive_and_back,
);

struct NoDefs;
impl TaskDefs for NoDefs {
    fn task_def(&self, _name: &str) -> Option<Arc<TaskDef>> {
        None
    }
}
struct NoPolls;
impl PollActivity for NoPolls {
    fn last_poll(&self, _: &str, _: Option<&str>) -> Option<i64> {
        None
    }
}

/// Builds new workflows the way the services do.
struct Maker {
    ids: SequentialIds,
    limits: EngineLimits,
}

fn definition(name: &str, tasks: Value) -> WorkflowDef {
    serde_json::from_value(json!({"name": name, "version": 1, "tasks": tasks})).unwrap_or_default()
}

fn simple(reference: &str) -> Value {
    json!({"name": "work", "taskReferenceName": reference})
}

impl Maker {
    fn new(prefix: &str) -> Maker {
        let _ = prefix;
        Maker {
            ids: SequentialIds::default(),
            limits: EngineLimits::default(),
        }
    }

    /// A started workflow and its change set.
    fn start(
        &self,
        def: &WorkflowDef,
        params: StartParams,
        now: i64,
    ) -> (WorkflowState, ChangeSet) {
        let ctx = EngineContext {
            now,
            ids: &self.ids,
            task_defs: &NoDefs,
            polls: &NoPolls,
            limits: &self.limits,
        };
        let mut out = ChangeSet::default();
        let state = ops::start(Arc::new(def.clone()), "rev".into(), params, &ctx, &mut out);
        (state, out)
    }
}

/// Stores a definition revision and a started workflow; returns its id.
async fn insert(stores: &Stores, state: WorkflowState, changes: ChangeSet) -> String {
    stores
        .metadata
        .put_def_revision(&state.def_revision, &state.def)
        .await
        .expect("revision stored");
    let id = state.id().to_string();
    let mut changes = changes;
    changes.new_workflows.push(state);
    write_changes(stores, changes).await;
    id
}

/// Writes a change set in one unit of work that locks no workflow.
async fn write_changes(stores: &Stores, changes: ChangeSet) {
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                Ok(())
            }),
        })
        .await
        .expect("changes written");
}

fn mark(task: &mut Task, claim: &Claim) -> Option<i64> {
    task.status = TaskStatus::InProgress;
    task.worker_id = Some(claim.worker_id.clone());
    task.poll_count += 1;
    Some(claim.now + 5000)
}

fn claim(queue: &str, count: usize, now: i64, worker: &str) -> Claim {
    Claim {
        queue_name: queue.into(),
        count,
        now,
        worker_id: worker.into(),
    }
}

async fn task_definitions_round_trip(stores: Stores) {
    let a: TaskDef =
        serde_json::from_value(json!({"name": "a", "retryCount": 5, "inputTemplate": {"k": 1}}))
            .unwrap_or_default();
    let b: TaskDef = serde_json::from_value(json!({"name": "b"})).unwrap_or_default();
    stores
        .metadata
        .put_task_defs(&[a.clone(), b])
        .await
        .expect("put");
    assert_eq!(
        stores.metadata.get_task_def("a").await.expect("get"),
        Some(a.clone())
    );
    let mut changed = a.clone();
    changed.retry_count = 1;
    stores
        .metadata
        .put_task_defs(&[changed.clone()])
        .await
        .expect("replace");
    assert_eq!(
        stores
            .metadata
            .get_task_def("a")
            .await
            .expect("get")
            .map(|d| d.retry_count),
        Some(1)
    );
    let names: Vec<String> = stores
        .metadata
        .list_task_defs()
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(stores.metadata.delete_task_def("a").await.expect("delete"));
    assert!(
        !stores
            .metadata
            .delete_task_def("a")
            .await
            .expect("delete again")
    );
    assert_eq!(stores.metadata.get_task_def("a").await.expect("get"), None);
}

async fn workflow_definitions_have_versions(stores: Stores) {
    let mut v1 = definition("flow", json!([simple("a")]));
    let mut v2 = v1.clone();
    v2.version = 2;
    v1.description = Some("one".into());
    stores
        .metadata
        .put_workflow_def(&v1, "r1", false)
        .await
        .expect("v1");
    stores
        .metadata
        .put_workflow_def(&v2, "r2", false)
        .await
        .expect("v2");
    let latest = stores
        .metadata
        .get_workflow_def("flow", None)
        .await
        .expect("latest");
    assert_eq!(
        latest.map(|(d, r)| (d.version, r)),
        Some((2, "r2".to_string()))
    );
    let first = stores
        .metadata
        .get_workflow_def("flow", Some(1))
        .await
        .expect("v1");
    assert_eq!(first.map(|(d, _)| d.description), Some(Some("one".into())));
    let conflict = stores.metadata.put_workflow_def(&v1, "r3", false).await;
    assert!(
        matches!(conflict, Err(crate::store::StoreError::Conflict(_))),
        "{conflict:?}"
    );
    stores
        .metadata
        .put_workflow_def(&v1, "r3", true)
        .await
        .expect("overwrite");
    assert_eq!(
        stores
            .metadata
            .get_workflow_def("flow", Some(1))
            .await
            .expect("v1")
            .map(|(_, r)| r),
        Some("r3".to_string())
    );
    assert!(
        stores
            .metadata
            .get_def_revision("r1")
            .await
            .expect("old revision kept")
            .is_some()
    );
    assert_eq!(
        stores
            .metadata
            .list_workflow_defs()
            .await
            .expect("list")
            .len(),
        2
    );
    assert!(
        stores
            .metadata
            .delete_workflow_def("flow", 2)
            .await
            .expect("delete")
    );
    assert_eq!(
        stores
            .metadata
            .get_workflow_def("flow", None)
            .await
            .expect("latest")
            .map(|(d, _)| d.version),
        Some(1)
    );
    assert!(
        !stores
            .metadata
            .delete_workflow_def("flow", 2)
            .await
            .expect("delete again")
    );
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        tag_type: Some("METADATA".into()),
        value: value.into(),
    }
}

async fn tags_are_per_resource(stores: Stores) {
    let tags = &stores.tags;
    tags.set_tags("WORKFLOW_DEF", "w", &[tag("team", "a"), tag("env", "prod")])
        .await
        .expect("set");
    tags.add_tags("WORKFLOW_DEF", "w", &[tag("team", "b")])
        .await
        .expect("add");
    tags.set_tags("TASK_DEF", "w", &[tag("other", "x")])
        .await
        .expect("set other type");
    let got: HashSet<(String, String)> = tags
        .get_tags("WORKFLOW_DEF", "w")
        .await
        .expect("get")
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(got.len(), 3);
    tags.remove_tags("WORKFLOW_DEF", "w", &[tag("team", "a")])
        .await
        .expect("remove");
    assert_eq!(
        tags.get_tags("WORKFLOW_DEF", "w").await.expect("get").len(),
        2
    );
    tags.set_tags("WORKFLOW_DEF", "w", &[])
        .await
        .expect("clear");
    assert!(
        tags.get_tags("WORKFLOW_DEF", "w")
            .await
            .expect("get")
            .is_empty()
    );
    assert_eq!(tags.all_tags("TASK_DEF").await.expect("all").len(), 1);
}

async fn units_of_work_are_atomic(stores: Stores) {
    let maker = Maker::new("atomic");
    let (state, changes) = maker.start(
        &definition("w", json!([simple("a")])),
        StartParams::default(),
        1000,
    );
    let id = state.id().to_string();
    stores
        .metadata
        .put_def_revision("rev", &state.def)
        .await
        .expect("revision");
    let failed = stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                txn.changes.new_workflows.push(state);
                Err(CoreError::Conflict("changed my mind".into()))
            }),
        })
        .await;
    assert!(matches!(failed, Err(CoreError::Conflict(_))));
    assert!(
        stores
            .execution
            .get_workflow(&id)
            .await
            .expect("read")
            .is_none(),
        "nothing of a failed unit is written"
    );
    assert!(
        stores
            .execution
            .queue_sizes(&[])
            .await
            .expect("sizes")
            .is_empty()
    );
    let missing = stores
        .execution
        .run(UnitOfWork {
            lock: Some("no-such-workflow".into()),
            work: Box::new(|txn| {
                assert!(txn.state.is_none());
                Ok(())
            }),
        })
        .await;
    assert!(missing.is_ok());
}

async fn workflows_round_trip_with_their_tasks(stores: Stores) {
    let maker = Maker::new("rt");
    let def = definition("w", json!([simple("a"), simple("b")]));
    let (state, changes) = maker.start(
        &def,
        StartParams {
            input: json!({"x": 1}).as_object().cloned().unwrap_or_default(),
            correlation_id: Some("c".into()),
            ..StartParams::default()
        },
        1000,
    );
    let expected = state.to_workflow(true);
    let id = insert(&stores, state, changes).await;
    let loaded = stores
        .execution
        .get_workflow(&id)
        .await
        .expect("read")
        .expect("exists");
    assert_eq!(loaded.to_workflow(true), expected);
    assert_eq!(
        stores
            .execution
            .queue_sizes(&["work".into()])
            .await
            .expect("sizes")
            .get("work"),
        Some(&1)
    );
    let task_id = loaded.tasks()[0].task_id.clone();
    // Change one task under the lock; only that change is written.
    let committed = stores
        .execution
        .run(UnitOfWork {
            lock: Some(id.clone()),
            work: Box::new(move |txn| {
                let state = txn
                    .state
                    .as_mut()
                    .ok_or(CoreError::Internal("missing".into()))?;
                let task = state
                    .task_mut(0)
                    .ok_or(CoreError::Internal("no task".into()))?;
                task.output_data.insert("done".into(), json!(true));
                task.status = TaskStatus::Completed;
                txn.changes.queue_removals.push(task_id);
                Ok(())
            }),
        })
        .await
        .expect("update");
    assert_eq!(
        committed.workflows.first().map(|(w, _)| w.as_str()),
        Some(id.as_str())
    );
    let task = stores
        .execution
        .get_task(&loaded.tasks()[0].task_id)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(task.status, TaskStatus::Completed);
    assert_eq!(task.output_data.get("done"), Some(&json!(true)));
    assert!(
        task.workflow_task.is_none(),
        "definition nodes are not stored with tasks"
    );
    let record = stores
        .execution
        .get_workflow_record(&id)
        .await
        .expect("record")
        .expect("exists");
    assert!(record.tasks.is_empty());
    assert_eq!(
        stores
            .execution
            .queue_sizes(&["work".into()])
            .await
            .expect("sizes")
            .get("work"),
        Some(&0)
    );
}

async fn setup_queue(stores: &Stores, messages: &[(&str, i32, i64)]) -> Vec<String> {
    let maker = Maker::new("queue");
    let refs: Vec<Value> = (0..messages.len())
        .map(|i| simple(&format!("t{i}")))
        .collect();
    let def = definition("q", Value::Array(refs));
    let (mut state, _) = maker.start(&def, StartParams::default(), 1000);
    // Add one scheduled task per message, then the messages themselves.
    let mut pushes = Vec::new();
    let mut ids = Vec::new();
    for (i, (queue, priority, visible_at)) in messages.iter().enumerate() {
        let task = Task {
            task_id: format!("task-{i}"),
            task_type: "work".into(),
            reference_task_name: format!("m{i}"),
            workflow_instance_id: state.id().to_string(),
            status: TaskStatus::Scheduled,
            ..Task::default()
        };
        state.push_task(task);
        pushes.push(QueueMessage {
            queue_name: (*queue).into(),
            task_id: format!("task-{i}"),
            workflow_id: state.id().to_string(),
            priority: *priority,
            visible_at: *visible_at,
        });
        ids.push(format!("task-{i}"));
    }
    let changes = ChangeSet {
        queue_pushes: pushes,
        ..ChangeSet::default()
    };
    insert(stores, state, changes).await;
    ids
}

async fn claims_hand_each_task_out_once(stores: Stores) {
    let ids = setup_queue(&stores, &[("q1", 0, 0), ("q1", 0, 0), ("q2", 0, 0)]).await;
    let first = stores
        .execution
        .claim(claim("q1", 1, 10, "w1"), mark)
        .await
        .expect("claim");
    assert_eq!(first.len(), 1);
    assert_eq!(first[0].status, TaskStatus::InProgress);
    assert_eq!(first[0].worker_id.as_deref(), Some("w1"));
    let stored = stores
        .execution
        .get_task(&first[0].task_id)
        .await
        .expect("read")
        .expect("task");
    assert_eq!(
        stored.status,
        TaskStatus::InProgress,
        "the claim is persisted"
    );
    assert_eq!(
        stores.execution.next_check_due().await.expect("next check"),
        Some(10 + 5000),
        "the lease end is a check time of the workflow"
    );
    let rest = stores
        .execution
        .claim(claim("q1", 10, 10, "w2"), mark)
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert_ne!(rest[0].task_id, first[0].task_id);
    assert!(
        stores
            .execution
            .claim(claim("q1", 10, 10, "w3"), mark)
            .await
            .expect("claim")
            .is_empty()
    );
    let other = stores
        .execution
        .claim(claim("q2", 10, 10, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(
        other.iter().map(|t| t.task_id.clone()).collect::<Vec<_>>(),
        vec![ids[2].clone()]
    );
}

async fn claims_respect_visibility_and_priority(stores: Stores) {
    let ids = setup_queue(
        &stores,
        &[("q", 0, 0), ("q", 5, 0), ("q", 9, 100), ("q", 1, 0)],
    )
    .await;
    let got: Vec<String> = stores
        .execution
        .claim(claim("q", 10, 50, "w"), mark)
        .await
        .expect("claim")
        .into_iter()
        .map(|t| t.task_id)
        .collect();
    assert_eq!(
        got,
        vec![ids[1].clone(), ids[3].clone(), ids[0].clone()],
        "higher priority first, delayed ones wait"
    );
    let later = stores
        .execution
        .claim(claim("q", 10, 100, "w"), mark)
        .await
        .expect("claim");
    assert_eq!(later.len(), 1);
    assert_eq!(later[0].task_id, ids[2]);
}

async fn concurrent_claims_never_share_a_task(stores: Stores) {
    let messages: Vec<(&str, i32, i64)> = (0..200).map(|_| ("busy", 0, 0)).collect();
    setup_queue(&stores, &messages).await;
    let mut handles = Vec::new();
    for worker in 0..16 {
        let execution = stores.execution.clone();
        handles.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            loop {
                let got = execution
                    .claim(claim("busy", 3, 10, &format!("w{worker}")), mark)
                    .await
                    .expect("claim");
                if got.is_empty() {
                    break;
                }
                mine.extend(got.into_iter().map(|t| t.task_id));
            }
            mine
        }));
    }
    let mut seen = HashSet::new();
    let mut total = 0;
    for handle in handles {
        for id in handle.await.expect("worker") {
            total += 1;
            assert!(seen.insert(id.clone()), "task {id} was handed out twice");
        }
    }
    assert_eq!(total, 200);
}

async fn jobs_are_leased(stores: Stores) {
    let jobs = vec![
        Job {
            id: "j1".into(),
            kind: JobKind::SystemTask,
            workflow_id: "w".into(),
            task_id: Some("t".into()),
            payload: json!({"a": 1}),
            due_at: 100,
        },
        Job {
            id: "j2".into(),
            kind: JobKind::FailureWorkflow,
            workflow_id: "w".into(),
            task_id: None,
            payload: Value::Null,
            due_at: 500,
        },
    ];
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes.job_adds = jobs;
                Ok(())
            }),
        })
        .await
        .expect("jobs added");
    assert_eq!(
        stores.execution.next_job_due().await.expect("next"),
        Some(100)
    );
    assert!(
        stores
            .execution
            .claim_jobs(50, 10, 1000)
            .await
            .expect("claim")
            .is_empty()
    );
    let due = stores
        .execution
        .claim_jobs(200, 10, 1000)
        .await
        .expect("claim");
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].payload, json!({"a": 1}));
    assert_eq!(due[0].kind, JobKind::SystemTask);
    assert!(
        stores
            .execution
            .claim_jobs(300, 10, 1000)
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    let again = stores
        .execution
        .claim_jobs(1300, 10, 1000)
        .await
        .expect("claim");
    assert_eq!(again.len(), 2, "the lease ran out and j2 is due");
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(|txn| {
                txn.changes.job_deletes = vec!["j1".into(), "j2".into()];
                Ok(())
            }),
        })
        .await
        .expect("deleted");
    assert_eq!(stores.execution.next_job_due().await.expect("next"), None);
}

async fn searches_filter_page_and_sort(stores: Stores) {
    let maker = Maker::new("search");
    for (i, (name, text)) in [
        ("alpha", "red apple"),
        ("alpha", "green pear"),
        ("beta", "red cherry"),
    ]
    .iter()
    .enumerate()
    {
        let def = definition(name, json!([simple("a")]));
        let params = StartParams {
            input: json!({"fruit": text})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            ..StartParams::default()
        };
        let (state, changes) = maker.start(&def, params, 1000 + i as i64);
        insert(&stores, state, changes).await;
    }
    let search =
        |query: Option<&str>, text: Option<&str>, start: i64, size: i64, sort: Option<&str>| {
            WorkflowSearch::parse(query, text, Some(start), Some(size), sort).expect("valid search")
        };
    let (total, page) = stores
        .execution
        .search_workflows(&search(Some("workflowType = alpha"), None, 0, 10, None))
        .await
        .expect("search");
    assert_eq!((total, page.len()), (2, 2));
    let (total, page) = stores
        .execution
        .search_workflows(&search(None, Some("red"), 0, 10, Some("startTime:ASC")))
        .await
        .expect("search");
    assert_eq!(total, 2);
    assert_eq!(
        page.iter()
            .map(|w| w.workflow_name.as_str())
            .collect::<Vec<_>>(),
        vec!["alpha", "beta"]
    );
    let (total, page) = stores
        .execution
        .search_workflows(&search(None, None, 1, 1, Some("startTime:DESC")))
        .await
        .expect("search");
    assert_eq!((total, page.len()), (3, 1));
    assert_eq!(page[0].start_time, 1001);
    let (total, _) = stores
        .execution
        .search_workflows(&search(
            Some("status IN (RUNNING, PAUSED) AND startTime >= 1001"),
            None,
            0,
            10,
            None,
        ))
        .await
        .expect("search");
    assert_eq!(total, 2);
    let (total, _) = stores
        .execution
        .search_workflows(&search(None, Some("100%_"), 0, 10, None))
        .await
        .expect("search");
    assert_eq!(total, 0, "wildcards in free text are literal");
    let tasks = TaskSearch::parse(
        Some("taskType = work AND status = SCHEDULED"),
        None,
        None,
        None,
        None,
    )
    .expect("valid");
    let (total, found) = stores.execution.search_tasks(&tasks).await.expect("search");
    assert_eq!((total, found.len()), (3, 3));
}

async fn lookups_by_correlation_key_and_parent(stores: Stores) {
    let maker = Maker::new("lookup");
    let def = definition("w", json!([simple("a")]));
    let params = StartParams {
        correlation_id: Some("order-1".into()),
        parent_workflow_id: Some("parent".into()),
        parent_workflow_task_id: Some("parent-task".into()),
        ..StartParams::default()
    };
    let (state, changes) = maker.start(&def, params, 1000);
    let id = insert(&stores, state, changes).await;
    let found = stores
        .execution
        .workflows_by_correlation("w", "order-1", false)
        .await
        .expect("lookup");
    assert_eq!(found, vec![id.clone()]);
    assert!(
        stores
            .execution
            .workflows_by_correlation("other", "order-1", true)
            .await
            .expect("lookup")
            .is_empty()
    );
    assert_eq!(
        stores
            .execution
            .running_workflows("w", Some(1), None, None)
            .await
            .expect("running"),
        vec![id.clone()]
    );
    assert!(
        stores
            .execution
            .running_workflows("w", Some(2), None, None)
            .await
            .expect("running")
            .is_empty()
    );
    assert!(
        stores
            .execution
            .running_workflows("w", None, Some(2000), None)
            .await
            .expect("running")
            .is_empty()
    );
    assert_eq!(
        stores
            .execution
            .child_of_task("parent-task")
            .await
            .expect("child"),
        Some(id)
    );
    assert_eq!(
        stores.execution.child_of_task("nope").await.expect("child"),
        None
    );
}

async fn idempotency_keys_are_unique_per_definition(stores: Stores) {
    let maker = Maker::new("idem");
    let def = definition("w", json!([simple("a")]));
    let params = StartParams {
        idempotency_key: Some("k1".into()),
        ..StartParams::default()
    };
    let (state, changes) = maker.start(&def, params.clone(), 1000);
    let id = insert(&stores, state, changes).await;
    assert_eq!(
        stores
            .execution
            .workflow_by_idempotency_key("w", "k1")
            .await
            .expect("lookup"),
        Some((id, WorkflowStatus::Running))
    );
    let (again, _) = maker.start(&def, params, 1001);
    let duplicate = stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes.new_workflows.push(again);
                Ok(())
            }),
        })
        .await;
    assert!(
        matches!(duplicate, Err(CoreError::Conflict(_))),
        "{duplicate:?}"
    );
    assert_eq!(
        stores
            .execution
            .workflow_by_idempotency_key("other", "k1")
            .await
            .expect("lookup"),
        None
    );
}

async fn logs_and_poll_data(stores: Stores) {
    let logs = vec![
        TaskExecLog {
            log: "first".into(),
            task_id: Some("t1".into()),
            created_time: 5,
        },
        TaskExecLog {
            log: "second".into(),
            task_id: Some("t1".into()),
            created_time: 6,
        },
    ];
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes.task_logs = logs;
                Ok(())
            }),
        })
        .await
        .expect("logs");
    let got: Vec<String> = stores
        .execution
        .task_logs("t1")
        .await
        .expect("logs")
        .into_iter()
        .map(|l| l.log)
        .collect();
    assert_eq!(got, vec!["first", "second"]);
    for (worker, at) in [("a", 10), ("a", 20), ("b", 15)] {
        stores
            .execution
            .record_poll(PollData {
                queue_name: "work".into(),
                domain: (worker == "b").then(|| "d".to_string()),
                worker_id: worker.into(),
                last_poll_time: at,
            })
            .await
            .expect("poll");
    }
    let polls = stores
        .execution
        .poll_data(Some("work"))
        .await
        .expect("polls");
    assert_eq!(polls.len(), 2);
    assert!(
        polls
            .iter()
            .any(|p| p.worker_id == "a" && p.last_poll_time == 20 && p.domain.is_none())
    );
    assert!(
        polls
            .iter()
            .any(|p| p.worker_id == "b" && p.domain.as_deref() == Some("d"))
    );
}

async fn deletes_remove_everything_of_a_workflow(stores: Stores) {
    let maker = Maker::new("delete");
    let def = definition("w", json!([simple("a")]));
    let (state, changes) = maker.start(&def, StartParams::default(), 1000);
    let task_id = state.tasks()[0].task_id.clone();
    let id = insert(&stores, state, changes).await;
    let target = id.clone();
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes.workflow_deletes.push(target);
                Ok(())
            }),
        })
        .await
        .expect("delete");
    assert!(
        stores
            .execution
            .get_workflow(&id)
            .await
            .expect("read")
            .is_none()
    );
    assert!(
        stores
            .execution
            .get_task(&task_id)
            .await
            .expect("read")
            .is_none()
    );
    assert_eq!(
        stores
            .execution
            .queue_sizes(&["work".into()])
            .await
            .expect("sizes")
            .get("work"),
        Some(&0)
    );
}

async fn due_workflows_are_found(stores: Stores) {
    let maker = Maker::new("due");
    let def: WorkflowDef = serde_json::from_value(json!({"name": "w", "tasks": [
        {"name": "wait", "taskReferenceName": "wait", "type": "WAIT", "inputParameters": {"duration": "5s"}}
    ]}))
    .unwrap_or_default();
    let (state, changes) = maker.start(&def, StartParams::default(), 1000);
    assert_eq!(state.next_check_at, Some(6000));
    let id = insert(&stores, state, changes).await;
    assert_eq!(
        stores.execution.next_check_due().await.expect("next"),
        Some(6000)
    );
    assert!(
        stores
            .execution
            .due_workflows(5999, 10)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(
        stores.execution.due_workflows(6000, 10).await.expect("due"),
        vec![id]
    );
    let counts = stores.execution.workflow_counts().await.expect("counts");
    assert_eq!(counts.get(&WorkflowStatus::Running), Some(&1));
}

/// Every column a workflow's queries read follows its changes: the status, the next
/// check, and the fields a restart or rerun changes (correlation id, start time), each
/// alone and together. A store that writes only changed columns must not miss one.
async fn changed_columns_reach_every_query(stores: Stores) {
    let maker = Maker::new("cols");
    let def = definition("w", json!([simple("a")]));
    let params = StartParams {
        correlation_id: Some("before".into()),
        ..StartParams::default()
    };
    let (state, changes) = maker.start(&def, params, 1000);
    let id = insert(&stores, state, changes).await;
    let change = |f: Box<dyn FnOnce(&mut WorkflowState) + Send>| UnitOfWork {
        lock: Some(id.clone()),
        work: Box::new(move |txn| {
            let state = txn
                .state
                .as_mut()
                .ok_or(CoreError::Internal("missing".into()))?;
            f(state);
            state.touch();
            Ok(())
        }),
    };
    // Only the next check.
    stores
        .execution
        .run(change(Box::new(|s| s.next_check_at = Some(5000))))
        .await
        .expect("next check");
    assert_eq!(
        stores.execution.due_workflows(5000, 10).await.expect("due"),
        vec![id.clone()]
    );
    // Only the status.
    stores
        .execution
        .run(change(Box::new(|s| {
            s.workflow.status = WorkflowStatus::Paused
        })))
        .await
        .expect("status");
    let counts = stores.execution.workflow_counts().await.expect("counts");
    assert_eq!(counts.get(&WorkflowStatus::Paused), Some(&1));
    assert_eq!(counts.get(&WorkflowStatus::Running), None);
    // What a restart changes, with the status and the check.
    stores
        .execution
        .run(change(Box::new(|s| {
            s.workflow.correlation_id = Some("after".into());
            s.workflow.start_time = 9000;
            s.workflow.status = WorkflowStatus::Running;
            s.next_check_at = None;
        })))
        .await
        .expect("restart-like change");
    assert!(
        stores
            .execution
            .workflows_by_correlation("w", "before", true)
            .await
            .expect("lookup")
            .is_empty()
    );
    assert_eq!(
        stores
            .execution
            .workflows_by_correlation("w", "after", true)
            .await
            .expect("lookup"),
        vec![id.clone()]
    );
    assert!(
        stores
            .execution
            .due_workflows(i64::MAX, 10)
            .await
            .expect("due")
            .is_empty()
    );
    assert_eq!(
        stores
            .execution
            .running_workflows("w", None, Some(8000), None)
            .await
            .expect("running"),
        vec![id.clone()],
        "the new start time is stored"
    );
    let record = stores
        .execution
        .get_workflow_record(&id)
        .await
        .expect("record")
        .expect("exists");
    assert_eq!(record.status, WorkflowStatus::Running);
    assert_eq!(record.start_time, 9000);
}
