//! The workflow engine: a pure decider over a workflow's state, the system tasks it
//! runs, and the operations that change a workflow from outside.

pub mod choice;
pub mod context;
pub mod decider;
pub mod duration;
pub mod dynamic;
pub mod expr;
pub mod graph;
pub mod http;
pub mod joins;
pub mod loops;
pub mod masked;
pub mod ops;
pub mod payload;
pub mod repair;
pub mod schedule;
pub mod state;
pub mod system_tasks;
pub mod task_type;
pub mod upgrade;

#[cfg(test)]
mod tests;

pub use context::{EngineContext, EngineLimits, PollActivity, TaskDefs};
pub use decider::decide;
pub use state::WorkflowState;
pub use task_type::TaskKind;
