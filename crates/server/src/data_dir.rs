//! The data directory's permissions: created readable by its owner only, and a start
//! refused when an existing one (or a file Podium keeps in it) is open to other users,
//! unless `allow_shared_data_dir` says that is intended.

use std::path::{Path, PathBuf};

use tracing::warn;

use crate::StartError;
use crate::config::Config;

/// Files Podium keeps in the data directory, each owner-only when Podium creates it.
const OWN_FILES: &[&str] = &[
    crate::DATABASE_FILE,
    "podium.db-wal",
    "podium.db-shm",
    "podium.db-journal",
    crate::keys::SERVER_KEY_FILE,
    crate::keys::SECRETS_KEY_FILE,
    crate::FIRST_ADMIN_FILE,
];

/// A path other users may read or write, with its permission bits.
struct Exposed {
    path: PathBuf,
    mode: u32,
}

/// Creates the data directory (mode 0700) or checks the existing one and the files
/// Podium keeps in it. With `allow_shared_data_dir` an exposed directory is only
/// warned about.
pub(crate) fn prepare(config: &Config) -> Result<(), StartError> {
    let dir = &config.data_dir;
    let fail = |source: std::io::Error| StartError::DataDir {
        path: dir.display().to_string(),
        source,
    };
    if !dir.exists() {
        if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent).map_err(fail)?;
        }
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        {
            use std::os::unix::fs::DirBuilderExt;
            builder.mode(0o700);
        }
        match builder.create(dir) {
            Ok(()) => {}
            // Created by someone else meanwhile: checked below like any existing one.
            Err(err) if err.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(err) => return Err(fail(err)),
        }
    }
    if !dir.is_dir() {
        return Err(fail(std::io::Error::other(
            "it exists and is not a directory",
        )));
    }
    let exposed = exposed_paths(dir).map_err(fail)?;
    if exposed.is_empty() {
        return Ok(());
    }
    let list = exposed
        .iter()
        .map(|e| format!("{} (mode {:04o})", e.path.display(), e.mode))
        .collect::<Vec<_>>()
        .join(", ");
    if config.allow_shared_data_dir {
        warn!(
            "the data directory is open to other users: {list}; starting anyway because allow_shared_data_dir is set"
        );
        return Ok(());
    }
    Err(StartError::SharedDataDir(format!(
        "{list} can be read or written by other users, and it holds the database and keys. \
         Run `chmod 700 {dir}` and `chmod 600` on the files in it, or set \
         allow_shared_data_dir = true (PODIUM_ALLOW_SHARED_DATA_DIR) to start anyway",
        dir = dir.display()
    )))
}

/// The directory and the files Podium keeps in it that group or others may access.
#[cfg(unix)]
fn exposed_paths(dir: &Path) -> std::io::Result<Vec<Exposed>> {
    use std::os::unix::fs::PermissionsExt;
    let mut exposed = Vec::new();
    let mut check = |path: PathBuf| -> std::io::Result<()> {
        match std::fs::metadata(&path) {
            Ok(meta) => {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    exposed.push(Exposed { path, mode });
                }
                Ok(())
            }
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(err) => Err(err),
        }
    };
    check(dir.to_path_buf())?;
    for name in OWN_FILES {
        check(dir.join(name))?;
    }
    Ok(exposed)
}

/// Other platforms have no mode bits to check.
#[cfg(not(unix))]
fn exposed_paths(_dir: &Path) -> std::io::Result<Vec<Exposed>> {
    Ok(Vec::new())
}

/// Warns about key files configured outside the data directory that other users can
/// read (those inside it are checked by [`prepare`]); a mounted secret is often
/// group-readable by design, so this does not stop the start.
pub(crate) fn warn_exposed_keys(config: &Config) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let configured = [&config.server_key_file, &config.secrets_key_file];
        for path in configured.into_iter().flatten() {
            if let Ok(meta) = std::fs::metadata(path) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    warn!(
                        "key file {} can be read by other users (mode {mode:04o}); run `chmod 600` on it",
                        path.display()
                    );
                }
            }
        }
    }
    #[cfg(not(unix))]
    let _ = config;
}
