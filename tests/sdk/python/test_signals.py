"""Signals and variables through the SDK: WorkflowExecutor.signal (synchronous, with
return strategies) and signal_async complete a workflow's waiting tasks, down into
a sub-workflow's YIELD tasks; WorkflowClient.update_variables sets variables of a
running workflow."""

from __future__ import annotations

from conductor.client.http.models import StartWorkflowRequest
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.inline import InlineTask
from conductor.client.workflow.task.sub_workflow_task import SubWorkflowTask
from conductor.client.workflow.task.wait_task import WaitTask
from conductor.client.http.models.workflow_task import WorkflowTask

from sdk_helpers import unique, wait_for_workflow


def yield_task(ref: str) -> WorkflowTask:
    return WorkflowTask(name=ref, task_reference_name=ref, type="YIELD", input_parameters={})


def test_signals_complete_waiting_tasks_in_sub_workflows(executor, metadata, workflow_client):
    inner = ConductorWorkflow(executor=executor, name=unique("py_yield_wf"), version=1)
    inner_def = inner.to_workflow_def()
    inner_def.tasks = [yield_task("first"), yield_task("second")]
    inner_def.output_parameters = {"second": "${second.output.ok}"}
    metadata.register_workflow_def(inner_def, overwrite=True)

    outer = ConductorWorkflow(executor=executor, name=unique("py_signal_wf"), version=1)
    outer.add(WaitTask("hold_ref"))
    outer.add(SubWorkflowTask("inner_ref", inner.name, version=1))
    outer.add(InlineTask("done_ref", "$.v", bindings={"v": "${workflow.variables.approved}"}))
    outer.output_parameters({"approved": "${done_ref.output.result}", "inner": "${inner_ref.output.second}"})
    outer.register(True)

    workflow_id = executor.start_workflow(StartWorkflowRequest(name=outer.name, version=1, input={}))
    # Default strategy: the target workflow, waiting in the sub-workflow now.
    run = executor.signal(workflow_id, "COMPLETED", {"note": "go"})
    assert run.response_type == "TARGET_WORKFLOW"
    assert run.target_workflow_id == workflow_id
    assert run.status == "RUNNING"

    workflow_client.update_variables(workflow_id, {"approved": "yes"})

    executor.signal_async(workflow_id, "COMPLETED", {"step": 1})
    run = executor.signal(workflow_id, "COMPLETED", {"ok": True}, return_strategy="BLOCKING_WORKFLOW")
    assert run.response_type == "BLOCKING_WORKFLOW"
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"approved": "yes", "inner": True}
    assert done.variables["approved"] == "yes"


def test_a_blocking_task_strategy_names_the_task_that_waits(executor, metadata):
    wf = ConductorWorkflow(executor=executor, name=unique("py_signal_task_wf"), version=1)
    definition = wf.to_workflow_def()
    definition.tasks = [yield_task("a_ref"), yield_task("b_ref")]
    metadata.register_workflow_def(definition, overwrite=True)
    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={}))
    run = executor.signal(workflow_id, "COMPLETED", {"x": 1}, return_strategy="BLOCKING_TASK")
    assert run.response_type == "BLOCKING_TASK"
    assert run.reference_task_name == "b_ref"
    assert run.task_type == "YIELD"
    assert run.workflow_id == workflow_id
    executor.signal_async(workflow_id, "COMPLETED", {"y": 2})
    wait_for_workflow(executor, workflow_id, "COMPLETED")
