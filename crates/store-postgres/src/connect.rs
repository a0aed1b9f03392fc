//! Connecting: the database URL, TLS, the statement timeout and the pool.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, PoolError, RecyclingMethod, Runtime};
use podium_core::store::{StoreError, StoreResult};
use tokio_postgres::config::{Host, SslMode};
use tokio_postgres_rustls::MakeRustlsConnect;

use crate::{DEFAULT_POOL_WAIT, UNAVAILABLE};

/// How to reach the database. The URL may hold a password: this type never prints
/// it (its `Debug` leaves the URL out).
#[derive(Clone)]
pub struct PgOptions {
    /// `postgres://user:password@host:port/database?sslmode=...`, or libpq's
    /// `key=value` form.
    pub url: String,
    /// Most connections this node opens.
    pub pool_size: usize,
    /// Longest a call waits for a free connection before it fails as unavailable.
    pub pool_wait: Duration,
    /// Longest one statement may run (PostgreSQL's `statement_timeout`).
    pub statement_timeout: Duration,
    /// Longest a new connection may take to open.
    pub connect_timeout: Duration,
    /// Certificates (PEM) to trust for the server besides the system's.
    pub ca_file: Option<PathBuf>,
}

impl std::fmt::Debug for PgOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgOptions")
            .field("url", &"<hidden>")
            .field("pool_size", &self.pool_size)
            .field("pool_wait", &self.pool_wait)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("ca_file", &self.ca_file)
            .finish()
    }
}

impl PgOptions {
    /// Defaults for a database URL.
    pub fn new(url: impl Into<String>) -> PgOptions {
        PgOptions {
            url: url.into(),
            pool_size: 16,
            pool_wait: DEFAULT_POOL_WAIT,
            statement_timeout: Duration::from_secs(30),
            connect_timeout: Duration::from_secs(5),
            ca_file: None,
        }
    }
}

fn invalid(message: impl Into<String>) -> StoreError {
    StoreError::backend(message.into())
}

/// libpq's `sslmode` and `sslrootcert` as this client knows them: `verify-ca` and
/// `verify-full` are `require` here, since every TLS connection verifies the
/// server's certificate and name; `sslrootcert` names a CA file, taken out of the
/// URL. Returns the URL to parse and the CA file, if any.
fn libpq_compatible(url: &str) -> (String, Option<PathBuf>) {
    let mut url = url
        .replace("sslmode=verify-full", "sslmode=require")
        .replace("sslmode=verify-ca", "sslmode=require");
    let mut ca = None;
    if let Some(start) = url.find("sslrootcert=") {
        let value_start = start + "sslrootcert=".len();
        let rest = &url[value_start..];
        let end = rest
            .find(|c: char| c == '&' || c.is_whitespace())
            .map_or(url.len(), |i| value_start + i);
        ca = Some(PathBuf::from(&url[value_start..end]));
        // Drop the parameter with one separator.
        let (cut_start, cut_end) = if url[end..].starts_with('&') {
            (start, end + 1)
        } else if start > 0 && matches!(url.as_bytes()[start - 1], b'&' | b'?' | b' ') {
            (start - 1, end)
        } else {
            (start, end)
        };
        url.replace_range(cut_start..cut_end, "");
    }
    (url, ca)
}

/// The TLS connector: the system's roots plus the configured CA files.
fn tls(ca_files: &[PathBuf]) -> StoreResult<MakeRustlsConnect> {
    use rustls_pki_types::CertificateDer;
    use rustls_pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    for cert in native.certs {
        // A system certificate rustls cannot use is skipped, as browsers do.
        let _ = roots.add(cert);
    }
    for path in ca_files {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|iter| iter.collect::<Result<Vec<_>, _>>())
            .map_err(|e| invalid(format!("cannot read the CA file {}: {e}", path.display())))?;
        for cert in certs {
            roots.add(cert).map_err(|e| {
                invalid(format!(
                    "the CA file {} holds a bad certificate: {e}",
                    path.display()
                ))
            })?;
        }
    }
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::aws_lc_rs::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .map_err(|e| invalid(format!("TLS set-up failed: {e}")))?
    .with_root_certificates(roots)
    .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// Where the URL points, for the log: `host:port/database`, never the user's
