//! The expression resolver's tests: Conductor's typing and stringifying rules, and
//! the bounds that stop a resolution before it does unbounded work.

use super::*;
use crate::model::TaskStatus;
use serde_json::json;

fn map(v: Value) -> JsonMap {
    match v {
        Value::Object(m) => m,
        _ => JsonMap::new(),
    }
}

struct Fixture {
    input: JsonMap,
    output: JsonMap,
    variables: JsonMap,
    tasks: Vec<Task>,
    limits: EngineLimits,
}

impl Fixture {
    fn new() -> Fixture {
        let t1 = Task {
            reference_task_name: "t1".into(),
            task_type: "SIMPLE".into(),
            status: TaskStatus::Completed,
            task_id: "task-1".into(),
            output_data: map(
                json!({"items": [{"id": 1, "a": 5}, {"id": 2, "a": 0}], "name": "x", "nested": {"k": [1, 2]}}),
            ),
            input_data: map(json!({"p": 1})),
            ..Task::default()
        };
        Fixture {
            input: map(
                json!({"x": 1, "s": "text", "obj": {"a": 1, "b": [1, 2]}, "key": "name", "list": [1, 2, 3]}),
            ),
            output: JsonMap::new(),
            variables: map(json!({"v": true})),
            tasks: vec![t1],
            limits: EngineLimits::default(),
        }
    }

    fn ctx(&self) -> ExprContext<'_> {
        ExprContext {
            workflow: WorkflowFields {
                input: &self.input,
                output: &self.output,
                variables: &self.variables,
                status: "RUNNING",
                workflow_id: "wf-1",
                parent_workflow_id: None,
                parent_workflow_task_id: None,
                workflow_type: "demo",
                version: 3,
                correlation_id: Some("corr"),
                reason_for_incompletion: None,
                schema_version: 2,
            },
            tasks: &self.tasks,
            document: None,
            task_id: Some("task-9"),
            limits: &self.limits,
        }
    }
}

fn resolve(text: &str) -> Value {
    let f = Fixture::new();
    resolve_value(&json!(text), &f.ctx()).expect("within the limits")
}

#[test]
fn whole_expressions_keep_their_type() {
    assert_eq!(resolve("${workflow.input.x}"), json!(1));
    assert_eq!(
        resolve("${workflow.input.obj}"),
        json!({"a": 1, "b": [1, 2]})
    );
    assert_eq!(resolve("${workflow.variables.v}"), json!(true));
    assert_eq!(resolve("${t1.output.items[1].id}"), json!(2));
    assert_eq!(resolve("${t1.output['name']}"), json!("x"));
    assert_eq!(resolve("${workflow.version}"), json!(3));
    assert_eq!(resolve("${workflow.workflowId}"), json!("wf-1"));
    assert_eq!(resolve("${t1.status}"), json!("COMPLETED"));
    assert_eq!(resolve("${CPEWF_TASK_ID}"), json!("task-9"));
}

#[test]
fn missing_paths_are_null() {
    assert_eq!(resolve("${workflow.input.nope}"), Value::Null);
    assert_eq!(resolve("${unknown.output.x}"), Value::Null);
    assert_eq!(resolve("${t1.output.items[9].id}"), Value::Null);
    assert_eq!(
        resolve("value: ${workflow.input.nope}"),
        json!("value: null")
    );
}

#[test]
fn embedded_expressions_are_stringified_like_java() {
    assert_eq!(resolve("x=${workflow.input.x}!"), json!("x=1!"));
    assert_eq!(
        resolve("o=${workflow.input.obj}"),
        json!("o={a=1, b=[1, 2]}")
    );
    assert_eq!(
        resolve("${workflow.input.s}-${workflow.input.x}"),
        json!("text-1")
    );
}

#[test]
fn escapes_and_nesting() {
    assert_eq!(
        resolve("$${workflow.input.x}"),
        json!("${workflow.input.x}")
    );
    assert_eq!(resolve("${t1.output.${workflow.input.key}}"), json!("x"));
    assert_eq!(resolve("${}"), json!(""));
    assert_eq!(resolve("no expression"), json!("no expression"));
}

