//! Conformance: schedules round-trip, are found when due, and each due time runs
//! once: a second unit for the same due time fails whole.

use super::*;
use crate::model::{
    ScheduleExecution, ScheduleExecutionState, StartWorkflowRequest, WorkflowSchedule,
};
use crate::store::{RunOrder, RunSearch, ScheduleRun, StoredSchedule};

fn schedule(name: &str, workflow: &str) -> WorkflowSchedule {
    WorkflowSchedule {
        name: name.into(),
        cron_expression: "0 0 * * * *".into(),
        start_workflow_request: Some(StartWorkflowRequest {
            name: workflow.into(),
            ..StartWorkflowRequest::default()
        }),
        ..WorkflowSchedule::default()
    }
}

fn run(name: &str, due: i64, next: Option<i64>, state: ScheduleExecutionState) -> ScheduleRun {
    ScheduleRun {
        execution: ScheduleExecution {
            execution_id: format!("{name}@{due}"),
            schedule_name: name.into(),
            scheduled_time: due,
            execution_time: due + 5,
            workflow_name: "w1".into(),
            state,
            ..ScheduleExecution::default()
        },
        due,
        next_run_at: next,
        schedule: None,
    }
}

/// Commits a unit that starts a workflow and records `run`; the workflow's id.
async fn fire(stores: &Stores, maker: &Maker, run: ScheduleRun) -> (Result<(), String>, String) {
    let def = definition("w1", json!([simple("a")]));
    let (state, mut changes) = maker.start(&def, StartParams::default(), 1000);
    stores
        .metadata
        .put_def_revision(&state.def_revision, &state.def)
        .await
        .expect("revision stored");
    let id = state.id().to_string();
    changes.new_workflows.push(state);
    changes.schedule_runs.push(run);
    let outcome = stores
        .execution
        .run(UnitOfWork {
            lock: None,
            work: Box::new(move |txn| {
                txn.changes = changes;
                Ok(())
            }),
        })
        .await
        .map(|_| ())
        .map_err(|err| err.to_string());
    (outcome, id)
}

async fn next_run(stores: &Stores, name: &str) -> Option<i64> {
    stores
        .schedules
        .schedule(name)
        .await
        .expect("read")
        .expect("the schedule")
        .next_run_at
}

