//! The search query a store runs: a typed filter over known fields, with paging and
//! sorting (the service parses Conductor's query language into it), and where each
//! field lives in the stores' tables (every store keeps the same columns).

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

/// A value compared against a field.
#[derive(Debug, Clone, PartialEq)]
pub enum SearchValue {
    Text(String),
    Number(i64),
}

/// A filter over fields of type `F`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter<F> {
    Compare(F, Op, SearchValue),
    In(F, Vec<SearchValue>),
    NotIn(F, Vec<SearchValue>),
    And(Vec<Filter<F>>),
    Or(Vec<Filter<F>>),
}

/// Sort direction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

/// Whether a field holds times (epoch ms) or numbers, so values can be converted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Text,
    Number,
    Time,
}

/// A searchable field of a workflow.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WorkflowField {
    WorkflowType,
    WorkflowId,
    Version,
    Status,
    CorrelationId,
    StartTime,
    EndTime,
    UpdateTime,
    Priority,
    ParentWorkflowId,
    CreatedBy,
    IdempotencyKey,
    /// The Operate sequence number (not a field of Conductor's query language).
    OperateSeq,
}

/// A searchable field of a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TaskField {
    TaskId,
    TaskType,
    TaskDefName,
    ReferenceTaskName,
    Status,
    WorkflowId,
    WorkflowType,
    ScheduledTime,
    StartTime,
    EndTime,
    UpdateTime,
    Domain,
    WorkerId,
    /// The task's position in its workflow.
    Seq,
    /// Its workflow's Operate sequence number, version and status (read from the
    /// workflow row; not fields of Conductor's query language).
    WorkflowOperateSeq,
    WorkflowVersion,
    WorkflowStatus,
}

/// A field of the variables index (`store::variables`); not part of Conductor's
/// query language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum VariableField {
    /// The execution's Operate number.
    OperateSeq,
    /// The low bits of the variable's key.
    Low,
    Name,
    /// The value's JSON text as shown (masked, cut).
    Value,
    /// 1 when the value was cut, else 0.
    Truncated,
    /// The execution's workflow name.
    WorkflowType,
}

/// Maps query field names to typed fields.
pub trait SearchField: Sized + Copy {
    /// The field with this name (case-insensitive), if searchable.
    fn from_name(name: &str) -> Option<Self>;
    /// How its values are interpreted.
    fn kind(self) -> FieldKind;
}

impl SearchField for WorkflowField {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "workflowtype" | "workflowname" | "name" => WorkflowField::WorkflowType,
            "workflowid" => WorkflowField::WorkflowId,
            "version" | "workflowversion" => WorkflowField::Version,
            "status" => WorkflowField::Status,
            "correlationid" => WorkflowField::CorrelationId,
            "starttime" => WorkflowField::StartTime,
            "endtime" => WorkflowField::EndTime,
            "updatetime" | "modifiedtime" => WorkflowField::UpdateTime,
            "priority" => WorkflowField::Priority,
            "parentworkflowid" => WorkflowField::ParentWorkflowId,
            "createdby" => WorkflowField::CreatedBy,
            "idempotencykey" => WorkflowField::IdempotencyKey,
            _ => return None,
        })
    }

    fn kind(self) -> FieldKind {
        match self {
            WorkflowField::StartTime | WorkflowField::EndTime | WorkflowField::UpdateTime => {
                FieldKind::Time
            }
            WorkflowField::Version | WorkflowField::Priority | WorkflowField::OperateSeq => {
                FieldKind::Number
            }
            _ => FieldKind::Text,
        }
    }
}

impl SearchField for TaskField {
    fn from_name(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "taskid" => TaskField::TaskId,
            "tasktype" => TaskField::TaskType,
            "taskdefname" => TaskField::TaskDefName,
            "referencetaskname" | "taskreferencename" => TaskField::ReferenceTaskName,
            "status" => TaskField::Status,
            "workflowid" | "workflowinstanceid" => TaskField::WorkflowId,
            "workflowtype" => TaskField::WorkflowType,
            "scheduledtime" => TaskField::ScheduledTime,
            "starttime" => TaskField::StartTime,
            "endtime" => TaskField::EndTime,
            "updatetime" => TaskField::UpdateTime,
            "domain" => TaskField::Domain,
            "workerid" => TaskField::WorkerId,
            _ => return None,
        })
    }

    fn kind(self) -> FieldKind {
        match self {
            TaskField::ScheduledTime
            | TaskField::StartTime
            | TaskField::EndTime
            | TaskField::UpdateTime => FieldKind::Time,
            TaskField::Seq | TaskField::WorkflowOperateSeq | TaskField::WorkflowVersion => {
                FieldKind::Number
            }
            _ => FieldKind::Text,
        }
    }
}

impl SearchField for VariableField {
    fn from_name(_name: &str) -> Option<Self> {
        None
    }

    fn kind(self) -> FieldKind {
        match self {
            VariableField::OperateSeq | VariableField::Low | VariableField::Truncated => {
                FieldKind::Number
            }
            _ => FieldKind::Text,
        }
    }
}

/// A search over workflows or tasks.
#[derive(Debug, Clone, PartialEq)]
pub struct Search<F> {
    pub filter: Option<Filter<F>>,
    /// Words that must appear in the input, output or identifiers; None for `*`.
    pub free_text: Option<String>,
    pub start: i64,
    pub size: i64,
    pub sort: Vec<(F, SortOrder)>,
}

/// A workflow search.
pub type WorkflowSearch = Search<WorkflowField>;
/// A task search.
pub type TaskSearch = Search<TaskField>;
/// A search of the variables index.
pub type VariableSearch = Search<VariableField>;

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
            WorkflowField::OperateSeq => "operate_seq",
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
            TaskField::Seq => "seq",
            TaskField::WorkflowOperateSeq => {
                "(SELECT w.operate_seq FROM workflow w WHERE w.id = task.workflow_id)"
            }
            TaskField::WorkflowVersion => {
                "(SELECT w.version FROM workflow w WHERE w.id = task.workflow_id)"
            }
            TaskField::WorkflowStatus => {
                "(SELECT w.status FROM workflow w WHERE w.id = task.workflow_id)"
            }
        }
    }
}

impl Column for VariableField {
    fn column(self) -> &'static str {
        match self {
            VariableField::OperateSeq => "operate_seq",
            VariableField::Low => "low",
            VariableField::Name => "name",
            VariableField::Value => "value",
            VariableField::Truncated => "truncated",
            VariableField::WorkflowType => "workflow_name",
        }
    }
}