#[test]
fn secrets_stay_literal() {
    assert_eq!(
        resolve("${workflow.secrets.api_key}"),
        json!("${workflow.secrets.api_key}")
    );
    assert_eq!(
        resolve("Bearer ${workflow.secrets.api_key}"),
        json!("Bearer ${workflow.secrets.api_key}")
    );
}

#[test]
fn jsonpath_filters_and_wildcards() {
    assert_eq!(resolve("${t1.output.items[*].id}"), json!([1, 2]));
    assert_eq!(resolve("${t1.output.items[?(@.a > 1)].id}"), json!([1]));
    assert_eq!(resolve("${workflow.input.list.length()}"), json!(3));
}

#[test]
fn maps_and_lists_resolve_recursively() {
    let f = Fixture::new();
    let params = map(
        json!({"a": "${workflow.input.x}", "b": ["${t1.output.name}", 2], "c": {"d": "${workflow.correlationId}"}}),
    );
    let out = resolve_map(&params, &f.ctx()).expect("within the limits");
    assert_eq!(
        Value::Object(out),
        json!({"a": 1, "b": ["x", 2], "c": {"d": "corr"}})
    );
}

fn resolve_err(f: &Fixture, text: &str) -> ExprError {
    resolve_map(&map(json!({ "p": text })), &f.ctx()).expect_err("past a bound")
}

#[test]
fn deep_nesting_stops_before_it_recurses() {
    let f = Fixture::new();
    // Deep enough to overflow the stack of a resolver that does not count.
    let deep = format!("{}workflow.input.x{}", "${".repeat(5000), "}".repeat(5000));
    let err = resolve_err(&f, &deep);
    assert_eq!(err.parameter.as_deref(), Some("p"));
    assert_eq!(err.bound, Bound::Nesting { limit: 16 });
    assert!(
        err.to_string().contains("nested more than 16 levels"),
        "{err}"
    );
    // Sixteen levels resolve.
    let within = format!("{}workflow.input.x{}", "${".repeat(16), "}".repeat(16));
    assert_eq!(expression_nesting(&within, 100), 16);
    assert!(resolve_value(&json!(within), &f.ctx()).is_ok());
    assert_eq!(expression_nesting(&deep, 20), 21);
}

