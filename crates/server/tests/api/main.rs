//! API tests: the real server on a free port with its own store, driven over HTTP.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod archive;
mod definition_limits;
mod engine_limits;
mod errors;
mod helpers;
mod lifecycle;
mod queues;
mod route_walk;
mod search_limits;
mod secret_keys;
mod secrets;
mod security;
mod system_tasks;
mod tokens;
mod workflows;
