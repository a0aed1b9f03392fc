//! The API routes, one module per resource.

pub mod access;
pub mod events;
pub mod health;
pub mod metadata;
pub mod operate;
pub mod registry;
pub mod roles;
pub mod scheduler;
pub mod schemas;
pub mod secrets;
pub mod security;
mod signal;
pub mod task;
pub mod workflow;
mod workflow_test;
