//! The service registry: services, methods and gRPC proto files kept as both SDKs'
//! registry clients use them, bad input refused clearly, and only metadata
//! managers changing it.

use base64::Engine;
use prost::Message;
use prost_types::{
    FileDescriptorProto, FileDescriptorSet, MethodDescriptorProto, ServiceDescriptorProto,
};
use serde_json::{Value, json};

use crate::helpers::{TestApp, application};

/// A compiled proto file declaring `greet.Greeter` with a unary and a
/// bidirectional streaming method, as `protoc --descriptor_set_out` writes it.
fn greeter_proto() -> Vec<u8> {
    let method = |name: &str, streams: bool| MethodDescriptorProto {
        name: Some(name.into()),
        input_type: Some(".greet.HelloRequest".into()),
        output_type: Some(".greet.HelloReply".into()),
        client_streaming: Some(streams),
        server_streaming: Some(streams),
        ..Default::default()
    };
    FileDescriptorSet {
        file: vec![FileDescriptorProto {
            name: Some("greet.proto".into()),
            package: Some("greet".into()),
            service: vec![ServiceDescriptorProto {
                name: Some("Greeter".into()),
                method: vec![method("SayHello", false), method("Chat", true)],
                ..Default::default()
            }],
            ..Default::default()
        }],
    }
    .encode_to_vec()
}

