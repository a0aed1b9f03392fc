//! Conductor's limits on handing out a task type's tasks: `concurrentExecLimit` (at
//! most so many in progress at once) and `rateLimitPerFrequency` per
//! `rateLimitFrequencyInSeconds` (at most so many handed out in any window of that
//! length). A claim carries them, read from the task definition when it is made, so a
//! changed definition counts from the next poll; every store counts them over all of
//! the type's queues (domains) and serializes the claims of a limited type, so two
//! claims never both take the last place.

use crate::model::TaskDef;

/// The limits a claim of one task type honours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimLimits {
    /// The task type counted (its tasks' `taskType`, the definition's name).
    pub task_type: String,
    /// At most this many of the type's tasks in progress at once.
    pub in_progress: Option<u32>,
    /// At most this many hand-outs in any window.
    pub rate: Option<RateLimit>,
}

/// A sliding window of hand-outs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub count: u32,
    pub window_ms: i64,
}

impl ClaimLimits {
    /// The limits of a definition, as Conductor reads them: a concurrency limit or a
    /// rate above zero is a limit (the window is one second when not given); none
    /// when neither is set.
    pub fn of(def: &TaskDef) -> Option<ClaimLimits> {
        let in_progress = def
            .concurrent_exec_limit
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0);
        let seconds = def.rate_limit_frequency_in_seconds.unwrap_or(1);
        let rate = def
            .rate_limit_per_frequency
            .and_then(|n| u32::try_from(n).ok())
            .filter(|n| *n > 0 && seconds > 0)
            .map(|count| RateLimit {
                count,
                window_ms: i64::from(seconds).saturating_mul(1000),
            });
        (in_progress.is_some() || rate.is_some()).then(|| ClaimLimits {
            task_type: def.name.clone(),
            in_progress,
            rate,
        })
    }

    /// Where the window of hand-outs counted at `now` starts (exclusive); zero when
    /// there is no rate.
    pub fn window_start(&self, now: i64) -> i64 {
        self.rate
            .map_or(0, |rate| now.saturating_sub(rate.window_ms))
    }

    /// How many of `wanted` tasks a claim may take while `running` of the type are in
    /// progress and `handed_out` were handed out since [`ClaimLimits::window_start`].
    pub fn allowance(&self, wanted: usize, running: i64, handed_out: i64) -> usize {
        let room = |limit: u32, used: i64| {
            usize::try_from(i64::from(limit).saturating_sub(used).max(0)).unwrap_or(0)
        };
        let mut allowed = wanted;
        if let Some(limit) = self.in_progress {
            allowed = allowed.min(room(limit, running));
        }
        if let Some(rate) = self.rate {
            allowed = allowed.min(room(rate.count, handed_out));
        }
        allowed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(concurrent: Option<i32>, per: Option<i32>, seconds: Option<i32>) -> TaskDef {
        TaskDef {
            name: "t".into(),
            concurrent_exec_limit: concurrent,
            rate_limit_per_frequency: per,
            rate_limit_frequency_in_seconds: seconds,
            ..TaskDef::default()
        }
    }

    #[test]
    fn limits_are_read_as_conductor_reads_them() {
        assert_eq!(ClaimLimits::of(&def(None, None, None)), None);
        assert_eq!(ClaimLimits::of(&def(Some(0), Some(0), Some(5))), None);
        // A rate without its window counts per second; a window of zero is no limit.
        let per_second = ClaimLimits::of(&def(None, Some(3), None));
        assert_eq!(
            per_second.and_then(|l| l.rate),
            Some(RateLimit {
                count: 3,
                window_ms: 1000
            })
        );
        assert_eq!(ClaimLimits::of(&def(None, Some(3), Some(0))), None);
        let both = ClaimLimits::of(&def(Some(2), Some(10), Some(60)));
        assert_eq!(both.as_ref().and_then(|l| l.in_progress), Some(2));
        assert_eq!(both.and_then(|l| l.rate).map(|r| r.window_ms), Some(60_000));
    }

    #[test]
    fn the_allowance_is_the_smallest_room_left() {
        let limits = ClaimLimits::of(&def(Some(2), Some(5), Some(10))).expect("limits");
        assert_eq!(limits.allowance(10, 0, 0), 2);
        assert_eq!(limits.allowance(10, 1, 0), 1);
        assert_eq!(limits.allowance(10, 2, 0), 0);
        // More running than the limit (the limit was lowered): nothing, never negative.
        assert_eq!(limits.allowance(10, 7, 0), 0);
        assert_eq!(limits.allowance(10, 0, 4), 1);
        assert_eq!(limits.allowance(1, 0, 0), 1);
        assert_eq!(limits.window_start(50_000), 40_000);
    }
}
