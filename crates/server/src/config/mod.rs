//! The one typed configuration: defaults, then a TOML file, then `PODIUM_*` environment
//! variables, then command-line flags. Loaded and validated once at start-up and passed
//! down; nothing else reads the environment.

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use figment::Figment;
use figment::providers::{Format, Serialized, Toml};
use podium_core::service::passwords::ConfiguredUser;

use crate::identity::settings::{self, LdapSettings, OidcSettings};
use serde::{Deserialize, Serialize};

/// Podium: a secure, Conductor-compatible workflow orchestration server.
#[derive(Debug, Parser)]
#[command(name = "podium", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// What to do.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the server.
    ///
    /// Settings come from defaults, then the TOML file given with --config (or
    /// PODIUM_CONFIG), then PODIUM_* environment variables (PODIUM_LISTEN,
    /// PODIUM_DATA_DIR, PODIUM_LOG_FORMAT, ...), then these flags.
    #[command(after_long_help = settings_help())]
    Serve(ServeArgs),
    /// Work with the audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
}

/// What to do with the audit trail.
#[derive(Debug, Subcommand)]
pub enum AuditCommand {
    /// Checks the audit trail's hash chain from its first entry and names the first
    /// entry that was changed, removed or put out of order (exit status 1). Takes
    /// the store settings of `podium serve` (--config, --data-dir, --database-url
    /// and the PODIUM_* variables); on SQLite, run it while the server is stopped,
    /// or on a copy of the data directory.
    Verify(ServeArgs),
}

/// Flags of `podium serve`; each overrides the same setting from elsewhere. Its
/// `Debug` leaves the database URL out (it may hold a password).
#[derive(Args, Default, Clone)]
pub struct ServeArgs {
    /// TOML configuration file.
    #[arg(long, env = "PODIUM_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to listen on [default: 127.0.0.1:8080; env: PODIUM_LISTEN].
    #[arg(long, value_name = "ADDR")]
    pub listen: Option<SocketAddr>,
    /// Directory for the embedded database; created if missing [default: ./podium-data;
    /// env: PODIUM_DATA_DIR].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// PostgreSQL database to store everything in, instead of the embedded SQLite:
    /// `postgres://user:password@host:5432/db?sslmode=require`. Several nodes may
    /// share one [env: PODIUM_DATABASE_URL].
    #[arg(long, value_name = "URL", hide_env_values = true)]
    pub database_url: Option<String>,
    /// Log format [default: text; env: PODIUM_LOG_FORMAT].
    #[arg(long, value_enum, value_name = "FORMAT")]
    pub log_format: Option<LogFormat>,
    /// Log filter, e.g. `info` or `podium=debug` [default: info; env: PODIUM_LOG_LEVEL].
    #[arg(long, value_name = "FILTER")]
    pub log_level: Option<String>,
}

impl std::fmt::Debug for ServeArgs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServeArgs")
            .field("config", &self.config)
            .field("listen", &self.listen)
            .field("data_dir", &self.data_dir)
            .field("database_url", &self.database_url.as_ref().map(|_| "***"))
            .field("log_format", &self.log_format)
            .field("log_level", &self.log_level)
            .finish()
    }
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ValueEnum, Default)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

/// How hard commits are pushed to disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "kebab-case")]
pub enum Durability {
    /// Nothing acknowledged is lost if the process dies (WAL, synchronous=NORMAL).
    #[default]
    Process,
    /// Nothing acknowledged is lost even on power loss (synchronous=FULL), slower.
    PowerLoss,
}

/// Whether access control is enforced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Security {
    /// Every request needs a token and is authorized (the default).
    #[default]
    Enabled,
    /// Every request is allowed: for local experiments only.
    Disabled,
}

/// A configured secret: read like a string, never printed.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretValue(String);

impl SecretValue {
    /// Wraps a secret.
    pub fn new(secret: impl Into<String>) -> SecretValue {
        SecretValue(secret.into())
    }

    /// The secret itself, for the one place that uses it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("***")
    }
}