pub(super) async fn schedules_run_once_per_due_time(stores: Stores) {
    let s = &stores.schedules;
    for (name, workflow, next) in [("b", "w2", None), ("a", "w1", Some(1000))] {
        let stored = StoredSchedule {
            schedule: schedule(name, workflow),
            next_run_at: next,
        };
        assert!(s.insert_schedule(stored).await.expect("stored"));
    }
    // A change to a schedule that is not there brings none.
    let gone = StoredSchedule {
        schedule: schedule("never_made", "w1"),
        next_run_at: None,
    };
    assert!(!s.put_schedule(gone).await.expect("put"));
    assert!(s.schedule("never_made").await.expect("read").is_none());
    let a = s.schedule("a").await.expect("read").expect("a");
    assert_eq!(a.schedule, schedule("a", "w1"));
    assert_eq!(a.next_run_at, Some(1000));
    // A creation never replaces a schedule of its name.
    let taken = StoredSchedule {
        schedule: schedule("a", "w9"),
        next_run_at: None,
    };
    assert!(!s.insert_schedule(taken).await.expect("insert"));
    assert_eq!(
        s.schedule("a").await.expect("read").expect("a").schedule,
        schedule("a", "w1")
    );
    let fresh = StoredSchedule {
        schedule: schedule("z", "w9"),
        next_run_at: None,
    };
    assert!(s.insert_schedule(fresh).await.expect("insert"));
    assert!(s.delete_schedule("z").await.expect("delete"));
    assert!(s.schedule("c").await.expect("read").is_none());
    let names = |list: Vec<StoredSchedule>| -> Vec<String> {
        list.into_iter().map(|s| s.schedule.name).collect()
    };
    assert_eq!(
        names(s.list_schedules(None).await.expect("list")),
        ["a", "b"]
    );
    assert_eq!(
        names(s.list_schedules(Some("w2")).await.expect("list")),
        ["b"]
    );
    assert!(s.due_schedules(999, 10).await.expect("due").is_empty());
    assert_eq!(names(s.due_schedules(1000, 10).await.expect("due")), ["a"]);

    // A due time runs once: the unit that records it starts its workflow, and a
    // second unit for the same due time fails whole.
    let maker = Maker::new("schedules");
    let (first, started) = fire(
        &stores,
        &maker,
        run("a", 1000, Some(2000), ScheduleExecutionState::Executed),
    )
    .await;
    first.expect("the first run commits");
    assert!(
        stores
            .execution
            .get_workflow(&started)
            .await
            .expect("read")
            .is_some()
    );
    assert_eq!(next_run(&stores, "a").await, Some(2000));
    let mut again = run("a", 1000, Some(2000), ScheduleExecutionState::Executed);
    again.execution.execution_id = "another".into();
    let (second, not_started) = fire(&stores, &maker, again).await;
    assert!(second.is_err(), "a due time runs once");
    assert!(
        stores
            .execution
            .get_workflow(&not_started)
            .await
            .expect("read")
            .is_none(),
        "the second unit's workflow is not created"
    );

    // A schedule saved meanwhile keeps its own next time.
    assert!(
        s.put_schedule(StoredSchedule {
            schedule: schedule("a", "w1"),
            next_run_at: Some(5000),
        })
        .await
        .expect("saved")
    );
    fire(
        &stores,
        &maker,
        run("a", 2000, Some(3000), ScheduleExecutionState::Executed),
    )
    .await
    .0
    .expect("recorded");
    assert_eq!(next_run(&stores, "a").await, Some(5000));
    // A run may store the schedule changed (paused after a refusal).
    let mut refused = run("a", 5000, None, ScheduleExecutionState::Failed);
    let mut paused = schedule("a", "w1");
    paused.paused = true;
    paused.paused_reason = Some("Security Error: refused".into());
    refused.schedule = Some(paused.clone());
    fire(&stores, &maker, refused).await.0.expect("recorded");
    let a = s.schedule("a").await.expect("read").expect("a");
    assert_eq!((a.schedule, a.next_run_at), (paused, None));

    // Searches filter, order and page.
    let all = RunSearch {
        size: 10,
        ..RunSearch::default()
    };
    let (total, runs) = s.search_schedule_runs(&all).await.expect("search");
    assert_eq!(total, 3);
    let due: Vec<i64> = runs.iter().map(|r| r.scheduled_time).collect();
    assert_eq!(due, [5000, 2000, 1000], "the latest first");
    let page = RunSearch {
        ascending: true,
        order: RunOrder::ScheduledTime,
        start: 1,
        size: 1,
        ..RunSearch::default()
    };
    let (total, runs) = s.search_schedule_runs(&page).await.expect("search");
    assert_eq!((total, runs[0].scheduled_time), (3, 2000));
    let failed = RunSearch {
        states: vec![ScheduleExecutionState::Failed],
        size: 10,
        ..RunSearch::default()
    };
    let (total, runs) = s.search_schedule_runs(&failed).await.expect("search");
    assert_eq!((total, runs[0].scheduled_time), (1, 5000));
    for (search, expected) in [
        (
            RunSearch {
                schedule_names: Some(vec![]),
                size: 10,
                ..RunSearch::default()
            },
            0,
        ),
        (
            RunSearch {
                schedule_names: Some(vec!["b".into()]),
                size: 10,
                ..RunSearch::default()
            },
            0,
        ),
        (
            RunSearch {
                schedule_names: Some(vec!["a".into(), "b".into()]),
                size: 10,
                ..RunSearch::default()
            },
            3,
        ),
        (
            RunSearch {
                scheduled_after: Some(1000),
                scheduled_before: Some(5000),
                size: 10,
                ..RunSearch::default()
            },
            1,
        ),
        (
            RunSearch {
                workflow_name: Some("w2".into()),
                size: 10,
                ..RunSearch::default()
            },
            0,
        ),
        (
            RunSearch {
                execution_id: Some("a@2000".into()),
                size: 10,
                ..RunSearch::default()
            },
            1,
        ),
    ] {
        let (total, runs) = s.search_schedule_runs(&search).await.expect("search");
        assert_eq!(
            (total, runs.len()),
            (expected, expected as usize),
            "{search:?}"
        );
    }

    // A schedule moves on from a due time only while it is still due then.
    assert!(
        s.insert_schedule(StoredSchedule {
            schedule: schedule("c", "w1"),
            next_run_at: Some(100),
        })
        .await
        .expect("stored")
    );
    assert!(!s.move_schedule_on("c", 99, Some(200)).await.expect("moved"));
    assert!(
        s.move_schedule_on("c", 100, Some(200))
            .await
            .expect("moved")
    );
    assert_eq!(next_run(&stores, "c").await, Some(200));
    assert!(s.move_schedule_on("c", 200, None).await.expect("moved"));
    assert_eq!(next_run(&stores, "c").await, None);
    assert!(s.delete_schedule("c").await.expect("deleted"));

    // Old records go; deleting a schedule takes its records with it.
    assert_eq!(s.prune_schedule_runs(1500).await.expect("pruned"), 1);
    assert!(s.delete_schedule("a").await.expect("deleted"));
    assert!(!s.delete_schedule("a").await.expect("deleted"));
    assert_eq!(s.search_schedule_runs(&all).await.expect("search").0, 0);
    assert_eq!(names(s.list_schedules(None).await.expect("list")), ["b"]);
}
