//! The vault: secrets and environment variables, sealed in the store and in memory,
//! opened only when a value is needed (an authorized API read, or a task handed to
//! its worker). Changes are written to the store first, then to memory, so the next
//! request sees them and a restart finds the same values.

use std::collections::HashMap;
use std::sync::Arc;

use parking_lot::RwLock;
use serde_json::{Map, Value, json};

use crate::error::{CoreError, CoreResult};
use crate::security::crypto::{hex, unhex};
use crate::security::secret_box::{Keyring, OpenError, Sealed};
use crate::store::{SecretKind, SecretRecord, SecretStore};

/// Largest value accepted by default, in bytes.
pub const DEFAULT_MAX_VALUE_BYTES: usize = 64 * 1024;

/// Longest name accepted.
pub const MAX_NAME_LEN: usize = 255;

/// What a sealed value is bound to: its kind and name.
fn context(kind: SecretKind, name: &str) -> String {
    format!("podium/{}/{name}", kind.as_str())
}

/// Checks a secret or variable name: letters, digits, `_` and `-` (a dot would be
/// read as a field path in `${workflow.secrets.name.field}`).
pub fn check_name(kind: SecretKind, name: &str) -> CoreResult<()> {
    let what = match kind {
        SecretKind::Secret => "Secret",
        SecretKind::Env => "Environment variable",
    };
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return Err(CoreError::invalid(format!(
            "{what} name must have 1 to {MAX_NAME_LEN} characters"
        )));
    }
    if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        return Err(CoreError::invalid(format!(
            "{what} name '{name}' is not valid: use letters, digits, '_' and '-'"
        )));
    }
    Ok(())
}

/// A sealed value, and its plain text once a hand-off or read has opened it (kept
/// only in memory, dropped with the entry when the value changes or goes).
struct Entry {
    record: SecretRecord,
    opened: std::sync::OnceLock<Arc<str>>,
}

impl Entry {
    fn new(record: SecretRecord) -> Entry {
        Entry {
            record,
            opened: std::sync::OnceLock::new(),
        }
    }
}

type ByName = HashMap<String, Entry, foldhash::fast::RandomState>;

/// Values by kind, then name.
#[derive(Default)]
struct Entries {
    secrets: ByName,
    env: ByName,
}

impl Entries {
    fn of(&self, kind: SecretKind) -> &ByName {
        match kind {
            SecretKind::Secret => &self.secrets,
            SecretKind::Env => &self.env,
        }
    }

    fn of_mut(&mut self, kind: SecretKind) -> &mut ByName {
        match kind {
            SecretKind::Secret => &mut self.secrets,
            SecretKind::Env => &mut self.env,
        }
    }

    fn len(&self) -> usize {
        self.secrets.len() + self.env.len()
    }

    fn records(&self) -> impl Iterator<Item = &SecretRecord> {
        self.secrets
            .values()
            .chain(self.env.values())
            .map(|e| &e.record)
    }
}

/// Secrets and environment variables.
pub struct Vault {
    /// Replaced whole when the keys are reloaded (see [`Vault::replace_keyring`]).
    keyring: RwLock<Arc<Keyring>>,
    entries: RwLock<Entries>,
    store: Arc<dyn SecretStore>,
    write: tokio::sync::Mutex<()>,
    max_value_bytes: usize,
}

impl std::fmt::Debug for Vault {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Vault({:?}, {} values)",
            self.keyring(),
            self.entries.read().len()
        )
    }
}

/// The refusal when values are sealed with a key the keyring does not hold.
fn unknown_keys<'r>(
    records: impl Iterator<Item = &'r SecretRecord>,
    keyring: &Keyring,
) -> Option<CoreError> {
    let mut unknown: HashMap<&str, usize> = HashMap::new();
    for record in records {
        if !keyring.knows(&record.key_id) {
            *unknown.entry(record.key_id.as_str()).or_default() += 1;
        }
    }
    let (first, count) = unknown.into_iter().min()?;
    Some(CoreError::Unavailable(format!(
        "the store holds {count} secret value(s) sealed with secrets master key {first}, \
         which is not configured (configured: {}). Configure that key (PODIUM_SECRETS_KEY \
         or secrets_key_file), or list it in PODIUM_SECRETS_PREVIOUS_KEYS while rotating. \
         Nothing was changed.",
        keyring.ids().join(", ")
    )))
}

