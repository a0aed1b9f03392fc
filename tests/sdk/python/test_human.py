"""A HumanTask built with the SDK waits in progress, polled by no worker, until it is
completed through the task client; its __humanTaskDefinition is input like any
other."""

from __future__ import annotations

from conductor.client.http.models import StartWorkflowRequest
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.human_task import HumanTask

from sdk_helpers import task_by_ref, unique, wait_for_workflow


def test_a_human_task_waits_until_it_is_completed(executor, task_client):
    wf = ConductorWorkflow(executor=executor, name=unique("py_human_wf"), version=1)
    wf.add(HumanTask("approve_ref", display_name="Approve")).output_parameters(
        {"approved": "${approve_ref.output.approved}"}
    )
    wf.register(True)
    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={}))
    human = task_by_ref(executor.get_workflow(workflow_id, include_tasks=True), "approve_ref")
    assert human.task_type == "HUMAN"
    assert human.status == "IN_PROGRESS"
    assert human.input_data["__humanTaskDefinition"]["displayName"] == "Approve"
    task_client.update_task(
        TaskResult(
            workflow_instance_id=workflow_id,
            task_id=human.task_id,
            status=TaskResultStatus.COMPLETED,
            output_data={"approved": True},
        )
    )
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"approved": True}
