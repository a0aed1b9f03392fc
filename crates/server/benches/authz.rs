//! S2: the cost of one authorization decision, Podium's directory against
//! cedar-policy deciding the same queries on the same grants, side by side in one run.
//!
//! Data (as in the performance plan): users each in 3 of 1,000 groups, 10,000
//! workflow definitions, grants of READ/UPDATE/EXECUTE/DELETE to a user or a group on
//! a definition; 20,000 queries, half drawn from grants and half random. Cedar gets
//! five generic policies with the grants as entity data (`principal in
//! resource.readers`), its fastest shape for this. Both must agree on every query
//! before anything is timed.
//!
//! `cargo bench -p podium-server --features cedar-bench --bench authz`

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::panic)]

use std::collections::{HashMap, HashSet};
use std::str::FromStr;
use std::sync::Arc;
use std::time::Instant;

use cedar_policy::{
    Authorizer as CedarAuthorizer, Context, Decision as CedarDecision, Entities, Entity, EntityId,
    EntityTypeName, EntityUid, PolicySet, Request, RestrictedExpression,
};
use parking_lot::RwLock;
use podium_core::security::model::{Access, AccessSet, Grant, Subject, Target, TargetType};
use podium_core::security::{
    Authorizer, Directory, Principal, PrincipalKind, Resource, SecurityMode,
};
use podium_core::store::SecurityOp;

const USERS: usize = 10_000;
const GROUPS: usize = 1_000;
const DEFS: usize = 10_000;
const QUERIES: usize = 20_000;
const BATCH: usize = 16;
const ACCESSES: [Access; 4] = [
    Access::Read,
    Access::Update,
    Access::Execute,
    Access::Delete,
];

/// A small deterministic generator (xorshift), so every run uses the same data.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

struct Data {
    /// (subject is a group?, subject index, access index, definition index)
    grants: Vec<(bool, usize, usize, usize)>,
    user_groups: Vec<[usize; 3]>,
    /// (user, access index, definition)
    queries: Vec<(usize, usize, usize)>,
}

fn data(grants: usize) -> Data {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let user_groups: Vec<[usize; 3]> = (0..USERS)
        .map(|_| [rng.below(GROUPS), rng.below(GROUPS), rng.below(GROUPS)])
        .collect();
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); GROUPS];
    for (user, groups) in user_groups.iter().enumerate() {
        for g in groups {
            members[*g].push(user);
        }
    }
    let mut seen = HashSet::new();
    let mut list = Vec::with_capacity(grants);
    while list.len() < grants {
        let group = rng.below(4) == 0;
        let subject = if group {
            rng.below(GROUPS)
        } else {
            rng.below(USERS)
        };
        let grant = (group, subject, rng.below(4), rng.below(DEFS));
        if seen.insert(grant) {
            list.push(grant);
        }
    }
    let mut queries = Vec::with_capacity(QUERIES);
    for i in 0..QUERIES {
        if i % 2 == 0 {
            let (group, subject, access, def) = list[rng.below(list.len())];
            let user = if group {
                let m = &members[subject];
                if m.is_empty() {
                    rng.below(USERS)
                } else {
                    m[rng.below(m.len())]
                }
            } else {
                subject
            };
            queries.push((user, access, def));
        } else {
            queries.push((rng.below(USERS), rng.below(4), rng.below(DEFS)));
        }
    }
    Data {
        grants: list,
        user_groups,
        queries,
    }
}

fn def_name(i: usize) -> String {
    format!("wf{i}")
}

// ---- Podium -------------------------------------------------------------------------

