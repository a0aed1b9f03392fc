//! The system tasks the engine runs itself, on behalf of the run's principals: an
//! `HTTP` call with the secrets its definition node names, and `UPDATE_SECRET`,
//! which writes a secret as each of them would have to (UPDATE on an existing
//! secret, the create permission for a new name).

use serde_json::Value;

use super::delegated::{Then, drop_job, fail_task};
use super::effects::{self, EngineAction, Scope};
use super::script::ScriptError;
use crate::engine::TaskKind;
use crate::engine::graph;
use crate::engine::http::{self, HttpCaller};
use crate::engine::loops;
use crate::engine::ops;
use crate::engine::system_tasks::switch_output;
use crate::error::{CoreError, CoreResult};
use crate::model::{JsonMap, Task, TaskResult, TaskResultStatus};
use crate::security::model::{Target, TargetType};
use crate::security::{Actor, Cause};
use crate::service::handoff::{self, SecretText};
use crate::service::{Runtime, masking};
use crate::store::{Job, SecretKind};

/// Puts the values of the task's references into the copy the runner uses, or fails
/// the task with the reason.
async fn hand_over(
    rt: &Runtime,
    job: &Job,
    task: &mut Task,
    action: EngineAction,
) -> CoreResult<Option<Vec<SecretText>>> {
    match handoff::resolve_task(rt, task, action).await {
        Ok(handed) => Ok(Some(handed)),
        Err(reason) => {
            let reason = format!("Cannot hand the task over: {reason}");
            fail_task(
                rt,
                job,
                task.workflow_instance_id.clone(),
                task.task_id.clone(),
                reason,
                Then::Decide,
            )
            .await?;
            Ok(None)
        }
    }
}

/// Runs an `HTTP` task.
pub(super) async fn http(
    rt: &Runtime,
    caller: &dyn HttpCaller,
    job: Job,
    mut task: Task,
) -> CoreResult<()> {
    let Some(handed) = hand_over(rt, &job, &mut task, EngineAction::HttpCall).await? else {
        return Ok(());
    };
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let call = match http::call_from_input(&task.input_data) {
        Ok(call) => call,
        Err(mut reason) => {
            handoff::mask_text_values(&mut reason, &handed);
            return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
        }
    };
    // Known before the call, so a store that cannot answer now never has the call
    // made twice.
    let waits = completes_asynchronously(rt, &workflow_id, &task).await?;
    let (status, output, reason) = match caller.call(call).await {
        Ok(answer) => {
            let output = http::output_of(&answer);
            match http::failure_reason(&answer) {
                None => (TaskResultStatus::Completed, output, None),
                Some(reason) => (TaskResultStatus::Failed, output, Some(reason)),
            }
        }
        Err(reason) => (
            TaskResultStatus::Failed,
            JsonMap::new(),
            Some(format!("Failed to invoke HTTP task due to: {reason}")),
        ),
    };
    // With `asyncComplete`, a call that succeeded leaves the task IN_PROGRESS, with
    // the response as its output, until someone completes it (Conductor's HTTP task).
    let status = if status == TaskResultStatus::Completed && waits {
        TaskResultStatus::InProgress
    } else {
        status
    };
    let mut result = TaskResult::reported(workflow_id.clone(), task_id, status, output, reason);
    // A response echoing a secret the request carried does not store it.
    handoff::mask_result(&mut result, &handed);
    finish_task(rt, &job, workflow_id, result).await
}

/// Whether the definition node of a task asks for `asyncComplete`.
async fn completes_asynchronously(
    rt: &Runtime,
    workflow_id: &str,
    task: &Task,
) -> CoreResult<bool> {
    let Some(run) = rt.stores.execution.get_workflow(workflow_id).await? else {
        return Ok(false);
    };
    Ok(graph::find_task(&run.def, loops::bare_ref(task)).is_some_and(|n| n.async_complete))
}

