//! Conformance: access-control records, grants and owners.

use crate::store::Stores;

pub(super) async fn security_records_grants_and_owners_round_trip(stores: Stores) {
    use crate::security::custom_roles::{CustomRole, parse_permissions};
    use crate::security::model::{
        Access, AccessKey, AccessSet, Application, Grant, Group, KeyStatus, Ownership, Role,
        Subject, Target, TargetType, User,
    };
    use crate::store::SecurityOp;

    let store = &stores.security;
    let empty = store.load_security().await.expect("load");
    assert!(empty.applications.is_empty() && empty.grants.is_empty());

    let app = Application {
        id: "a1".into(),
        name: "worker".into(),
        roles: vec![Role::Worker],
        custom_roles: vec!["RUNNER".into()],
        created_by: "admin".into(),
        updated_by: "admin".into(),
        create_time: 1,
        update_time: 1,
    };
    let key = AccessKey {
        id: "k1".into(),
        application_id: "a1".into(),
        secret_hash: "ab".repeat(32),
        status: KeyStatus::Active,
        created_at: 2,
        last_used_at: None,
    };
    let user = User {
        id: "jane@example.com".into(),
        name: "Jane".into(),
        roles: vec![Role::User],
        custom_roles: vec!["RUNNER".into()],
        groups: vec!["team".into()],
        password_hash: None,
        disabled: false,
        token_version: 0,
        source: None,
        external_id: None,
        create_time: 3,
        update_time: 3,
    };
    let group = Group {
        id: "team".into(),
        description: "A team".into(),
        roles: vec![Role::WorkflowManager],
        custom_roles: Vec::new(),
        default_access: [(TargetType::WorkflowDef, AccessSet::FULL)]
            .into_iter()
            .collect(),
        create_time: 4,
        update_time: 4,
    };
    let role = CustomRole {
        name: "RUNNER".into(),
        permissions: parse_permissions(&["EXECUTE_WORKFLOW_DEF".into(), "READ_TASK_DEF".into()])
            .expect("atoms"),
        created_by: "admin".into(),
        updated_by: "admin".into(),
        create_time: 5,
        update_time: 5,
    };
    let read_execute: AccessSet = [Access::Read, Access::Execute].into_iter().collect();
    let grant = Grant {
        subject: Subject::user("app:a1"),
        target: Target::new(TargetType::TaskDef, "t"),
        access: read_execute,
    };
    let tag_grant = Grant {
        subject: Subject::group("team"),
        target: Target::new(TargetType::Tag, "org:acct"),
        access: AccessSet::EMPTY.with(Access::Read),
    };
    store
        .apply_security(vec![
            SecurityOp::PutApplication(app.clone()),
            SecurityOp::PutKey(key.clone()),
            SecurityOp::PutUser(user.clone()),
            SecurityOp::PutGroup(group.clone()),
            SecurityOp::PutRole(role.clone()),
            SecurityOp::PutGrant(grant.clone()),
            SecurityOp::PutGrant(tag_grant.clone()),
            SecurityOp::PutOwner(Ownership {
                target: Target::new(TargetType::WorkflowDef, "w"),
                owner: "jane@example.com".into(),
            }),
        ])
        .await
        .expect("apply");
    store
        .record_key_use(vec![("k1".into(), 50), ("k1".into(), 40)])
        .await
        .expect("key use");

    let data = store.load_security().await.expect("load");
    assert_eq!(data.applications, vec![app.clone()]);
    assert_eq!(data.keys.len(), 1);
    assert_eq!(data.keys[0].last_used_at, Some(50), "the latest use wins");
    assert_eq!(data.users, vec![user]);
    assert_eq!(data.groups, vec![group]);
    assert_eq!(data.roles, vec![role.clone()]);
    assert_eq!(data.grants.len(), 2);
    assert!(data.grants.contains(&grant) && data.grants.contains(&tag_grant));
    assert_eq!(data.owners.len(), 1);

    // Replacing a grant changes its accesses; deleting removes it; an empty set
    // removes it too.
    let narrowed = Grant {
        access: AccessSet::EMPTY.with(Access::Execute),
        ..grant.clone()
    };
    store
        .apply_security(vec![
            SecurityOp::PutGrant(narrowed.clone()),
            SecurityOp::PutGrant(Grant {
                access: AccessSet::EMPTY,
                ..tag_grant.clone()
            }),
            SecurityOp::PutKey(AccessKey {
                status: KeyStatus::Inactive,
                ..key.clone()
            }),
            SecurityOp::DeleteOwner(Target::new(TargetType::WorkflowDef, "w")),
            SecurityOp::PutRole(CustomRole {
                permissions: Vec::new(),
                update_time: 6,
                ..role.clone()
            }),
        ])
        .await
        .expect("apply");
    let data = store.load_security().await.expect("load");
    assert_eq!(data.grants, vec![narrowed.clone()]);
    assert_eq!(data.keys[0].status, KeyStatus::Inactive);
    assert!(data.owners.is_empty());
    assert_eq!(data.roles.len(), 1);
    assert!(
        data.roles[0].permissions.is_empty(),
        "a role is replaced whole"
    );

    store
        .apply_security(vec![
            SecurityOp::DeleteGrant {
                subject: narrowed.subject.clone(),
                target: narrowed.target.clone(),
            },
            SecurityOp::DeleteKey("k1".into()),
            SecurityOp::DeleteApplication("a1".into()),
            SecurityOp::DeleteUser("jane@example.com".into()),
            SecurityOp::DeleteGroup("team".into()),
            SecurityOp::DeleteRole("RUNNER".into()),
        ])
        .await
        .expect("apply");
    let data = store.load_security().await.expect("load");
    assert!(data.applications.is_empty() && data.keys.is_empty() && data.users.is_empty());
    assert!(data.groups.is_empty() && data.grants.is_empty() && data.roles.is_empty());
}
