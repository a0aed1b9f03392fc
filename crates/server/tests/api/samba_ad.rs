//! Active Directory sign-in against a real Samba AD domain controller
//! (`scripts/samba-ad`): binds as `name@domain`, the AD search filter, `memberOf`
//! groups, and AD's reasons for refusing an account. Samba needs root and the fixed
//! ports 389 and 636, so this runs only with `PODIUM_TEST_SAMBA=1`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::process::Command;

use podium_server::identity::settings::LdapSettings;

use crate::helpers::TestApp;

fn script() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../scripts/samba-ad")
}

/// A running domain controller, stopped when dropped.
struct Samba {
    dir: tempfile::TempDir,
}

impl Samba {
    /// Where the domain is provisioned.
    fn state(&self) -> PathBuf {
        self.dir.path().join("ad")
    }
}

impl Drop for Samba {
    fn drop(&mut self) {
        let _ = Command::new(script())
            .arg("stop")
            .arg(self.state())
            .status();
    }
}

#[tokio::test]
async fn active_directory_people_sign_in_and_its_refusals_are_clear() {
    if std::env::var("PODIUM_TEST_SAMBA").as_deref() != Ok("1") {
        eprintln!("skipped: set PODIUM_TEST_SAMBA=1 to run (needs root and ports 389/636)");
        return;
    }
    let samba = Samba {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    let started = Command::new(script())
        .arg("start")
        .arg(samba.state())
        .output()
        .expect("run scripts/samba-ad");
    assert!(
        started.status.success(),
        "{}",
        String::from_utf8_lossy(&started.stderr)
    );
    let settings = LdapSettings {
        url: "ldap://127.0.0.1:389".into(),
        domain: Some("corp.example.org".into()),
        group_mapping: BTreeMap::from([("operate-admins".into(), "admins".into())]),
        ..LdapSettings::default()
    };
    let app = TestApp::spawn_with(move |config| config.ldap = Some(settings)).await;
    app.put_group("admins", &["ADMIN"]).await;

    // The name alone, or with the domain: the same person, known by sAMAccountName,
    // with their groups from memberOf.
    for name in ["alice", "alice@corp.example.org", "alice@CORP.example.org"] {
        let answer = app.sign_in(name, "Al1ce-Pass!23").await;
        assert_eq!(answer.status, 200, "{name}: {}", answer.text);
        let token = answer.json()["token"].as_str().expect("token").to_string();
        let me = app
            .call_as(Some(&token), "GET", "/api/token/userInfo", None)
            .await;
        assert_eq!(me.json()["id"], "alice", "{}", me.text);
        assert_eq!(me.json()["name"], "Alice Admin", "{}", me.text);
        let users = app.call_as(Some(&token), "GET", "/api/users", None).await;
        assert_eq!(users.status, 200, "{}", users.text);
    }

    // A wrong password and an unknown name: AD's 52e, the usual answer.
    let wrong = app.sign_in("alice", "not-her-password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    for name in ["nobody", "*", "alice)(objectClass=*"] {
        let answer = app.sign_in(name, "Al1ce-Pass!23").await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text);
        assert_eq!(answer.json(), wrong.json(), "{name}");
    }

    // A disabled account (533) is answered as a wrong password: AD says 533 only
    // to the right password, so saying more would confirm it. Locked (775) is
    // said, as AD says it whatever the password.
    let disabled = app.sign_in("dave", "Dav3-Pass!xx42").await;
    assert_eq!(disabled.status, 401, "{}", disabled.text);
    assert_eq!(disabled.json(), wrong.json(), "{}", disabled.text);
    for _ in 0..3 {
        assert_eq!(app.sign_in("bob", "wrong-password").await.status, 401);
    }
    let locked = app.sign_in("bob", "B0b-Pass!xx42").await;
    assert_eq!(locked.status, 401, "{}", locked.text);
    assert_eq!(locked.json()["error"], "ACCOUNT_REFUSED", "{}", locked.text);
    assert!(locked.text.contains("locked"), "{}", locked.text);
    app.stop().await;
}
