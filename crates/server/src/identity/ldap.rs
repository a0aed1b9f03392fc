//! The LDAP client behind directory sign-in. For an LDAP directory it takes the steps
//! Operate's (Spring's) bind authenticator takes: each DN pattern is tried with a
//! bind, then a search made as the manager finds the one entry the filter names and
//! a bind as that entry checks the password; groups come from a group search. With
//! `domain` set it does what Active Directory expects: a bind as `name@domain`, a
//! search made as the person, groups from `memberOf`, and AD's sub-codes read.
//!
//! What the person typed is escaped wherever it goes: as a DN value in patterns, as
//! a filter value in filters. Empty passwords are refused before any bind (many
//! directories take a DN with no password as an anonymous bind that succeeds).

use std::sync::Arc;
use std::time::Duration;

use ldap3::{Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry, SearchOptions};
use podium_core::security::external::{
    ExternalGroup, ExternalIdentity, ExternalRefusal, PasswordDirectory,
};
use podium_core::security::model::IdentitySource;

use super::settings::LdapSettings;

/// Longest name and password a person may type.
const MAX_NAME: usize = 256;
const MAX_PASSWORD: usize = 1024;
/// Most groups read for one person.
const MAX_GROUPS: i32 = 1000;

/// An LDAP directory or Active Directory that checks passwords.
pub struct LdapDirectory {
    url: String,
    starttls: bool,
    tls: Arc<rustls::ClientConfig>,
    base_dn: String,
    manager: Option<(String, String)>,
    user_search_base: String,
    user_search_filter: Option<String>,
    user_dn_patterns: Vec<String>,
    user_id_attr: String,
    display_name_attr: String,
    group_search_base: String,
    group_search_filter: String,
    domain: Option<String>,
    timeout: Duration,
    /// Sign-ins in progress at once: each holds up to three connections.
    in_progress: tokio::sync::Semaphore,
}

/// Most sign-ins that talk to the directory at once; more wait their turn.
const MOST_AT_ONCE: usize = 16;

impl std::fmt::Debug for LdapDirectory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LdapDirectory")
            .field("url", &self.url)
            .field("base_dn", &self.base_dn)
            .field("domain", &self.domain)
            .finish_non_exhaustive()
    }
}

/// `relative` under `base`: the base itself when empty, as given when it already
/// ends with the base (a full DN), else the two joined.
fn under(base: &str, relative: &str) -> String {
    let relative = relative.trim();
    if relative.is_empty() {
        return base.to_string();
    }
    if base.is_empty() || relative.to_lowercase().ends_with(&base.to_lowercase()) {
        return relative.to_string();
    }
    format!("{relative},{base}")
}

/// `template` with `{0}` and `{1}` replaced, in one pass (a value holding `{1}` is
/// not replaced again).
fn fill(template: &str, values: [&str; 2]) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(at) = rest.find('{') {
        out.push_str(&rest[..at]);
        let tail = &rest[at..];
        if let Some(after) = tail.strip_prefix("{0}") {
            out.push_str(values[0]);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{1}") {
            out.push_str(values[1]);
            rest = after;
        } else {
            out.push('{');
            rest = &tail[1..];
        }
    }
    out.push_str(rest);
    out
}

/// `dc=example,dc=org` for `example.org`.
fn domain_dn(domain: &str) -> String {
    domain
        .split('.')
        .filter(|p| !p.is_empty())
        .map(|p| format!("dc={p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// What Active Directory's sub-code in a refused bind means (`data 775`), when it
/// is about the account rather than the password.
///
/// Only a locked account is told to the person signing in: AD answers 775 whatever
/// the password, while it answers the others (expired, disabled, must change) only
/// to the right password, so telling them would tell anyone who tries that they
/// guessed it. Those go to the log.
pub fn ad_account_problem(text: &str) -> Option<&'static str> {
    let code = text.split("data ").nth(1)?;
    let code: String = code.chars().take_while(char::is_ascii_hexdigit).collect();
    match code.to_ascii_lowercase().as_str() {
        "532" => Some("the password has expired; change it in the directory, then sign in again"),
        "533" => Some("the account is disabled"),
        "701" => Some("the account has expired"),
        "773" => Some("the password must be changed in the directory before signing in"),
        "775" => Some("the account is locked; try again later or ask an administrator"),
        _ => None,
    }
}

fn unavailable(what: &str, err: impl std::fmt::Display) -> ExternalRefusal {
    ExternalRefusal::Unavailable(format!("{what}: {err}"))
}

/// The first value of an attribute, its name compared in any case.
fn attribute<'e>(entry: &'e SearchEntry, name: &str) -> Option<&'e str> {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .and_then(|(_, v)| v.first())
        .map(String::as_str)
}

