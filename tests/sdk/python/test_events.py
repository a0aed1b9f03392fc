"""Event handlers through the SDK's EventResourceApi, and an EVENT task whose
event a handler turns into the completion of another workflow's WAIT task: one
workflow signalling another through Podium alone."""

from __future__ import annotations

import pytest
from conductor.client.http.api.event_resource_api import EventResourceApi
from conductor.client.http.api_client import ApiClient
from conductor.client.http.models import StartWorkflowRequest, WorkflowDef, WorkflowTask
from conductor.client.http.models.event_handler import EventHandler
from conductor.client.http.rest import ApiException

from sdk_helpers import task_by_ref, unique, wait_for_workflow


@pytest.fixture(scope="module")
def events(config):
    return EventResourceApi(ApiClient(config))


def test_an_event_task_completes_another_workflows_wait_through_a_handler(events, metadata, executor, workflow_client):
    waiter, publisher = unique("py_waiter"), unique("py_publisher")
    metadata.register_workflow_def(
        WorkflowDef(name=waiter, version=1, tasks=[WorkflowTask(name="wait", task_reference_name="wait", type="WAIT")]),
        overwrite=True,
    )
    metadata.register_workflow_def(
        WorkflowDef(
            name=publisher,
            version=1,
            tasks=[
                WorkflowTask(
                    name="announce",
                    task_reference_name="announce",
                    type="EVENT",
                    sink="conductor:ready",
                    input_parameters={"target": "${workflow.input.target}", "note": "${workflow.input.note}"},
                )
            ],
        ),
        overwrite=True,
    )
    name = unique("py_handler")
    event = f"conductor:{publisher}:ready"
    handler = EventHandler(
        name=name,
        event=event,
        active=True,
        condition="$.note != null",
        actions=[
            {
                "action": "complete_task",
                "complete_task": {
                    "workflowId": "${target}",
                    "taskRefName": "wait",
                    "output": {"note": "${note}", "from": "${workflowInstanceId}"},
                },
            }
        ],
    )
    events.add_event_handler(handler)
    assert name in [h.name for h in events.get_event_handlers()]
    assert [h.name for h in events.get_event_handlers_for_event(event, active_only=True)] == [name]
    with pytest.raises(ApiException) as taken:
        events.add_event_handler(handler)
    assert taken.value.status == 409

    target = workflow_client.start_workflow(StartWorkflowRequest(name=waiter, version=1, input={}))
    source = workflow_client.start_workflow(
        StartWorkflowRequest(name=publisher, version=1, input={"target": target, "note": "hello"})
    )
    done = wait_for_workflow(executor, target, "COMPLETED")
    wait = task_by_ref(done, "wait")
    assert wait.output_data["note"] == "hello"
    assert wait.output_data["from"] == source
    announced = task_by_ref(wait_for_workflow(executor, source, "COMPLETED"), "announce")
    assert announced.output_data["event_produced"] == event

    handler.active = False
    events.update_event_handler(handler)
    assert events.get_event_handlers_for_event(event, active_only=True) == []
    assert [h.name for h in events.get_event_handlers_for_event(event, active_only=False)] == [name]
    events.remove_event_handler_status(name)
    assert name not in [h.name for h in events.get_event_handlers()]
    with pytest.raises(ApiException) as missing:
        events.remove_event_handler_status(name)
    assert missing.value.status == 404
