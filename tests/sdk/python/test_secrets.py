"""Secrets through the Python SDK: OrkesSecretClient against Podium, and a worker
that gets a secret resolved into its input (the documented environment-specific
value, `${workflow.secrets.env-variable-1}`) while every view shows ***."""

from __future__ import annotations

import uuid

from conductor.client.http.models import StartWorkflowRequest, TaskDef, TaskResult, WorkflowDef, WorkflowTask
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.orkes.models.metadata_tag import MetadataTag

from sdk_helpers import expect_api_error, unique, wait_for_workflow


def test_secret_client_round_trip(clients):
    secrets = clients.get_secret_client()
    name = unique("py-secret")
    value = 'hello "world"\nline2'
    secrets.put_secret(name, value)
    assert secrets.get_secret(name) == value
    assert secrets.secret_exists(name) is True
    assert name in secrets.list_all_secret_names()
    assert name in secrets.list_secrets_that_user_can_grant_access_to()

    secrets.set_secret_tags([MetadataTag("team", "python")], name)
    assert [(t.key, t.value) for t in secrets.get_secret_tags(name)] == [("team", "python")]
    secrets.delete_secret_tags([MetadataTag("team", "python")], name)
    assert secrets.get_secret_tags(name) == []

    secrets.put_secret(name, "second value")
    assert secrets.get_secret(name) == "second value"
    secrets.delete_secret(name)
    # Orkes answers 404 for a secret that does not exist (the JS SDK relies on it).
    expect_api_error(lambda: secrets.secret_exists(name), 404)
    err = expect_api_error(lambda: secrets.get_secret(name), 404)
    assert name in str(err.body)
    expect_api_error(lambda: secrets.put_secret("bad.name", "v"), 400)


def test_a_worker_gets_the_secret_and_the_workflow_shows_stars(clients, metadata, workflow_client, task_client, executor):
    secrets = clients.get_secret_client()
    secret = f"env-variable-1-{uuid.uuid4().hex[:6]}"
    value = f"uat-endpoint-{uuid.uuid4().hex[:10]}"
    secrets.put_secret(secret, value)
    task_type = unique("py_secret_task")
    metadata.register_task_def(TaskDef(name=task_type, retry_count=0, response_timeout_seconds=120, timeout_seconds=300))
    wf_name = unique("py_secret_wf")
    metadata.register_workflow_def(
        WorkflowDef(
            name=wf_name,
            version=1,
            tasks=[
                WorkflowTask(
                    name=task_type,
                    task_reference_name="call",
                    type="SIMPLE",
                    input_parameters={"endpoint": "${workflow.secrets.%s}" % secret, "note": "plain"},
                )
            ],
        )
    )
    wid = workflow_client.start_workflow(StartWorkflowRequest(name=wf_name, version=1, input={}))
    task = task_client.poll_task(task_type, worker_id="py-secret-worker")
    assert task.workflow_instance_id == wid
    assert task.input_data["endpoint"] == value

    result = TaskResult(
        workflow_instance_id=wid,
        task_id=task.task_id,
        worker_id="py-secret-worker",
        status=TaskResultStatus.COMPLETED,
        output_data={"used": f"called {value}"},
    )
    task_client.update_task(result)
    workflow = wait_for_workflow(executor, wid, "COMPLETED")
    call = workflow.tasks[0]
    assert call.input_data["endpoint"] == "***"
    assert call.input_data["note"] == "plain"
    assert call.output_data["used"] == "called ***"
    assert value not in str(workflow_client.get_workflow(wid, include_tasks=True))
    secrets.delete_secret(secret)
