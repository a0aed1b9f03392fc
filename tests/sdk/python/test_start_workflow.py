"""A StartWorkflowTask built with the SDK starts another workflow, which runs on its
own (no parent), and completes with its id at once; an exclusive join after a
switch takes the output of the case that ran."""

from __future__ import annotations

from conductor.client.http.models import StartWorkflowRequest
from conductor.client.http.models.workflow_task import WorkflowTask
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.inline import InlineTask
from conductor.client.workflow.task.start_workflow_task import StartWorkflowTask
from conductor.client.workflow.task.switch_task import SwitchTask

from sdk_helpers import task_by_ref, unique, wait_for_workflow


def test_a_start_workflow_task_starts_a_workflow_and_does_not_wait(executor):
    child = ConductorWorkflow(executor=executor, name=unique("py_started_wf"), version=1)
    child.add(InlineTask("sq_ref", "$.n * $.n", bindings={"n": "${workflow.input.n}"})).output_parameters(
        {"square": "${sq_ref.output.result}"}
    )
    child.register(True)
    launcher = ConductorWorkflow(executor=executor, name=unique("py_launcher_wf"), version=1)
    launcher.add(
        StartWorkflowTask("start_ref", child.name, StartWorkflowRequest(name=child.name, input={"n": 7}), version=1)
    ).output_parameters({"started": "${start_ref.output.workflowId}"})
    launcher.register(True)

    workflow_id = executor.start_workflow(StartWorkflowRequest(name=launcher.name, version=1, input={}))
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    started = done.output["started"]
    assert task_by_ref(done, "start_ref").task_type == "START_WORKFLOW"
    run = wait_for_workflow(executor, started, "COMPLETED")
    assert run.output == {"square": 49}
    assert run.parent_workflow_id is None


def test_an_exclusive_join_takes_the_output_of_the_case_that_ran(executor, metadata):
    route = SwitchTask("route_ref", "${workflow.input.pick}")
    route.switch_case("a", [InlineTask("a_ref", "'from a'")])
    route.switch_case("b", [InlineTask("b_ref", "'from b'")])
    wf = ConductorWorkflow(executor=executor, name=unique("py_exclusive_wf"), version=1)
    wf.add(route).output_parameters({"joined": "${ej.output.result}"})
    definition = wf.to_workflow_def()
    definition.tasks.append(
        WorkflowTask(name="ej", task_reference_name="ej", type="EXCLUSIVE_JOIN", join_on=["a_ref", "b_ref"])
    )
    metadata.register_workflow_def(definition, overwrite=True)
    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"pick": "b"}))
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"joined": "from b"}
    assert task_by_ref(done, "ej").task_type == "EXCLUSIVE_JOIN"
