//! A test server: the real application on 127.0.0.1:0 with its own data directory and
//! a fake clock, plus request helpers.

use std::sync::Arc;
use std::time::Duration;

use podium_core::clock::FakeClock;
use podium_server::Application;
use podium_server::config::{Config, SecretValue};
use serde_json::{Value, json};

/// The first admin's access key in test servers.
pub const ADMIN_KEY_ID: &str = "test-admin-key";
/// Its secret.
pub const ADMIN_KEY_SECRET: &str = "test-admin-secret-0123456789abcdef0123456789";

/// The settings of test servers: loopback on port 0, the given data directory, the
/// first admin's key configured, long-lived tokens.
pub fn test_config(data_dir: &std::path::Path) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: data_dir.to_path_buf(),
        shutdown_grace_seconds: 5,
        admin_key_id: Some(ADMIN_KEY_ID.into()),
        admin_key_secret: Some(SecretValue::new(ADMIN_KEY_SECRET)),
        token_max_ttl_seconds: 10 * 365 * 24 * 3600,
        // Short, so that tests of failed sign-ins run quickly; one test measures
        // the delays with its own.
        token_failure_delay_ms: 5,
        token_failure_max_delay_ms: 40,
        // The server runs in this test process: scripts run in the built `podium`.
        script_runner: Some(env!("CARGO_BIN_EXE_podium").into()),
        ..Config::default()
    }
}

/// Lets `HTTP` tasks call peers on 127.0.0.1 (test services run there; the server's
/// own port stays refused). Refused by default, as every loopback address is.
pub fn allow_loopback(config: &mut Config) {
    config.http_task_allow = vec!["127.0.0.1".into()];
}

/// A running server for one test.
pub struct TestApp {
    pub base: String,
    /// The metrics listener's base URL, when `metrics_listen` is set.
    pub metrics_base: Option<String>,
    /// A client that sends the admin's token with every request.
    pub client: reqwest::Client,
    /// A client that sends no token unless told to.
    plain: reqwest::Client,
    /// The token sent with every request (the first admin's), if any.
    pub token: Option<String>,
    /// The route table: method, path and declared access.
    pub routes: Vec<(String, String, podium_core::security::RouteAccess)>,
    pub clock: FakeClock,
    runtime: Arc<podium_core::service::Runtime>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
    dir: tempfile::TempDir,
    config: Config,
}

/// A response: status, headers and body text.
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub text: String,
}

impl Answer {
    /// The body as JSON.
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.text))
    }
}

impl TestApp {
    /// Starts a server with default settings.
    pub async fn spawn() -> TestApp {
        TestApp::spawn_with(|_| {}).await
    }

