//! Browser sign-in through the OpenID Connect provider: the authorization code flow
//! with PKCE (S256), `state` and `nonce`.
//!
//! [`OidcLogin::begin`] sends the browser to the provider with a fresh state, nonce
//! and code verifier; they travel in a short-lived cookie signed with a key derived
//! from the server's key, so nothing is kept between the two legs and any node can
//! finish the sign-in. [`OidcLogin::finish`] checks the returned `state` against the
//! cookie, exchanges the code (with the verifier and the client's secret), and
//! checks the ID token: signature against the provider's keys, issuer, audience
//! (this client), expiry and the nonce. The person it names is brought up to date
//! exactly as for an access token of theirs.

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Validation;
use podium_core::error::CoreError;
use podium_core::security::crypto::{SecretHasher, random_bytes};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use sha2::{Digest, Sha256};

use super::jwks::{KeyRefusal, read_limited};
use super::oidc::{OidcBearer, asymmetric, seconds, text};
use super::settings::OidcSettings;
use crate::config::SecretValue;

/// The cookie that carries a pending sign-in over plain HTTP, and over HTTPS.
pub const PENDING_COOKIE: &str = "podium_oidc";
pub const SECURE_PENDING_COOKIE: &str = "__Host-podium_oidc";
/// How long a browser may take at the provider.
pub const PENDING_SECONDS: i64 = 600;
/// Longest `code` or `state` accepted back.
const MAX_PARAM: usize = 4096;

/// What the callback must match.
#[derive(Debug, Serialize, Deserialize)]
struct Pending {
    state: String,
    nonce: String,
    verifier: String,
    exp: i64,
}

/// A sign-in sent to the provider: where the browser goes, and the cookie it
/// carries meanwhile.
pub struct Begun {
    pub location: String,
    pub cookie: String,
}

/// What the provider sends the browser back with.
#[derive(Debug, Default)]
pub struct Callback {
    pub code: Option<String>,
    pub state: Option<String>,
    pub error: Option<String>,
    pub error_description: Option<String>,
}

impl Callback {
    /// From the callback's query string (a parameter given twice is refused, as
    /// the first and the second could be told apart by different readers).
    pub fn parse(query: &str) -> Result<Callback, Refusal> {
        let mut callback = Callback::default();
        for (name, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let slot = match name.as_ref() {
                "code" => &mut callback.code,
                "state" => &mut callback.state,
                "error" => &mut callback.error,
                "error_description" => &mut callback.error_description,
                _ => continue,
            };
            if slot.replace(value.into_owned()).is_some() {
                return Err(refusal(format!("The answer names {name} twice")));
            }
        }
        Ok(callback)
    }
}

/// Why a sign-in did not finish: what the person is told (never a secret, a
/// code or a token), and whether it was a sign-in started here (which the audit
/// trail records; an answer nobody asked for is not worth an entry).
#[derive(Debug)]
pub struct Refusal {
    pub text: String,
    pub started_here: bool,
}

fn refusal(text: impl Into<String>) -> Refusal {
    Refusal {
        text: text.into(),
        started_here: false,
    }
}

/// The error codes of OAuth 2.0 and OpenID Connect a provider may send back: only
/// these are shown on Podium's page (anything else is someone's made-up text).
const KNOWN_ERRORS: &[&str] = &[
    "invalid_request",
    "unauthorized_client",
    "access_denied",
    "unsupported_response_type",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "interaction_required",
    "login_required",
    "account_selection_required",
    "consent_required",
    "invalid_request_uri",
    "invalid_request_object",
    "request_not_supported",
    "request_uri_not_supported",
    "registration_not_supported",
];

/// The browser sign-in `[oidc]` configures (with `client_id` and
/// `redirect_root_url`).
pub struct OidcLogin {
    bearer: Arc<OidcBearer>,
    client_id: String,
    client_secret: Option<SecretValue>,
    redirect_uri: String,
    scopes: String,
    provider_name: String,
    signer: SecretHasher,
}

impl std::fmt::Debug for OidcLogin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcLogin")
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .finish_non_exhaustive()
    }
}

