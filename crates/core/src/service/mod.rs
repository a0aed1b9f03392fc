//! Services: the business rules behind each API, one module per resource. Every method
//! takes the calling `&Principal` first and authorizes before it touches a store.

pub mod access;
pub mod applications;
pub mod archive;
pub mod at_rest;
pub mod audit;
pub mod cluster;
pub mod definition_bounds;
pub mod directory_sign_in;
pub(crate) mod disclosure;
pub mod event_handlers;
pub mod grants;
pub mod handoff;
pub mod identity;
pub mod jobs;
pub mod masking;
pub mod metadata;
pub mod names;
pub mod operate;
pub mod operations;
pub mod passwords;
pub mod proto_files;
mod retry_resume;
pub mod roles;
pub mod runtime;
pub mod schedule_runs;
pub mod schedules;
pub mod schema_checks;
pub mod schemas;
pub mod search;
pub mod secrets;
pub mod service_registry;
pub mod sessions;
pub mod signals;
pub mod summary;
pub mod task;
pub mod users;
pub mod validation;
pub mod vault;
pub mod workflow;
mod workflow_execute;
mod workflow_ops;

pub use metadata::MetadataService;
pub use runtime::Runtime;
pub use task::TaskService;
pub use workflow::WorkflowService;
