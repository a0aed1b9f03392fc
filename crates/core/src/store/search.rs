//! Where searchable fields live in the stores' tables: every store keeps the same
//! columns, so the mapping is shared.

use crate::service::search::{TaskField, WorkflowField};

/// A column name for a search field.
pub trait Column: Copy {
    fn column(self) -> &'static str;
}

impl Column for WorkflowField {
    fn column(self) -> &'static str {
        match self {
            WorkflowField::WorkflowType => "name",
            WorkflowField::WorkflowId => "id",
            WorkflowField::Version => "version",
            WorkflowField::Status => "status",
            WorkflowField::CorrelationId => "correlation_id",
            WorkflowField::StartTime => "start_time",
            WorkflowField::EndTime => "end_time",
            WorkflowField::UpdateTime => "update_time",
            WorkflowField::Priority => "priority",
            WorkflowField::ParentWorkflowId => "parent_workflow_id",
            WorkflowField::CreatedBy => "created_by",
            WorkflowField::IdempotencyKey => "idempotency_key",
        }
    }
}

impl Column for TaskField {
    fn column(self) -> &'static str {
        match self {
            TaskField::TaskId => "id",
            TaskField::TaskType => "task_type",
            TaskField::TaskDefName => "task_def_name",
            TaskField::ReferenceTaskName => "ref_name",
            TaskField::Status => "status",
            TaskField::WorkflowId => "workflow_id",
            TaskField::WorkflowType => "workflow_type",
            TaskField::ScheduledTime => "scheduled_time",
            TaskField::StartTime => "start_time",
            TaskField::EndTime => "end_time",
            TaskField::UpdateTime => "update_time",
            TaskField::Domain => "domain",
            TaskField::WorkerId => "worker_id",
        }
    }
}
