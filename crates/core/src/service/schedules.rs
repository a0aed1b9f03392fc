//! Workflow schedules (Orkes' scheduler API): save, read, list, pause, resume,
//! delete, tags, the record of their runs, and the preview of a cron expression.
//!
//! A schedule starts its workflow as the principal who last saved it: whoever
//! decides what it starts is who it runs as, so updating someone else's schedule
//! lends nobody else's rights. Saving checks that this principal may start the
//! workflow now; each run checks again at that moment (`service::schedule_runs`).

use std::sync::Arc;

use super::Runtime;
use super::disclosure;
use super::workflow::WorkflowService;
use crate::error::{CoreError, CoreResult};
use crate::model::{ScheduleExecution, Tag, WorkflowSchedule};
use crate::scheduler::cron::CronSchedule;
use crate::security::model::{Target, TargetType};
use crate::security::{Access, Principal, Resource, ResourceType};
use crate::store::{RunSearch, StoredSchedule};

/// The most times a preview answers (Conductor's cap).
pub const MAX_PREVIEW: i64 = 5;

/// The longest schedule name.
pub const MAX_SCHEDULE_NAME: usize = 255;

/// The most runs a search answers at once.
pub const MAX_RUN_PAGE: usize = 1000;
/// The most schedules one principal may have made (of those there now): each
/// starts workflows on its own, so nobody may fill the scheduler alone.
pub const MAX_SCHEDULES_PER_CREATOR: usize = 500;

/// Schedules.
#[derive(Clone)]
pub struct ScheduleService {
    rt: Arc<Runtime>,
    workflows: WorkflowService,
}

