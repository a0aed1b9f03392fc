//! Access tokens of an OpenID Connect provider, accepted on any API call as
//! `Authorization: Bearer` (or `X-Authorization`). A token is checked once: its
//! signature against the provider's keys ([`super::jwks`]), its issuer, audience,
//! expiry and not-before, and an algorithm that is asymmetric and one the provider
//! uses (never `none` or HS*). Then it is remembered by its SHA-256 until it
//! expires, like Podium's own tokens, and every request resolves who it speaks for
//! as the directory knows them now.
//!
//! A token of the client credentials grant speaks for the Podium application named
//! by its client id; any other speaks for a person, whose user record (name,
//! groups mapped from the groups claim) is brought up to date when a new token of
//! theirs is first seen.

use std::sync::Arc;

use jsonwebtoken::{Algorithm, Validation};
use podium_core::error::CoreError;
use podium_core::security::external::{ExternalGroup, ExternalIdentity, GroupMapping};
use podium_core::security::model::IdentitySource;
use podium_core::security::token::{Expiring, TokenError, VerifiedTokens};
use podium_core::security::{ExternalSubject, Principal, invalid_token, principal_for_external};
use podium_core::service::Runtime;
use podium_core::service::directory_sign_in::{ExternalUser, refresh_external_user};
use serde_json::{Map, Value};

use super::jwks::{KeyRefusal, ProviderKeys};
use super::settings::OidcSettings;

/// Most groups read from one token, and the longest group name kept.
const MAX_GROUPS: usize = 1000;
const MAX_GROUP_NAME: usize = 256;

/// Who a verified token speaks for, until when.
#[derive(Debug)]
struct Verified {
    subject: ExternalSubject,
    exp: i64,
}

impl Expiring for Verified {
    fn expires_at(&self) -> i64 {
        self.exp
    }
}

/// The claims that name a person.
#[derive(Debug, Clone)]
struct ClaimNames {
    user_id: String,
    display_name: String,
    groups: String,
}

/// Checks a provider's access tokens and says who they speak for.
pub struct OidcBearer {
    rt: Arc<Runtime>,
    issuer: String,
    audience: String,
    claims: ClaimNames,
    mapping: GroupMapping,
    skew: i64,
    keys: Arc<ProviderKeys>,
    verified: VerifiedTokens<Verified>,
}

impl std::fmt::Debug for OidcBearer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OidcBearer")
            .field("issuer", &self.issuer)
            .field("audience", &self.audience)
            .finish_non_exhaustive()
    }
}

fn expired() -> CoreError {
    CoreError::Unauthenticated {
        code: "EXPIRED_TOKEN",
        message: "The token has expired: get a new one from the identity provider".into(),
    }
}

fn refused() -> CoreError {
    invalid_token("Invalid token: not a valid access token of this server's identity provider")
}

/// The text of a claim, when it is a non-empty string.
pub(super) fn text<'c>(claims: &'c Map<String, Value>, name: &str) -> Option<&'c str> {
    claims
        .get(name)
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
}

/// A time claim in seconds.
pub(super) fn seconds(claims: &Map<String, Value>, name: &str) -> Option<i64> {
    claims.get(name).and_then(|v| {
        v.as_i64()
            .or_else(|| v.as_f64().filter(|f| f.is_finite()).map(|f| f as i64))
    })
}

/// The client a token of the client credentials grant was issued to: its subject
/// is the client itself (`sub` equal to `client_id` or `azp`), or the provider
/// says so (`gty`, as Auth0 does).
fn client_of(claims: &Map<String, Value>) -> Option<&str> {
    let client = text(claims, "client_id").or_else(|| text(claims, "azp"))?;
    let own_subject = text(claims, "sub") == Some(client);
    let says_so = text(claims, "gty") == Some("client-credentials");
    (own_subject || says_so).then_some(client)
}

