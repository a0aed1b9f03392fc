//! People whose identity is kept elsewhere: an LDAP directory or Active Directory
//! checks their password and says who they are and which groups they are in. The
//! server implements [`PasswordDirectory`] (it holds the network client); Podium
//! maps what the directory says onto its own users and groups here.

use std::collections::BTreeMap;

use super::model::IdentitySource;

/// Who the directory says a person is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalIdentity {
    /// The Podium user id (the directory's user id attribute).
    pub id: String,
    /// What the source knows the person by for good (an entry's DN, a token's
    /// subject): the Podium user is bound to it at the first sign-in, so another
    /// entry or subject that names the same id is refused.
    pub key: String,
    /// The name to show, when the directory has one.
    pub display_name: Option<String>,
    /// The directory groups the person is in.
    pub groups: Vec<ExternalGroup>,
}

/// A directory group: its distinguished name (none from a token's groups claim)
/// and its name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalGroup {
    pub dn: Option<String>,
    pub name: String,
}

/// Why a directory refused a sign-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExternalRefusal {
    /// Unknown name or wrong password: the answer is the same as for any bad
    /// credentials.
    BadCredentials,
    /// The password was not accepted because of the account's state; the text says
    /// what to do ("the password has expired", ...).
    Account(&'static str),
    /// The directory could not be asked (unreachable, timed out, misconfigured);
    /// the text is for the log only.
    Unavailable(String),
}

/// A directory that checks people's passwords.
#[async_trait::async_trait]
pub trait PasswordDirectory: Send + Sync {
    /// Which kind of directory it is.
    fn source(&self) -> IdentitySource;

    /// Checks `password` for the person who typed `name`; says who they are.
    async fn sign_in(
        &self,
        name: &str,
        password: &str,
    ) -> Result<ExternalIdentity, ExternalRefusal>;

    /// The one spelling of a typed name that failed sign-ins are counted under:
    /// names the directory takes for one person count together.
    fn account_key(&self, name: &str) -> String {
        name.trim().to_lowercase()
    }
}

/// How directory groups become Podium groups: through the table, whose keys are
/// either a group's distinguished name (holding `=`, matched against DNs only, in
/// any case) or its name (matched against names only); else, when `map_unlisted`
/// is on, to the Podium group of the same name if one exists and is not
/// privileged (a privileged group is reached only through the table).
#[derive(Debug, Clone, Default)]
pub struct GroupMapping {
    by_dn: BTreeMap<String, String>,
    by_name: BTreeMap<String, String>,
    map_unlisted: bool,
}

/// What Podium knows of one of its groups, for mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PodiumGroup {
    /// No such group.
    Missing,
    /// A group with a role that reaches beyond what its members were given
    /// (ADMIN, OWNER, OPERATOR, or a role only an ADMIN gives applications:
    /// APPLICATION_MANAGER, METADATA_MANAGER, WORKFLOW_MANAGER,
    /// UNRESTRICTED_WORKER).
    Privileged,
    /// Any other group.
    Plain,
}

impl GroupMapping {
    /// A mapping from `table` (directory group DN or name to Podium group id).
    pub fn new(table: &BTreeMap<String, String>, map_unlisted: bool) -> GroupMapping {
        let mut mapping = GroupMapping {
            map_unlisted,
            ..GroupMapping::default()
        };
        for (key, group) in table {
            let group = group.trim().to_string();
            if key.contains('=') {
                mapping.by_dn.insert(normalize_dn(key), group);
            } else {
                mapping.by_name.insert(key.trim().to_lowercase(), group);
            }
        }
        mapping
    }

    /// The Podium groups the directory groups map to, among those that exist,
    /// sorted and without repeats.
    pub fn podium_groups(
        &self,
        groups: &[ExternalGroup],
        podium: impl Fn(&str) -> PodiumGroup,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for group in groups {
            let listed = group
                .dn
                .as_deref()
                .and_then(|dn| self.by_dn.get(&normalize_dn(dn)))
                .or_else(|| self.by_name.get(&group.name.trim().to_lowercase()));
            let mapped = match listed {
                Some(id) => Some(id.as_str()).filter(|id| podium(id) != PodiumGroup::Missing),
                None if self.map_unlisted => {
                    Some(group.name.as_str()).filter(|id| podium(id) == PodiumGroup::Plain)
                }
                None => None,
            };
            if let Some(id) = mapped {
                out.push(id.to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A DN as compared: lower case, no spaces around the commas between its parts.
pub fn normalize_dn(dn: &str) -> String {
    dn.trim()
        .split(',')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(",")
        .to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group(dn: &str, name: &str) -> ExternalGroup {
        ExternalGroup {
            dn: Some(dn.into()),
            name: name.into(),
        }
    }

    fn podium(id: &str) -> PodiumGroup {
        match id {
            "admins" | "root" => PodiumGroup::Privileged,
            "payments" | "viewers" => PodiumGroup::Plain,
            _ => PodiumGroup::Missing,
        }
    }

    #[test]
    fn groups_map_through_the_table_then_by_name() {
        let table = BTreeMap::from([
            ("operate-admins".to_string(), "admins".to_string()),
            (
                "CN=Payments, OU=Groups,DC=example,DC=org".to_string(),
                "payments".to_string(),
            ),
            ("gone".to_string(), "no-such-group".to_string()),
        ]);
        let groups = [
            group(
                "cn=Operate-Admins,ou=groups,dc=example,dc=org",
                "Operate-Admins",
            ),
            group("cn=payments,ou=groups,dc=example,dc=org", "payments-team"),
            group("cn=viewers,ou=groups,dc=example,dc=org", "viewers"),
            group("cn=gone,ou=groups,dc=example,dc=org", "gone"),
            group("cn=other,ou=groups,dc=example,dc=org", "other"),
        ];
        assert_eq!(
            GroupMapping::new(&table, true).podium_groups(&groups, podium),
            ["admins", "payments", "viewers"]
        );
        // Without mapping by name, only the table counts.
        assert_eq!(
            GroupMapping::new(&table, false).podium_groups(&groups, podium),
            ["admins", "payments"]
        );
    }

    #[test]
    fn names_never_reach_full_access_and_dn_keys_match_only_dns() {
        let table = BTreeMap::from([(
            "cn=payments,ou=groups,dc=example,dc=org".to_string(),
            "payments".to_string(),
        )]);
        let mapping = GroupMapping::new(&table, true);
        // A directory group named like a privileged Podium group is not mapped
        // onto it by its name.
        assert!(
            mapping
                .podium_groups(&[group("cn=admins,ou=self-made,dc=x", "admins")], podium)
                .is_empty()
        );
        // A group whose name is the text of a mapped DN is not that group.
        let impostor = ExternalGroup {
            dn: Some("cn=x,ou=self-made,dc=x".into()),
            name: "cn=payments,ou=groups,dc=example,dc=org".into(),
        };
        assert!(mapping.podium_groups(&[impostor], podium).is_empty());
        // Groups from a token have names only.
        let named = ExternalGroup {
            dn: None,
            name: "viewers".into(),
        };
        assert_eq!(mapping.podium_groups(&[named], podium), ["viewers"]);
    }
}
