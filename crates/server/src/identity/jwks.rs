//! An identity provider's signing keys: read from its discovery document (which
//! also says which algorithms it signs with, and must name the configured issuer)
//! and its JWKS, kept in memory, and read again when a token names a key not seen
//! yet, at most once a minute (every 5 seconds while the provider cannot be reached).

use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{AlgorithmParameters, Jwk, JwkSet, KeyAlgorithm, PublicKeyUse};
use jsonwebtoken::{Algorithm, DecodingKey};
use parking_lot::RwLock;
use serde::Deserialize;

use super::settings::{OidcSettings, secure_or_loopback};

/// Largest discovery document or key set read.
const MAX_DOCUMENT_BYTES: usize = 1 << 20;
/// How often the keys may be read again for a key not seen yet.
const REFRESH_EVERY: Duration = Duration::from_secs(60);
/// How long keys are used before they are read again, whatever tokens name.
const READ_AGAIN_AFTER: Duration = Duration::from_secs(10 * 60);
/// How soon after a failed read another may be tried.
const RETRY_AFTER_FAILURE: Duration = Duration::from_secs(5);

/// Why no key checks a token.
#[derive(Debug)]
pub enum KeyRefusal {
    /// The provider has no such key (or none for that algorithm).
    Unknown,
    /// The provider could not be asked; the text is for the log.
    Unavailable(String),
}

/// A signing key: the key, its id, and the one algorithm it is for, if it says.
struct SigningKey {
    kid: Option<String>,
    alg: Option<Algorithm>,
    key: DecodingKey,
}

/// What was read from the provider, and when.
#[derive(Default)]
struct Known {
    keys: Vec<SigningKey>,
    /// The algorithms the provider says it signs with.
    advertised: Vec<Algorithm>,
    read_at: Option<Instant>,
    failed_at: Option<Instant>,
    /// Where browsers sign in and codes are exchanged, when the provider says.
    endpoints: Option<Endpoints>,
}

/// The addresses of the authorization code flow.
#[derive(Debug, Clone)]
pub struct Endpoints {
    pub authorization: String,
    pub token: String,
}

/// The discovery document's fields Podium reads.
#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    jwks_uri: Option<String>,
    #[serde(default)]
    id_token_signing_alg_values_supported: Vec<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
}

/// The keys of one provider.
pub struct ProviderKeys {
    issuer: String,
    jwks_uri: Option<String>,
    http: reqwest::Client,
    known: RwLock<Known>,
    /// One read at a time; others wait for it and use what it read.
    reading: tokio::sync::Mutex<()>,
}

fn algorithm(name: &str) -> Option<Algorithm> {
    name.parse::<Algorithm>().ok()
}

fn algorithm_of(key: KeyAlgorithm) -> Option<Algorithm> {
    algorithm(&key.to_string())
}

impl ProviderKeys {
    /// The keys of the provider at `issuer`, read with the settings' CA and timeout.
    pub fn new(issuer: &str, settings: &OidcSettings) -> Result<ProviderKeys, String> {
        let tls = super::client_tls(settings.ca_file.as_deref())?;
        let http = reqwest::Client::builder()
            .tls_backend_preconfigured(tls)
            .timeout(Duration::from_millis(settings.timeout_ms))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .map_err(|e| format!("cannot build the HTTP client for the identity provider: {e}"))?;
        Ok(ProviderKeys {
            issuer: issuer.to_string(),
            jwks_uri: settings.jwks_uri.as_deref().map(|u| u.trim().to_string()),
            http,
            known: RwLock::default(),
            reading: tokio::sync::Mutex::new(()),
        })
    }

