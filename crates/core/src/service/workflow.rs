//! Workflow executions: start, read, search, and the operations that change them.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use crate::engine::ops::{self, StartParams};
use crate::engine::state::WorkflowState;
use crate::error::{CoreError, CoreResult};
use crate::exec::authority::{self, RunNeeds};
use crate::exec::command::{self, Command, Target};
use crate::model::{
    BulkResponse, IdempotencyStrategy, SearchResult, StartWorkflowRequest, Workflow, WorkflowDef,
    WorkflowStatusView, WorkflowSummary,
};
use crate::security::{Access, Actor, Principal, Resource, ResourceType};
use crate::store::Txn;

use super::definition_bounds::MAX_NAME_BYTES;
use super::disclosure;
use super::masking;
use super::runtime::Runtime;
use super::search::{Filter, Op, SearchValue, WorkflowField, WorkflowSearch};
use super::summary;
use super::validation;

/// Highest workflow priority.
pub const MAX_PRIORITY: i32 = 99;
/// The longest correlation id or idempotency key: both are stored, indexed and
/// searched.
pub const MAX_KEY_BYTES: usize = 1024;

/// Refuses a correlation id or idempotency key that is too long or holds control
/// characters.
pub(crate) fn check_key(what: &str, key: Option<&str>) -> CoreResult<()> {
    match key {
        Some(key) if key.len() > MAX_KEY_BYTES || key.chars().any(char::is_control) => {
            Err(CoreError::invalid(format!(
                "{what} must be at most {MAX_KEY_BYTES} bytes without control characters"
            )))
        }
        _ => Ok(()),
    }
}

/// The workflow API.
#[derive(Clone)]
pub struct WorkflowService {
    pub(super) rt: Arc<Runtime>,
}

pub use super::workflow_execute::{ExecuteWait, MAX_EXECUTE_WAIT_SECONDS};

pub(super) fn locked<'a>(txn: &'a mut Txn, id: &str) -> CoreResult<&'a mut WorkflowState> {
    txn.state
        .as_mut()
        .ok_or_else(|| CoreError::workflow_not_found(id))
}