/// The groups claim: a list of names (or one name).
fn groups_of(claims: &Map<String, Value>, name: &str) -> Vec<ExternalGroup> {
    let names: Vec<&str> = match claims.get(name) {
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).collect(),
        Some(Value::String(one)) => vec![one.as_str()],
        _ => Vec::new(),
    };
    names
        .into_iter()
        .filter(|n| !n.is_empty() && n.len() <= MAX_GROUP_NAME)
        .take(MAX_GROUPS)
        .map(|n| ExternalGroup {
            dn: None,
            name: n.to_string(),
        })
        .collect()
}

impl OidcBearer {
    /// The verifier `settings` (validated) configure; keys are fetched when the
    /// first token needs them.
    pub fn new(settings: &OidcSettings, rt: Arc<Runtime>) -> Result<OidcBearer, String> {
        let issuer = settings.issuer_url.trim().trim_end_matches('/').to_string();
        Ok(OidcBearer {
            rt,
            keys: Arc::new(ProviderKeys::new(&issuer, settings)?),
            issuer,
            audience: settings.audience.trim().to_string(),
            claims: ClaimNames {
                user_id: settings.user_id_claim.trim().to_string(),
                display_name: settings.display_name_claim.trim().to_string(),
                groups: settings.groups_claim.trim().to_string(),
            },
            mapping: GroupMapping::new(&settings.group_mapping, settings.map_unlisted_groups),
            skew: i64::try_from(settings.clock_skew_seconds).unwrap_or(600),
            verified: VerifiedTokens::default(),
        })
    }

    /// The principal `token` speaks for, checking it when it is new.
    pub async fn authenticate(&self, token: &str) -> Result<Principal, CoreError> {
        let rt = &self.rt;
        let now = rt.now() / 1000;
        let verified = match self.verified.lookup(token, now) {
            Some(Ok(verified)) => verified,
            Some(Err(TokenError::Expired)) => return Err(expired()),
            Some(Err(TokenError::Invalid)) => return Err(refused()),
            None => {
                let verified = self.verify(rt, token, now).await?;
                self.verified.remember(token, verified, now)
            }
        };
        let directory = rt.directory().read();
        principal_for_external(&directory, &verified.subject)
    }

