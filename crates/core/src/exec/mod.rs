//! Authorized execution: the one place that decides whether work may be done, for
//! requests and for everything the engine does later on someone's behalf.
//!
//! - [`command`]: every command a request can make on workflows and tasks, each
//!   declaring what it needs of its caller (an exhaustive match, no default).
//! - [`effects`]: every action the engine takes by itself, each declaring whether
//!   it acts on behalf of the run's principals (and what it needs of them) or for
//!   the engine itself (a short allow-list).
//! - [`authority`]: what a run of a definition needs, and whose authority a run
//!   carries (its starter, and the authors of definitions it runs that its starter
//!   never approved).
//! - [`delegated`]: running the engine's jobs under those declarations: system
//!   tasks, sub-workflows, failure workflows, parent notifications
//!   (`start_workflow`: the workflows `START_WORKFLOW` tasks start).
//! - [`events`]: `EVENT` tasks publishing, and event handlers acting on what they
//!   publish, as the principal who last saved each handler.
//! - `chosen`: authorizing the task types data chooses (`DYNAMIC`, dynamic forks)
//!   before they run.
//! - [`script`]: sandboxed JavaScript for `INLINE` tasks.
//!
//! "The route walk" tests the request side; "the effect walk"
//! (`effects::tests`) tests that nothing the engine does is left undeclared.

pub mod authority;
mod chosen;
pub mod command;
pub mod delegated;
pub mod effects;
pub mod events;
pub mod script;
mod start_workflow;
mod system_tasks;

/// The most workflows in a row that may start one another (`START_WORKFLOW` tasks,
/// event handlers' starts).
pub fn start_workflow_generations() -> u32 {
    start_workflow::MAX_GENERATIONS
}
