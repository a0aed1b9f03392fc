//! Search requests for workflows and tasks: the query language of Conductor's
//! `/workflow/search` and `/tasks/search` (`workflowType = 'x' AND status IN (A, B)
//! AND startTime > 1700000000000`), parsed into a typed filter that stores translate.

use crate::error::CoreError;

pub use crate::store::query::{
    FieldKind, Filter, Op, Search, SearchField, SearchValue, SortOrder, TaskField, TaskSearch,
    WorkflowField, WorkflowSearch,
};

/// Most results one page may hold.
pub const MAX_PAGE_SIZE: i64 = 1000;
/// Longest `query`, in characters.
pub const MAX_QUERY_CHARS: usize = 64 * 1024;
/// Deepest nesting of parentheses in a `query`.
pub const MAX_QUERY_DEPTH: usize = 32;
/// Most conditions (`field op value`, `field IN (...)`) in a `query`.
pub const MAX_QUERY_CONDITIONS: usize = 100;
/// Most values in a `query`, over all its conditions and `IN` lists.
pub const MAX_QUERY_VALUES: usize = 1000;
/// Most words in `freeText` (each one is matched on its own).
pub const MAX_FREE_TEXT_WORDS: usize = 32;
/// Most fields in `sort`.
pub const MAX_SORT_FIELDS: usize = 16;

impl<F: SearchField> Search<F> {
    /// Builds a search from the query-string parameters of the search routes.
    pub fn parse(
        query: Option<&str>,
        free_text: Option<&str>,
        start: Option<i64>,
        size: Option<i64>,
        sort: Option<&str>,
    ) -> Result<Search<F>, CoreError> {
        let filter = match query.map(str::trim).filter(|q| !q.is_empty()) {
            Some(q) if q.chars().count() > MAX_QUERY_CHARS => {
                return Err(CoreError::invalid(format!(
                    "Invalid search query: longer than {MAX_QUERY_CHARS} characters"
                )));
            }
            Some(q) => Some(Parser::new(q).parse_query()?),
            None => None,
        };
        let free_text = free_text
            .map(str::trim)
            .filter(|t| !t.is_empty() && *t != "*")
            .map(str::to_string);
        if let Some(text) = &free_text
            && (text.chars().count() > MAX_QUERY_CHARS
                || text.split_whitespace().nth(MAX_FREE_TEXT_WORDS).is_some())
        {
            return Err(CoreError::invalid(format!(
                "freeText may hold at most {MAX_FREE_TEXT_WORDS} words and {MAX_QUERY_CHARS} characters"
            )));
        }
        let start = start.unwrap_or(0);
        if start < 0 {
            return Err(CoreError::invalid("start must not be negative"));
        }
        let size = size.unwrap_or(100);
        if !(0..=MAX_PAGE_SIZE).contains(&size) {
            return Err(CoreError::invalid(format!(
                "size must be between 0 and {MAX_PAGE_SIZE}"
            )));
        }
        let mut sorts = Vec::new();
        for part in sort
            .unwrap_or("")
            .split([',', ';'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            if sorts.len() == MAX_SORT_FIELDS {
                return Err(CoreError::invalid(format!(
                    "sort may name at most {MAX_SORT_FIELDS} fields"
                )));
            }
            let (name, order) = match part.split_once(':') {
                Some((name, order)) => (name.trim(), order.trim()),
                None => (part, "ASC"),
            };
            let field = F::from_name(name).ok_or_else(|| {
                CoreError::invalid(format!("cannot sort by unknown field '{name}'"))
            })?;
            let order = match order.to_ascii_uppercase().as_str() {
                "ASC" => SortOrder::Asc,
                "DESC" => SortOrder::Desc,
                other => {
                    return Err(CoreError::invalid(format!(
                        "sort order must be ASC or DESC, not '{other}'"
                    )));
                }
            };
            sorts.push((field, order));
        }
        Ok(Search {
            filter,
            free_text,
            start,
            size,
            sort: sorts,
        })
    }
}

/// A token of the query language.
#[derive(Debug, Clone, PartialEq)]
enum Token {
    Word(String),
    Quoted(String),
    Op(Op),
    Open,
    Close,
    Comma,
}

/// A recursive-descent parser over the tokens, with every recursion and count bounded
/// (a query is attacker-controlled text that any authenticated caller may send).
struct Parser {
    tokens: Vec<Token>,
    pos: usize,
    error: Option<String>,
    /// Parentheses open at the current position.
    depth: usize,
    conditions: usize,
    values: usize,
}

fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let chars: Vec<char> = text.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            c if c.is_whitespace() => i += 1,
            '(' => {
                tokens.push(Token::Open);
                i += 1;
            }
            ')' => {
                tokens.push(Token::Close);
                i += 1;
            }
            ',' => {
                tokens.push(Token::Comma);
                i += 1;
            }
            '\'' | '"' => {
                let quote = c;
                let mut value = String::new();
                i += 1;
                loop {
                    match chars.get(i) {
                        None => return Err("unterminated quoted value".to_string()),
                        Some(&ch) if ch == quote => {
                            if chars.get(i + 1) == Some(&quote) {
                                value.push(quote);
                                i += 2;
                            } else {
                                i += 1;
                                break;
                            }
                        }
                        Some(&ch) => {
                            value.push(ch);
                            i += 1;
                        }
                    }
                }
                tokens.push(Token::Quoted(value));
            }
            '=' => {
                tokens.push(Token::Op(Op::Eq));
                i += 1;
            }
            '!' if chars.get(i + 1) == Some(&'=') => {
                tokens.push(Token::Op(Op::Ne));
                i += 2;
            }
            '<' => match chars.get(i + 1) {
                Some('=') => {
                    tokens.push(Token::Op(Op::Le));
                    i += 2;
                }
                Some('>') => {
                    tokens.push(Token::Op(Op::Ne));
                    i += 2;
                }
                _ => {
                    tokens.push(Token::Op(Op::Lt));
                    i += 1;
                }
            },
            '>' => {
                if chars.get(i + 1) == Some(&'=') {
                    tokens.push(Token::Op(Op::Ge));
                    i += 2;
                } else {
                    tokens.push(Token::Op(Op::Gt));
                    i += 1;
                }
            }
            _ => {
                let mut word = String::new();
                while let Some(&ch) = chars.get(i) {
                    if ch.is_whitespace()
                        || matches!(ch, '(' | ')' | ',' | '=' | '<' | '>' | '!' | '\'' | '"')
                    {
                        break;
                    }
                    word.push(ch);
                    i += 1;
                }
                if word.is_empty() {
                    // A `!` not followed by `=`: nothing would consume it.
                    return Err(format!("unexpected '{c}'"));
                }
                tokens.push(Token::Word(word));
            }
        }
    }
    Ok(tokens)
}