impl Vault {
    /// Loads every sealed value. Refuses when a value was sealed under a key the
    /// keyring does not hold: starting anyway would leave those secrets unreadable,
    /// and nothing is changed.
    pub async fn load(
        store: Arc<dyn SecretStore>,
        keyring: Keyring,
        max_value_bytes: usize,
    ) -> CoreResult<Vault> {
        let records = store.load_secrets().await?;
        if let Some(refusal) = unknown_keys(records.iter(), &keyring) {
            return Err(refusal);
        }
        let mut entries = Entries::default();
        for record in records {
            entries
                .of_mut(record.kind)
                .insert(record.name.clone(), Entry::new(record));
        }
        Ok(Vault {
            keyring: RwLock::new(Arc::new(keyring)),
            entries: RwLock::new(entries),
            store,
            write: tokio::sync::Mutex::new(()),
            max_value_bytes,
        })
    }

    /// Reads every value from the store again and replaces those in memory (another
    /// node changed them); local changes wait meanwhile, so none is lost. A value
    /// sealed with a key this node does not hold (another node was given a new key
    /// first) is kept, and fails where it is used until this node gets the key.
    pub async fn reload(&self) -> CoreResult<()> {
        let _one_at_a_time = self.write.lock().await;
        let records = self.store.load_secrets().await?;
        if let Some(warning) = unknown_keys(records.iter(), &self.keyring()) {
            tracing::warn!(
                "another node stored values this node cannot open yet: {}",
                warning.public_message()
            );
        }
        let mut entries = Entries::default();
        for record in records {
            entries
                .of_mut(record.kind)
                .insert(record.name.clone(), Entry::new(record));
        }
        *self.entries.write() = entries;
        Ok(())
    }

    /// The largest value accepted, in bytes.
    pub fn max_value_bytes(&self) -> usize {
        self.max_value_bytes
    }

    /// Whether a value exists.
    pub fn exists(&self, kind: SecretKind, name: &str) -> bool {
        self.entries.read().of(kind).contains_key(name)
    }

    /// The names of one kind, sorted.
    pub fn names(&self, kind: SecretKind) -> Vec<String> {
        let mut names: Vec<String> = self.entries.read().of(kind).keys().cloned().collect();
        names.sort_unstable();
        names
    }

    /// The plain value, if it exists.
    pub fn value(&self, kind: SecretKind, name: &str) -> CoreResult<Option<String>> {
        Ok(self.opened(kind, name)?.map(|v| v.to_string()))
    }

    /// The plain value, shared, if it exists.
    pub fn opened(&self, kind: SecretKind, name: &str) -> CoreResult<Option<Arc<str>>> {
        let entries = self.entries.read();
        let Some(entry) = entries.of(kind).get(name) else {
            return Ok(None);
        };
        if let Some(opened) = entry.opened.get() {
            return Ok(Some(opened.clone()));
        }
        let sealed = Sealed {
            key_id: entry.record.key_id.clone(),
            bytes: entry.record.sealed.clone(),
        };
        let plain = self
            .keyring()
            .open(&context(kind, name), &sealed)
            .map_err(|e| match e {
                OpenError::UnknownKey(_) | OpenError::Corrupt => CoreError::Internal(format!(
                    "the stored value of {} '{name}' does not open: {e}",
                    kind.as_str()
                )),
            })?;
        let text = String::from_utf8(plain).map_err(|_| {
            CoreError::Internal(format!("the stored value of '{name}' is not text"))
        })?;
        let opened: Arc<str> = Arc::from(text);
        let _ = entry.opened.set(opened.clone());
        Ok(Some(opened))
    }

    /// Creates or replaces a value; true when it was created.
    pub async fn put(
        &self,
        kind: SecretKind,
        name: &str,
        value: &str,
        by: &str,
        now: i64,
    ) -> CoreResult<bool> {
        check_name(kind, name)?;
        if value.len() > self.max_value_bytes {
            return Err(CoreError::invalid(format!(
                "The value is {} bytes; the limit is {} bytes",
                value.len(),
                self.max_value_bytes
            )));
        }
        let _one_at_a_time = self.write.lock().await;
        let sealed = self
            .keyring()
            .seal(&context(kind, name), value.as_bytes())?;
        let existing = self
            .entries
            .read()
            .of(kind)
            .get(name)
            .map(|e| e.record.clone());
        let created = existing.is_none();
        let record = SecretRecord {
            kind,
            name: name.to_string(),
            key_id: sealed.key_id,
            sealed: sealed.bytes,
            created_by: existing
                .as_ref()
                .map_or_else(|| by.to_string(), |e| e.created_by.clone()),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_by: by.to_string(),
            updated_at: now,
        };
        self.store.put_secret(record.clone()).await?;
        self.entries
            .write()
            .of_mut(kind)
            .insert(name.to_string(), Entry::new(record));
        Ok(created)
    }

    /// Deletes a value; false when there was none.
    pub async fn delete(&self, kind: SecretKind, name: &str) -> CoreResult<bool> {
        let _one_at_a_time = self.write.lock().await;
        let deleted = self.store.delete_secret(kind, name).await?;
        self.entries.write().of_mut(kind).remove(name);
        Ok(deleted)
    }

