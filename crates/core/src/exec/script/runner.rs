//! Evaluations in a process of their own. The server starts `podium script-runner`
//! for each evaluation, writes one request to its standard input and reads one
//! answer from its standard output; past the deadline (plus a moment to start) it
//! kills the process, so a built-in that loops in C without looking at the
//! deadline, or a crash in the engine, ends that process and fails that task only.
//! The process gets no environment (no setting or secret of the server's) but
//! one allocator setting.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::{ScriptError, ScriptLimits, sandbox};

/// How long a runner process may take to start and answer beyond the deadline.
const START_GRACE: Duration = Duration::from_millis(1500);

/// The languages a runner evaluates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// JavaScript in QuickJS: the answer is the completion value.
    #[default]
    Javascript,
    /// A jq program: the answer is the list of its outputs.
    Jq,
}

/// What the server asks a runner.
#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
struct Request {
    #[serde(default)]
    language: Language,
    script: String,
    input: Value,
    max_millis: u64,
    max_memory_bytes: usize,
    max_stack_bytes: usize,
    max_result_bytes: usize,
}

/// The runner's side: reads one request, confines the process for it with
/// `confine` (given the evaluation's memory limit in bytes: it caps the memory and
/// locks the process down; an evaluation it cannot confine is refused), evaluates
/// it, and writes one answer (`{"ok": value}` or
/// `{"error": {"kind", "message", "line"}}`).
pub fn serve(
    mut input: impl Read,
    mut output: impl Write,
    confine: impl FnOnce(usize) -> Result<(), String>,
) -> std::io::Result<()> {
    let mut text = String::new();
    input.read_to_string(&mut text)?;
    let answer = match serde_json::from_str::<Request>(&text) {
        Ok(request) => {
            let limits = ScriptLimits {
                max_time: Duration::from_millis(request.max_millis),
                max_memory_bytes: request.max_memory_bytes,
                max_stack_bytes: request.max_stack_bytes,
                max_result_bytes: request.max_result_bytes,
                max_concurrent: 1,
                runner: None,
            };
            let input = request.input.to_string();
            drop(text);
            let confined = confine(limits.max_memory_bytes).map_err(|why| {
                ScriptError::Invalid(format!(
                    "the script sandbox cannot confine its process: {why}"
                ))
            });
            let value = confined.and_then(|()| match request.language {
                Language::Javascript => sandbox::evaluate_to_json(&request.script, &input, &limits),
                Language::Jq => {
                    super::jq::transform(&request.script, &input, limits.max_result_bytes)
                        .map(|outputs| format!("[{}]", outputs.join(",")))
                }
            });
            match value {
                Ok(json) => format!("{{\"ok\":{json}}}"),
                Err(err) => json!({"error": error_json(&err)}).to_string(),
            }
        }
        Err(err) => json!({"error": {"kind": "invalid",
            "message": format!("the script runner cannot read its request: {err}")}})
        .to_string(),
    };
    output.write_all(answer.as_bytes())?;
    output.flush()
}

fn error_json(err: &ScriptError) -> Value {
    match err {
        ScriptError::TimedOut(ms) => json!({"kind": "timeout", "millis": ms.to_string()}),
        ScriptError::OutOfMemory(mib) => json!({"kind": "memory", "mib": mib}),
        ScriptError::Failed { message, line } => {
            json!({"kind": "failed", "message": message, "line": line})
        }
        ScriptError::Invalid(message) => json!({"kind": "invalid", "message": message}),
        ScriptError::Stopped(status) => json!({"kind": "invalid", "message": status}),
    }
}

fn error_of(value: &Value, limits: &ScriptLimits) -> ScriptError {
    let text = |key: &str| value.get(key).and_then(Value::as_str).unwrap_or_default();
    match text("kind") {
        "timeout" => ScriptError::TimedOut(limits.max_time.as_millis()),
        "memory" => ScriptError::OutOfMemory(limits.max_memory_bytes / (1024 * 1024)),
        "failed" => ScriptError::Failed {
            message: text("message").to_string(),
            line: value
                .get("line")
                .and_then(Value::as_i64)
                .and_then(|l| i32::try_from(l).ok()),
        },
        _ => ScriptError::Invalid(text("message").to_string()),
    }
}

