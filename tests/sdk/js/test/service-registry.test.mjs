// The service registry through the SDK's ServiceRegistryClient, as its own
// integration test uses it: a service with circuit breaker settings read back,
// methods added, a gRPC service's methods read from its compiled proto file, and
// a removed service read as "none".

import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { ServiceRegistryClient } from "@io-orkes/conductor-javascript";

import { unique, usePodium } from "../lib/fixture.mjs";

function varint(n) {
  const out = [];
  do {
    let byte = n & 0x7f;
    n >>>= 7;
    if (n) byte |= 0x80;
    out.push(byte);
  } while (n);
  return out;
}

/** A length-delimited protobuf field. */
function field(number, payload) {
  const bytes = typeof payload === "string" ? [...Buffer.from(payload)] : payload;
  return [...varint((number << 3) | 2), ...varint(bytes.length), ...bytes];
}

/** What `protoc --descriptor_set_out` writes for package `greet` with service
 * `Greeter` and a server-streaming method `Watch`. */
function greeterDescriptorSet() {
  const streaming = [6 << 3, 1]; // server_streaming = true
  const method = [
    ...field(1, "Watch"),
    ...field(2, ".greet.WatchRequest"),
    ...field(3, ".greet.Event"),
    ...streaming,
  ];
  const service = [...field(1, "Greeter"), ...field(2, method)];
  const file = [...field(1, "greet.proto"), ...field(2, "greet"), ...field(6, service)];
  return new Uint8Array(field(1, file));
}

describe("service registry", () => {
  const ctx = usePodium();

  test("services, methods and protos are kept as the client uses them", async () => {
    const registry = new ServiceRegistryClient(ctx.client);
    const name = unique("jsSdkTest_http_service");
    await registry.addOrUpdateService({
      name,
      type: "HTTP",
      serviceURI: "http://127.0.0.1:9/api-docs",
      config: { circuitBreakerConfig: { failureRateThreshold: 30, slidingWindowSize: 10 } },
    });
    const stored = await registry.getService(name);
    assert.equal(stored.serviceURI, "http://127.0.0.1:9/api-docs");
    assert.equal(stored.config.circuitBreakerConfig.failureRateThreshold, 30);
    assert.equal(stored.config.circuitBreakerConfig.minimumNumberOfCalls, 100);
    await registry.addOrUpdateServiceMethod(name, {
      operationName: "getPet",
      methodName: "/pet/{id}",
      methodType: "GET",
      inputType: "application/json",
      outputType: "application/json",
      exampleInput: { id: 1 },
    });
    const withMethod = await registry.getService(name);
    assert.deepEqual(
      withMethod.methods.map((m) => [m.operationName, m.methodName, m.methodType]),
      [["getPet", "/pet/{id}", "GET"]],
    );
    await assert.rejects(registry.discover(name, true), /methods/);
    await registry.removeService(name);
    assert.equal(await registry.getService(name), undefined);
  });

  test("a gRPC service's methods come from its compiled proto file", async () => {
    const registry = new ServiceRegistryClient(ctx.client);
    const name = unique("jsSdkTest_grpc_service");
    await registry.addOrUpdateService({ name, type: "gRPC", serviceURI: "localhost:50051" });
    const proto = greeterDescriptorSet();
    await registry.setProtoData(
      name,
      "greet.bin",
      new Blob([proto], { type: "application/octet-stream" }),
    );
    const service = await registry.getService(name);
    assert.deepEqual(
      service.methods.map((m) => [m.operationName, m.methodName, m.methodType, m.inputType]),
      [["greet.Greeter", "Watch", "SERVER_STREAMING", "greet.WatchRequest"]],
    );
    const protos = await registry.getAllProtos(name);
    assert.deepEqual(
      protos.map((p) => [p.serviceName, p.filename, Buffer.from(p.data, "base64").length]),
      [[name, "greet.bin", proto.length]],
    );
    await assert.rejects(registry.getCircuitBreakerStatus(name), /not initialized/);
    await registry.deleteProto(name, "greet.bin");
    assert.deepEqual((await registry.getService(name)).methods, []);
    await registry.removeService(name);
  });
});