/// `INLINE`: evaluates `expression` by its `evaluatorType` over the task's input
/// (`javascript` and `graaljs` in the sandbox of `script`, `value-param` by naming an
/// input key). The value is `result`; a failure's reason is also `error`, as in
/// Conductor. A value echoing a secret the input carried is masked before it is
/// stored.
pub(super) async fn inline(rt: &Runtime, job: Job, mut task: Task) -> CoreResult<()> {
    let Some(handed) = program_input(rt, &job, &mut task, "expression").await? else {
        return Ok(());
    };
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let mut output = JsonMap::new();
    let (status, reason) = match evaluate_inline(rt, &task.input_data).await {
        Ok(value) => {
            output.insert("result".into(), value);
            (TaskResultStatus::Completed, None)
        }
        Err(err) => {
            let status = if err.is_terminal() {
                TaskResultStatus::FailedWithTerminalError
            } else {
                TaskResultStatus::Failed
            };
            let reason = err.to_string();
            output.insert("error".into(), Value::String(reason.clone()));
            (status, Some(reason))
        }
    };
    let mut result = TaskResult::reported(workflow_id.clone(), task_id, status, output, reason);
    handoff::mask_result(&mut result, &with_json_forms(&handed));
    finish_task(rt, &job, workflow_id, result).await
}

/// The secrets handed into a task whose program is its input parameter
/// `parameter`; None when the task was failed instead (its program names a secret,
/// or its input cannot be handed over).
async fn program_input(
    rt: &Runtime,
    job: &Job,
    task: &mut Task,
    parameter: &str,
) -> CoreResult<Option<Vec<SecretText>>> {
    if let Some(reason) = secret_in_program(rt, task, parameter).await {
        let (workflow_id, task_id) = (task.workflow_instance_id.clone(), task.task_id.clone());
        fail_task(rt, job, workflow_id, task_id, reason, Then::Decide).await?;
        return Ok(None);
    }
    hand_over(rt, job, task, EngineAction::EvaluateScript).await
}

/// Why a task's program may not run: its definition splices a secret into the
/// program's text (`parameter`), where it would reach error messages. Starts refuse
/// such definitions; this catches the runs that reach one otherwise (a restart on
/// the latest definition, a failure workflow).
async fn secret_in_program(rt: &Runtime, task: &Task, parameter: &str) -> Option<String> {
    let state = handoff::live_workflow(rt, &task.workflow_instance_id)
        .await
        .ok()?;
    let node = graph::find_task(&state.def, &task.reference_task_name)?;
    node.input_parameters
        .get(parameter)
        .and_then(Value::as_str)
        .filter(|text| text.contains("${workflow.secrets."))
        .map(|_| {
            format!(
                "task {}: a script cannot name a secret in its {parameter}; pass it as another input parameter and read it from the input",
                task.reference_task_name
            )
        })
}

/// The secrets a script was handed, and each as it reads inside JSON text (a
/// script that returns `JSON.stringify($)` escapes quotes, backslashes and line
/// breaks). Masking cannot stop a script that transforms a secret: only an input
/// that names a secret gets one.
fn with_json_forms(handed: &[SecretText]) -> Vec<SecretText> {
    let mut all = handed.to_vec();
    for secret in handed {
        let quoted = Value::String(secret.to_string()).to_string();
        let escaped = &quoted[1..quoted.len() - 1];
        if escaped != &**secret {
            all.push(std::sync::Arc::from(escaped));
        }
    }
    all.sort_by_key(|s| std::cmp::Reverse(s.len()));
    all
}

