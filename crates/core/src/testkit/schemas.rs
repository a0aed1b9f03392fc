//! Conformance: schemas are kept per name and version; the latest is the highest
//! version; deletes remove one version or all.

use super::*;
use crate::model::{SchemaDef, SchemaType};

fn schema(name: &str, version: i32, marker: i64) -> SchemaDef {
    SchemaDef {
        name: name.into(),
        version: Some(version),
        schema_type: SchemaType::Json,
        data: Some(
            json!({"type": "object", "properties": {"n": {"type": "integer"}}, "marker": marker}),
        ),
        external_ref: Some("http://example.com".into()),
        ..SchemaDef::default()
    }
}

pub(super) async fn schemas_have_versions(stores: Stores) {
    let s = &stores.schemas;
    for (name, version) in [("orders", 1), ("orders", 3), ("orders", 2), ("invoices", 1)] {
        s.put_schema(&schema(name, version, 0))
            .await
            .expect("stored");
    }
    assert_eq!(
        s.schema("orders", Some(2)).await.expect("read"),
        Some(schema("orders", 2, 0))
    );
    assert_eq!(
        s.schema("orders", None).await.expect("read"),
        Some(schema("orders", 3, 0)),
        "the latest"
    );
    assert_eq!(s.schema("orders", Some(4)).await.expect("read"), None);
    assert_eq!(s.schema("refunds", None).await.expect("read"), None);
    // A version saved again is replaced.
    s.put_schema(&schema("orders", 2, 7))
        .await
        .expect("replaced");
    assert_eq!(
        s.schema("orders", Some(2)).await.expect("read"),
        Some(schema("orders", 2, 7))
    );
    let all: Vec<(String, Option<i32>)> = s
        .list_schemas()
        .await
        .expect("list")
        .into_iter()
        .map(|d| (d.name, d.version))
        .collect();
    assert_eq!(
        all,
        [
            ("invoices".to_string(), Some(1)),
            ("orders".to_string(), Some(1)),
            ("orders".to_string(), Some(2)),
            ("orders".to_string(), Some(3)),
        ]
    );
    let unversioned = SchemaDef {
        version: None,
        ..schema("orders", 1, 0)
    };
    assert!(
        s.put_schema(&unversioned).await.is_err(),
        "a version is required"
    );
    assert_eq!(
        s.delete_schema("orders", Some(3)).await.expect("deleted"),
        1
    );
    assert_eq!(
        s.delete_schema("orders", Some(3)).await.expect("deleted"),
        0
    );
    assert_eq!(
        s.schema("orders", None)
            .await
            .expect("read")
            .and_then(|d| d.version),
        Some(2)
    );
    assert_eq!(s.delete_schema("orders", None).await.expect("deleted"), 2);
    assert_eq!(s.schema("orders", None).await.expect("read"), None);
    assert_eq!(s.list_schemas().await.expect("list").len(), 1);
}
