//! Runs the engine's jobs under their declarations (`effects`): starting a
//! sub-workflow's child or a failure workflow on behalf of the run's principals,
//! telling a parent that its child ended, terminating the children of an ended
//! parent. System tasks (HTTP, `UPDATE_SECRET`) are in `system_tasks`. Each
//! handler deletes its job in the same unit of work as its effect; a refused start
//! fails the parent task (or is recorded on the failed workflow) with the reason,
//! and never runs.

use std::sync::Arc;

use serde_json::Value;
use tracing::{debug, warn};

use super::authority::author_of;
use super::effects::{self, EngineAction, Scope};
use super::system_tasks;
use crate::engine::TaskKind;
use crate::engine::http::HttpCaller;
use crate::engine::ops::{self, StartParams};
use crate::engine::state::WorkflowState;
use crate::error::CoreResult;
use crate::model::{JsonMap, Task, TaskStatus, WorkflowDef};
use crate::service::validation;
use crate::service::{Runtime, masking, schema_checks};
use crate::store::{Effect, Job};

/// Deletes a job that has nothing (left) to do.
pub(super) async fn drop_job(rt: &Runtime, job: &Job) -> CoreResult<()> {
    let id = job.id.clone();
    rt.mutate(None, move |txn, _| {
        txn.changes.job_deletes.push(id);
        Ok(())
    })
    .await
}

/// Runs one job.
pub async fn run_job(rt: &Arc<Runtime>, caller: &dyn HttpCaller, job: Job) -> CoreResult<()> {
    debug!(job_id = %job.id, kind = job.effect.kind_name(), workflow_id = %job.workflow_id, "running job");
    let task = match (&job.effect, &job.task_id) {
        (Effect::SystemTask, Some(task_id)) => match rt.stores.execution.get_task(task_id).await? {
            Some(task) if !task.status.is_terminal() => Some(task),
            _ => return drop_job(rt, &job).await,
        },
        (Effect::SystemTask, None) => return drop_job(rt, &job).await,
        _ => None,
    };
    let kind = task
        .as_ref()
        .map_or(TaskKind::Unsupported, TaskKind::of_execution);
    let action = EngineAction::of_job(&job.effect, kind);
    match (action, task) {
        (EngineAction::HttpCall, Some(task)) => system_tasks::http(rt, caller, job, task).await,
        (EngineAction::UpdateSecret, Some(task)) => {
            system_tasks::update_secret(rt, job, task).await
        }
        (EngineAction::EvaluateScript, Some(task)) if kind == TaskKind::Inline => {
            system_tasks::inline(rt, job, task).await
        }
        (EngineAction::EvaluateScript, Some(task)) if kind == TaskKind::JsonJqTransform => {
            system_tasks::jq_transform(rt, job, task).await
        }
        (EngineAction::EvaluateScript, Some(task)) if kind == TaskKind::DoWhile => {
            system_tasks::loop_condition(rt, job, task).await
        }
        (EngineAction::EvaluateScript, Some(task)) => {
            system_tasks::case_by_script(rt, job, task, kind).await
        }
        (EngineAction::ChooseTasks, Some(task)) => super::chosen::choose_tasks(rt, job, task).await,
        (EngineAction::StartSubWorkflow, Some(task)) => start_sub_workflow(rt, job, task).await,
        (EngineAction::StartWorkflow, Some(task)) => {
            super::start_workflow::start_workflow(rt, job, task).await
        }
        (EngineAction::PublishEvent, Some(task)) => super::events::publish(rt, job, task).await,
        (EngineAction::DeliverEvent, _) => super::events::deliver(rt, job).await,
        (EngineAction::HandleEvent, _) => super::events::act(rt, job).await,
        (EngineAction::StartFailureWorkflow, _) => start_failure_workflow(rt, job).await,
        (EngineAction::NotifyParent, _) => sub_workflow_ended(rt, job).await,
        (EngineAction::TerminateChild, _) => terminate_workflow(rt, job).await,
        _ => drop_job(rt, &job).await,
    }
}

