//! Camunda Operate's REST API v1 over Podium's model: process definitions are
//! workflow definitions, process instances are executions, flow-node instances are
//! tasks, variables are workflow variables, incidents are failed tasks. Keys are
//! built as `docs/adr/0006-operate-keys.md` says ([`keys`]); searches are checked
//! and run as Operate runs them ([`query`]).
//!
//! Everything is decided by the same checks as the Conductor API: an execution is
//! shown only to who may read it (its definition's `READ`, or having started it),
//! and removed only by who holds `DELETE_PROCESS_INSTANCE` (or `DELETE`) on its
//! definition. A key the caller may not read answers as a missing one.

mod across;
pub mod keys;
pub mod query;
mod variables;
mod views;

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::runtime::Runtime;
use super::task::TaskService;
use super::workflow::WorkflowService;
use crate::error::{CoreError, CoreResult};
use crate::model::Workflow;
use crate::security::{Access, Principal, Resource};
use crate::store::query::{Filter, Op, SearchValue, SortOrder, WorkflowField, WorkflowSearch};
use keys::Decoded;
use query::{Checked, Page, SearchRequest};

/// The only tenant: what the SDK sends when none is configured.
pub const TENANT: &str = "<default>";

const DEFINITION_FIELDS: &[&str] = &["key", "name", "version", "bpmnProcessId", "tenantId"];
const INSTANCE_FILTERS: &[&str] = &[
    "key",
    "startDate",
    "endDate",
    "processVersion",
    "bpmnProcessId",
    "parentKey",
    "parentProcessInstanceKey",
    "state",
    "processDefinitionKey",
    "tenantId",
];
const INSTANCE_SORTS: &[&str] = &[
    "key",
    "processVersion",
    "bpmnProcessId",
    "startDate",
    "endDate",
    "state",
];
const FLOW_NODE_FIELDS: &[&str] = &[
    "key",
    "processInstanceKey",
    "processDefinitionKey",
    "startDate",
    "endDate",
    "flowNodeId",
    "flowNodeName",
    "incidentKey",
    "type",
    "state",
    "incident",
    "tenantId",
];
const VARIABLE_FIELDS: &[&str] = &[
    "key",
    "processInstanceKey",
    "scopeKey",
    "name",
    "value",
    "truncated",
    "tenantId",
];
const INCIDENT_FIELDS: &[&str] = &[
    "key",
    "processDefinitionKey",
    "processInstanceKey",
    "type",
    "message",
    "creationTime",
    "state",
    "jobKey",
    "tenantId",
];

/// What a request that cannot be answered for lack of a process instance says.
const ONE_INSTANCE: &str =
    "Podium answers this search for one process instance at a time: filter by processInstanceKey";

fn not_found(what: &str, key: i64) -> CoreError {
    CoreError::NotFound(format!("No {what} was found for key {key}"))
}

/// Operate's API over the services.
#[derive(Clone)]
pub struct OperateService {
    rt: Arc<Runtime>,
    workflows: WorkflowService,
    tasks: TaskService,
}

impl OperateService {
    pub fn new(rt: Arc<Runtime>) -> OperateService {
        OperateService {
            workflows: WorkflowService::new(rt.clone()),
            tasks: TaskService::new(rt.clone()),
            rt,
        }
    }

    /// The workflow definitions' versions the caller may read, as Operate's
    /// process definitions.
    fn definitions(&self, principal: &Principal) -> Vec<Value> {
        self.rt
            .defs
            .all_workflows()
            .iter()
            .filter(|d| {
                self.rt
                    .authorizer
                    .can(principal, Access::Read, Resource::workflow(&d.name))
            })
            .map(|d| views::definition(&d.name, d.version))
            .collect()
    }