/// Every value of an attribute, its name compared in any case.
fn attributes<'e>(entry: &'e SearchEntry, name: &str) -> &'e [String] {
    entry
        .attrs
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case(name))
        .map(|(_, v)| v.as_slice())
        .unwrap_or(&[])
}

/// A group named by its DN: the DN, and the value of its first part as the name
/// (a name with escaped characters keeps its escapes, and maps only by its DN).
fn group_of_dn(dn: &str) -> ExternalGroup {
    let first = dn.split(',').next().unwrap_or(dn);
    let name = first.split_once('=').map(|(_, v)| v).unwrap_or(first);
    ExternalGroup {
        dn: Some(dn.to_string()),
        name: name.trim().to_string(),
    }
}

/// Search entries, decoded; a reply the decoder cannot read fails the sign-in
/// instead of the process.
fn entries(raw: Vec<ldap3::ResultEntry>) -> Result<Vec<SearchEntry>, ExternalRefusal> {
    raw.into_iter()
        .map(|entry| {
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                SearchEntry::construct(entry)
            }))
            .map_err(|_| {
                ExternalRefusal::Unavailable(
                    "the directory sent an entry that cannot be read".into(),
                )
            })
        })
        .collect()
}

impl LdapDirectory {
    /// The client for `settings` (validated), with `tls` for `ldaps://` and StartTLS.
    pub fn new(settings: &LdapSettings, tls: Arc<rustls::ClientConfig>) -> LdapDirectory {
        let domain = settings.domain.as_deref().map(|d| d.trim().to_lowercase());
        let base_dn = match (&domain, settings.base_dn.trim()) {
            (Some(domain), "") => domain_dn(domain),
            (_, base) => base.to_string(),
        };
        LdapDirectory {
            url: settings.url.trim().to_string(),
            starttls: settings.starttls,
            tls,
            manager: settings
                .manager_dn
                .as_deref()
                .zip(settings.manager_password.as_ref())
                .map(|(dn, pw)| (under(&base_dn, dn), pw.expose().to_string())),
            user_search_base: under(&base_dn, &settings.user_search_base),
            user_search_filter: settings.user_search_filter.clone(),
            user_dn_patterns: settings.user_dn_patterns.clone(),
            user_id_attr: settings.user_id_attr.clone().unwrap_or_else(|| {
                if domain.is_some() {
                    "sAMAccountName".into()
                } else {
                    "uid".into()
                }
            }),
            display_name_attr: settings.display_name_attr.clone(),
            group_search_base: under(&base_dn, &settings.group_search_base),
            group_search_filter: settings.group_search_filter.clone(),
            domain,
            base_dn,
            timeout: Duration::from_millis(settings.timeout_ms),
            in_progress: tokio::sync::Semaphore::new(MOST_AT_ONCE),
        }
    }

    /// A new connection, TLS as configured.
    async fn connect(&self) -> Result<Ldap, ExternalRefusal> {
        let settings = LdapConnSettings::new()
            .set_conn_timeout(self.timeout)
            .set_starttls(self.starttls)
            .set_config(self.tls.clone());
        let (conn, ldap) = LdapConnAsync::with_settings(settings, &self.url)
            .await
            .map_err(|e| unavailable("cannot connect to the directory", e))?;
        ldap3::drive!(conn);
        Ok(ldap)
    }

    /// Binds; `Ok(Err(text))` when the directory refused the credentials (with its
    /// diagnostic text, where Active Directory puts its sub-code).
    async fn bind(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        password: &str,
    ) -> Result<Result<(), String>, ExternalRefusal> {
        let result = ldap
            .with_timeout(self.timeout)
            .simple_bind(dn, password)
            .await
            .map_err(|e| unavailable("the directory did not answer a bind", e))?;
        match result.rc {
            0 => Ok(Ok(())),
            // invalidCredentials, invalidDNSyntax, unwillingToPerform, noSuchObject:
            // what a wrong or impossible name or password gets.
            49 | 34 | 53 | 32 => Ok(Err(result.text)),
            rc => Err(ExternalRefusal::Unavailable(format!(
                "the directory answered a bind with code {rc}: {}",
                result.text
            ))),
        }
    }