/// Fails a system task with a reason, in the unit of work that deletes its job.
pub(super) async fn fail_task(
    rt: &Runtime,
    job: &Job,
    workflow_id: String,
    task_id: String,
    reason: String,
    then: Then,
) -> CoreResult<()> {
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            match then {
                Then::Decide => {
                    ops::fail_system_task(state, &task_id, reason, true, ctx, &mut changes)
                }
                Then::Terminate => {
                    ops::terminate_for_task(state, &task_id, reason, ctx, &mut changes)?
                }
            }
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// What a system task's failure does to its workflow.
#[derive(Clone, Copy, PartialEq)]
pub(super) enum Then {
    /// The workflow decides, as for any failed task.
    Decide,
    /// The workflow is terminated with the same reason.
    Terminate,
}

/// The definition a `SUB_WORKFLOW` task names (inline, or registered by name and
/// version), when this version can run it. An inline definition is the parent
/// definition's author's: whatever it names, that author wrote it into the parent.
async fn child_definition(
    rt: &Runtime,
    input: &JsonMap,
    parent: &WorkflowDef,
) -> Result<(Arc<WorkflowDef>, String), String> {
    let (def, revision) = named_child_definition(rt, input, parent).await?;
    if let Some(first) = validation::runnable(&def).first() {
        return Err(format!(
            "Sub-workflow {} cannot run: {}",
            def.name, first.message
        ));
    }
    Ok((def, revision))
}

async fn named_child_definition(
    rt: &Runtime,
    input: &JsonMap,
    parent: &WorkflowDef,
) -> Result<(Arc<WorkflowDef>, String), String> {
    if let Some(inline) = input.get("subWorkflowDefinition").filter(|v| !v.is_null()) {
        let mut def: WorkflowDef = serde_json::from_value(inline.clone())
            .map_err(|e| format!("The inline sub-workflow definition is not valid: {e}"))?;
        let errors = validation::workflow_def(&def);
        if let Some(first) = errors.first() {
            return Err(format!(
                "The inline sub-workflow definition is not valid: {}",
                first.message
            ));
        }
        // Never the author the definition claims for itself.
        let author = author_of(parent).map(str::to_string);
        def.created_by = author.clone();
        def.updated_by = author;
        let revision = rt.ids.new_id();
        rt.stores
            .metadata
            .put_def_revision(&revision, &def)
            .await
            .map_err(|e| {
                warn!(error = %e, "could not store an inline sub-workflow definition");
                "The inline sub-workflow definition could not be stored".to_string()
            })?;
        return Ok((Arc::new(def), revision));
    }
    let name = match input.get("subWorkflowName") {
        Some(Value::String(name)) if !name.trim().is_empty() => name.clone(),
        _ => return Err("SubWorkflow name is null and no workflowDefinition supplied".to_string()),
    };
    let version = match input.get("subWorkflowVersion") {
        Some(Value::Number(n)) => n
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .filter(|v| *v > 0),
        Some(Value::String(s)) => s.trim().parse::<i32>().ok().filter(|v| *v > 0),
        _ => None,
    };
    rt.defs.workflow(&name, version).ok_or_else(|| {
        format!(
            "No such workflow defined. name={name}, version={}",
            version.map_or_else(|| "null".to_string(), |v| v.to_string())
        )
    })
}

async fn start_sub_workflow(rt: &Runtime, job: Job, task: Task) -> CoreResult<()> {
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    if task.status != TaskStatus::Scheduled {
        return drop_job(rt, &job).await;
    }
    if let Some(child) = rt.stores.execution.child_of_task(&task_id).await? {
        // Started before a crash: record it and move on.
        let job_id = job.id.clone();
        return rt
            .mutate(Some(workflow_id), move |txn, ctx| {
                if let Some(state) = txn.state.as_mut() {
                    ops::sub_workflow_started(state, &task_id, &child, ctx.now);
                }
                txn.changes.job_deletes.push(job_id);
                Ok(())
            })
            .await;
    }
    let Some(parent) = rt.stores.execution.get_workflow(&workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let found = match literal_definition(&parent.def, &task) {
        Ok(()) => child_definition(rt, &task.input_data, &parent.def).await,
        Err(reason) => Err(reason),
    };
    let allowed = found.and_then(|(def, revision)| {
        let scope = Scope {
            starter: parent.workflow.created_by.as_deref(),
            authority: &parent.authority,
            run: Some(&parent.workflow),
            start: Some((&def, &revision)),
            references: None,
            secret: None,
            chosen: None,
        };
        effects::authorize(rt, EngineAction::StartSubWorkflow, &scope)
            .map(|authority| (def.clone(), revision.clone(), authority))
            .map_err(|reason| format!("Cannot start sub-workflow {}: {reason}", def.name))
    });
    let (def, revision, authority) = match allowed {
        Ok(allowed) => allowed,
        Err(reason) => {
            warn!(workflow_id = %workflow_id, task_id = %task_id, reason = %reason, "a sub-workflow was refused");
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    let starter = parent.workflow.created_by.as_deref();
    if let Err(reason) =
        schema_checks::check_started_input(rt, starter, &def, &child_input(&task.input_data)).await
    {
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
    }
    let input = task.input_data;
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(parent) = txn.state.as_mut() {
            let still_scheduled = parent
                .task_index(&task_id)
                .is_some_and(|i| parent.tasks()[i].status == TaskStatus::Scheduled);
            if still_scheduled {
                let params = child_params(parent, &task_id, &input, authority);
                let child = ops::start(def, revision, params, ctx, &mut changes);
                ops::sub_workflow_started(parent, &task_id, child.id(), ctx.now);
                changes.new_workflows.push(child);
            }
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// Refuses an inline child definition that is not the one the parent's definition
/// writes for this task (its author vouches for that one only): whatever else
/// reached the task's input came from data.
fn literal_definition(parent: &WorkflowDef, task: &Task) -> Result<(), String> {
    let given = task
        .input_data
        .get("subWorkflowDefinition")
        .filter(|v| !v.is_null());
    let Some(given) = given else { return Ok(()) };
    let written = crate::engine::graph::find_task(parent, &task.reference_task_name)
        .and_then(|node| node.sub_workflow_param.as_ref())
        .and_then(|p| p.workflow_definition.as_ref());
    if written == Some(given) {
        Ok(())
    } else {
        Err("The inline sub-workflow definition is not the one the workflow definition writes for this task; a definition built from data is refused".to_string())
    }
}

/// The input a `SUB_WORKFLOW` task gives its child: `workflowInput`, or (when that
/// is absent or empty) the task's whole input, as Conductor does.
fn child_input(input: &JsonMap) -> JsonMap {
    match input.get("workflowInput") {
        Some(Value::Object(map)) if !map.is_empty() => map.clone(),
        _ => input.clone(),
    }
}

/// How a parent's `SUB_WORKFLOW` task starts its child.
fn child_params(
    parent: &WorkflowState,
    task_id: &str,
    input: &JsonMap,
    authority: crate::engine::state::Authority,
) -> StartParams {
    let child_input = child_input(input);
    let task_to_domain = match input.get("subWorkflowTaskToDomain") {
        Some(Value::Object(map)) => map.clone(),
        _ => parent.workflow.task_to_domain.clone(),
    };
    let priority = input
        .get("priority")
        .and_then(Value::as_i64)
        .map(|p| p.clamp(0, 99) as i32)
        .unwrap_or(parent.workflow.priority);
    // What the parent masks stays masked in the child that receives it.
    let values = masking::run_masked_values(parent);
    StartParams {
        masked_fields: masking::fields_carrying(&child_input, &values),
        masked_values: masking::carried(&child_input, &values),
        input: child_input,
        correlation_id: parent.workflow.correlation_id.clone(),
        priority,
        task_to_domain,
        created_by: parent.workflow.created_by.clone(),
        parent_workflow_id: Some(parent.id().to_string()),
        parent_workflow_task_id: Some(task_id.to_string()),
        authority,
        ..StartParams::default()
    }
}

async fn sub_workflow_ended(rt: &Runtime, job: Job) -> CoreResult<()> {
    let Effect::SubWorkflowEnded { child_id } = &job.effect else {
        return drop_job(rt, &job).await;
    };
    let (Some(parent_task), Some(child)) = (
        job.task_id.clone(),
        rt.stores.execution.get_workflow_record(child_id).await?,
    ) else {
        return drop_job(rt, &job).await;
    };
    // What the child masks stays masked in the parent that receives its output.
    let carried = masking::carried(
        &child.output,
        &masking::masked_values(&child, &child.masked_fields),
    );
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(parent) = txn.state.as_mut() {
            for value in carried {
                if !parent.workflow.masked_values.contains(&value) {
                    parent.workflow.masked_values.push(value);
                }
            }
            ops::sub_workflow_ended(parent, &parent_task, &child, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

async fn terminate_workflow(rt: &Runtime, job: Job) -> CoreResult<()> {
    let reason = match &job.effect {
        Effect::TerminateWorkflow { reason } => reason.clone(),
        _ => None,
    };
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut()
            && !state.status().is_terminal()
        {
            ops::terminate(state, reason, false, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// The failure workflow's name: the definition's, or read from the failed workflow's
/// input when written as `$workflow.input.<key>`.
fn failure_workflow_name(def: &WorkflowDef, input: &JsonMap) -> Option<String> {
    let name = def.failure_workflow_name()?;
    if let Some(path) = name.strip_prefix('$') {
        let key = path.split('.').nth(2)?;
        return input.get(key).and_then(Value::as_str).map(str::to_string);
    }
    Some(name.to_string())
}

/// Starts the failure workflow of a failed workflow, on behalf of its principals;
/// a refusal is recorded in the failed workflow's output and logged, and nothing
/// runs.
async fn start_failure_workflow(rt: &Runtime, job: Job) -> CoreResult<()> {
    let Some(failed) = rt.stores.execution.get_workflow(&job.workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let Some(name) = failure_workflow_name(&failed.def, &failed.workflow.input) else {
        return drop_job(rt, &job).await;
    };
    let found = rt
        .defs
        .workflow(&name, failed.def.failure_workflow_version)
        .ok_or_else(|| "No such workflow defined. name=".to_string() + &name);
    let allowed = found.and_then(|(def, revision)| {
        let scope = Scope {
            starter: failed.workflow.created_by.as_deref(),
            authority: &failed.authority,
            run: Some(&failed.workflow),
            start: Some((&def, &revision)),
            references: None,
            secret: None,
            chosen: None,
        };
        effects::authorize(rt, EngineAction::StartFailureWorkflow, &scope)
            .map(|authority| (def.clone(), revision.clone(), authority))
    });
    if let Err(reason) = &allowed {
        warn!(workflow_id = %job.workflow_id, failure_workflow = %name, reason = %reason, "a failure workflow was refused");
    }
    let failed_task_id = job.task_id.clone();
    let mut snapshot = failed.to_workflow(true);
    snapshot.masked_values.clear();
    let snapshot = serde_json::to_value(snapshot).unwrap_or(Value::Null);
    let job_id = job.id.clone();
    rt.mutate(Some(job.workflow_id.clone()), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            let outcome = match allowed {
                Ok((def, revision, authority)) => {
                    let params = failure_params(state, failed_task_id, snapshot, authority);
                    let started = ops::start(def, revision, params, ctx, &mut changes);
                    let id = started.id().to_string();
                    changes.new_workflows.push(started);
                    id
                }
                Err(reason) => {
                    format!("Error workflow {name} failed to start.  reason: {reason}")
                }
            };
            state
                .workflow
                .output
                .insert("conductor.failure_workflow".into(), Value::String(outcome));
            state.touch();
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// How a failed workflow starts its failure workflow: with its input, why it failed
/// and a snapshot of it.
fn failure_params(
    state: &WorkflowState,
    failed_task_id: Option<String>,
    snapshot: Value,
    authority: crate::engine::state::Authority,
) -> StartParams {
    let mut input = state.workflow.input.clone();
    input.insert("workflowId".into(), Value::String(state.id().to_string()));
    input.insert(
        "reason".into(),
        state
            .workflow
            .reason_for_incompletion
            .clone()
            .map_or(Value::Null, Value::String),
    );
    input.insert(
        "failureStatus".into(),
        Value::String(state.status().as_str().to_string()),
    );
    if let Some(task_id) = failed_task_id {
        input.insert("failureTaskId".into(), Value::String(task_id));
    }
    input.insert("failedWorkflow".into(), snapshot);
    // What the failed workflow masks stays masked in the workflow that handles it.
    let values = masking::run_masked_values(state);
    StartParams {
        masked_fields: masking::fields_carrying(&input, &values),
        masked_values: masking::carried(&input, &values),
        input,
        correlation_id: state.workflow.correlation_id.clone(),
        priority: state.workflow.priority,
        task_to_domain: state.workflow.task_to_domain.clone(),
        created_by: state.workflow.created_by.clone(),
        authority,
        ..StartParams::default()
    }
}
