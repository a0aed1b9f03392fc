"""The service registry through the SDK's OrkesServiceRegistryClient: a gRPC
service whose methods come from its compiled proto file, a method added by hand,
the proto read back, and what is not served (discovery over the network, circuit
breakers never initialized) refused clearly."""

from __future__ import annotations

import pytest
from conductor.client.http.models.service_method import ServiceMethod
from conductor.client.http.models.service_registry import ServiceRegistry, ServiceType
from conductor.client.http.rest import ApiException
from conductor.client.orkes.orkes_service_registry_client import OrkesServiceRegistryClient

from sdk_helpers import unique


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        if n:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    """A length-delimited protobuf field."""
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


def greeter_descriptor_set() -> bytes:
    """What `protoc --descriptor_set_out` writes for a file declaring package
    `greet` with service `Greeter` and a unary method `SayHello`."""
    method = _field(1, b"SayHello") + _field(2, b".greet.HelloRequest") + _field(3, b".greet.HelloReply")
    service = _field(1, b"Greeter") + _field(2, method)
    file = _field(1, b"greet.proto") + _field(2, b"greet") + _field(6, service)
    return _field(1, file)


@pytest.fixture(scope="module")
def registry(config):
    return OrkesServiceRegistryClient(config)


def test_a_grpc_service_takes_its_methods_from_its_proto(registry):
    name = unique("py_grpc_service")
    service = ServiceRegistry()
    service.name = name
    service.type = ServiceType.GRPC.value
    service.service_uri = "localhost:50051"
    registry.add_or_update_service(service)

    stored = next(s for s in registry.get_registered_services() if s.name == name)
    assert stored.type == "gRPC"
    assert stored.service_uri == "localhost:50051"
    assert len(stored.methods) == 0
    breaker = stored.config.circuit_breaker_config
    assert (breaker.failure_rate_threshold, breaker.sliding_window_size) == (50, 100)

    method = ServiceMethod()
    method.operation_name = "greet.Greeter"
    method.method_name = "Ping"
    method.method_type = "UNARY"
    registry.add_or_update_method(name, method)
    assert [m.method_name for m in registry.get_service(name).methods] == ["Ping"]

    proto = greeter_descriptor_set()
    registry.set_proto_data(name, "greet.bin", proto)
    methods = registry.get_service(name).methods
    assert [(m.operation_name, m.method_name, m.method_type) for m in methods] == [
        ("greet.Greeter", "Ping", "UNARY"),
        ("greet.Greeter", "SayHello", "UNARY"),
    ]
    assert methods[1].input_type == "greet.HelloRequest"
    # The SDK cannot read a proto file back: get_proto_data and get_all_protos
    # decode into a model named "bytes" that the SDK does not have (the API tests
    # and the JavaScript SDK's test read the files back).
    assert len(registry.discover(name)) == 2

    # A file that is no descriptor set is refused, saying what is expected.
    with pytest.raises(ApiException) as refused:
        registry.set_proto_data(name, "junk.bin", b"\x08\x96\x01\x12\x04\x08\x02\x10\x03")
    assert refused.value.status == 400
    assert "FileDescriptorSet" in refused.value.body

    # No task calls a registered service, so no circuit breaker is initialized.
    with pytest.raises(ApiException) as breaker_refused:
        registry.get_circuit_breaker_status(name)
    assert breaker_refused.value.status == 404

    registry.remove_method(name, "greet.Greeter", "Ping", "UNARY")
    registry.delete_proto(name, "greet.bin")
    assert registry.get_service(name).methods == []
    registry.remove_service(name)
    assert all(s.name != name for s in registry.get_registered_services())


def test_an_http_service_is_not_discovered_over_the_network(registry):
    name = unique("py_http_service")
    service = ServiceRegistry()
    service.name = name
    service.type = ServiceType.HTTP.value
    service.service_uri = "http://127.0.0.1:9/api-docs"
    registry.add_or_update_service(service)
    with pytest.raises(ApiException) as refused:
        registry.discover(name, create=True)
    assert refused.value.status == 400
    assert "/methods" in refused.value.body
    registry.remove_service(name)