/// `JSON_JQ_TRANSFORM`: runs the jq program `queryExpression` over the task's whole
/// input, as Conductor does; the first output is `result` (null for none), all of
/// them `resultList`. A program that fails fails the task (`FAILED`, with the
/// message as the reason and as `error`).
pub(super) async fn jq_transform(rt: &Runtime, job: Job, mut task: Task) -> CoreResult<()> {
    let Some(handed) = program_input(rt, &job, &mut task, "queryExpression").await? else {
        return Ok(());
    };
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let query = task
        .input_data
        .get("queryExpression")
        .and_then(Value::as_str)
        .map(str::to_string);
    let Some(query) = query else {
        let reason = "Missing 'queryExpression' in input parameters".to_string();
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
    };
    let mut output = JsonMap::new();
    let (status, reason) = match rt
        .scripts
        .jq(&query, &Value::Object(task.input_data.clone()))
        .await
    {
        Ok(outputs) => {
            output.insert(
                "result".into(),
                outputs.first().cloned().unwrap_or(Value::Null),
            );
            output.insert("resultList".into(), Value::Array(outputs));
            (TaskResultStatus::Completed, None)
        }
        Err(err) => {
            // As in Conductor, a program's error fails the task, to be retried; one
            // that ran out of memory or stack, or answered too much, would again.
            let status = match err {
                ScriptError::TimedOut(_) | ScriptError::Failed { .. } => TaskResultStatus::Failed,
                _ => TaskResultStatus::FailedWithTerminalError,
            };
            let reason = match err {
                ScriptError::Failed { message, .. } => message,
                other => other.to_string(),
            };
            output.insert("error".into(), Value::String(reason.clone()));
            (status, Some(reason))
        }
    };
    let mut result = TaskResult::reported(workflow_id.clone(), task_id, status, output, reason);
    handoff::mask_result(&mut result, &with_json_forms(&handed));
    finish_task(rt, &job, workflow_id, result).await
}

/// The value of an `INLINE` task's expression.
async fn evaluate_inline(rt: &Runtime, input: &JsonMap) -> Result<Value, ScriptError> {
    let evaluator = match input.get("evaluatorType") {
        None | Some(Value::Null) => "javascript",
        Some(Value::String(kind)) if !kind.trim().is_empty() => kind.as_str(),
        Some(_) => {
            return Err(ScriptError::Invalid(
                "Empty 'evaluatorType' in INLINE task's input parameters. A non-empty String value must be provided.".into(),
            ));
        }
    };
    let expression = match input.get("expression") {
        Some(Value::String(text)) if !text.trim().is_empty() => text.as_str(),
        _ => {
            return Err(ScriptError::Invalid(
                "Empty 'expression' in Inline task's input parameters. A non-empty String value must be provided.".into(),
            ));
        }
    };
    match evaluator {
        "javascript" | "graaljs" => {
            rt.scripts
                .javascript(expression, &Value::Object(input.clone()))
                .await
        }
        "value-param" => Ok(input.get(expression).cloned().unwrap_or(Value::Null)),
        other => Err(ScriptError::Invalid(format!(
            "Unknown evaluator '{}' in INLINE task.",
            crate::store::audit::bounded(other)
        ))),
    }
}