fn random_text() -> Result<String, CoreError> {
    Ok(URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

impl OidcLogin {
    /// The sign-in, when the settings name a client and where to come back to.
    pub fn new(
        settings: &OidcSettings,
        bearer: Arc<OidcBearer>,
        signer: SecretHasher,
    ) -> Option<OidcLogin> {
        let client_id = settings.client_id.as_deref()?.trim().to_string();
        let root = settings
            .redirect_root_url
            .as_deref()?
            .trim()
            .trim_end_matches('/');
        let provider_name = match settings.display_name.as_deref().map(str::trim) {
            Some(name) if !name.is_empty() => name.to_string(),
            _ => url::Url::parse(bearer.issuer())
                .ok()
                .and_then(|u| u.host_str().map(str::to_string))
                .unwrap_or_else(|| "the identity provider".into()),
        };
        Some(OidcLogin {
            redirect_uri: format!("{root}/login/oidc/callback"),
            client_id,
            client_secret: settings.client_secret.clone(),
            scopes: settings.scopes.trim().to_string(),
            provider_name,
            bearer,
            signer,
        })
    }

    /// What the sign-in button names.
    pub fn provider_name(&self) -> &str {
        &self.provider_name
    }

    /// Starts a sign-in at `now` (seconds): the provider's address to send the
    /// browser to, and the pending cookie's value.
    pub async fn begin(&self, now: i64) -> Result<Begun, Refusal> {
        let endpoints = self.bearer.keys().endpoints().await.map_err(|why| {
            tracing::warn!(error = %why, "cannot start a sign-in at the identity provider");
            refusal("The identity provider cannot be reached; try again later")
        })?;
        let fresh = || random_text().map_err(|_| refusal("No randomness: try again"));
        let pending = Pending {
            state: fresh()?,
            nonce: fresh()?,
            verifier: fresh()?,
            exp: now + PENDING_SECONDS,
        };
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(pending.verifier.as_bytes()));
        let mut location = url::Url::parse(&endpoints.authorization)
            .map_err(|_| refusal("The identity provider's authorization endpoint is not a URL"))?;
        location
            .query_pairs_mut()
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scopes)
            .append_pair("state", &pending.state)
            .append_pair("nonce", &pending.nonce)
            .append_pair("code_challenge", &challenge)
            .append_pair("code_challenge_method", "S256");
        Ok(Begun {
            location: location.to_string(),
            cookie: seal(&self.signer, &pending)?,
        })
    }

    /// Finishes a sign-in: the Podium user id and token version of the person the
    /// provider signed in.
    pub async fn finish(
        &self,
        callback: &Callback,
        pending: Option<&str>,
        now: i64,
    ) -> Result<(String, i64), Refusal> {
        let pending = pending
            .and_then(|value| open(&self.signer, value))
            .filter(|p| p.exp > now)
            .ok_or_else(|| {
                refusal("This sign-in was not started here or took too long: start again")
            })?;
        self.finish_started(callback, pending, now)
            .await
            .map_err(|refused| Refusal {
                started_here: true,
                ..refused
            })
    }

    /// Finishes a sign-in whose pending cookie this server signed.
    async fn finish_started(
        &self,
        callback: &Callback,
        pending: Pending,
        now: i64,
    ) -> Result<(String, i64), Refusal> {
        if let Some(error) = &callback.error {
            let bounded = podium_core::store::audit::bounded;
            let description = callback.error_description.as_deref().unwrap_or("");
            tracing::info!(error = %bounded(error), description = %bounded(description), "the identity provider refused a sign-in");
            let shown = if KNOWN_ERRORS.contains(&error.as_str()) {
                error.as_str()
            } else {
                "an unknown error"
            };
            return Err(refusal(format!(
                "The identity provider did not sign you in ({shown})"
            )));
        }
        let (Some(code), Some(state)) = (&callback.code, &callback.state) else {
            return Err(refusal("The identity provider sent no code and state back"));
        };
        if code.len() > MAX_PARAM || state.len() > MAX_PARAM {
            return Err(refusal("The identity provider's answer is too long"));
        }
        let matches = self.signer.verify(state, &self.signer.hash(&pending.state));
        if !matches {
            return Err(refusal(
                "This sign-in was not started here (its state does not match): start again",
            ));
        }
        let id_token = self.exchange(code, &pending.verifier).await?;
        let claims = self.check_id_token(&id_token, &pending.nonce, now).await?;
        let (identity, version) = self.bearer.person(&claims).await.map_err(|err| {
            tracing::info!(error = %err, "a person the identity provider signed in was refused");
            refusal("Your account cannot sign in to Podium through the identity provider")
        })?;
        Ok((identity.id, version))
    }

    /// Exchanges the code for the ID token.
    async fn exchange(&self, code: &str, verifier: &str) -> Result<String, Refusal> {
        let endpoints = self
            .bearer
            .keys()
            .endpoints()
            .await
            .map_err(|_| refusal("The identity provider cannot be reached; try again later"))?;
        let form = url::form_urlencoded::Serializer::new(String::new())
            .append_pair("grant_type", "authorization_code")
            .append_pair("code", code)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("code_verifier", verifier)
            .append_pair("client_id", &self.client_id)
            .finish();
        let mut request = self
            .bearer
            .keys()
            .http()
            .post(&endpoints.token)
            .header("content-type", "application/x-www-form-urlencoded")
            .header("accept", "application/json")
            .body(form);
        if let Some(secret) = &self.client_secret {
            // client_secret_basic: the default of OpenID Connect; the id and secret
            // are form-encoded first, as RFC 6749 §2.3.1 says.
            let encode =
                |v: &str| url::form_urlencoded::byte_serialize(v.as_bytes()).collect::<String>();
            request = request.basic_auth(encode(&self.client_id), Some(encode(secret.expose())));
        }
        let response = request.send().await.map_err(|e| {
            tracing::warn!(error = %e, "cannot reach the identity provider's token endpoint");
            refusal("The identity provider cannot be reached; try again later")
        })?;
        let status = response.status();
        let body = read_limited(response, &endpoints.token)
            .await
            .map_err(|why| {
                tracing::warn!(error = %why, "cannot read the identity provider's token answer");
                refusal("The identity provider's answer cannot be read")
            })?;
        let answer: Map<String, Value> = serde_json::from_slice(&body).unwrap_or_default();
        if !status.is_success() {
            tracing::warn!(
                %status,
                error = %text(&answer, "error").unwrap_or(""),
                "the identity provider refused to exchange a sign-in code"
            );
            return Err(refusal(
                "The identity provider refused the sign-in code: start again",
            ));
        }
        text(&answer, "id_token")
            .map(str::to_string)
            .ok_or_else(|| {
                refusal("The identity provider sent no ID token (is the openid scope allowed?)")
            })
    }

    /// Checks an ID token; its claims.
    async fn check_id_token(
        &self,
        token: &str,
        nonce: &str,
        now: i64,
    ) -> Result<Map<String, Value>, Refusal> {
        let bad = |why: &str| {
            tracing::warn!(why, "the identity provider's ID token was refused");
            refusal("The identity provider's ID token is not valid")
        };
        let header = jsonwebtoken::decode_header(token).map_err(|_| bad("malformed"))?;
        if !asymmetric(header.alg) {
            return Err(bad("a symmetric or unknown algorithm"));
        }
        let key = match self
            .bearer
            .keys()
            .key_for(header.kid.as_deref(), header.alg)
            .await
        {
            Ok(key) => key,
            Err(KeyRefusal::Unknown) => return Err(bad("signed with an unknown key")),
            Err(KeyRefusal::Unavailable(_)) => {
                return Err(refusal(
                    "The identity provider cannot be reached; try again later",
                ));
            }
        };
        let issuer = self.bearer.issuer();
        let mut validation = Validation::new(header.alg);
        validation.set_issuer(&[issuer, &format!("{issuer}/")]);
        validation.set_audience(&[&self.client_id]);
        validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|_| bad("signature, issuer or audience"))?
            .claims;
        let skew = self.bearer.skew();
        if seconds(&claims, "exp").is_none_or(|exp| exp.saturating_add(skew) <= now) {
            return Err(bad("expired"));
        }
        if seconds(&claims, "nbf").is_some_and(|nbf| nbf.saturating_sub(skew) > now)
            || seconds(&claims, "iat").is_some_and(|iat| iat.saturating_sub(skew) > now)
        {
            return Err(bad("not valid yet, or issued in the future"));
        }
        // Issued to this client: its `azp` when it names one, and it must name one
        // when the token has several audiences.
        let several = claims
            .get("aud")
            .and_then(Value::as_array)
            .is_some_and(|a| a.len() > 1);
        match text(&claims, "azp") {
            Some(azp) if azp != self.client_id => return Err(bad("issued to another client")),
            None if several => return Err(bad("several audiences and no azp")),
            _ => {}
        }
        let expected = self.signer.hash(nonce);
        let nonce_matches =
            text(&claims, "nonce").is_some_and(|n| self.signer.verify(n, &expected));
        if !nonce_matches {
            return Err(bad("its nonce is not this sign-in's"));
        }
        Ok(claims)
    }
}

