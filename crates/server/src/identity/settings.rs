//! The `[ldap]` and `[oidc]` settings (the names Operate gives them, in snake case),
//! and how the `PODIUM_LDAP_*` and `PODIUM_OIDC_*` environment variables set them.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::config::{ConfigError, SecretValue};

/// How people sign in through an LDAP directory or Active Directory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LdapSettings {
    /// `ldap://host:389` or `ldaps://host:636`.
    pub url: String,
    /// Upgrade an `ldap://` connection with StartTLS before anything is sent.
    pub starttls: bool,
    /// Allow a plain `ldap://` connection without StartTLS to a host that is not
    /// this machine: passwords then cross the network in clear.
    pub allow_plaintext: bool,
    /// Certificates (PEM) to trust for the directory besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The base every other DN is relative to (`dc=example,dc=org`). With `domain`
    /// and no base, the `dc=` parts of the domain.
    pub base_dn: String,
    /// The account searches are made as (relative to `base_dn`, or a full DN
    /// ending in it); none searches anonymously.
    pub manager_dn: Option<String>,
    /// Its password. Never printed.
    pub manager_password: Option<SecretValue>,
    /// Where people are searched for, relative to `base_dn` (empty: the base).
    pub user_search_base: String,
    /// The filter that finds a person; `{0}` is the name they typed (escaped).
    /// Default `(uid={0})`, with `domain` `(&(objectClass=user)(userPrincipalName={0}))`
    /// where `{0}` is `name@domain` and `{1}` the name typed.
    pub user_search_filter: Option<String>,
    /// DNs tried first, relative to `base_dn`; `{0}` is the name typed (escaped).
    pub user_dn_patterns: Vec<String>,
    /// The attribute that holds the Podium user id. Default `uid`, with `domain`
    /// `sAMAccountName`.
    pub user_id_attr: Option<String>,
    /// The attribute that holds the name to show.
    pub display_name_attr: String,
    /// Where groups are searched for, relative to `base_dn` (empty: the base).
    /// With `domain`, groups are the person's `memberOf` values instead.
    pub group_search_base: String,
    /// The filter that finds a person's groups; `{0}` is their DN, `{1}` the name
    /// typed (both escaped).
    pub group_search_filter: String,
    /// Directory groups (cn or DN) to Podium group ids.
    pub group_mapping: BTreeMap<String, String>,
    /// A directory group with no entry in `group_mapping` maps to the Podium group
    /// of the same name, if there is one.
    pub map_unlisted_groups: bool,
    /// The Active Directory domain: people bind as `name@domain`.
    pub domain: Option<String>,
    /// Longest wait for the directory, for a connection and for each operation,
    /// in milliseconds.
    pub timeout_ms: u64,
}

impl Default for LdapSettings {
    fn default() -> Self {
        LdapSettings {
            url: String::new(),
            starttls: false,
            allow_plaintext: false,
            ca_file: None,
            base_dn: String::new(),
            manager_dn: None,
            manager_password: None,
            user_search_base: String::new(),
            user_search_filter: None,
            user_dn_patterns: Vec::new(),
            user_id_attr: None,
            display_name_attr: "displayName".into(),
            group_search_base: String::new(),
            group_search_filter: "(member={0})".into(),
            group_mapping: BTreeMap::new(),
            map_unlisted_groups: true,
            domain: None,
            timeout_ms: 5000,
        }
    }
}