/// password.
fn target(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(Host::Tcp(name)) => name.clone(),
        #[cfg(unix)]
        Some(Host::Unix(path)) => path.display().to_string(),
        None => "localhost".to_string(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let database = config
        .get_dbname()
        .or(config.get_user())
        .unwrap_or("postgres");
    let tls = match config.get_ssl_mode() {
        SslMode::Disable => "no TLS",
        SslMode::Require => "TLS required",
        _ => "TLS preferred",
    };
    format!("{host}:{port}/{database}, {tls}")
}

/// How to connect: the driver's settings, TLS, and where they point (for the log).
pub(crate) struct Settings {
    pub config: tokio_postgres::Config,
    pub tls: MakeRustlsConnect,
    pub target: String,
}

/// The connection settings for the options.
pub(crate) fn settings(options: &PgOptions) -> StoreResult<Settings> {
    let (url, url_ca) = libpq_compatible(&options.url);
    // The parser's message names the option that is wrong, never a value.
    let mut config: tokio_postgres::Config = url
        .parse()
        .map_err(|e| invalid(format!("the database URL is not valid: {e}")))?;
    let statement_ms = options.statement_timeout.as_millis().max(1);
    let extra = format!("-c statement_timeout={statement_ms}");
    let merged = match config.get_options() {
        Some(existing) if !existing.is_empty() => format!("{existing} {extra}"),
        _ => extra,
    };
    config.options(&merged);
    if config.get_application_name().is_none() {
        config.application_name("podium");
    }
    config.connect_timeout(options.connect_timeout);
    config.keepalives(true);
    config.keepalives_idle(Duration::from_secs(30));
    let ca_files: Vec<PathBuf> = options.ca_file.iter().cloned().chain(url_ca).collect();
    Ok(Settings {
        target: target(&config),
        tls: tls(&ca_files)?,
        config,
    })
}

/// The pool for the options.
pub(crate) fn pool(options: &PgOptions, settings: &Settings) -> StoreResult<Pool> {
    let manager = Manager::from_config(
        settings.config.clone(),
        settings.tls.clone(),
        ManagerConfig {
            recycling_method: RecyclingMethod::Fast,
        },
    );
    let pool = Pool::builder(manager)
        .max_size(options.pool_size.max(1))
        .wait_timeout(Some(options.pool_wait))
        .create_timeout(Some(options.connect_timeout))
        .recycle_timeout(Some(options.connect_timeout))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| invalid(format!("cannot build the connection pool: {e}")))?;
    Ok(pool)
}

/// Maps a failure to get a connection: the caller is told the database is away;
/// the log has why.
pub(crate) fn pool_error(err: PoolError) -> StoreError {
    match err {
        PoolError::Backend(err) => crate::map_err(err),
        PoolError::Closed => {
            StoreError::Unavailable("The server is shutting down; try again shortly.".to_string())
        }
        other => {
            tracing::warn!(error = %other, "no database connection became free in time");
            StoreError::Unavailable(UNAVAILABLE.to_string())
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn libpq_tls_settings_are_understood() {
        let (url, ca) = libpq_compatible(
            "postgres://u:p@db/x?sslmode=verify-full&sslrootcert=/etc/ca.pem&application_name=a",
        );
        assert_eq!(
            url,
            "postgres://u:p@db/x?sslmode=require&application_name=a"
        );
        assert_eq!(ca, Some(PathBuf::from("/etc/ca.pem")));
        let (url, ca) = libpq_compatible("postgres://db/x?sslmode=require&sslrootcert=/ca.pem");
        assert_eq!(url, "postgres://db/x?sslmode=require");
        assert_eq!(ca, Some(PathBuf::from("/ca.pem")));
        let (url, ca) = libpq_compatible("host=db sslrootcert=/ca.pem sslmode=verify-ca");
        assert_eq!(url, "host=db sslmode=require");
        assert_eq!(ca, Some(PathBuf::from("/ca.pem")));
    }

    #[test]
    fn a_bad_url_never_shows_its_password() {
        let mut options = PgOptions::new("postgres://podium:hunter2-secret@db:notaport/x");
        options.pool_size = 2;
        let err = settings(&options).err().unwrap();
        let text = podium_core::error::error_chain(&err);
        assert!(!text.contains("hunter2"), "{text}");
        assert!(!format!("{options:?}").contains("hunter2"));
        let settings = settings(&PgOptions::new("postgres://podium:hunter2@db:5433/x")).unwrap();
        assert_eq!(settings.target, "db:5433/x, TLS preferred");
    }
}
