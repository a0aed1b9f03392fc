//! Podium's core: the Conductor model, the workflow engine, the services behind the
//! API, security, and the store traits. No HTTP server and no SQL live here.

pub mod clock;
pub mod engine;
pub mod error;
pub mod model;
pub mod security;
pub mod service;
pub mod store;

#[cfg(feature = "testkit")]
pub mod testkit;
