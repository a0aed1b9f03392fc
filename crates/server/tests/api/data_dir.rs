//! The data directory holds the database and the keys: Podium creates it and every
//! file in it for its owner only, and will not start in one other users can open
//! unless told that is intended.

#![cfg(unix)]

use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use podium_server::Application;

use crate::helpers::{TestApp, test_config};

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .permissions()
        .mode()
        & 0o777
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

async fn refusal(config: &podium_server::config::Config) -> String {
    match Application::build(config).await {
        Ok(app) => {
            app.run_until(async {}).await.expect("stops");
            panic!("the server started in a shared data directory");
        }
        Err(err) => err.to_string(),
    }
}

#[tokio::test]
async fn the_data_directory_and_every_file_in_it_are_owner_only() {
    // No configured admin key: the first admin's credentials are generated.
    let app = TestApp::spawn_embedded(|c| {
        c.admin_key_id = None;
        c.admin_key_secret = None;
    })
    .await;
    let dir = app.data_dir();
    assert_eq!(mode(&dir), 0o700);
    for name in [
        "podium.db",
        "podium.db-wal",
        "podium.db-shm",
        "server.key",
        "secrets.key",
    ] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    // Written only when no terminal shows the credentials.
    use std::io::IsTerminal;
    if !std::io::stdout().is_terminal() {
        assert_eq!(mode(&dir.join("first-admin-credentials.txt")), 0o600);
    }
    app.stop().await;
}

#[tokio::test]
async fn a_data_directory_other_users_can_open_is_refused_unless_allowed() {
    let root = tempfile::tempdir().expect("temp dir");
    let data = root.path().join("data");
    std::fs::create_dir(&data).expect("mkdir");
    set_mode(&data, 0o755);
    let config = test_config(&data);
    let refused = refusal(&config).await;
    assert!(
        refused.contains(&data.display().to_string())
            && refused.contains("0755")
            && refused.contains("allow_shared_data_dir"),
        "{refused}"
    );
    assert!(!data.join("podium.db").exists(), "nothing is created");

    // Allowed on purpose: it starts, and what it creates is still owner-only.
    let mut shared = config.clone();
    shared.allow_shared_data_dir = true;
    let app = Application::build(&shared)
        .await
        .expect("starts when allowed");
    app.run_until(async {}).await.expect("stops");
    assert_eq!(mode(&data.join("podium.db")), 0o600);

    // A private directory with a database file others can read is refused too.
    set_mode(&data, 0o700);
    set_mode(&data.join("podium.db"), 0o644);
    let refused = refusal(&config).await;
    assert!(
        refused.contains("podium.db") && refused.contains("0644"),
        "{refused}"
    );
    // And a key file others can write.
    set_mode(&data.join("podium.db"), 0o600);
    set_mode(&data.join("server.key"), 0o622);
    let refused = refusal(&config).await;
    assert!(refused.contains("server.key"), "{refused}");
    set_mode(&data.join("server.key"), 0o600);
    let app = Application::build(&config)
        .await
        .expect("starts once fixed");
    app.run_until(async {}).await.expect("stops");
}