    /// Searches; at most `limit` entries (`None` when more matched and `exact`).
    async fn search(
        &self,
        ldap: &mut Ldap,
        (base, filter): (&str, &str),
        attrs: &[&str],
        (limit, exact): (i32, bool),
    ) -> Result<Option<Vec<SearchEntry>>, ExternalRefusal> {
        let result = ldap
            .with_timeout(self.timeout)
            .with_search_options(SearchOptions::new().sizelimit(limit))
            .search(base, Scope::Subtree, filter, attrs.to_vec())
            .await
            .map_err(|e| unavailable("the directory did not answer a search", e))?;
        let (raw, outcome) = (result.0, result.1);
        match outcome.rc {
            0 => Ok(Some(entries(raw)?)),
            // sizeLimitExceeded
            4 if exact => Ok(None),
            4 => Ok(Some(entries(raw)?)),
            // noSuchObject: the base does not exist.
            32 => {
                tracing::warn!(base, "the directory has no entry at this search base");
                Ok(Some(Vec::new()))
            }
            rc => Err(ExternalRefusal::Unavailable(format!(
                "the directory answered a search with code {rc}: {}",
                outcome.text
            ))),
        }
    }

    fn identity(
        &self,
        entry: &SearchEntry,
        groups: Vec<ExternalGroup>,
    ) -> Result<ExternalIdentity, ExternalRefusal> {
        let id = attribute(entry, &self.user_id_attr).ok_or_else(|| {
            ExternalRefusal::Unavailable(format!(
                "the person's entry has no {} attribute (user_id_attr)",
                self.user_id_attr
            ))
        })?;
        Ok(ExternalIdentity {
            id: id.to_string(),
            key: podium_core::security::external::normalize_dn(&entry.dn),
            display_name: attribute(entry, &self.display_name_attr).map(str::to_string),
            groups,
        })
    }

    /// The attributes read of a person's entry.
    fn person_attrs(&self) -> Vec<&str> {
        vec![
            self.user_id_attr.as_str(),
            self.display_name_attr.as_str(),
            "memberOf",
            "userPrincipalName",
            "sAMAccountName",
        ]
    }

    /// The groups the group search finds for the entry `dn`.
    async fn groups(
        &self,
        ldap: &mut Ldap,
        dn: &str,
        name: &str,
    ) -> Result<Vec<ExternalGroup>, ExternalRefusal> {
        let filter = fill(
            &self.group_search_filter,
            [&ldap3::ldap_escape(dn), &ldap3::ldap_escape(name)],
        );
        let found = self
            .search(
                ldap,
                (&self.group_search_base, &filter),
                &["cn"],
                (MAX_GROUPS, false),
            )
            .await?
            .unwrap_or_default();
        Ok(found
            .iter()
            .map(|g| match attribute(g, "cn") {
                Some(cn) => ExternalGroup {
                    dn: Some(g.dn.clone()),
                    name: cn.to_string(),
                },
                None => group_of_dn(&g.dn),
            })
            .collect())
    }

    /// The entry `dn`, read over `ldap`.
    async fn read_entry(&self, ldap: &mut Ldap, dn: &str) -> Result<SearchEntry, ExternalRefusal> {
        let result = ldap
            .with_timeout(self.timeout)
            .search(dn, Scope::Base, "(objectClass=*)", self.person_attrs())
            .await
            .map_err(|e| unavailable("the directory did not answer a read", e))?
            .success()
            .map_err(|e| unavailable("the directory refused to read the person's entry", e))?;
        entries(result.0)?
            .into_iter()
            .next()
            .ok_or_else(|| ExternalRefusal::Unavailable("the person's entry cannot be read".into()))
    }

    /// A connection bound as the manager, or an anonymous one.
    async fn manager(&self) -> Result<Ldap, ExternalRefusal> {
        let mut ldap = self.connect().await?;
        if let Some((dn, password)) = &self.manager
            && let Err(text) = self.bind(&mut ldap, dn, password).await?
        {
            return Err(ExternalRefusal::Unavailable(format!(
                "the directory refused the manager's bind (manager_dn, manager_password): {text}"
            )));
        }
        Ok(ldap)
    }

