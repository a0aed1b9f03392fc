//! Tests of the authorizer: who is allowed what, and why.

use super::*;
use crate::security::model::{Grant, Ownership};
use crate::store::SecurityOp;

fn grant(subject: Subject, kind: TargetType, id: &str, access: &[Access]) -> SecurityOp {
    SecurityOp::PutGrant(Grant {
        subject,
        target: Target::new(kind, id),
        access: access.iter().copied().collect(),
    })
}

fn setup(ops: &[SecurityOp]) -> Authorizer {
    let mut directory = Directory::default();
    for op in ops {
        directory.apply(op);
    }
    Authorizer::new(SecurityMode::Enforced, Arc::new(RwLock::new(directory)))
}

fn app(id: &str, roles: &[Role]) -> Principal {
    Principal::for_tests(id, PrincipalKind::Application, roles, &[])
}

#[test]
fn nothing_allows_by_default() {
    let authz = setup(&[]);
    let p = app("app:a", &[]);
    let d = authz.decide(&p, Access::Read, Resource::workflow_def("w"));
    assert!(!d.allowed);
    assert_eq!(d.missing.as_deref(), Some("READ on WORKFLOW_DEF w"));
    let err = authz
        .authorize(&p, Access::Execute, Resource::task("book_ride", None))
        .err()
        .map(|e| e.to_string());
    assert_eq!(
        err.as_deref(),
        Some("You don't have permissions to execute task: book_ride")
    );
}

#[test]
fn the_documented_least_privilege_example() {
    let authz = setup(&[
        grant(
            Subject::user("app:worker"),
            TargetType::TaskDef,
            "task_x",
            &[Access::Execute],
        ),
        grant(
            Subject::user("app:p1"),
            TargetType::WorkflowDef,
            "Workflow_1",
            &[Access::Execute],
        ),
        grant(
            Subject::user("app:p1"),
            TargetType::TaskDef,
            "task_x",
            &[Access::Execute],
        ),
    ]);
    let worker = app("app:worker", &[Role::Worker]);
    let p1 = app("app:p1", &[]);
    // The worker polls task_x and nothing else; it cannot start or read workflows.
    assert!(authz.can(&worker, Access::Execute, Resource::task("task_x", None)));
    assert!(!authz.can(&worker, Access::Execute, Resource::task("task_y", None)));
    assert!(!authz.can(
        &worker,
        Access::Execute,
        Resource::workflow_def("Workflow_1")
    ));
    assert!(!authz.can(&worker, Access::Read, Resource::workflow("Workflow_1")));
    // Program 1 starts Workflow_1 (and may use task_x in it) but cannot poll.
    assert!(authz.can(&p1, Access::Execute, Resource::workflow_def("Workflow_1")));
    assert!(authz.can(&p1, Access::Execute, Resource::task_def("task_x")));
    assert!(!authz.can(&p1, Access::Execute, Resource::workflow_def("Workflow_2")));
    let poll = authz.decide(&p1, Access::Execute, Resource::task("task_x", None));
    assert!(!poll.allowed);
    assert_eq!(poll.missing.as_deref(), Some("the WORKER role"));
}

#[test]
fn explanations_name_what_allowed() {
    let mut directory = Directory::default();
    for op in [
        grant(
            Subject::group("team-a"),
            TargetType::WorkflowDef,
            "w1",
            &[Access::Read],
        ),
        grant(
            Subject::user("u1"),
            TargetType::Tag,
            "org:acct",
            &[Access::Execute],
        ),
        grant(
            Subject::role(Role::User),
            TargetType::WorkflowDef,
            "w3",
            &[Access::Update],
        ),
        grant(
            Subject::user("app:w"),
            TargetType::Domain,
            "blue",
            &[Access::Execute],
        ),
        SecurityOp::PutOwner(Ownership {
            target: Target::new(TargetType::WorkflowDef, "mine"),
            owner: "u1".into(),
        }),
    ] {
        directory.apply(&op);
    }
    directory.set_tags(TargetType::WorkflowDef, "w2", vec!["org:acct".into()]);
    let authz = Authorizer::new(SecurityMode::Enforced, Arc::new(RwLock::new(directory)));
    let u1 = Principal::for_tests("u1", PrincipalKind::User, &[Role::User], &["team-a"]);

    let via = |access, resource| authz.decide(&u1, access, resource).via;
    assert!(matches!(
        via(Access::Read, Resource::workflow("w1")),
        Some(Via::Grant { subject, .. }) if subject == Subject::group("team-a")
    ));
    assert!(matches!(
        via(Access::Execute, Resource::workflow_def("w2")),
        Some(Via::Grant { target, .. }) if target == Target::new(TargetType::Tag, "org:acct")
    ));
    assert!(matches!(
        via(Access::Update, Resource::workflow_def("w3")),
        Some(Via::Grant { subject, .. }) if subject == Subject::role(Role::User)
    ));
    assert_eq!(
        via(Access::Delete, Resource::workflow_def("mine")),
        Some(Via::Owner)
    );
    assert_eq!(
        via(Access::Create, Resource::workflow_def("new")),
        Some(Via::Role { role: Role::User })
    );
    // Untagged, ungranted: refused.
    assert_eq!(via(Access::Execute, Resource::workflow_def("w4")), None);

    let worker = app("app:w", &[Role::Worker]);
    assert!(authz.can(
        &worker,
        Access::Execute,
        Resource::task("any", Some("blue"))
    ));
    assert!(!authz.can(
        &worker,
        Access::Execute,
        Resource::task("any", Some("green"))
    ));
    assert!(!authz.can(&worker, Access::Execute, Resource::task("any", None)));
}

