//! One evaluation in QuickJS (`docs/adr/0007-script-engine.md`): a fresh runtime
//! with a heap limit, a stack limit and a deadline the interpreter checks as it
//! runs. The script sees its task's input as `$` and nothing else: the context has
//! the language's own objects (`JSON`, `Math`, `Date`, `RegExp`, `Map`, `Set`, ...)
//! and no module loader, file, network, process or timer API. Some built-ins loop in
//! C without looking at the deadline; the process that runs this (`runner`) is
//! killed when it passes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

use rquickjs::context::EvalOptions;
use rquickjs::context::intrinsic;
use rquickjs::{CatchResultExt, CaughtError, Context, Ctx, Runtime as JsRuntime};
use serde_json::Value;

use super::{ScriptError, ScriptLimits};

/// One evaluation, on the calling thread: the completion value as parsed JSON.
pub fn evaluate(script: &str, input: &str, limits: &ScriptLimits) -> Result<Value, ScriptError> {
    let text = evaluate_to_json(script, input, limits)?;
    serde_json::from_str(&text)
        .map_err(|e| ScriptError::failed(format!("the value is not JSON: {e}")))
}

/// One evaluation, on the calling thread: the completion value as JSON text (`null`
/// for `undefined` and functions), at most `limits.max_result_bytes` long.
pub fn evaluate_to_json(
    script: &str,
    input: &str,
    limits: &ScriptLimits,
) -> Result<String, ScriptError> {
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
    let outcome = context.with(|ctx| run(&ctx, script, input, limits.max_result_bytes));
    let out_of_memory = || ScriptError::OutOfMemory(limits.max_memory_bytes / (1024 * 1024));
    match outcome {
        Ok(value) => Ok(value),
        Err(_) if interrupted.load(Ordering::Relaxed) => {
            Err(ScriptError::TimedOut(limits.max_time.as_millis()))
        }
        Err(thrown) if thrown.too_large => Err(ScriptError::Invalid(thrown.message)),
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
    /// The value was too large to hand back.
    too_large: bool,
}

impl Thrown {
    fn text(message: String) -> Thrown {
        Thrown {
            message,
            line: None,
            nothing: false,
            too_large: false,
        }
    }
}

fn run(ctx: &Ctx<'_>, script: &str, input: &str, max_bytes: usize) -> Result<String, Thrown> {
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
        return Ok("null".to_string());
    };
    let text = text
        .to_string()
        .map_err(|e| Thrown::text(format!("the value is not text: {e}")))?;
    if text.len() > max_bytes {
        return Err(Thrown {
            message: format!(
                "The script's value is {} bytes of JSON, more than the permissible limit: {max_bytes} bytes",
                text.len()
            ),
            line: None,
            nothing: false,
            too_large: true,
        });
    }
    Ok(text)
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
                too_large: false,
            }
        }
        CaughtError::Value(value) => match value.as_string().and_then(|s| s.to_string().ok()) {
            Some(text) => Thrown::text(text),
            None => Thrown {
                message: format!("a {} was thrown", value.type_name()),
                line: None,
                nothing: value.is_null() || value.is_undefined(),
                too_large: false,
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
    use std::time::Duration;

    fn quick() -> ScriptLimits {
        ScriptLimits {
            max_time: Duration::from_millis(300),
            max_memory_bytes: 16 * 1024 * 1024,
            max_result_bytes: 64 * 1024,
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
    fn a_value_too_large_to_hand_back_is_refused() {
        let Err(ScriptError::Invalid(message)) =
            eval("Array(1000).fill('x'.repeat(100))", json!({}))
        else {
            panic!("refused");
        };
        assert!(
            message.contains("more than the permissible limit: 65536 bytes"),
            "{message}"
        );
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
}
