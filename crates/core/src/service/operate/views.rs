//! Operate's objects as the API shows them, made from Podium's (already masked)
//! views of definitions and executions.

use chrono::{SecondsFormat, TimeZone, Utc};
use serde_json::{Value, json};

use super::TENANT;
use super::keys;
use crate::model::{Task, TaskStatus, Workflow, WorkflowStatus};
use crate::store::variables;

/// A time as Operate writes dates (`2022-03-17T11:50:25.729+0000`); none for 0.
fn date(millis: i64) -> Value {
    if millis <= 0 {
        return Value::Null;
    }
    match Utc.timestamp_millis_opt(millis).single() {
        Some(at) => {
            let text = at.to_rfc3339_opts(SecondsFormat::Millis, true);
            Value::from(text.trim_end_matches('Z').to_string() + "+0000")
        }
        None => Value::Null,
    }
}

/// A workflow definition's version as a process definition.
pub fn definition(name: &str, version: i32) -> Value {
    json!({
        "key": keys::definition_key(name, version),
        "name": name,
        "version": version,
        "bpmnProcessId": name,
        "tenantId": TENANT,
    })
}

/// Operate's state of an execution: running and paused ones are active; every
/// ended one that did not complete was canceled.
pub fn instance_state(status: WorkflowStatus) -> &'static str {
    match status {
        WorkflowStatus::Running | WorkflowStatus::Paused => "ACTIVE",
        WorkflowStatus::Completed => "COMPLETED",
        _ => "CANCELED",
    }
}

/// The statuses an instance state filter stands for.
pub fn statuses_of_state(state: &str) -> Vec<WorkflowStatus> {
    match state {
        "ACTIVE" => vec![WorkflowStatus::Running, WorkflowStatus::Paused],
        "COMPLETED" => vec![WorkflowStatus::Completed],
        "CANCELED" => vec![
            WorkflowStatus::Terminated,
            WorkflowStatus::Failed,
            WorkflowStatus::TimedOut,
        ],
        _ => Vec::new(),
    }
}

/// An execution as a process instance.
pub fn instance(workflow: &Workflow, seq: i64, parent_seq: Option<i64>) -> Value {
    json!({
        "key": keys::instance_key(seq),
        "processVersion": workflow.workflow_version,
        "bpmnProcessId": workflow.workflow_name,
        "parentKey": parent_seq.map(keys::instance_key),
        "startDate": date(workflow.start_time),
        "endDate": if workflow.status.is_terminal() { date(workflow.end_time) } else { Value::Null },
        "state": instance_state(workflow.status),
        "processDefinitionKey": keys::definition_key(&workflow.workflow_name, workflow.workflow_version),
        "tenantId": TENANT,
    })
}

/// Whether a task ended in a failure an operator must deal with.
fn failed(task: &Task) -> bool {
    matches!(
        task.status,
        TaskStatus::Failed | TaskStatus::FailedWithTerminalError | TaskStatus::TimedOut
    )
}

/// The BPMN element a task is closest to: a worker's task (its type is its
/// definition's name) is a service task.
fn element_type(task: &Task) -> &'static str {
    match task.task_type.as_str() {
        "SIMPLE" | "HTTP" => "SERVICE_TASK",
        "SUB_WORKFLOW" => "CALL_ACTIVITY",
        "FORK_JOIN" | "FORK_JOIN_DYNAMIC" | "JOIN" => "PARALLEL_GATEWAY",
        "SWITCH" | "DECISION" | "EXCLUSIVE_JOIN" => "EXCLUSIVE_GATEWAY",
        "WAIT" => "INTERMEDIATE_CATCH_EVENT",
        "TERMINATE" => "END_EVENT",
        "HUMAN" => "USER_TASK",
        "INLINE" => "SCRIPT_TASK",
        worker if worker == task.task_def_name => "SERVICE_TASK",
        _ => "TASK",
    }
}

/// An execution's tasks as flow-node instances (tasks past the 32,767th have no
/// key and are left out).
pub fn flow_nodes(workflow: &Workflow, seq: i64) -> Vec<Value> {
    let definition_key = keys::definition_key(&workflow.workflow_name, workflow.workflow_version);
    workflow
        .tasks
        .iter()
        .filter_map(|task| {
            let key = keys::flow_node_key(seq, task.seq)?;
            let incident = failed(task);
            let state = match task.status {
                TaskStatus::Scheduled | TaskStatus::InProgress => "ACTIVE",
                TaskStatus::Completed | TaskStatus::CompletedWithErrors | TaskStatus::Skipped => {
                    "COMPLETED"
                }
                _ => "TERMINATED",
            };
            let started = if task.start_time > 0 {
                task.start_time
            } else {
                task.scheduled_time
            };
            Some(json!({
                "key": key,
                "processInstanceKey": keys::instance_key(seq),
                "processDefinitionKey": definition_key,
                "startDate": date(started),
                "endDate": if task.status.is_terminal() { date(task.end_time) } else { Value::Null },
                "flowNodeId": task.reference_task_name,
                "flowNodeName": task.task_def_name,
                "incidentKey": if incident { Value::from(key) } else { Value::Null },
                "type": element_type(task),
                "state": state,
                "incident": incident,
                "tenantId": TENANT,
            }))
        })
        .collect()
}

/// An execution's failed tasks as incidents: active while the execution waits for
/// an operator (it failed or timed out), resolved once it moved on.
pub fn incidents(workflow: &Workflow, seq: i64) -> Vec<Value> {
    let definition_key = keys::definition_key(&workflow.workflow_name, workflow.workflow_version);
    let waiting = matches!(
        workflow.status,
        WorkflowStatus::Failed | WorkflowStatus::TimedOut
    );
    workflow
        .tasks
        .iter()
        .filter(|task| failed(task))
        .filter_map(|task| {
            let key = keys::flow_node_key(seq, task.seq)?;
            Some(json!({
                "key": key,
                "processDefinitionKey": definition_key,
                "processInstanceKey": keys::instance_key(seq),
                "type": "JOB_NO_RETRIES",
                "message": task.reason_for_incompletion.clone().unwrap_or_default(),
                "creationTime": date(if task.end_time > 0 { task.end_time } else { task.update_time }),
                "state": if waiting { "ACTIVE" } else { "RESOLVED" },
                "jobKey": key,
                "tenantId": TENANT,
            }))
        })
        .collect()
}

/// An execution's variables (`truncated`: values cut for a search).
pub fn variables(workflow: &Workflow, seq: i64, truncated: bool) -> Vec<Value> {
    workflow
        .variables
        .iter()
        .map(|(name, value)| {
            let (text, cut) = if truncated {
                variables::cut(value)
            } else {
                (value.to_string(), false)
            };
            json!({
                "key": keys::variable_key(seq, name),
                "processInstanceKey": keys::instance_key(seq),
                "scopeKey": keys::instance_key(seq),
                "name": name,
                "value": text,
                "truncated": cut,
                "tenantId": TENANT,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_written_as_operate_writes_them() {
        assert_eq!(
            date(1_647_517_825_729),
            json!("2022-03-17T11:50:25.729+0000")
        );
        assert_eq!(date(0), Value::Null);
        assert_eq!(instance_state(WorkflowStatus::Paused), "ACTIVE");
        assert_eq!(instance_state(WorkflowStatus::Failed), "CANCELED");
        assert_eq!(statuses_of_state("CANCELED").len(), 3);
        assert!(statuses_of_state("INCIDENT").is_empty());
    }
}
