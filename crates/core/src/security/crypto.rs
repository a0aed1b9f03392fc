//! Small cryptographic building blocks: random values, the keyed hash of access-key
//! secrets, and subkeys derived from the server's master key. The primitives come
//! from RustCrypto; nothing here invents cryptography.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

use crate::error::CoreError;

type HmacSha256 = Hmac<Sha256>;

/// `N` random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], CoreError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes)
        .map_err(|e| CoreError::Internal(format!("the system random source failed: {e}")))?;
    Ok(bytes)
}

/// Lower-case hex.
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// Decodes hex (either case); None if malformed.
pub fn unhex(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// HMAC-SHA256 of `data` under `key`.
pub fn hmac_sha256(key: &[u8], data: &[u8]) -> [u8; 32] {
    // HMAC takes keys of any length, so this cannot fail.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(mac) => mac,
        Err(_) => return [0u8; 32],
    };
    mac.update(data);
    mac.finalize().into_bytes().into()
}

/// The server's master key, from which the token-signing key and the key-hash key
/// are derived under distinct labels.
#[derive(Clone)]
pub struct MasterKey([u8; 32]);

impl MasterKey {
    /// The key from its bytes (at least 32).
    pub fn from_bytes(bytes: &[u8]) -> Result<MasterKey, CoreError> {
        if bytes.len() < 32 {
            return Err(CoreError::invalid(
                "the server key must hold at least 32 bytes (64 hex digits)",
            ));
        }
        Ok(MasterKey(hmac_sha256(bytes, b"podium master key v1")))
    }

    /// A fresh random key, as hex for its file.
    pub fn generate_hex() -> Result<String, CoreError> {
        Ok(hex(&random_bytes::<32>()?))
    }

    /// A subkey for one purpose.
    pub fn derive(&self, label: &str) -> [u8; 32] {
        hmac_sha256(&self.0, label.as_bytes())
    }
}

impl std::fmt::Debug for MasterKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MasterKey(***)")
    }
}

/// Hashes access-key secrets with a server-held key, so a copy of the database alone
/// cannot be used to test guesses, and compares in constant time.
#[derive(Clone)]
pub struct SecretHasher {
    key: [u8; 32],
}

impl SecretHasher {
    /// A hasher under the master key's key-hash subkey.
    pub fn new(master: &MasterKey) -> SecretHasher {
        SecretHasher::for_purpose(master, "podium access key secret hash v1")
    }

    /// A hasher under the master key's subkey for another purpose (`label`), such
    /// as signing what a browser carries between two requests.
    pub fn for_purpose(master: &MasterKey, label: &str) -> SecretHasher {
        SecretHasher {
            key: master.derive(label),
        }
    }

    /// The stored form of a secret.
    pub fn hash(&self, secret: &str) -> String {
        hex(&hmac_sha256(&self.key, secret.as_bytes()))
    }

    /// Whether `secret` matches a stored hash. Takes the same time whether or not it
    /// matches (and when the stored hash is malformed).
    pub fn verify(&self, secret: &str, stored: &str) -> bool {
        let computed = hmac_sha256(&self.key, secret.as_bytes());
        let stored = unhex(stored).unwrap_or_default();
        let stored: [u8; 32] = stored.try_into().unwrap_or([0u8; 32]);
        bool::from(computed.ct_eq(&stored))
    }
}

impl std::fmt::Debug for SecretHasher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretHasher(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trips() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(hex(&bytes), "0001abff");
        assert_eq!(unhex("0001ABff"), Some(bytes.to_vec()));
        assert_eq!(unhex("abc"), None);
        assert_eq!(unhex("zz"), None);
    }

    #[test]
    fn secrets_verify_only_against_their_hash() {
        let master = MasterKey::from_bytes(&[7u8; 32]).expect("a 32-byte key");
        let hasher = SecretHasher::new(&master);
        let stored = hasher.hash("s3cret");
        assert_eq!(stored.len(), 64);
        assert!(hasher.verify("s3cret", &stored));
        assert!(!hasher.verify("s3cret!", &stored));
        assert!(!hasher.verify("s3cret", "not hex"));
        // Another master key gives another hash.
        let other = SecretHasher::new(&MasterKey::from_bytes(&[8u8; 32]).expect("key"));
        assert_ne!(other.hash("s3cret"), stored);
        assert!(MasterKey::from_bytes(&[1u8; 16]).is_err());
    }
}
