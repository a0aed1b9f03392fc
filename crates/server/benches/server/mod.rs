//! The server process the benchmarks drive, and HTTP helpers.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// A server process
// ---------------------------------------------------------------------------------

/// Whether the server under test enforces access control.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Security {
    /// The default: every call carries a token and is authorized.
    On,
    /// `security = "disabled"`.
    Off,
}

const ADMIN_KEY_ID: &str = "bench-admin";
const ADMIN_KEY_SECRET: &str = "bench-admin-secret-0123456789abcdef0123";

pub struct Server {
    child: Child,
    pub base: String,
    security: Security,
}

impl Server {
    pub fn start(data_dir: &Path, durability: &str, security: Security) -> Server {
        Server::start_with(data_dir, durability, security, &[])
    }

    /// [`Server::start`] with more environment for the server (e.g. `PODIUM_DATABASE_URL`
    /// to run it on PostgreSQL).
    pub fn start_with(
        data_dir: &Path,
        durability: &str,
        security: Security,
        env: &[(String, String)],
    ) -> Server {
        // BENCH_SERVER_WRAP runs the server under another command (a profiler), e.g.
        // `perf record -e cpu-clock -g -o perf.data --`.
        let wrap = std::env::var("BENCH_SERVER_WRAP").unwrap_or_default();
        let mut parts: Vec<String> = wrap.split_whitespace().map(str::to_string).collect();
        parts.push(env!("CARGO_BIN_EXE_podium").to_string());
        let mut command = Command::new(&parts[0]);
        command.args(&parts[1..]);
        command
            .args([
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--log-level",
                "warn,podium_server=info",
                "--data-dir",
            ])
            .arg(data_dir)
            .env("PODIUM_DURABILITY", durability)
            // scripts/postgres's setting, not the server's: the server refuses PODIUM_*
            // variables it does not know.
            .env_remove("PODIUM_PG_DURABLE")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        match security {
            Security::On => command
                .env("PODIUM_ADMIN_KEY_ID", ADMIN_KEY_ID)
                .env("PODIUM_ADMIN_KEY_SECRET", ADMIN_KEY_SECRET),
            Security::Off => command.env("PODIUM_SECURITY", "disabled"),
        };
        let mut child = command.spawn().expect("server starts");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.split("listening on http://").nth(1)
                    && let Some(tx) = tx.take()
                {
                    let _ = tx.send(
                        rest.chars()
                            .take_while(|c| !c.is_whitespace())
                            .collect::<String>(),
                    );
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("server address");
        Server {
            child,
            base: format!("http://{addr}"),
            security,
        }
    }

    /// A client acting as the admin (no token when security is off).
    pub async fn admin(&self) -> reqwest::Client {
        self.client_for(ADMIN_KEY_ID, ADMIN_KEY_SECRET).await
    }

    /// A client sending a token minted from `key_id` (none when security is off).
    pub async fn client_for(&self, key_id: &str, secret: &str) -> reqwest::Client {
        if self.security == Security::Off {
            return client();
        }
        let answer: Value = client()
            .post(format!("{}/api/token", self.base))
            .json(&json!({"keyId": key_id, "keySecret": secret}))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert(
            "X-Authorization",
            reqwest::header::HeaderValue::from_str(answer["token"].as_str().expect("token"))
                .expect("header"),
        );
        client_with(headers)
    }

    /// An application with `roles` and EXECUTE (READ for secrets) on each of `grants`
    /// (type, name), as a least-privilege program or worker would run; the admin's
    /// client when off.
    pub async fn application(
        &self,
        name: &str,
        roles: &[&str],
        grants: &[(&str, &str)],
    ) -> reqwest::Client {
        if self.security == Security::Off {
            return self.admin().await;
        }
        let (key_id, secret) = self.new_key(name, roles, grants).await;
        self.client_for(&key_id, &secret).await
    }

    /// Creates an application with `roles` and EXECUTE on each of `grants`, and an
    /// access key for it; returns the key id and secret.
    pub async fn new_key(
        &self,
        name: &str,
        roles: &[&str],
        grants: &[(&str, &str)],
    ) -> (String, String) {
        let admin = self.admin().await;
        let base = &self.base;
        let app: Value = post(
            &admin,
            format!("{base}/api/applications"),
            &json!({"name": name}),
        )
        .await
        .json()
        .await
        .expect("application");
        let id = app["id"].as_str().expect("id");
        for role in roles {
            post(
                &admin,
                format!("{base}/api/applications/{id}/roles/{role}"),
                &json!({}),
            )
            .await;
        }
        for (kind, target) in grants {
            // Secrets are read; everything else is executed.
            let access = if *kind == "SECRET_NAME" {
                "READ"
            } else {
                "EXECUTE"
            };
            post(
                &admin,
                format!("{base}/api/auth/authorization"),
                &json!({"subject": {"type": "USER", "id": format!("app:{id}")}, "target": {"type": kind, "id": target}, "access": [access]}),
            )
            .await;
        }
        let key: Value = post(
            &admin,
            format!("{base}/api/applications/{id}/accessKeys"),
            &json!({}),
        )
        .await
        .json()
        .await
        .expect("key");
        (
            key["id"].as_str().expect("key id").to_string(),
            key["secret"].as_str().expect("secret").to_string(),
        )
    }

    /// CPU time (user + system, all threads) the server process has used so far,
    /// from `/proc/<pid>/stat`; `None` where that is not readable.
    pub fn cpu_seconds(&self) -> Option<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).ok()?;
        // Fields after the command name (which may hold spaces) start at field 3.
        let rest = stat.rsplit_once(')')?.1;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let utime: f64 = fields.get(11)?.parse().ok()?;
        let stime: f64 = fields.get(12)?.parse().ok()?;
        Some((utime + stime) / clock_ticks_per_second())
    }

    pub fn stop(mut self) {
        // SIGINT: the server shuts down gracefully (and a profiler wrapping it stops too).
        let _ = Command::new("kill")
            .arg("-INT")
            .arg(self.child.id().to_string())
            .status();
        let _ = self.child.wait();
    }
}

/// The kernel's clock ticks per second (`getconf CLK_TCK`), 100 if unknown.
fn clock_ticks_per_second() -> f64 {
    static TICKS: std::sync::OnceLock<f64> = std::sync::OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(100.0)
    })
}

pub fn client() -> reqwest::Client {
    client_with(reqwest::header::HeaderMap::new())
}

/// A client sending `Authorization: Bearer <token>` on every call.
pub fn bearer_client(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    client_with(headers)
}

/// A client for load: many idle connections, no Nagle, these headers on every call.
fn client_with(headers: reqwest::header::HeaderMap) -> reqwest::Client {
    reqwest::Client::builder()
        .pool_max_idle_per_host(256)
        .tcp_nodelay(true)
        .default_headers(headers)
        .build()
        .expect("client")
}

pub async fn post(client: &reqwest::Client, url: String, body: &Value) -> reqwest::Response {
    let response = client.post(url).json(body).send().await.expect("request");
    assert!(response.status().is_success(), "{}", response.status());
    response
}
pub mod identity;
pub mod load;
pub mod peers;
pub mod postgres;
pub mod procs;
pub mod scripts;