impl WorkflowService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> WorkflowService {
        WorkflowService { rt }
    }

    /// The answer for a workflow that does not exist: 404 to a caller who may read
    /// every workflow, and otherwise the refusal a workflow it may not see gets, so
    /// an id reveals nothing.
    pub(super) fn missing(&self, principal: &Principal, id: &str) -> CoreError {
        let every = disclosure::covers_every(
            &self.rt.authorizer,
            principal,
            Access::Read,
            ResourceType::Workflow,
        );
        if every {
            CoreError::workflow_not_found(id)
        } else {
            command::hidden_workflow(id)
        }
    }

    /// Authorizes a command on a workflow execution; returns its record.
    pub(super) async fn authorize_on(
        &self,
        principal: &Principal,
        id: &str,
        command: Command,
    ) -> CoreResult<Workflow> {
        let record = self
            .rt
            .stores
            .execution
            .get_workflow_record(id)
            .await?
            .ok_or_else(|| self.missing(principal, id))?;
        self.authorize_execution(principal, command, &record)?;
        Ok(record)
    }

    /// Authorizes a command that needs only an access on one execution.
    pub(super) fn authorize_execution(
        &self,
        principal: &Principal,
        command: Command,
        workflow: &Workflow,
    ) -> CoreResult<()> {
        let target = Target {
            workflow: Some(workflow),
            ..Target::default()
        };
        command::authorize(&self.rt, &Actor::caller(principal), command, &target)
    }

    /// The time now, by the server's clock.
    pub fn now(&self) -> i64 {
        self.rt.now()
    }

    /// Whether `principal` may operate a run (pause, resume, terminate, retry,
    /// restart, rerun, skip), by the execution's grants alone: what the console
    /// offers buttons for. Each command still checks everything it needs.
    pub fn may_operate(&self, principal: &Principal, workflow: &Workflow) -> bool {
        self.authorize_execution(principal, Command::Pause, workflow)
            .is_ok()
    }

    /// Whether `principal` may remove a run.
    pub fn may_remove(&self, principal: &Principal, workflow: &Workflow) -> bool {
        self.authorize_execution(principal, Command::Remove, workflow)
            .is_ok()
    }

    /// Resolves the definition a start names: inline (dynamic workflow) or registered,
    /// and allows the caller everything a run of it does.
    async fn definition_for(
        &self,
        principal: &Principal,
        request: &StartWorkflowRequest,
    ) -> CoreResult<(Arc<WorkflowDef>, String)> {
        let (def, revision) = self.named_definition(principal, request).await?;
        let errors = validation::runnable(&def);
        if !errors.is_empty() {
            return Err(CoreError::validation(errors));
        }
        let target = Target {
            run: Some(RunNeeds::of(&self.rt, &def, &revision)),
            ..Target::default()
        };
        command::authorize(&self.rt, &Actor::caller(principal), Command::Start, &target)?;
        Ok((def, revision))
    }

    /// Authorizes `command` on an execution for a principal (another principal's
    /// data asks for it: an event handler's action, checked for the run whose event
    /// it is).
    pub(crate) async fn authorize_for(
        &self,
        principal: &Principal,
        id: &str,
        command: Command,
    ) -> CoreResult<()> {
        self.authorize_on(principal, id, command).await.map(|_| ())
    }

    /// Makes the author of a definition written after `saved_at` a cosigner of the
    /// run, and refuses unless that author may do everything the run does.
    fn cosign_since(
        &self,
        principal: &Principal,
        def: &WorkflowDef,
        revision: &str,
        saved_at: i64,
        authority: &mut crate::engine::state::Authority,
    ) -> CoreResult<()> {
        let written = def.update_time.or(def.create_time).unwrap_or(i64::MAX);
        let Some(author) = authority::author_of(def).filter(|a| *a != principal.id()) else {
            return Ok(());
        };
        if written <= saved_at {
            return Ok(());
        }
        authority.vouched.retain(|v| v != author);
        if !authority.cosigners.iter().any(|c| c == author) {
            authority.cosigners.push(author.to_string());
        }
        let cosigner = {
            let directory = self.rt.authorizer.directory().read();
            Actor::on_behalf_of(
                &directory,
                self.rt.authorizer.mode(),
                Some(author),
                crate::security::Cause::Schedule,
            )
            .map_err(CoreError::Forbidden)?
        };
        authority::check_run(
            &self.rt,
            &cosigner.into_principal(),
            &RunNeeds::of(&self.rt, def, revision),
        )
        .map_err(|err| {
            CoreError::Forbidden(format!(
                "{author}, who changed workflow {} after the schedule was saved, may not run it: {err}",
                def.name
            ))
        })
    }

    /// Refuses a request's priority and task-to-domain map that a start would refuse.
    pub(crate) fn check_request(&self, request: &StartWorkflowRequest) -> CoreResult<()> {
        check_key("correlationId", request.correlation_id.as_deref())?;
        check_key("idempotencyKey", request.idempotency_key.as_deref())?;
        let priority = request.priority.unwrap_or(0);
        if !(0..=MAX_PRIORITY).contains(&priority) {
            return Err(CoreError::invalid(format!(
                "priority: {priority} should be between 0 and {MAX_PRIORITY}"
            )));
        }
        for (task, domain) in &request.task_to_domain {
            let Some(domain) = domain.as_str() else {
                return Err(CoreError::invalid(format!(
                    "taskToDomain[{task}] must be a string"
                )));
            };
            if domain.len() > MAX_NAME_BYTES || task.len() > MAX_NAME_BYTES {
                return Err(CoreError::invalid(format!(
                    "taskToDomain: task names and domains must be at most {MAX_NAME_BYTES} bytes long"
                )));
            }
        }
        Ok(())
    }

    /// Refuses unless `principal` may start what `request` names now (the
    /// definition exists, can run, and everything a run of it does is allowed).
    pub(crate) async fn check_start(
        &self,
        principal: &Principal,
        request: &StartWorkflowRequest,
    ) -> CoreResult<()> {
        self.check_request(request)?;
        self.definition_for(principal, request).await.map(|_| ())
    }

    /// The definition a start names, without asking whether this version can run it.
    async fn named_definition(
        &self,
        principal: &Principal,
        request: &StartWorkflowRequest,
    ) -> CoreResult<(Arc<WorkflowDef>, String)> {
        if let Some(inline) = &request.workflow_def {
            let mut def = inline.clone();
            if def.name.trim().is_empty() {
                def.name = request.name.clone();
            }
            let errors = validation::workflow_def(&def);
            if !errors.is_empty() {
                return Err(CoreError::validation(errors));
            }
            // The caller wrote it, whatever it claims.
            def.created_by = Some(principal.id().to_string());
            def.updated_by = Some(principal.id().to_string());
            self.rt.authorizer.authorize(
                principal,
                Access::Execute,
                Resource::workflow_def(&def.name),
            )?;
            let revision = inline_revision(&def)?;
            self.rt
                .stores
                .metadata
                .put_def_revision(&revision, &def)
                .await?;
            return Ok((Arc::new(def), revision));
        }
        if request.name.trim().is_empty() {
            return Err(CoreError::invalid("Workflow name cannot be null or empty"));
        }
        self.rt.authorizer.authorize(
            principal,
            Access::Execute,
            Resource::workflow_def(&request.name),
        )?;
        self.rt
            .defs
            .workflow(&request.name, request.version)
            .ok_or_else(|| {
                CoreError::NotFound(format!(
                    "No such workflow defined. name={}, version={}",
                    request.name,
                    request
                        .version
                        .map_or_else(|| "null".to_string(), |v| v.to_string())
                ))
            })
    }

    /// Starts a workflow; returns its id (or the existing one, by idempotency key).
    /// Idempotency keys beginning `event:` are kept for event handlers' starts, so
    /// nobody takes one first to have an event's start answer their run.
    pub async fn start(
        &self,
        principal: &Principal,
        request: StartWorkflowRequest,
    ) -> CoreResult<String> {
        if request
            .idempotency_key
            .as_deref()
            .is_some_and(|k| k.trim_start().starts_with("event:"))
        {
            return Err(CoreError::invalid(
                "idempotencyKey may not begin with 'event:': Podium keeps those for event handlers' starts",
            ));
        }
        self.start_recorded(principal, request, None).await
    }

    /// [`WorkflowService::start`], writing `run` (a schedule's due time, with the
    /// new workflow's id) in the same unit: a due time already recorded fails the
    /// start whole. `run` comes with when its schedule was last saved: the saver
    /// vouched for the definition as it was then, so the author of a definition
    /// written since is a cosigner of the run, who must be allowed everything it does
    /// too (an editor of the definition never borrows the saver's rights).
    pub(crate) async fn start_recorded(
        &self,
        principal: &Principal,
        request: StartWorkflowRequest,
        run: Option<(crate::store::ScheduleRun, i64)>,
    ) -> CoreResult<String> {
        self.start_with(principal, request, run, None).await
    }

    /// [`WorkflowService::start`] of a run whose input another run's data fed (an
    /// event handler's start): that run's starter becomes a cosigner, who must be
    /// allowed everything the new run does, and the new run is one generation
    /// further down a chain of runs starting runs, which is bounded.
    pub(crate) async fn start_fed(
        &self,
        principal: &Principal,
        request: StartWorkflowRequest,
        feeder: Feeder<'_>,
    ) -> CoreResult<String> {
        self.start_with(principal, request, None, Some(feeder))
            .await
    }

    async fn start_with(
        &self,
        principal: &Principal,
        request: StartWorkflowRequest,
        run: Option<(crate::store::ScheduleRun, i64)>,
        feeder: Option<Feeder<'_>>,
    ) -> CoreResult<String> {
        self.check_request(&request)?;
        let priority = request.priority.unwrap_or(0);
        let (def, revision) = self.definition_for(principal, &request).await?;
        super::schema_checks::check_workflow_input(&self.rt, principal, &def, &request.input)
            .await?;
        let key = request
            .idempotency_key
            .clone()
            .filter(|k| !k.trim().is_empty());
        let mut replaces = None;
        if let Some(key) = &key
            && let Some((existing, status)) = self
                .rt
                .stores
                .execution
                .workflow_by_idempotency_key(&def.name, key)
                .await?
        {
            // Another principal's run under the same key is named only to a caller
            // who may read it.
            let shown = if self.may_read_id(principal, &existing).await? {
                format!(": {existing}")
            } else {
                String::new()
            };
            match request.idempotency_strategy {
                IdempotencyStrategy::ReturnExisting if !shown.is_empty() => return Ok(existing),
                IdempotencyStrategy::ReturnExisting | IdempotencyStrategy::Fail => {
                    return Err(CoreError::Conflict(format!(
                        "Workflow with idempotency key {key} already exists{shown}"
                    )));
                }
                IdempotencyStrategy::FailOnRunning if !status.is_terminal() => {
                    return Err(CoreError::Conflict(format!(
                        "Workflow with idempotency key {key} is still running{shown}"
                    )));
                }
                IdempotencyStrategy::FailOnRunning => replaces = Some(existing),
            }
        }
        let mut authority = authority::for_start(principal, &def);
        if let Some(feeder) = feeder {
            if feeder.generation >= crate::exec::start_workflow_generations() {
                return Err(CoreError::Forbidden(format!(
                    "Cannot start workflow {}: {} workflows in a row were started from one another's data, the most Podium allows",
                    def.name,
                    crate::exec::start_workflow_generations()
                )));
            }
            authority.generation = feeder.generation.saturating_add(1);
            authority::feeds_data(
                &self.rt,
                &mut authority,
                Some(principal.id()),
                feeder.principal,
            );
            if authority
                .cosigners
                .iter()
                .any(|c| c == feeder.principal.id())
            {
                authority::check_run(
                    &self.rt,
                    feeder.principal,
                    &RunNeeds::of(&self.rt, &def, &revision),
                )
                .map_err(|err| {
                    CoreError::Forbidden(format!(
                        "{}, whose workflow's data starts this run, may not run workflow {}: {err}",
                        feeder.principal.id(),
                        def.name
                    ))
                })?;
            }
        }
        let run = match run {
            Some((run, saved_at)) => {
                self.cosign_since(principal, &def, &revision, saved_at, &mut authority)?;
                Some(run)
            }
            None => None,
        };
        let params = StartParams {
            input: request.input,
            correlation_id: request.correlation_id,
            priority,
            task_to_domain: request.task_to_domain,
            created_by: Some(principal.id().to_string()),
            idempotency_key: key.clone(),
            authority: authority.clone(),
            ..StartParams::default()
        };
        // Workflows that use secrets are remembered for their hand-offs, before their
        // first task can be polled, so a hand-off reads nothing from the store.
        let remember = (!self
            .rt
            .handoffs
            .definition_references(&revision, &def)
            .is_empty())
        .then(|| (self.rt.clone(), principal.id().to_string(), authority));
        let result = self
            .rt
            .mutate(replaces.clone(), move |txn, ctx| {
                if let Some(old) = txn.state.as_mut() {
                    // The key moves to the new workflow; the old one has ended.
                    if !old.status().is_terminal() {
                        return Err(CoreError::Conflict(format!(
                            "Workflow with idempotency key is still running: {}",
                            old.id()
                        )));
                    }
                    old.workflow.idempotency_key = None;
                    old.touch();
                }
                let state =
                    ops::start(def.clone(), revision.clone(), params, ctx, &mut txn.changes);
                let id = state.id().to_string();
                if let Some((rt, starter, authority)) = remember {
                    rt.handoffs
                        .remember_workflow(&id, Some(starter), authority, def, &revision);
                }
                txn.changes.new_workflows.push(state);
                if let Some(mut run) = run {
                    run.execution.workflow_id = Some(id.clone());
                    txn.changes.schedule_runs.push(run);
                }
                Ok(id)
            })
            .await;
        match (result, &key) {
            (Err(CoreError::Conflict(_)), Some(key))
                if request.idempotency_strategy == IdempotencyStrategy::ReturnExisting =>
            {
                // Lost a race with a concurrent start of the same key.
                let existing = self
                    .rt
                    .stores
                    .execution
                    .workflow_by_idempotency_key(&request.name, key)
                    .await?;
                match existing {
                    Some((id, _)) if self.may_read_id(principal, &id).await? => Ok(id),
                    _ => Err(CoreError::Conflict(format!(
                        "Workflow with idempotency key {key} already exists"
                    ))),
                }
            }
            (result, _) => result,
        }
    }

    /// Whether the caller may read the workflow with this id (false when it is gone).
    pub(crate) async fn may_read_id(&self, principal: &Principal, id: &str) -> CoreResult<bool> {
        let record = self.rt.stores.execution.get_workflow_record(id).await?;
        Ok(record.is_some_and(|r| {
            authority::may_access_execution(&self.rt, principal, Access::Read, &r)
        }))
    }

    /// A workflow, with or without its tasks (live, or from the archive).
    pub async fn get(
        &self,
        principal: &Principal,
        id: &str,
        include_tasks: bool,
    ) -> CoreResult<Workflow> {
        if let Some(state) = self.rt.stores.execution.get_workflow(id).await? {
            self.authorize_execution(principal, Command::Read, &state.workflow)?;
            return Ok(view(&state, include_tasks));
        }
        let Some(archived) = self.archived(principal, id, Command::Read).await? else {
            return Err(self.missing(principal, id));
        };
        let mut workflow = archived.workflow;
        if !include_tasks {
            workflow.tasks.clear();
        }
        let masked = workflow
            .workflow_definition
            .as_ref()
            .and_then(|d| d.masked_fields.clone())
            .unwrap_or_default();
        masking::view_workflow(&mut workflow, &masked);
        Ok(workflow)
    }

    /// An archived workflow the caller holds `access` on, if there is one.
    pub(super) async fn archived(
        &self,
        principal: &Principal,
        id: &str,
        command: Command,
    ) -> CoreResult<Option<crate::store::ArchivedWorkflow>> {
        let Some(archived) = self.rt.stores.execution.get_archived(id).await? else {
            return Ok(None);
        };
        self.authorize_execution(principal, command, &archived.workflow)?;
        Ok(Some(archived))
    }

    /// Brings an archived workflow the caller may execute back into the live tables
    /// (for a restart).
    pub(super) async fn restore(&self, principal: &Principal, id: &str) -> CoreResult<()> {
        let archived = self
            .archived(principal, id, Command::Restore)
            .await?
            .ok_or_else(|| self.missing(principal, id))?;
        super::archive::restore(&self.rt, archived).await
    }

    /// The status summary of a workflow.
    pub async fn status(
        &self,
        principal: &Principal,
        id: &str,
        include_output: bool,
        include_variables: bool,
    ) -> CoreResult<WorkflowStatusView> {
        let mut record = self.authorize_on(principal, id, Command::Read).await?;
        let masked = self.masked_fields(&record);
        masking::view_workflow(&mut record, &masked);
        Ok(WorkflowStatusView {
            workflow_id: record.workflow_id,
            correlation_id: record.correlation_id,
            output: include_output.then_some(record.output),
            variables: include_variables.then_some(record.variables),
            status: record.status,
        })
    }

    /// Ids of running workflows of a definition.
    pub async fn running(
        &self,
        principal: &Principal,
        name: &str,
        version: Option<i32>,
        start_after: Option<i64>,
        start_before: Option<i64>,
    ) -> CoreResult<Vec<String>> {
        self.rt
            .authorizer
            .authorize(principal, Access::Read, Resource::workflow(name))?;
        Ok(self
            .rt
            .stores
            .execution
            .running_workflows(name, version, start_after, start_before)
            .await?)
    }

    /// Workflows of a definition by correlation id, newest first.
    pub async fn by_correlation(
        &self,
        principal: &Principal,
        name: &str,
        correlation_id: &str,
        include_closed: bool,
        include_tasks: bool,
    ) -> CoreResult<Vec<Workflow>> {
        self.rt
            .authorizer
            .authorize(principal, Access::Read, Resource::workflow(name))?;
        let ids = self
            .rt
            .stores
            .execution
            .workflows_by_correlation(name, correlation_id, include_closed)
            .await?;
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            if let Some(state) = self.rt.stores.execution.get_workflow(&id).await? {
                out.push(view(&state, include_tasks));
            }
        }
        Ok(out)
    }

    /// Workflows by correlation id for several ids at once.
    pub async fn by_correlations(
        &self,
        principal: &Principal,
        name: &str,
        correlation_ids: &[String],
        include_closed: bool,
        include_tasks: bool,
    ) -> CoreResult<HashMap<String, Vec<Workflow>>> {
        let mut out = HashMap::new();
        for correlation_id in correlation_ids {
            let workflows = self
                .by_correlation(
                    principal,
                    name,
                    correlation_id,
                    include_closed,
                    include_tasks,
                )
                .await?;
            out.insert(correlation_id.clone(), workflows);
        }
        Ok(out)
    }

    /// Searches workflows the caller may read.
    pub async fn search(
        &self,
        principal: &Principal,
        search: WorkflowSearch,
    ) -> CoreResult<SearchResult<WorkflowSummary>> {
        let (total, workflows) = self.search_runs(principal, search).await?;
        Ok(SearchResult {
            total_hits: total,
            results: workflows.iter().map(summary::workflow_summary).collect(),
        })
    }

    /// Searches workflows the caller may read: the total and one page of them, as
    /// masked views without their tasks.
    pub async fn search_runs(
        &self,
        principal: &Principal,
        mut search: WorkflowSearch,
    ) -> CoreResult<(i64, Vec<Workflow>)> {
        if let Some(names) = self.readable_names(principal) {
            // Runs of the definitions it may read, and the runs it started itself.
            let allowed = Filter::Or(vec![
                Filter::In(
                    WorkflowField::WorkflowType,
                    names.into_iter().map(SearchValue::Text).collect(),
                ),
                Filter::Compare(
                    WorkflowField::CreatedBy,
                    Op::Eq,
                    SearchValue::Text(principal.id().to_string()),
                ),
            ]);
            search.filter = Some(match search.filter.take() {
                Some(filter) => Filter::And(vec![allowed, filter]),
                None => allowed,
            });
        }
        let (total, mut workflows) = self.rt.stores.execution.search_workflows(&search).await?;
        for workflow in &mut workflows {
            let masked = self.masked_fields(workflow);
            masking::view_workflow(workflow, &masked);
        }
        Ok((total, workflows))
    }

    /// The `maskedFields` of a workflow's definition.
    fn masked_fields(&self, workflow: &Workflow) -> Vec<String> {
        self.rt
            .defs
            .workflow(&workflow.workflow_name, Some(workflow.workflow_version))
            .and_then(|(def, _)| def.masked_fields.clone())
            .unwrap_or_default()
    }

    /// The workflow names the caller may read, when not all of them.
    pub(crate) fn readable_names(&self, principal: &Principal) -> Option<Vec<String>> {
        let all = self.rt.defs.all_workflows();
        let allowed: Vec<String> = all
            .iter()
            .filter(|d| {
                self.rt
                    .authorizer
                    .can(principal, Access::Read, Resource::workflow(&d.name))
            })
            .map(|d| d.name.clone())
            .collect();
        let every = all.iter().all(|d| allowed.contains(&d.name));
        if every
            && self
                .rt
                .authorizer
                .can(principal, Access::Read, Resource::workflow("*"))
        {
            None
        } else {
            Some(allowed)
        }
    }

    /// Applies `op` to each id; collects successes and errors.
    pub async fn bulk<F, Fut>(&self, ids: Vec<String>, op: F) -> BulkResponse
    where
        F: Fn(String) -> Fut,
        Fut: std::future::Future<Output = CoreResult<()>>,
    {
        let mut response = BulkResponse::default();
        for id in ids {
            match op(id.clone()).await {
                Ok(()) => response.bulk_successful_results.push(Value::String(id)),
                Err(err) => {
                    if let CoreError::Internal(cause) = &err {
                        tracing::warn!(workflow_id = %id, error = %cause, "a bulk operation failed");
                    }
                    response
                        .bulk_error_results
                        .insert(id, Value::String(err.public_message()));
                }
            }
        }
        response
    }
}

/// A workflow as people see it (see [`masking`]).
pub(super) fn view(state: &WorkflowState, include_tasks: bool) -> Workflow {
    let mut workflow = state.to_workflow(include_tasks);
    let masked = state.def.masked_fields.clone().unwrap_or_default();
    masking::view_workflow(&mut workflow, &masked);
    workflow
}

/// The revision id of an inline definition: named by its content (its author
/// included), so starting the same definition again (a schedule's every run, say)
/// stores it once.
fn inline_revision(def: &WorkflowDef) -> CoreResult<String> {
    use sha2::{Digest, Sha256};
    let json = serde_json::to_vec(def).map_err(|err| {
        CoreError::invalid(format!("the workflow definition cannot be read: {err}"))
    })?;
    let digest = Sha256::digest(&json);
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("inline-{hex}"))
}

/// The run whose data feeds a start: its starter, and how many runs in a row
/// started one another before it.
#[derive(Clone, Copy)]
pub struct Feeder<'a> {
    pub principal: &'a Principal,
    pub generation: u32,
}
