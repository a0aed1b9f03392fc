//! Workflow schedules (Orkes' scheduler API). This step serves the preview of a cron
//! expression's next times; saving schedules and starting their workflows follow.

use std::sync::Arc;

use super::Runtime;
use crate::error::{CoreError, CoreResult};
use crate::scheduler::cron::CronSchedule;

/// The most times a preview answers (Conductor's cap).
pub const MAX_PREVIEW: i64 = 5;

/// Schedules.
#[derive(Clone)]
pub struct ScheduleService {
    rt: Arc<Runtime>,
}

impl ScheduleService {
    /// The service over a runtime.
    pub fn new(rt: Arc<Runtime>) -> ScheduleService {
        ScheduleService { rt }
    }

    /// The next times (epoch milliseconds, ascending) a cron expression matches, in
    /// UTC, after `start` (now when none) and no later than `end`: at most `limit`,
    /// and at most five. A limit of zero or less answers none.
    pub fn next_few(
        &self,
        expression: &str,
        start: Option<i64>,
        end: Option<i64>,
        limit: i64,
    ) -> CoreResult<Vec<i64>> {
        let cron = CronSchedule::parse(expression, None).map_err(CoreError::invalid)?;
        let count = usize::try_from(limit.clamp(0, MAX_PREVIEW)).unwrap_or(0);
        let start = start.unwrap_or_else(|| self.rt.now());
        Ok(cron.next_few(start, end, count))
    }
}
