//! Loading and checking the configuration.

use super::*;

fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

#[test]
fn the_database_url_is_read_from_env_or_flag_and_never_printed() {
    let url = "postgres://podium:hunter2-pw@db:5432/podium";
    let config =
        Config::load(&ServeArgs::default(), &env(&[("PODIUM_DATABASE_URL", url)])).unwrap();
    assert_eq!(
        config.database_url.as_ref().map(SecretValue::expose),
        Some(url)
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    let args = ServeArgs {
        database_url: Some(url.to_string()),
        ..ServeArgs::default()
    };
    assert!(!format!("{args:?}").contains("hunter2"));
    let config = Config::load(&args, &[]).unwrap();
    assert_eq!(
        config.database_url.as_ref().map(SecretValue::expose),
        Some(url)
    );
    let err = Config::load(
        &ServeArgs::default(),
        &env(&[("PODIUM_DATABASE_URL", "mysql://x:hunter2@db/x")]),
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains("PostgreSQL URL") && !err.contains("hunter2"),
        "{err}"
    );
    let err = Config::load(
        &ServeArgs::default(),
        &env(&[("PODIUM_DATABASE_POOL_SIZE", "0")]),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("database_pool_size"), "{err}");
}

#[test]
fn defaults_then_file_then_env_then_flags() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    std::fs::write(
        &file,
        "listen = \"127.0.0.1:9000\"\nlog_level = \"debug\"\nmax_body_bytes = 4096\n",
    )
    .unwrap();
    let args = ServeArgs {
        config: Some(file),
        ..ServeArgs::default()
    };
    let config = Config::load(
        &args,
        &env(&[("PODIUM_LOG_LEVEL", "warn"), ("PODIUM_DATA_DIR", "/tmp/x")]),
    )
    .unwrap();
    assert_eq!(config.listen.port(), 9000);
    assert_eq!(config.log_level, "warn");
    assert_eq!(config.max_body_bytes, 4096);
    assert_eq!(config.data_dir, PathBuf::from("/tmp/x"));
    let args = ServeArgs {
        listen: Some("127.0.0.1:7000".parse().unwrap()),
        ..args
    };
    let config = Config::load(&args, &env(&[("PODIUM_LISTEN", "127.0.0.1:8000")])).unwrap();
    assert_eq!(config.listen.port(), 7000);
    assert_eq!(
        Config::load(&ServeArgs::default(), &[]).unwrap(),
        Config::default()
    );
}

#[test]
fn hardening_settings_from_env_and_file() {
    let config = Config::load(
        &ServeArgs::default(),
        &env(&[
            (
                "PODIUM_HTTP_TASK_ALLOW",
                "10.0.0.0/8, api.internal:8443,,[fd00::1]:443",
            ),
            ("PODIUM_METRICS_LISTEN", "127.0.0.1:9100"),
            ("PODIUM_ALLOW_SHARED_DATA_DIR", "true"),
            ("PODIUM_TOKEN_MAX_FAILURES_PER_ADDRESS", "50"),
        ]),
    )
    .unwrap();
    assert_eq!(
        config.http_task_allow,
        vec!["10.0.0.0/8", "api.internal:8443", "[fd00::1]:443"]
    );
    assert_eq!(
        config.metrics_listen,
        Some("127.0.0.1:9100".parse().unwrap())
    );
    assert!(config.allow_shared_data_dir);
    assert_eq!(config.token_max_failures_per_address, 50);
    assert_eq!(config.token_max_failures_per_key, 10);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("podium.toml");
    std::fs::write(
        &file,
        "http_task_allow = [\"192.168.7.0/24\", \"*.corp.example\"]\n",
    )
    .unwrap();
    let args = ServeArgs {
        config: Some(file),
        ..ServeArgs::default()
    };
    let config = Config::load(&args, &[]).unwrap();
    assert_eq!(
        config.http_task_allow,
        vec!["192.168.7.0/24", "*.corp.example"]
    );
    let defaults = Config::default();
    assert!(defaults.http_task_allow.is_empty());
    assert_eq!(defaults.metrics_listen, None);
    assert!(!defaults.allow_shared_data_dir);
}