impl LdapSettings {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |what: &str| Err(ConfigError::Invalid(format!("ldap: {what}")));
        let url = self.url.trim();
        let secure = url.starts_with("ldaps://");
        if !(secure || url.starts_with("ldap://")) {
            return invalid("url must start with ldap:// or ldaps://");
        }
        if secure && self.starttls {
            return invalid("starttls is for ldap:// URLs; an ldaps:// connection is TLS already");
        }
        if !secure
            && !self.starttls
            && !self.allow_plaintext
            && !url.strip_prefix("ldap://").is_some_and(is_loopback_host)
        {
            return invalid(
                "a plain ldap:// connection sends passwords in clear: use ldaps://, starttls = true, or allow_plaintext = true",
            );
        }
        if self.domain.is_none() && self.base_dn.trim().is_empty() {
            return invalid("base_dn is required (or domain, for Active Directory)");
        }
        if self.manager_dn.is_some() != self.manager_password.is_some() {
            return invalid("manager_dn and manager_password must be given together");
        }
        if self
            .manager_password
            .as_ref()
            .is_some_and(|p| p.expose().is_empty())
        {
            return invalid(
                "manager_password must not be empty (an empty password is an anonymous bind)",
            );
        }
        let filters = self
            .user_search_filter
            .iter()
            .chain(std::iter::once(&self.group_search_filter));
        for filter in filters {
            if !(filter.trim().starts_with('(') && filter.trim().ends_with(')')) {
                return invalid("search filters must be in parentheses, as (uid={0})");
            }
        }
        for pattern in &self.user_dn_patterns {
            if !pattern.contains("{0}") {
                return invalid("each of user_dn_patterns must hold {0}, as uid={0},ou=people");
            }
        }
        if self
            .domain
            .as_deref()
            .is_some_and(|d| d.trim().is_empty() || d.contains('@'))
        {
            return invalid("domain must be a DNS domain, as example.org");
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return invalid("timeout_ms must be from 1 to 60000");
        }
        for (group, podium) in &self.group_mapping {
            if group.trim().is_empty() || podium.trim().is_empty() {
                return invalid("group_mapping entries need a directory group and a Podium group");
            }
        }
        Ok(())
    }
}

/// How any API call may carry an access token of an OpenID Connect provider.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct OidcSettings {
    /// The provider's issuer (`https://login.example.org/realms/acme`): tokens must
    /// name it in `iss`, and its discovery document is read from
    /// `<issuer_url>/.well-known/openid-configuration`.
    pub issuer_url: String,
    /// The audience tokens must name in `aud` (the API's, not the browser client's).
    pub audience: String,
    /// Where the signing keys are, when not the discovery document's `jwks_uri`.
    pub jwks_uri: Option<String>,
    /// The client Podium's browser sign-in uses.
    pub client_id: Option<String>,
    /// Its secret. Never printed.
    pub client_secret: Option<SecretValue>,
    /// The root URL the provider sends browsers back to, at
    /// `<redirect_root_url>/login/oidc/callback`. With `client_id`, the login page
    /// offers "Sign in with <display_name>".
    pub redirect_root_url: Option<String>,
    /// The scopes the browser sign-in asks for (space-separated); `openid` is
    /// required.
    pub scopes: String,
    /// The provider's name on the login page (default: the issuer's host).
    pub display_name: Option<String>,
    /// The claim that holds the Podium user id.
    pub user_id_claim: String,
    /// The claim that holds the name to show.
    pub display_name_claim: String,
    /// The claim that holds the person's groups (a list of names).
    pub groups_claim: String,
    /// Provider groups to Podium group ids.
    pub group_mapping: BTreeMap<String, String>,
    /// A provider group with no entry in `group_mapping` maps to the Podium group
    /// of the same name, if there is one.
    pub map_unlisted_groups: bool,
    /// Certificates (PEM) to trust for the provider besides the system's.
    pub ca_file: Option<PathBuf>,
    /// Longest wait for the provider (discovery, keys), in milliseconds.
    pub timeout_ms: u64,
    /// How far the provider's clock may be from Podium's, in seconds, for `exp`
    /// and `nbf`.
    pub clock_skew_seconds: u64,
}

impl Default for OidcSettings {
    fn default() -> Self {
        OidcSettings {
            issuer_url: String::new(),
            audience: String::new(),
            jwks_uri: None,
            client_id: None,
            client_secret: None,
            redirect_root_url: None,
            scopes: "openid profile".into(),
            display_name: None,
            user_id_claim: "sub".into(),
            display_name_claim: "name".into(),
            groups_claim: "groups".into(),
            group_mapping: BTreeMap::new(),
            map_unlisted_groups: true,
            ca_file: None,
            timeout_ms: 5000,
            clock_skew_seconds: 30,
        }
    }
}

/// Whether `url` may be used to reach the provider: `https://`, or `http://` to a
/// loopback address only (a provider on the same machine, in tests).
pub fn secure_or_loopback(url: &str) -> bool {
    if url.starts_with("https://") {
        return true;
    }
    url.strip_prefix("http://").is_some_and(is_loopback_host)
}

