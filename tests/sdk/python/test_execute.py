"""Synchronous execution (POST /workflow/execute/{name}/{version}) of workflows made only of
system tasks: SET_VARIABLE, SWITCH and WAIT. No workers run here."""

from __future__ import annotations

import time
import uuid

import pytest
from conductor.client.http.models import StartWorkflowRequest
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.set_variable_task import SetVariableTask
from conductor.client.workflow.task.fork_task import ForkTask
from conductor.client.workflow.task.switch_task import SwitchTask
from conductor.client.workflow.task.terminate_task import TerminateTask, WorkflowStatus
from conductor.client.workflow.task.wait_task import WaitTask, WaitUntilTask

from sdk_helpers import task_by_ref, unique, wait_for_workflow


def set_vars(ref: str, **variables) -> SetVariableTask:
    task = SetVariableTask(ref)
    task.input_parameters.update(variables)
    return task


@pytest.fixture(scope="module")
def routed_wf(executor):
    """SET_VARIABLE, then a SWITCH on input.kind: "fast" sets a variable, "stop" ends the
    run as FAILED through a TERMINATE task, anything else WAITs 1 s first."""
    wf = ConductorWorkflow(executor=executor, name=unique("py_exec_routed"), version=1)
    route = (
        SwitchTask("route_ref", "${workflow.input.kind}")
        .switch_case("fast", [set_vars("fast_vars", path="fast")])
        .switch_case("stop", [TerminateTask("stop_ref", WorkflowStatus.FAILED, "stopped by the switch")])
        .default_case([WaitTask("slow_wait", wait_for_seconds=1), set_vars("slow_vars", path="slow")])
    )
    wf.add(set_vars("init_vars", greeting="hi ${workflow.input.name}")).add(route)
    wf.output_parameters({"greeting": "${workflow.variables.greeting}", "path": "${workflow.variables.path}"})
    wf.register(True)
    return wf


def test_execute_a_registered_workflow_of_system_tasks(executor, routed_wf):
    run = executor.execute(name=routed_wf.name, version=1, workflow_input={"name": "ada", "kind": "fast"}, correlation_id="corr-exec")
    assert run.status == "COMPLETED"
    assert run.output == {"greeting": "hi ada", "path": "fast"}
    assert run.correlation_id == "corr-exec"
    assert run.input == {"name": "ada", "kind": "fast"}
    assert run.variables == {"greeting": "hi ada", "path": "fast"}
    assert executor.get_workflow(run.workflow_id).status == "COMPLETED"

    began = time.monotonic()
    run = executor.execute(name=routed_wf.name, version=1, workflow_input={"name": "bo", "kind": "slow"}, wait_for_seconds=15)
    took = time.monotonic() - began
    assert run.status == "COMPLETED", f"execute answered {run.status} after {took:.1f}s"
    assert run.output == {"greeting": "hi bo", "path": "slow"}
    assert took >= 0.9, "the WAIT task's second passed before the answer"
    wf = executor.get_workflow(run.workflow_id, include_tasks=True)
    assert task_by_ref(wf, "route_ref").task_type == "SWITCH"
    assert task_by_ref(wf, "slow_wait").status == "COMPLETED"
    assert task_by_ref(wf, "fast_vars") is None


def test_execute_a_run_that_a_terminate_task_fails(executor, routed_wf):
    run = executor.execute(name=routed_wf.name, version=1, workflow_input={"name": "di", "kind": "stop"})
    assert run.status == "FAILED"
    wf = executor.get_workflow(run.workflow_id, include_tasks=True)
    assert wf.reason_for_incompletion == "stopped by the switch"
    stop = task_by_ref(wf, "stop_ref")
    assert (stop.task_type, stop.status) == ("TERMINATE", "COMPLETED")
    assert task_by_ref(wf, "slow_wait") is None, "the default case did not run"


def test_execute_fork_join_and_wait_until(executor):
    # ForkTask without join_on: ConductorWorkflow adds the JOIN (join_<ref>) after it.
    fork = ForkTask("fork_ref", [[set_vars("left_vars", left="L")], [WaitTask("right_wait", wait_for_seconds=1)]])
    wf = ConductorWorkflow(executor=executor, name=unique("py_exec_fork"), version=1)
    # A WAIT until a moment in the past completes at once.
    wf.add(fork).add(WaitUntilTask("until_ref", "2020-01-01 00:00 GMT")).add(set_vars("after_vars", done=True))
    wf.output_parameters({"left": "${workflow.variables.left}", "done": "${workflow.variables.done}"})
    definition = wf.to_workflow_def()
    assert [t.type for t in definition.tasks] == ["FORK_JOIN", "JOIN", "WAIT", "SET_VARIABLE"]
    wf.register(True)

    run = executor.execute(name=wf.name, version=1, workflow_input={}, wait_for_seconds=15)
    assert run.status == "COMPLETED"
    assert run.output == {"left": "L", "done": True}
    done = executor.get_workflow(run.workflow_id, include_tasks=True)
    join = task_by_ref(done, "join_fork_ref")
    assert (join.task_type, join.status) == ("JOIN", "COMPLETED")
    assert task_by_ref(done, "right_wait").status == "COMPLETED"
    assert task_by_ref(done, "until_ref").status == "COMPLETED"


