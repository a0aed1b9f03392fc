//! The query of a search of schedule runs (`GET /api/scheduler/search/executions`),
//! as Conductor reads it: clauses joined by `AND`, each one of
//! `scheduleName IN (a,b)` (or `= a`), `state IN (EXECUTED,FAILED)` (or `=`),
//! `workflowName = w`, `executionId = id`, `scheduledTime > n` and
//! `scheduledTime < n`; values may be quoted. `*` or nothing selects every run.
//! The sort is `field:ASC|DESC` over `scheduledTime`, `executionTime`,
//! `scheduleName`, `workflowName` and `state` (another field sorts by the due
//! time); descending when no direction is given.

use crate::model::ScheduleExecutionState;
use crate::store::{RunOrder, RunSearch};

/// The longest query read.
pub const MAX_QUERY_CHARS: usize = 4096;

/// The most values an `IN` list holds.
pub const MAX_VALUES: usize = 100;

fn unquote(value: &str) -> String {
    value
        .trim()
        .trim_matches(|c| c == '\'' || c == '"')
        .to_string()
}

/// The values of `IN (a, b)` or `= a`.
fn values(rest: &str) -> Result<Vec<String>, String> {
    let rest = rest.trim();
    let list = if let Some(inner) = rest
        .strip_prefix("IN")
        .or_else(|| rest.strip_prefix("in"))
        .map(str::trim)
        .and_then(|r| r.strip_prefix('('))
        .and_then(|r| r.strip_suffix(')'))
    {
        inner.split(',').map(unquote).collect::<Vec<_>>()
    } else if let Some(value) = rest.strip_prefix('=') {
        vec![unquote(value)]
    } else {
        return Err(format!(
            "expected IN (...) or = after the field, not '{rest}'"
        ));
    };
    if list.len() > MAX_VALUES {
        return Err(format!("an IN list holds at most {MAX_VALUES} values"));
    }
    Ok(list.into_iter().filter(|v| !v.is_empty()).collect())
}

fn time(rest: &str, op: char) -> Result<i64, String> {
    rest.trim()
        .strip_prefix(op)
        .map(unquote)
        .and_then(|v| v.parse::<i64>().ok())
        .ok_or_else(|| format!("scheduledTime {op} needs a number of epoch milliseconds"))
}

fn state(text: &str) -> Result<ScheduleExecutionState, String> {
    match text.to_ascii_uppercase().as_str() {
        "POLLED" => Ok(ScheduleExecutionState::Polled),
        "EXECUTED" => Ok(ScheduleExecutionState::Executed),
        "FAILED" => Ok(ScheduleExecutionState::Failed),
        other => Err(format!(
            "unknown state '{other}': use POLLED, EXECUTED or FAILED"
        )),
    }
}

/// Reads a query and a sort into a search (paging is set by the caller).
pub fn parse(query: Option<&str>, sort: Option<&str>) -> Result<RunSearch, String> {
    let mut search = RunSearch::default();
    let query = query.unwrap_or("").trim();
    if query.chars().count() > MAX_QUERY_CHARS {
        return Err(format!(
            "the query is longer than {MAX_QUERY_CHARS} characters"
        ));
    }
    if !query.is_empty() && query != "*" {
        for clause in query.split(" AND ") {
            let clause = clause.trim();
            let field_end = clause
                .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .unwrap_or(clause.len());
            let (field, rest) = clause.split_at(field_end);
            match field {
                "scheduleName" => search.schedule_names = Some(values(rest)?),
                "state" => {
                    search.states = values(rest)?
                        .iter()
                        .map(|s| state(s))
                        .collect::<Result<_, _>>()?;
                }
                "workflowName" => search.workflow_name = values(rest)?.into_iter().next(),
                "executionId" => search.execution_id = values(rest)?.into_iter().next(),
                "scheduledTime" if rest.trim_start().starts_with('>') => {
                    search.scheduled_after = Some(time(rest, '>')?);
                }
                "scheduledTime" if rest.trim_start().starts_with('<') => {
                    search.scheduled_before = Some(time(rest, '<')?);
                }
                _ => {
                    return Err(format!(
                        "cannot read '{clause}': use scheduleName, state, workflowName, executionId or scheduledTime"
                    ));
                }
            }
        }
    }
    if let Some(sort) = sort.map(str::trim).filter(|s| !s.is_empty()) {
        let (field, direction) = sort.split_once(':').unwrap_or((sort, "DESC"));
        search.order = match field.trim() {
            "executionTime" => RunOrder::ExecutionTime,
            "scheduleName" => RunOrder::ScheduleName,
            "workflowName" => RunOrder::WorkflowName,
            "state" => RunOrder::State,
            _ => RunOrder::ScheduledTime,
        };
        search.ascending = direction.trim().eq_ignore_ascii_case("ASC");
    }
    Ok(search)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conductors_clauses_are_read() {
        let search = parse(
            Some("scheduleName IN (daily, 'weekly') AND state = FAILED AND scheduledTime>10 AND scheduledTime<20 AND workflowName=w"),
            Some("executionTime:ASC"),
        )
        .unwrap();
        assert_eq!(
            search.schedule_names,
            Some(vec!["daily".to_string(), "weekly".to_string()])
        );
        assert_eq!(search.states, vec![ScheduleExecutionState::Failed]);
        assert_eq!(
            (search.scheduled_after, search.scheduled_before),
            (Some(10), Some(20))
        );
        assert_eq!(search.workflow_name.as_deref(), Some("w"));
        assert_eq!(
            (search.order, search.ascending),
            (RunOrder::ExecutionTime, true)
        );
        let one = parse(Some("scheduleName='daily'"), Some("startTime:DESC")).unwrap();
        assert_eq!(one.schedule_names, Some(vec!["daily".to_string()]));
        assert_eq!((one.order, one.ascending), (RunOrder::ScheduledTime, false));
        assert_eq!(parse(Some("*"), None).unwrap(), RunSearch::default());
        assert_eq!(parse(None, None).unwrap(), RunSearch::default());
    }

    #[test]
    fn what_cannot_be_read_is_named() {
        for bad in [
            "nonsense",
            "scheduleName ~ x",
            "state IN (DONE)",
            "scheduledTime > soon",
            "owner = me",
        ] {
            let err = parse(Some(bad), None).unwrap_err();
            assert!(!err.is_empty(), "{bad}");
        }
        let many = format!("scheduleName IN ({})", vec!["a"; 101].join(","));
        assert!(parse(Some(&many), None).is_err());
        assert!(parse(Some(&"x".repeat(5000)), None).is_err());
    }
}
