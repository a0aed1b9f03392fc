"""Workers end to end: @worker_task functions run by TaskHandler (one process per worker),
a workflow built with ConductorWorkflow + SimpleTask, several runs started through
WorkflowExecutor / WorkflowClient, synchronous execution while the workers run,
TaskInProgress re-polls and worker failures."""

from __future__ import annotations

import time

import pytest
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.simple_task import SimpleTask

import sdk_workers
from sdk_helpers import contains_diff, eventually, task_by_ref, tasks_by_ref, unique, wait_for_workflow, wire

WORKER_NAMES = {sdk_workers.UPPER, sdk_workers.ADD, sdk_workers.GREET, sdk_workers.PROGRESS, sdk_workers.FAIL}


@pytest.fixture(scope="module")
def task_handler(config):
    handler = TaskHandler(workers=[], configuration=config, scan_for_annotated_workers=True)
    try:
        # The scan takes every decorated function imported in this process: only ours.
        assert {w.get_task_definition_name() for w in handler.workers} == WORKER_NAMES
        handler.start_processes()
        yield handler
    finally:
        # Stops the worker processes (SIGTERM, then SIGKILL after 5 s) and the log relay.
        handler.stop_processes()


@pytest.fixture(scope="module")
def greeting_wf(executor, task_handler):
    """upper(name) and add(a, b) feed greet(upper, total); the workflow outputs all three."""
    wf = ConductorWorkflow(executor=executor, name=unique("py_workers_wf"), version=1, description="SDK workers")
    # A decorated worker called with task_ref_name builds its SimpleTask.
    up = sdk_workers.upper(task_ref_name="upper_ref", text="${workflow.input.name}")
    add = SimpleTask(sdk_workers.ADD, "add_ref")
    add.input_parameters.update({"a": "${workflow.input.a}", "b": "${workflow.input.b}"})
    greet = SimpleTask(sdk_workers.GREET, "greet_ref")
    greet.input_parameters.update({"upper": up.output("upper"), "total": add.output("sum")})
    wf.add(up).add(add).add(greet)
    wf.input_parameters(["name", "a", "b"])
    wf.output_parameters(
        {
            "upper": up.output("upper"),
            "length": up.output("length"),
            "sum": add.output("sum"),
            "greeting": greet.output("result"),
        }
    )
    wf.register(True)
    return wf


def expected_output(name, a, b):
    return {
        "upper": name.upper(),
        "length": len(name),
        "sum": a + b,
        "greeting": f"hello {name.upper()}, sum {a + b}",
    }


def test_builder_definition_is_accepted_as_built(metadata, greeting_wf):
    got = metadata.get_workflow_def(greeting_wf.name, version=1)
    assert contains_diff(wire(got), wire(greeting_wf.to_workflow_def())) == []
    assert [t.type for t in got.tasks] == ["SIMPLE", "SIMPLE", "SIMPLE"]
    assert [t.name for t in got.tasks] == [sdk_workers.UPPER, sdk_workers.ADD, sdk_workers.GREET]


def test_several_workflows_complete_through_the_workers(executor, workflow_client, task_client, greeting_wf):
    inputs = [("ada", 1, 2), ("grace", 10, 20), ("linus", 5, -5), ("margaret", 100, 1), ("ken", 7, 8)]
    requests = [
        StartWorkflowRequest(
            name=greeting_wf.name, version=1, input={"name": n, "a": a, "b": b}, correlation_id=f"corr-workers-{i}"
        )
        for i, (n, a, b) in enumerate(inputs)
    ]
    ids = executor.start_workflows(*requests[:3])
    ids.append(workflow_client.start_workflow(requests[3]))
    # Starting from the builder embeds the definition in the request.
    ids.append(greeting_wf.start_workflow_with_input({"name": "ken", "a": 7, "b": 8}, correlation_id="corr-workers-4"))
    assert len(set(ids)) == 5

    runs = [wait_for_workflow(executor, wid, timeout=60) for wid in ids]
    for i, (wf, (name, a, b)) in enumerate(zip(runs, inputs)):
        assert wf.status == "COMPLETED", f"{wf.workflow_id}: {wf.reason_for_incompletion}"
        assert wf.correlation_id == f"corr-workers-{i}"
        assert wf.output == expected_output(name, a, b)

        up, add, greet = (task_by_ref(wf, ref) for ref in ("upper_ref", "add_ref", "greet_ref"))
        assert [t.status for t in (up, add, greet)] == ["COMPLETED"] * 3
        assert up.input_data == {"text": name}
        assert up.output_data == {"upper": name.upper(), "length": len(name)}
        assert up.worker_id == sdk_workers.UPPER_WORKER_ID
        assert add.output_data == {"sum": a + b}
        # Outputs flow from task to task.
        assert greet.input_data == {"upper": name.upper(), "total": a + b}
        assert greet.output_data == {"result": f"hello {name.upper()}, sum {a + b}"}
        assert all(t.poll_count == 1 for t in (up, add, greet))

    # The worker's task-context log travelled with its result.
    greet_id = task_by_ref(runs[0], "greet_ref").task_id
    assert [log.log for log in task_client.get_task_logs(greet_id)] == ["greeting ADA"]
    # Nothing is left in the queues.
    for name in (sdk_workers.UPPER, sdk_workers.ADD, sdk_workers.GREET):
        assert task_client.get_queue_size_for_task(name) == 0


