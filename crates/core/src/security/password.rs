//! Passwords of built-in users: argon2id at the OWASP minimum parameters
//! (19 MiB, two passes), stored as PHC strings.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::CoreError;

/// Longest password accepted (bytes): long enough for passphrases, short enough that
/// hashing stays cheap.
pub const MAX_PASSWORD_BYTES: usize = 1024;

/// The PHC string of a password.
pub fn hash_password(password: &str) -> Result<String, CoreError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(CoreError::invalid(format!(
            "a password may hold at most {MAX_PASSWORD_BYTES} bytes"
        )));
    }
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|hash| hash.to_string())
        .map_err(|e| CoreError::Internal(format!("password hashing failed: {e}")))
}

/// Whether `password` matches a stored PHC string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES
        && Argon2::default()
            .verify_password(password.as_bytes(), stored)
            .is_ok()
}

/// A random password for a generated account: 24 characters from an unambiguous
/// alphabet (about 137 bits).
pub fn generate_password() -> Result<String, CoreError> {
    const ALPHABET: &[u8] = b"abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    // Rejection sampling keeps every character equally likely.
    let limit = 256 - 256 % ALPHABET.len();
    let mut out = String::with_capacity(24);
    while out.len() < 24 {
        for b in super::crypto::random_bytes::<32>()? {
            if (b as usize) < limit && out.len() < 24 {
                out.push(ALPHABET[(b as usize) % ALPHABET.len()] as char);
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_verify_and_refuse() {
        let stored = hash_password("correct horse").expect("hash");
        assert!(stored.starts_with("$argon2id$"));
        assert!(verify_password("correct horse", &stored));
        assert!(!verify_password("correct hors", &stored));
        assert!(!verify_password("correct horse", "garbage"));
        let long = "x".repeat(MAX_PASSWORD_BYTES + 1);
        assert!(hash_password(&long).is_err());
        let generated = generate_password().expect("password");
        assert_eq!(generated.len(), 24);
    }
}
