//! Conformance: workflows and tasks: units of work, round trips, searches, lookups,
//! logs and deletes.

use super::*;

pub(super) async fn units_of_work_are_atomic(stores: Stores) {
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
                Err(Box::new(CoreError::Conflict("changed my mind".into())))
            }),
        })
        .await;
    // The closure's refusal comes back as it was raised.
    assert!(
        matches!(failed.map_err(CoreError::from), Err(CoreError::Conflict(ref m)) if m == "changed my mind")
    );
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
    // A unit that panics (a poisoned row, an engine bug) fails with an error and
    // writes nothing; the store goes on writing.
    let maker = Maker::new("panics");
    let (state, changes) = maker.start(
        &definition("w", json!([simple("a")])),
        StartParams::default(),
        1000,
    );
    let poisoned = state.id().to_string();
    let panicked = stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                txn.changes.new_workflows.push(state);
                panic!("a unit of work that panics");
            }),
        })
        .await;
    assert!(
        matches!(
            panicked.map_err(CoreError::from),
            Err(CoreError::Internal(_))
        ),
        "a panicking unit fails with an internal error"
    );
    assert!(
        stores
            .execution
            .get_workflow(&poisoned)
            .await
            .expect("read")
            .is_none()
    );
    let (state, changes) = maker.start(
        &definition("w", json!([simple("a")])),
        StartParams::default(),
        1000,
    );
    let kept = state.id().to_string();
    stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                txn.changes.new_workflows.push(state);
                Ok(())
            }),
        })
        .await
        .expect("the next unit commits");
    assert!(
        stores
            .execution
            .get_workflow(&kept)
            .await
            .expect("read")
            .is_some()
    );
}

pub(super) async fn workflows_round_trip_with_their_tasks(stores: Stores) {
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

pub(super) async fn searches_filter_page_and_sort(stores: Stores) {
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
    // The services add the readable definitions as an IN list that grows with the
    // number of definitions, beyond what a query may hold: the store takes any length.
    let mut names: Vec<SearchValue> = (0..40_000)
        .map(|i| SearchValue::Text(format!("other-{i}")))
        .collect();
    names.push(SearchValue::Text("alpha".into()));
    let mut wide = search(None, None, 0, 10, None);
    wide.filter = Some(Filter::And(vec![
        Filter::In(WorkflowField::WorkflowType, names.clone()),
        Filter::NotIn(WorkflowField::WorkflowType, names[..100].to_vec()),
    ]));
    let (total, _) = stores
        .execution
        .search_workflows(&wide)
        .await
        .expect("a long IN list is one value to the store");
    assert_eq!(total, 2);
}

pub(super) async fn lookups_by_correlation_key_and_parent(stores: Stores) {
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

pub(super) async fn idempotency_keys_are_unique_per_definition(stores: Stores) {
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
        .await
        .map_err(CoreError::from);
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

pub(super) async fn logs_and_poll_data(stores: Stores) {
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

pub(super) async fn deletes_remove_everything_of_a_workflow(stores: Stores) {
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

pub(super) async fn due_workflows_are_found(stores: Stores) {
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
pub(super) async fn changed_columns_reach_every_query(stores: Stores) {
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
