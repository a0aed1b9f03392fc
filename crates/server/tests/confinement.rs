//! The script runner process, as the server starts it: it evaluates scripts and jq
//! programs under its seccomp allow-list, with no new privileges, and nothing else.

#![cfg(target_os = "linux")]
#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::io::{Read, Write};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

fn runner() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_podium"));
    command
        .arg("script-runner")
        .env_clear()
        .env("MIMALLOC_ARENA_RESERVE", "0")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    command
}

fn request(language: &str, script: &str, millis: u64) -> Value {
    json!({"language": language, "script": script, "input": {"n": 4}, "maxMillis": millis,
           "maxMemoryBytes": 64 << 20, "maxStackBytes": 256 << 10, "maxResultBytes": 1 << 20})
}

fn evaluate(request: Value) -> Value {
    let mut child = runner().spawn().expect("the runner starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(request.to_string().as_bytes())
        .expect("request written");
    drop(stdin);
    let mut answer = String::new();
    child
        .stdout
        .take()
        .expect("stdout")
        .read_to_string(&mut answer)
        .expect("answer read");
    let _ = child.wait();
    serde_json::from_str(&answer).expect("an answer")
}

#[test]
fn scripts_and_jq_programs_run_under_the_allow_list() {
    for (language, script, wanted) in [
        ("javascript", "$.n * 2", json!({"ok": 8})),
        (
            "javascript",
            "var a = []; for (var i = 0; i < 100000; i++) a.push({i: i}); a.length",
            json!({"ok": 100000}),
        ),
        (
            "javascript",
            "Date.now() > 0 && Math.random() < 1",
            json!({"ok": true}),
        ),
        ("jq", ".n | [., . * 2]", json!({"ok": [[4, 8]]})),
    ] {
        assert_eq!(
            evaluate(request(language, script, 2000)),
            wanted,
            "{script}"
        );
    }
    let answer = evaluate(request("javascript", "new Array(1e9).fill(1)", 2000));
    assert_eq!(answer["error"]["kind"], "memory", "{answer}");
    let answer = evaluate(request("javascript", "while (true) {}", 200));
    assert_eq!(answer["error"]["kind"], "timeout", "{answer}");
}

#[test]
// A plain test thread, not a runtime's: it may sleep.
#[allow(clippy::disallowed_methods)]
fn a_running_evaluation_has_no_new_privileges_and_a_seccomp_filter() {
    let mut child = runner().spawn().expect("the runner starts");
    let mut stdin = child.stdin.take().expect("stdin");
    stdin
        .write_all(
            request("javascript", "while (true) {}", 5000)
                .to_string()
                .as_bytes(),
        )
        .expect("request written");
    drop(stdin);
    let status_file = format!("/proc/{}/status", child.id());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut status = String::new();
    while Instant::now() < deadline {
        status = std::fs::read_to_string(&status_file).unwrap_or_default();
        if status.contains("Seccomp:\t2") {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(status.contains("NoNewPrivs:\t1"), "{status}");
    assert!(status.contains("Seccomp:\t2"), "filter mode: {status}");
}
