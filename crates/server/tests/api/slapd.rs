//! A real OpenLDAP `slapd` for a test: its own temporary directory, free loopback
//! ports for `ldap://` (with StartTLS) and `ldaps://`, a throwaway CA, and the seed
//! people and groups. Stopped when dropped.
//!
//! Like many directories, this one takes a DN with an empty password as an
//! anonymous bind that succeeds (`allow bind_anon_dn`), so Podium must refuse empty
//! passwords itself.
//!
//! `scripts/test` installs slapd and sets `PODIUM_TEST_LDAP_REQUIRED=1`, so a missing
//! slapd fails there; elsewhere a test without slapd says so and does nothing.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use ldap3::{LdapConnAsync, Mod};

pub const BASE: &str = "dc=example,dc=org";
pub const ADMIN_DN: &str = "cn=admin,dc=example,dc=org";
pub const ADMIN_PASSWORD: &str = "manager-pw-7f3a9c";

/// An AD-style schema for slapd: `user` with `userPrincipalName` and
/// `sAMAccountName` that filters can match (Debian's msuser.schema defines them
/// without matching rules). OIDs from OpenLDAP's experimental arc.
const AD_STYLE_SCHEMA: &str = "
attributetype ( 1.3.6.1.4.1.4203.666.11.1 NAME 'userPrincipalName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.4203.666.11.2 NAME 'sAMAccountName'
  EQUALITY caseIgnoreMatch SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 SINGLE-VALUE )
objectclass ( 1.3.6.1.4.1.4203.666.11.3 NAME 'user' SUP inetOrgPerson STRUCTURAL
  MAY ( userPrincipalName $ sAMAccountName ) )
";

/// A running slapd.
pub struct Slapd {
    child: Child,
    dir: tempfile::TempDir,
    /// `ldap://127.0.0.1:<port>`.
    pub url: String,
    /// `ldaps://127.0.0.1:<port>`.
    pub ldaps_url: String,
}

impl Drop for Slapd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let status = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(status.success(), "{program} {args:?} failed");
}

/// A CA and a certificate for 127.0.0.1 it signed, made with the openssl tool.
fn certificates(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=podium-test-ca",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    run(dir, "openssl", &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "server.key",
        "-out",
        "server.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    run(dir, "openssl", &csr);
    std::fs::write(
        dir.join("ext"),
        "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n",
    )
    .expect("write ext");
    run(
        dir,
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            "server.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "server.pem",
            "-days",
            "2",
            "-extfile",
            "ext",
        ],
    );
}

fn slapd_binary() -> Option<PathBuf> {
    ["/usr/sbin/slapd", "/usr/local/sbin/slapd"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.is_file())
}

