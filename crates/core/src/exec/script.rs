//! Sandboxed JavaScript, as `INLINE` tasks run it (`docs/adr/0007-script-engine.md`).
//!
//! Each evaluation gets a fresh QuickJS runtime with a memory limit, a stack limit
//! and a deadline checked by the interpreter as it runs, so an endless loop or a
//! huge allocation fails that one evaluation with a clear reason instead of
//! stalling the server. The script sees its task's input as `$` and nothing else:
//! the context has the language's own objects (`JSON`, `Math`, `Date`, `RegExp`,
//! `Map`, `Set`, ...) and no module loader, file, network, process or timer API.
//! Evaluations run on the blocking pool, at most one per core at a time.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Runtime as JsRuntime};
use serde_json::Value;
use tokio::sync::Semaphore;

/// Limits of one evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptLimits {
    /// Longest an evaluation may run (Conductor's default is 4 seconds).
    pub max_time: Duration,
    /// Most memory one evaluation's heap may hold.
    pub max_memory_bytes: usize,
    /// Deepest the interpreter's stack may grow.
    pub max_stack_bytes: usize,
    /// Most evaluations running at once.
    pub max_concurrent: usize,
}

impl Default for ScriptLimits {
    fn default() -> Self {
        ScriptLimits {
            max_time: Duration::from_secs(4),
            max_memory_bytes: 64 * 1024 * 1024,
            max_stack_bytes: 512 * 1024,
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
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
    /// The task's input does not describe an evaluation.
    #[error("{0}")]
    Invalid(String),
}

impl ScriptError {
    /// A failure with no line to point at.
    pub fn failed(message: impl Into<String>) -> ScriptError {
        ScriptError::Failed {
            message: message.into(),
            line: None,
        }
    }

    /// Whether trying the same evaluation again cannot help (Conductor fails a script
    /// that throws, or bad input, for good; a time-out may pass on a quieter machine).
    pub fn is_terminal(&self) -> bool {
        matches!(self, ScriptError::Failed { .. } | ScriptError::Invalid(_))
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

    /// The limits evaluations run with.
    pub fn limits(&self) -> &ScriptLimits {
        &self.limits
    }

    /// Evaluates `script` with `$` bound to `input`; its completion value (the value
    /// of its last statement), as JSON. `undefined` and functions are `null`.
    pub async fn javascript(&self, script: &str, input: &Value) -> Result<Value, ScriptError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| ScriptError::Invalid("the script engine is shutting down".into()))?;
        let input = input.to_string();
        let script = script.to_string();
        let limits = self.limits.clone();
        let evaluation = tokio::task::spawn_blocking(move || {
            let result = evaluate(&script, &input, &limits);
            drop(permit);
            result
        });
        evaluation
            .await
            .map_err(|_| ScriptError::failed("the evaluation stopped unexpectedly"))?
    }
}

/// One evaluation, on the calling thread.
pub fn evaluate(script: &str, input: &str, limits: &ScriptLimits) -> Result<Value, ScriptError> {
    let broken = |what: &str, err: rquickjs::Error| {
        ScriptError::failed(format!("the script engine could not {what}: {err}"))
    };
    let runtime = JsRuntime::new().map_err(|e| broken("start", e))?;
    runtime.set_memory_limit(limits.max_memory_bytes);
    runtime.set_max_stack_size(limits.max_stack_bytes);
    let started = Instant::now();
    let deadline = started + limits.max_time;
    let interrupted = Arc::new(AtomicBool::new(false));
    let flag = interrupted.clone();
    runtime.set_interrupt_handler(Some(Box::new(move || {
        let late = Instant::now() >= deadline;
        if late {
            flag.store(true, Ordering::Relaxed);
        }
        late
    })));
    let context = Context::custom::<(
        intrinsic::Date,
        intrinsic::Eval,
        intrinsic::Json,
        intrinsic::RegExpCompiler,
        intrinsic::RegExp,
        intrinsic::MapSet,
    )>(&runtime)
    .map_err(|e| broken("make a context", e))?;
    let outcome = context.with(|ctx| run(&ctx, script, input));
    let out_of_memory = || ScriptError::OutOfMemory(limits.max_memory_bytes / (1024 * 1024));
    match outcome {
        Ok(value) => Ok(value),
        Err(_) if interrupted.load(Ordering::Relaxed) => {
            Err(ScriptError::TimedOut(limits.max_time.as_millis()))
        }
        Err(thrown) if thrown.message.contains("out of memory") => Err(out_of_memory()),
        // With the heap full, QuickJS cannot even make the error it throws.
        Err(thrown)
            if thrown.nothing
                && usize::try_from(runtime.memory_usage().malloc_size).unwrap_or(0)
                    >= limits.max_memory_bytes / 2 =>
        {
            Err(out_of_memory())
        }
        Err(thrown) => Err(ScriptError::Failed {
            message: thrown.message,
            line: thrown.line,
        }),
    }
}

/// What a script threw, as text, and the line when known; `nothing` when it was
/// `null` or `undefined`.
struct Thrown {
    message: String,
    line: Option<i32>,
    nothing: bool,
}

impl Thrown {
    fn text(message: String) -> Thrown {
        Thrown {
            message,
            line: None,
            nothing: false,
        }
    }
}

fn run(ctx: &Ctx<'_>, script: &str, input: &str) -> Result<Value, Thrown> {
    let input = ctx.json_parse(input).catch(ctx).map_err(|e| caught(&e))?;
    ctx.globals()
        .set("$", input)
        .catch(ctx)
        .map_err(|e| caught(&e))?;
    let mut options = EvalOptions::default();
    // Conductor's scripts are sloppy-mode scripts (assigning undeclared names).
    options.strict = false;
    let value: rquickjs::Value = ctx
        .eval_with_options(script, options)
        .catch(ctx)
        .map_err(|e| caught(&e))?;
    let text = ctx
        .json_stringify(value)
        .catch(ctx)
        .map_err(|e| caught(&e))?;
    let Some(text) = text else {
        return Ok(Value::Null);
    };
    let text = text
        .to_string()
        .map_err(|e| Thrown::text(format!("the value is not text: {e}")))?;
    serde_json::from_str(&text).map_err(|e| Thrown::text(format!("the value is not JSON: {e}")))
}

/// An error's message, with the line it was thrown at when known.
fn caught(error: &CaughtError<'_>) -> Thrown {
    match error {
        CaughtError::Exception(exception) => {
            let message = exception
                .message()
                .unwrap_or_else(|| "an exception without a message".to_string());
            let line = exception
                .get::<_, Option<i32>>("lineNumber")
                .ok()
                .flatten()
                .or_else(|| exception.stack().as_deref().and_then(line_of));
            Thrown {
                message,
                line: line.filter(|l| *l > 0),
                nothing: false,
            }
        }
        CaughtError::Value(value) => match value.as_string().and_then(|s| s.to_string().ok()) {
            Some(text) => Thrown::text(text),
            None => Thrown {
                message: format!("a {} was thrown", value.type_name()),
                line: None,
                nothing: value.is_null() || value.is_undefined(),
            },
        },
        CaughtError::Error(error) => Thrown::text(error.to_string()),
    }
}

/// The line of the innermost frame of a QuickJS stack (`    at f (file:LINE:COL)`).
fn line_of(stack: &str) -> Option<i32> {
    let frame = stack
        .lines()
        .find(|line| line.trim_start().starts_with("at "))?;
    let place = frame.rsplit_once('(')?.1.strip_suffix(')')?;
    let mut parts = place.rsplit(':');
    let _column = parts.next()?;
    parts.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn quick() -> ScriptLimits {
        ScriptLimits {
            max_time: Duration::from_millis(300),
            max_memory_bytes: 16 * 1024 * 1024,
            ..ScriptLimits::default()
        }
    }

    fn eval(script: &str, input: Value) -> Result<Value, ScriptError> {
        evaluate(script, &input.to_string(), &quick())
    }

    #[test]
    fn the_completion_value_over_the_input() {
        assert_eq!(eval("$.a + $.b", json!({"a": 1, "b": 2})), Ok(json!(3)));
        assert_eq!(
            eval(
                "function f() { return {sum: $.xs.reduce((a, b) => a + b, 0), half: 1.5}; } f();",
                json!({"xs": [1, 2, 3]})
            ),
            Ok(json!({"sum": 6, "half": 1.5}))
        );
        // Sloppy mode, as Conductor's scripts are written.
        assert_eq!(eval("c = $.f * 2; c", json!({"f": 21})), Ok(json!(42)));
        assert_eq!(eval("undefined", json!({})), Ok(Value::Null));
        assert_eq!(eval("(function(){})", json!({})), Ok(Value::Null));
        assert_eq!(eval("'x'.repeat(3)", json!({})), Ok(json!("xxx")));
        assert_eq!(
            eval("[1, 'a', null, true]", json!({})),
            Ok(json!([1, "a", null, true]))
        );
    }

    #[test]
    fn errors_name_what_was_thrown() {
        let Err(failed) = eval("1;\nnull.x", json!({})) else {
            panic!("a failure");
        };
        let text = failed.to_string();
        assert!(
            text.starts_with("Error evaluating the script `") && text.contains("null"),
            "{text}"
        );
        assert!(text.ends_with("` at line 2"), "{text}");
        assert_eq!(
            eval("throw 'nope'", json!({})),
            Err(ScriptError::failed("nope"))
        );
        assert!(matches!(
            eval("a = {}; a.self = a; a", json!({})),
            Err(ScriptError::Failed { .. })
        ));
        assert!(matches!(
            eval("this is not javascript", json!({})),
            Err(ScriptError::Failed { .. })
        ));
        assert!(ScriptError::failed("").is_terminal());
        assert!(!ScriptError::TimedOut(1).is_terminal());
    }

    #[test]
    fn an_endless_loop_is_interrupted() {
        let started = Instant::now();
        assert_eq!(
            eval("while (true) {}", json!({})),
            Err(ScriptError::TimedOut(300))
        );
        // A script cannot catch the interruption and go on.
        assert_eq!(
            eval(
                "for (;;) { try { while (true) {} } catch (e) {} }",
                json!({})
            ),
            Err(ScriptError::TimedOut(300))
        );
        assert!(started.elapsed() < Duration::from_secs(5));
    }

    #[test]
    fn a_huge_allocation_fails_alone() {
        assert_eq!(
            eval(
                "var kept = []; while (true) { kept.push(new Array(1000).fill(1)); }",
                json!({})
            ),
            Err(ScriptError::OutOfMemory(16))
        );
        // A string past QuickJS's length limit (ropes keep its memory small).
        assert_eq!(
            eval("let s = 'x'; while (true) { s = s + s; }", json!({})),
            Err(ScriptError::Failed {
                message: "string too long".into(),
                line: Some(1)
            })
        );
        assert_eq!(
            eval("new Array(1e9).fill(0).length", json!({})),
            Err(ScriptError::OutOfMemory(16))
        );
        // Deep recursion is an error, not a crash.
        assert!(matches!(
            eval("function f(n) { return f(n + 1) + 1; } f(0)", json!({})),
            Err(ScriptError::Failed { .. })
        ));
        // The next evaluation is unaffected.
        assert_eq!(eval("1 + 1", json!({})), Ok(json!(2)));
    }

    #[test]
    fn nothing_outside_the_language_is_reachable() {
        for name in [
            "require",
            "process",
            "std",
            "os",
            "fetch",
            "XMLHttpRequest",
            "setTimeout",
            "console",
            "print",
            "performance",
        ] {
            let script = format!("typeof globalThis['{name}']");
            assert_eq!(eval(&script, json!({})), Ok(json!("undefined")), "{name}");
        }
    }

    #[tokio::test]
    async fn evaluations_run_off_the_async_threads() {
        let scripts = Scripts::new(quick());
        let value = scripts.javascript("$.n * 2", &json!({"n": 4})).await;
        assert_eq!(value, Ok(json!(8)));
    }
}