fn methods(service: &Value) -> Vec<(String, String, String)> {
    service["methods"]
        .as_array()
        .map(|list| {
            list.iter()
                .map(|m| {
                    let text = |k: &str| m[k].as_str().unwrap_or_default().to_string();
                    (
                        text("operationName"),
                        text("methodName"),
                        text("methodType"),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

fn triple(a: &str, b: &str, c: &str) -> (String, String, String) {
    (a.into(), b.into(), c.into())
}

#[tokio::test]
async fn services_methods_and_protos_are_kept_as_the_sdks_use_them() {
    let app = TestApp::spawn().await;
    let base = "/api/registry/service";
    // An HTTP service with part of a circuit breaker's settings: the rest take
    // Orkes's defaults; it has no methods yet.
    let answer = app
        .post(
            base,
            json!({"name": "petstore", "type": "HTTP",
            "serviceURI": "http://petstore.example/api-docs",
            "config": {"circuitBreakerConfig": {"failureRateThreshold": 25.0}}}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let pets = app.get(&format!("{base}/petstore")).await.json();
    assert_eq!(pets["type"], "HTTP");
    assert_eq!(pets["serviceURI"], "http://petstore.example/api-docs");
    assert_eq!(pets["methods"], json!([]));
    let breaker = &pets["config"]["circuitBreakerConfig"];
    assert_eq!(breaker["failureRateThreshold"], 25.0);
    assert_eq!(breaker["slidingWindowSize"], 100);
    assert_eq!(breaker["maxWaitDurationInHalfOpenState"], 1);
    // No such service: an empty 200, as Orkes answers and the SDKs expect.
    let none = app.get(&format!("{base}/nothing")).await;
    assert_eq!((none.status, none.text.as_str()), (200, ""));

    // Methods: added, and replaced by (operation, name, type).
    let method = |input: &str| {
        json!({"operationName": "getPetById", "methodName": "/pet/{petId}",
               "methodType": "GET", "inputType": input, "exampleInput": {"petId": 1}})
    };
    for input in ["application/json", "text/plain"] {
        let answer = app
            .post(&format!("{base}/petstore/methods"), method(input))
            .await;
        assert_eq!(answer.status, 200, "{}", answer.text);
    }
    let pets = app.get(&format!("{base}/petstore")).await.json();
    assert_eq!(
        methods(&pets),
        [triple("getPetById", "/pet/{petId}", "GET")]
    );
    assert_eq!(pets["methods"][0]["inputType"], "text/plain");
    assert!(pets["methods"][0]["id"].is_i64(), "{pets}");
    // HTTP services are not discovered over the network; the error says how to
    // add methods. Circuit breakers are never initialized (Orkes's 404).
    let discover = app
        .get(&format!("{base}/petstore/discover?create=true"))
        .await;
    assert_eq!(discover.status, 400, "{}", discover.text);
    assert!(discover.text.contains("/methods"), "{}", discover.text);
    for (method, path) in [
        ("GET", "circuit-breaker/status"),
        ("POST", "circuit-breaker/open"),
        ("POST", "circuit-breaker/close"),
    ] {
        let answer = app
            .call(method, &format!("{base}/petstore/{path}"), None)
            .await;
        assert_eq!(answer.status, 404, "{}", answer.text);
        assert!(answer.text.contains("not initialized"), "{}", answer.text);
    }
    // Proto files belong to gRPC services.
    let refused = app
        .raw(
            "POST",
            &format!("{base}/protos/petstore/api.bin"),
            "application/octet-stream",
            greeter_proto(),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.text);
    assert!(refused.text.contains("gRPC"), "{}", refused.text);

    // A gRPC service: its methods come from its compiled proto file.
    let answer = app
        .post(
            base,
            json!({"name": "greeter", "type": "gRPC", "serviceURI": "localhost:50051"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let hand = json!({"operationName": "greet.Greeter", "methodName": "Ping",
                      "methodType": "UNARY"});
    let answer = app.post(&format!("{base}/greeter/methods"), hand).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let proto = greeter_proto();
    let answer = app
        .raw(
            "POST",
            &format!("{base}/protos/greeter/greet.bin"),
            "application/octet-stream",
            proto.clone(),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let greeter = app.get(&format!("{base}/greeter")).await.json();
    assert_eq!(
        methods(&greeter),
        [
            triple("greet.Greeter", "Ping", "UNARY"),
            triple("greet.Greeter", "SayHello", "UNARY"),
            triple("greet.Greeter", "Chat", "BIDI_STREAMING"),
        ]
    );
    assert_eq!(greeter["methods"][1]["inputType"], "greet.HelloRequest");
    let discovered = app.get(&format!("{base}/greeter/discover")).await;
    assert_eq!(discovered.status, 200, "{}", discovered.text);
    assert_eq!(discovered.json().as_array().map(Vec::len), Some(3));
    let listed = app.get(&format!("{base}/protos/greeter")).await.json();
    assert_eq!(listed[0]["serviceName"], "greeter");
    assert_eq!(listed[0]["filename"], "greet.bin");
    let data = base64::engine::general_purpose::STANDARD
        .decode(listed[0]["data"].as_str().expect("data"))
        .expect("base64");
    assert_eq!(data, proto);
    let one = app.get(&format!("{base}/protos/greeter/greet.bin")).await;
    assert_eq!(one.status, 200, "{}", one.text);
    assert_eq!(one.content_type, "application/octet-stream");
    let junk = app
        .raw(
            "POST",
            &format!("{base}/protos/greeter/junk.bin"),
            "application/octet-stream",
            b"\x08\x96\x01\x12\x04\x08\x02\x10\x03".to_vec(),
        )
        .await;
    assert_eq!(junk.status, 400, "{}", junk.text);
    assert!(junk.text.contains("FileDescriptorSet"), "{}", junk.text);
    let missing = app.get(&format!("{base}/protos/greeter/junk.bin")).await;
    assert_eq!(missing.status, 404, "{}", missing.text);

    // Deleting the proto takes its methods; the one added by hand stays.
    let answer = app
        .call("DELETE", &format!("{base}/protos/greeter/greet.bin"), None)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    let greeter = app.get(&format!("{base}/greeter")).await.json();
    assert_eq!(
        methods(&greeter),
        [triple("greet.Greeter", "Ping", "UNARY")]
    );
    // A method is removed by its operation (`serviceName`), name and type.
    let remove =
        format!("{base}/greeter/methods?serviceName=greet.Greeter&method=Ping&methodType=UNARY");
    assert_eq!(app.call("DELETE", &remove, None).await.status, 200);
    assert_eq!(app.call("DELETE", &remove, None).await.status, 404);
    let partial = app
        .call(
            "DELETE",
            &format!("{base}/greeter/methods?method=Ping"),
            None,
        )
        .await;
    assert_eq!(partial.status, 400, "{}", partial.text);
    assert!(partial.text.contains("serviceName"), "{}", partial.text);

    let all = app.get(base).await.json();
    let names: Vec<&str> = all
        .as_array()
        .map(|l| l.iter().filter_map(|s| s["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["greeter", "petstore"]);
    // Deleting a service takes its methods and protos with it.
    let answer = app.call("DELETE", &format!("{base}/petstore"), None).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(app.get(&format!("{base}/petstore")).await.text, "");
    let again = app.call("DELETE", &format!("{base}/petstore"), None).await;
    assert_eq!(again.status, 404, "{}", again.text);
    let answer = app
        .post(
            base,
            json!({"name": "petstore", "type": "HTTP", "serviceURI": "http://x"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    assert_eq!(
        app.get(&format!("{base}/petstore")).await.json()["methods"],
        json!([])
    );
    app.stop().await;
}

#[tokio::test]
async fn what_is_not_a_service_or_method_is_refused_clearly() {
    let app = TestApp::spawn().await;
    let base = "/api/registry/service";
    for (body, says) in [
        (json!({"name": "a", "serviceURI": "http://x"}), "type"),
        (
            json!({"name": "a", "type": "SOAP", "serviceURI": "http://x"}),
            "SOAP",
        ),
        (
            json!({"name": "bad name!", "type": "HTTP", "serviceURI": "http://x"}),
            "Service name",
        ),
        (
            json!({"name": "a", "type": "HTTP", "serviceURI": " "}),
            "serviceURI",
        ),
        (
            json!({"name": "a", "type": "HTTP", "serviceURI": "x".repeat(3000)}),
            "serviceURI",
        ),
        (
            json!({"name": "a", "type": "HTTP", "serviceURI": "http://x",
                "methods": [{"operationName": "op", "methodType": "GET"}]}),
            "methodName",
        ),
        (json!(["a"]), "shape"),
    ] {
        let answer = app.post(base, body.clone()).await;
        assert_eq!(answer.status, 400, "{body}: {}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }
    // Nothing was stored by a refused request.
    assert_eq!(app.get(base).await.json(), json!([]));
    // A method is bounded, free-form parts included.
    let answer = app
        .post(
            base,
            json!({"name": "bounded", "type": "HTTP", "serviceURI": "http://x"}),
        )
        .await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    for (method, says) in [
        (
            json!({"operationName": "op", "methodName": "m", "methodType": "GET",
                "exampleInput": {"blob": "x".repeat(9000)}}),
            "8192 bytes",
        ),
        (
            json!({"operationName": "op", "methodName": "m".repeat(600), "methodType": "GET"}),
            "methodName",
        ),
    ] {
        let answer = app.post(&format!("{base}/bounded/methods"), method).await;
        assert_eq!(answer.status, 400, "{}", answer.text);
        assert!(answer.text.contains(says), "{says}: {}", answer.text);
    }
    assert_eq!(
        app.get(&format!("{base}/bounded")).await.json()["methods"],
        json!([])
    );
    let answer = app
        .post(
            &format!("{base}/nothing/methods"),
            json!({"operationName": "op", "methodName": "m", "methodType": "GET"}),
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    let answer = app
        .raw(
            "POST",
            &format!("{base}/protos/nothing/a.bin"),
            "application/octet-stream",
            greeter_proto(),
        )
        .await;
    assert_eq!(answer.status, 404, "{}", answer.text);
    app.stop().await;
}

#[tokio::test]
async fn only_metadata_managers_change_the_registry() {
    let app = TestApp::spawn().await;
    let base = "/api/registry/service";
    let service = json!({"name": "svc", "type": "gRPC", "serviceURI": "localhost:1"});
    let manager = application(&app, "manager", &["METADATA_MANAGER"]).await;
    let reader = application(&app, "reader", &["METADATA_API"]).await;
    let worker = application(&app, "worker", &["WORKER"]).await;
    let as_ = |who: &str, method: &'static str, path: String, body: Option<Value>| {
        let token = match who {
            "manager" => manager.token.clone(),
            "reader" => reader.token.clone(),
            _ => worker.token.clone(),
        };
        let app = &app;
        async move { app.call_as(Some(&token), method, &path, body).await }
    };
    let answer = as_("manager", "POST", base.into(), Some(service.clone())).await;
    assert_eq!(answer.status, 200, "{}", answer.text);
    // A reader reads, and changes nothing.
    let listed = as_("reader", "GET", base.into(), None).await;
    assert_eq!(listed.status, 200, "{}", listed.text);
    for (method, path, body) in [
        ("POST", base.to_string(), Some(service.clone())),
        ("DELETE", format!("{base}/svc"), None),
        (
            "POST",
            format!("{base}/svc/methods"),
            Some(json!({"operationName": "o", "methodName": "m", "methodType": "UNARY"})),
        ),
        (
            "DELETE",
            format!("{base}/svc/methods?serviceName=o&method=m&methodType=UNARY"),
            None,
        ),
        ("DELETE", format!("{base}/protos/svc/a.bin"), None),
        ("POST", format!("{base}/svc/circuit-breaker/open"), None),
    ] {
        let answer = as_("reader", method, path.clone(), body).await;
        assert_eq!(answer.status, 403, "{method} {path}: {}", answer.text);
        assert!(answer.text.contains("METADATA_MANAGER"), "{}", answer.text);
    }
    let upload = app
        .client_without_token()
        .post(format!("{}{base}/protos/svc/a.bin", app.base))
        .header("X-Authorization", &reader.token)
        .header("content-type", "application/octet-stream")
        .body(greeter_proto());
    assert_eq!(crate::helpers::answer_of(upload).await.status, 403);
    // A worker does not even read it.
    for path in [
        base.to_string(),
        format!("{base}/svc"),
        format!("{base}/protos/svc"),
    ] {
        let answer = as_("worker", "GET", path.clone(), None).await;
        assert_eq!(answer.status, 403, "{path}: {}", answer.text);
    }
    // Still as the manager left it.
    let svc = app.get(&format!("{base}/svc")).await.json();
    assert_eq!(svc["methods"], json!([]));
    app.stop().await;
}
