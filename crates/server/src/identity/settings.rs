//! The `[ldap]` settings (the names Operate gives them, in snake case), and how the
//! `PODIUM_LDAP_*` environment variables set them.

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

/// The settings of `[ldap]` that `PODIUM_LDAP_<NAME>` sets, and how its value reads.
const LDAP_ENV: &[(&str, EnvValue)] = &[
    ("url", EnvValue::Text),
    ("starttls", EnvValue::Parsed),
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

/// The names of the section settings the environment may set, for listing.
pub fn env_names() -> impl Iterator<Item = String> {
    LDAP_ENV.iter().map(|(name, _)| format!("ldap_{name}"))
}

/// For a `PODIUM_` variable's lower-case name, the section and setting it sets and
/// its value; none when it is not a section's.
pub fn from_env(
    field: &str,
    value: &str,
) -> Option<(&'static str, &'static str, figment::value::Value)> {
    let name = field.strip_prefix("ldap_")?;
    let (name, kind) = LDAP_ENV.iter().find(|(n, _)| *n == name)?;
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
    Some(("ldap", name, value))
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
            (vec![("PODIUM_LDAP_URL", "ldap://x")], "base_dn is required"),
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
                    ("PODIUM_LDAP_BASE_DN", "dc=x"),
                    ("PODIUM_LDAP_MANAGER_DN", "cn=admin"),
                ],
                "together",
            ),
            (
                vec![
                    ("PODIUM_LDAP_URL", "ldap://x"),
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
