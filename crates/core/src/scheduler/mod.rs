//! Workflow schedules: cron expressions, and starting a schedule's workflow once per
//! due time.

pub mod cron;
pub mod run_query;
