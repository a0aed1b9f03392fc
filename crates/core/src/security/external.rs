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
    /// The name to show, when the directory has one.
    pub display_name: Option<String>,
    /// The directory groups the person is in.
    pub groups: Vec<ExternalGroup>,
}

/// A directory group: its distinguished name and its common name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExternalGroup {
    pub dn: String,
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
}

/// How directory groups become Podium groups: through the table (keyed by a
/// group's common name or its distinguished name, in any case), else, when
/// `map_unlisted` is on, to the Podium group of the same name if one exists.
#[derive(Debug, Clone, Default)]
pub struct GroupMapping {
    table: BTreeMap<String, String>,
    map_unlisted: bool,
}

impl GroupMapping {
    /// A mapping from `table` (directory group cn or DN to Podium group id).
    pub fn new(table: &BTreeMap<String, String>, map_unlisted: bool) -> GroupMapping {
        GroupMapping {
            table: table
                .iter()
                .map(|(k, v)| (normalize(k), v.trim().to_string()))
                .collect(),
            map_unlisted,
        }
    }

    /// The Podium groups the directory groups map to, among those that exist,
    /// sorted and without repeats.
    pub fn podium_groups(
        &self,
        groups: &[ExternalGroup],
        exists: impl Fn(&str) -> bool,
    ) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for group in groups {
            let mapped = self
                .table
                .get(&normalize(&group.dn))
                .or_else(|| self.table.get(&normalize(&group.name)))
                .map(String::as_str)
                .or(self.map_unlisted.then_some(group.name.as_str()));
            if let Some(id) = mapped.filter(|id| exists(id)) {
                out.push(id.to_string());
            }
        }
        out.sort();
        out.dedup();
        out
    }
}

/// A group key as compared: trimmed, lower case, no spaces after the commas of a DN.
fn normalize(key: &str) -> String {
    key.trim()
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
            dn: dn.into(),
            name: name.into(),
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
        let exists = |id: &str| ["admins", "payments", "viewers"].contains(&id);
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
            GroupMapping::new(&table, true).podium_groups(&groups, exists),
            ["admins", "payments", "viewers"]
        );
        // Without mapping by name, only the table counts.
        assert_eq!(
            GroupMapping::new(&table, false).podium_groups(&groups, exists),
            ["admins", "payments"]
        );
    }
}