#[test]
fn rejects_bad_settings() {
    assert!(Config::load(&ServeArgs::default(), &env(&[("PODIUM_LISTNE", "x")])).is_err());
    assert!(Config::load(&ServeArgs::default(), &env(&[("PODIUM_LISTEN", "nope")])).is_err());
    assert!(
        Config::load(
            &ServeArgs::default(),
            &env(&[("PODIUM_DURABILITY", "sometimes")])
        )
        .is_err()
    );
    let args = ServeArgs {
        config: Some(PathBuf::from("/nonexistent/podium.toml")),
        ..ServeArgs::default()
    };
    assert!(Config::load(&args, &[]).is_err());
    for (key, value) in [
        ("PODIUM_HTTP_TASK_ALLOW", "10.0.0.0/40"),
        ("PODIUM_HTTP_TASK_ALLOW", "not a host"),
        ("PODIUM_METRICS_LISTEN", "127.0.0.1:8080"),
        ("PODIUM_TOKEN_MAX_FAILURES_PER_KEY", "0"),
        ("PODIUM_SESSION_IDLE_SECONDS", "10"),
        ("PODIUM_SESSION_MAX_SECONDS", "60"),
        ("PODIUM_PUBLIC_URL", "ftp://podium.example.org"),
        ("PODIUM_PUBLIC_URL", "not a url"),
    ] {
        let refused = Config::load(&ServeArgs::default(), &env(&[(key, value)]));
        assert!(refused.is_err(), "{key}={value}");
    }
    for (key, value) in [
        ("PODIUM_MAX_PAYLOAD_BYTES", "100"),
        ("PODIUM_TOKEN_MAX_TTL_SECONDS", "18446744073709551615"),
        ("PODIUM_ACTIVE_WORKER_SECONDS", "9223372036854775807"),
    ] {
        let err = Config::load(&ServeArgs::default(), &env(&[(key, value)])).expect_err("refused");
        assert!(err.to_string().contains("must be at"), "{err}");
    }
}

#[test]
fn the_payload_limit_is_a_setting() {
    let config = Config::load(
        &ServeArgs::default(),
        &env(&[("PODIUM_MAX_PAYLOAD_BYTES", "2097152")]),
    )
    .unwrap();
    assert_eq!(config.max_payload_bytes, 2 * 1024 * 1024);
    assert_eq!(Config::default().max_payload_bytes, 10 * 1024 * 1024);
}

#[test]
fn session_settings_and_the_public_url() {
    let config = Config::load(
        &ServeArgs::default(),
        &env(&[
            ("PODIUM_PUBLIC_URL", "https://podium.example.org"),
            ("PODIUM_SESSION_IDLE_SECONDS", "900"),
            ("PODIUM_SESSION_MAX_SECONDS", "28800"),
        ]),
    )
    .unwrap();
    assert_eq!(
        config.public_url.as_deref(),
        Some("https://podium.example.org")
    );
    assert_eq!(
        (config.session_idle_seconds, config.session_max_seconds),
        (900, 28800)
    );
    let defaults = Config::default();
    assert_eq!(
        (defaults.session_idle_seconds, defaults.session_max_seconds),
        (1800, 36000)
    );
    // The browser sign-in needs both its client and where to come back to.
    let half = Config::load(
        &ServeArgs::default(),
        &env(&[
            ("PODIUM_OIDC_ISSUER_URL", "https://login.example.org"),
            ("PODIUM_OIDC_AUDIENCE", "podium-api"),
            ("PODIUM_OIDC_CLIENT_ID", "podium-web"),
        ]),
    );
    assert!(half.is_err());
    let no_openid = Config::load(
        &ServeArgs::default(),
        &env(&[
            ("PODIUM_OIDC_ISSUER_URL", "https://login.example.org"),
            ("PODIUM_OIDC_AUDIENCE", "podium-api"),
            ("PODIUM_OIDC_SCOPES", "profile groups"),
        ]),
    );
    assert!(no_openid.is_err());
}