#[test]
fn admins_and_unrestricted_workers() {
    let authz = setup(&[]);
    let admin = app("app:admin", &[Role::Admin]);
    assert_eq!(
        authz
            .decide(
                &admin,
                Access::Delete,
                Resource::new(ResourceType::Secret, "s")
            )
            .via,
        Some(Via::Role { role: Role::Admin })
    );
    let any = app("app:any", &[Role::UnrestrictedWorker]);
    assert!(authz.can(&any, Access::Execute, Resource::task("t", None)));
    assert!(!authz.can(&any, Access::Execute, Resource::workflow_def("w")));
    assert!(authz.require_admin(&any, "manage users").is_err());
    assert!(authz.require_admin(&admin, "manage users").is_ok());
}

#[test]
fn custom_roles_reach_every_resource_of_their_atoms_types() {
    use crate::security::custom_roles::{CustomRole, parse_permissions};
    let role = |name: &str, atoms: &[&str]| {
        SecurityOp::PutRole(CustomRole {
            name: name.into(),
            permissions: parse_permissions(
                &atoms.iter().map(|a| a.to_string()).collect::<Vec<_>>(),
            )
            .unwrap_or_default(),
            created_by: "admin".into(),
            updated_by: "admin".into(),
            create_time: 0,
            update_time: 0,
        })
    };
    let authz = setup(&[
        role("RUNNER", &["EXECUTE_WORKFLOW_DEF", "EXECUTE_TASK_DEF"]),
        grant(
            Subject::user("nobody"),
            TargetType::WorkflowDef,
            "w",
            &[Access::Read],
        ),
    ]);
    let holder = |roles: &[Role]| {
        Principal::resolved(
            "app:r".into(),
            PrincipalKind::Application,
            "r".into(),
            roles.iter().copied().collect(),
            vec!["RUNNER".into()],
            Vec::new(),
            None,
        )
    };
    let runner = holder(&[]);
    assert!(authz.can(&runner, Access::Execute, Resource::workflow_def("any")));
    // EXECUTE brings READ, here of every execution; never UPDATE or DELETE.
    assert!(authz.can(&runner, Access::Read, Resource::workflow("other")));
    assert!(!authz.can(&runner, Access::Update, Resource::workflow_def("w")));
    assert!(!authz.can(&runner, Access::Delete, Resource::workflow("w")));
    assert!(!authz.can(
        &runner,
        Access::Read,
        Resource::new(ResourceType::Secret, "s")
    ));
    assert_eq!(
        authz
            .decide(&runner, Access::Execute, Resource::workflow_def("w"))
            .via,
        Some(Via::CustomRole {
            role: "RUNNER".into(),
            permission: "EXECUTE_WORKFLOW_DEF".into()
        })
    );
    // An atom is a grant, not a worker role.
    let poll = authz.decide(&runner, Access::Execute, Resource::task("t", None));
    assert_eq!(poll.missing.as_deref(), Some("the WORKER role"));
    let worker = holder(&[Role::Worker]);
    assert!(authz.can(&worker, Access::Execute, Resource::task("t", None)));
    // No atom names domains or tags, and no custom role makes an administrator.
    assert!(!authz.can(
        &runner,
        Access::Read,
        Resource::new(ResourceType::Domain, "d")
    ));
    assert!(authz.require_admin(&runner, "manage users").is_err());
    // A role's change applies to the next decision of every holder.
    authz
        .directory()
        .write()
        .apply(&role("RUNNER", &["READ_SCHEMA"]));
    assert!(!authz.can(&runner, Access::Execute, Resource::workflow_def("any")));
    assert!(authz.can(&runner, Access::Read, Resource::schema("x")));
    authz
        .directory()
        .write()
        .apply(&SecurityOp::DeleteRole("RUNNER".into()));
    assert!(!authz.can(&runner, Access::Read, Resource::schema("x")));
}

#[test]
fn revoking_a_grant_applies_to_the_next_decision() {
    let authz = setup(&[grant(
        Subject::user("app:p"),
        TargetType::WorkflowDef,
        "w",
        &[Access::Execute],
    )]);
    let p = app("app:p", &[]);
    assert!(authz.can(&p, Access::Execute, Resource::workflow_def("w")));
    authz.directory().write().apply(&SecurityOp::DeleteGrant {
        subject: Subject::user("app:p"),
        target: Target::new(TargetType::WorkflowDef, "w"),
    });
    assert!(!authz.can(&p, Access::Execute, Resource::workflow_def("w")));
}
