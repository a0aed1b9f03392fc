//! Runs the core store conformance suite against SQLite, one fresh database per case.

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use podium_store_sqlite::{SqliteOptions, SqliteStore};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sqlite_store_conforms() {
    for case in podium_core::testkit::CASES {
        let dir = tempfile::tempdir().expect("temp dir");
        let store =
            SqliteStore::open(&SqliteOptions::new(dir.path().join("podium.db"))).expect("open");
        println!("conformance case: {}", case.name);
        (case.run)(store.stores()).await;
        store.close();
    }
}

#[tokio::test]
async fn reopening_keeps_data_and_refuses_a_newer_schema() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("podium.db");
    {
        let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("open");
        let def: podium_core::model::TaskDef =
            serde_json::from_value(serde_json::json!({"name": "kept"})).expect("def");
        podium_core::store::MetadataStore::put_task_defs(store.as_ref(), &[def])
            .await
            .expect("put");
        store.close();
    }
    let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("reopen");
    let kept = podium_core::store::MetadataStore::get_task_def(store.as_ref(), "kept")
        .await
        .expect("get");
    assert!(kept.is_some());
    store.close();
    drop(store);
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute_batch("PRAGMA user_version = 999")
        .expect("bump");
    drop(conn);
    let err = SqliteStore::open(&SqliteOptions::new(&path))
        .err()
        .expect("refused");
    assert!(err.to_string().contains("newer Podium"), "{err}");
}

#[cfg(unix)]
#[tokio::test]
async fn new_database_files_are_owner_only() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("podium.db");
    let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("open");
    let def: podium_core::model::TaskDef =
        serde_json::from_value(serde_json::json!({"name": "written"})).expect("def");
    podium_core::store::MetadataStore::put_task_defs(store.as_ref(), &[def])
        .await
        .expect("put");
    for name in ["podium.db", "podium.db-wal", "podium.db-shm"] {
        let mode = std::fs::metadata(dir.path().join(name))
            .unwrap_or_else(|e| panic!("{name}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{name} has mode {:o}", mode & 0o777);
    }
}

#[tokio::test]
async fn a_definition_that_cannot_be_read_is_left_out_of_the_list() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("podium.db");
    let good: podium_core::model::WorkflowDef = serde_json::from_value(
        serde_json::json!({"name": "good", "version": 1, "tasks": [{"name": "a", "taskReferenceName": "a"}]}),
    )
    .expect("def");
    {
        let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("open");
        podium_core::store::MetadataStore::put_workflow_def(
            store.as_ref(),
            &good,
            "rev-good",
            false,
        )
        .await
        .expect("put");
        store.close();
    }
    // Stored by a version that accepted deeper nesting than decoding now allows.
    let mut task = serde_json::json!({"name": "leaf", "taskReferenceName": "leaf"});
    for level in 0..30 {
        task = serde_json::json!({"name": "l", "taskReferenceName": format!("l{level}"), "type": "DO_WHILE", "loopOver": [task]});
    }
    let deep = serde_json::json!({"name": "deep", "version": 1, "tasks": [task]}).to_string();
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    conn.execute(
        "INSERT INTO workflow_def (name, version, revision, json, create_time, update_time) VALUES ('deep', 1, 'rev-deep', ?1, 0, 0)",
        [&deep],
    )
    .expect("raw insert");
    drop(conn);
    let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("reopen");
    let listed = podium_core::store::MetadataStore::list_workflow_defs(store.as_ref())
        .await
        .expect("the list is served");
    let names: Vec<&str> = listed.iter().map(|d| d.name.as_str()).collect();
    assert_eq!(names, vec!["good"]);
    let read =
        podium_core::store::MetadataStore::get_workflow_def(store.as_ref(), "deep", Some(1)).await;
    assert!(
        matches!(read, Err(podium_core::store::StoreError::Corrupt(_))),
        "{read:?}"
    );
    store.close();
}