/// Refuses a name that is empty, too long, or holds anything but letters, digits,
/// `_`, `-` and `.`.
fn check_name(name: &str) -> CoreResult<()> {
    if name.is_empty() || name.len() > MAX_SCHEDULE_NAME {
        return Err(CoreError::invalid(format!(
            "Schedule name must have 1 to {MAX_SCHEDULE_NAME} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
        || !name.chars().any(|c| c.is_ascii_alphanumeric())
    {
        return Err(CoreError::invalid(format!(
            "Schedule name '{name}' is not valid: use letters, digits, '_', '-' and '.', with at least one letter or digit"
        )));
    }
    Ok(())
}

fn not_found(name: &str) -> CoreError {
    CoreError::NotFound(format!("Schedule '{name}' not found"))
}

/// The first time a schedule is due from `now`: none while paused, before its
/// start time, or after its end time.
pub fn first_due(schedule: &WorkflowSchedule, cron: &CronSchedule, now: i64) -> Option<i64> {
    if schedule.paused {
        return None;
    }
    next_due(schedule, cron, now)
}

/// The first time the expression matches after `after` (and no earlier than the
/// schedule's start time), unless that is past its end time.
pub fn next_due(schedule: &WorkflowSchedule, cron: &CronSchedule, after: i64) -> Option<i64> {
    let from = match schedule.schedule_start_time {
        Some(start) if start > after => start.saturating_sub(1),
        _ => after,
    };
    cron.next_after(from)
        .filter(|at| schedule.schedule_end_time.is_none_or(|end| *at <= end))
}

impl ScheduleService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> ScheduleService {
        ScheduleService {
            workflows: WorkflowService::new(rt.clone()),
            rt,
        }
    }

    fn may(&self, principal: &Principal, access: Access, name: &str) -> bool {
        self.rt
            .authorizer
            .can(principal, access, Resource::schedule(name))
    }

    /// The stored schedule, when the caller holds `access` on it. A caller who does
    /// not hears the same refusal whether it exists or not.
    async fn visible(
        &self,
        principal: &Principal,
        access: Access,
        name: &str,
    ) -> CoreResult<StoredSchedule> {
        if !self.may(principal, access, name) {
            return Err(disclosure::hidden(format_args!(
                "{} schedule: {name}",
                access.verb()
            )));
        }
        self.rt
            .stores
            .schedules
            .schedule(name)
            .await?
            .ok_or_else(|| not_found(name))
    }

    /// Creates or replaces a schedule; it runs as the caller from now on. Answers
    /// the schedule as stored.
    pub async fn save(
        &self,
        principal: &Principal,
        mut schedule: WorkflowSchedule,
    ) -> CoreResult<WorkflowSchedule> {
        self.rt.access.fresh().await?;
        schedule.name = schedule.name.trim().to_string();
        check_name(&schedule.name)?;
        let cron = CronSchedule::parse(&schedule.cron_expression, schedule.zone_id.as_deref())
            .map_err(CoreError::invalid)?;
        let request = schedule
            .start_workflow_request
            .as_ref()
            .filter(|r| !r.name.trim().is_empty())
            .ok_or_else(|| {
                CoreError::invalid(
                    "startWorkflowRequest with the name of the workflow to start is required",
                )
            })?;
        if let (Some(start), Some(end)) = (schedule.schedule_start_time, schedule.schedule_end_time)
            && end < start
        {
            return Err(CoreError::invalid(
                "scheduleEndTime must not be before scheduleStartTime",
            ));
        }
        let name = schedule.name.clone();
        let existing = self.rt.stores.schedules.schedule(&name).await?;
        let allowed = match &existing {
            Some(_) => {
                self.rt
                    .authorizer
                    .authorize(principal, Access::Update, Resource::schedule(&name))
            }
            None => self
                .rt
                .authorizer
                .authorize_create(principal, Resource::schedule(&name)),
        };
        if let Err(err) = allowed {
            // Who may not read it hears the same whether it exists or not.
            if self.may(principal, Access::Read, &name) {
                return Err(err);
            }
            return Err(disclosure::hidden(format_args!(
                "create or update schedule: {name}"
            )));
        }
        // It runs as the caller: who may not start the workflow may not schedule it.
        self.workflows.check_request(request)?;
        self.workflows.check_start(principal, request).await?;
        let now = self.rt.now();
        let who = principal.id().to_string();
        match &existing {
            Some(old) => {
                schedule.create_time = old.schedule.create_time;
                schedule.created_by = old.schedule.created_by.clone();
            }
            None => {
                schedule.create_time = Some(now);
                schedule.created_by = Some(who.clone());
            }
        }
        schedule.updated_time = Some(now);
        schedule.updated_by = Some(who);
        if !schedule.paused {
            schedule.paused_reason = None;
        }
        // Tags are kept with the tag routes, not in the schedule.
        schedule.tags = Vec::new();
        let next_run_at = first_due(&schedule, &cron, now);
        let stored = StoredSchedule {
            schedule: schedule.clone(),
            next_run_at,
        };
        if existing.is_some() {
            if !self.rt.stores.schedules.put_schedule(stored).await? {
                return Err(not_found(&name));
            }
        } else {
            self.check_room(principal).await?;
            // Two creations racing for one name: the second is refused, never
            // replacing the first or sharing its ownership.
            if !self.rt.stores.schedules.insert_schedule(stored).await? {
                return Err(CoreError::Conflict(format!(
                    "Schedule {name} was created by someone else meanwhile"
                )));
            }
        }
        if existing.is_none() {
            let ops = self
                .rt
                .access
                .creation_ops(principal, Target::new(TargetType::WorkflowSchedule, &name));
            self.rt.access.commit(ops).await?;
        }
        self.with_tags(schedule).await
    }

    /// Refuses a new schedule to a principal who made [`MAX_SCHEDULES_PER_CREATOR`]
    /// of those there now.
    async fn check_room(&self, principal: &Principal) -> CoreResult<()> {
        let id = principal.id();
        let made = self
            .rt
            .stores
            .schedules
            .list_schedules(None)
            .await?
            .iter()
            .filter(|s| s.schedule.created_by.as_deref() == Some(id))
            .count();
        if made >= MAX_SCHEDULES_PER_CREATOR {
            return Err(CoreError::invalid(format!(
                "{id} has made {made} schedules, the most one principal may have"
            )));
        }
        Ok(())
    }

    /// A schedule with its tags (needs READ).
    pub async fn get(&self, principal: &Principal, name: &str) -> CoreResult<WorkflowSchedule> {
        let stored = self.visible(principal, Access::Read, name).await?;
        self.with_tags(stored.schedule).await
    }

    async fn with_tags(&self, mut schedule: WorkflowSchedule) -> CoreResult<WorkflowSchedule> {
        schedule.tags = self
            .rt
            .stores
            .tags
            .get_tags(TargetType::WorkflowSchedule.name(), &schedule.name)
            .await?;
        Ok(schedule)
    }

    /// The schedules the caller may read, or those starting one workflow, by name.
    pub async fn list(
        &self,
        principal: &Principal,
        workflow_name: Option<&str>,
    ) -> CoreResult<Vec<WorkflowSchedule>> {
        let stored = self
            .rt
            .stores
            .schedules
            .list_schedules(workflow_name.filter(|w| !w.trim().is_empty()))
            .await?;
        let mut out = Vec::new();
        for s in stored {
            if self.may(principal, Access::Read, &s.schedule.name) {
                out.push(self.with_tags(s.schedule).await?);
            }
        }
        Ok(out)
    }

    /// Pauses a schedule (needs UPDATE); it is due no more until resumed.
    pub async fn pause(
        &self,
        principal: &Principal,
        name: &str,
        reason: Option<String>,
    ) -> CoreResult<()> {
        let mut stored = self.visible(principal, Access::Update, name).await?;
        stored.schedule.paused = true;
        stored.schedule.paused_reason = reason.filter(|r| !r.trim().is_empty());
        stored.schedule.updated_time = Some(self.rt.now());
        stored.next_run_at = None;
        if !self.rt.stores.schedules.put_schedule(stored).await? {
            return Err(not_found(name));
        }
        Ok(())
    }

    /// Resumes a schedule (needs UPDATE): it is due again from now (missed times
    /// are not run). It runs as the caller from now on, who must be able to start
    /// its workflow.
    pub async fn resume(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        let mut stored = self.visible(principal, Access::Update, name).await?;
        if let Some(request) = &stored.schedule.start_workflow_request {
            self.workflows.check_start(principal, request).await?;
        }
        let cron = CronSchedule::parse(
            &stored.schedule.cron_expression,
            stored.schedule.zone_id.as_deref(),
        )
        .map_err(CoreError::invalid)?;
        let now = self.rt.now();
        stored.schedule.paused = false;
        stored.schedule.paused_reason = None;
        stored.schedule.updated_time = Some(now);
        stored.schedule.updated_by = Some(principal.id().to_string());
        stored.next_run_at = first_due(&stored.schedule, &cron, now);
        if !self.rt.stores.schedules.put_schedule(stored).await? {
            return Err(not_found(name));
        }
        Ok(())
    }

    /// Stops (`paused`) or restarts the starting of due schedules on this node, as
    /// Orkes's admin pause and resume of all scheduling do. Admin only. The
    /// schedules themselves are not changed: due times that pass meanwhile are
    /// caught up as after a downtime.
    pub fn pause_scheduling(&self, principal: &Principal, paused: bool) -> CoreResult<()> {
        self.rt
            .authorizer
            .require_admin(principal, "pause or resume all scheduling")?;
        self.rt
            .scheduling_paused
            .store(paused, std::sync::atomic::Ordering::Release);
        tracing::info!(
            by = principal.id(),
            paused,
            "scheduling on this node was {}",
            if paused { "paused" } else { "resumed" }
        );
        Ok(())
    }

    /// Whether this node starts due schedules. Admin only.
    pub fn scheduling_paused(&self, principal: &Principal) -> CoreResult<bool> {
        self.rt
            .authorizer
            .require_admin(principal, "read the state of scheduling")?;
        Ok(self
            .rt
            .scheduling_paused
            .load(std::sync::atomic::Ordering::Acquire))
    }

    /// Deletes a schedule with the record of its runs, its grants and tags (needs
    /// DELETE). Deleting one that is not there succeeds, as in Conductor.
    pub async fn delete(&self, principal: &Principal, name: &str) -> CoreResult<()> {
        if !self.may(principal, Access::Delete, name) {
            return Err(disclosure::hidden(format_args!("delete schedule: {name}")));
        }
        self.rt.access.fresh().await?;
        if !self.rt.stores.schedules.delete_schedule(name).await? {
            return Ok(());
        }
        let target = Target::new(TargetType::WorkflowSchedule, name);
        let ops = self.rt.access.deletion_ops(&target);
        self.rt.access.commit(ops).await?;
        self.rt
            .access
            .clear_tags(TargetType::WorkflowSchedule, name)
            .await?;
        Ok(())
    }

    /// The tags of a schedule (needs READ).
    pub async fn tags(&self, principal: &Principal, name: &str) -> CoreResult<Vec<Tag>> {
        self.visible(principal, Access::Read, name).await?;
        Ok(self
            .rt
            .stores
            .tags
            .get_tags(TargetType::WorkflowSchedule.name(), name)
            .await?)
    }

    /// Adds tags to a schedule, or removes them (needs UPDATE); tag grants follow.
    pub async fn change_tags(
        &self,
        principal: &Principal,
        name: &str,
        tags: Vec<Tag>,
        remove: bool,
    ) -> CoreResult<()> {
        self.visible(principal, Access::Update, name).await?;
        self.rt
            .access
            .change_tags(TargetType::WorkflowSchedule, name, &tags, remove)
            .await
    }

    /// The runs a search selects among the schedules the caller may read, and how
    /// many it selects in all.
    pub async fn search_runs(
        &self,
        principal: &Principal,
        mut search: RunSearch,
    ) -> CoreResult<(u64, Vec<ScheduleExecution>)> {
        search.size = search.size.min(MAX_RUN_PAGE);
        if !disclosure::covers_every(
            &self.rt.authorizer,
            principal,
            Access::Read,
            ResourceType::Schedule,
        ) {
            let readable: Vec<String> = self
                .rt
                .stores
                .schedules
                .list_schedules(None)
                .await?
                .into_iter()
                .map(|s| s.schedule.name)
                .filter(|name| self.may(principal, Access::Read, name))
                .collect();
            search.schedule_names = Some(match search.schedule_names.take() {
                Some(asked) => asked.into_iter().filter(|n| readable.contains(n)).collect(),
                None => readable,
            });
        }
        Ok(self
            .rt
            .stores
            .schedules
            .search_schedule_runs(&search)
            .await?)
    }

    /// The next times (epoch milliseconds, ascending) a cron expression matches, in
    /// UTC, after `start` (now when none) and no later than `end`: at most `limit`,
    /// and at most five. A limit of zero or less answers none. Evaluated off the
    /// request threads: an expression that never matches is searched for a while.
    pub async fn next_few(
        &self,
        expression: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> CoreResult<Vec<i64>> {
        let cron = CronSchedule::parse(expression, None).map_err(CoreError::invalid)?;
        let count = usize::try_from(limit.clamp(0, MAX_PREVIEW)).unwrap_or(0);
        let start = start.unwrap_or_else(|| self.rt.now());
        tokio::task::spawn_blocking(move || cron.next_few(start, end, count))
            .await
            .map_err(|err| CoreError::Internal(format!("the preview failed: {err}")))
    }
}