def test_execute_returns_the_completed_run_while_workers_run(executor, greeting_wf):
    run = executor.execute(
        name=greeting_wf.name,
        version=1,
        workflow_input={"name": "sync", "a": 2, "b": 3},
        wait_for_seconds=30,
        correlation_id="corr-execute",
    )
    assert run.status == "COMPLETED", f"{run.workflow_id}: {run.status}"
    assert run.output == expected_output("sync", 2, 3)
    assert run.correlation_id == "corr-execute"
    assert run.workflow_id
    assert executor.get_workflow(run.workflow_id).status == "COMPLETED"

    # ConductorWorkflow.execute embeds the definition (and always says version 1).
    run = greeting_wf.execute(workflow_input={"name": "built", "a": 4, "b": 4}, wait_for_seconds=30)
    assert run.status == "COMPLETED"
    assert run.output == expected_output("built", 4, 4)


def test_task_in_progress_is_polled_again_after_the_callback(executor, task_handler):
    wf = ConductorWorkflow(executor=executor, name=unique("py_workers_progress"), version=1)
    step = SimpleTask(sdk_workers.PROGRESS, "progress_ref")
    step.input_parameters.update({"label": "${workflow.input.label}"})
    wf.add(step).output_parameters({"stage": step.output("stage"), "polls": step.output("polls")})
    began = time.monotonic()
    wid = wf.start_workflow_with_input({"label": "job-1"})
    done = wait_for_workflow(executor, wid, timeout=30)
    assert done.status == "COMPLETED", done.reason_for_incompletion
    assert time.monotonic() - began >= 0.9, "the callback delay (1 s) was honoured"
    assert done.output == {"stage": "done", "polls": 2}
    task = task_by_ref(done, "progress_ref")
    assert task.poll_count == 2
    assert task.output_data == {"stage": "done", "label": "job-1", "polls": 2}
    assert len(tasks_by_ref(done, "progress_ref")) == 1, "re-polls reuse the same task"


def test_a_worker_registers_its_task_definition(metadata, task_handler):
    got = eventually(
        lambda: next((d for d in metadata.get_all_task_defs() if d.name == sdk_workers.PROGRESS), None),
        what=f"the worker to register {sdk_workers.PROGRESS}",
    )
    assert contains_diff(wire(got), wire(sdk_workers.PROGRESS_TASK_DEF)) == []


def test_worker_exceptions_fail_tasks_and_retries_follow_the_task_def(executor, metadata, task_handler):
    # One retry, no delay: a plain exception is retried, NonRetryableException is not.
    metadata.register_task_def(TaskDef(name=sdk_workers.FAIL, retry_count=1, retry_delay_seconds=0, retry_logic="FIXED"))
    wf = ConductorWorkflow(executor=executor, name=unique("py_workers_fail"), version=1)
    step = SimpleTask(sdk_workers.FAIL, "fail_ref")
    step.input_parameters.update({"mode": "${workflow.input.mode}"})
    wf.add(step)
    wf.register(True)

    soft = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"mode": "soft"}))
    hard = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"mode": "terminal"}))

    soft_wf = wait_for_workflow(executor, soft, timeout=30)
    assert soft_wf.status == "FAILED"
    attempts = tasks_by_ref(soft_wf, "fail_ref")
    assert [t.status for t in attempts] == ["FAILED", "FAILED"], "one retry after the first failure"
    assert [t.retry_count for t in attempts] == [0, 1]
    assert attempts[0].reason_for_incompletion == "worker failed: soft"
    assert "worker failed: soft" in soft_wf.reason_for_incompletion

    hard_wf = wait_for_workflow(executor, hard, timeout=30)
    assert hard_wf.status == "FAILED"
    attempts = tasks_by_ref(hard_wf, "fail_ref")
    assert [t.status for t in attempts] == ["FAILED_WITH_TERMINAL_ERROR"], "a terminal error is not retried"
    assert attempts[0].reason_for_incompletion == "cannot do terminal"
    assert "cannot do terminal" in hard_wf.reason_for_incompletion