    /// `POST /v1/process-definitions/search`.
    pub fn search_definitions(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> CoreResult<Page> {
        let checked = request.check(DEFINITION_FIELDS, DEFINITION_FIELDS)?;
        Ok(query::run(self.definitions(principal), &checked))
    }

    /// `GET /v1/process-definitions/{key}`.
    pub fn definition(&self, principal: &Principal, key: i64) -> CoreResult<Value> {
        self.definitions(principal)
            .into_iter()
            .find(|d| d["key"] == key)
            .ok_or_else(|| not_found("process definition", key))
    }

    /// The name and version of a definition key, if a definition has it.
    fn definition_of_key(&self, key: i64) -> Option<(String, i32)> {
        self.rt
            .defs
            .all_workflows()
            .iter()
            .find(|d| keys::definition_key(&d.name, d.version) == key)
            .map(|d| (d.name.clone(), d.version))
    }

    /// The filter for a definition key over the name and version fields of a
    /// search; none when no definition has that key.
    fn definition_filter<F: Copy>(
        &self,
        key: Option<i64>,
        name: F,
        version: F,
    ) -> Option<Filter<F>> {
        let (found, at) = key.and_then(|k| self.definition_of_key(k))?;
        Some(Filter::And(vec![
            Filter::Compare(name, Op::Eq, SearchValue::Text(found)),
            Filter::Compare(version, Op::Eq, SearchValue::Number(i64::from(at))),
        ]))
    }

    /// The execution a key names, read as the caller (a missing or unreadable one
    /// is not found), with its sequence number and tasks.
    async fn instance_of_seq(
        &self,
        principal: &Principal,
        seq: i64,
        key: i64,
    ) -> CoreResult<Workflow> {
        let missing = || not_found("process instance", key);
        let id = self
            .rt
            .stores
            .execution
            .workflow_of_operate_seq(seq)
            .await?
            .ok_or_else(missing)?;
        // Who may not read it learns nothing more than for a missing key, and as
        // soon (its tasks are not read first).
        let live = self
            .rt
            .stores
            .execution
            .get_workflow_record(&id)
            .await?
            .is_some();
        if live && !self.workflows.may_read_id(principal, &id).await? {
            return Err(missing());
        }
        match self.workflows.get(principal, &id, true).await {
            Ok(workflow) => Ok(workflow),
            Err(CoreError::NotFound(_) | CoreError::Forbidden(_)) => Err(missing()),
            Err(other) => Err(other),
        }
    }

    /// Sequence numbers of workflows by id.
    async fn seqs(&self, ids: Vec<String>) -> CoreResult<HashMap<String, i64>> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        Ok(self
            .rt
            .stores
            .execution
            .operate_seqs(ids)
            .await?
            .into_iter()
            .collect())
    }

