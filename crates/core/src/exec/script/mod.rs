//! Sandboxed JavaScript, as `INLINE` tasks and JavaScript switches run it
//! (`docs/adr/0007-script-engine.md`).
//!
//! Each evaluation runs in QuickJS with a heap limit, a stack limit and a deadline
//! the interpreter checks as it runs ([`sandbox`]). Some of QuickJS's built-ins
//! loop in C without looking at the deadline, so the server runs each evaluation in
//! a process of its own (`podium script-runner`, [`runner`]) and kills it when the
//! deadline has passed; a crash in the engine ends that process only. At most
//! [`ScriptLimits::max_concurrent`] evaluations run at once.

pub mod jq;
pub mod runner;
pub mod sandbox;

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::Semaphore;

/// Limits of one evaluation, and where evaluations run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Longest an evaluation may run (Conductor's default is 4 seconds).
    pub max_time: Duration,
    /// Most memory one evaluation's heap may hold.
    pub max_memory_bytes: usize,
    /// Deepest the interpreter's stack may grow.
    pub max_stack_bytes: usize,
    /// Longest value, as JSON, an evaluation may hand back.
    pub max_result_bytes: usize,
    /// Most evaluations running at once.
    pub max_concurrent: usize,
    /// The `podium` binary whose `script-runner` command runs each evaluation in a
    /// process of its own; None runs them on this process's blocking threads (for
    /// tests of the engine alone: an uninterruptible built-in is not stopped then).
    pub runner: Option<PathBuf>,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_time: Duration::from_secs(4),
            max_memory_bytes: 64 * 1024 * 1024,
            max_stack_bytes: 512 * 1024,
            max_result_bytes: crate::engine::context::DEFAULT_MAX_PAYLOAD_BYTES,
            max_concurrent: std::thread::available_parallelism()
                .map_or(2, |n| n.get())
                .min(8),
            runner: None,
        }
    }
}

/// Why an evaluation gave no value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// It ran past its time limit.
    #[error("Script not evaluated within {0} ms, interrupted")]
    TimedOut(u128),
    /// It needed more memory than its limit.
    #[error("Script ran out of memory: it may use at most {0} MiB")]
    OutOfMemory(usize),
    /// The script threw (at `line`, when known), or its value cannot be written as
    /// JSON.
    #[error("Error evaluating the script `{message}`{}", line.map(|l| format!(" at line {l}")).unwrap_or_default())]
    Failed { message: String, line: Option<i32> },
    /// The task's input does not describe an evaluation, or the value is too large
    /// to hand back.
    #[error("{0}")]
    Invalid(String),
    /// The process that evaluated it stopped without an answer: it ran out of
    /// memory or stack.
    #[error("The script's process stopped without an answer ({0}): it ran out of memory or stack")]
    Stopped(String),
}

impl ScriptError {
    /// A failure with no line to point at.
    pub fn failed(message: impl Into<String>) -> ScriptError {
        ScriptError::Failed {
            message: message.into(),
            line: None,
        }
    }

    /// Whether trying the same evaluation again cannot help: everything but a
    /// time-out, which may pass on a quieter machine (as in Conductor).
    pub fn is_terminal(&self) -> bool {
        !matches!(self, ScriptError::TimedOut(_))
    }
}

/// Runs scripts within limits.
pub struct Scripts {
    limits: ScriptLimits,
    permits: Arc<Semaphore>,
}

impl Scripts {
    pub fn new(limits: ScriptLimits) -> Scripts {
        let permits = Arc::new(Semaphore::new(limits.max_concurrent.max(1)));
        Scripts { limits, permits }
    }

    /// Most evaluations that run at once.
    pub fn max_concurrent(&self) -> usize {
        self.limits.max_concurrent.max(1)
    }

    /// Longest one evaluation may run.
    pub fn max_time(&self) -> Duration {
        self.limits.max_time
    }

    /// Waits for a free evaluation slot.
    async fn turn(&self) -> Result<tokio::sync::SemaphorePermit<'_>, ScriptError> {
        self.permits
            .acquire()
            .await
            .map_err(|_| ScriptError::Invalid("the script engine is shutting down".into()))
    }

    /// Evaluates `script` with `$` bound to `input`; its completion value (the value
    /// of its last statement), as JSON. `undefined` and functions are `null`.
    pub async fn javascript(&self, script: &str, input: &Value) -> Result<Value, ScriptError> {
        let _permit = self.turn().await?;
        if let Some(runner) = &self.limits.runner {
            return runner::in_child(
                runner,
                runner::Language::Javascript,
                script,
                input,
                &self.limits,
            )
            .await;
        }
        let input = input.to_string();
        let script = script.to_string();
        let limits = self.limits.clone();
        tokio::task::spawn_blocking(move || sandbox::evaluate(&script, &input, &limits))
            .await
            .map_err(|_| ScriptError::failed("the evaluation stopped unexpectedly"))?
    }

    /// Runs the jq program `query` over `input`; its outputs, in order. Without a
    /// runner process the program runs on a blocking thread of this process, where
    /// nothing bounds it (for tests of the engine alone).
    pub async fn jq(&self, query: &str, input: &Value) -> Result<Vec<Value>, ScriptError> {
        let _permit = self.turn().await?;
        let outputs = match &self.limits.runner {
            Some(runner) => {
                runner::in_child(runner, runner::Language::Jq, query, input, &self.limits).await?
            }
            None => {
                let (query, input) = (query.to_string(), input.to_string());
                let max = self.limits.max_result_bytes;
                let texts = tokio::task::spawn_blocking(move || jq::transform(&query, &input, max))
                    .await
                    .map_err(|_| ScriptError::failed("the program stopped unexpectedly"))??;
                let parsed: Result<Vec<Value>, _> =
                    texts.iter().map(|t| serde_json::from_str(t)).collect();
                Value::Array(
                    parsed
                        .map_err(|e| ScriptError::failed(format!("an output is not JSON: {e}")))?,
                )
            }
        };
        match outputs {
            Value::Array(items) => Ok(items),
            _ => Err(ScriptError::failed("the program's outputs are not a list")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[tokio::test]
    async fn evaluations_run_off_the_async_threads() {
        let scripts = Scripts::new(ScriptLimits::default());
        let value = scripts.javascript("$.n * 2", &json!({"n": 4})).await;
        assert_eq!(value, Ok(json!(8)));
    }

    #[test]
    fn only_a_time_out_is_worth_another_try() {
        assert!(!ScriptError::TimedOut(1).is_terminal());
        assert!(ScriptError::OutOfMemory(1).is_terminal());
        assert!(ScriptError::failed("x").is_terminal());
        assert_eq!(
            ScriptError::Failed {
                message: "boom".into(),
                line: Some(3)
            }
            .to_string(),
            "Error evaluating the script `boom` at line 3"
        );
    }
}