/// The server's side: one evaluation in a new `script-runner` process of `runner`.
pub async fn in_child(
    runner: &Path,
    language: Language,
    script: &str,
    input: &Value,
    limits: &ScriptLimits,
) -> Result<Value, ScriptError> {
    let request = serde_json::to_vec(&Request {
        language,
        script: script.to_string(),
        input: input.clone(),
        max_millis: u64::try_from(limits.max_time.as_millis()).unwrap_or(u64::MAX),
        max_memory_bytes: limits.max_memory_bytes,
        max_stack_bytes: limits.max_stack_bytes,
        max_result_bytes: limits.max_result_bytes,
    })
    .map_err(|e| ScriptError::failed(format!("the request cannot be written: {e}")))?;
    let broken = |what: &str, err: std::io::Error| {
        ScriptError::failed(format!("the script runner {what}: {err}"))
    };
    let mut child = tokio::process::Command::new(runner)
        .arg("script-runner")
        .env_clear()
        // The runner caps its address space; the allocator of the `podium` binary
        // (mimalloc) would otherwise reserve a gigabyte of it up front.
        .env("MIMALLOC_ARENA_RESERVE", "0")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .map_err(|e| broken("cannot start", e))?;
    let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
        return Err(ScriptError::failed("the script runner has no pipes"));
    };
    // An answer is the value and a little framing.
    let most = u64::try_from(limits.max_result_bytes).unwrap_or(u64::MAX) + 4096;
    let exchange = async {
        stdin.write_all(&request).await?;
        drop(stdin);
        let mut answer = Vec::new();
        stdout.take(most).read_to_end(&mut answer).await?;
        Ok::<_, std::io::Error>(answer)
    };
    let answer = match tokio::time::timeout(limits.max_time + START_GRACE, exchange).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(err)) => {
            let _ = child.kill().await;
            return Err(broken("stopped answering", err));
        }
        Err(_) => {
            let _ = child.kill().await;
            return Err(ScriptError::TimedOut(limits.max_time.as_millis()));
        }
    };
    let status = match tokio::time::timeout(START_GRACE, child.wait()).await {
        Ok(Ok(status)) => Some(status),
        _ => {
            let _ = child.kill().await;
            None
        }
    };
    match serde_json::from_slice::<Value>(&answer) {
        Ok(Value::Object(mut map)) if map.contains_key("ok") => {
            Ok(map.remove("ok").unwrap_or(Value::Null))
        }
        Ok(Value::Object(map)) if map.contains_key("error") => Err(error_of(&map["error"], limits)),
        // An abort: the runner's memory cap or its stack was exceeded.
        _ => Err(ScriptError::Stopped(match status {
            Some(status) => status.to_string(),
            None => "no exit status".to_string(),
        })),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exchange(request: Value) -> Value {
        let mut out = Vec::new();
        let mut capped = None;
        serve(request.to_string().as_bytes(), &mut out, |bytes| {
            capped = Some(bytes);
            Ok(())
        })
        .expect("served");
        if request.get("maxMemoryBytes").is_some() {
            assert_eq!(
                capped,
                request["maxMemoryBytes"].as_u64().map(|b| b as usize)
            );
        }
        serde_json::from_slice(&out).expect("an answer")
    }

    fn request(script: &str) -> Value {
        json!({"script": script, "input": {"n": 2}, "maxMillis": 300,
               "maxMemoryBytes": 16 << 20, "maxStackBytes": 256 << 10, "maxResultBytes": 1024})
    }

    #[test]
    fn a_runner_answers_values_and_errors() {
        assert_eq!(exchange(request("$.n * 21")), json!({"ok": 42}));
        let limits = ScriptLimits {
            max_time: Duration::from_millis(300),
            max_memory_bytes: 16 << 20,
            ..ScriptLimits::default()
        };
        let error = exchange(request("while (true) {}"));
        assert_eq!(
            error_of(&error["error"], &limits),
            ScriptError::TimedOut(300)
        );
        let error = exchange(request("null.x"));
        assert!(matches!(
            error_of(&error["error"], &limits),
            ScriptError::Failed { line: Some(1), .. }
        ));
        let error = exchange(request("'x'.repeat(5000)"));
        assert!(matches!(
            error_of(&error["error"], &limits),
            ScriptError::Invalid(_)
        ));
        let error = exchange(json!({"nonsense": true}));
        assert_eq!(error["error"]["kind"], "invalid");
        let mut jq = request(".n, .n * 10");
        jq["language"] = json!("jq");
        assert_eq!(exchange(jq), json!({"ok": [2, 20]}));
    }
}