    /// `POST /v1/process-instances/search`.
    pub async fn search_instances(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> CoreResult<Page> {
        let checked = request.check(INSTANCE_FILTERS, INSTANCE_SORTS)?;
        let search = self.instance_search(&checked).await?;
        let (total, runs) = self.workflows.search_runs(principal, search).await?;
        let mut ids: Vec<String> = runs.iter().map(|w| w.workflow_id.clone()).collect();
        ids.extend(runs.iter().filter_map(|w| w.parent_workflow_id.clone()));
        let seqs = self.seqs(ids).await?;
        let items: Vec<Value> = runs
            .iter()
            .filter_map(|w| {
                let seq = *seqs.get(&w.workflow_id)?;
                let parent = w
                    .parent_workflow_id
                    .as_ref()
                    .and_then(|p| seqs.get(p))
                    .copied();
                Some(views::instance(w, seq, parent))
            })
            .collect();
        let sort_values = match runs
            .last()
            .and_then(|w| seqs.get(&w.workflow_id).map(|s| (w, *s)))
        {
            Some((last, seq)) => instance_sort_values(last, seq, &checked.sort),
            None => Vec::new(),
        };
        Ok(Page {
            items,
            total,
            sort_values,
        })
    }

    /// The store search for a checked process-instance search.
    async fn instance_search(&self, checked: &Checked) -> CoreResult<WorkflowSearch> {
        let nothing =
            || Filter::Compare(WorkflowField::OperateSeq, Op::Eq, SearchValue::Number(-1));
        let mut all = Vec::new();
        for (field, wanted) in &checked.filter {
            let wanted = query::scalar(wanted);
            let text = wanted
                .as_str()
                .map(str::to_string)
                .unwrap_or_else(|| wanted.to_string());
            let number = query::as_key(&wanted);
            all.push(match field.as_str() {
                "key" => match number.and_then(keys::decode) {
                    Some(Decoded::Instance(seq)) => {
                        Filter::Compare(WorkflowField::OperateSeq, Op::Eq, SearchValue::Number(seq))
                    }
                    _ => nothing(),
                },
                "processVersion" => match number {
                    Some(v) => {
                        Filter::Compare(WorkflowField::Version, Op::Eq, SearchValue::Number(v))
                    }
                    None => nothing(),
                },
                "bpmnProcessId" => {
                    Filter::Compare(WorkflowField::WorkflowType, Op::Eq, SearchValue::Text(text))
                }
                "parentKey" | "parentProcessInstanceKey" => {
                    let parent = match number.and_then(keys::decode) {
                        Some(Decoded::Instance(seq)) => {
                            self.rt
                                .stores
                                .execution
                                .workflow_of_operate_seq(seq)
                                .await?
                        }
                        _ => None,
                    };
                    match parent {
                        Some(id) => Filter::Compare(
                            WorkflowField::ParentWorkflowId,
                            Op::Eq,
                            SearchValue::Text(id),
                        ),
                        None => nothing(),
                    }
                }
                "state" => {
                    let statuses = views::statuses_of_state(&text);
                    if statuses.is_empty() {
                        nothing()
                    } else {
                        Filter::In(
                            WorkflowField::Status,
                            statuses
                                .iter()
                                .map(|s| SearchValue::Text(s.as_str().to_string()))
                                .collect(),
                        )
                    }
                }
                "processDefinitionKey" => self
                    .definition_filter(number, WorkflowField::WorkflowType, WorkflowField::Version)
                    .unwrap_or_else(nothing),
                "startDate" => date_filter(WorkflowField::StartTime, &text)?,
                "endDate" => date_filter(WorkflowField::EndTime, &text)?,
                "tenantId" if text == TENANT => continue,
                _ => nothing(),
            });
        }
        let columns: Vec<(WorkflowField, SortOrder)> = checked
            .sort
            .iter()
            .map(|(field, ascending)| (instance_column(field), sort_order(*ascending)))
            .chain(std::iter::once((
                WorkflowField::OperateSeq,
                sort_order(checked.key_ascending),
            )))
            .collect();
        if let Some((values, key)) = &checked.after {
            let seq = match keys::decode(*key) {
                Some(Decoded::Instance(seq)) => seq,
                _ => {
                    return Err(CoreError::invalid(
                        "searchAfter must end with a process instance's key",
                    ));
                }
            };
            let mut bounds: Vec<SearchValue> = Vec::new();
            for ((field, _), value) in checked.sort.iter().zip(values) {
                bounds.push(instance_bound(field, value)?);
            }
            bounds.push(SearchValue::Number(seq));
            all.push(after_filter(&columns, &bounds));
        }
        Ok(WorkflowSearch {
            filter: match all.len() {
                0 => None,
                1 => all.pop(),
                _ => Some(Filter::And(all)),
            },
            free_text: None,
            start: 0,
            size: i64::try_from(checked.size).unwrap_or(10),
            sort: columns,
        })
    }

    /// `GET /v1/process-instances/{key}`.
    pub async fn instance(&self, principal: &Principal, key: i64) -> CoreResult<Value> {
        let Some(Decoded::Instance(seq)) = keys::decode(key) else {
            return Err(not_found("process instance", key));
        };
        let workflow = self.instance_of_seq(principal, seq, key).await?;
        let parent = match &workflow.parent_workflow_id {
            Some(id) => self.seqs(vec![id.clone()]).await?.get(id).copied(),
            None => None,
        };
        Ok(views::instance(&workflow, seq, parent))
    }

    /// `DELETE /v1/process-instances/{key}`: an ended execution, with everything
    /// it holds.
    pub async fn delete_instance(&self, principal: &Principal, key: i64) -> CoreResult<Value> {
        let Some(Decoded::Instance(seq)) = keys::decode(key) else {
            return Err(not_found("process instance", key));
        };
        let workflow = self.instance_of_seq(principal, seq, key).await?;
        self.workflows
            .remove_ended(
                principal,
                &workflow.workflow_id,
                "Process instances needs to be in one of the states [COMPLETED, CANCELED]",
            )
            .await?;
        Ok(serde_json::json!({"message": "1 process instances are deleted", "deleted": 1}))
    }

    /// The execution a search over what executions hold is about: its
    /// `processInstanceKey` filter (or the key of the object itself).
    async fn searched_instance(
        &self,
        principal: &Principal,
        checked: &Checked,
    ) -> CoreResult<(Workflow, i64)> {
        let by_instance = checked
            .filter
            .get("processInstanceKey")
            .and_then(query::as_key);
        let by_key = checked.filter.get("key").and_then(query::as_key);
        let seq = match (
            by_instance.and_then(keys::decode),
            by_key.and_then(keys::decode),
        ) {
            (Some(Decoded::Instance(seq)), _) => seq,
            (None, Some(Decoded::FlowNode(seq, _) | Decoded::Variable(seq, _)))
                if by_instance.is_none() =>
            {
                seq
            }
            (None, None) if by_instance.is_none() && by_key.is_none() => {
                return Err(CoreError::invalid(ONE_INSTANCE));
            }
            _ => {
                return Err(not_found(
                    "process instance",
                    by_instance.or(by_key).unwrap_or(0),
                ));
            }
        };
        let workflow = self
            .instance_of_seq(principal, seq, keys::instance_key(seq))
            .await?;
        Ok((workflow, seq))
    }

    /// A search over what one execution holds; none found when the execution is
    /// missing or unreadable.
    async fn search_within(
        &self,
        principal: &Principal,
        request: SearchRequest,
        fields: &[&str],
        items_of: impl Fn(&Workflow, i64) -> Vec<Value>,
    ) -> CoreResult<Page> {
        let checked = request.check(fields, fields)?;
        let items = match self.searched_instance(principal, &checked).await {
            Ok((workflow, seq)) => items_of(&workflow, seq),
            Err(CoreError::NotFound(_)) => Vec::new(),
            Err(other) => return Err(other),
        };
        Ok(query::run(items, &checked))
    }

    /// `POST /v1/flownode-instances/search`: within one execution, or across
    /// executions without a `processInstanceKey` filter.
    pub async fn search_flow_nodes(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> CoreResult<Page> {
        if !within_one(&request) {
            let checked = request.check(FLOW_NODE_FIELDS, FLOW_NODE_FIELDS)?;
            return self
                .search_across(principal, across::Kind::FlowNodes, &checked)
                .await;
        }
        self.search_within(principal, request, FLOW_NODE_FIELDS, views::flow_nodes)
            .await
    }

    /// `POST /v1/variables/search`: within one execution, or across executions
    /// without a `processInstanceKey` filter.
    pub async fn search_variables(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> CoreResult<Page> {
        if !within_one(&request) {
            let checked = request.check(VARIABLE_FIELDS, VARIABLE_FIELDS)?;
            return self.search_variables_across(principal, &checked).await;
        }
        self.search_within(principal, request, VARIABLE_FIELDS, |w, seq| {
            views::variables(w, seq, true)
        })
        .await
    }

    /// `POST /v1/incidents/search`: within one execution, or across executions
    /// without a `processInstanceKey` filter.
    pub async fn search_incidents(
        &self,
        principal: &Principal,
        request: SearchRequest,
    ) -> CoreResult<Page> {
        if !within_one(&request) {
            let checked = request.check(INCIDENT_FIELDS, INCIDENT_FIELDS)?;
            return self
                .search_across(principal, across::Kind::Incidents, &checked)
                .await;
        }
        self.search_within(principal, request, INCIDENT_FIELDS, views::incidents)
            .await
    }

    /// `GET /v1/flownode-instances/{key}` and `GET /v1/incidents/{key}` (`incident`).
    pub async fn flow_node(
        &self,
        principal: &Principal,
        key: i64,
        incident: bool,
    ) -> CoreResult<Value> {
        let what = if incident {
            "incident"
        } else {
            "flow node instance"
        };
        let Some(Decoded::FlowNode(seq, _)) = keys::decode(key) else {
            return Err(not_found(what, key));
        };
        let workflow =
            self.instance_of_seq(principal, seq, key)
                .await
                .map_err(|err| match err {
                    CoreError::NotFound(_) => not_found(what, key),
                    other => other,
                })?;
        let items = if incident {
            views::incidents(&workflow, seq)
        } else {
            views::flow_nodes(&workflow, seq)
        };
        items
            .into_iter()
            .find(|item| item["key"] == key)
            .ok_or_else(|| not_found(what, key))
    }

    /// `GET /v1/variables/{key}`: the whole value.
    pub async fn variable(&self, principal: &Principal, key: i64) -> CoreResult<Value> {
        let Some(Decoded::Variable(seq, _)) = keys::decode(key) else {
            return Err(not_found("variable", key));
        };
        let workflow =
            self.instance_of_seq(principal, seq, key)
                .await
                .map_err(|err| match err {
                    CoreError::NotFound(_) => not_found("variable", key),
                    other => other,
                })?;
        let mut found: Vec<Value> = views::variables(&workflow, seq, false)
            .into_iter()
            .filter(|v| v["key"] == key)
            .collect();
        match found.len() {
            0 => Err(not_found("variable", key)),
            1 => Ok(found.remove(0)),
            _ => Err(CoreError::Conflict(format!(
                "Key {key} names several variables of one process instance ({}): search them by processInstanceKey and name",
                found
                    .iter()
                    .filter_map(|v| v["name"].as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))),
        }
    }
}

/// The filter for a date field: the times an Operate date (exact or rounded)
/// stands for.
fn date_filter<F: Copy>(field: F, text: &str) -> CoreResult<Filter<F>> {
    let (from, to) = query::date_range(text).ok_or_else(|| {
        CoreError::invalid(format!(
            "'{}' is not a date: write it as 2022-03-17T11:50:25.729+0000, optionally rounded with ||/y, M, w, d, h, m or s",
            crate::store::audit::bounded(text)
        ))
    })?;
    Ok(Filter::And(vec![
        Filter::Compare(field, Op::Ge, SearchValue::Number(from)),
        Filter::Compare(field, Op::Lt, SearchValue::Number(to)),
    ]))
}

/// The direction of a sort field Operate sorts ascending or not.
fn sort_order(ascending: bool) -> SortOrder {
    if ascending {
        SortOrder::Asc
    } else {
        SortOrder::Desc
    }
}

/// Whether a search is about one execution (it names its key).
fn within_one(request: &SearchRequest) -> bool {
    request
        .filter
        .as_ref()
        .is_some_and(|f| f.contains_key("processInstanceKey"))
}

/// The column an instance sort field is.
fn instance_column(field: &str) -> WorkflowField {
    match field {
        "processVersion" => WorkflowField::Version,
        "bpmnProcessId" => WorkflowField::WorkflowType,
        "startDate" => WorkflowField::StartTime,
        "endDate" => WorkflowField::EndTime,
        "state" => WorkflowField::Status,
        _ => WorkflowField::OperateSeq,
    }
}

/// The sort values of an instance: its columns' values, then its key.
fn instance_sort_values(workflow: &Workflow, seq: i64, sort: &[(String, bool)]) -> Vec<Value> {
    let mut values: Vec<Value> = sort
        .iter()
        .map(|(field, _)| match field.as_str() {
            "processVersion" => Value::from(workflow.workflow_version),
            "bpmnProcessId" => Value::from(workflow.workflow_name.clone()),
            "startDate" => Value::from(workflow.start_time),
            "endDate" => Value::from(workflow.end_time),
            "state" => Value::from(workflow.status.as_str()),
            _ => Value::Null,
        })
        .collect();
    values.push(Value::from(keys::instance_key(seq)));
    values
}

/// A sort value of `searchAfter`, as the column holds it.
fn instance_bound(field: &str, value: &Value) -> CoreResult<SearchValue> {
    let bad = || CoreError::invalid(format!("searchAfter holds no usable value for {field}"));
    Ok(match field {
        "bpmnProcessId" | "state" => SearchValue::Text(value.as_str().ok_or_else(bad)?.to_string()),
        _ => SearchValue::Number(query::as_key(value).ok_or_else(bad)?),
    })
}

/// The rows after a position in a sort: the first column past its value, or equal
/// there and the next past its value, and so on.
fn after_filter<F: Copy>(columns: &[(F, SortOrder)], bounds: &[SearchValue]) -> Filter<F> {
    let mut any = Vec::new();
    for (i, ((column, order), bound)) in columns.iter().zip(bounds).enumerate() {
        let mut all: Vec<Filter<F>> = columns[..i]
            .iter()
            .zip(bounds)
            .map(|((c, _), b)| Filter::Compare(*c, Op::Eq, b.clone()))
            .collect();
        let past = if *order == SortOrder::Asc {
            Op::Gt
        } else {
            Op::Lt
        };
        all.push(Filter::Compare(*column, past, bound.clone()));
        any.push(if all.len() == 1 {
            all.remove(0)
        } else {
            Filter::And(all)
        });
    }
    Filter::Or(any)
}