    /// Seals a JSON value for a context under the current key, as
    /// `{marker: {"keyId", "data"}}` (archived and at-rest workflow values); returns
    /// it with the id of the key used.
    pub fn seal_json(
        &self,
        context: &str,
        marker: &str,
        value: &Value,
    ) -> CoreResult<(Value, String)> {
        let sealed = self.keyring().seal(context, value.to_string().as_bytes())?;
        let key_id = sealed.key_id;
        let wrapped = json!({ marker: {"keyId": key_id, "data": hex(&sealed.bytes)} });
        Ok((wrapped, key_id))
    }

    /// Opens what [`Vault::seal_json`] sealed, given the object under its marker.
    pub fn open_json(&self, context: &str, sealed: &Map<String, Value>) -> CoreResult<Value> {
        let key_id = sealed.get("keyId").and_then(Value::as_str).unwrap_or("");
        let bytes = sealed
            .get("data")
            .and_then(Value::as_str)
            .and_then(unhex)
            .ok_or_else(|| CoreError::Internal("a sealed value is malformed".into()))?;
        let plain = self
            .keyring()
            .open(
                context,
                &Sealed {
                    key_id: key_id.to_string(),
                    bytes,
                },
            )
            .map_err(|_| {
                tracing::error!(key_id = %key_id, "a value sealed with this secrets master key does not open: the key is not configured on this node");
                CoreError::Unavailable(
                    "A secret value cannot be opened: the secrets master key that sealed it is not configured on this server.".to_string(),
                )
            })?;
        serde_json::from_slice(&plain)
            .map_err(|_| CoreError::Internal("a sealed value is not JSON".into()))
    }

    /// How many values are sealed under a key other than the current one.
    pub fn stale_count(&self) -> usize {
        let keyring = self.keyring();
        self.entries
            .read()
            .records()
            .filter(|r| r.key_id != keyring.current_id())
            .count()
    }

    /// How many values are stored.
    pub fn sealed_count(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether keys from before a rotation are configured (values may still be
    /// sealed with them, here or in the archive).
    pub fn has_previous_keys(&self) -> bool {
        self.keyring().ids().len() > 1
    }

    /// The id of the key new values are sealed with.
    pub fn current_key_id(&self) -> String {
        self.keyring().current_id().to_string()
    }

    /// The keys in use.
    fn keyring(&self) -> Arc<Keyring> {
        self.keyring.read().clone()
    }

    /// Takes new keys while serving (a rotation without a restart): refused, with
    /// nothing changed, when a stored value is sealed with a key the new keyring
    /// does not hold. Values sealed with a previous key are re-sealed by
    /// [`Vault::reseal_some`].
    pub async fn replace_keyring(&self, keyring: Keyring) -> CoreResult<()> {
        let _one_at_a_time = self.write.lock().await;
        if let Some(refusal) = unknown_keys(self.entries.read().records(), &keyring) {
            return Err(refusal);
        }
        *self.keyring.write() = Arc::new(keyring);
        Ok(())
    }

    /// Re-seals up to `batch` values sealed under previous keys with the current key;
    /// returns how many were re-sealed. Values changed meanwhile are left as they are
    /// (they were sealed with the current key by that change).
    pub async fn reseal_some(&self, batch: usize) -> CoreResult<usize> {
        let _one_at_a_time = self.write.lock().await;
        let keyring = self.keyring();
        let stale: Vec<SecretRecord> = self
            .entries
            .read()
            .records()
            .filter(|r| r.key_id != keyring.current_id())
            .take(batch)
            .cloned()
            .collect();
        let mut by_key: HashMap<String, Vec<SecretRecord>> = HashMap::new();
        for old in stale {
            let ctx = context(old.kind, &old.name);
            let plain = keyring
                .open(
                    &ctx,
                    &Sealed {
                        key_id: old.key_id.clone(),
                        bytes: old.sealed.clone(),
                    },
                )
                .map_err(|e| CoreError::Internal(format!("cannot re-seal '{}': {e}", old.name)))?;
            let sealed = keyring.seal(&ctx, &plain)?;
            let from = old.key_id.clone();
            by_key.entry(from).or_default().push(SecretRecord {
                key_id: sealed.key_id,
                sealed: sealed.bytes,
                ..old
            });
        }
        let mut done = 0;
        for (from, records) in by_key {
            done += self.store.reseal_secrets(records.clone(), &from).await?;
            let mut entries = self.entries.write();
            for record in records {
                let by_name = entries.of_mut(record.kind);
                if by_name
                    .get(&record.name)
                    .is_some_and(|e| e.record.key_id == from)
                {
                    by_name.insert(record.name.clone(), Entry::new(record));
                }
            }
        }
        Ok(done)
    }
}
