"""Schemas through the SDK's schema client, as conductor-python's own integration
test uses it (its document is stored as given), and a workflow that enforces its
input schema refusing input that breaks it."""

from __future__ import annotations

import pytest
from conductor.client.http.models import StartWorkflowRequest
from conductor.client.http.models.schema_def import SchemaDef, SchemaType
from conductor.client.http.rest import ApiException

from sdk_helpers import unique


@pytest.fixture(scope="module")
def schemas(clients):
    return clients.get_schema_client()


def test_the_sdks_schema_lifecycle(schemas):
    name = unique("py_schema")
    document = {
        "name": "schema-test",
        "type": "JSON",
        "data": {"type": "object", "properties": {"$schema": "http://json-schema.org/draft-07/schema"}},
    }
    schemas.register_schema(
        SchemaDef(name=name, version=1, type=SchemaType.JSON, data=document, external_ref="http://example.com")
    )
    schemas.register_schema(SchemaDef(name=name, version=2, type=SchemaType.JSON, data=document))
    got = schemas.get_schema(name, 1)
    assert (got.name, got.version, got.type) == (name, 1, SchemaType.JSON)
    assert got.data == document
    assert {(s.name, s.version) for s in schemas.get_all_schemas() if s.name == name} == {(name, 1), (name, 2)}
    schemas.delete_schema(name, 2)
    with pytest.raises(ApiException) as missing:
        schemas.get_schema(name, 2)
    assert missing.value.status == 404
    schemas.delete_schema_by_name(name)
    with pytest.raises(ApiException):
        schemas.get_schema(name, 1)


def test_a_workflow_refuses_input_that_breaks_its_schema(schemas, metadata, executor):
    from conductor.client.http.models.workflow_def import WorkflowDef
    from conductor.client.http.models.workflow_task import WorkflowTask

    schema_name = unique("py_order_input")
    schemas.register_schema(
        SchemaDef(
            name=schema_name,
            version=1,
            type=SchemaType.JSON,
            data={"type": "object", "required": ["orderId"], "properties": {"orderId": {"type": "string"}}},
        )
    )
    wf_name = unique("py_schema_wf")
    definition = WorkflowDef(
        name=wf_name,
        version=1,
        tasks=[WorkflowTask(name="noop", task_reference_name="n", type="NOOP")],
        input_schema=SchemaDef(name=schema_name, version=1),
        enforce_schema=True,
    )
    metadata.register_workflow_def(definition, overwrite=True)
    assert executor.start_workflow(StartWorkflowRequest(name=wf_name, version=1, input={"orderId": "o-1"}))
    with pytest.raises(ApiException) as refused:
        executor.start_workflow(StartWorkflowRequest(name=wf_name, version=1, input={"amount": 3}))
    assert refused.value.status == 400
    assert "orderId" in str(refused.value.body)
