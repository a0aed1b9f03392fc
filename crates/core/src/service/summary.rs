//! Search result shapes: Conductor's `WorkflowSummary` and `TaskSummary`, with times as
//! ISO-8601 text and input/output as JSON text.

use chrono::{DateTime, SecondsFormat};

use crate::model::{Task, TaskSummary, Workflow, WorkflowSummary};

/// Epoch milliseconds as ISO-8601 UTC text; empty for 0 (unset).
pub fn iso(millis: i64) -> String {
    if millis <= 0 {
        return String::new();
    }
    DateTime::from_timestamp_millis(millis)
        .map(|dt| dt.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn json_text(map: &crate::model::JsonMap) -> String {
    serde_json::to_string(map).unwrap_or_default()
}

/// The summary of a workflow.
pub fn workflow_summary(wf: &Workflow) -> WorkflowSummary {
    let input = json_text(&wf.input);
    let output = json_text(&wf.output);
    WorkflowSummary {
        workflow_type: wf.workflow_name.clone(),
        version: wf.workflow_version,
        workflow_id: wf.workflow_id.clone(),
        correlation_id: wf.correlation_id.clone(),
        start_time: iso(wf.start_time),
        update_time: iso(wf.update_time),
        end_time: (wf.end_time > 0).then(|| iso(wf.end_time)),
        status: wf.status.as_str().to_string(),
        input_size: input.len() as i64,
        output_size: output.len() as i64,
        input,
        output,
        reason_for_incompletion: wf.reason_for_incompletion.clone(),
        execution_time: if wf.end_time > 0 {
            wf.end_time - wf.start_time
        } else {
            0
        },
        event: wf.event.clone(),
        failed_reference_task_names: wf.failed_reference_task_names.join(","),
        failed_task_names: wf.failed_task_names.clone(),
        priority: wf.priority,
        created_by: wf.created_by.clone(),
        external_input_payload_storage_path: wf.external_input_payload_storage_path.clone(),
        external_output_payload_storage_path: wf.external_output_payload_storage_path.clone(),
    }
}

/// The summary of a task.
pub fn task_summary(task: &Task) -> TaskSummary {
    TaskSummary {
        workflow_id: task.workflow_instance_id.clone(),
        workflow_type: task.workflow_type.clone(),
        correlation_id: task.correlation_id.clone(),
        scheduled_time: iso(task.scheduled_time),
        start_time: iso(task.start_time),
        update_time: iso(task.update_time),
        end_time: iso(task.end_time),
        status: task.status.as_str().to_string(),
        reason_for_incompletion: task.reason_for_incompletion.clone(),
        execution_time: if task.end_time > 0 && task.start_time > 0 {
            task.end_time - task.start_time
        } else {
            0
        },
        queue_wait_time: task.queue_wait_time,
        task_def_name: task.task_def_name.clone(),
        task_type: task.task_type.clone(),
        input: json_text(&task.input_data),
        output: json_text(&task.output_data),
        task_id: task.task_id.clone(),
        domain: task.domain.clone(),
        workflow_priority: task.workflow_priority,
        task_reference_name: task.reference_task_name.clone(),
    }
}
