//! Conductor's `${...}` expressions: a fuzzed template resolved against a fuzzed
//! workflow (input, output, variables and tasks), as the engine resolves a task's
//! input, and checked as registration checks a definition. Resolution stays within its
//! bounds and never overflows the stack of a server thread.
#![no_main]

#[path = "repeat.rs"]
mod repeat;

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use podium_core::engine::context::EngineLimits;
use podium_core::engine::expr::{
    self, ExprContext, WorkflowFields, expression_nesting, expression_spans, select,
};
use podium_core::model::{JsonMap, Task, WorkflowDef, WorkflowTask};
use podium_core::service::validation;
use serde_json::{Value, json};

fn map(value: Option<&Value>) -> JsonMap {
    value
        .and_then(Value::as_object)
        .cloned()
        .unwrap_or_default()
}

/// The workflow the template is resolved against: `{"input", "output", "variables",
/// "tasks": [{"ref", "input", "output", "loop"}]}`, or a fixed one.
struct Context {
    input: JsonMap,
    output: JsonMap,
    variables: JsonMap,
    tasks: Vec<Task>,
    limits: EngineLimits,
}

impl Context {
    fn from(value: Option<Value>) -> Context {
        let value = value.unwrap_or_else(|| {
            json!({"input": {"x": 1, "s": "t", "list": [1, 2, {"a": 3}], "key": "name"},
                   "tasks": [{"ref": "t1", "output": {"items": [{"id": 1, "a": 5}], "name": "x"}}]})
        });
        let tasks = value
            .get("tasks")
            .and_then(Value::as_array)
            .map(|tasks| {
                tasks
                    .iter()
                    .take(16)
                    .map(|t| Task {
                        reference_task_name: t
                            .get("ref")
                            .and_then(Value::as_str)
                            .unwrap_or("t")
                            .to_string(),
                        loop_over_task: t.get("loop").and_then(Value::as_bool).unwrap_or(false),
                        input_data: map(t.get("input")),
                        output_data: map(t.get("output")),
                        ..Task::default()
                    })
                    .collect()
            })
            .unwrap_or_default();
        Context {
            input: map(value.get("input")),
            output: map(value.get("output")),
            variables: map(value.get("variables")),
            tasks,
            limits: EngineLimits {
                max_payload_bytes: 1024 * 1024,
                ..EngineLimits::default()
            },
        }
    }

    fn expr(&self) -> ExprContext<'_> {
        ExprContext {
            workflow: WorkflowFields {
                input: &self.input,
                output: &self.output,
                variables: &self.variables,
                status: "RUNNING",
                workflow_id: "wf",
                parent_workflow_id: None,
                parent_workflow_task_id: None,
                workflow_type: "fuzz",
                version: 1,
                correlation_id: None,
                reason_for_incompletion: None,
                schema_version: 2,
            },
            tasks: &self.tasks,
            task_id: Some("task"),
            document: None,
            limits: &self.limits,
        }
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    repeat::mutate(data, size, max_size, seed)
});

fuzz_target!(|data: &[u8]| {
    // template \0 context-json
    let (template, context) = match data.iter().position(|b| *b == 0) {
        Some(at) => (&data[..at], Some(&data[at + 1..])),
        None => (data, None),
    };
    let template = String::from_utf8_lossy(template).into_owned();
    let context = context.and_then(|bytes| serde_json::from_slice::<Value>(bytes).ok());
    let ctx = Context::from(context);
    // The template as a JSON value when it is one (maps and lists are walked),
    // else as one string.
    let params = match serde_json::from_str::<Value>(&template) {
        Ok(Value::Object(map)) => map,
        Ok(other) => JsonMap::from_iter([("p".to_string(), other)]),
        Err(_) => JsonMap::from_iter([("p".to_string(), Value::String(template.clone()))]),
    };
    let _ = expr::resolve_map(&params, &ctx.expr());
    let _ = expr::resolve_value(&Value::String(template.clone()), &ctx.expr());
    for span in expression_spans(&template) {
        assert!(
            template.get(span.clone()).is_some(),
            "{span:?} splits a character"
        );
    }
    let _ = expression_nesting(&template, 16);
    let _ = select(&Value::Object(ctx.input.clone()), &template);
    // As registration checks it.
    let def = WorkflowDef {
        name: "fuzz".into(),
        tasks: vec![WorkflowTask {
            name: "t".into(),
            task_reference_name: "t".into(),
            input_parameters: params,
            ..WorkflowTask::default()
        }],
        ..WorkflowDef::default()
    };
    let _ = validation::workflow_def(&def);
});