/// A `SWITCH` (`evaluatorType` `javascript`/`graaljs`, its `expression`) or a
/// `DECISION` (its `caseExpression`) whose case a script picks: the script runs over
/// the task's input and its value, as Java's `String.valueOf` writes it, is the case.
/// A script that fails fails the task for good, and with it the workflow, as in
/// Conductor.
pub(super) async fn case_by_script(
    rt: &Runtime,
    job: Job,
    mut task: Task,
    kind: TaskKind,
) -> CoreResult<()> {
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let node = match handoff::live_workflow(rt, &workflow_id).await {
        Ok(state) => graph::find_task(&state.def, &task.reference_task_name).cloned(),
        Err(_) => None,
    };
    let script = node.as_ref().and_then(|node| match kind {
        TaskKind::Decision => node.case_expression.clone(),
        _ => node.expression.clone(),
    });
    let Some(script) = script.filter(|s| !s.trim().is_empty()) else {
        let reason = "The switch has no expression to evaluate".to_string();
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
    };
    let Some(handed) = hand_over(rt, &job, &mut task, EngineAction::EvaluateScript).await? else {
        return Ok(());
    };
    let outcome = rt
        .scripts
        .javascript(&script, &Value::Object(task.input_data.clone()))
        .await;
    let mut result = match outcome {
        Ok(value) => {
            let case = crate::engine::expr::java_to_string(&value);
            TaskResult::reported(
                workflow_id.clone(),
                task_id,
                TaskResultStatus::Completed,
                switch_output(kind, &case),
                None,
            )
        }
        Err(err) => {
            let reason = err.to_string();
            let mut output = JsonMap::new();
            output.insert("error".into(), Value::String(reason.clone()));
            TaskResult::reported(
                workflow_id.clone(),
                task_id,
                TaskResultStatus::FailedWithTerminalError,
                output,
                Some(reason),
            )
        }
    };
    handoff::mask_result(&mut result, &with_json_forms(&handed));
    finish_task(rt, &job, workflow_id, result).await
}

/// A `DO_WHILE`'s `loopCondition`, asked when an iteration ended: the script runs
/// over the loop's input, its output and its tasks' latest outputs (see
/// `engine::loops`), and the loop goes on or ends in the unit of work that deletes
/// the job. A condition that fails fails the loop for good, as in Conductor. An
/// empty condition is false without a script (a list alone decides).
pub(super) async fn loop_condition(rt: &Runtime, job: Job, mut task: Task) -> CoreResult<()> {
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    // Gone: nothing to ask. A store that cannot answer now: the job runs again
    // after its lease.
    let Some(state) = rt.stores.execution.get_workflow(&workflow_id).await? else {
        return drop_job(rt, &job).await;
    };
    let asked = state
        .task_index(&task_id)
        .and_then(|i| loops::asked_iteration(&state.tasks()[i]));
    let node = graph::find_task(&state.def, &task.reference_task_name);
    let (Some(iteration), Some(node)) = (asked, node) else {
        return drop_job(rt, &job).await;
    };
    if !loops::has_condition(node) {
        return apply_loop_condition(rt, &job, workflow_id, task_id, iteration, Ok(false)).await;
    }
    let condition = node.loop_condition.clone().unwrap_or_default();
    if condition.contains("${workflow.secrets.") {
        let reason = format!(
            "task {}: a loop condition cannot name a secret; pass it as an input parameter of the loop and read it from $",
            task.reference_task_name
        );
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await;
    }
    // The loop's input as the decider last resolved it, with the secrets it names.
    if let Some(stored) = state.task_index(&task_id) {
        task.input_data = state.tasks()[stored].input_data.clone();
    }
    let Some(handed) = hand_over(rt, &job, &mut task, EngineAction::EvaluateScript).await? else {
        return Ok(());
    };
    let loop_task = state
        .task_index(&task_id)
        .map(|i| state.tasks()[i].clone())
        .unwrap_or_else(|| task.clone());
    let document = loops::condition_input(&state, &loop_task, &task.input_data);
    let outcome = match rt
        .scripts
        .javascript(&condition, &Value::Object(document))
        .await
    {
        Ok(value) => Ok(loops::holds(&value)),
        Err(err) => {
            let mut reason = err.to_string();
            handoff::mask_text_values(&mut reason, &with_json_forms(&handed));
            Err(reason)
        }
    };
    apply_loop_condition(rt, &job, workflow_id, task_id, iteration, outcome).await
}

