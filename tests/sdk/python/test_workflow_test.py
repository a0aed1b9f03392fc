"""WorkflowClient.test_workflow: a workflow, its definition sent inline, run with
its worker tasks' outputs mocked, a loop's iterations by their ref__N."""

from __future__ import annotations

from conductor.client.http.models.workflow_test_request import WorkflowTestRequest
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.do_while_task import LoopTask
from conductor.client.workflow.task.simple_task import SimpleTask

from sdk_helpers import unique


def test_a_workflow_runs_with_mocked_worker_tasks(executor, workflow_client):
    wf = ConductorWorkflow(executor=executor, name=unique("py_mocked_wf"), version=1)
    fetch = SimpleTask("fetch_user_details", "fetch_ref")
    fetch.input_parameters["userEmail"] = "${workflow.input.userEmail}"
    wf.add(fetch).add(LoopTask("loop_ref", 2, [SimpleTask("check_phone", "check_ref")]))
    wf.output_parameters({"account": "${fetch_ref.output.userAccount}", "valid": "${check_ref.output.valid}"})
    request = WorkflowTestRequest(
        name=wf.name,
        version=1,
        workflow_def=wf.to_workflow_def(),
        input={"userEmail": "user@example.com"},
        task_ref_to_mock_output={
            "fetch_ref": [{"status": "COMPLETED", "output": {"userAccount": 12345}}],
            "check_ref__1": [{"status": "COMPLETED", "output": {"valid": False}}],
            "check_ref__2": [{"status": "COMPLETED", "output": {"valid": True}}],
        },
    )
    run = workflow_client.test_workflow(request)
    assert run.status == "COMPLETED"
    assert run.output == {"account": 12345, "valid": True}
    assert len(run.tasks) == 4
    assert run.tasks[0].input_data["userEmail"] == "user@example.com"