fn podium(data: &Data) -> (Authorizer, Vec<Principal>) {
    let mut directory = Directory::default();
    let mut merged: HashMap<(bool, usize, usize), AccessSet> = HashMap::new();
    for (group, subject, access, def) in &data.grants {
        let set = merged.entry((*group, *subject, *def)).or_default();
        *set = set.with(ACCESSES[*access]);
    }
    for ((group, subject, def), access) in merged {
        let subject = if group {
            Subject::group(format!("g{subject}"))
        } else {
            Subject::user(format!("u{subject}"))
        };
        directory.apply(&SecurityOp::PutGrant(Grant {
            subject,
            target: Target::new(TargetType::WorkflowDef, def_name(def)),
            access,
        }));
    }
    let principals = data
        .user_groups
        .iter()
        .enumerate()
        .map(|(u, groups)| {
            let groups: Vec<String> = groups.iter().map(|g| format!("g{g}")).collect();
            let groups: Vec<&str> = groups.iter().map(String::as_str).collect();
            Principal::for_tests(&format!("u{u}"), PrincipalKind::User, &[], &groups)
        })
        .collect();
    (
        Authorizer::new(SecurityMode::Enforced, Arc::new(RwLock::new(directory))),
        principals,
    )
}

// ---- Cedar --------------------------------------------------------------------------

const POLICIES: &str = r#"
permit(principal, action == Action::"READ", resource) when { principal in resource.readers };
permit(principal, action == Action::"UPDATE", resource) when { principal in resource.updaters };
permit(principal, action == Action::"EXECUTE", resource) when { principal in resource.executors };
permit(principal, action == Action::"DELETE", resource) when { principal in resource.deleters };
permit(principal == User::"admin", action, resource);
"#;

fn uid(kind: &str, id: &str) -> EntityUid {
    EntityUid::from_type_name_and_id(EntityTypeName::from_str(kind).unwrap(), EntityId::new(id))
}