/// Whether the host of a URL's remainder after `scheme://` is this machine.
fn is_loopback_host(rest: &str) -> bool {
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    // `user@host` would be read as the host after the `@`: never a loopback one.
    if host.contains('@') {
        return false;
    }
    let host = match host.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host.rsplit_once(':').map_or(host, |(h, _)| h),
    };
    host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl OidcSettings {
    /// Checks values that parse but cannot work.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |what: &str| Err(ConfigError::Invalid(format!("oidc: {what}")));
        if !secure_or_loopback(self.issuer_url.trim()) {
            return invalid(
                "issuer_url must be an https:// URL (http:// only to a loopback address)",
            );
        }
        if self.audience.trim().is_empty() {
            return invalid(
                "audience is required: the audience the provider puts in tokens for Podium's API",
            );
        }
        if let Some(uri) = &self.jwks_uri
            && !secure_or_loopback(uri.trim())
        {
            return invalid(
                "jwks_uri must be an https:// URL (http:// only to a loopback address)",
            );
        }
        for (name, claim) in [
            ("user_id_claim", &self.user_id_claim),
            ("display_name_claim", &self.display_name_claim),
            ("groups_claim", &self.groups_claim),
        ] {
            if claim.trim().is_empty() {
                return invalid(&format!("{name} must name a claim"));
            }
        }
        if !(1..=60_000).contains(&self.timeout_ms) {
            return invalid("timeout_ms must be from 1 to 60000");
        }
        if !self.scopes.split_whitespace().any(|s| s == "openid") {
            return invalid("scopes must include openid");
        }
        if let Some(root) = &self.redirect_root_url
            && !secure_or_loopback(root.trim())
        {
            return invalid(
                "redirect_root_url must be an https:// URL (http:// only to a loopback address)",
            );
        }
        if self.redirect_root_url.is_some() != self.client_id.is_some() {
            return invalid(
                "client_id and redirect_root_url are given together (for the browser sign-in), or neither",
            );
        }
        if self.clock_skew_seconds > 600 {
            return invalid("clock_skew_seconds must be at most 600");
        }
        Ok(())
    }
}

/// The settings of `[oidc]` that `PODIUM_OIDC_<NAME>` sets.
const OIDC_ENV: &[(&str, EnvValue)] = &[
    ("issuer_url", EnvValue::Text),
    ("audience", EnvValue::Text),
    ("jwks_uri", EnvValue::Text),
    ("client_id", EnvValue::Text),
    ("client_secret", EnvValue::Text),
    ("redirect_root_url", EnvValue::Text),
    ("scopes", EnvValue::Text),
    ("display_name", EnvValue::Text),
    ("user_id_claim", EnvValue::Text),
    ("display_name_claim", EnvValue::Text),
    ("groups_claim", EnvValue::Text),
    ("map_unlisted_groups", EnvValue::Parsed),
    ("ca_file", EnvValue::Text),
    ("timeout_ms", EnvValue::Parsed),
    ("clock_skew_seconds", EnvValue::Parsed),
];

/// The sections whose settings the environment may set, as `PODIUM_<SECTION>_<NAME>`.
const SECTIONS: &[(&str, &[(&str, EnvValue)])] = &[("ldap", LDAP_ENV), ("oidc", OIDC_ENV)];

/// The settings of `[ldap]` that `PODIUM_LDAP_<NAME>` sets, and how its value reads.
const LDAP_ENV: &[(&str, EnvValue)] = &[
    ("url", EnvValue::Text),
    ("starttls", EnvValue::Parsed),
    ("allow_plaintext", EnvValue::Parsed),
    ("ca_file", EnvValue::Text),
    ("base_dn", EnvValue::Text),
    ("manager_dn", EnvValue::Text),
    ("manager_password", EnvValue::Text),
    ("user_search_base", EnvValue::Text),
    ("user_search_filter", EnvValue::Text),
    ("user_dn_patterns", EnvValue::Semicolons),
    ("user_id_attr", EnvValue::Text),
    ("display_name_attr", EnvValue::Text),
    ("group_search_base", EnvValue::Text),
    ("group_search_filter", EnvValue::Text),
    ("map_unlisted_groups", EnvValue::Parsed),
    ("domain", EnvValue::Text),
    ("timeout_ms", EnvValue::Parsed),
];

/// How an environment value becomes a setting.
#[derive(Clone, Copy)]
enum EnvValue {
    /// As it is.
    Text,
    /// A number or a boolean.
    Parsed,
    /// A `;`-separated list (DNs hold commas).
    Semicolons,
}

/// The section settings the environment may set, as (section, name), for listing.
pub fn env_names() -> impl Iterator<Item = (&'static str, &'static str)> {
    SECTIONS
        .iter()
        .flat_map(|(section, names)| names.iter().map(move |(name, _)| (*section, *name)))
}