    /// Starts a server after adjusting its configuration. Security is on, with the
    /// first admin's key configured; requests carry that admin's token (long-lived, as
    /// tests move the clock by hours).
    pub async fn spawn_with(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&dir.path().join("data"));
        crate::database::use_test_database(&mut config).await;
        adjust(&mut config);
        TestApp::launch(config, dir, FakeClock::new(1_800_000_000_000)).await
    }

    /// [`TestApp::spawn_with`] with the clock at the real time now, for tests with a
    /// peer that stamps times of its own (an identity provider's tokens).
    pub async fn spawn_now(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&dir.path().join("data"));
        crate::database::use_test_database(&mut config).await;
        adjust(&mut config);
        use podium_core::clock::{Clock, SystemClock};
        TestApp::launch(config, dir, FakeClock::new(SystemClock.now_millis())).await
    }

    /// [`TestApp::spawn_with`] on the embedded store whatever the test database is
    /// (for tests of the database files themselves).
    pub async fn spawn_embedded(adjust: impl FnOnce(&mut Config)) -> TestApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let mut config = test_config(&dir.path().join("data"));
        adjust(&mut config);
        TestApp::launch(config, dir, FakeClock::new(1_800_000_000_000)).await
    }

    /// Everything the server stores, as bytes: its database files, or a dump of its
    /// PostgreSQL schema.
    pub async fn stored_bytes(&self) -> Vec<u8> {
        if let Some(url) = &self.config.database_url {
            return crate::database::dump(url.expose()).await;
        }
        let mut bytes = Vec::new();
        for entry in std::fs::read_dir(self.data_dir()).expect("data dir") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if name.starts_with("podium.db") {
                bytes.extend(std::fs::read(&path).expect("read"));
            }
        }
        bytes
    }

    /// Stops the server and starts it again on the same data directory and clock, as
    /// after a crash or an upgrade.
    pub async fn restart(mut self) -> TestApp {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        let TestApp {
            config, dir, clock, ..
        } = self;
        TestApp::launch(config, dir, clock).await
    }

    async fn launch(config: Config, dir: tempfile::TempDir, clock: FakeClock) -> TestApp {
        let app = Application::build_with_clock(&config, Arc::new(clock.clone()))
            .await
            .expect("server starts");
        let base = format!("http://{}", app.local_addr());
        let metrics_base = app.metrics_addr().map(|addr| format!("http://{addr}"));
        let runtime = app.runtime();
        let routes = app
            .routes()
            .iter()
            .map(|r| (r.method.to_string(), r.path.to_string(), r.access))
            .collect();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(app.run_until(async move {
            let _ = stopped.await;
        }));
        let mut app = TestApp {
            base,
            metrics_base,
            client: reqwest::Client::new(),
            plain: reqwest::Client::new(),
            token: None,
            routes,
            clock,
            runtime,
            stop: Some(stop),
            server: Some(server),
            dir,
            config: config.clone(),
        };
        if config.security == podium_server::config::Security::Enabled
            && config.admin_key_id.is_some()
        {
            let token = app.mint(ADMIN_KEY_ID, ADMIN_KEY_SECRET, Some(-1)).await;
            let mut headers = reqwest::header::HeaderMap::new();
            headers.insert(
                "X-Authorization",
                reqwest::header::HeaderValue::from_str(&token).expect("header"),
            );
            app.client = reqwest::Client::builder()
                .default_headers(headers)
                .build()
                .expect("client");
            app.token = Some(token);
        }
        app
    }

    /// Mints a token from an access key (`expiration` in ms, as the API takes it).
    pub async fn mint(&self, key_id: &str, secret: &str, expiration: Option<i64>) -> String {
        let mut body = json!({"keyId": key_id, "keySecret": secret});
        if let Some(ms) = expiration {
            body["expiration"] = json!(ms);
        }
        let answer = self.call_as(None, "POST", "/api/token", Some(body)).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()["token"].as_str().expect("token").to_string()
    }

    /// A built-in user's sign-in at `POST /api/token`.
    pub async fn sign_in(&self, user: &str, password: &str) -> Answer {
        let body = json!({"userId": user, "password": password});
        self.call_as(None, "POST", "/api/token", Some(body)).await
    }

    /// Sends a request with a given token (or none).
    pub async fn call_as(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut request = self.plain.request(method, format!("{}{}", self.base, path));
        if let Some(token) = token {
            request = request.header("X-Authorization", token);
        }
        if let Some(body) = body {
            request = request
                .header("content-type", "application/json")
                .body(serde_json::to_vec(&body).expect("json"));
        }
        answer(request.send().await.expect("request sent")).await
    }

    /// A client that sends no token unless told to, for requests built by hand.
    pub fn client_without_token(&self) -> &reqwest::Client {
        &self.plain
    }

    /// The server's clock, in seconds.
    pub fn clock_now_seconds(&self) -> i64 {
        use podium_core::clock::Clock;
        self.clock.now_millis() / 1000
    }

    /// The services' runtime (to run background work on demand).
    pub fn runtime(&self) -> &Arc<podium_core::service::Runtime> {
        &self.runtime
    }

    /// The server's data directory.
    pub fn data_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("data")
    }

    /// Moves the fake clock and wakes the background loops.
    pub fn advance(&self, millis: i64) {
        self.clock.advance(millis);
        self.runtime.wake_background();
    }

    /// Stops the server gracefully and waits for it.
    pub async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
    }

    /// Stops the server and hands over its directory, whose data stays until the
    /// directory is dropped.
    pub async fn stop_keeping_data(mut self) -> tempfile::TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(server) = self.server.take() {
            let _ = tokio::time::timeout(Duration::from_secs(10), server).await;
        }
        let TestApp { dir, .. } = self;
        dir
    }

    /// Sends a request as the admin; `body` is sent as JSON.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> Answer {
        self.call_as(self.token.as_deref(), method, path, body)
            .await
    }

    /// Sends a raw body with a content type.
    pub async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> Answer {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let request = self
            .client
            .request(method, format!("{}{}", self.base, path))
            .header("content-type", content_type)
            .body(body);
        answer(request.send().await.expect("request sent")).await
    }

    /// Sends a request with a chunked body over a raw connection; returns the raw reply.
    pub async fn raw_http(&self, method: &str, path: &str, chunked_body: &str) -> String {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let addr = self.base.trim_start_matches("http://");
        let mut stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        let auth = self
            .token
            .as_ref()
            .map(|t| format!("X-Authorization: {t}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{auth}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n{chunked_body}"
        );
        stream.write_all(request.as_bytes()).await.expect("write");
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply).await;
        String::from_utf8_lossy(&reply).into_owned()
    }

    /// Creates (or replaces) a group with these roles, as the admin.
    pub async fn put_group(&self, id: &str, roles: &[&str]) {
        let answer = self
            .call(
                "PUT",
                &format!("/api/groups/{id}"),
                Some(json!({"description": id, "roles": roles})),
            )
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }

    pub async fn get(&self, path: &str) -> Answer {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> Answer {
        self.call("POST", path, Some(body)).await
    }

    /// Registers task definitions and a workflow definition.
    pub async fn register(&self, task_defs: Value, workflow: Value) {
        if task_defs.as_array().is_some_and(|a| !a.is_empty()) {
            let answer = self.post("/api/metadata/taskdefs", task_defs).await;
            assert_eq!(answer.status, 200, "{}", answer.text);
        }
        let answer = self
            .post("/api/metadata/workflow?overwrite=true", workflow)
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }

    /// Starts a workflow by name; returns its id.
    pub async fn start(&self, name: &str, input: Value) -> String {
        let answer = self.post(&format!("/api/workflow/{name}"), input).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        assert!(
            answer.content_type.starts_with("text/plain"),
            "{}",
            answer.content_type
        );
        answer.text
    }

    /// A workflow with its tasks.
    pub async fn workflow(&self, id: &str) -> Value {
        let answer = self.get(&format!("/api/workflow/{id}")).await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json()
    }

    /// Polls a batch of tasks.
    pub async fn poll(&self, task_type: &str, count: usize, timeout_ms: u64) -> Vec<Value> {
        let answer = self
            .get(&format!("/api/tasks/poll/batch/{task_type}?workerid=tester&count={count}&timeout={timeout_ms}"))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
        answer.json().as_array().cloned().unwrap_or_default()
    }

    /// Completes a polled task with output.
    pub async fn complete(&self, task: &Value, output: Value) -> Answer {
        self.post(
            "/api/tasks",
            json!({
                "workflowInstanceId": task["workflowInstanceId"],
                "taskId": task["taskId"],
                "status": "COMPLETED",
                "outputData": output,
                "workerId": "tester"
            }),
        )
        .await
    }

    /// Waits until a workflow reaches a status (the background loops run in real time).
    pub async fn wait_for_status(&self, id: &str, status: &str) -> Value {
        for _ in 0..200 {
            let workflow = self.workflow(id).await;
            if workflow["status"] == status {
                return workflow;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        let workflow = self.workflow(id).await;
        panic!("workflow {id} did not reach {status}: {workflow}");
    }
}

/// Sends a request built by hand.
pub async fn answer_of(request: reqwest::RequestBuilder) -> Answer {
    answer(request.send().await.expect("request sent")).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let text = response.text().await.expect("body");
    Answer {
        status,
        content_type,
        text,
    }
}

/// An application with a key: its id, and a token minted from the key.
pub struct App {
    pub id: String,
    pub key_id: String,
    pub secret: String,
    pub token: String,
}

/// Serves `router` on a free loopback port (a peer the server under test calls);
/// returns its base URL and the task serving it (abort it when done).
pub async fn serve_locally(router: axum::Router) -> (String, tokio::task::JoinHandle<()>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    (format!("http://{addr}"), server)
}

/// The reason a workflow's first task did not complete.
pub fn first_task_reason(workflow: &Value) -> String {
    workflow["tasks"][0]["reasonForIncompletion"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Creates an application with `roles` and one access key.
pub async fn application(app: &TestApp, name: &str, roles: &[&str]) -> App {
    let created = app.post("/api/applications", json!({"name": name})).await;
    assert_eq!(created.status, 200, "{}", created.text);
    let id = created.json()["id"].as_str().expect("id").to_string();
    for role in roles {
        let answer = app
            .post(&format!("/api/applications/{id}/roles/{role}"), json!({}))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let key = app
        .post(&format!("/api/applications/{id}/accessKeys"), json!({}))
        .await;
    assert_eq!(key.status, 200, "{}", key.text);
    let key = key.json();
    let (key_id, secret) = (
        key["id"].as_str().expect("key id").to_string(),
        key["secret"].as_str().expect("secret").to_string(),
    );
    let token = app.mint(&key_id, &secret, None).await;
    App {
        id,
        key_id,
        secret,
        token,
    }
}

/// Grants `access` on a target to a subject (a user id, or `app:<id>`).
pub async fn grant(app: &TestApp, subject: &str, kind: &str, id: &str, access: &[&str]) -> Answer {
    app.post(
        "/api/auth/authorization",
        json!({"subject": {"type": "USER", "id": subject}, "target": {"type": kind, "id": id}, "access": access}),
    )
    .await
}

/// A task definition with small timings for tests.
pub fn task_def(name: &str) -> Value {
    json!({"name": name, "retryCount": 0, "retryDelaySeconds": 0, "responseTimeoutSeconds": 30, "timeoutSeconds": 0})
}

/// A workflow of worker tasks in sequence.
pub fn linear(name: &str, refs: &[(&str, &str)]) -> Value {
    let tasks: Vec<Value> = refs
        .iter()
        .map(|(task, reference)| json!({"name": task, "taskReferenceName": reference, "type": "SIMPLE", "inputParameters": {"n": "${workflow.input.n}"}}))
        .collect();
    json!({"name": name, "version": 1, "tasks": tasks})
}