/// The server's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// A second address that serves only `GET /metrics`, without credentials, for a
    /// Prometheus scraper. None: metrics only on the API listener, for administrators.
    pub metrics_listen: Option<SocketAddr>,
    /// Directory of the embedded database.
    pub data_dir: PathBuf,
    /// Start even when the data directory or a file Podium keeps in it can be read or
    /// written by other users (otherwise the start is refused).
    pub allow_shared_data_dir: bool,
    /// Log format.
    pub log_format: LogFormat,
    /// Log filter (tracing `EnvFilter` syntax).
    pub log_level: String,
    /// Largest request body accepted, in bytes; larger ones get 413.
    pub max_body_bytes: usize,
    /// Largest task input or output, and workflow input or output, the engine builds
    /// or accepts, in bytes (as JSON). A task whose payload would be larger fails with
    /// a reason naming the size, as in Conductor; so does such a workflow.
    pub max_payload_bytes: usize,
    /// Commit durability of the embedded store.
    pub durability: Durability,
    /// A PostgreSQL database to store everything in instead of the embedded SQLite
    /// (`postgres://user:password@host:port/db`, libpq's `sslmode` and `sslrootcert`
    /// understood). Several nodes may share one. Never printed.
    pub database_url: Option<SecretValue>,
    /// Most connections this node opens to PostgreSQL.
    pub database_pool_size: usize,
    /// Longest a request waits for a free PostgreSQL connection before it is answered
    /// 503, in milliseconds.
    pub database_pool_wait_ms: u64,
    /// Longest a new PostgreSQL connection may take to open, in milliseconds.
    pub database_connect_timeout_ms: u64,
    /// Longest one SQL statement may run on PostgreSQL (`statement_timeout`), in
    /// milliseconds.
    pub database_statement_timeout_ms: u64,
    /// Certificates (PEM) to trust for the PostgreSQL server besides the system's.
    pub database_ca_file: Option<PathBuf>,
    /// How long in-flight requests may take to finish on shutdown, in seconds.
    pub shutdown_grace_seconds: u64,
    /// A worker counts as active in a domain if it polled within this many seconds.
    pub active_worker_seconds: u64,
    /// Longest an `INLINE` script may run, in milliseconds; a longer one fails its
    /// task (Conductor's default is 4 seconds).
    pub script_max_millis: u64,
    /// Most memory one `INLINE` script may use, in MiB; more fails its task.
    pub script_max_memory_mb: usize,
    /// Most scripts evaluated at once (each in a process of its own).
    pub script_max_concurrent: usize,
    /// The `podium` binary that evaluates scripts (`podium script-runner`); by
    /// default, this one.
    pub script_runner: Option<PathBuf>,
    /// Whether access control is enforced.
    pub security: Security,
    /// The first admin application's access key id, for automated deployments (used
    /// only when the store holds no users or applications yet).
    pub admin_key_id: Option<String>,
    /// The secret of that key.
    pub admin_key_secret: Option<SecretValue>,
    /// Lifetime of minted tokens when a request names none, in seconds.
    pub token_ttl_seconds: u64,
    /// Longest lifetime a token request may ask for, in seconds.
    pub token_max_ttl_seconds: u64,
    /// Failed token requests from one client address (IPv6: one /64) within the
    /// window after which that address is refused (429) before any check.
    pub token_max_failures_per_address: u32,
    /// Failed token requests for one key id (or user) within the window after which
    /// further wrong secrets for it are answered 429; the right secret still works.
    pub token_max_failures_per_key: u32,
    /// The window of both counts, in seconds.
    pub token_failure_window_seconds: u64,
    /// The first delay a failed sign-in puts before the next attempt from its
    /// address for its account (after three free failures; after five, for any
    /// account from that address), in milliseconds; it doubles with each failure.
    pub token_failure_delay_ms: u64,
    /// The longest such delay, in milliseconds (at most 30000).
    pub token_failure_max_delay_ms: u64,
    /// The file holding the server key (token signing, key hashing); created with
    /// owner-only permissions if missing. Default: `server.key` in the data directory.
    pub server_key_file: Option<PathBuf>,
    /// The secrets master key, 64 hex digits. Wins over `secrets_key_file`.
    pub secrets_key: Option<SecretValue>,
    /// The file holding the secrets master key (hex); created with owner-only
    /// permissions if missing and the store holds no sealed values. Default:
    /// `secrets.key` in the data directory.
    pub secrets_key_file: Option<PathBuf>,
    /// Earlier secrets master keys, comma-separated hex, still accepted for opening
    /// while the values they sealed are re-sealed under the current key.
    pub secrets_previous_keys: Option<SecretValue>,
    /// Largest secret or environment variable value accepted, in bytes.
    pub secret_max_bytes: usize,
    /// Ended workflows move to the archive this many seconds after they end; 0 keeps
    /// them live.
    pub archive_after_seconds: u64,
    /// Destinations `HTTP` tasks may reach although they are not public: CIDR ranges
    /// (`10.0.0.0/8`), addresses with an optional port (`10.1.2.3:8443`), host names
    /// with an optional port (`api.internal:8443`, `*.corp.example`). As an
    /// environment variable, comma-separated.
    pub http_task_allow: Vec<String>,
    /// Reverse proxies (addresses or CIDR ranges) whose `X-Forwarded-For` names the
    /// client: sign-in throttling and the audit trail then count each client by its
    /// own address, not the proxy's. As an environment variable, comma-separated.
    pub trusted_proxies: Vec<String>,
    /// Built-in users created at start when they do not exist yet (`[[users]]`, in the
    /// configuration file only): `id`, `display_name`, `password_hash` (bcrypt as
    /// Spring writes it, or argon2id; never a password in clear) and `roles`. Users
    /// that exist are left as they are.
    #[serde(default)]
    pub users: Vec<ConfiguredUser>,
    /// People sign in through an LDAP directory or Active Directory (`[ldap]`, or
    /// `PODIUM_LDAP_*`); see docs/sign-in.md.
    #[serde(default)]
    pub ldap: Option<LdapSettings>,
    /// API calls may carry access tokens of an OpenID Connect provider (`[oidc]`,
    /// or `PODIUM_OIDC_*`); see docs/sign-in.md.
    #[serde(default)]
    pub oidc: Option<OidcSettings>,
    /// The address people reach Podium at (`https://podium.example.org`), when it
    /// is not what the browser's `Host` says (behind a proxy that rewrites it). An
    /// `https://` address makes the session cookie `__Host-` prefixed and Secure.
    pub public_url: Option<String>,
    /// A browser session not used for this long ends.
    pub session_idle_seconds: u64,
    /// A browser session ends this long after sign-in, however it is used.
    pub session_max_seconds: u64,
}

