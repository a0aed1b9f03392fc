//! Searches of flow-node instances and incidents across executions (no
//! `processInstanceKey` filter): run by the store over the live tasks, sorted by
//! their execution's Operate number and their position, so keys page in order.
//! Only tasks of executions whose definition the caller may read are found.

use std::collections::HashMap;

use serde_json::Value;

use super::keys::{self, Decoded};
use super::query::{self, Checked, Page};
use super::{OperateService, views};
use crate::error::{CoreError, CoreResult};
use crate::model::{Task, Workflow};
use crate::security::Principal;
use crate::store::query::{Filter, Op, SearchValue, TaskField, TaskSearch};

/// The task statuses that are incidents.
const FAILED: [&str; 3] = ["FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"];
/// The execution statuses in which an incident is active (it waits for an operator).
const WAITING: [&str; 2] = ["FAILED", "TIMED_OUT"];

/// What is searched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    FlowNodes,
    Incidents,
}

fn texts(values: &[&str]) -> Vec<SearchValue> {
    values
        .iter()
        .map(|v| SearchValue::Text((*v).to_string()))
        .collect()
}

fn nothing() -> Filter<TaskField> {
    Filter::Compare(TaskField::Seq, Op::Eq, SearchValue::Number(-1))
}

/// The filter for a task key (a flow node's, an incident's, a job's).
fn by_key(value: &Value) -> Filter<TaskField> {
    match query::as_key(value).and_then(keys::decode) {
        Some(Decoded::FlowNode(seq, task_seq)) => Filter::And(vec![
            Filter::Compare(
                TaskField::WorkflowOperateSeq,
                Op::Eq,
                SearchValue::Number(seq),
            ),
            Filter::Compare(
                TaskField::Seq,
                Op::Eq,
                SearchValue::Number(i64::from(task_seq)),
            ),
        ]),
        _ => nothing(),
    }
}

/// The column of a sort field.
fn column(kind: Kind, field: &str) -> CoreResult<TaskField> {
    Ok(match (kind, field) {
        (_, "processInstanceKey") => TaskField::WorkflowOperateSeq,
        (Kind::FlowNodes, "flowNodeId") => TaskField::ReferenceTaskName,
        (Kind::FlowNodes, "startDate") => TaskField::StartTime,
        (Kind::FlowNodes, "endDate") | (Kind::Incidents, "creationTime") => TaskField::EndTime,
        (Kind::FlowNodes, "state") => TaskField::Status,
        (Kind::Incidents, "state") => TaskField::WorkflowStatus,
        _ => {
            return Err(CoreError::invalid(format!(
                "Sort by '{field}' across process instances is not supported: sort by key, processInstanceKey{}",
                if kind == Kind::FlowNodes {
                    ", flowNodeId, startDate, endDate or state"
                } else {
                    ", creationTime or state"
                }
            )));
        }
    })
}

/// A sort value as its column holds it.
fn bound(field: TaskField, value: &Value) -> CoreResult<SearchValue> {
    let bad = || CoreError::invalid("searchAfter holds a value that does not fit its sort field");
    Ok(match field {
        TaskField::ReferenceTaskName | TaskField::Status | TaskField::WorkflowStatus => {
            SearchValue::Text(value.as_str().ok_or_else(bad)?.to_string())
        }
        _ => SearchValue::Number(query::as_key(value).ok_or_else(bad)?),
    })
}

