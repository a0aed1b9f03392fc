//! People sign in through a real OpenLDAP directory (`slapd`): search and bind as
//! the manager, DN patterns, StartTLS and `ldaps://`, groups mapped onto Podium's,
//! the Active Directory filter, and the attacks: filter injection, empty passwords,
//! a directory entry named like a built-in user, and a directory that is down.

use std::collections::BTreeMap;

use podium_server::config::SecretValue;
use podium_server::identity::settings::LdapSettings;
use serde_json::{Value, json};

use crate::helpers::{Answer, TestApp, linear, task_def};
use crate::slapd::{ADMIN_PASSWORD, BASE, Slapd};

/// Search and bind as the manager, groups under ou=groups, operate-admins mapped
/// onto the Podium group `admins`.
fn search_settings(slapd: &Slapd) -> LdapSettings {
    LdapSettings {
        url: slapd.url.clone(),
        base_dn: BASE.into(),
        manager_dn: Some("cn=admin".into()),
        manager_password: Some(SecretValue::new(ADMIN_PASSWORD)),
        user_search_base: "ou=people".into(),
        group_search_base: "ou=groups".into(),
        group_mapping: BTreeMap::from([("operate-admins".into(), "admins".into())]),
        ..LdapSettings::default()
    }
}

async fn spawn(settings: LdapSettings) -> TestApp {
    TestApp::spawn_with(move |config| config.ldap = Some(settings)).await
}

fn token_of(answer: &Answer) -> String {
    assert_eq!(answer.status, 200, "{}", answer.text);
    answer.json()["token"].as_str().expect("token").to_string()
}

async fn groups_of(app: &TestApp, id: &str) -> Vec<String> {
    let user = app.get(&format!("/api/users/{id}")).await;
    assert_eq!(user.status, 200, "{}", user.text);
    user.json()["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .map(|g| g["id"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[tokio::test]
async fn people_sign_in_with_their_directory_password_and_get_their_groups() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let app = spawn(search_settings(&slapd)).await;
    app.put_group("admins", &["ADMIN"]).await;
    // No entry in the mapping: maps to the Podium group of the same name.
    app.put_group("operate-viewers", &[]).await;
    app.register(json!([task_def("t")]), linear("reports", &[("t", "t")]))
        .await;
    let granted = app
        .post(
            "/api/auth/authorization",
            json!({"subject": {"type": "GROUP", "id": "operate-viewers"}, "target": {"type": "WORKFLOW_DEF", "id": "reports"}, "access": ["READ"]}),
        )
        .await;
    assert_eq!(granted.status, 200, "{}", granted.text);

    // Alice: ADMIN through the directory group mapped onto `admins`.
    let alice = token_of(&app.sign_in("alice", "alice-directory-pw").await);
    let me = app
        .call_as(Some(&alice), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.json()["id"], "alice", "{}", me.text);
    assert_eq!(me.json()["name"], "Alice Admin", "{}", me.text);
    assert_eq!(
        groups_of(&app, "alice").await,
        ["admins", "operate-viewers"]
    );
    let users = app.call_as(Some(&alice), "GET", "/api/users", None).await;
    assert_eq!(users.status, 200, "{}", users.text);
    let record = app.get("/api/users/alice").await.json();
    assert_eq!(record["identitySource"], "LDAP", "{record}");
    // No role of their own: their groups give what they may do.
    assert_eq!(record["roles"], json!([]), "{record}");

    // Bob: a viewer only.
    let bob = token_of(&app.sign_in("bob", "bob-directory-pw").await);
    assert_eq!(groups_of(&app, "bob").await, ["operate-viewers"]);
    let refused = app.call_as(Some(&bob), "GET", "/api/users", None).await;
    assert_eq!(refused.status, 403, "{}", refused.text);
    let read = |token: String| {
        let app = &app;
        async move {
            app.call_as(Some(&token), "GET", "/api/metadata/workflow/reports", None)
                .await
                .status
        }
    };
    assert_eq!(read(bob.clone()).await, 200);

    // Bob leaves the group in the directory: at his next sign-in he loses what it
    // gave, in that token and in the ones he had.
    slapd
        .leave_group(
            &format!("cn=operate-viewers,ou=groups,{BASE}"),
            &format!("uid=bob,ou=people,{BASE}"),
        )
        .await;
    let again = token_of(&app.sign_in("bob", "bob-directory-pw").await);
    assert!(groups_of(&app, "bob").await.is_empty());
    assert_eq!(read(again).await, 403);
    assert_eq!(read(bob.clone()).await, 403);

    // Podium's roles for a directory user stay theirs; their groups and password
    // are the directory's.
    let roles = app
        .call(
            "PUT",
            "/api/users/bob",
            Some(json!({"roles": ["METADATA_MANAGER"]})),
        )
        .await;
    assert_eq!(roles.status, 200, "{}", roles.text);
    token_of(&app.sign_in("bob", "bob-directory-pw").await);
    let record = app.get("/api/users/bob").await.json();
    assert_eq!(record["roles"][0]["name"], "METADATA_MANAGER", "{record}");
    for (method, path, body) in [
        ("PUT", "/api/users/bob", Some(json!({"groups": ["admins"]}))),
        (
            "PUT",
            "/api/users/bob",
            Some(json!({"password": "a podium password 42"})),
        ),
        ("POST", "/api/groups/admins/users/bob", None),
        (
            "POST",
            "/api/users/bob/password",
            Some(json!({"newPassword": "a podium password 42"})),
        ),
    ] {
        let answer = app.call(method, path, body).await;
        assert_eq!(answer.status, 400, "{method} {path}: {}", answer.text);
        assert!(
            answer.text.contains("the LDAP directory"),
            "{}",
            answer.text
        );
    }

    // Someone removed from the directory cannot sign in any more.
    slapd.delete(&format!("uid=bob,ou=people,{BASE}")).await;
    assert_eq!(app.sign_in("bob", "bob-directory-pw").await.status, 401);

    // Sign-ins are in the audit trail, without the password.
    let trail = app
        .get("/api/audit?action=token.mint&target=user:alice")
        .await;
    assert!(trail.text.contains("\"success\""), "{}", trail.text);
    assert!(!trail.text.contains("alice-directory-pw"));
    app.stop().await;
}

#[tokio::test]
async fn bad_names_and_passwords_all_get_the_same_answer() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let app = spawn(search_settings(&slapd)).await;
    let wrong = app.sign_in("alice", "not-her-password").await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    let body: Value = wrong.json();
    for (name, password) in [
        ("nobody", "alice-directory-pw"),
        // Filter injection: the name is escaped, so these find nobody.
        ("*)(uid=*", "alice-directory-pw"),
        ("*", "alice-directory-pw"),
        // Unescaped, this would find alice alone and sign her in.
        ("alic*", "alice-directory-pw"),
        ("alice)(|(uid=*", "alice-directory-pw"),
        ("alice*", "alice-directory-pw"),
        // A DN with an empty password is an anonymous bind that this directory
        // accepts (as many do): refused before any bind.
        ("alice", ""),
    ] {
        let answer = app.sign_in(name, password).await;
        assert_eq!(answer.status, 401, "{name}: {}", answer.text);
        assert_eq!(answer.json(), body, "{name}");
    }
    app.stop().await;
}

