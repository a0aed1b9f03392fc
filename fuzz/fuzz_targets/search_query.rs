//! The search query language (`/api/workflow/search`, `/api/tasks/search`): a query,
//! free text and a sort order, parsed for both field sets. Any input is answered or
//! refused as the caller's mistake, within the parser's bounds, and never overflows
//! the stack of a server thread.
#![no_main]

#[path = "repeat.rs"]
mod repeat;

use libfuzzer_sys::{fuzz_mutator, fuzz_target};
use podium_core::error::CoreError;
use podium_core::service::search::{
    Filter, MAX_QUERY_CONDITIONS, MAX_QUERY_VALUES, Search, SearchField, TaskSearch, WorkflowSearch,
};

/// Conditions and values in a parsed filter, counted without recursion.
fn counts<F>(filter: &Filter<F>) -> (usize, usize) {
    let (mut conditions, mut values) = (0, 0);
    let mut stack = vec![filter];
    while let Some(filter) = stack.pop() {
        match filter {
            Filter::Compare(..) => {
                conditions += 1;
                values += 1;
            }
            Filter::In(_, list) | Filter::NotIn(_, list) => {
                conditions += 1;
                values += list.len();
            }
            Filter::And(parts) | Filter::Or(parts) => stack.extend(parts),
        }
    }
    (conditions, values)
}

fn check<F: SearchField>(parsed: Result<Search<F>, CoreError>) {
    match parsed {
        Ok(search) => {
            if let Some(filter) = &search.filter {
                let (conditions, values) = counts(filter);
                assert!(
                    conditions <= MAX_QUERY_CONDITIONS,
                    "{conditions} conditions"
                );
                assert!(values <= MAX_QUERY_VALUES, "{values} values");
            }
        }
        Err(CoreError::InvalidInput { .. }) => {}
        Err(other) => panic!("a query is a client's mistake, not {other:?}"),
    }
}

fuzz_mutator!(|data: &mut [u8], size: usize, max_size: usize, seed: u32| {
    repeat::mutate(data, size, max_size, seed)
});

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    // query \x01 freeText \x01 sort
    let mut parts = text.splitn(3, '\u{1}');
    let query = parts.next();
    let free_text = parts.next();
    let sort = parts.next();
    check(WorkflowSearch::parse(
        query,
        free_text,
        Some(0),
        Some(10),
        sort,
    ));
    check(TaskSearch::parse(query, free_text, None, None, sort));
});
