//! Request decoding as the server does it: JSON bodies decoded into the wire types of
//! the start, task-result, definition, rerun and skip routes with the SDK-tolerant
//! extractor, then what the services do first with them (validation, payload checks,
//! masking, walking a definition's graph); plain-string bodies in either SDK's
//! encoding; and query strings. A body is accepted or refused with a 400, and nothing
//! overflows the stack of a server thread.
#![no_main]

#[path = "repeat.rs"]
mod repeat;

use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};

use axum::extract::FromRequestParts;
use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use podium_core::engine::{graph, payload};
use podium_core::error::CoreError;
use podium_core::model::{
    JsonMap, RerunWorkflowRequest, SkipTaskRequest, StartWorkflowRequest, TaskDef, TaskResult,
    WorkflowDef,
};
use podium_core::service::{handoff, masking, validation};
use podium_server::http::error::ApiError;
use podium_server::http::extract::{Params, decode_string_body, parse_json};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Decodes a body; a refusal must be the client's mistake.
fn decode<T: DeserializeOwned>(body: &[u8]) -> Option<T> {
    match parse_json::<T>(body) {
        Ok(value) => Some(value),
        Err(ApiError::Core(CoreError::InvalidInput { .. })) => None,
        Err(other) => panic!("a body is a client's mistake, not {other:?}"),
    }
}

/// What registration and a start do with a definition.
fn definition(def: &WorkflowDef) {
    let _ = validation::workflow_def(def);
    let _ = validation::runnable(def);
    for task in def.all_tasks() {
        let _ = graph::find_task(def, &task.task_reference_name);
        let _ = graph::next_task(def, &task.task_reference_name);
        let _ = graph::join_after_fork(def, &task.task_reference_name);
    }
    let _ = handoff::references(&serde_json::to_value(def).unwrap_or(Value::Null));
    let _ = serde_json::to_string(def);
}

/// What the engine does first with a payload.
fn payload_map(map: &mut JsonMap) {
    let _ = payload::check(map, 1024 * 1024);
    masking::mask_map(map);
    let _ = serde_json::to_string(map);
}

/// Drives an extractor that never waits.
fn ready<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    match future
        .as_mut()
        .poll(&mut Context::from_waker(Waker::noop()))
    {
        Poll::Ready(value) => value,
        Poll::Pending => panic!("the extractor waited"),
    }
}

fn query(text: &str) {
    let Ok(request) = axum::http::Request::builder()
        .uri(format!("/api/workflow/search?{text}"))
        .body(())
    else {
        return;
    };
    let (mut parts, ()) = request.into_parts();
    if let Ok(params) = ready(Params::from_request_parts(&mut parts, &())) {
        for name in ["query", "freeText", "sort", "start", "size"] {
            let _ = params.text(name);
            let _ = params.flag(name, false);
            let _ = params.int(name);
            let _ = params.list(name);
        }
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    repeat::mutate(data, size, max_size, seed)
});

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    match kind % 10 {
        0 => {
            if let Some(mut request) = decode::<StartWorkflowRequest>(body) {
                payload_map(&mut request.input);
                if let Some(def) = &request.workflow_def {
                    definition(def);
                }
            }
        }
        1 => {
            if let Some(mut result) = decode::<TaskResult>(body) {
                handoff::mask_result(&mut result, &["secret-value".into(), "s3".into()]);
                payload_map(&mut result.output_data);
            }
        }
        2 => {
            if let Some(def) = decode::<WorkflowDef>(body) {
                definition(&def);
            }
        }
        3 => {
            for def in decode::<Vec<WorkflowDef>>(body).unwrap_or_default() {
                definition(&def);
            }
        }
        4 => {
            for def in decode::<Vec<TaskDef>>(body).unwrap_or_default() {
                let _ = validation::task_def(&def, "");
            }
        }
        5 => {
            if let Some(mut map) = decode::<JsonMap>(body) {
                payload_map(&mut map);
            }
        }
        6 => {
            if let Some(mut request) = decode::<RerunWorkflowRequest>(body) {
                request.workflow_input.as_mut().map(payload_map);
                request.task_input.as_mut().map(payload_map);
            }
        }
        7 => {
            if let Some(mut request) = decode::<SkipTaskRequest>(body) {
                request.task_input.as_mut().map(payload_map);
                request.task_output.as_mut().map(payload_map);
            }
        }
        8 => {
            for content_type in [None, Some("application/json"), Some("text/plain")] {
                let _ = decode_string_body(body, content_type);
            }
        }
        _ => query(&String::from_utf8_lossy(body)),
    }
});