    /// Operate's LDAP steps: DN patterns, then search and bind.
    async fn ldap_sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<ExternalIdentity, ExternalRefusal> {
        for pattern in &self.user_dn_patterns {
            let dn = under(&self.base_dn, &fill(pattern, [&ldap3::dn_escape(name), ""]));
            let mut ldap = self.connect().await?;
            if self.bind(&mut ldap, &dn, password).await?.is_err() {
                let _ = ldap.unbind().await;
                continue;
            }
            let entry = self.read_entry(&mut ldap, &dn).await?;
            let groups = match &self.manager {
                Some(_) => {
                    let mut manager = self.manager().await?;
                    let groups = self.groups(&mut manager, &entry.dn, name).await;
                    let _ = manager.unbind().await;
                    groups?
                }
                None => self.groups(&mut ldap, &entry.dn, name).await?,
            };
            let _ = ldap.unbind().await;
            return self.identity(&entry, groups);
        }
        let filter = match &self.user_search_filter {
            Some(filter) => filter.as_str(),
            None if self.user_dn_patterns.is_empty() => "(uid={0})",
            None => return Err(ExternalRefusal::BadCredentials),
        };
        let filter = fill(
            filter,
            [&ldap3::ldap_escape(name), &ldap3::ldap_escape(name)],
        );
        let mut manager = self.manager().await?;
        let found = self
            .search(
                &mut manager,
                (&self.user_search_base, &filter),
                &self.person_attrs(),
                (2, true),
            )
            .await?;
        let entry = match found {
            Some(mut found) if found.len() == 1 => found.remove(0),
            Some(found) if found.is_empty() => {
                let _ = manager.unbind().await;
                return Err(ExternalRefusal::BadCredentials);
            }
            _ => {
                tracing::warn!(
                    "the user search filter matched more than one entry; sign-in refused"
                );
                let _ = manager.unbind().await;
                return Err(ExternalRefusal::BadCredentials);
            }
        };
        let mut person = self.connect().await?;
        let bound = self.bind(&mut person, &entry.dn, password).await?;
        if bound.is_err() {
            let _ = person.unbind().await;
            let _ = manager.unbind().await;
            return Err(ExternalRefusal::BadCredentials);
        }
        // As the manager; without one, as the person (not anonymously).
        let groups = match &self.manager {
            Some(_) => self.groups(&mut manager, &entry.dn, name).await,
            None => self.groups(&mut person, &entry.dn, name).await,
        };
        let _ = person.unbind().await;
        let _ = manager.unbind().await;
        self.identity(&entry, groups?)
    }

    /// Active Directory's steps: bind as `name@domain`, search as the person.
    async fn ad_sign_in(
        &self,
        domain: &str,
        name: &str,
        password: &str,
    ) -> Result<ExternalIdentity, ExternalRefusal> {
        let suffix = format!("@{domain}");
        // Compared byte by byte, in ASCII case: lower-casing other characters can
        // change a string's length.
        let cut = name.len().checked_sub(suffix.len()).filter(|at| {
            name.is_char_boundary(*at)
                && name.as_bytes()[*at..].eq_ignore_ascii_case(suffix.as_bytes())
        });
        let (upn, bare) = match cut {
            Some(at) => (name.to_string(), &name[..at]),
            None => (format!("{name}{suffix}"), name),
        };
        let mut ldap = self.connect().await?;
        if let Err(text) = self.bind(&mut ldap, &upn, password).await? {
            let _ = ldap.unbind().await;
            return Err(match ad_account_problem(&text) {
                Some(problem) if problem.contains("locked") => ExternalRefusal::Account(problem),
                Some(problem) => {
                    tracing::info!(user = %bare, "Active Directory refused a sign-in: {problem}");
                    ExternalRefusal::BadCredentials
                }
                None => ExternalRefusal::BadCredentials,
            });
        }
        let filter = self
            .user_search_filter
            .as_deref()
            .unwrap_or("(&(objectClass=user)(userPrincipalName={0}))");
        let filter = fill(
            filter,
            [&ldap3::ldap_escape(upn.as_str()), &ldap3::ldap_escape(bare)],
        );
        let found = self
            .search(
                &mut ldap,
                (&self.base_dn, &filter),
                &self.person_attrs(),
                (2, true),
            )
            .await;
        let _ = ldap.unbind().await;
        let entry = match found? {
            Some(mut found) if found.len() == 1 => found.remove(0),
            _ => return Err(ExternalRefusal::BadCredentials),
        };
        // The entry found must be the account that bound, whatever the filter.
        let same = |attr: &str, value: &str| {
            attribute(&entry, attr).is_some_and(|v| v.eq_ignore_ascii_case(value))
        };
        if !(same("userPrincipalName", &upn) || same("sAMAccountName", bare)) {
            tracing::warn!(user = %bare, "the user search filter found an entry other than the account that bound; sign-in refused");
            return Err(ExternalRefusal::BadCredentials);
        }
        let groups = attributes(&entry, "memberOf")
            .iter()
            .map(|dn| group_of_dn(dn))
            .collect();
        self.identity(&entry, groups)
    }
}

