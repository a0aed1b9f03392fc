//! The server's key files: the server key (token signing, access key hashing) and
//! the secrets master key (sealing secret values). A key is generated, owner-only, on
//! first start; a key that exists but cannot be read stops the start, and so does a
//! missing secrets key when the store already holds values sealed with one: sealed
//! data is never re-keyed or orphaned silently.

use std::path::{Path, PathBuf};

use podium_core::security::crypto::{MasterKey, unhex};
use podium_core::security::secret_box::Keyring;

use crate::StartError;
use crate::config::Config;

/// The server key file inside the data directory, unless configured elsewhere.
pub const SERVER_KEY_FILE: &str = "server.key";

/// Reads the server key, creating it (owner-only) on first start. A key that exists
/// but cannot be read or parsed stops the start: sealed data is never re-keyed
/// silently.
pub(crate) fn load_server_key(path: &Path) -> Result<(MasterKey, bool), StartError> {
    let fail = |message: String| StartError::ServerKey {
        path: path.display().to_string(),
        message,
    };
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let bytes = unhex(&text).ok_or_else(|| fail("is not hex".into()))?;
            let key = MasterKey::from_bytes(&bytes).map_err(|e| fail(e.to_string()))?;
            Ok((key, false))
        }
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            let text = MasterKey::generate_hex().map_err(|e| fail(e.to_string()))?;
            write_owner_only(path, &format!("{text}\n")).map_err(|e| fail(e.to_string()))?;
            let bytes = unhex(&text).ok_or_else(|| fail("generated key is not hex".into()))?;
            let key = MasterKey::from_bytes(&bytes).map_err(|e| fail(e.to_string()))?;
            Ok((key, true))
        }
        Err(err) => Err(fail(err.to_string())),
    }
}

/// Creates a file readable and writable by its owner only; refuses to overwrite.
pub(crate) fn write_owner_only(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

/// The secrets master key file inside the data directory, unless configured elsewhere.
pub const SECRETS_KEY_FILE: &str = "secrets.key";

/// Parses a hex key given in configuration.
fn parse_key(text: &str, what: &str) -> Result<MasterKey, StartError> {
    let bytes = unhex(text)
        .ok_or_else(|| StartError::SecretsKey(format!("{what} is not hex (64 hex digits)")))?;
    MasterKey::from_bytes(&bytes).map_err(|e| StartError::SecretsKey(format!("{what}: {e}")))
}

/// The secrets keyring from configuration: the current key from `secrets_key`, else
/// from the key file (generated when missing and nothing is sealed yet), and the
/// previous keys. Returns the path of a generated key file.
pub(crate) fn load_secrets_keyring(
    config: &Config,
    sealed_values: usize,
) -> Result<(Keyring, Option<PathBuf>), StartError> {
    let mut created = None;
    let current = match &config.secrets_key {
        Some(key) => parse_key(key.expose(), "secrets_key (PODIUM_SECRETS_KEY)")?,
        None => {
            let path = config
                .secrets_key_file
                .clone()
                .unwrap_or_else(|| config.data_dir.join(SECRETS_KEY_FILE));
            let fail =
                |message: String| StartError::SecretsKey(format!("{}: {message}", path.display()));
            match std::fs::read_to_string(&path) {
                Ok(text) => parse_key(&text, &path.display().to_string())?,
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                    if sealed_values > 0 {
                        return Err(fail(format!(
                            "the file is missing, but the store holds {sealed_values} value(s) sealed with a secrets master key; restore the key file, or configure the key as PODIUM_SECRETS_KEY. Nothing was changed."
                        )));
                    }
                    let text = MasterKey::generate_hex().map_err(|e| fail(e.to_string()))?;
                    write_owner_only(&path, &format!("{text}\n"))
                        .map_err(|e| fail(e.to_string()))?;
                    created = Some(path.clone());
                    parse_key(&text, "the generated key")?
                }
                Err(err) => return Err(fail(err.to_string())),
            }
        }
    };
    let mut previous = Vec::new();
    if let Some(list) = &config.secrets_previous_keys {
        for (i, text) in list
            .expose()
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .enumerate()
        {
            previous.push(parse_key(
                text,
                &format!("secrets_previous_keys entry {}", i + 1),
            )?);
        }
    }
    let keyring =
        Keyring::new(&current, &previous).map_err(|e| StartError::SecretsKey(e.to_string()))?;
    Ok((keyring, created))
}
