//! API tests: the real server on a free port with its own store, driven over HTTP.

// Test code: a failed expectation is the test failing.
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

mod archive;
mod audit;
mod browser;
mod console;
mod data_dir;
mod database;
mod definition_limits;
mod delegation;
mod disclosure;
mod dynamic;
mod engine_limits;
mod engine_walk;
mod errors;
mod events;
mod helpers;
mod http_destinations;
mod inline;
mod ldap;
mod lifecycle;
mod loops;
mod masking;
mod metrics;
mod names;
mod oidc;
mod oidc_login;
mod oidc_provider;
mod operate;
mod operate_roles;
mod passwords;
mod queues;
mod registry;
mod retry_resume;
mod review;
mod review_masking;
mod roles;
mod route_walk;
mod samba_ad;
mod schedules;
mod schemas;
mod search_limits;
mod secret_keys;
mod secrets;
mod security;
mod sessions;
mod signals;
mod slapd;
mod start_workflow;
mod sweeper;
mod system_tasks;
mod task_schemas;
mod tokens;
mod workflow_test;
mod workflows;
