//! Sealing values at rest: AES-256-GCM under a key derived from the secrets master
//! key. Each sealed value is bound to what it is (its context, e.g. the kind and name
//! of a secret), so a sealed value copied into another row does not open there.
//!
//! A [`Keyring`] holds the current key, which seals, and previous keys, which only
//! open: after a rotation values sealed under an old key stay readable while they are
//! re-sealed under the new one. Keys are named by a short id derived from the key, so
//! a store can tell which key sealed what without holding anything secret.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};

use super::crypto::{MasterKey, hex, random_bytes};
use crate::error::CoreError;

/// The format byte of a sealed value: AES-256-GCM, 96-bit random nonce.
const FORMAT_V1: u8 = 1;
const NONCE_LEN: usize = 12;

/// One sealing key and its id.
struct SealingKey {
    id: String,
    cipher: Aes256Gcm,
}

impl SealingKey {
    fn new(master: &MasterKey) -> Result<SealingKey, CoreError> {
        let key = master.derive("podium secret sealing v1");
        let cipher = Aes256Gcm::new_from_slice(&key)
            .map_err(|_| CoreError::Internal("secret sealing key setup failed".into()))?;
        Ok(SealingKey {
            id: key_id(master),
            cipher,
        })
    }
}

/// The id of a secrets master key: 16 hex digits derived from it, safe to show.
pub fn key_id(master: &MasterKey) -> String {
    hex(&master.derive("podium secret key id v1")[..8])
}

/// A value sealed under one key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sealed {
    /// The id of the key that sealed it.
    pub key_id: String,
    /// Format byte, nonce, then ciphertext with its tag.
    pub bytes: Vec<u8>,
}

/// Why a sealed value did not open.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OpenError {
    /// The key that sealed it is not configured.
    #[error("sealed with master key {0}, which is not configured")]
    UnknownKey(String),
    /// Wrong context, tampered bytes, or a key id collision.
    #[error("the sealed value does not open (tampered, or moved from elsewhere)")]
    Corrupt,
}

/// The current sealing key and the previous ones still accepted for opening.
pub struct Keyring {
    current: SealingKey,
    previous: Vec<SealingKey>,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Keyring(current {}, previous {:?})",
            self.current.id,
            self.previous.iter().map(|k| &k.id).collect::<Vec<_>>()
        )
    }
}

impl Keyring {
    /// A keyring sealing with `current` and also opening with `previous`.
    pub fn new(current: &MasterKey, previous: &[MasterKey]) -> Result<Keyring, CoreError> {
        let current = SealingKey::new(current)?;
        let mut keys: Vec<SealingKey> = Vec::new();
        for master in previous {
            let key = SealingKey::new(master)?;
            if key.id != current.id && keys.iter().all(|k| k.id != key.id) {
                keys.push(key);
            }
        }
        Ok(Keyring {
            current,
            previous: keys,
        })
    }

    /// The id of the key that seals.
    pub fn current_id(&self) -> &str {
        &self.current.id
    }

    /// The ids of every key that opens, current first.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(self.current.id.as_str())
            .chain(self.previous.iter().map(|k| k.id.as_str()))
            .collect()
    }

    /// Whether a key id is in the ring.
    pub fn knows(&self, key_id: &str) -> bool {
        self.key(key_id).is_some()
    }

    fn key(&self, key_id: &str) -> Option<&SealingKey> {
        std::iter::once(&self.current)
            .chain(self.previous.iter())
            .find(|k| k.id == key_id)
    }

    /// Seals `plaintext` for `context` under the current key.
    pub fn seal(&self, context: &str, plaintext: &[u8]) -> Result<Sealed, CoreError> {
        let nonce_bytes = random_bytes::<NONCE_LEN>()?;
        let nonce = Nonce::from(nonce_bytes);
        let ciphertext = self
            .current
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plaintext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| CoreError::Internal("sealing a value failed".into()))?;
        let mut bytes = Vec::with_capacity(1 + NONCE_LEN + ciphertext.len());
        bytes.push(FORMAT_V1);
        bytes.extend_from_slice(&nonce_bytes);
        bytes.extend_from_slice(&ciphertext);
        Ok(Sealed {
            key_id: self.current.id.clone(),
            bytes,
        })
    }

    /// Opens a value sealed for `context`.
    pub fn open(&self, context: &str, sealed: &Sealed) -> Result<Vec<u8>, OpenError> {
        let key = self
            .key(&sealed.key_id)
            .ok_or_else(|| OpenError::UnknownKey(sealed.key_id.clone()))?;
        let bytes = &sealed.bytes;
        if bytes.len() < 1 + NONCE_LEN || bytes[0] != FORMAT_V1 {
            return Err(OpenError::Corrupt);
        }
        let nonce_bytes: [u8; NONCE_LEN] = bytes[1..1 + NONCE_LEN]
            .try_into()
            .map_err(|_| OpenError::Corrupt)?;
        key.cipher
            .decrypt(
                &Nonce::from(nonce_bytes),
                Payload {
                    msg: &bytes[1 + NONCE_LEN..],
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| OpenError::Corrupt)
    }

    /// Whether a value is sealed under a key other than the current one.
    pub fn needs_reseal(&self, sealed: &Sealed) -> bool {
        sealed.key_id != self.current.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn master(seed: u8) -> MasterKey {
        MasterKey::from_bytes(&[seed; 32]).expect("key")
    }

    #[test]
    fn sealed_values_open_only_in_their_context_and_hide_the_plaintext() {
        let ring = Keyring::new(&master(1), &[]).expect("ring");
        let sealed = ring
            .seal("SECRET/api-token", b"s3cr3t-value")
            .expect("seal");
        assert_eq!(sealed.key_id, ring.current_id());
        assert!(
            !sealed.bytes.windows(6).any(|w| w == b"s3cr3t"),
            "the plaintext shows in the sealed bytes"
        );
        assert_eq!(
            ring.open("SECRET/api-token", &sealed).expect("open"),
            b"s3cr3t-value"
        );
        assert_eq!(
            ring.open("SECRET/other", &sealed),
            Err(OpenError::Corrupt),
            "a value moved to another name must not open"
        );
        let mut tampered = sealed.clone();
        let last = tampered.bytes.len() - 1;
        tampered.bytes[last] ^= 1;
        assert_eq!(
            ring.open("SECRET/api-token", &tampered),
            Err(OpenError::Corrupt)
        );
        // Two seals of one value differ (fresh nonces).
        let again = ring
            .seal("SECRET/api-token", b"s3cr3t-value")
            .expect("seal");
        assert_ne!(again.bytes, sealed.bytes);
    }

    #[test]
    fn a_rotated_ring_opens_old_values_and_seals_with_the_new_key() {
        let old = Keyring::new(&master(1), &[]).expect("ring");
        let sealed = old.seal("ENV/x", b"value").expect("seal");
        let rotated = Keyring::new(&master(2), &[master(1)]).expect("ring");
        assert!(rotated.needs_reseal(&sealed));
        assert_eq!(rotated.open("ENV/x", &sealed).expect("open"), b"value");
        let resealed = rotated.seal("ENV/x", b"value").expect("seal");
        assert!(!rotated.needs_reseal(&resealed));
        assert_eq!(rotated.ids().len(), 2);
        // Without the old key the value does not open, and the error names the key.
        let new_only = Keyring::new(&master(2), &[]).expect("ring");
        assert_eq!(
            new_only.open("ENV/x", &sealed),
            Err(OpenError::UnknownKey(old.current_id().to_string()))
        );
    }
}
