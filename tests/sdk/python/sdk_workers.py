"""@worker_task workers for test_workers.py.

They live at module top level because TaskHandler runs each worker in a process
started with "spawn": the child re-imports this module by name. The task names carry
the run id from conftest (PODIUM_SDK_RUN_ID, inherited by the children), so parent and
children agree on them. Only test_workers.py imports this module: TaskHandler's
scan_for_annotated_workers picks up every decorated function imported so far.
"""

# No `from __future__ import annotations` here: the SDK maps task input to parameters
# through the annotations with isinstance(), which fails on string annotations.
import os
import uuid
from typing import Union

from conductor.client.context.task_context import TaskInProgress, get_task_context
from conductor.client.http.models.task_def import TaskDef
from conductor.client.worker.exception import NonRetryableException
from conductor.client.worker.worker_task import worker_task

RUN = os.environ.setdefault("PODIUM_SDK_RUN_ID", uuid.uuid4().hex[:8])

UPPER = f"py_upper_{RUN}"
ADD = f"py_add_{RUN}"
GREET = f"py_greet_{RUN}"
PROGRESS = f"py_progress_{RUN}"
FAIL = f"py_fail_{RUN}"

UPPER_WORKER_ID = "py-upper-worker"


@worker_task(task_definition_name=UPPER, poll_interval_millis=100, worker_id=UPPER_WORKER_ID)
def upper(text: str) -> dict:
    return {"upper": text.upper(), "length": len(text)}


@worker_task(task_definition_name=ADD, poll_interval_millis=100, thread_count=2)
def add(a: int, b: int) -> dict:
    return {"sum": a + b}


@worker_task(task_definition_name=GREET, poll_interval_millis=100)
def greet(upper: str, total: int) -> str:
    get_task_context().add_log(f"greeting {upper}")
    # Not a dict: the SDK reports it as {"result": <value>}.
    return f"hello {upper}, sum {total}"


# This worker registers its own task definition at start (PUT /metadata/taskdefs, then
# POST when the definition does not exist yet), from this template.
PROGRESS_TASK_DEF = TaskDef(
    name=PROGRESS,
    description="registered by the worker",
    retry_count=0,
    timeout_policy="RETRY",
    timeout_seconds=120,
    response_timeout_seconds=30,
)


@worker_task(task_definition_name=PROGRESS, poll_interval_millis=100, register_task_def=True, task_def=PROGRESS_TASK_DEF)
def progress(label: str) -> Union[dict, TaskInProgress]:
    polls = get_task_context().get_poll_count()
    if polls < 2:
        # IN_PROGRESS with callbackAfterSeconds=1: the server hands the task out again later.
        return TaskInProgress(callback_after_seconds=1, output={"stage": "working", "label": label})
    return {"stage": "done", "label": label, "polls": polls}


@worker_task(task_definition_name=FAIL, poll_interval_millis=100)
def fail(mode: str) -> dict:
    if mode == "terminal":
        raise NonRetryableException(f"cannot do {mode}")
    raise ValueError(f"worker failed: {mode}")