    /// The key that checks a token signed with `alg` by key `kid`.
    pub async fn key_for(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<DecodingKey, KeyRefusal> {
        if let Some(key) = self.find(kid, alg) {
            if self.stale() {
                // Read again now and then, so a key the provider withdrew stops
                // being trusted; if the provider cannot be reached, the keys read
                // before stay in use.
                let _reading = self.reading.lock().await;
                if self.stale() && self.read().await.is_err() {
                    self.known.write().failed_at = Some(Instant::now());
                }
                return self.find(kid, alg).ok_or(KeyRefusal::Unknown);
            }
            return Ok(key);
        }
        let _reading = self.reading.lock().await;
        if let Some(key) = self.find(kid, alg) {
            return Ok(key);
        }
        {
            let known = self.known.read();
            let recently_read = known.read_at.is_some_and(|at| at.elapsed() < REFRESH_EVERY);
            let recently_failed = known
                .failed_at
                .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE);
            if recently_failed && known.read_at.is_none() {
                // Said in the log when that read failed.
                return Err(KeyRefusal::Unavailable(String::new()));
            }
            if recently_read || recently_failed {
                return Err(KeyRefusal::Unknown);
            }
        }
        match self.read().await {
            Ok(()) => self.find(kid, alg).ok_or(KeyRefusal::Unknown),
            Err(why) => {
                self.known.write().failed_at = Some(Instant::now());
                Err(KeyRefusal::Unavailable(why))
            }
        }
    }

    /// Whether the keys were read long enough ago to be read again (and no read
    /// failed moments ago).
    fn stale(&self) -> bool {
        let known = self.known.read();
        let read_long_ago = known
            .read_at
            .is_some_and(|at| at.elapsed() >= READ_AGAIN_AFTER);
        let may_try = known
            .failed_at
            .is_none_or(|at| at.elapsed() >= RETRY_AFTER_FAILURE);
        read_long_ago && may_try
    }

    /// A known key for the token: the one with its `kid` (or the only one, when it
    /// names none) that allows `alg`.
    fn find(&self, kid: Option<&str>, alg: Algorithm) -> Option<DecodingKey> {
        let known = self.known.read();
        let allowed = |key: &&SigningKey| match key.alg {
            Some(own) => own == alg,
            None => known.advertised.contains(&alg),
        };
        let mut candidates = known.keys.iter().filter(|k| match kid {
            Some(kid) => k.kid.as_deref() == Some(kid),
            None => true,
        });
        let key = candidates.next()?;
        if kid.is_none() && candidates.next().is_some() {
            // Several keys and the token names none: which one is not for us to guess.
            return None;
        }
        Some(key).filter(allowed).map(|k| k.key.clone())
    }

    /// Reads the discovery document and the key set.
    async fn read(&self) -> Result<(), String> {
        let url = format!("{}/.well-known/openid-configuration", self.issuer);
        let discovery: Discovery = serde_json::from_slice(&self.fetch(&url).await?)
            .map_err(|e| format!("the discovery document at {url} cannot be read: {e}"))?;
        if discovery.issuer.trim_end_matches('/') != self.issuer {
            return Err(format!(
                "the discovery document names the issuer {}, not {}",
                discovery.issuer, self.issuer
            ));
        }
        let jwks_uri = match (&self.jwks_uri, discovery.jwks_uri) {
            (Some(configured), _) => configured.clone(),
            (None, Some(found)) => found,
            (None, None) => return Err("the discovery document names no jwks_uri".into()),
        };
        // Plain http only for a provider on this machine, never one named by a
        // remote provider's document.
        let usable = |url: &str| {
            url.starts_with("https://")
                || (!self.issuer.starts_with("https://") && secure_or_loopback(url))
        };
        if !usable(&jwks_uri) {
            return Err(format!("the key set's address {jwks_uri} is not https://"));
        }
        let endpoints = match (discovery.authorization_endpoint, discovery.token_endpoint) {
            (Some(authorization), Some(token)) if usable(&authorization) && usable(&token) => {
                Some(Endpoints {
                    authorization,
                    token,
                })
            }
            _ => None,
        };
        let set: JwkSet = serde_json::from_slice(&self.fetch(&jwks_uri).await?)
            .map_err(|e| format!("the key set at {jwks_uri} cannot be read: {e}"))?;
        let keys: Vec<SigningKey> = set.keys.iter().filter_map(signing_key).collect();
        let mut advertised: Vec<Algorithm> = discovery
            .id_token_signing_alg_values_supported
            .iter()
            .filter_map(|name| algorithm(name))
            .collect();
        if advertised.is_empty() {
            // OpenID Connect's default.
            advertised.push(Algorithm::RS256);
        }
        let mut known = self.known.write();
        *known = Known {
            keys,
            advertised,
            read_at: Some(Instant::now()),
            failed_at: None,
            endpoints,
        };
        tracing::info!(
            keys = known.keys.len(),
            "read the identity provider's signing keys"
        );
        Ok(())
    }