def test_execute_workflow_with_a_request_and_request_id(executor, routed_wf):
    request_id = str(uuid.uuid4())
    run = executor.execute_workflow(
        StartWorkflowRequest(name=routed_wf.name, version=1, input={"name": "cy", "kind": "fast"}),
        wait_for_seconds=10,
        request_id=request_id,
    )
    assert run.status == "COMPLETED"
    assert run.request_id == request_id
    assert run.output == {"greeting": "hi cy", "path": "fast"}
    assert [t.reference_task_name for t in run.tasks] == ["init_vars", "route_ref", "fast_vars"]
    assert all(t.status == "COMPLETED" for t in run.tasks)


def test_conductor_workflow_execute_runs_an_unregistered_definition(executor, metadata):
    name = unique("py_exec_inline")
    wf = ConductorWorkflow(executor=executor, name=name)
    wf.add(set_vars("vars", seen="${workflow.input.seen}")).output_parameters({"seen": "${workflow.variables.seen}"})
    # The request embeds the definition; the path always says version 1.
    run = wf.execute(workflow_input={"seen": "yes"}, wait_for_seconds=10)
    assert run.status == "COMPLETED"
    assert run.output == {"seen": "yes"}
    assert executor.get_workflow(run.workflow_id).workflow_name == name


def test_execute_returns_when_a_blocking_wait_is_reached(executor, task_client):
    wf = ConductorWorkflow(executor=executor, name=unique("py_exec_blocking"), version=1)
    # A WAIT with neither duration nor until waits for an external update.
    wf.add(set_vars("before", step=1)).add(WaitTask("hold")).add(set_vars("after", step=2))
    wf.output_parameters({"step": "${workflow.variables.step}", "approved": "${hold.output.approved}"})
    wf.register(True)

    began = time.monotonic()
    run = executor.execute(name=wf.name, version=1, workflow_input={}, wait_for_seconds=10)
    took = time.monotonic() - began
    assert run.status == "RUNNING"
    assert took < 5, f"execute should answer at the blocking WAIT, not after waitForSeconds ({took:.1f}s)"
    hold = task_by_ref(executor.get_workflow(run.workflow_id, include_tasks=True), "hold")
    assert (hold.task_type, hold.status) == ("WAIT", "IN_PROGRESS")

    task_client.update_task_by_ref_name(run.workflow_id, "hold", "COMPLETED", {"approved": True})
    done = wait_for_workflow(executor, run.workflow_id, "COMPLETED", timeout=15)
    # update_task_by_ref_name wraps the output as {"result": ...}.
    assert done.variables == {"step": 2}
    assert task_by_ref(done, "hold").output_data == {"result": {"approved": True}}


def test_execute_returns_a_running_workflow_when_the_wait_ends_first(executor):
    wf = ConductorWorkflow(executor=executor, name=unique("py_exec_slow"), version=1)
    wf.add(WaitTask("long_wait", wait_for_seconds=30))
    wf.register(True)
    began = time.monotonic()
    run = executor.execute(name=wf.name, version=1, workflow_input={}, wait_for_seconds=1)
    took = time.monotonic() - began
    assert run.status == "RUNNING"
    assert 0.8 <= took < 5, f"waitForSeconds=1 answered after {took:.1f}s"
    executor.terminate(run.workflow_id, reason="cleanup")


def test_execute_until_a_task_reference(executor):
    wf = ConductorWorkflow(executor=executor, name=unique("py_exec_until"), version=1)
    wf.add(set_vars("first_vars", a=1)).add(WaitTask("pause", wait_for_seconds=3)).add(set_vars("last_vars", b=2))
    wf.register(True)
    began = time.monotonic()
    run = executor.execute_workflow(
        StartWorkflowRequest(name=wf.name, version=1, input={}), wait_until_task_ref="first_vars", wait_for_seconds=10
    )
    took = time.monotonic() - began
    assert run.status == "RUNNING"
    assert took < 2.5, f"execute should answer once first_vars is done ({took:.1f}s)"
    done = wait_for_workflow(executor, run.workflow_id, "COMPLETED", timeout=15)
    assert done.variables == {"a": 1, "b": 2}