fn cedar(
    data: &Data,
) -> (
    PolicySet,
    Entities,
    Vec<EntityUid>,
    Vec<EntityUid>,
    Vec<EntityUid>,
) {
    let policies = PolicySet::from_str(POLICIES).expect("policies");
    let attrs = ["readers", "updaters", "executors", "deleters"];
    let mut acl: Vec<[Vec<EntityUid>; 4]> = (0..DEFS).map(|_| Default::default()).collect();
    for (group, subject, access, def) in &data.grants {
        let who = if *group {
            uid("Group", &format!("g{subject}"))
        } else {
            uid("User", &format!("u{subject}"))
        };
        acl[*def][*access].push(who);
    }
    let mut entities = Vec::new();
    for g in 0..GROUPS {
        entities.push(
            Entity::new(
                uid("Group", &format!("g{g}")),
                HashMap::new(),
                HashSet::new(),
            )
            .unwrap(),
        );
    }
    let users: Vec<EntityUid> = (0..USERS).map(|u| uid("User", &format!("u{u}"))).collect();
    for (u, groups) in data.user_groups.iter().enumerate() {
        let parents: HashSet<EntityUid> = groups
            .iter()
            .map(|g| uid("Group", &format!("g{g}")))
            .collect();
        entities.push(Entity::new(users[u].clone(), HashMap::new(), parents).unwrap());
    }
    let defs: Vec<EntityUid> = (0..DEFS).map(|d| uid("Workflow", &def_name(d))).collect();
    for (d, lists) in acl.into_iter().enumerate() {
        let mut map = HashMap::new();
        for (i, list) in lists.into_iter().enumerate() {
            map.insert(
                attrs[i].to_string(),
                RestrictedExpression::new_set(
                    list.into_iter().map(RestrictedExpression::new_entity_uid),
                ),
            );
        }
        entities.push(Entity::new(defs[d].clone(), map, HashSet::new()).unwrap());
    }
    let entities = Entities::from_entities(entities, None).expect("entities");
    let actions: Vec<EntityUid> = ["READ", "UPDATE", "EXECUTE", "DELETE"]
        .iter()
        .map(|a| uid("Action", a))
        .collect();
    (policies, entities, users, actions, defs)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn run(grants: usize) -> (f64, f64, f64, f64) {
    let data = data(grants);
    let started = Instant::now();
    let (authz, principals) = podium(&data);
    let podium_build = started.elapsed();
    let started = Instant::now();
    let (policies, entities, users, actions, defs) = cedar(&data);
    let cedar_build = started.elapsed();
    let cedar_authz = CedarAuthorizer::new();

    let names: Vec<String> = (0..DEFS).map(def_name).collect();
    let ours = |q: &(usize, usize, usize)| {
        authz.can(
            &principals[q.0],
            ACCESSES[q.1],
            Resource::workflow_def(&names[q.2]),
        )
    };
    let requests: Vec<Request> = data
        .queries
        .iter()
        .map(|q| {
            Request::new(
                users[q.0].clone(),
                actions[q.1].clone(),
                defs[q.2].clone(),
                Context::empty(),
                None,
            )
            .unwrap()
        })
        .collect();
    let theirs = |r: &Request| {
        cedar_authz
            .is_authorized(r, &policies, &entities)
            .decision()
            == CedarDecision::Allow
    };

    // Agreement first.
    let mut allowed = 0;
    let mut mismatches = 0;
    for (q, r) in data.queries.iter().zip(&requests) {
        let a = ours(q);
        allowed += usize::from(a);
        if a != theirs(r) {
            mismatches += 1;
        }
    }
    assert_eq!(
        mismatches, 0,
        "Podium and cedar disagree on {mismatches} queries"
    );

    // Time in batches of 16 decisions, several passes.
    let mut podium_times = Vec::new();
    let mut cedar_times = Vec::new();
    for _ in 0..3 {
        for chunk in data.queries.chunks(BATCH) {
            let t = Instant::now();
            for q in chunk {
                std::hint::black_box(ours(q));
            }
            podium_times.push(t.elapsed().as_secs_f64() * 1e9 / chunk.len() as f64);
        }
        for chunk in requests.chunks(BATCH) {
            let t = Instant::now();
            for r in chunk {
                std::hint::black_box(theirs(r));
            }
            cedar_times.push(t.elapsed().as_secs_f64() * 1e9 / chunk.len() as f64);
        }
    }
    podium_times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    cedar_times.sort_by(|a, b| a.partial_cmp(b).unwrap());
    let (p50, p99) = (
        percentile(&podium_times, 0.5),
        percentile(&podium_times, 0.99),
    );
    let (c50, c99) = (
        percentile(&cedar_times, 0.5),
        percentile(&cedar_times, 0.99),
    );

    // A grant change is visible to the next decision.
    let newcomer = &principals[0];
    let target = "wf_new";
    assert!(!authz.can(newcomer, Access::Read, Resource::workflow_def(target)));
    let t = Instant::now();
    authz
        .directory()
        .write()
        .apply(&SecurityOp::PutGrant(Grant {
            subject: Subject::user(newcomer.id()),
            target: Target::new(TargetType::WorkflowDef, target),
            access: AccessSet::default().with(Access::Read),
        }));
    let visible = authz.can(newcomer, Access::Read, Resource::workflow_def(target));
    let update = t.elapsed();
    assert!(visible);

    println!(
        "{grants:>7} grants | Podium p50 {p50:>6.0} ns  p99 {p99:>6.0} ns | cedar p50 {c50:>7.0} ns  p99 {c99:>7.0} ns | cedar/Podium p50 {:>5.1}x | allowed {:.0}% | mismatches {mismatches} | build: Podium {:.3} s, cedar {:.3} s | grant visible to the next decision after {:.1} us",
        c50 / p50,
        allowed as f64 * 100.0 / data.queries.len() as f64,
        podium_build.as_secs_f64(),
        cedar_build.as_secs_f64(),
        update.as_secs_f64() * 1e6,
    );
    (p50, p99, c50, c99)
}

fn main() {
    println!(
        "S2: authorization decisions, Podium vs cedar-policy (5 generic policies, grants as entity data), {} cores",
        std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)
    );
    println!(
        "{USERS} users in 3 of {GROUPS} groups each, {DEFS} workflow definitions, {QUERIES} queries (half from grants), timed in batches of {BATCH}"
    );
    let small = run(1_000);
    run(10_000);
    let large = run(100_000);
    println!(
        "at 100k grants: Podium p50 {:.0} ns, p99 {:.0} ns (targets <= 1000 ns); {:.1}x faster than cedar at p50 (target >= 5x); growth 1k -> 100k {:.2}x (target <= 1.5x)",
        large.0,
        large.1,
        large.2 / large.0,
        large.0 / small.0
    );
}