impl OperateService {
    /// The store search for a checked search across executions.
    fn task_search(
        &self,
        principal: &Principal,
        kind: Kind,
        checked: &Checked,
    ) -> CoreResult<TaskSearch> {
        let mut all = Vec::new();
        if let Some(names) = self.workflows.readable_names(principal) {
            all.push(Filter::In(
                TaskField::WorkflowType,
                names.into_iter().map(SearchValue::Text).collect(),
            ));
        }
        if kind == Kind::Incidents {
            all.push(Filter::In(TaskField::Status, texts(&FAILED)));
        }
        for (field, wanted) in &checked.filter {
            let wanted = query::scalar(wanted);
            let text = wanted
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| wanted.to_string());
            all.push(match field.as_str() {
                "key" | "jobKey" | "incidentKey" => {
                    let mut both = vec![by_key(&wanted)];
                    if field == "incidentKey" {
                        both.push(Filter::In(TaskField::Status, texts(&FAILED)));
                    }
                    Filter::And(both)
                }
                "processInstanceKey" => match query::as_key(&wanted).and_then(keys::decode) {
                    Some(Decoded::Instance(seq)) => {
                        Filter::Compare(TaskField::WorkflowOperateSeq, Op::Eq, SearchValue::Number(seq))
                    }
                    _ => nothing(),
                },
                "processDefinitionKey" => self
                    .definition_filter(
                        query::as_key(&wanted),
                        TaskField::WorkflowType,
                        TaskField::WorkflowVersion,
                    )
                    .unwrap_or_else(nothing),
                "flowNodeId" => Filter::Compare(TaskField::ReferenceTaskName, Op::Eq, SearchValue::Text(text)),
                "flowNodeName" => Filter::Compare(TaskField::TaskDefName, Op::Eq, SearchValue::Text(text)),
                "incident" => match wanted.as_bool().or_else(|| text.parse().ok()) {
                    Some(true) => Filter::In(TaskField::Status, texts(&FAILED)),
                    Some(false) => Filter::NotIn(TaskField::Status, texts(&FAILED)),
                    None => nothing(),
                },
                "state" if kind == Kind::FlowNodes => match text.as_str() {
                    "ACTIVE" => Filter::In(TaskField::Status, texts(&["SCHEDULED", "IN_PROGRESS"])),
                    "COMPLETED" => Filter::In(
                        TaskField::Status,
                        texts(&["COMPLETED", "COMPLETED_WITH_ERRORS", "SKIPPED"]),
                    ),
                    "TERMINATED" => Filter::In(
                        TaskField::Status,
                        texts(&["CANCELED", "FAILED", "FAILED_WITH_TERMINAL_ERROR", "TIMED_OUT"]),
                    ),
                    _ => nothing(),
                },
                "state" => match text.as_str() {
                    "ACTIVE" => Filter::In(TaskField::WorkflowStatus, texts(&WAITING)),
                    "RESOLVED" => Filter::NotIn(TaskField::WorkflowStatus, texts(&WAITING)),
                    _ => nothing(),
                },
                "type" if kind == Kind::Incidents => {
                    if text == "JOB_NO_RETRIES" {
                        continue;
                    }
                    nothing()
                }
                "startDate" if kind == Kind::FlowNodes => super::date_filter(TaskField::StartTime, &text)?,
                "endDate" if kind == Kind::FlowNodes => super::date_filter(TaskField::EndTime, &text)?,
                "creationTime" if kind == Kind::Incidents => super::date_filter(TaskField::EndTime, &text)?,
                "tenantId" if text == super::TENANT => continue,
                "tenantId" => nothing(),
                other => {
                    return Err(CoreError::invalid(format!(
                        "Cannot filter by '{other}' across process instances: add a processInstanceKey filter"
                    )));
                }
            });
        }
        let order = super::sort_order;
        let mut columns = Vec::new();
        for (field, ascending) in &checked.sort {
            columns.push((column(kind, field)?, order(*ascending)));
        }
        columns.push((TaskField::WorkflowOperateSeq, order(checked.key_ascending)));
        columns.push((TaskField::Seq, order(checked.key_ascending)));
        if let Some((values, key)) = &checked.after {
            let Some(Decoded::FlowNode(seq, task_seq)) = keys::decode(*key) else {
                return Err(CoreError::invalid(
                    "searchAfter must end with a flow node's key",
                ));
            };
            let mut bounds = Vec::new();
            for ((field, _), value) in columns.iter().zip(values) {
                bounds.push(bound(*field, value)?);
            }
            bounds.push(SearchValue::Number(seq));
            bounds.push(SearchValue::Number(i64::from(task_seq)));
            all.push(super::after_filter(&columns, &bounds));
        }
        Ok(TaskSearch {
            filter: Some(Filter::And(all)).filter(|f| !matches!(f, Filter::And(v) if v.is_empty())),
            free_text: None,
            start: 0,
            size: i64::try_from(checked.size).unwrap_or(10),
            sort: columns,
        })
    }

    /// A search of flow nodes or incidents across executions.
    pub(super) async fn search_across(
        &self,
        principal: &Principal,
        kind: Kind,
        checked: &Checked,
    ) -> CoreResult<Page> {
        let search = self.task_search(principal, kind, checked)?;
        let (total, tasks) = self.tasks.search_tasks(principal, search).await?;
        let mut runs: HashMap<String, Option<(Workflow, i64)>> = HashMap::new();
        for task in &tasks {
            let id = &task.workflow_instance_id;
            if runs.contains_key(id) {
                continue;
            }
            let record = self.rt.stores.execution.get_workflow_record(id).await?;
            let seq = self.seqs(vec![id.clone()]).await?.get(id).copied();
            runs.insert(id.clone(), record.zip(seq));
        }
        let mut items = Vec::with_capacity(tasks.len());
        let mut sort_values = Vec::new();
        for task in &tasks {
            let Some(Some((workflow, seq))) = runs.get(&task.workflow_instance_id) else {
                continue;
            };
            let mut one = workflow.clone();
            one.tasks = vec![Task::clone(task)];
            let found = match kind {
                Kind::FlowNodes => views::flow_nodes(&one, *seq),
                Kind::Incidents => views::incidents(&one, *seq),
            };
            if let Some(item) = found.into_iter().next() {
                sort_values = raw_sort_values(kind, &checked.sort, task, workflow, *seq, &item);
                items.push(item);
            }
        }
        Ok(Page {
            items,
            total,
            sort_values,
        })
    }
}

/// The sort values of a task as the columns hold them (what `searchAfter` compares
/// against), then its key.
fn raw_sort_values(
    kind: Kind,
    sort: &[(String, bool)],
    task: &Task,
    workflow: &Workflow,
    seq: i64,
    item: &Value,
) -> Vec<Value> {
    let mut values: Vec<Value> = sort
        .iter()
        .map(|(field, _)| match (kind, field.as_str()) {
            (_, "processInstanceKey") => Value::from(seq),
            (_, "flowNodeId") => Value::from(task.reference_task_name.clone()),
            (_, "startDate") => Value::from(task.start_time),
            (_, "endDate" | "creationTime") => Value::from(task.end_time),
            (Kind::FlowNodes, "state") => Value::from(task.status.as_str()),
            (Kind::Incidents, "state") => Value::from(workflow.status.as_str()),
            _ => Value::Null,
        })
        .collect();
    values.push(item["key"].clone());
    values
}