    /// The addresses of the authorization code flow, read with the keys (now, if
    /// they have not been read yet).
    pub async fn endpoints(&self) -> Result<Endpoints, String> {
        if let Some(found) = self.known.read().endpoints.clone() {
            return Ok(found);
        }
        let _reading = self.reading.lock().await;
        if self.known.read().endpoints.is_none() {
            // A provider that failed moments ago is not asked again at once (each
            // sign-in page visit would otherwise cost it two requests).
            let (recently_failed, recently_read) = {
                let known = self.known.read();
                (
                    known
                        .failed_at
                        .is_some_and(|at| at.elapsed() < RETRY_AFTER_FAILURE),
                    known.read_at.is_some_and(|at| at.elapsed() < REFRESH_EVERY),
                )
            };
            if recently_read {
                return Err("the discovery document names no authorization_endpoint and token_endpoint (https://)".into());
            }
            if recently_failed {
                return Err("the identity provider could not be read moments ago".into());
            }
            if let Err(why) = self.read().await {
                self.known.write().failed_at = Some(Instant::now());
                return Err(why);
            }
        }
        self.known.read().endpoints.clone().ok_or_else(|| {
            "the discovery document names no authorization_endpoint and token_endpoint (https://)"
                .to_string()
        })
    }

    /// The HTTP client for the provider (its CA, its timeout, no redirects).
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// GETs a JSON document of at most [`MAX_DOCUMENT_BYTES`].
    async fn fetch(&self, url: &str) -> Result<Vec<u8>, String> {
        let response = self
            .http
            .get(url)
            .header("accept", "application/json")
            .send()
            .await
            .map_err(|e| format!("cannot reach {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("{url} answered {}", response.status()));
        }
        read_limited(response, url).await
    }
}

/// A response's body, at most [`MAX_DOCUMENT_BYTES`] of it.
pub async fn read_limited(mut response: reqwest::Response, url: &str) -> Result<Vec<u8>, String> {
    let mut body = Vec::new();
    while let Some(chunk) = response
        .chunk()
        .await
        .map_err(|e| format!("cannot read {url}: {e}"))?
    {
        if body.len() + chunk.len() > MAX_DOCUMENT_BYTES {
            return Err(format!("{url} is larger than {MAX_DOCUMENT_BYTES} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

/// A key of the set Podium may check signatures with: a public key for signing
/// (not encryption), never a shared secret.
fn signing_key(jwk: &Jwk) -> Option<SigningKey> {
    if matches!(jwk.common.public_key_use, Some(ref u) if *u != PublicKeyUse::Signature) {
        return None;
    }
    if matches!(jwk.algorithm, AlgorithmParameters::OctetKey(_)) {
        return None;
    }
    let alg = match jwk.common.key_algorithm {
        Some(declared) => Some(algorithm_of(declared)?),
        None => None,
    };
    if alg.is_some_and(|a| matches!(a, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)) {
        return None;
    }
    let key = DecodingKey::from_jwk(jwk).ok()?;
    Some(SigningKey {
        kid: jwk.common.key_id.clone(),
        alg,
        key,
    })
}