impl Default for Config {
    fn default() -> Self {
        let throttle = podium_core::security::throttle::ThrottleLimits::default();
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            metrics_listen: None,
            data_dir: PathBuf::from("podium-data"),
            allow_shared_data_dir: false,
            log_format: LogFormat::Text,
            log_level: "info".to_string(),
            max_body_bytes: 10 * 1024 * 1024,
            max_payload_bytes: podium_core::engine::context::DEFAULT_MAX_PAYLOAD_BYTES,
            durability: Durability::Process,
            database_url: None,
            database_pool_size: 16,
            database_pool_wait_ms: 5000,
            database_connect_timeout_ms: 5000,
            database_statement_timeout_ms: 30_000,
            database_ca_file: None,
            shutdown_grace_seconds: 30,
            active_worker_seconds: 10,
            script_max_millis: 4000,
            script_max_memory_mb: 64,
            script_max_concurrent: 2,
            script_runner: None,
            security: Security::Enabled,
            admin_key_id: None,
            admin_key_secret: None,
            token_ttl_seconds: 3600,
            token_max_ttl_seconds: 24 * 3600,
            token_max_failures_per_address: throttle.per_address,
            token_max_failures_per_key: throttle.per_subject,
            token_failure_window_seconds: throttle.window_seconds.unsigned_abs(),
            token_failure_delay_ms: 1000,
            token_failure_max_delay_ms: 30_000,
            server_key_file: None,
            secrets_key: None,
            secrets_key_file: None,
            secrets_previous_keys: None,
            secret_max_bytes: podium_core::service::vault::DEFAULT_MAX_VALUE_BYTES,
            archive_after_seconds: 30 * 24 * 3600,
            http_task_allow: Vec::new(),
            trusted_proxies: Vec::new(),
            users: Vec::new(),
            ldap: None,
            oidc: None,
            public_url: None,
            session_idle_seconds: 30 * 60,
            session_max_seconds: 10 * 3600,
        }
    }
}

