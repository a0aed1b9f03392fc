//! Passwords of built-in users: argon2id at the OWASP minimum parameters
//! (19 MiB, two passes), stored as PHC strings. Hashes imported from elsewhere may
//! also be bcrypt (`$2a$`, `$2b$`, `$2y$`, as Spring's encoder writes them); such a
//! hash is replaced by an argon2id one at the user's next sign-in.

use std::str::FromStr;

use argon2::{Argon2, PasswordHash, PasswordHasher, PasswordVerifier};

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

/// Whether `password` matches a stored PHC string (one whose parameters are within
/// what a sign-in may cost).
pub fn verify_password(password: &str, stored: &str) -> bool {
    password.len() <= MAX_PASSWORD_BYTES
        && PasswordHash::new(stored).is_ok_and(|parsed| {
            argon2_cost_ok(&parsed)
                && Argon2::default()
                    .verify_password(password.as_bytes(), &parsed)
                    .is_ok()
        })
}

/// Highest bcrypt cost accepted on import: each step doubles what one sign-in costs,
/// and a hash with cost 31 would take a core for days.
pub const MAX_BCRYPT_COST: u32 = 14;

/// The most of a password bcrypt reads.
const BCRYPT_MAX_BYTES: usize = 72;

fn is_bcrypt(stored: &str) -> bool {
    ["$2a$", "$2b$", "$2y$"]
        .iter()
        .any(|p| stored.starts_with(p))
}

/// Refuses, with a 400 that says why, a password hash brought from elsewhere that
/// is neither bcrypt (cost 4 to [`MAX_BCRYPT_COST`]) nor argon2id.
pub fn check_imported_hash(hash: &str) -> Result<(), CoreError> {
    if is_bcrypt(hash) {
        let parts = bcrypt::HashParts::from_str(hash).map_err(|_| {
            CoreError::invalid("passwordHash is not a well-formed bcrypt hash ($2a$/$2b$/$2y$, cost, 53 characters of salt and hash)")
        })?;
        if parts.get_cost() > MAX_BCRYPT_COST {
            return Err(CoreError::invalid(format!(
                "passwordHash has bcrypt cost {}; at most {MAX_BCRYPT_COST} is accepted (rehash it, or set a password)",
                parts.get_cost()
            )));
        }
        return Ok(());
    }
    match PasswordHash::new(hash) {
        Ok(parsed) if parsed.algorithm.as_str() == "argon2id" && parsed.hash.is_some() => {
            if argon2_cost_ok(&parsed) {
                Ok(())
            } else {
                Err(CoreError::invalid(format!(
                    "passwordHash asks for more work than Podium allows (argon2id m <= {MAX_ARGON2_MEMORY_KIB}, t <= {MAX_ARGON2_PASSES}, p <= {MAX_ARGON2_LANES})"
                )))
            }
        }
        _ => Err(CoreError::invalid(
            "passwordHash must be a bcrypt hash ($2a$, $2b$ or $2y$) or an argon2id PHC string ($argon2id$...)",
        )),
    }
}

/// Most memory (KiB), passes and lanes an imported argon2id hash may ask for: each
/// sign-in of its user costs that, and anyone may try one.
pub const MAX_ARGON2_MEMORY_KIB: u32 = 65_536;
pub const MAX_ARGON2_PASSES: u32 = 10;
pub const MAX_ARGON2_LANES: u32 = 4;

/// Whether an argon2 hash's parameters are within what a sign-in may cost.
fn argon2_cost_ok(parsed: &PasswordHash) -> bool {
    argon2::Params::try_from(parsed).is_ok_and(|p| {
        p.m_cost() <= MAX_ARGON2_MEMORY_KIB
            && p.t_cost() <= MAX_ARGON2_PASSES
            && p.p_cost() <= MAX_ARGON2_LANES
    })
}

/// What checking a password against a stored hash found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Checked {
    pub matches: bool,
    /// The hash is of a kind Podium replaces (bcrypt): store an argon2id one.
    pub rehash: bool,
}

/// Checks `password` against a stored hash of either kind.
pub fn verify_stored(password: &str, stored: &str) -> Checked {
    if is_bcrypt(stored) {
        // bcrypt reads only the first 72 bytes: a longer password is refused rather
        // than checked by its beginning.
        let matches = password.len() <= BCRYPT_MAX_BYTES
            && bcrypt::HashParts::from_str(stored)
                .is_ok_and(|parts| parts.get_cost() <= MAX_BCRYPT_COST)
            && bcrypt::verify(password, stored).unwrap_or(false);
        return Checked {
            matches,
            rehash: true,
        };
    }
    Checked {
        matches: verify_password(password, stored),
        rehash: false,
    }
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

    #[test]
    fn bcrypt_hashes_verify_and_ask_to_be_replaced() {
        let stored = bcrypt::hash("correct horse battery", 4).expect("bcrypt");
        check_imported_hash(&stored).expect("a bcrypt hash is accepted");
        let spring = stored.replacen("$2b$", "$2a$", 1);
        check_imported_hash(&spring).expect("as Spring writes it");
        assert_eq!(
            verify_stored("correct horse battery", &spring),
            Checked {
                matches: true,
                rehash: true
            }
        );
        assert!(!verify_stored("correct horse batter", &spring).matches);
        // bcrypt reads 72 bytes; a password that only begins like the right one fails.
        let long = "x".repeat(72);
        let truncated = bcrypt::hash(&long, 4).expect("bcrypt");
        assert!(verify_stored(&long, &truncated).matches);
        assert!(!verify_stored(&format!("{long}tail"), &truncated).matches);
        let argon = hash_password("correct horse battery").expect("hash");
        check_imported_hash(&argon).expect("an argon2id hash is accepted");
        assert_eq!(
            verify_stored("correct horse battery", &argon),
            Checked {
                matches: true,
                rehash: false
            }
        );
        for bad in [
            "",
            "plain text",
            "$2b$04$short",
            "$argon2i$v=19$m=16,t=2,p=1$c2FsdHNhbHQ$aGFzaA",
        ] {
            assert!(check_imported_hash(bad).is_err(), "{bad}");
        }
        let greedy = "$argon2id$v=19$m=4194304,t=2,p=1$c2FsdHNhbHRzYWx0$aGFzaGhhc2hoYXNoaGFzaGhhc2hoYXNoaGFzaA";
        let err = check_imported_hash(greedy).expect_err("4 GiB").to_string();
        assert!(err.contains("more work"), "{err}");
        assert!(!verify_stored("anything", greedy).matches);
        let costly = format!("$2b$15${}", &stored[7..]);
        let err = check_imported_hash(&costly)
            .expect_err("cost 15")
            .to_string();
        assert!(err.contains("at most 14"), "{err}");
        assert!(!verify_stored("correct horse battery", &costly).matches);
    }
}