impl Parser {
    fn new(text: &str) -> Parser {
        match tokenize(text) {
            Ok(tokens) => Parser {
                tokens,
                pos: 0,
                error: None,
                depth: 0,
                conditions: 0,
                values: 0,
            },
            Err(error) => Parser {
                tokens: Vec::new(),
                pos: 0,
                error: Some(error),
                depth: 0,
                conditions: 0,
                values: 0,
            },
        }
    }

    fn fail<T>(&self, message: impl Into<String>) -> Result<T, CoreError> {
        Err(CoreError::invalid(format!(
            "Invalid search query: {}",
            message.into()
        )))
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn parse_query<F: SearchField>(&mut self) -> Result<Filter<F>, CoreError> {
        if let Some(error) = self.error.clone() {
            return self.fail(error);
        }
        let filter = self.parse_or()?;
        if self.pos < self.tokens.len() {
            return self.fail(format!("unexpected {:?}", self.tokens[self.pos]));
        }
        Ok(filter)
    }

    fn parse_or<F: SearchField>(&mut self) -> Result<Filter<F>, CoreError> {
        let mut parts = vec![self.parse_and()?];
        while self.keyword("OR") {
            self.pos += 1;
            parts.push(self.parse_and()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::Or(parts)
        })
    }

    fn parse_and<F: SearchField>(&mut self) -> Result<Filter<F>, CoreError> {
        let mut parts = vec![self.parse_atom()?];
        while self.keyword("AND") {
            self.pos += 1;
            parts.push(self.parse_atom()?);
        }
        Ok(if parts.len() == 1 {
            parts.remove(0)
        } else {
            Filter::And(parts)
        })
    }

    fn parse_atom<F: SearchField>(&mut self) -> Result<Filter<F>, CoreError> {
        if self.peek() == Some(&Token::Open) {
            if self.depth == MAX_QUERY_DEPTH {
                return self.fail(format!(
                    "parentheses nested more than {MAX_QUERY_DEPTH} levels deep"
                ));
            }
            self.pos += 1;
            self.depth += 1;
            let inner = self.parse_or()?;
            self.depth -= 1;
            if self.next() != Some(Token::Close) {
                return self.fail("missing ')'");
            }
            return Ok(inner);
        }
        if self.conditions == MAX_QUERY_CONDITIONS {
            return self.fail(format!(
                "more than {MAX_QUERY_CONDITIONS} conditions; narrow the query"
            ));
        }
        self.conditions += 1;
        let name = match self.next() {
            Some(Token::Word(w)) => w,
            other => return self.fail(format!("expected a field name, found {other:?}")),
        };
        let Some(field) = F::from_name(&name) else {
            return self.fail(format!("unknown field '{name}'"));
        };
        if self.keyword("NOT") {
            self.pos += 1;
            if !self.keyword("IN") {
                return self.fail("expected IN after NOT");
            }
            self.pos += 1;
            return Ok(Filter::NotIn(field, self.parse_list(field)?));
        }
        if self.keyword("IN") {
            self.pos += 1;
            return Ok(Filter::In(field, self.parse_list(field)?));
        }
        let op = match self.next() {
            Some(Token::Op(op)) => op,
            other => {
                return self.fail(format!(
                    "expected an operator after '{name}', found {other:?}"
                ));
            }
        };
        let value = self.parse_value(field)?;
        Ok(Filter::Compare(field, op, value))
    }

    fn parse_list<F: SearchField>(&mut self, field: F) -> Result<Vec<SearchValue>, CoreError> {
        if self.next() != Some(Token::Open) {
            return self.fail("expected '(' after IN");
        }
        let mut values = Vec::new();
        loop {
            values.push(self.parse_value(field)?);
            match self.next() {
                Some(Token::Comma) => continue,
                Some(Token::Close) => break,
                other => return self.fail(format!("expected ',' or ')', found {other:?}")),
            }
        }
        Ok(values)
    }

    fn parse_value<F: SearchField>(&mut self, field: F) -> Result<SearchValue, CoreError> {
        if self.values == MAX_QUERY_VALUES {
            return self.fail(format!(
                "more than {MAX_QUERY_VALUES} values; narrow the query"
            ));
        }
        self.values += 1;
        let text = match self.next() {
            Some(Token::Word(w)) | Some(Token::Quoted(w)) => w,
            other => return self.fail(format!("expected a value, found {other:?}")),
        };
        match field.kind() {
            FieldKind::Text => Ok(SearchValue::Text(text)),
            FieldKind::Number => match text.parse::<i64>() {
                Ok(n) => Ok(SearchValue::Number(n)),
                Err(_) => self.fail(format!("'{text}' is not a number")),
            },
            FieldKind::Time => match parse_time(&text) {
                Some(ms) => Ok(SearchValue::Number(ms)),
                None => self.fail(format!(
                    "'{text}' is not a time (epoch milliseconds or ISO-8601)"
                )),
            },
        }
    }
}

/// Epoch milliseconds, or an ISO-8601 date or date-time.
fn parse_time(text: &str) -> Option<i64> {
    if let Ok(ms) = text.parse::<i64>() {
        return Some(ms);
    }
    if let Ok(dt) = chrono::DateTime::parse_from_rfc3339(text) {
        return Some(dt.timestamp_millis());
    }
    if let Ok(dt) = chrono::NaiveDateTime::parse_from_str(text, "%Y-%m-%dT%H:%M:%S%.f") {
        return Some(dt.and_utc().timestamp_millis());
    }
    chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
        .ok()
        .and_then(|d| d.and_hms_opt(0, 0, 0))
        .map(|dt| dt.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn wf(query: &str) -> Result<Option<Filter<WorkflowField>>, CoreError> {
        WorkflowSearch::parse(Some(query), None, None, None, None).map(|s| s.filter)
    }

    #[test]
    fn parses_conductor_queries() {
        let filter = wf(
            "workflowType = 'order' AND status IN (RUNNING, PAUSED) AND startTime > 1700000000000",
        )
        .unwrap();
        assert_eq!(
            filter,
            Some(Filter::And(vec![
                Filter::Compare(
                    WorkflowField::WorkflowType,
                    Op::Eq,
                    SearchValue::Text("order".into())
                ),
                Filter::In(
                    WorkflowField::Status,
                    vec![
                        SearchValue::Text("RUNNING".into()),
                        SearchValue::Text("PAUSED".into())
                    ]
                ),
                Filter::Compare(
                    WorkflowField::StartTime,
                    Op::Gt,
                    SearchValue::Number(1_700_000_000_000)
                ),
            ]))
        );
        let filter =
            wf("(status = FAILED OR status = TIMED_OUT) AND correlationId != \"c 1\"").unwrap();
        assert!(matches!(filter, Some(Filter::And(parts)) if parts.len() == 2));
        assert_eq!(
            wf("startTime >= 1970-01-02").unwrap(),
            Some(Filter::Compare(
                WorkflowField::StartTime,
                Op::Ge,
                SearchValue::Number(86_400_000)
            ))
        );
    }

    #[test]
    fn rejects_bad_queries_clearly() {
        for bad in [
            "nosuch = 1",
            "status",
            "status IN (A",
            "version = abc",
            "status = 'x",
            "a AND",
            "status = A )",
            // Once tokenized forever, growing until the process ran out of memory
            // (found by the search_query fuzz target).
            "status = !",
            "!",
            "status ! = A",
        ] {
            let err = wf(bad).unwrap_err();
            assert!(matches!(err, CoreError::InvalidInput { .. }), "{bad}");
        }
    }

    fn message(err: CoreError) -> String {
        match err {
            CoreError::InvalidInput { message, .. } => message,
            other => panic!("not a client error: {other:?}"),
        }
    }

    #[test]
    fn deep_nesting_is_refused_without_recursing_into_it() {
        // Deep enough to overflow the stack of a parser that does not count.
        let deep = format!("{}status = A{}", "(".repeat(5000), ")".repeat(5000));
        let err = message(wf(&deep).unwrap_err());
        assert!(err.contains("nested more than 32 levels"), "{err}");
        let within = format!("{}status = A{}", "(".repeat(32), ")".repeat(32));
        assert!(wf(&within).unwrap().is_some());
        // The task fields parse through the same bounded parser.
        let err = TaskSearch::parse(Some(&deep), None, None, None, None).unwrap_err();
        assert!(message(err).contains("nested more than 32 levels"));
    }

    #[test]
    fn conditions_and_values_are_counted() {
        let terms = vec!["name=A"; 5000].join(" OR ");
        let err = message(wf(&terms).unwrap_err());
        assert!(err.contains("more than 100 conditions"), "{err}");
        let within = vec!["status = A"; 100].join(" OR ");
        assert!(matches!(wf(&within).unwrap(), Some(Filter::Or(parts)) if parts.len() == 100));
        let values = vec!["A"; 1001].join(", ");
        let err = message(wf(&format!("status IN ({values})")).unwrap_err());
        assert!(err.contains("more than 1000 values"), "{err}");
        let long = format!("workflowId = '{}'", "x".repeat(MAX_QUERY_CHARS));
        assert!(message(wf(&long).unwrap_err()).contains("longer than"));
    }

    #[test]
    fn free_text_and_sort_are_bounded() {
        let words = vec!["w"; 33].join(" ");
        let err = WorkflowSearch::parse(None, Some(&words), None, None, None).unwrap_err();
        assert!(message(err).contains("at most 32 words"));
        let words = vec!["w"; 32].join(" ");
        assert!(WorkflowSearch::parse(None, Some(&words), None, None, None).is_ok());
        let sort = vec!["startTime:ASC"; 17].join(",");
        let err = WorkflowSearch::parse(None, None, None, None, Some(&sort)).unwrap_err();
        assert!(message(err).contains("at most 16 fields"));
    }

    #[test]
    fn paging_and_sort() {
        let s = WorkflowSearch::parse(None, Some("*"), Some(5), Some(10), Some("startTime:DESC"))
            .unwrap();
        assert_eq!(s.free_text, None);
        assert_eq!((s.start, s.size), (5, 10));
        assert_eq!(s.sort, vec![(WorkflowField::StartTime, SortOrder::Desc)]);
        assert!(WorkflowSearch::parse(None, None, Some(-1), None, None).is_err());
        assert!(WorkflowSearch::parse(None, None, None, Some(100_000), None).is_err());
        assert!(WorkflowSearch::parse(None, None, None, None, Some("bogus:ASC")).is_err());
    }
}
