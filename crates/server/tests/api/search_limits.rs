//! Search queries are attacker-controlled text that any authenticated caller may send:
//! deep nesting and huge queries get a 400 naming the limit, and the server keeps
//! serving.

use crate::helpers::{Answer, TestApp, application};

/// Encodes a query value compactly (a URI is at most 64 KiB): spaces as `+`, and only
/// what would end the value percent-encoded.
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            ' ' => out.push('+'),
            '&' | '#' | '%' | '+' | '\'' | '"' | '<' | '>' => {
                out.push_str(&format!("%{:02X}", ch as u32))
            }
            other => out.push(other),
        }
    }
    out
}

fn assert_refused(answer: &Answer, message_part: &str) {
    assert_eq!(answer.status, 400, "{}", answer.text);
    let message = answer.json()["message"].as_str().unwrap_or("").to_string();
    assert!(message.contains(message_part), "{message}");
}

#[tokio::test]
async fn a_caller_without_roles_cannot_crash_the_server_with_a_query() {
    let app = TestApp::spawn().await;
    // Any authenticated caller may search (results are filtered by READ).
    let nobody = application(&app, "no-roles", &[]).await;
    let deep = format!("{}status = RUNNING{}", "(".repeat(5000), ")".repeat(5000));
    let ors = vec!["status=x"; 5000].join(" OR ");
    for route in ["/api/workflow/search", "/api/tasks/search"] {
        let path = format!("{route}?query={}", encode(&deep));
        let answer = app.call_as(Some(&nobody.token), "GET", &path, None).await;
        assert_refused(&answer, "nested more than 32 levels");
        let path = format!("{route}?query={}", encode(&ors));
        let answer = app.call_as(Some(&nobody.token), "GET", &path, None).await;
        assert_refused(&answer, "more than 100 conditions");
        let words = vec!["w"; 5000].join(" ");
        let path = format!("{route}?freeText={}", encode(&words));
        let answer = app.call_as(Some(&nobody.token), "GET", &path, None).await;
        assert_refused(&answer, "at most 32 words");
    }
    // A lone `!` used to be tokenized forever, until the server ran out of memory.
    for route in ["/api/workflow/search", "/api/tasks/search"] {
        let path = format!("{route}?query={}", encode("status = !"));
        let answer = app.call_as(Some(&nobody.token), "GET", &path, None).await;
        assert_refused(&answer, "unexpected '!'");
    }
    // The limits themselves are served, and the server is still up.
    let within = format!(
        "{}{}{}",
        "(".repeat(32),
        vec!["workflowType = x"; 100].join(" OR "),
        ")".repeat(32)
    );
    for route in ["/api/workflow/search", "/api/tasks/search"] {
        let answer = app
            .call_as(
                Some(&nobody.token),
                "GET",
                &format!("{route}?query={}", encode(&within)),
                None,
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let values = vec!["v"; 1000].join(",");
    let answer = app
        .get(&format!(
            "/api/workflow/search?query={}",
            encode(&format!("workflowId IN ({values})"))
        ))
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.get("/health").await.status, 200);
    app.stop().await;
}