/// A configuration that cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// Flags that were given, as a partial configuration.
#[derive(Serialize)]
struct FlagOverrides {
    #[serde(skip_serializing_if = "Option::is_none")]
    listen: Option<SocketAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    data_dir: Option<PathBuf>,
    #[serde(skip_serializing_if = "Option::is_none")]
    database_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_format: Option<LogFormat>,
    #[serde(skip_serializing_if = "Option::is_none")]
    log_level: Option<String>,
}

impl Config {
    /// Loads the configuration for `podium serve` from every source, in order.
    /// `env` is the process environment (passed in so tests control it).
    pub fn load(args: &ServeArgs, env: &[(String, String)]) -> Result<Config, ConfigError> {
        let mut figment = Figment::from(Serialized::defaults(Config::default()));
        if let Some(path) = &args.config {
            if !path.is_file() {
                return Err(ConfigError::Invalid(format!(
                    "configuration file {} does not exist",
                    path.display()
                )));
            }
            figment = figment.merge(Toml::file_exact(path));
        }
        let podium_env: Vec<(String, String)> = env
            .iter()
            .filter(|(k, _)| k.starts_with("PODIUM_") && k != "PODIUM_CONFIG")
            .cloned()
            .collect();
        for (key, value) in &podium_env {
            let field = key.trim_start_matches("PODIUM_").to_ascii_lowercase();
            if !KNOWN_KEYS.contains(&field.as_str()) && settings::from_env(&field, value).is_none()
            {
                return Err(ConfigError::Invalid(format!(
                    "unknown environment variable {key}; known: {}",
                    KNOWN_KEYS
                        .iter()
                        .map(|k| k.to_string())
                        .chain(settings::env_names().map(|(s, n)| format!("{s}_{n}")))
                        .map(|k| format!("PODIUM_{}", k.to_ascii_uppercase()))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        let mut from_env = figment::value::Dict::new();
        for (key, value) in podium_env {
            let field = key.trim_start_matches("PODIUM_").to_ascii_lowercase();
            if let Some((section, name, parsed)) = settings::from_env(&field, &value) {
                let entry = from_env
                    .entry(section.to_string())
                    .or_insert_with(|| figment::value::Dict::new().into());
                if let figment::value::Value::Dict(_, dict) = entry {
                    dict.insert(name.to_string(), parsed);
                }
                continue;
            }
            // Key ids and secrets are text even when they look like numbers; lists
            // are comma-separated.
            let parsed = if STRING_KEYS.contains(&field.as_str()) {
                figment::value::Value::from(value)
            } else if LIST_KEYS.contains(&field.as_str()) {
                figment::value::Value::from(
                    value
                        .split(',')
                        .map(str::trim)
                        .filter(|v| !v.is_empty())
                        .map(str::to_string)
                        .collect::<Vec<String>>(),
                )
            } else {
                value
                    .parse::<figment::value::Value>()
                    .unwrap_or_else(|never| match never {})
            };
            from_env.insert(field, parsed);
        }
        figment = figment.merge(Serialized::defaults(from_env));
        figment = figment.merge(Serialized::defaults(FlagOverrides {
            listen: args.listen,
            data_dir: args.data_dir.clone(),
            database_url: args.database_url.clone(),
            log_format: args.log_format,
            log_level: args.log_level.clone(),
        }));
        let config: Config = figment
            .extract()
            .map_err(|e| ConfigError::Invalid(e.to_string()))?;
        config.validate()?;
        Ok(config)
    }

    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.max_body_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_body_bytes must be at least 1024".into(),
            ));
        }
        if self.max_payload_bytes < 1024 {
            return Err(ConfigError::Invalid(
                "max_payload_bytes must be at least 1024".into(),
            ));
        }
        if !(10..=60_000).contains(&self.script_max_millis) {
            return Err(ConfigError::Invalid(
                "script_max_millis must be between 10 and 60000 (a minute)".into(),
            ));
        }
        if !(4..=512).contains(&self.script_max_memory_mb) {
            return Err(ConfigError::Invalid(
                "script_max_memory_mb must be between 4 and 512".into(),
            ));
        }
        if self
            .script_runner
            .as_ref()
            .is_some_and(|path| !path.is_absolute())
        {
            return Err(ConfigError::Invalid(
                "script_runner must be an absolute path to the podium binary".into(),
            ));
        }
        if !(1..=64).contains(&self.script_max_concurrent) {
            return Err(ConfigError::Invalid(
                "script_max_concurrent must be between 1 and 64".into(),
            ));
        }
        // Durations become milliseconds and are added to the clock: keep them far
        // from where that arithmetic could overflow.
        for (name, seconds) in [
            ("shutdown_grace_seconds", self.shutdown_grace_seconds),
            ("active_worker_seconds", self.active_worker_seconds),
            ("token_ttl_seconds", self.token_ttl_seconds),
            ("token_max_ttl_seconds", self.token_max_ttl_seconds),
            ("archive_after_seconds", self.archive_after_seconds),
            ("session_idle_seconds", self.session_idle_seconds),
            ("session_max_seconds", self.session_max_seconds),
        ] {
            if seconds > MAX_SECONDS {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at most {MAX_SECONDS} (100 years)"
                )));
            }
        }
        match (&self.admin_key_id, &self.admin_key_secret) {
            (Some(id), Some(secret)) => {
                if id.trim().is_empty() || id.len() > 128 || id.chars().any(char::is_whitespace) {
                    return Err(ConfigError::Invalid(
                        "admin_key_id must be 1 to 128 characters without spaces".into(),
                    ));
                }
                if secret.expose().len() < 32 {
                    return Err(ConfigError::Invalid(
                        "admin_key_secret must hold at least 32 characters".into(),
                    ));
                }
            }
            (None, None) => {}
            _ => {
                return Err(ConfigError::Invalid(
                    "admin_key_id and admin_key_secret must be given together".into(),
                ));
            }
        }
        if self.token_ttl_seconds == 0 || self.token_ttl_seconds > self.token_max_ttl_seconds {
            return Err(ConfigError::Invalid(
                "token_ttl_seconds must be at least 1 and at most token_max_ttl_seconds".into(),
            ));
        }
        if self.token_max_failures_per_address == 0
            || self.token_max_failures_per_key == 0
            || self.token_failure_window_seconds == 0
        {
            return Err(ConfigError::Invalid(
                "token_max_failures_per_address, token_max_failures_per_key and token_failure_window_seconds must be at least 1".into(),
            ));
        }
        if !(1..=30_000).contains(&self.token_failure_max_delay_ms)
            || !(1..=self.token_failure_max_delay_ms).contains(&self.token_failure_delay_ms)
        {
            return Err(ConfigError::Invalid(
                "token_failure_delay_ms must be at least 1 and at most token_failure_max_delay_ms, which is at most 30000".into(),
            ));
        }
        if self.session_idle_seconds < 60 || self.session_max_seconds < self.session_idle_seconds {
            return Err(ConfigError::Invalid(
                "session_idle_seconds must be at least 60, and session_max_seconds at least session_idle_seconds".into(),
            ));
        }
        if let Some(url) = &self.public_url {
            crate::http::session::Origin::parse(url)
                .map_err(|why| ConfigError::Invalid(format!("public_url '{url}': {why}")))?;
        }
        if self.secret_max_bytes == 0 {
            return Err(ConfigError::Invalid(
                "secret_max_bytes must be at least 1".into(),
            ));
        }
        if self.metrics_listen == Some(self.listen) && self.listen.port() != 0 {
            return Err(ConfigError::Invalid(
                "metrics_listen must differ from listen: the API needs credentials for /metrics, the metrics listener does not".into(),
            ));
        }
        if let Some(url) = &self.database_url
            && !(url.expose().starts_with("postgres://")
                || url.expose().starts_with("postgresql://")
                || url.expose().contains("host="))
        {
            return Err(ConfigError::Invalid(
                "database_url must be a PostgreSQL URL (postgres://user:password@host:port/database)".into(),
            ));
        }
        if !(1..=1000).contains(&self.database_pool_size) {
            return Err(ConfigError::Invalid(
                "database_pool_size must be from 1 to 1000".into(),
            ));
        }
        for (name, ms) in [
            ("database_pool_wait_ms", self.database_pool_wait_ms),
            (
                "database_connect_timeout_ms",
                self.database_connect_timeout_ms,
            ),
            (
                "database_statement_timeout_ms",
                self.database_statement_timeout_ms,
            ),
        ] {
            if !(1..=MAX_SECONDS).contains(&ms) {
                return Err(ConfigError::Invalid(format!(
                    "{name} must be at least 1 and at most {MAX_SECONDS}"
                )));
            }
        }
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::Invalid("data_dir must not be empty".into()));
        }
        crate::destinations::DestinationPolicy::parse(&self.http_task_allow)
            .map_err(ConfigError::Invalid)?;
        crate::http::client_addr::TrustedProxies::parse(&self.trusted_proxies)
            .map_err(ConfigError::Invalid)?;
        if let Some(ldap) = &self.ldap {
            ldap.validate()?;
        }
        if let Some(oidc) = &self.oidc {
            oidc.validate()?;
        }
        tracing_subscriber::EnvFilter::try_new(&self.log_level)
            .map_err(|e| ConfigError::Invalid(format!("log_level '{}': {e}", self.log_level)))?;
        Ok(())
    }
}