impl Slapd {
    /// Starts slapd with the seed entries; none (after saying why) when slapd is
    /// not installed and the run does not require it.
    pub async fn start() -> Option<Slapd> {
        let Some(binary) = slapd_binary() else {
            assert!(
                std::env::var("PODIUM_TEST_LDAP_REQUIRED").is_err(),
                "slapd is not installed (scripts/test installs it)"
            );
            eprintln!("skipped: slapd is not installed (scripts/test installs it)");
            return None;
        };
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path();
        std::fs::create_dir(path.join("data")).expect("data dir");
        certificates(path);
        std::fs::write(path.join("ad-style.schema"), AD_STYLE_SCHEMA).expect("schema");
        let p = path.display();
        let conf = format!(
            "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
include {p}/ad-style.schema
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload memberof
pidfile {p}/slapd.pid
TLSCACertificateFile {p}/ca.pem
TLSCertificateFile {p}/server.pem
TLSCertificateKeyFile {p}/server.key
allow bind_anon_dn
database mdb
maxsize 104857600
suffix \"{BASE}\"
rootdn \"{ADMIN_DN}\"
rootpw {ADMIN_PASSWORD}
directory {p}/data
overlay memberof
access to attrs=userPassword by self write by anonymous auth by * none
access to * by users read by * none
"
        );
        std::fs::write(path.join("slapd.conf"), conf).expect("slapd.conf");
        let (port, tls_port) = (free_port(), free_port());
        let url = format!("ldap://127.0.0.1:{port}");
        let ldaps_url = format!("ldaps://127.0.0.1:{tls_port}");
        let child = Command::new(binary)
            .args(["-d", "0", "-h", &format!("{url}/ {ldaps_url}/"), "-f"])
            .arg(path.join("slapd.conf"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start slapd");
        let slapd = Slapd {
            child,
            dir,
            url,
            ldaps_url,
        };
        slapd.seed().await;
        Some(slapd)
    }

    /// The CA that signed the server's certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.dir.path().join("ca.pem")
    }

    /// A connection bound as the directory's administrator, once slapd answers.
    async fn admin(&self) -> ldap3::Ldap {
        for _ in 0..100 {
            if let Ok((conn, mut ldap)) = LdapConnAsync::new(&self.url).await {
                ldap3::drive!(conn);
                if ldap
                    .simple_bind(ADMIN_DN, ADMIN_PASSWORD)
                    .await
                    .is_ok_and(|r| r.rc == 0)
                {
                    return ldap;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("slapd did not start at {}", self.url);
    }

    /// Adds an entry.
    pub async fn add(&self, dn: &str, attrs: &[(&str, &[&str])]) {
        let mut ldap = self.admin().await;
        let attrs: Vec<(&str, HashSet<&str>)> = attrs
            .iter()
            .map(|(k, v)| (*k, v.iter().copied().collect()))
            .collect();
        let result = ldap.add(dn, attrs).await.expect("add");
        assert_eq!(result.rc, 0, "add {dn}: {result}");
        let _ = ldap.unbind().await;
    }

    /// Removes `member` from a group.
    pub async fn leave_group(&self, group: &str, member: &str) {
        let mut ldap = self.admin().await;
        let change = Mod::Delete("member", HashSet::from([member]));
        let result = ldap.modify(group, vec![change]).await.expect("modify");
        assert_eq!(result.rc, 0, "modify {group}: {result}");
        let _ = ldap.unbind().await;
    }

    /// Deletes an entry.
    pub async fn delete(&self, dn: &str) {
        let mut ldap = self.admin().await;
        let result = ldap.delete(dn).await.expect("delete");
        assert_eq!(result.rc, 0, "delete {dn}: {result}");
        let _ = ldap.unbind().await;
    }

    /// The people and groups every test starts with: alice (in operate-admins and
    /// operate-viewers), bob (in operate-viewers), carol, dana (an AD-style `user`
    /// in payments), and a contractor who is another alice.
    async fn seed(&self) {
        let person = |uid: &'static str, name: &'static str| {
            (uid, name, format!("uid={uid},ou=people,{BASE}"))
        };
        self.add(
            BASE,
            &[
                ("objectClass", &["dcObject", "organization"]),
                ("o", &["Example"]),
                ("dc", &["example"]),
            ],
        )
        .await;
        for ou in ["people", "groups", "ad", "contractors"] {
            let dn = format!("ou={ou},{BASE}");
            self.add(
                &dn,
                &[("objectClass", &["organizationalUnit"]), ("ou", &[ou])],
            )
            .await;
        }
        for (uid, name, dn) in [
            person("alice", "Alice Admin"),
            person("bob", "Bob Viewer"),
            person("carol", "Carol Directory"),
        ] {
            let password = format!("{uid}-directory-pw");
            self.add(
                &dn,
                &[
                    ("objectClass", &["inetOrgPerson"]),
                    ("uid", &[uid]),
                    ("cn", &[name]),
                    ("sn", &[name]),
                    ("displayName", &[name]),
                    ("userPassword", &[&password]),
                ],
            )
            .await;
        }
        self.add(
            &format!("uid=alice,ou=contractors,{BASE}"),
            &[
                ("objectClass", &["inetOrgPerson"]),
                ("uid", &["alice"]),
                ("cn", &["Alice Contractor"]),
                ("sn", &["Contractor"]),
                ("userPassword", &["contractor-alice-pw"]),
            ],
        )
        .await;
        self.add(
            &format!("cn=Dana Doe,ou=ad,{BASE}"),
            &[
                ("objectClass", &["user"]),
                ("cn", &["Dana Doe"]),
                ("sn", &["Doe"]),
                ("displayName", &["Dana Doe"]),
                ("sAMAccountName", &["dana"]),
                ("userPrincipalName", &["dana@example.org"]),
                ("userPassword", &["dana-directory-pw"]),
            ],
        )
        .await;
        let alice = format!("uid=alice,ou=people,{BASE}");
        let bob = format!("uid=bob,ou=people,{BASE}");
        let dana = format!("cn=Dana Doe,ou=ad,{BASE}");
        for (group, members) in [
            ("operate-admins", vec![alice.as_str()]),
            ("operate-viewers", vec![alice.as_str(), bob.as_str()]),
            ("payments", vec![dana.as_str()]),
        ] {
            self.add(
                &format!("cn={group},ou=groups,{BASE}"),
                &[
                    ("objectClass", &["groupOfNames"]),
                    ("cn", &[group]),
                    ("member", &members),
                ],
            )
            .await;
        }
    }
}