#[test]
fn copies_are_measured_before_they_are_made() {
    let mut f = Fixture::new();
    f.input.insert("big".into(), json!("x".repeat(1024 * 1024)));
    f.limits.max_payload_bytes = 10 * 1024 * 1024;
    // Fifty whole copies of a 1 MiB input: stopped once past the limit.
    let params: JsonMap = (0..50)
        .map(|i| (format!("p{i}"), json!("${workflow.input.big}")))
        .collect();
    let err = resolve_map(&params, &f.ctx()).expect_err("too large");
    match err.bound {
        Bound::Size { at_least, limit } => {
            assert_eq!(limit, 10 * 1024 * 1024);
            assert!(
                at_least > limit && at_least < 12 * 1024 * 1024,
                "{at_least}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Embedded in text, through JSONPath, or as the whole root: the same budget.
    let embedded = vec!["${workflow.input.big}"; 20].join(" ");
    assert!(matches!(
        resolve_err(&f, &embedded).bound,
        Bound::Size { .. }
    ));
    let params: JsonMap = (0..20)
        .map(|i| (format!("p{i}"), json!("${workflow.input['big','x']}")))
        .collect();
    assert!(matches!(
        resolve_map(&params, &f.ctx()).expect_err("too large").bound,
        Bound::Size { .. }
    ));
    let params: JsonMap = (0..20)
        .map(|i| (format!("p{i}"), json!("${workflow}")))
        .collect();
    assert!(resolve_map(&params, &f.ctx()).is_err());
    // Nine copies fit.
    let params: JsonMap = (0..9)
        .map(|i| (format!("p{i}"), json!("${workflow.input.big}")))
        .collect();
    assert!(resolve_map(&params, &f.ctx()).is_ok());
}

#[test]
fn expressions_and_queries_are_counted() {
    let mut f = Fixture::new();
    f.limits.max_expressions = 10;
    f.limits.max_path_queries = 3;
    let many = ["${workflow.input.x}"; 11].join(",");
    assert_eq!(
        resolve_err(&f, &many).bound,
        Bound::Expressions { limit: 10 }
    );
    let queries = ["${t1.output.items[*].id}"; 4].join(",");
    assert_eq!(
        resolve_err(&f, &queries).bound,
        Bound::PathQueries { limit: 3 }
    );
    let within = ["${t1.output.items[*].id}"; 3].join(",");
    assert_eq!(resolve(&within), json!("[1, 2],[1, 2],[1, 2]"));
}

#[test]
fn hostile_paths_resolve_to_null_or_stop() {
    // Repeated length() is the length of a number: null, without recursing on it.
    let lengths = format!("${{workflow.input.list{}}}", ".length()".repeat(100_000));
    assert_eq!(resolve(&lengths), Value::Null);
    assert_eq!(resolve("${workflow.input.list.length()}"), json!(3));
    // A JSONPath nested past what its parser may be given reads as null.
    let deep = format!(
        "${{t1.output.items[?{}@.a > 1{}]}}",
        "(".repeat(5000),
        ")".repeat(5000)
    );
    assert_eq!(resolve(&deep), Value::Null);
    // A dynamic path built from data is bounded the same way.
    let mut f = Fixture::new();
    f.input.insert(
        "path".into(),
        json!(format!(
            "items[?{}@.a{}]",
            "(".repeat(5000),
            ")".repeat(5000)
        )),
    );
    assert_eq!(
        resolve_value(&json!("${t1.output.${workflow.input.path}}"), &f.ctx()),
        Ok(Value::Null)
    );
    // An index past the start of a list is missing, not an overflow.
    assert_eq!(
        resolve(&format!("${{workflow.input.list[{}]}}", i64::MIN)),
        Value::Null
    );
}

#[test]
fn queries_see_only_the_root_they_name() {
    let f = Fixture::new();
    // A path that starts with a task sees that task as the whole document would.
    assert_eq!(resolve("${t1.output.items[?(@.a > 1)].a}"), json!([5]));
    assert_eq!(resolve("${$.t1.output.name}"), json!("x"));
    // Paths that start elsewhere see everything.
    assert_eq!(resolve("${$..name}"), json!(["x"]));
    assert_eq!(resolve("${['workflow'].input.x}"), json!(1));
    assert!(resolve_value(&json!("${nosuch.output[*]}"), &f.ctx()) == Ok(json!([])));
}

#[test]
fn event_parameters_read_paths_from_the_payload_alone() {
    let payload = json!({"workflowInstanceId": "w-1", "order": {"id": 7, "items": [1, 2]},
                          "workflow": {"input": {"x": "not a workflow"}}});
    let limits = EngineLimits::default();
    let params = json!({
        "workflowId": "${workflowInstanceId}",
        "same": "${$.workflowInstanceId}",
        "id": "${order.id}",
        "count": "${order.items.length()}",
        "all": "${order.items[*]}",
        "text": "order ${order.id} of ${workflowInstanceId}",
        "nested": "${workflow.input.x}",
        "missing": "${nothing.here}",
        "secret": "${workflow.secrets.token}",
        "escaped": "$${literal}"
    });
    let resolved = resolve_in_document(&params, &payload, &limits).unwrap_or_default();
    assert_eq!(
        resolved,
        json!({"workflowId": "w-1", "same": "w-1", "id": 7, "count": 2, "all": [1, 2],
               "text": "order 7 of w-1", "nested": "not a workflow", "missing": null,
               "secret": "${workflow.secrets.token}", "escaped": "${literal}"})
    );
    let whole = resolve_in_document(&json!("${$}"), &payload, &limits).unwrap_or_default();
    assert_eq!(whole, payload);
}