#[tokio::test]
async fn a_directory_entry_cannot_take_over_a_built_in_user() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let app = spawn(search_settings(&slapd)).await;
    // Carol exists in Podium with a Podium password, and in the directory.
    let created = app
        .call(
            "PUT",
            "/api/users/carol",
            Some(
                json!({"name": "Carol", "roles": ["ADMIN"], "password": "violet harbour kettle 9"}),
            ),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    assert_eq!(app.sign_in("carol", "carol-directory-pw").await.status, 401);
    token_of(&app.sign_in("carol", "violet harbour kettle 9").await);

    // An ADMIN cannot hand a user with a Podium password to the directory.
    let handed = app
        .call(
            "PUT",
            "/api/users/carol",
            Some(json!({"identitySource": "LDAP"})),
        )
        .await;
    assert_eq!(handed.status, 400, "{}", handed.text);

    // Nor is a built-in user without a password (say, one an SDK created).
    let built_in = app
        .call("PUT", "/api/users/bob", Some(json!({"roles": ["ADMIN"]})))
        .await;
    assert_eq!(built_in.status, 200, "{}", built_in.text);
    assert_eq!(app.sign_in("bob", "bob-directory-pw").await.status, 401);

    // A user an ADMIN made ready for the directory (to give roles before the
    // first sign-in) is the directory's person of that id.
    let ready = app
        .call(
            "PUT",
            "/api/users/alice",
            Some(json!({"roles": ["OPERATOR"], "identitySource": "LDAP"})),
        )
        .await;
    assert_eq!(ready.status, 200, "{}", ready.text);
    let alice = token_of(&app.sign_in("alice", "alice-directory-pw").await);
    let me = app
        .call_as(Some(&alice), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.json()["roles"][0]["name"], "OPERATOR", "{}", me.text);
    app.stop().await;
}

