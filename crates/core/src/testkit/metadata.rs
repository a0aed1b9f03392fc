//! Conformance: task and workflow definitions, and tags.

use super::*;

pub(super) async fn task_definitions_round_trip(stores: Stores) {
    let a: TaskDef =
        serde_json::from_value(json!({"name": "a", "retryCount": 5, "inputTemplate": {"k": 1}}))
            .unwrap_or_default();
    let b: TaskDef = serde_json::from_value(json!({"name": "b"})).unwrap_or_default();
    stores
        .metadata
        .put_task_defs(&[a.clone(), b])
        .await
        .expect("put");
    assert_eq!(
        stores.metadata.get_task_def("a").await.expect("get"),
        Some(a.clone())
    );
    let mut changed = a.clone();
    changed.retry_count = 1;
    stores
        .metadata
        .put_task_defs(&[changed.clone()])
        .await
        .expect("replace");
    assert_eq!(
        stores
            .metadata
            .get_task_def("a")
            .await
            .expect("get")
            .map(|d| d.retry_count),
        Some(1)
    );
    let names: Vec<String> = stores
        .metadata
        .list_task_defs()
        .await
        .expect("list")
        .into_iter()
        .map(|d| d.name)
        .collect();
    assert_eq!(names, vec!["a", "b"]);
    assert!(stores.metadata.delete_task_def("a").await.expect("delete"));
    assert!(
        !stores
            .metadata
            .delete_task_def("a")
            .await
            .expect("delete again")
    );
    assert_eq!(stores.metadata.get_task_def("a").await.expect("get"), None);
}

pub(super) async fn workflow_definitions_have_versions(stores: Stores) {
    let mut v1 = definition("flow", json!([simple("a")]));
    let mut v2 = v1.clone();
    v2.version = 2;
    v1.description = Some("one".into());
    stores
        .metadata
        .put_workflow_def(&v1, "r1", false)
        .await
        .expect("v1");
    stores
        .metadata
        .put_workflow_def(&v2, "r2", false)
        .await
        .expect("v2");
    let latest = stores
        .metadata
        .get_workflow_def("flow", None)
        .await
        .expect("latest");
    assert_eq!(
        latest.map(|(d, r)| (d.version, r)),
        Some((2, "r2".to_string()))
    );
    let first = stores
        .metadata
        .get_workflow_def("flow", Some(1))
        .await
        .expect("v1");
    assert_eq!(first.map(|(d, _)| d.description), Some(Some("one".into())));
    let conflict = stores.metadata.put_workflow_def(&v1, "r3", false).await;
    assert!(
        matches!(conflict, Err(crate::store::StoreError::Conflict(_))),
        "{conflict:?}"
    );
    stores
        .metadata
        .put_workflow_def(&v1, "r3", true)
        .await
        .expect("overwrite");
    assert_eq!(
        stores
            .metadata
            .get_workflow_def("flow", Some(1))
            .await
            .expect("v1")
            .map(|(_, r)| r),
        Some("r3".to_string())
    );
    assert!(
        stores
            .metadata
            .get_def_revision("r1")
            .await
            .expect("old revision kept")
            .is_some()
    );
    assert_eq!(
        stores
            .metadata
            .list_workflow_defs()
            .await
            .expect("list")
            .len(),
        2
    );
    assert!(
        stores
            .metadata
            .delete_workflow_def("flow", 2)
            .await
            .expect("delete")
    );
    assert_eq!(
        stores
            .metadata
            .get_workflow_def("flow", None)
            .await
            .expect("latest")
            .map(|(d, _)| d.version),
        Some(1)
    );
    assert!(
        !stores
            .metadata
            .delete_workflow_def("flow", 2)
            .await
            .expect("delete again")
    );
}

fn tag(key: &str, value: &str) -> Tag {
    Tag {
        key: key.into(),
        tag_type: Some("METADATA".into()),
        value: value.into(),
    }
}

pub(super) async fn tags_are_per_resource(stores: Stores) {
    let tags = &stores.tags;
    tags.set_tags("WORKFLOW_DEF", "w", &[tag("team", "a"), tag("env", "prod")])
        .await
        .expect("set");
    tags.add_tags("WORKFLOW_DEF", "w", &[tag("team", "b")])
        .await
        .expect("add");
    tags.set_tags("TASK_DEF", "w", &[tag("other", "x")])
        .await
        .expect("set other type");
    let got: HashSet<(String, String)> = tags
        .get_tags("WORKFLOW_DEF", "w")
        .await
        .expect("get")
        .into_iter()
        .map(|t| (t.key, t.value))
        .collect();
    assert_eq!(got.len(), 3);
    tags.remove_tags("WORKFLOW_DEF", "w", &[tag("team", "a")])
        .await
        .expect("remove");
    assert_eq!(
        tags.get_tags("WORKFLOW_DEF", "w").await.expect("get").len(),
        2
    );
    tags.set_tags("WORKFLOW_DEF", "w", &[])
        .await
        .expect("clear");
    assert!(
        tags.get_tags("WORKFLOW_DEF", "w")
            .await
            .expect("get")
            .is_empty()
    );
    assert_eq!(tags.all_tags("TASK_DEF").await.expect("all").len(), 1);
}