/// A queued task whose row cannot be read (here: not JSON at all), found when the
/// writer does not hold its workflow (after a restart), is passed over: the claim
/// hands out the task behind it, later claims do not fail, and its message stays.
#[tokio::test]
async fn a_task_row_that_cannot_be_read_does_not_stop_its_queue() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("podium.db");
    SqliteStore::open(&SqliteOptions::new(&path))
        .expect("open")
        .close();
    let task: podium_core::model::Task = serde_json::from_value(serde_json::json!({
        "taskId": "good", "taskType": "work", "referenceTaskName": "good",
        "workflowInstanceId": "wf-good", "status": "SCHEDULED"
    }))
    .expect("task");
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    for (id, workflow, json, priority) in [
        ("bad", "wf-bad", "{not json".to_string(), 9),
        (
            "good",
            "wf-good",
            serde_json::to_string(&task).expect("json"),
            0,
        ),
    ] {
        conn.execute(
            "INSERT INTO task (id, workflow_id, seq, ref_name, task_type, task_def_name, status,
                 workflow_type, scheduled_time, start_time, end_time, update_time, json)
             VALUES (?1, ?2, 0, ?1, 'work', 'work', 'SCHEDULED', 'wf', 0, 0, 0, 0, ?3)",
            rusqlite::params![id, workflow, json],
        )
        .expect("task row");
        conn.execute(
            "INSERT INTO queue (task_id, queue_name, workflow_id, priority, visible_at)
             VALUES (?1, 'q', ?2, ?3, 0)",
            rusqlite::params![id, workflow, priority],
        )
        .expect("queue row");
    }
    drop(conn);
    let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("reopen");
    let claim = || podium_core::store::Claim {
        queue_name: "q".into(),
        count: 10,
        now: 10,
        worker_id: "w".into(),
        limits: None,
    };
    fn mark(task: &mut podium_core::model::Task, _: &podium_core::store::Claim) -> Option<i64> {
        task.status = podium_core::model::TaskStatus::InProgress;
        None
    }
    let execution = podium_core::store::ExecutionStore::claim;
    let got = execution(store.as_ref(), claim(), mark)
        .await
        .expect("a row that cannot be read does not fail the claim");
    let ids: Vec<&str> = got.iter().map(|t| t.task_id.as_str()).collect();
    assert_eq!(ids, ["good"]);
    assert!(
        execution(store.as_ref(), claim(), mark)
            .await
            .expect("the next claim does not fail")
            .is_empty()
    );
    let sizes = podium_core::store::ExecutionStore::queue_sizes(store.as_ref(), &["q".into()])
        .await
        .expect("sizes");
    assert_eq!(
        sizes.get("q"),
        Some(&1),
        "the unreadable task's message stays"
    );
    store.close();
}

/// A job row of a kind this version does not know (a newer node's, during a rolling
/// upgrade) is left for a node that knows it: leased, never deleted, and the jobs
/// behind it are claimed.
#[tokio::test]
async fn a_job_of_an_unknown_kind_is_left_for_a_newer_node() {
    use podium_core::store::{ExecutionStore, JobLane};
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("podium.db");
    SqliteStore::open(&SqliteOptions::new(&path))
        .expect("open")
        .close();
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    for (id, kind, due) in [
        ("newer", "A_LATER_KIND", 1),
        ("known", "FAILURE_WORKFLOW", 2),
    ] {
        conn.execute(
            "INSERT INTO job (id, kind, workflow_id, task_id, payload, due_at)
             VALUES (?1, ?2, 'w', NULL, 'null', ?3)",
            rusqlite::params![id, kind, due],
        )
        .expect("job row");
    }
    drop(conn);
    let store = SqliteStore::open(&SqliteOptions::new(&path)).expect("reopen");
    let jobs = store
        .claim_jobs(10, 10, 1000, JobLane::Work)
        .await
        .expect("claim");
    let ids: Vec<&str> = jobs.iter().map(|j| j.id.as_str()).collect();
    assert_eq!(ids, ["known"]);
    assert_eq!(
        store.next_job_due(JobLane::Work).await.expect("next"),
        Some(1010),
        "both are leased"
    );
    store.close();
    let conn = rusqlite::Connection::open(&path).expect("raw open");
    let kept: i64 = conn
        .query_row("SELECT COUNT(*) FROM job WHERE id = 'newer'", [], |r| {
            r.get(0)
        })
        .expect("count");
    assert_eq!(kept, 1, "the newer node's job is still there");
}
