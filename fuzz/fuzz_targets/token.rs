//! Tokens: a fuzzed string verified against real keys, directly and through the
//! verified-token memory, and tokens minted from fuzzed claims, verified as they are
//! and with one byte changed. Nothing but a token Podium signed verifies, and it
//! verifies to the claims it was minted with.
#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use podium_core::security::crypto::MasterKey;
use podium_core::security::token::{Claims, ISSUER, TokenKeys, VerifiedTokens};

const NOW: i64 = 1_800_000_000;

static KEYS: LazyLock<TokenKeys> = LazyLock::new(|| {
    TokenKeys::new(&MasterKey::from_bytes(&[7u8; 32]).expect("a key")).expect("keys")
});
static OTHER_KEYS: LazyLock<TokenKeys> = LazyLock::new(|| {
    TokenKeys::new(&MasterKey::from_bytes(&[8u8; 32]).expect("a key")).expect("keys")
});
static VERIFIED: LazyLock<VerifiedTokens> = LazyLock::new(|| VerifiedTokens::with_capacity(64));

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let direct = KEYS.verify(text, NOW);
        let remembered = VERIFIED.verify(&KEYS, text, NOW).map(|c| (*c).clone());
        assert_eq!(direct, remembered);
    }
    if data.len() < 4 {
        return;
    }
    let split = 4 + (data.len() - 4) / 2;
    let claims = Claims {
        sub: String::from_utf8_lossy(&data[4..split]).into_owned(),
        key: (data[0] & 1 == 1).then(|| String::from_utf8_lossy(&data[split..]).into_owned()),
        iat: NOW,
        exp: NOW + 1 + i64::from(data[1]),
        iss: ISSUER.to_string(),
        ver: (data[0] & 2 == 2).then(|| i64::from(data[2]) - 128),
        sid: (data[0] & 4 == 4).then(|| format!("{:02x}", data[3])),
    };
    let token = KEYS.mint(&claims).expect("minted");
    assert_eq!(KEYS.verify(&token, NOW), Ok(claims.clone()));
    assert!(
        OTHER_KEYS.verify(&token, NOW).is_err(),
        "another key's token verified"
    );
    // One byte changed: refused, or (a different encoding of the same bytes) the same claims.
    let mut bytes = token.into_bytes();
    let at = usize::from(data[2]) % bytes.len();
    bytes[at] = data[3];
    if let Ok(changed) = String::from_utf8(bytes)
        && let Ok(found) = KEYS.verify(&changed, NOW)
    {
        assert_eq!(found, claims, "a changed token verified to other claims");
    }
});