#[async_trait::async_trait]
impl PasswordDirectory for LdapDirectory {
    fn source(&self) -> IdentitySource {
        IdentitySource::Ldap
    }

    /// With a domain, `alice` and `alice@domain` are one person.
    fn account_key(&self, name: &str) -> String {
        let name = name.trim().to_lowercase();
        match &self.domain {
            Some(domain) => name
                .strip_suffix(&format!("@{domain}"))
                .map(str::to_string)
                .unwrap_or(name),
            None => name,
        }
    }

    async fn sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<ExternalIdentity, ExternalRefusal> {
        let name = name.trim();
        if name.is_empty()
            || password.is_empty()
            || name.len() > MAX_NAME
            || password.len() > MAX_PASSWORD
            || name.chars().any(char::is_control)
        {
            return Err(ExternalRefusal::BadCredentials);
        }
        // Every step has its own timeout; this bounds the whole, the wait for a turn
        // included.
        let steps = async {
            let _turn = self.in_progress.acquire().await.map_err(|_| {
                ExternalRefusal::Unavailable("the directory client is shutting down".into())
            })?;
            match &self.domain {
                Some(domain) => self.ad_sign_in(domain, name, password).await,
                None => self.ldap_sign_in(name, password).await,
            }
        };
        match tokio::time::timeout(self.timeout * 4, steps).await {
            Ok(result) => result,
            Err(_) => Err(ExternalRefusal::Unavailable(
                "the directory took too long to answer".into(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_fill_templates_once() {
        assert_eq!(fill("(uid={0})", ["a{1}b", "X"]), "(uid=a{1}b)");
        assert_eq!(fill("(&(a={0})(b={1}))", ["x", "y"]), "(&(a=x)(b=y))");
        assert_eq!(fill("{", ["x", "y"]), "{");
        assert_eq!(
            fill("(uid={0})", [&ldap3::ldap_escape("*)(uid=*"), ""]),
            "(uid=\\2a\\29\\28uid=\\2a)"
        );
    }

    #[test]
    fn dns_are_relative_to_the_base() {
        let base = "dc=example,dc=org";
        assert_eq!(under(base, ""), base);
        assert_eq!(under(base, "ou=people"), "ou=people,dc=example,dc=org");
        assert_eq!(
            under(base, "cn=admin,DC=example,DC=org"),
            "cn=admin,DC=example,DC=org"
        );
        assert_eq!(domain_dn("corp.example.org"), "dc=corp,dc=example,dc=org");
    }

    #[test]
    fn active_directory_names_count_as_one_account() {
        let settings = LdapSettings {
            url: "ldaps://dc.example.org".into(),
            domain: Some("Example.org".into()),
            ..LdapSettings::default()
        };
        let tls = Arc::new(super::super::client_tls(None).expect("tls"));
        let directory = LdapDirectory::new(&settings, tls);
        assert_eq!(directory.account_key(" Alice@EXAMPLE.org "), "alice");
        assert_eq!(directory.account_key("alice"), "alice");
        assert_eq!(directory.account_key("alice@other.org"), "alice@other.org");
    }

    #[test]
    fn active_directory_sub_codes_become_reasons() {
        let text = |code: &str| {
            format!(
                "80090308: LdapErr: DSID-0C0903A9, comment: AcceptSecurityContext error, data {code}, v1db1"
            )
        };
        assert!(ad_account_problem(&text("775")).is_some_and(|m| m.contains("locked")));
        assert!(ad_account_problem(&text("533")).is_some_and(|m| m.contains("disabled")));
        assert!(ad_account_problem(&text("532")).is_some_and(|m| m.contains("expired")));
        assert_eq!(ad_account_problem(&text("52e")), None);
        assert_eq!(ad_account_problem("Invalid credentials"), None);
        let group = group_of_dn("CN=Payments Team,OU=Groups,DC=example,DC=org");
        assert_eq!(group.name, "Payments Team");
    }
}