/// Applies a loop condition's outcome in the unit of work that deletes its job.
async fn apply_loop_condition(
    rt: &Runtime,
    job: &Job,
    workflow_id: String,
    task_id: String,
    iteration: i32,
    outcome: loops::ConditionOutcome,
) -> CoreResult<()> {
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            loops::apply_condition(state, &task_id, iteration, outcome, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}

/// `UPDATE_SECRET`: upserts `_secrets.secretKey` with `_secrets.secretValue`, on
/// behalf of the run's principals. Missing fields terminate the workflow.
pub(super) async fn update_secret(rt: &Runtime, job: Job, mut task: Task) -> CoreResult<()> {
    if hand_over(rt, &job, &mut task, EngineAction::UpdateSecret)
        .await?
        .is_none()
    {
        return Ok(());
    }
    let workflow_id = task.workflow_instance_id.clone();
    let task_id = task.task_id.clone();
    let fields = task.input_data.get("_secrets").and_then(Value::as_object);
    let text = |field: &str| {
        fields
            .and_then(|f| f.get(field))
            .and_then(|v| match v {
                Value::String(s) => Some(s.clone()),
                Value::Null => None,
                other => Some(other.to_string()),
            })
            .filter(|s| !s.is_empty())
    };
    let (Some(key), Some(value)) = (text("secretKey"), text("secretValue")) else {
        let reason = "UPDATE_SECRET needs _secrets.secretKey and _secrets.secretValue in its input, both non-empty".to_string();
        return fail_task(rt, &job, workflow_id, task_id, reason, Then::Terminate).await;
    };
    let outcome = write_secret(rt, &workflow_id, &key, &value).await;
    match outcome {
        Ok(()) => {
            let result = TaskResult::reported(
                workflow_id.clone(),
                task_id,
                TaskResultStatus::Completed,
                JsonMap::new(),
                None,
            );
            finish_task(rt, &job, workflow_id, result).await
        }
        Err(mut reason) => {
            handoff::mask_text_values(&mut reason, &[std::sync::Arc::from(value.as_str())]);
            fail_task(rt, &job, workflow_id, task_id, reason, Then::Decide).await
        }
    }
}

/// Writes a secret for a run, once every principal it acts for may.
async fn write_secret(
    rt: &Runtime,
    workflow_id: &str,
    key: &str,
    value: &str,
) -> Result<(), String> {
    let state = handoff::live_workflow(rt, workflow_id).await?;
    let references = rt
        .handoffs
        .definition_references(&state.def_revision, &state.def);
    let starter = state.workflow.created_by.as_deref();
    let scope = Scope {
        starter,
        authority: &state.authority,
        run: Some(&state.workflow),
        start: None,
        references: Some(&references),
        secret: Some(key),
        chosen: None,
    };
    effects::authorize(rt, EngineAction::UpdateSecret, &scope)?;
    let by = starter.unwrap_or("podium:system");
    let created = rt
        .vault
        .put(SecretKind::Secret, key, value, by, rt.now())
        .await
        .map_err(CoreError::into_reason)?;
    if created {
        // The starter owns what its workflow created.
        let owner = {
            let directory = rt.authorizer.directory().read();
            Actor::on_behalf_of(&directory, rt.authorizer.mode(), starter, Cause::SystemTask)?
                .into_principal()
        };
        let target = Target::new(TargetType::SecretName, key.to_string());
        let ops = rt.access.creation_ops(&owner, target);
        rt.access
            .commit(ops)
            .await
            .map_err(CoreError::into_reason)?;
    }
    Ok(())
}

/// Finishes a system task with a result, in the unit of work that deletes its job.
async fn finish_task(
    rt: &Runtime,
    job: &Job,
    workflow_id: String,
    result: TaskResult,
) -> CoreResult<()> {
    let job_id = job.id.clone();
    rt.mutate(Some(workflow_id), move |txn, ctx| {
        let mut changes = std::mem::take(&mut txn.changes);
        if let Some(state) = txn.state.as_mut() {
            let mut result = result;
            masking::mask_logs_and_keys(&mut result, &masking::run_masked_values(state));
            ops::apply_result(state, &result, ctx, &mut changes)?;
        }
        changes.job_deletes.push(job_id);
        txn.changes = changes;
        Ok(())
    })
    .await
}
