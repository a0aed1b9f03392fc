//! jq programs, as `JSON_JQ_TRANSFORM` runs them, with the jaq crates. jaq has no
//! limits of its own (a deep recursion overflows the stack, a huge array fills the
//! memory), so it runs only in a script-runner process (`runner`), which the
//! server kills at the deadline and whose memory is capped; an overflow ends that
//! process and fails that task only.

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{Compiler, Ctx, Vars, data};
use jaq_json::Val;

use super::ScriptError;

/// Runs `query` over `input` (JSON text); every output as JSON text, in order,
/// together at most `max_bytes` long.
pub fn transform(query: &str, input: &str, max_bytes: usize) -> Result<Vec<String>, ScriptError> {
    let input = jaq_json::read::parse_single(input.as_bytes())
        .map_err(|e| ScriptError::Invalid(format!("the input is not JSON: {e}")))?;
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    // `env` would read the process's environment (the runner has none, but no
    // program needs it).
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, ..)| *name != "env");
    let arena = Arena::default();
    let program = File {
        code: query,
        path: (),
    };
    let modules = Loader::new(defs)
        .load(&arena, program)
        .map_err(|errors| ScriptError::failed(load_errors(&errors)))?;
    let filter = Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| ScriptError::failed(compile_errors(&errors)))?;
    let ctx = Ctx::<data::JustLut<Val>>::new(&filter.lut, Vars::new([]));
    let mut outputs = Vec::new();
    let mut used = 0_usize;
    for output in filter.id.run((ctx, input)) {
        let value = match output {
            Ok(value) => value,
            Err(exn) => {
                return Err(ScriptError::failed(match exn.get_err() {
                    Ok(error) => error.to_string(),
                    Err(_) => "the program stopped with halt".to_string(),
                }));
            }
        };
        let text = value.to_string();
        // jaq writes some values JSON has no form for (NaN, infinities, byte
        // strings, non-string keys) as they are.
        if serde_json::from_str::<serde::de::IgnoredAny>(&text).is_err() {
            return Err(ScriptError::failed(format!(
                "an output cannot be written as JSON: {}",
                cut(&text)
            )));
        }
        used = used.saturating_add(text.len() + 1);
        if used > max_bytes {
            return Err(ScriptError::Invalid(format!(
                "The program's outputs are more than the permissible limit: {max_bytes} bytes of JSON"
            )));
        }
        outputs.push(text);
    }
    Ok(outputs)
}

fn load_errors(errors: &jaq_core::load::Errors<&str, ()>) -> String {
    use jaq_core::load::Error;
    let mut messages = Vec::new();
    for (_, error) in errors {
        match error {
            Error::Io(items) => messages.extend(items.iter().map(|(_, m)| m.clone())),
            Error::Lex(items) => messages.extend(
                items
                    .iter()
                    .map(|(expect, at)| format!("expected {} at '{}'", expect.as_str(), cut(at))),
            ),
            Error::Parse(items) => messages.extend(
                items
                    .iter()
                    .map(|(expect, at)| format!("expected {} at '{}'", expect.as_str(), cut(at))),
            ),
        }
    }
    format!("the jq program cannot be read: {}", messages.join("; "))
}

fn compile_errors(errors: &jaq_core::compile::Errors<&str, ()>) -> String {
    let messages: Vec<String> = errors
        .iter()
        .flat_map(|(_, items)| items.iter())
        .map(|(name, undefined)| format!("{undefined:?} {name} is not defined").to_lowercase())
        .collect();
    format!("the jq program cannot be compiled: {}", messages.join("; "))
}

/// The start of the program where an error was found.
fn cut(at: &str) -> String {
    at.chars().take(24).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(query: &str, input: &str) -> Result<Vec<String>, ScriptError> {
        transform(query, input, 1024)
    }

    #[test]
    fn programs_give_every_output() {
        assert_eq!(
            run(".[] | .a", r#"[{"a": 1}, {"a": "x"}]"#),
            Ok(vec!["1".to_string(), "\"x\"".to_string()])
        );
        assert_eq!(
            run(
                "{total: map(.n) | add, names: [.[].name]}",
                r#"[{"n": 2, "name": "a"}, {"n": 3, "name": "b"}]"#
            ),
            Ok(vec![r#"{"total":5,"names":["a","b"]}"#.to_string()])
        );
        assert_eq!(run("empty", "null"), Ok(Vec::new()));
    }

    #[test]
    fn errors_are_named() {
        let Err(ScriptError::Failed { message, .. }) = run(".a.b", "[1]") else {
            panic!("an error");
        };
        assert!(message.contains("cannot index"), "{message}");
        assert!(matches!(run(".[", "1"), Err(ScriptError::Failed { .. })));
        let Err(ScriptError::Failed { message, .. }) = run("nosuchfilter", "1") else {
            panic!("an error");
        };
        assert!(message.contains("nosuchfilter"), "{message}");
        assert!(matches!(run("env", "1"), Err(ScriptError::Failed { .. })));
        assert_eq!(
            run("halt(1)", "1"),
            Err(ScriptError::failed("the program stopped with halt"))
        );
        assert!(matches!(run(".", "not json"), Err(ScriptError::Invalid(_))));
        let Err(ScriptError::Failed { message, .. }) = run("nan", "null") else {
            panic!("refused");
        };
        assert!(message.contains("cannot be written as JSON"), "{message}");
        assert!(matches!(
            run("[range(100000)]", "null"),
            Err(ScriptError::Invalid(_))
        ));
    }
}
