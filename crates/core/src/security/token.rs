//! The tokens Podium mints: HS256 JWTs signed with a key derived from the server's
//! master key. A token names its principal and, for applications, the access key it
//! was minted from, so a paused or deleted key stops its tokens at once. Only HS256
//! with our key id is accepted: `alg: none`, other algorithms and other keys fail.

use std::collections::HashMap;
use std::sync::Arc;

use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use parking_lot::RwLock;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::crypto::{MasterKey, hex};
use crate::error::CoreError;

/// The issuer claim of Podium's tokens.
pub const ISSUER: &str = "podium";

/// What a token says.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Claims {
    /// The principal: a user id or `app:<application id>`.
    pub sub: String,
    /// The access key the token was minted from (applications only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// Issued at, seconds since the epoch.
    pub iat: i64,
    /// Expires at, seconds since the epoch.
    pub exp: i64,
    pub iss: String,
    /// A user's token version when it was issued (users only): a token whose
    /// version is no longer the user's is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ver: Option<i64>,
    /// The browser session the token was copied from (Copy Token): the token ends
    /// when that session does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sid: Option<String>,
}

/// Why a token was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenError {
    /// Well-formed and signed by us, but past its expiry.
    Expired,
    /// Anything else: malformed, unsigned, another algorithm or key, tampered.
    Invalid,
}

/// Signs and verifies tokens.
#[derive(Clone)]
pub struct TokenKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    kid: String,
    validation: Validation,
    /// The first part of every token these keys mint (the encoded header), so that
    /// a token can be told to be Podium's without decoding it.
    header_segment: String,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TokenKeys(kid {})", self.kid)
    }
}

impl TokenKeys {
    /// Keys derived from the master key.
    pub fn new(master: &MasterKey) -> Result<TokenKeys, CoreError> {
        let secret = master.derive("podium token signing v1");
        let kid = hex(&master.derive("podium token key id v1")[..8]);
        let internal = |e: jsonwebtoken::errors::Error| {
            CoreError::Internal(format!("token key setup failed: {e}"))
        };
        let mut validation = Validation::new(Algorithm::HS256);
        // Expiry is checked against Podium's clock, after the signature.
        validation.validate_exp = false;
        validation.required_spec_claims = ["exp", "iss", "sub"]
            .into_iter()
            .map(String::from)
            .collect();
        validation.set_issuer(&[ISSUER]);
        validation.validate_aud = false;
        validation.leeway = 0;
        let mut keys = TokenKeys {
            encoding: EncodingKey::from_secret(&secret).map_err(internal)?,
            decoding: DecodingKey::from_secret(&secret).map_err(internal)?,
            kid,
            validation,
            header_segment: String::new(),
        };
        let sample = keys.mint(&Claims {
            sub: String::new(),
            key: None,
            iat: 0,
            exp: 0,
            iss: ISSUER.into(),
            ver: None,
            sid: None,
        })?;
        keys.header_segment = sample.split('.').next().unwrap_or_default().to_string();
        Ok(keys)
    }

    /// Whether `token` has the header of the tokens these keys mint (it may still
    /// be forged or expired: [`TokenKeys::verify`] decides that).
    pub fn minted_here(&self, token: &str) -> bool {
        token
            .strip_prefix(self.header_segment.as_str())
            .is_some_and(|rest| rest.starts_with('.'))
    }

    /// A signed token for `claims`.
    pub fn mint(&self, claims: &Claims) -> Result<String, CoreError> {
        let mut header = Header::new(Algorithm::HS256);
        header.kid = Some(self.kid.clone());
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .map_err(|e| CoreError::Internal(format!("token signing failed: {e}")))
    }

    /// The claims of a token signed by us, if it has not expired at `now_seconds`.
    pub fn verify(&self, token: &str, now_seconds: i64) -> Result<Claims, TokenError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|_| TokenError::Invalid)?;
        if data.header.kid.as_deref() != Some(self.kid.as_str()) {
            return Err(TokenError::Invalid);
        }
        if data.claims.exp <= now_seconds {
            return Err(TokenError::Expired);
        }
        Ok(data.claims)
    }
}

