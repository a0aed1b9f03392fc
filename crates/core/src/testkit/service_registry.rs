//! Conformance: registered services keep their methods and proto files, which go
//! with them; a method or proto is only written while its service is.

use crate::model::{ProtoFile, RegisteredService, ServiceMethod, ServiceType};
use crate::store::{RegistryLimits, RegistryWrite, Stores};

const ROOMY: RegistryLimits = RegistryLimits {
    services: 100,
    methods_per_service: 100,
    methods: 1000,
    protos_per_service: 10,
};

fn service(name: &str) -> RegisteredService {
    RegisteredService {
        name: name.into(),
        service_type: ServiceType::Grpc,
        service_uri: "localhost:50051".into(),
        circuit_breaker_enabled: false,
        config: Default::default(),
        request_params: Vec::new(),
        methods: Vec::new(),
    }
}

fn method(operation: &str, name: &str, kind: &str, input: &str) -> ServiceMethod {
    ServiceMethod {
        operation_name: operation.into(),
        method_name: name.into(),
        method_type: kind.into(),
        input_type: Some(input.into()),
        ..ServiceMethod::default()
    }
}

fn names(service: &RegisteredService) -> Vec<(String, Option<String>)> {
    service
        .methods
        .iter()
        .map(|m| (m.method_name.clone(), m.proto.clone()))
        .collect()
}

