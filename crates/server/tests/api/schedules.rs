//! The scheduler API: previews of cron expressions.

use crate::helpers::TestApp;

#[tokio::test]
async fn next_few_schedules_previews_a_cron_expression() {
    let app = TestApp::spawn().await;
    // 2027-01-15T08:00:00Z.
    let start = 1_800_000_000_000_i64 - 1_800_000_000_000 % 86_400_000 + 8 * 3_600_000;
    let preview = |query: String| {
        let app = &app;
        async move {
            app.get(&format!("/api/scheduler/nextFewSchedules?{query}"))
                .await
        }
    };
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&limit=3"
    ))
    .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let five_minutes = 300_000;
    assert_eq!(
        answer.json(),
        serde_json::json!([
            start + five_minutes,
            start + 2 * five_minutes,
            start + 3 * five_minutes
        ])
    );
    // At most five; none after the end; a limit of zero is none.
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&limit=50"
    ))
    .await;
    assert_eq!(answer.json().as_array().map(Vec::len), Some(5));
    let end = start + 2 * five_minutes;
    let answer = preview(format!(
        "cronExpression=0+*/5+*+*+*+*&scheduleStartTime={start}&scheduleEndTime={end}"
    ))
    .await;
    assert_eq!(answer.json().as_array().map(Vec::len), Some(2));
    let answer = preview("cronExpression=0+0+*+?+*+*&limit=0".into()).await;
    assert_eq!(answer.json(), serde_json::json!([]));
    // Without a start, from the server's now (the test clock).
    let answer = preview("cronExpression=0+0+*+?+*+*&limit=1".into()).await;
    let now = app.clock_now_seconds() * 1000;
    let first = answer.json()[0].as_i64().unwrap_or_default();
    assert!(
        first > now && first <= now + 3_600_000,
        "{first} after {now}"
    );
    // What cannot be read is a 400 that names the cron expression (the Python SDK
    // turns such an answer into InvalidCronExpression).
    for query in [
        "cronExpression=0+0+*+*+*",
        "cronExpression=every+day",
        "limit=3",
        "cronExpression=0+0+*+*+*+*&limit=three",
    ] {
        let answer = preview(query.into()).await;
        assert_eq!(answer.status, 400, "{query}: {}", answer.text);
        assert_eq!(answer.json()["status"], 400, "{}", answer.text);
    }
    let answer = preview("cronExpression=0+0+*+*+*".into()).await;
    assert!(answer.text.contains("cron expression"), "{}", answer.text);
    app.stop().await;
}