/// Every setting, for `podium serve --help`.
fn settings_help() -> String {
    let top: Vec<String> = KNOWN_KEYS
        .iter()
        .map(|k| format!("  {k:<34} PODIUM_{}", k.to_ascii_uppercase()))
        .collect();
    let section = |wanted: &str| -> String {
        settings::env_names()
            .filter(|(s, _)| *s == wanted)
            .map(|(s, name)| {
                format!(
                    "  {name:<34} PODIUM_{}_{}",
                    s.to_ascii_uppercase(),
                    name.to_ascii_uppercase()
                )
            })
            .collect::<Vec<_>>()
            .join("\n")
    };
    format!(
        "Settings (configuration file key, environment variable):\n{}\n\n\
         [ldap]: people sign in through an LDAP directory or Active Directory\n{}\n  \
         group_mapping (a table, in the file only)\n\n\
         [oidc]: API calls may carry an OpenID Connect provider's access tokens\n{}\n  \
         group_mapping (a table, in the file only)\n\n\
         [[users]]: built-in users created at start (in the file only): id, display_name,\n  \
         password_hash, roles\n\n\
         See docs/deployment.md and docs/sign-in.md.",
        top.join("\n"),
        section("ldap"),
        section("oidc")
    )
}

/// Longest duration a setting may name, in seconds: a hundred years.
const MAX_SECONDS: u64 = 100 * 365 * 24 * 3600;