#[tokio::test]
async fn dn_patterns_starttls_and_ldaps_work_and_an_unknown_certificate_is_refused() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // DN patterns and no manager: the person's own connection reads their groups,
    // over StartTLS.
    let patterns = LdapSettings {
        url: slapd.url.clone(),
        starttls: true,
        ca_file: Some(slapd.ca_file()),
        base_dn: BASE.into(),
        user_dn_patterns: vec![
            "uid={0},ou=missing".into(),
            "uid={0},ou=people".into(),
            "uid={0},ou=contractors".into(),
            "uid={0}".into(),
        ],
        group_search_base: "ou=groups".into(),
        ..LdapSettings::default()
    };
    let app = spawn(patterns.clone()).await;
    app.put_group("operate-admins", &[]).await;
    token_of(&app.sign_in("alice", "alice-directory-pw").await);
    assert_eq!(groups_of(&app, "alice").await, ["operate-admins"]);
    assert_eq!(app.sign_in("alice", "wrong").await.status, 401);
    // A name holding DN syntax is escaped into one value: unescaped, the last
    // pattern would make it alice's full DN.
    let injected = app
        .sign_in("alice,ou=people,dc=example,dc=org", "alice-directory-pw")
        .await;
    assert_eq!(injected.status, 401, "{}", injected.text);
    // Another entry with the same uid (a contractor) is not the alice who signed in
    // first: the user is bound to her entry.
    let contractor = app.sign_in("alice", "contractor-alice-pw").await;
    assert_eq!(contractor.status, 401, "{}", contractor.text);
    app.stop().await;

    // ldaps://, searching as the manager.
    let ldaps = LdapSettings {
        url: slapd.ldaps_url.clone(),
        ca_file: Some(slapd.ca_file()),
        ..search_settings(&slapd)
    };
    let app = spawn(ldaps.clone()).await;
    token_of(&app.sign_in("bob", "bob-directory-pw").await);
    app.stop().await;

    // A certificate nobody vouched for: no sign-in, a clear 503.
    for settings in [
        LdapSettings {
            ca_file: None,
            ..ldaps
        },
        LdapSettings {
            ca_file: None,
            ..patterns
        },
    ] {
        let app = spawn(settings).await;
        let answer = app.sign_in("alice", "alice-directory-pw").await;
        assert_eq!(answer.status, 503, "{}", answer.text);
        assert!(
            answer.json()["message"]
                .as_str()
                .unwrap_or_default()
                .contains("directory could not be reached"),
            "{}",
            answer.text
        );
        app.stop().await;
    }
}

#[tokio::test]
async fn the_active_directory_filter_finds_people_by_principal_name() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    // Active Directory's default filter and id attribute, on slapd (which cannot
    // take AD's `name@domain` binds; a Samba AD test covers those).
    let settings = LdapSettings {
        user_search_base: "ou=ad".into(),
        user_search_filter: Some("(&(objectClass=user)(userPrincipalName={0}))".into()),
        user_id_attr: Some("sAMAccountName".into()),
        ..search_settings(&slapd)
    };
    let app = spawn(settings).await;
    app.put_group("payments", &[]).await;
    let dana = token_of(&app.sign_in("dana@example.org", "dana-directory-pw").await);
    let me = app
        .call_as(Some(&dana), "GET", "/api/token/userInfo", None)
        .await;
    assert_eq!(me.json()["id"], "dana", "{}", me.text);
    assert_eq!(groups_of(&app, "dana").await, ["payments"]);
    assert_eq!(app.sign_in("dana@example.org", "wrong").await.status, 401);
    assert_eq!(
        app.sign_in("*@example.org", "dana-directory-pw")
            .await
            .status,
        401
    );
    app.stop().await;
}

#[tokio::test]
async fn a_directory_that_is_down_is_a_clear_503_and_built_in_users_still_sign_in() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let settings = LdapSettings {
        url: format!("ldap://127.0.0.1:{port}"),
        base_dn: BASE.into(),
        timeout_ms: 500,
        ..LdapSettings::default()
    };
    let app = spawn(settings).await;
    let answer = app.sign_in("alice", "alice-directory-pw").await;
    assert_eq!(answer.status, 503, "{}", answer.text);
    assert!(!answer.text.contains(&port.to_string()), "{}", answer.text);
    let created = app
        .call(
            "PUT",
            "/api/users/erin",
            Some(json!({"name": "Erin", "password": "amber lantern meadow 3"})),
        )
        .await;
    assert_eq!(created.status, 200, "{}", created.text);
    token_of(&app.sign_in("erin", "amber lantern meadow 3").await);
    app.stop().await;
}

#[tokio::test]
async fn directory_people_sign_in_at_the_login_page_too() {
    let Some(slapd) = Slapd::start().await else {
        return;
    };
    let app = spawn(search_settings(&slapd)).await;
    app.put_group("admins", &["ADMIN"]).await;
    let mut browser = crate::browser::Browser::new();
    let login = format!("{}/login", app.base);
    let wrong = browser
        .post_form(
            &login,
            &[("username", "alice"), ("password", "wrong-pw")],
            Some(&app.base),
        )
        .await;
    assert_eq!(wrong.status, 401, "{}", wrong.text);
    assert!(wrong.text.contains("Invalid user name or password."));
    // The injection attempt finds nobody, here as at POST /api/token.
    let injected = browser
        .post_form(
            &login,
            &[("username", "*)(uid=*"), ("password", "x")],
            Some(&app.base),
        )
        .await;
    assert_eq!(injected.status, 401, "{}", injected.text);
    let signed_in = browser
        .post_form(
            &login,
            &[("username", "alice"), ("password", "alice-directory-pw")],
            Some(&app.base),
        )
        .await;
    assert_eq!(signed_in.status, 303, "{}", signed_in.text);
    let me = browser
        .get(&format!("{}/api/token/userInfo", app.base))
        .await;
    assert_eq!(me.status, 200, "{}", me.text);
    assert_eq!(me.json()["id"], "alice");
    assert_eq!(groups_of(&app, "alice").await, ["admins"]);
    let trail = app.get("/api/audit?action=session.start").await;
    assert!(trail.text.contains("user:alice (ldap)"), "{}", trail.text);
    app.stop().await;
}
