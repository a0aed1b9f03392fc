"""DO_WHILE built with the SDK: LoopTask (a counted loop, whose condition the SDK
writes as `$.<ref>.iteration < N`) over a worker task polled by hand, each iteration
named `<ref>__N`; DoWhileTask with a condition over an inner task's output; and a
condition that throws."""

from __future__ import annotations

from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.do_while_task import DoWhileTask, LoopTask
from conductor.client.workflow.task.inline import InlineTask
from conductor.client.workflow.task.simple_task import SimpleTask

from sdk_helpers import task_by_ref, unique, wait_for_workflow

WORKER = "py-sdk-loop-worker"


def test_a_counted_loop_runs_its_worker_task_once_per_iteration(executor, metadata, task_client):
    task_type = unique("py_loop_step")
    metadata.register_task_def(TaskDef(name=task_type, retry_count=0, response_timeout_seconds=120))
    step = SimpleTask(task_type, "step_ref")
    step.input_parameters.update({"round": "${loop_ref.output.iteration}"})
    wf = ConductorWorkflow(executor=executor, name=unique("py_loop_wf"), version=1)
    wf.add(LoopTask("loop_ref", 3, [step])).output_parameters(
        {"iterations": "${loop_ref.output.iteration}", "last": "${step_ref.output.seen}"}
    )
    wf.register(True)

    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={}))
    for n in (1, 2, 3):
        polled = []
        for _ in range(50):
            polled = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=500)
            if polled:
                break
        assert len(polled) == 1, f"iteration {n} was not handed out"
        task = polled[0]
        assert task.reference_task_name == f"step_ref__{n}"
        assert task.iteration == n
        assert task.input_data["round"] == n
        task_client.update_task(
            TaskResult(
                workflow_instance_id=workflow_id,
                task_id=task.task_id,
                status=TaskResultStatus.COMPLETED,
                output_data={"seen": n},
                worker_id=WORKER,
            )
        )
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"iterations": 3, "last": 3}
    loop = task_by_ref(done, "loop_ref")
    assert loop.task_type == "DO_WHILE"
    assert loop.output_data["iteration"] == 3
    assert loop.output_data["2"] == {"step_ref": {"seen": 2}}
    assert [t.reference_task_name for t in done.tasks] == ["loop_ref", "step_ref__1", "step_ref__2", "step_ref__3"]


def test_a_condition_over_an_inner_output_and_one_that_throws(executor):
    grow = InlineTask("grow_ref", "$.n * 3", bindings={"n": "${loop_ref.output.iteration}"})
    wf = ConductorWorkflow(executor=executor, name=unique("py_do_while_wf"), version=1)
    wf.add(DoWhileTask("loop_ref", "$.grow_ref['result'] < 10", [grow])).output_parameters(
        {"last": "${grow_ref.output.result}"}
    )
    wf.register(True)
    run = executor.execute(name=wf.name, version=1, workflow_input={}, wait_for_seconds=20)
    assert run.status == "COMPLETED", run
    assert run.output == {"last": 12}

    broken = ConductorWorkflow(executor=executor, name=unique("py_do_while_throws_wf"), version=1)
    broken.add(DoWhileTask("loop_ref", "$.nothing.here", [InlineTask("noop_ref", "1")]))
    broken.register(True)
    run = executor.execute(name=broken.name, version=1, workflow_input={}, wait_for_seconds=20)
    assert run.status == "FAILED", run
    loop = task_by_ref(executor.get_workflow(run.workflow_id, include_tasks=True), "loop_ref")
    assert loop.status == "FAILED_WITH_TERMINAL_ERROR"
    assert loop.reason_for_incompletion.startswith("Unable to evaluate condition $.nothing.here, exception")