/// Settings that can be given as `PODIUM_<KEY>`.
const KNOWN_KEYS: &[&str] = &[
    "listen",
    "metrics_listen",
    "data_dir",
    "allow_shared_data_dir",
    "log_format",
    "log_level",
    "max_body_bytes",
    "max_payload_bytes",
    "durability",
    "database_url",
    "database_pool_size",
    "database_pool_wait_ms",
    "database_connect_timeout_ms",
    "database_statement_timeout_ms",
    "database_ca_file",
    "shutdown_grace_seconds",
    "active_worker_seconds",
    "script_max_millis",
    "script_max_memory_mb",
    "script_max_concurrent",
    "script_runner",
    "security",
    "admin_key_id",
    "admin_key_secret",
    "token_ttl_seconds",
    "token_max_ttl_seconds",
    "token_max_failures_per_address",
    "token_max_failures_per_key",
    "token_failure_window_seconds",
    "token_failure_delay_ms",
    "token_failure_max_delay_ms",
    "server_key_file",
    "secrets_key",
    "secrets_key_file",
    "secrets_previous_keys",
    "secret_max_bytes",
    "archive_after_seconds",
    "http_task_allow",
    "trusted_proxies",
    "public_url",
    "session_idle_seconds",
    "session_max_seconds",
];

/// Settings whose environment values are comma-separated lists of text.
const LIST_KEYS: &[&str] = &["http_task_allow", "trusted_proxies"];

/// Settings whose environment values are always text.
const STRING_KEYS: &[&str] = &[
    "database_url",
    "database_ca_file",
    "script_runner",
    "admin_key_id",
    "admin_key_secret",
    "server_key_file",
    "secrets_key",
    "secrets_key_file",
    "secrets_previous_keys",
    "public_url",
];

#[cfg(test)]
mod tests;