/// The signed cookie value of a pending sign-in.
fn seal(signer: &SecretHasher, pending: &Pending) -> Result<String, Refusal> {
    let json = serde_json::to_vec(pending).map_err(|_| refusal("Cannot start the sign-in"))?;
    let body = URL_SAFE_NO_PAD.encode(json);
    let tag = signer.hash(&body);
    Ok(format!("{body}.{tag}"))
}

/// A pending sign-in from its cookie value, if this server signed it.
fn open(signer: &SecretHasher, value: &str) -> Option<Pending> {
    if value.len() > 2 * MAX_PARAM {
        return None;
    }
    let (body, tag) = value.rsplit_once('.')?;
    if !signer.verify(body, tag) {
        return None;
    }
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(body).ok()?).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use podium_core::security::crypto::MasterKey;

    #[test]
    fn pending_sign_ins_open_only_as_sealed() {
        let master = MasterKey::from_bytes(&[3u8; 32]).expect("key");
        let signer = SecretHasher::for_purpose(&master, "test");
        let other = SecretHasher::for_purpose(&master, "other");
        let pending = Pending {
            state: "s".into(),
            nonce: "n".into(),
            verifier: "v".into(),
            exp: 100,
        };
        let sealed = seal(&signer, &pending).expect("sealed");
        let opened = open(&signer, &sealed).expect("opens");
        assert!(open(&other, &sealed).is_none());
        assert_eq!((opened.state.as_str(), opened.exp), ("s", 100));
        // A changed body or tag does not open.
        let (body, tag) = sealed.rsplit_once('.').expect("two parts");
        let forged =
            URL_SAFE_NO_PAD.encode(br#"{"state":"s","nonce":"n","verifier":"v","exp":999}"#);
        assert!(open(&signer, &format!("{forged}.{tag}")).is_none());
        assert!(open(&signer, &format!("{body}.{}", "0".repeat(64))).is_none());
        assert!(open(&signer, "junk").is_none());
    }
}
