//! The operations that change a workflow execution after its start: pause, resume,
//! terminate, restart, retry, rerun, skip a task, decide now, remove. Each is
//! authorized as a command (`exec::command`); those that re-run work or feed a run
//! data also need what a start needs, of the caller and of the run's own
//! principals at that moment (`exec::authority`).

use std::sync::Arc;

use super::workflow::{WorkflowService, locked};
use crate::engine::EngineContext;
use crate::engine::ops;
use crate::engine::state::{Authority, WorkflowState};
use crate::error::{CoreError, CoreResult};
use crate::exec::authority::{self, Handover, RunNeeds};
use crate::exec::command::{self, Command, Target};
use crate::model::{
    JsonMap, RerunWorkflowRequest, SkipTaskRequest, UpgradeWorkflowRequest, WorkflowDef,
};
use crate::security::{Actor, Cause, Principal};
use crate::store::ChangeSet;

use super::definition_bounds::MAX_NAME_BYTES;

/// The most waiting tasks one requeue looks at.
pub const MAX_REQUEUE_TASKS: i64 = 10_000;

/// How many waiting tasks one search of a requeue reads.
const REQUEUE_PAGE: i64 = 500;

/// A rerun's authorization, made against the run as it was read.
pub(super) struct Authorized {
    /// The authority the run carries from now on.
    authority: Authority,
    seen_authority: Authority,
    seen_revision: String,
}