/// For a `PODIUM_` variable's lower-case name, the section and setting it sets and
/// its value; none when it is not a section's.
pub fn from_env(
    field: &str,
    value: &str,
) -> Option<(&'static str, &'static str, figment::value::Value)> {
    let (section, name, kind) = SECTIONS.iter().find_map(|(section, names)| {
        let name = field.strip_prefix(section)?.strip_prefix('_')?;
        names
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(n, kind)| (*section, *n, *kind))
    })?;
    let value = match kind {
        EnvValue::Text => figment::value::Value::from(value.to_string()),
        EnvValue::Parsed => value
            .parse::<figment::value::Value>()
            .unwrap_or_else(|never| match never {}),
        EnvValue::Semicolons => figment::value::Value::from(
            value
                .split(';')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_string)
                .collect::<Vec<String>>(),
        ),
    };
    Some((section, name, value))
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, ServeArgs};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn the_environment_and_the_file_set_the_ldap_section() {
        let dir = tempfile::tempdir().expect("dir");
        let file = dir.path().join("podium.toml");
        std::fs::write(
            &file,
            "[ldap]\nurl = \"ldaps://ldap.example.org\"\nbase_dn = \"dc=example,dc=org\"\n\
             [ldap.group_mapping]\n\"cn=ops,ou=groups,dc=example,dc=org\" = \"operators\"\n",
        )
        .expect("write");
        let args = ServeArgs {
            config: Some(file),
            ..ServeArgs::default()
        };
        let config = Config::load(
            &args,
            &env(&[
                ("PODIUM_LDAP_MANAGER_DN", "cn=admin"),
                ("PODIUM_LDAP_MANAGER_PASSWORD", "hunter2-manager"),
                (
                    "PODIUM_LDAP_USER_DN_PATTERNS",
                    "uid={0},ou=people; uid={0},ou=staff",
                ),
                ("PODIUM_LDAP_TIMEOUT_MS", "1500"),
            ]),
        )
        .expect("load");
        let ldap = config.ldap.as_ref().expect("ldap");
        assert_eq!(ldap.url, "ldaps://ldap.example.org");
        assert_eq!(ldap.manager_dn.as_deref(), Some("cn=admin"));
        assert_eq!(
            ldap.user_dn_patterns,
            ["uid={0},ou=people", "uid={0},ou=staff"]
        );
        assert_eq!(ldap.timeout_ms, 1500);
        assert_eq!(ldap.group_mapping.len(), 1);
        assert!(!format!("{config:?}").contains("hunter2"));
    }

    #[test]
    fn settings_that_cannot_work_are_refused_with_the_reason() {
        for (pairs, says) in [
            (vec![("PODIUM_LDAP_URL", "http://x")], "ldap:// or ldaps://"),
            (
                vec![("PODIUM_LDAP_URL", "ldap://127.0.0.1")],
                "base_dn is required",
            ),
            (
                vec![
                    ("PODIUM_LDAP_URL", "ldap://ldap.example.org"),
                    ("PODIUM_LDAP_BASE_DN", "dc=x"),
                ],
                "in clear",
            ),
            (
                vec![
                    ("PODIUM_LDAP_URL", "ldaps://x"),
                    ("PODIUM_LDAP_BASE_DN", "dc=x"),
                    ("PODIUM_LDAP_STARTTLS", "true"),
                ],
                "starttls",
            ),
            (
                vec![
                    ("PODIUM_LDAP_URL", "ldap://x"),
                    ("PODIUM_LDAP_STARTTLS", "true"),
                    ("PODIUM_LDAP_BASE_DN", "dc=x"),
                    ("PODIUM_LDAP_MANAGER_DN", "cn=admin"),
                ],
                "together",
            ),
            (
                vec![
                    ("PODIUM_LDAP_URL", "ldap://x"),
                    ("PODIUM_LDAP_ALLOW_PLAINTEXT", "true"),
                    ("PODIUM_LDAP_BASE_DN", "dc=x"),
                    ("PODIUM_LDAP_USER_SEARCH_FILTER", "uid={0}"),
                ],
                "parentheses",
            ),
            (vec![("PODIUM_LDAP_NOPE", "1")], "PODIUM_LDAP_URL"),
        ] {
            let err = Config::load(&ServeArgs::default(), &env(&pairs))
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains(says), "{pairs:?}: {err}");
        }
    }
}