pub(super) async fn services_keep_their_methods_and_protos(stores: Stores) {
    let done = |w: RegistryWrite| w == RegistryWrite::Done;
    let s = &stores.registry;
    assert!(s.list_services().await.expect("list").is_empty());
    assert!(done(
        s.save_service(&service("b_svc"), &ROOMY)
            .await
            .expect("put")
    ));
    assert!(done(
        s.save_service(&service("a_svc"), &ROOMY)
            .await
            .expect("put")
    ));
    assert_eq!(
        s.service("b_svc").await.expect("get"),
        Some(service("b_svc"))
    );
    assert_eq!(s.service("missing").await.expect("get"), None);

    // Methods: added in order, replaced by their key (keeping their id).
    let hello = method("greet.Greeter", "Hello", "UNARY", "greet.Req");
    let bye = method("greet.Greeter", "Bye", "UNARY", "greet.Req");
    assert!(done(
        s.put_methods("b_svc", &[hello.clone(), bye.clone()], &ROOMY)
            .await
            .expect("methods")
    ));
    let first = s.service("b_svc").await.expect("get").expect("there");
    let hello_id = first.methods[0].id.expect("an id");
    assert_eq!(
        names(&first),
        [("Hello".into(), None), ("Bye".into(), None)]
    );
    let changed = method("greet.Greeter", "Hello", "UNARY", "greet.Other");
    assert!(done(
        s.put_methods("b_svc", &[changed], &ROOMY)
            .await
            .expect("replace")
    ));
    let again = s.service("b_svc").await.expect("get").expect("there");
    assert_eq!(again.methods.len(), 2);
    assert_eq!(again.methods[0].id, Some(hello_id));
    assert_eq!(again.methods[0].input_type.as_deref(), Some("greet.Other"));
    assert_eq!(
        s.put_methods("missing", std::slice::from_ref(&hello), &ROOMY)
            .await
            .expect("no service"),
        RegistryWrite::NoService
    );

    // A proto brings its methods; a new version replaces them; deleting it
    // takes them away and leaves hand-added ones.
    let proto = ProtoFile {
        service_name: "b_svc".into(),
        filename: "api.bin".into(),
        data: vec![0, 1, 2, 255],
    };
    let from_proto = method("greet.Greeter", "Stream", "SERVER_STREAMING", "greet.Req");
    assert!(done(
        s.put_proto(&proto, std::slice::from_ref(&from_proto), &ROOMY)
            .await
            .expect("proto")
    ));
    assert_eq!(
        names(&s.service("b_svc").await.expect("get").expect("there")),
        [
            ("Hello".into(), None),
            ("Bye".into(), None),
            ("Stream".into(), Some("api.bin".into()))
        ]
    );
    let v2 = method("greet.Greeter", "Watch", "BIDI_STREAMING", "greet.Req");
    let proto2 = ProtoFile {
        data: vec![9, 9],
        ..proto.clone()
    };
    assert!(done(
        s.put_proto(&proto2, &[v2], &ROOMY)
            .await
            .expect("proto again")
    ));
    let listed = s.list_services().await.expect("list");
    assert_eq!(
        listed.iter().map(|x| x.name.as_str()).collect::<Vec<_>>(),
        ["a_svc", "b_svc"]
    );
    assert_eq!(listed[1].methods.len(), 3);
    assert_eq!(listed[1].methods[2].method_name, "Watch");
    assert_eq!(
        s.proto("b_svc", "api.bin").await.expect("read"),
        Some(vec![9, 9])
    );
    assert_eq!(s.protos("b_svc").await.expect("protos"), [proto2]);
    assert!(s.protos("a_svc").await.expect("protos").is_empty());
    let orphan = ProtoFile {
        service_name: "missing".into(),
        ..proto.clone()
    };
    assert_eq!(
        s.put_proto(&orphan, &[], &ROOMY).await.expect("no service"),
        RegistryWrite::NoService
    );
    assert_eq!(s.proto("missing", "api.bin").await.expect("read"), None);

    assert!(
        s.delete_proto("b_svc", "api.bin")
            .await
            .expect("delete proto")
    );
    assert!(!s.delete_proto("b_svc", "api.bin").await.expect("again"));
    assert_eq!(
        names(&s.service("b_svc").await.expect("get").expect("there")),
        [("Hello".into(), None), ("Bye".into(), None)]
    );
    assert!(
        s.delete_method("b_svc", "greet.Greeter", "Bye", "UNARY")
            .await
            .expect("delete method")
    );
    assert!(
        !s.delete_method("b_svc", "greet.Greeter", "Bye", "UNARY")
            .await
            .expect("again")
    );

    // Deleting a service takes its methods and protos; one made again is empty.
    assert!(done(
        s.put_proto(&proto, &[from_proto], &ROOMY)
            .await
            .expect("proto")
    ));
    assert!(s.delete_service("b_svc").await.expect("delete"));
    assert!(!s.delete_service("b_svc").await.expect("again"));
    assert!(done(
        s.save_service(&service("b_svc"), &ROOMY)
            .await
            .expect("again")
    ));
    assert_eq!(
        s.service("b_svc").await.expect("get"),
        Some(service("b_svc"))
    );
    assert!(s.protos("b_svc").await.expect("protos").is_empty());

    // Bounds hold in the write itself; a refused write writes nothing.
    let tight = RegistryLimits {
        services: 2,
        methods_per_service: 2,
        methods: 3,
        protos_per_service: 1,
    };
    let full = |w: RegistryWrite| matches!(w, RegistryWrite::Full(_));
    assert!(full(
        s.save_service(&service("c_svc"), &tight)
            .await
            .expect("third")
    ));
    assert_eq!(s.service("c_svc").await.expect("get"), None);
    let three = [
        method("o", "m1", "GET", "i"),
        method("o", "m2", "GET", "i"),
        method("o", "m3", "GET", "i"),
    ];
    assert!(full(
        s.put_methods("b_svc", &three, &tight)
            .await
            .expect("too many")
    ));
    assert!(done(
        s.put_methods("b_svc", &three[..2], &tight)
            .await
            .expect("two")
    ));
    assert!(full(
        s.put_methods("a_svc", &three[..2], &tight)
            .await
            .expect("past the registry's bound")
    ));
    assert!(done(
        s.put_methods("a_svc", &three[..1], &tight)
            .await
            .expect("one")
    ));
    assert!(done(s.put_proto(&proto, &[], &tight).await.expect("proto")));
    let other_file = ProtoFile {
        filename: "other.bin".into(),
        ..proto.clone()
    };
    assert!(full(
        s.put_proto(&other_file, &[], &tight)
            .await
            .expect("second file")
    ));
    assert_eq!(s.proto("b_svc", "other.bin").await.expect("read"), None);
    // A proto's method with a hand-added one's key leaves the hand-added one.
    let hand = s.service("b_svc").await.expect("get").expect("there");
    let m1 = hand
        .methods
        .iter()
        .find(|m| m.method_name == "m1")
        .expect("m1")
        .clone();
    assert!(done(
        s.put_proto(&proto, std::slice::from_ref(&three[0]), &tight)
            .await
            .expect("proto over a hand-added key")
    ));
    let after = s.service("b_svc").await.expect("get").expect("there");
    let kept = after
        .methods
        .iter()
        .find(|m| m.method_name == "m1")
        .expect("m1");
    assert_eq!((kept.id, kept.proto.as_deref()), (m1.id, None));
    assert!(s.delete_proto("b_svc", "api.bin").await.expect("delete"));
    assert!(
        s.service("b_svc")
            .await
            .expect("get")
            .expect("there")
            .methods
            .iter()
            .any(|m| m.method_name == "m1")
    );
}
