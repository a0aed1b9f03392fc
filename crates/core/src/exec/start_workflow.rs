//! `START_WORKFLOW`: a task that starts another workflow and completes at once with
//! its id, without waiting for it, as Conductor does. The workflow it starts is a
//! run of its own (no parent), started on behalf of the run's principals: its
//! starter is the run's starter, and everything a start of its definition needs is
//! checked for each of them at that moment (`EngineAction::StartWorkflow`), since
//! the name can come from data.
//!
//! Its input is `startWorkflow`: `name` (required), `version` (latest when absent),
//! `input`, `correlationId` and `taskToDomain` (the run's own when absent or empty),
//! `priority` (0–99). An inline `workflowDef` is refused: a definition given as a
//! task's input can be built from data, and would be trusted as its author's code.

use serde_json::Value;
use tracing::warn;

use super::delegated::{Then, drop_job, fail_task};
use super::effects::{self, EngineAction, Scope};
use crate::engine::ops::{self, StartParams};
use crate::error::CoreResult;
use crate::model::{JsonMap, Task, TaskResult, TaskResultStatus, TaskStatus};
use crate::service::{Runtime, masking, schema_checks, validation};
use crate::store::Job;

/// Most workflows in a row a chain of `START_WORKFLOW` tasks may start (a workflow
/// starting itself would otherwise go on, or multiply, without end).
pub const MAX_GENERATIONS: u32 = 8;

/// Longest task name or domain a `taskToDomain` may hold: a definition's bound.
const MAX_NAME_BYTES: usize = crate::service::definition_bounds::MAX_NAME_BYTES;

/// Refuses a `taskToDomain` that is not the one the definition writes for this
/// task: one built from data would send the started run's tasks (and the secrets
/// they are handed) to a domain that data chose.
fn literal_domains(
    def: &crate::model::WorkflowDef,
    task: &Task,
    asked: Request,
) -> Result<Request, String> {
    let Some(given) = &asked.task_to_domain else {
        return Ok(asked);
    };
    let written = crate::engine::graph::find_task(def, crate::engine::loops::bare_ref(task))
        .and_then(|node| node.input_parameters.get("startWorkflow"))
        .and_then(|start| start.get("taskToDomain"))
        .and_then(Value::as_object);
    if written == Some(given) {
        Ok(asked)
    } else {
        Err("START_WORKFLOW's taskToDomain must be written in the workflow definition; one built from data is refused".to_string())
    }
}

/// What a `START_WORKFLOW` task's input asks to start.
struct Request {
    name: String,
    version: Option<i32>,
    input: JsonMap,
    correlation_id: Option<String>,
    task_to_domain: Option<serde_json::Map<String, Value>>,
    priority: Option<i32>,
}

/// Reads `startWorkflow` as Conductor does, with its messages.
fn request(input: &JsonMap) -> Result<Request, String> {
    let Some(Value::Object(asked)) = input.get("startWorkflow") else {
        return Err("Missing 'startWorkflow' in input data.".to_string());
    };
    let name = match asked.get("name") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.trim().to_string(),
        _ => {
            return Err(
                "startWorkflow validation failed. 'name' -> Workflow name cannot be null or empty. "
                    .to_string(),
            );
        }
    };
    if asked.get("workflowDef").is_some_and(|d| !d.is_null()) {
        return Err("START_WORKFLOW starts a registered workflow; an inline workflowDef is not supported by Podium".to_string());
    }
    let version = match asked.get("version") {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => n.as_i64().and_then(|v| i32::try_from(v).ok()),
        Some(Value::String(s)) if s.trim().is_empty() => None,
        Some(Value::String(s)) => Some(s.trim().parse::<i32>().map_err(|_| {
            "Error reading StartWorkflowRequest. 'version' is not a number".to_string()
        })?),
        Some(_) => {
            return Err(
                "Error reading StartWorkflowRequest. 'version' is not a number".to_string(),
            );
        }
    };
    let input = match asked.get("input") {
        None | Some(Value::Null) => JsonMap::new(),
        Some(Value::Object(map)) => map.clone(),
        Some(_) => {
            return Err("Error reading StartWorkflowRequest. 'input' is not a map".to_string());
        }
    };
    let correlation_id = asked
        .get("correlationId")
        .and_then(Value::as_str)
        .filter(|c| !c.trim().is_empty())
        .map(str::to_string);
    crate::service::workflow::check_key("correlationId", correlation_id.as_deref())
        .map_err(|err| format!("startWorkflow validation failed. {}", err.public_message()))?;
    let task_to_domain = match asked.get("taskToDomain") {
        Some(Value::Object(map)) if !map.is_empty() => Some(map.clone()),
        _ => None,
    };
    if let Some(map) = &task_to_domain {
        for (task, domain) in map {
            let fine = domain
                .as_str()
                .is_some_and(|d| d.len() <= MAX_NAME_BYTES && !d.chars().any(char::is_control))
                && task.len() <= MAX_NAME_BYTES;
            if !fine {
                return Err(format!(
                    "startWorkflow validation failed. 'taskToDomain' -> the domain of a task must be a text of at most {MAX_NAME_BYTES} bytes"
                ));
            }
        }
    }
    let priority = asked
        .get("priority")
        .and_then(Value::as_i64)
        .map(|p| p.clamp(0, 99) as i32);
    Ok(Request {
        name,
        version,
        input,
        correlation_id,
        task_to_domain,
        priority,
    })
}

