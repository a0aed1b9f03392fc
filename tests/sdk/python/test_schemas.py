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


def test_a_task_definition_enforcing_its_schemas(schemas, metadata, executor, task_client):
    from conductor.client.http.models import TaskDef, TaskResult
    from conductor.client.http.models.task_result_status import TaskResultStatus
    from conductor.client.workflow.conductor_workflow import ConductorWorkflow
    from conductor.client.workflow.task.simple_task import SimpleTask

    from sdk_helpers import task_by_ref, wait_for_workflow

    in_name, out_name = unique("py_task_in"), unique("py_task_out")
    for name, required in ((in_name, "orderId"), (out_name, "receipt")):
        data = {"type": "object", "required": [required], "properties": {required: {"type": "string"}}}
        schemas.register_schema(SchemaDef(name=name, version=1, type=SchemaType.JSON, data=data))
    task = unique("py_charge")
    # As the SDK's worker registration links them: {name, version}.
    metadata.register_task_def(
        TaskDef(
            name=task,
            retry_count=0,
            response_timeout_seconds=120,
            input_schema=SchemaDef(name=in_name, version=1),
            output_schema=SchemaDef(name=out_name, version=1),
            enforce_schema=True,
        )
    )
    wf = ConductorWorkflow(executor=executor, name=unique("py_task_schema_wf"), version=1)
    charge = SimpleTask(task, "charge")
    charge.input_parameters.update({"orderId": "${workflow.input.orderId}"})
    wf.add(charge)
    wf.register(True)

    # Input that breaks the task's schema: the task fails before any worker sees it.
    bad_input = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"orderId": 7}))
    assert task_client.batch_poll_tasks(task, worker_id="py-schema", count=1, timeout_in_millisecond=300) == []
    failed = wait_for_workflow(executor, bad_input, "FAILED")
    assert "Task input does not match schema" in task_by_ref(failed, "charge").reason_for_incompletion

    # Output that breaks it fails the task.
    run = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"orderId": "o-1"}))
    polled = []
    for _ in range(20):
        polled = task_client.batch_poll_tasks(task, worker_id="py-schema", count=1, timeout_in_millisecond=500)
        if polled:
            break
    assert polled and polled[0].workflow_instance_id == run
    task_client.update_task(
        TaskResult(
            workflow_instance_id=run,
            task_id=polled[0].task_id,
            status=TaskResultStatus.COMPLETED,
            output_data={"note": "no receipt"},
            worker_id="py-schema",
        )
    )
    failed = wait_for_workflow(executor, run, "FAILED")
    assert "Task output does not match schema" in task_by_ref(failed, "charge").reason_for_incompletion
