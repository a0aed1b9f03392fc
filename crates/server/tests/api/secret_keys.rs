//! The secrets master key: checked at start, generated owner-only, rotated by a
//! restart or a reload while serving, with stored secrets and archived `_masked`
//! values re-sealed and readable throughout.

use std::sync::Arc;
use std::time::Duration;

use podium_core::clock::SystemClock;
use podium_core::model::{Workflow, WorkflowStatus};
use podium_core::service::archive;
use podium_core::store::{ArchivedWorkflow, SecretKind};
use podium_server::Application;
use podium_server::config::{Config, SecretValue};
use serde_json::json;

fn config(dir: &std::path::Path, key: Option<&str>, previous: Option<&str>) -> Config {
    Config {
        listen: "127.0.0.1:0".parse().expect("addr"),
        data_dir: dir.join("data"),
        shutdown_grace_seconds: 1,
        admin_key_id: Some("keys-admin".into()),
        admin_key_secret: Some(SecretValue::new("keys-admin-secret-0123456789abcdef")),
        secrets_key: key.map(SecretValue::new),
        secrets_previous_keys: previous.map(SecretValue::new),
        ..Config::default()
    }
}

async fn start(config: &Config) -> Result<Application, String> {
    Application::build_with_clock(config, Arc::new(SystemClock))
        .await
        .map_err(|e| e.to_string())
}

async fn stop(app: Application) {
    app.run_until(async {}).await.expect("stops");
}

#[tokio::test]
async fn the_master_key_is_checked_at_start_and_rotation_keeps_every_value() {
    let dir = tempfile::tempdir().expect("dir");
    let app = start(&config(dir.path(), None, None))
        .await
        .expect("first start");
    let vault = app.runtime().vault().clone();
    for i in 0..150 {
        vault
            .put(
                SecretKind::Secret,
                &format!("s{i}"),
                &format!("pw-value-{i}"),
                "test",
                0,
            )
            .await
            .expect("put");
    }
    // An archived workflow whose `_masked` input is sealed with this key.
    let rt = app.runtime().clone();
    let mut workflow = Workflow {
        workflow_id: "archived-with-masked".into(),
        status: WorkflowStatus::Completed,
        input: json!({"_masked": {"m": "masked-value-5"}})
            .as_object()
            .cloned()
            .unwrap_or_default(),
        ..Workflow::default()
    };
    let sealed_key = archive::redact(&mut workflow, &[], rt.vault()).expect("redact");
    assert_eq!(
        sealed_key.as_deref(),
        Some(rt.vault().current_key_id().as_str())
    );
    rt.mutate(None, move |txn, _| {
        txn.changes.archives.push(ArchivedWorkflow {
            workflow,
            def_revision: "unused".into(),
            sealed_key,
            authority: Default::default(),
        });
        Ok(())
    })
    .await
    .expect("archive");
    drop((vault, rt));
    stop(app).await;
    let key_file = dir.path().join("data").join("secrets.key");
    let generated = std::fs::read_to_string(&key_file).expect("a key file was generated");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file)
            .expect("meta")
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "the key file is owner-only");
    }

    // Another key: refused, saying which key sealed the values.
    let other = "ab".repeat(32);
    let refused = start(&config(dir.path(), Some(&other), None)).await.err();
    let message = refused.expect("refused with another key");
    assert!(message.contains("not configured"), "{message}");
    assert!(message.contains("Nothing was changed"), "{message}");
    // The key file gone: refused rather than a new key generated.
    std::fs::rename(&key_file, dir.path().join("moved.key")).expect("move");
    let message = start(&config(dir.path(), None, None))
        .await
        .err()
        .expect("refused");
    assert!(message.contains("missing"), "{message}");
    assert!(!key_file.exists(), "no new key is written over sealed data");
    std::fs::rename(dir.path().join("moved.key"), &key_file).expect("move back");

    // Rotation: the new key current, the old one previous; values stay readable
    // while they are re-sealed in the background.
    let app = start(&config(dir.path(), Some(&other), Some(generated.trim())))
        .await
        .expect("starts while rotating");
    let vault = app.runtime().vault().clone();
    assert_eq!(
        vault
            .value(SecretKind::Secret, "s7")
            .expect("open")
            .as_deref(),
        Some("pw-value-7")
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while vault.stale_count() > 0 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(vault.stale_count(), 0, "every value re-sealed");
    // The archived `_masked` value too.
    let execution = app.runtime().stores().execution.clone();
    let current = vault.current_key_id();
    while !execution
        .archived_sealed_stale(&current, "", 10)
        .await
        .expect("stale")
        .is_empty()
    {
        assert!(std::time::Instant::now() < deadline, "archive re-sealed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    drop((vault, execution));
    stop(app).await;
    // The old key is no longer needed.
    let app = start(&config(dir.path(), Some(&other), None))
        .await
        .expect("starts with the new key alone");
    assert_eq!(
        app.runtime()
            .vault()
            .value(SecretKind::Secret, "s149")
            .expect("open")
            .as_deref(),
        Some("pw-value-149")
    );
    let rt = app.runtime().clone();
    let mut archived = rt
        .stores()
        .execution
        .get_archived("archived-with-masked")
        .await
        .expect("read")
        .expect("archived");
    assert_eq!(
        archived.sealed_key.as_deref(),
        Some(rt.vault().current_key_id().as_str())
    );
    archive::unseal(&mut archived.workflow, rt.vault()).expect("opens with the new key");
    assert_eq!(
        archived.workflow.input["_masked"],
        json!({"m": "masked-value-5"})
    );
    drop(rt);
    stop(app).await;
    let mut bytes = Vec::new();
    for entry in std::fs::read_dir(dir.path().join("data")).expect("dir") {
        let path = entry.expect("entry").path();
        if path.to_string_lossy().contains("podium.db") {
            bytes.extend(std::fs::read(&path).expect("read"));
        }
    }
    for value in ["pw-value-", "masked-value-5"] {
        assert!(
            !crate::secrets::contains(&bytes, value),
            "{value} is in the database files"
        );
    }
}

#[tokio::test]
async fn keys_are_reloaded_while_serving_and_keys_that_open_nothing_are_refused() {
    let dir = tempfile::tempdir().expect("dir");
    let (a, b) = ("11".repeat(32), "22".repeat(32));
    let app = start(&config(dir.path(), Some(&a), None))
        .await
        .expect("starts");
    let vault = app.runtime().vault().clone();
    vault
        .put(SecretKind::Secret, "live", "live-value-1", "test", 0)
        .await
        .expect("put");
    let before = vault.current_key_id();
    let reloader = app.key_reloader();
    let refused = reloader
        .reload(&config(dir.path(), Some(&b), None))
        .await
        .expect_err("a key that opens nothing is refused")
        .to_string();
    assert!(refused.contains("Nothing was changed"), "{refused}");
    assert_eq!(vault.current_key_id(), before, "the keys are kept");
    reloader
        .reload(&config(dir.path(), Some(&b), Some(&a)))
        .await
        .expect("reloaded");
    assert_ne!(vault.current_key_id(), before);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while vault.stale_count() > 0 {
        assert!(std::time::Instant::now() < deadline, "re-sealed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        vault
            .value(SecretKind::Secret, "live")
            .expect("open")
            .as_deref(),
        Some("live-value-1")
    );
    drop(vault);
    stop(app).await;
    let app = start(&config(dir.path(), Some(&b), None))
        .await
        .expect("the new key alone opens everything");
    stop(app).await;
}