pub(super) async fn start_workflow(rt: &Runtime, job: Job, task: Task) -> CoreResult<()> {
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let Some(run) = rt.stores.execution.get_workflow(&workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let allowed = request(&task.input_data)
        .and_then(|asked| literal_domains(&run.def, &task, asked))
        .and_then(|asked| {
        let (def, revision) = rt
            .defs
            .workflow(&asked.name, asked.version)
            .ok_or_else(|| {
                format!(
                    "No such workflow defined. name={}, version={}",
                    asked.name,
                    asked
                        .version
                        .map_or_else(|| "null".to_string(), |v| v.to_string())
                )
            })?;
        if let Some(first) = validation::runnable(&def).first() {
            return Err(format!(
                "Workflow {} cannot run: {}",
                def.name, first.message
            ));
        }
        let scope = Scope {
            starter: run.workflow.created_by.as_deref(),
            authority: &run.authority,
            run: Some(&run.workflow),
            start: Some((&def, &revision)),
            references: None,
            secret: None,
            chosen: None,
        };
        if run.authority.generation >= MAX_GENERATIONS {
            return Err(format!(
                "Cannot start workflow {}: {} workflows in a row were started by START_WORKFLOW tasks, the most Podium allows",
                def.name, MAX_GENERATIONS
            ));
        }
        let mut authority = effects::authorize(rt, EngineAction::StartWorkflow, &scope)
            .map_err(|reason| format!("Cannot start workflow {}: {reason}", def.name))?;
        authority.generation = run.authority.generation.saturating_add(1);
        Ok((asked, def, revision, authority))
    });
    let (asked, def, revision, authority) = match allowed {
        Ok(allowed) => allowed,
        Err(reason) => {
            warn!(workflow_id = %workflow_id, task_id = %task_id, reason = %reason, "a START_WORKFLOW task was refused");
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    let starter = run.workflow.created_by.as_deref();
    if let Err(reason) = schema_checks::check_started_input(rt, starter, &def, &asked.input).await {
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
    }
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut()
            && state
                .task_index(&task_id)
                .is_some_and(|i| state.tasks()[i].status == TaskStatus::Scheduled)
        {
            // What the run masks stays masked in the workflow it hands data to.
            let values = masking::run_masked_values(state);
            let params = StartParams {
                masked_fields: masking::fields_carrying(&asked.input, &values),
                masked_values: masking::carried(&asked.input, &values),
                input: asked.input,
                correlation_id: asked
                    .correlation_id
                    .or_else(|| state.workflow.correlation_id.clone()),
                priority: asked.priority.unwrap_or(0),
                task_to_domain: asked
                    .task_to_domain
                    .unwrap_or_else(|| state.workflow.task_to_domain.clone()),
                created_by: state.workflow.created_by.clone(),
                authority,
                ..StartParams::default()
            };
            let started = ops::start(def, revision, params, ctx, &mut changes);
            let mut output = JsonMap::new();
            output.insert("workflowId".into(), Value::String(started.id().to_string()));
            changes.new_workflows.push(started);
            let result = TaskResult::reported(
                workflow_id,
                task_id,
                TaskResultStatus::Completed,
                output,
                None,
            );
            ops::apply_result(state, &result, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// The definition a `START_WORKFLOW` task's input names (for tests of the mapping).
#[cfg(test)]
fn named(input: &JsonMap) -> Result<(String, Option<i32>), String> {
    request(input).map(|r| (r.name, r.version))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn input(value: Value) -> JsonMap {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn the_request_is_read_as_conductor_reads_it() {
        assert_eq!(
            named(&input(
                json!({"startWorkflow": {"name": " w ", "version": "2"}})
            )),
            Ok(("w".to_string(), Some(2)))
        );
        assert_eq!(
            named(&input(
                json!({"startWorkflow": {"name": "w", "version": null}})
            )),
            Ok(("w".to_string(), None))
        );
        for (given, reason) in [
            (json!({}), "Missing 'startWorkflow' in input data."),
            (json!({"startWorkflow": "w"}), "Missing 'startWorkflow'"),
            (
                json!({"startWorkflow": {"name": ""}}),
                "Workflow name cannot be null or empty",
            ),
            (
                json!({"startWorkflow": {"name": "w", "workflowDef": {"name": "w"}}}),
                "an inline workflowDef is not supported",
            ),
            (
                json!({"startWorkflow": {"name": "w", "input": [1]}}),
                "'input' is not a map",
            ),
            (
                json!({"startWorkflow": {"name": "w", "version": "two"}}),
                "'version' is not a number",
            ),
            (
                json!({"startWorkflow": {"name": "w", "taskToDomain": {"*": 7}}}),
                "the domain of a task must be a text",
            ),
        ] {
            let text = named(&input(given)).unwrap_err();
            assert!(text.contains(reason), "{text}");
        }
    }
}