/// A change made to a workflow's state in one unit of work.
pub(super) trait StateChange:
    FnOnce(&mut WorkflowState, &EngineContext<'_>, &mut ChangeSet) -> CoreResult<()> + Send + 'static
{
}

impl<F> StateChange for F where
    F: FnOnce(&mut WorkflowState, &EngineContext<'_>, &mut ChangeSet) -> CoreResult<()>
        + Send
        + 'static
{
}

impl WorkflowService {
    /// A live workflow as the store holds it, or the refusal for a missing one.
    pub(super) async fn live(&self, principal: &Principal, id: &str) -> CoreResult<WorkflowState> {
        self.rt
            .stores
            .execution
            .get_workflow(id)
            .await?
            .ok_or_else(|| self.missing(principal, id))
    }

    /// Authorizes a command that (re)runs work or feeds a run data: the caller's
    /// access on the execution and everything a run of `def` needs of the caller
    /// (unless the caller operates the execution by UPDATE_PROCESS_INSTANCE and
    /// brings it nothing new, see `exec::command`), then of the run's own principals (its starter and cosigners) at this moment,
    /// and of `def`'s author if the run does not vouch for them. A caller that
    /// `feeds` the run data becomes one of its principals (`authority::feeds_data`).
    /// Returns the authority the run carries from now on.
    fn authorize_rerun(
        &self,
        principal: &Principal,
        command: Command,
        state: &WorkflowState,
        (def, revision): (&WorkflowDef, &str),
        feeds: bool,
    ) -> CoreResult<Authority> {
        let target = Target {
            workflow: Some(&state.workflow),
            run: Some(RunNeeds::of(&self.rt, def, revision)),
            brings_new: feeds || revision != state.def_revision,
            ..Target::default()
        };
        command::authorize(&self.rt, &Actor::caller(principal), command, &target)?;
        let handover = Handover {
            from: &state.workflow,
            authority: &state.authority,
            cause: Cause::Rerun,
        };
        let mut authority =
            authority::delegate(&self.rt, &handover, def, revision).map_err(|reason| {
                CoreError::Forbidden(format!(
                    "You don't have permissions to run workflow {} again: {reason}",
                    state.workflow.workflow_name
                ))
            })?;
        if feeds {
            authority::feeds_data(
                &self.rt,
                &mut authority,
                state.workflow.created_by.as_deref(),
                principal,
            );
        }
        Ok(authority)
    }

    /// Runs `f` on a workflow in one unit of work, once `command` is allowed.
    async fn change<F>(
        &self,
        principal: &Principal,
        id: &str,
        command: Command,
        f: F,
    ) -> CoreResult<()>
    where
        F: StateChange,
    {
        self.authorize_on(principal, id, command).await?;
        self.apply(id, f).await
    }

    /// Runs `f` on a workflow in one unit of work.
    async fn apply<F>(&self, id: &str, f: F) -> CoreResult<()>
    where
        F: StateChange,
    {
        let owned = id.to_string();
        self.rt
            .mutate(Some(id.to_string()), move |txn, ctx| {
                let mut changes = std::mem::take(&mut txn.changes);
                let state = locked(txn, &owned)?;
                let result = f(state, ctx, &mut changes);
                txn.changes = changes;
                result
            })
            .await
    }

    /// Runs `f` on a workflow once a command that re-runs its work, or feeds it
    /// data, is allowed (see [`WorkflowService::authorize_rerun`]) for the definition
    /// it will run: `other` when given, else its own; `feeds` when the caller hands
    /// the run data of its own (input, output). The run carries the authority that
    /// check returns.
    async fn rerun_with<F>(
        &self,
        principal: &Principal,
        id: &str,
        command: (Command, bool),
        other: Option<(Arc<WorkflowDef>, String)>,
        f: F,
    ) -> CoreResult<()>
    where
        F: StateChange,
    {
        let state = self.live(principal, id).await?;
        let authorized = self.authorize_run_again(principal, &state, command, other)?;
        self.apply_authorized(id, authorized, f).await
    }

    /// [`WorkflowService::authorize_rerun`] for the run as read in `state`.
    pub(super) fn authorize_run_again(
        &self,
        principal: &Principal,
        state: &WorkflowState,
        (command, feeds): (Command, bool),
        other: Option<(Arc<WorkflowDef>, String)>,
    ) -> CoreResult<Authorized> {
        let (def, revision) = match &other {
            Some((def, revision)) => (def.clone(), revision.clone()),
            // With what data chose for it: re-running that needs what running it did.
            None => (
                crate::engine::dynamic::as_run(state),
                state.def_revision.clone(),
            ),
        };
        let authority =
            self.authorize_rerun(principal, command, state, (&def, &revision), feeds)?;
        Ok(Authorized {
            authority,
            seen_authority: state.authority.clone(),
            seen_revision: state.def_revision.clone(),
        })
    }

    /// Runs `f` on a workflow with the authority a rerun check returned.
    pub(super) async fn apply_authorized<F>(
        &self,
        id: &str,
        authorized: Authorized,
        f: F,
    ) -> CoreResult<()>
    where
        F: StateChange,
    {
        let Authorized {
            authority,
            seen_authority,
            seen_revision,
        } = authorized;
        // Authorized against the run as it was read: if its authority or definition
        // changed since (another rerun, a skip with data), refuse rather than
        // overwrite what was decided meanwhile.
        self.apply(id, move |state, ctx, out| {
            if state.authority != seen_authority || state.def_revision != seen_revision {
                return Err(CoreError::Conflict(
                    "The workflow changed while the request was checked; try again".into(),
                ));
            }
            state.authority = authority;
            state.touch();
            f(state, ctx, out)
        })
        .await?;
        // It may run another definition, with another authority, now.
        self.rt.handoffs.forget_workflow(id);
        Ok(())
    }

    /// Pauses a workflow.
    pub async fn pause(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.change(principal, id, Command::Pause, |state, ctx, _| {
            ops::pause(state, ctx)
        })
        .await
    }

    /// Resumes a paused workflow.
    pub async fn resume(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.change(principal, id, Command::Resume, ops::resume)
            .await
    }

    /// Terminates a workflow.
    pub async fn terminate(
        &self,
        principal: &Principal,
        id: &str,
        reason: Option<String>,
        trigger_failure_workflow: bool,
    ) -> CoreResult<()> {
        let rt = self.rt.clone();
        let caller = principal.clone();
        let starts_failure_workflow = trigger_failure_workflow && {
            let state = self.live(principal, id).await?;
            let has_one = state.def.failure_workflow.is_some();
            if has_one {
                // The caller's reason becomes the failure workflow's input and the
                // caller one of the run's principals: they need what a start of
                // the run's definition needs, or they would stop every later
                // retry of it (each is checked as every principal of the run).
                self.authorize_execution(principal, Command::Terminate, &state.workflow)?;
                authority::check_run(
                    &self.rt,
                    principal,
                    &RunNeeds::of(
                        &self.rt,
                        &crate::engine::dynamic::as_run(&state),
                        &state.def_revision,
                    ),
                )?;
            }
            has_one
        };
        self.change(principal, id, Command::Terminate, move |state, ctx, out| {
            if starts_failure_workflow {
                // The failure workflow it starts (with the caller's reason in its
                // input) is work the caller asks for: it needs the caller's rights too.
                let starter = state.workflow.created_by.clone();
                authority::feeds_data(&rt, &mut state.authority, starter.as_deref(), &caller);
            }
            ops::terminate(state, reason, trigger_failure_workflow, ctx, out)
        })
        .await?;
        if trigger_failure_workflow {
            self.rt.handoffs.forget_workflow(id);
        }
        Ok(())
    }

    /// Restarts an ended workflow, optionally on the latest definition.
    pub async fn restart(
        &self,
        principal: &Principal,
        id: &str,
        use_latest_definition: bool,
    ) -> CoreResult<()> {
        if self
            .rt
            .stores
            .execution
            .get_workflow_record(id)
            .await?
            .is_none()
        {
            self.restore(principal, id).await?;
        }
        let record = self.authorize_on(principal, id, Command::Restore).await?;
        let latest = if use_latest_definition {
            Some(
                self.rt
                    .defs
                    .workflow(&record.workflow_name, None)
                    .ok_or_else(|| {
                        CoreError::NotFound(format!("Unable to find latest definition for {id}"))
                    })?,
            )
        } else {
            None
        };
        let next = latest.clone();
        self.rerun_with(
            principal,
            id,
            (Command::Restart, false),
            latest,
            move |state, ctx, out| ops::restart(state, next, ctx, out),
        )
        .await
    }

    /// Retries the failed tasks of an ended workflow.
    pub async fn retry(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.rerun_with(principal, id, (Command::Retry, false), None, ops::retry)
            .await
    }

    /// Reruns an ended workflow from a task or from the start; returns its id.
    pub async fn rerun(
        &self,
        principal: &Principal,
        id: &str,
        request: RerunWorkflowRequest,
    ) -> CoreResult<String> {
        // Every field but the ids that say where to rerun from puts the caller's data
        // into the run (the correlation id is readable as ${workflow.correlationId});
        // naming each one makes a new field a decision.
        let RerunWorkflowRequest {
            re_run_from_workflow_id: _,
            re_run_from_task_id: _,
            workflow_input,
            task_input,
            correlation_id,
        } = &request;
        super::workflow::check_key("correlationId", correlation_id.as_deref())?;
        let feeds = workflow_input.is_some() || task_input.is_some() || correlation_id.is_some();
        let state = self.live(principal, id).await?;
        let authorized =
            self.authorize_run_again(principal, &state, (Command::Rerun, feeds), None)?;
        // New input meets the schema the run's definition enforces, as at a start.
        if let Some(input) = workflow_input {
            super::schema_checks::check_workflow_input(&self.rt, principal, &state.def, input)
                .await?;
        }
        self.apply_authorized(id, authorized, move |state, ctx, out| {
            ops::rerun(state, &request, ctx, out)
        })
        .await?;
        Ok(id.to_string())
    }

    /// `POST /workflow/{id}/upgrade`: moves a running workflow to another version
    /// of its definition (the latest when none is named), as Orkes does (see
    /// [`crate::engine::upgrade`]). It needs what a start of that version needs, as
    /// a restart on another definition does; new input meets its input schema.
    pub async fn upgrade(
        &self,
        principal: &Principal,
        id: &str,
        request: UpgradeWorkflowRequest,
    ) -> CoreResult<()> {
        // Whoever may not see the execution learns nothing of it from a refusal.
        self.authorize_on(principal, id, Command::Read).await?;
        let state = self.live(principal, id).await?;
        let name = request.name.trim();
        if name.is_empty() {
            return Err(CoreError::invalid("name is required: the workflow's name"));
        }
        if name != state.workflow.workflow_name {
            return Err(CoreError::invalid(format!(
                "Workflow {id} runs {}; it can be upgraded to another version of that workflow only, not to {name}",
                state.workflow.workflow_name
            )));
        }
        let (def, revision) = self
            .rt
            .defs
            .workflow(name, request.version)
            .ok_or_else(|| {
                CoreError::NotFound(format!(
                    "No such workflow defined. name={name}, version={}",
                    request
                        .version
                        .map_or_else(|| "latest".to_string(), |v| v.to_string())
                ))
            })?;
        if let Some(first) = super::validation::runnable(&def).first() {
            return Err(CoreError::invalid(format!(
                "Workflow {} version {} cannot run: {}",
                def.name, def.version, first.message
            )));
        }
        let feeds = request.workflow_input.is_some() || request.task_output.is_some();
        let next = Some((def.clone(), revision.clone()));
        let authorized =
            self.authorize_run_again(principal, &state, (Command::Upgrade, feeds), next)?;
        if let Some(input) = &request.workflow_input {
            super::schema_checks::check_workflow_input(&self.rt, principal, &def, input).await?;
        }
        self.apply_authorized(id, authorized, move |state, ctx, out| {
            crate::engine::upgrade::upgrade(state, def, revision, &request, ctx, out)
        })
        .await
    }

    /// Skips a task of a running workflow before it is reached.
    pub async fn skip_task(
        &self,
        principal: &Principal,
        id: &str,
        reference: &str,
        request: SkipTaskRequest,
    ) -> CoreResult<()> {
        let reference = reference.to_string();
        let SkipTaskRequest {
            task_input,
            task_output,
        } = &request;
        let feeds = task_input.is_some() || task_output.is_some();
        self.rerun_with(
            principal,
            id,
            (Command::SkipTask, feeds),
            None,
            move |state, ctx, out| ops::skip(state, &reference, &request, ctx, out),
        )
        .await
    }

    /// `POST /workflow/{id}/variables`: merges variables into a running workflow.
    /// They are data the run acts on (a switch on them, an input naming them), so
    /// the caller needs what a start of its definition needs and becomes one of the
    /// run's principals (`authority::feeds_data`).
    pub async fn update_variables(
        &self,
        principal: &Principal,
        id: &str,
        variables: JsonMap,
    ) -> CoreResult<()> {
        self.rerun_with(
            principal,
            id,
            (Command::UpdateVariables, true),
            None,
            move |state, ctx, out| ops::update_variables(state, variables, ctx, out),
        )
        .await
    }

    /// Runs the decider on a workflow now.
    pub async fn decide(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.change(principal, id, Command::Decide, |state, ctx, out| {
            crate::engine::decide(state, ctx, out);
            Ok(())
        })
        .await
    }

    /// Hands the tasks of a workflow that wait for a callback back to their queues now.
    pub async fn reset_callbacks(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        self.change(principal, id, Command::ResetCallbacks, ops::reset_callbacks)
            .await
    }

    /// `POST /tasks/queue/requeue/{type}`: queues the waiting tasks of a type again
    /// (see [`ops::requeue`]) in every execution the caller may operate, others
    /// left as they are; answers how many were queued. At most
    /// [`MAX_REQUEUE_TASKS`] waiting tasks are looked at in one call.
    pub async fn requeue(&self, principal: &Principal, task_type: &str) -> CoreResult<usize> {
        use crate::store::query::{Filter, Op, SearchValue, SortOrder, TaskField, TaskSearch};
        let task_type = task_type.trim();
        if task_type.is_empty() || task_type.len() > MAX_NAME_BYTES {
            return Err(CoreError::invalid(format!(
                "taskType must hold 1 to {MAX_NAME_BYTES} bytes"
            )));
        }
        let text = |t: &str| SearchValue::Text(t.to_string());
        let mut workflows = std::collections::BTreeSet::new();
        let mut start = 0;
        while start < MAX_REQUEUE_TASKS {
            let search = TaskSearch {
                filter: Some(Filter::And(vec![
                    Filter::Compare(TaskField::TaskType, Op::Eq, text(task_type)),
                    Filter::Compare(TaskField::Status, Op::Eq, text("SCHEDULED")),
                ])),
                free_text: None,
                start,
                size: REQUEUE_PAGE,
                sort: vec![(TaskField::TaskId, SortOrder::Asc)],
            };
            let (_, page) = self.rt.stores.execution.search_tasks(&search).await?;
            workflows.extend(page.iter().map(|t| t.workflow_instance_id.clone()));
            if page.len() < REQUEUE_PAGE as usize {
                break;
            }
            start += REQUEUE_PAGE;
        }
        let queued = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        for id in workflows {
            let (owned, counter) = (task_type.to_string(), queued.clone());
            let done = self
                .change(
                    principal,
                    &id,
                    Command::ResetCallbacks,
                    move |state, ctx, out| {
                        let count = ops::requeue(state, &owned, ctx, out);
                        counter.fetch_add(count, std::sync::atomic::Ordering::Relaxed);
                        Ok(())
                    },
                )
                .await;
            match done {
                // Not the caller's to operate, or gone since the search: left alone.
                Ok(()) | Err(CoreError::Forbidden(_) | CoreError::NotFound(_)) => {}
                Err(err) => return Err(err),
            }
        }
        Ok(queued.load(std::sync::atomic::Ordering::Relaxed))
    }

    /// Deletes a workflow with its tasks. With `archive`, only an ended workflow.
    pub async fn remove(&self, principal: &Principal, id: &str, archive: bool) -> CoreResult<()> {
        self.authorize_on(principal, id, Command::Remove).await?;
        let owned = id.to_string();
        self.rt
            .mutate(Some(id.to_string()), move |txn, _| {
                let state = locked(txn, &owned)?;
                if archive && !state.status().is_terminal() {
                    return Err(CoreError::invalid(format!(
                        "Cannot archive workflow: {owned} with status: {}",
                        state.status().as_str()
                    )));
                }
                txn.state = None;
                txn.changes.workflow_deletes.push(owned);
                Ok(())
            })
            .await
    }

    /// Removes an ended execution, live or archived (Operate's `DELETE`): one still
    /// running is refused with `refusal`, decided under the execution's lock, so a
    /// retry landing meanwhile is not removed.
    pub async fn remove_ended(
        &self,
        principal: &Principal,
        id: &str,
        refusal: &'static str,
    ) -> CoreResult<()> {
        let owned = id.to_string();
        if self
            .rt
            .stores
            .execution
            .get_workflow_record(id)
            .await?
            .is_none()
        {
            // Archived executions have ended.
            if self
                .archived(principal, id, Command::Remove)
                .await?
                .is_none()
            {
                return Err(self.missing(principal, id));
            }
            return self
                .rt
                .mutate(None, move |txn, _| {
                    txn.changes.unarchives.push(owned);
                    Ok(())
                })
                .await;
        }
        self.authorize_on(principal, id, Command::Remove).await?;
        self.rt
            .mutate(Some(id.to_string()), move |txn, _| {
                let state = locked(txn, &owned)?;
                if !state.status().is_terminal() {
                    return Err(CoreError::invalid(refusal));
                }
                txn.state = None;
                txn.changes.workflow_deletes.push(owned);
                Ok(())
            })
            .await
    }
}