/// How many verified tokens are remembered; past this, expired ones are dropped, and
/// if all are live the memory starts over (each token is then verified once more).
const VERIFIED_CAPACITY: usize = 65_536;

/// Claims with an expiry, in seconds since the epoch.
pub trait Expiring {
    fn expires_at(&self) -> i64;
}

impl Expiring for Claims {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// Tokens whose signature has been checked, remembered by the SHA-256 of the token
/// (the token itself is not kept). A hit skips only the signature and the parsing:
/// expiry is checked on every use, and the caller checks the principal behind it.
/// Only tokens that passed verification are ever added, so unsigned input cannot
/// fill it. Podium's own tokens use [`VerifiedTokens::verify`]; tokens of an
/// identity provider are verified elsewhere and [`VerifiedTokens::remember`]ed.
pub struct VerifiedTokens<C = Claims> {
    entries: RwLock<HashMap<[u8; 32], Arc<C>, foldhash::fast::RandomState>>,
    capacity: usize,
}

impl<C> Default for VerifiedTokens<C> {
    fn default() -> Self {
        VerifiedTokens {
            entries: RwLock::default(),
            capacity: VERIFIED_CAPACITY,
        }
    }
}

impl<C> std::fmt::Debug for VerifiedTokens<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "VerifiedTokens({})", self.entries.read().len())
    }
}

fn digest_of(token: &str) -> [u8; 32] {
    Sha256::digest(token.as_bytes()).into()
}

impl<C: Expiring> VerifiedTokens<C> {
    /// A memory of at most `capacity` tokens.
    pub fn with_capacity(capacity: usize) -> VerifiedTokens<C> {
        VerifiedTokens {
            entries: RwLock::default(),
            capacity: capacity.max(1),
        }
    }

    /// The claims of a token verified before: none when it was not, an error when
    /// it has expired since.
    pub fn lookup(&self, token: &str, now_seconds: i64) -> Option<Result<Arc<C>, TokenError>> {
        let claims = self.entries.read().get(&digest_of(token)).cloned()?;
        if claims.expires_at() <= now_seconds {
            return Some(Err(TokenError::Expired));
        }
        Some(Ok(claims))
    }

    /// Remembers the claims of a token that was just verified.
    pub fn remember(&self, token: &str, claims: C, now_seconds: i64) -> Arc<C> {
        let claims = Arc::new(claims);
        let mut entries = self.entries.write();
        if entries.len() >= self.capacity {
            entries.retain(|_, c| c.expires_at() > now_seconds);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(digest_of(token), claims.clone());
        claims
    }

    /// How many tokens are remembered.
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }

