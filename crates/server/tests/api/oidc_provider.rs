//! A real OpenID Connect provider for a test: panva's `oidc-provider` (in
//! `tests/peers/oidc`, installed from its lockfile by `scripts/test`) on a free
//! loopback port, stopped when dropped. It gives tokens as its clients and people
//! would get them: client credentials, and the authorization code flow with PKCE.
//!
//! `scripts/test` sets `PODIUM_TEST_OIDC_REQUIRED=1`, so a missing peer fails there;
//! elsewhere a test without it says so and does nothing.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use serde_json::Value;

/// A running provider.
pub struct Provider {
    child: Child,
    /// `http://127.0.0.1:<port>`.
    pub issuer: String,
}

impl Drop for Provider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn peer_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/peers/oidc")
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Provider {
    /// Starts a provider; none (after saying why) when it is not installed and the
    /// run does not require it.
    pub async fn start() -> Option<Provider> {
        let dir = peer_dir();
        if !dir.join("node_modules/oidc-provider").is_dir() {
            assert!(
                std::env::var("PODIUM_TEST_OIDC_REQUIRED").is_err(),
                "the OIDC provider is not installed: npm ci in tests/peers/oidc (scripts/test does)"
            );
            eprintln!("skipped: the OIDC provider is not installed (npm ci in tests/peers/oidc)");
            return None;
        }
        let port = free_port();
        let child = Command::new("node")
            .arg("server.mjs")
            .current_dir(&dir)
            .env("OIDC_PORT", port.to_string())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start node");
        let provider = Provider {
            child,
            issuer: format!("http://127.0.0.1:{port}"),
        };
        let discovery = format!("{}/.well-known/openid-configuration", provider.issuer);
        for _ in 0..200 {
            if reqwest::get(&discovery)
                .await
                .is_ok_and(|r| r.status().is_success())
            {
                return Some(provider);
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("the OIDC provider did not start at {}", provider.issuer);
    }

    /// An access token of the client credentials grant, for `resource` (the
    /// provider's default: Podium's API).
    pub async fn client_token(&self, client: &str, secret: &str, resource: Option<&str>) -> String {
        // The values hold no character a form must escape but ':'.
        let mut form = "grant_type=client_credentials&scope=api%3Aread".to_string();
        if let Some(resource) = resource {
            form.push_str(&format!("&resource={}", resource.replace(':', "%3A")));
        }
        let response = reqwest::Client::new()
            .post(format!("{}/token", self.issuer))
            .basic_auth(client, Some(secret))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(form)
            .send()
            .await
            .expect("token request");
        let body: Value = response.json().await.expect("token JSON");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_string()
    }

    /// A person's access token, through the authorization code flow with PKCE.
    pub async fn user_token(&self, user: &str, resource: Option<&str>) -> String {
        let mut command = Command::new("node");
        command
            .arg("user-token.mjs")
            .arg(&self.issuer)
            .arg(user)
            .current_dir(peer_dir());
        if let Some(resource) = resource {
            command.arg(resource);
        }
        let output = tokio::task::spawn_blocking(move || command.output())
            .await
            .expect("join")
            .expect("run user-token.mjs");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let body: Value = serde_json::from_slice(&output.stdout).expect("token JSON");
        body["access_token"]
            .as_str()
            .unwrap_or_else(|| panic!("no access token: {body}"))
            .to_string()
    }
}
