//! API tests: the real server on a free port with its own store, driven over HTTP.

mod errors;
mod helpers;
mod lifecycle;
mod queues;
mod system_tasks;
mod workflows;
