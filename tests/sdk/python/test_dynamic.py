"""Dynamic tasks built with the SDK: DynamicTask runs the worker task its input names
(polled by hand here), and DynamicForkTask with its JoinTask starts the branches a
worker's output lists, each with its input, and joins their outputs. A HumanTask
waits in progress until it is completed through the task client."""

from __future__ import annotations

from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.http.models.task_result import TaskResult
from conductor.client.http.models.task_result_status import TaskResultStatus
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.dynamic_fork_task import DynamicForkTask
from conductor.client.workflow.task.dynamic_task import DynamicTask
from conductor.client.workflow.task.join_task import JoinTask
from conductor.client.workflow.task.simple_task import SimpleTask

from sdk_helpers import task_by_ref, unique, wait_for_workflow

WORKER = "py-sdk-dynamic-worker"


def poll_one(task_client, task_type):
    for _ in range(50):
        polled = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=500)
        if polled:
            return polled[0]
    raise AssertionError(f"no {task_type} task was handed out")


def complete(task_client, task, output):
    task_client.update_task(
        TaskResult(
            workflow_instance_id=task.workflow_instance_id,
            task_id=task.task_id,
            status=TaskResultStatus.COMPLETED,
            output_data=output,
            worker_id=WORKER,
        )
    )


def test_a_dynamic_task_runs_the_task_its_input_names(executor, metadata, task_client):
    chosen = unique("py_dynamic_chosen")
    metadata.register_task_def(TaskDef(name=chosen, retry_count=0, response_timeout_seconds=120))
    wf = ConductorWorkflow(executor=executor, name=unique("py_dynamic_wf"), version=1)
    wf.add(DynamicTask("${workflow.input.task}", "dyn_ref")).output_parameters({"got": "${dyn_ref.output.got}"})
    wf.register(True)

    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={"task": chosen}))
    task = poll_one(task_client, chosen)
    assert task.reference_task_name == "dyn_ref"
    assert task.task_def_name == chosen
    assert task.input_data["taskToExecute"] == chosen
    # The chosen task's definition governs it (its lease).
    assert task.response_timeout_seconds == 120
    complete(task_client, task, {"got": "it"})
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"got": "it"}


def test_a_dynamic_fork_starts_what_a_worker_lists(executor, metadata, task_client):
    planner, step = unique("py_fork_plan"), unique("py_fork_step")
    for name in (planner, step):
        metadata.register_task_def(TaskDef(name=name, retry_count=0, response_timeout_seconds=120))
    plan = SimpleTask(planner, "plan_ref")
    fan = DynamicForkTask("fan_ref")
    fan.input_parameters.update(
        {"dynamicTasks": "${plan_ref.output.tasks}", "dynamicTasksInputs": "${plan_ref.output.inputs}"}
    )
    wf = ConductorWorkflow(executor=executor, name=unique("py_dynamic_fork_wf"), version=1)
    wf.add(plan).add(fan).add(JoinTask("fan_join")).output_parameters({"joined": "${fan_join.output}"})
    wf.register(True)

    workflow_id = executor.start_workflow(StartWorkflowRequest(name=wf.name, version=1, input={}))
    planned = poll_one(task_client, planner)
    branches = [{"name": step, "taskReferenceName": f"part_{i}", "type": "SIMPLE"} for i in range(3)]
    complete(task_client, planned, {"tasks": branches, "inputs": {f"part_{i}": {"n": i} for i in range(3)}})
    seen = {}
    for _ in range(3):
        task = poll_one(task_client, step)
        seen[task.reference_task_name] = task.input_data["n"]
        complete(task_client, task, {"square": task.input_data["n"] ** 2})
    assert seen == {"part_0": 0, "part_1": 1, "part_2": 2}
    done = wait_for_workflow(executor, workflow_id, "COMPLETED")
    assert done.output == {"joined": {f"part_{i}": {"square": i * i} for i in range(3)}}
    fork = task_by_ref(done, "fan_ref")
    assert fork.task_type == "FORK"
    assert fork.input_data["forkedTasks"] == ["part_0", "part_1", "part_2"]