    /// Checks a token never seen before, and brings its person's record up to date.
    async fn verify(&self, rt: &Runtime, token: &str, now: i64) -> Result<Verified, CoreError> {
        let header = jsonwebtoken::decode_header(token).map_err(|_| refused())?;
        let alg = header.alg;
        if !asymmetric(alg) {
            tracing::info!(
                ?alg,
                "an identity provider token with a symmetric algorithm was refused"
            );
            return Err(refused());
        }
        let key = match self.keys.key_for(header.kid.as_deref(), alg).await {
            Ok(key) => key,
            Err(KeyRefusal::Unknown) => return Err(refused()),
            Err(KeyRefusal::Unavailable(why)) => {
                if !why.is_empty() {
                    tracing::warn!(error = %why, "could not read the identity provider's signing keys");
                }
                return Err(CoreError::Unavailable(
                    "The identity provider could not be reached to check the token; try again later"
                        .into(),
                ));
            }
        };
        let mut validation = Validation::new(alg);
        validation.set_issuer(&[&self.issuer, &format!("{}/", self.issuer)]);
        validation.set_audience(&[&self.audience]);
        validation.set_required_spec_claims(&["exp", "iss", "aud"]);
        // Times are checked below against Podium's clock.
        validation.validate_exp = false;
        validation.validate_nbf = false;
        validation.leeway = 0;
        let claims = jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation)
            .map_err(|err| {
                tracing::debug!(error = %err, "an identity provider token was refused");
                refused()
            })?
            .claims;
        let exp = seconds(&claims, "exp").ok_or_else(refused)?;
        // Remembered until the skew after `exp` too, as it is checked here.
        let exp = exp.saturating_add(self.skew);
        if exp <= now {
            return Err(expired());
        }
        if seconds(&claims, "nbf").is_some_and(|nbf| nbf.saturating_sub(self.skew) > now) {
            return Err(invalid_token("Invalid token: it is not valid yet"));
        }
        if let Some(client) = client_of(&claims) {
            let id = podium_core::security::application_for_client(&rt.directory().read(), client)
                .ok()
                .map(|a| a.id.clone());
            return Ok(Verified {
                subject: ExternalSubject::Application {
                    name: client.to_string(),
                    id,
                },
                exp,
            });
        }
        let (identity, _) = self.person(&claims).await?;
        Ok(Verified {
            subject: ExternalSubject::User {
                id: identity.id,
                source: IdentitySource::Oidc,
                key: identity.key,
            },
            exp,
        })
    }

    /// The person verified claims name (an access token's, or an ID token's at the
    /// browser sign-in), their user record brought up to date: the identity and
    /// the user's token version.
    pub async fn person(
        &self,
        claims: &Map<String, Value>,
    ) -> Result<(ExternalIdentity, i64), CoreError> {
        let id = text(claims, &self.claims.user_id)
            .ok_or_else(|| {
                invalid_token(format!(
                    "Invalid token: it has no {} claim to name its user",
                    self.claims.user_id
                ))
            })?
            .to_string();
        // An address the provider says it has not verified names nobody.
        if self.claims.user_id == "email"
            && claims.get("email_verified") == Some(&Value::Bool(false))
        {
            return Err(invalid_token(
                "Invalid token: its email address is not verified by the identity provider",
            ));
        }
        // The user is bound to the token's subject: a token with another subject
        // whose user id claim names the same id is refused.
        let key = text(claims, "sub").unwrap_or(&id).to_string();
        let identity = ExternalIdentity {
            key,
            display_name: text(claims, &self.claims.display_name).map(str::to_string),
            groups: groups_of(claims, &self.claims.groups),
            id,
        };
        match refresh_external_user(&self.rt, IdentitySource::Oidc, &identity, &self.mapping)
            .await?
        {
            ExternalUser::Version(version) => Ok((identity, version)),
            ExternalUser::Refused(why) => {
                tracing::warn!(user = %identity.id, "an identity provider token was refused: {why}");
                Err(invalid_token(
                    "Invalid token: its user cannot sign in to Podium through the identity provider",
                ))
            }
        }
    }

    /// The provider's keys and endpoints.
    pub fn keys(&self) -> &Arc<ProviderKeys> {
        &self.keys
    }

    /// The issuer, without a trailing `/`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// How far the provider's clock may be off, in seconds.
    pub fn skew(&self) -> i64 {
        self.skew
    }
}

/// Whether `alg` is one Podium checks provider tokens with: asymmetric, never
/// `none` or a shared secret.
pub fn asymmetric(alg: Algorithm) -> bool {
    matches!(
        alg,
        Algorithm::RS256
            | Algorithm::RS384
            | Algorithm::RS512
            | Algorithm::PS256
            | Algorithm::PS384
            | Algorithm::PS512
            | Algorithm::ES256
            | Algorithm::ES384
            | Algorithm::EdDSA
    )
}

/// The verifier `[oidc]` configures, shared by every request.
pub fn bearer(settings: &OidcSettings, rt: Arc<Runtime>) -> Result<Arc<OidcBearer>, String> {
    OidcBearer::new(settings, rt).map(Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn map(value: Value) -> Map<String, Value> {
        value.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn client_credentials_tokens_are_told_from_people() {
        let machine = map(json!({"sub": "podium-m2m", "client_id": "podium-m2m"}));
        assert_eq!(client_of(&machine), Some("podium-m2m"));
        let auth0 = map(json!({"sub": "x@clients", "azp": "abc", "gty": "client-credentials"}));
        assert_eq!(client_of(&auth0), Some("abc"));
        let person = map(json!({"sub": "alice", "client_id": "podium-web"}));
        assert_eq!(client_of(&person), None);
        let groups = groups_of(&map(json!({"groups": ["a", "", 7, "b"]})), "groups");
        assert_eq!(
            groups.iter().map(|g| g.name.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(
            groups_of(&map(json!({"groups": "solo"})), "groups").len(),
            1
        );
        assert_eq!(
            seconds(&map(json!({"exp": 1.5e9})), "exp"),
            Some(1_500_000_000)
        );
    }
}
