//! The API routes, one module per resource.

pub mod health;
pub mod metadata;
pub mod task;
pub mod workflow;