    /// Whether none is.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl VerifiedTokens<Claims> {
    /// The claims of `token`, verified with `keys` once and then found by digest.
    pub fn verify(
        &self,
        keys: &TokenKeys,
        token: &str,
        now_seconds: i64,
    ) -> Result<Arc<Claims>, TokenError> {
        match self.lookup(token, now_seconds) {
            Some(known) => known,
            None => Ok(self.remember(token, keys.verify(token, now_seconds)?, now_seconds)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(seed: u8) -> TokenKeys {
        TokenKeys::new(&MasterKey::from_bytes(&[seed; 32]).expect("key")).expect("keys")
    }

    fn claims(exp: i64) -> Claims {
        Claims {
            sub: "app:1".into(),
            key: Some("k1".into()),
            iat: 100,
            exp,
            iss: ISSUER.into(),
            ver: None,
            sid: None,
        }
    }

    /// Base64url without padding, to forge test tokens by hand.
    fn b64(data: &[u8]) -> String {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let n = chunk
                .iter()
                .enumerate()
                .fold(0u32, |acc, (i, b)| acc | (u32::from(*b) << (16 - 8 * i)));
            for i in 0..=chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            }
        }
        out
    }

    #[test]
    fn minted_tokens_verify_until_they_expire() {
        let keys = keys(1);
        let token = keys.mint(&claims(200)).expect("mint");
        assert_eq!(keys.verify(&token, 150), Ok(claims(200)));
        assert_eq!(keys.verify(&token, 200), Err(TokenError::Expired));
    }

    #[test]
    fn forged_tokens_are_invalid() {
        let keys = keys(1);
        let token = keys.mint(&claims(200)).expect("mint");
        let parts: Vec<&str> = token.split('.').collect();
        // Signed by another server's key.
        let other = self::keys(2).mint(&claims(200)).expect("mint");
        assert_eq!(keys.verify(&other, 150), Err(TokenError::Invalid));
        // A tampered payload under the old signature.
        let payload = b64(br#"{"sub":"app:2","key":"k1","iat":100,"exp":200,"iss":"podium"}"#);
        let tampered = format!("{}.{}.{}", parts[0], payload, parts[2]);
        assert_eq!(keys.verify(&tampered, 150), Err(TokenError::Invalid));
        // alg none, unsigned.
        let none = format!(
            "{}.{}.",
            b64(br#"{"alg":"none","typ":"JWT"}"#),
            b64(br#"{"sub":"app:1","iat":100,"exp":200,"iss":"podium"}"#)
        );
        assert_eq!(keys.verify(&none, 150), Err(TokenError::Invalid));
        // Another algorithm with our payload and signature.
        let hs512 = format!(
            "{}.{}.{}",
            b64(br#"{"alg":"HS512","typ":"JWT"}"#),
            parts[1],
            parts[2]
        );
        assert_eq!(keys.verify(&hs512, 150), Err(TokenError::Invalid));
        assert_eq!(keys.verify("garbage", 150), Err(TokenError::Invalid));
        assert_eq!(keys.verify("", 150), Err(TokenError::Invalid));
        // A forgery past its expiry is invalid, not expired.
        let forgery = format!("{}.{}.AAAA", parts[0], parts[1]);
        assert_eq!(keys.verify(&forgery, 500), Err(TokenError::Invalid));
    }

    #[test]
    fn remembered_tokens_still_expire_and_forgeries_are_never_remembered() {
        let keys = keys(1);
        let cache = VerifiedTokens::default();
        let token = keys.mint(&claims(200)).expect("mint");
        assert_eq!(
            cache.verify(&keys, &token, 150).map(|c| (*c).clone()),
            Ok(claims(200))
        );
        assert_eq!(cache.len(), 1);
        // A hit still checks expiry.
        assert_eq!(cache.verify(&keys, &token, 150).map(|c| c.exp), Ok(200));
        assert_eq!(cache.verify(&keys, &token, 200), Err(TokenError::Expired));
        // A token one character off is verified (and refused), not found.
        let mut forged = token.clone();
        let last = forged
            .pop()
            .map_or('A', |c| if c == 'A' { 'B' } else { 'A' });
        forged.push(last);
        assert_eq!(cache.verify(&keys, &forged, 150), Err(TokenError::Invalid));
        let other = self::keys(2).mint(&claims(200)).expect("mint");
        assert_eq!(cache.verify(&keys, &other, 150), Err(TokenError::Invalid));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn a_full_memory_drops_expired_tokens_first() {
        let keys = keys(1);
        let cache = VerifiedTokens::with_capacity(8);
        let live = keys.mint(&claims(10_000)).expect("mint");
        cache.verify(&keys, &live, 0).expect("live");
        for i in 0..7 {
            let mut c = claims(100);
            c.iat = i as i64;
            let token = keys.mint(&c).expect("mint");
            cache.verify(&keys, &token, 0).expect("verify");
        }
        assert_eq!(cache.len(), 8);
        let next = keys.mint(&claims(10_001)).expect("mint");
        cache.verify(&keys, &next, 150).expect("next");
        assert_eq!(cache.len(), 2, "only the live tokens remain");
        // All live and full: it starts over rather than grow.
        let cache = VerifiedTokens::with_capacity(2);
        for exp in [1_000, 1_001, 1_002] {
            let token = keys.mint(&claims(exp)).expect("mint");
            cache.verify(&keys, &token, 0).expect("verify");
        }
        assert_eq!(cache.len(), 1);
    }
}
