"""TaskClient driven by hand (no TaskHandler): polling, batch polling with a worker id
and a domain, long polls on an empty queue, updates (COMPLETED / FAILED / IN_PROGRESS
with callbackAfterSeconds, by reference name, sync), logs, queue sizes and poll data."""

from __future__ import annotations

import socket
import threading
import time
import uuid

import pytest
from conductor.client.http.models import StartWorkflowRequest, TaskDef, TaskResult, WorkflowDef, WorkflowTask
from conductor.client.http.models.task_result_status import TaskResultStatus

from sdk_helpers import eventually, expect_api_error, task_by_ref, unique, wait_for_workflow

WORKER = "py-sdk-test-worker"


@pytest.fixture(scope="module")
def task_type(metadata):
    name = unique("py_tasks_type")
    # No retries (a FAILED update fails the workflow); a response timeout far beyond the test.
    metadata.register_task_def(TaskDef(name=name, retry_count=0, response_timeout_seconds=120, timeout_seconds=300))
    return name


@pytest.fixture(scope="module")
def wf_name(metadata, task_type):
    name = unique("py_tasks_wf")
    metadata.register_workflow_def(
        WorkflowDef(
            name=name,
            version=1,
            tasks=[WorkflowTask(name=task_type, task_reference_name="work", type="SIMPLE", input_parameters={"i": "${workflow.input.i}"})],
            output_parameters={"result": "${work.output.result}"},
        )
    )
    return name


@pytest.fixture
def start(workflow_client, wf_name):
    started = []

    def _start(i, task_to_domain=None):
        wid = workflow_client.start_workflow(
            StartWorkflowRequest(name=wf_name, version=1, input={"i": i}, task_to_domain=task_to_domain)
        )
        started.append(wid)
        return wid

    yield _start
    # Leave no task in the shared queue for the next test.
    for wid in started:
        if workflow_client.get_workflow(wid, include_tasks=False).status in ("RUNNING", "PAUSED"):
            workflow_client.terminate_workflow(wid, reason="cleanup")


def poll_one(task_client, task_type, timeout_ms=500, domain=None):
    polled = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=timeout_ms, domain=domain)
    assert len(polled) == 1, f"expected one task of {task_type}, got {polled}"
    return polled[0]


def test_queue_size_batch_poll_poll_get_task_and_poll_data(task_client, task_type, start):
    ids = [start(1), start(2), start(3)]
    assert task_client.get_queue_size_for_task(task_type) == 3

    polled = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=2, timeout_in_millisecond=500)
    assert len(polled) == 2
    for task in polled:
        assert task.task_type == task_type
        assert task.reference_task_name == "work"
        assert task.status == "IN_PROGRESS"
        assert task.worker_id == WORKER
        assert task.poll_count == 1
        assert task.workflow_instance_id in ids
        assert task.input_data == {"i": ids.index(task.workflow_instance_id) + 1}
    assert task_client.get_queue_size_for_task(task_type) == 1

    third = task_client.poll_task(task_type, worker_id=WORKER)
    assert third.task_id and third.task_id not in {t.task_id for t in polled}
    assert third.status == "IN_PROGRESS"
    assert third.worker_id == WORKER
    assert task_client.get_queue_size_for_task(task_type) == 0
    # Nothing left: the single poll answers 204, which the SDK turns into an empty Task.
    empty = task_client.poll_task(task_type, worker_id=WORKER)
    assert empty is None or empty.task_id is None, f"expected no task, got {empty}"

    fetched = task_client.get_task(polled[0].task_id)
    assert fetched.task_id == polled[0].task_id
    assert fetched.status == "IN_PROGRESS"
    assert fetched.worker_id == WORKER
    assert fetched.start_time > 0

    poll_data = task_client.get_task_poll_data(task_type)
    mine = [p for p in poll_data if p.worker_id == WORKER]
    assert mine, f"poll data names {WORKER}: {poll_data}"
    assert mine[0].queue_name == task_type
    assert mine[0].last_poll_time > (time.time() - 60) * 1000


def test_poll_in_a_domain(task_client, task_type, start, workflow_client):
    domain = unique("blue")
    wid = start(21, task_to_domain={task_type: domain})
    assert workflow_client.get_workflow(wid).task_to_domain == {task_type: domain}

    # The task waits in the domain's queue: a poll without the domain does not see it.
    assert task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=200) == []
    empty = task_client.poll_task(task_type, worker_id=WORKER)
    assert empty is None or empty.task_id is None
    assert task_client.poll_task(task_type, worker_id=WORKER, domain=unique("other")).task_id is None

    task = task_client.poll_task(task_type, worker_id=WORKER, domain=domain)
    assert task.task_id, "a poll in the domain gets the task"
    assert task.workflow_instance_id == wid
    assert task.domain == domain
    assert task.input_data == {"i": 21}

    # Batch poll in a domain as well; "*" maps every task type to the domain.
    wid2 = start(22, task_to_domain={task_type: domain})
    batch = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=5, timeout_in_millisecond=500, domain=domain)
    assert [(t.workflow_instance_id, t.domain) for t in batch] == [(wid2, domain)]
    wid3 = start(23, task_to_domain={"*": domain})
    assert task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=200) == []
    batch = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=5, timeout_in_millisecond=500, domain=domain)
    assert [(t.workflow_instance_id, t.domain) for t in batch] == [(wid3, domain)]

    mine = [p for p in task_client.get_task_poll_data(task_type) if p.worker_id == WORKER and p.domain == domain]
    assert mine, "poll data records the domain of the poll"


def test_queue_size_of_a_type_does_not_count_its_domain_queues(task_client, task_type, start):
    domain = unique("green")
    start(24, task_to_domain={task_type: domain})
    # Conductor's /tasks/queue/sizes reads the queue named after the type alone; the
    # domain's queue is "<domain>:<type>", which the same call reports under that name.
    assert task_client.get_queue_size_for_task(task_type) == 0
    assert task_client.get_queue_size_for_task(f"{domain}:{task_type}") == 1
    start(25)
    assert task_client.get_queue_size_for_task(task_type) == 1


def test_long_poll_on_an_empty_queue_waits_about_the_timeout(task_client):
    empty_type = unique("py_tasks_empty")
    began = time.monotonic()
    assert task_client.batch_poll_tasks(empty_type, worker_id=WORKER, count=1, timeout_in_millisecond=1000) == []
    waited = time.monotonic() - began
    assert 0.8 <= waited < 4.0, f"a 1000 ms long poll took {waited:.2f}s"

    # A short timeout answers accordingly sooner.
    began = time.monotonic()
    assert task_client.batch_poll_tasks(empty_type, worker_id=WORKER, count=1, timeout_in_millisecond=100) == []
    assert time.monotonic() - began < 2.0


def test_long_poll_returns_a_task_that_arrives_while_waiting(task_client, task_type, start):
    result = {}

    def poll():
        began = time.monotonic()
        result["tasks"] = task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=3000)
        result["waited"] = time.monotonic() - began

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.5)
    wid = start(31)
    poller.join(timeout=10)
    assert [t.workflow_instance_id for t in result["tasks"]] == [wid]
    assert result["waited"] < 2.8, f"the poll should end when the task arrives, took {result['waited']:.2f}s"


def test_update_completed_with_output_and_logs(task_client, executor, task_type, start):
    wid = start(10)
    task = poll_one(task_client, task_type)
    assert task.workflow_instance_id == wid
    result = TaskResult(
        workflow_instance_id=wid,
        task_id=task.task_id,
        status=TaskResultStatus.COMPLETED,
        output_data={"result": "done-10"},
        worker_id=WORKER,
    )
    result.log("from the result")
    assert task_client.update_task(result) == task.task_id

    updated = task_client.get_task(task.task_id)
    assert updated.status == "COMPLETED"
    assert updated.output_data == {"result": "done-10"}
    assert updated.end_time >= updated.start_time > 0
    assert [log.log for log in task_client.get_task_logs(task.task_id)] == ["from the result"]
    assert wait_for_workflow(executor, wid, "COMPLETED").output == {"result": "done-10"}


def test_update_failed_fails_the_workflow(task_client, executor, task_type, start):
    wid = start(11)
    task = poll_one(task_client, task_type)
    task_client.update_task(
        TaskResult(
            workflow_instance_id=wid,
            task_id=task.task_id,
            status=TaskResultStatus.FAILED,
            reason_for_incompletion="worker says no",
            output_data={"partial": True},
        )
    )
    failed = task_client.get_task(task.task_id)
    assert failed.status == "FAILED"
    assert failed.reason_for_incompletion == "worker says no"
    assert failed.output_data == {"partial": True}
    wf = wait_for_workflow(executor, wid, "FAILED")
    assert "worker says no" in (wf.reason_for_incompletion or "")
    assert wf.failed_reference_task_names and "work" in wf.failed_reference_task_names


def test_in_progress_with_callback_after_seconds_requeues_later(task_client, executor, task_type, start):
    wid = start(12)
    task = poll_one(task_client, task_type)
    task_client.update_task(
        TaskResult(
            workflow_instance_id=wid,
            task_id=task.task_id,
            status=TaskResultStatus.IN_PROGRESS,
            callback_after_seconds=2,
            output_data={"step": 1},
        )
    )
    updated_at = time.monotonic()
    kept = task_client.get_task(task.task_id)
    # Conductor puts a worker task that reports IN_PROGRESS back to SCHEDULED.
    assert kept.status == "SCHEDULED"
    assert kept.output_data == {"step": 1}, "an IN_PROGRESS update keeps its output"

    # Not before the callback delay...
    assert task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=300) == []
    # ...but after it, the same task comes back with its output and a higher poll count.
    again = eventually(
        lambda: task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=1, timeout_in_millisecond=200),
        timeout=10,
        interval=0.05,
        what="the task to be polled again after callbackAfterSeconds",
    )[0]
    waited = time.monotonic() - updated_at
    assert again.task_id == task.task_id
    assert again.poll_count == 2
    assert again.output_data == {"step": 1}
    assert waited >= 1.5, f"re-polled after {waited:.2f}s, callbackAfterSeconds was 2"

    task_client.update_task(
        TaskResult(workflow_instance_id=wid, task_id=task.task_id, status=TaskResultStatus.COMPLETED, output_data={"result": "done-12"})
    )
    assert wait_for_workflow(executor, wid, "COMPLETED").output == {"result": "done-12"}


def test_updates_after_the_end_are_ignored_and_unknown_tasks_are_404(task_client, executor, task_type, start):
    wid = start(16)
    task = poll_one(task_client, task_type)
    task_client.update_task(
        TaskResult(workflow_instance_id=wid, task_id=task.task_id, status=TaskResultStatus.COMPLETED, output_data={"result": "first"})
    )
    wait_for_workflow(executor, wid, "COMPLETED")
    # Conductor accepts a late result for a finished task and ignores it.
    late = task_client.update_task(
        TaskResult(workflow_instance_id=wid, task_id=task.task_id, status=TaskResultStatus.FAILED, output_data={"result": "late"})
    )
    assert late == task.task_id
    kept = task_client.get_task(task.task_id)
    assert (kept.status, kept.output_data) == ("COMPLETED", {"result": "first"})
    assert executor.get_workflow(wid).status == "COMPLETED"

    missing = str(uuid.uuid4())
    err = expect_api_error(
        lambda: task_client.update_task(
            TaskResult(workflow_instance_id=wid, task_id=missing, status=TaskResultStatus.COMPLETED, output_data={})
        ),
        404,
    )
    assert missing in err.message, err.body


def test_tasks_of_a_terminated_workflow_are_not_handed_out(task_client, executor, task_type, start):
    wid = start(17)
    executor.terminate(wid, reason="stop before polling")
    assert task_by_ref(executor.get_workflow(wid, include_tasks=True), "work").status == "CANCELED"
    assert task_client.get_queue_size_for_task(task_type) == 0
    assert task_client.batch_poll_tasks(task_type, worker_id=WORKER, count=5, timeout_in_millisecond=200) == []


def test_update_by_reference_name(task_client, executor, start):
    wid = start(13)
    # TaskClient wraps the output as {"result": output}; the server stores what arrives.
    answer = task_client.update_task_by_ref_name(wid, "work", "IN_PROGRESS", {"progress": 50})
    task = task_by_ref(executor.get_workflow(wid, include_tasks=True), "work")
    assert answer == task.task_id, "the answer is the task id"
    assert task.status == "SCHEDULED", "an IN_PROGRESS update leaves a worker task SCHEDULED"
    assert task.output_data == {"result": {"progress": 50}}

    # The SDK always sends workerid=<hostname>; Conductor records it on the task.
    assert task.worker_id == socket.gethostname()

    # WorkflowExecutor.update_task_by_ref_name sends the output map itself. Conductor
    # merges it into the output the task already has.
    second = executor.update_task_by_ref_name({"final": "by-ref"}, wid, "work", "COMPLETED")
    assert second == task.task_id
    done = wait_for_workflow(executor, wid, "COMPLETED")
    work = task_by_ref(done, "work")
    assert work.status == "COMPLETED"
    assert work.output_data == {"result": {"progress": 50}, "final": "by-ref"}
    assert done.output == {"result": {"progress": 50}}


def test_update_task_sync_answers_the_workflow(task_client, executor, start):
    wid = start(14)
    wf = task_client.update_task_sync(wid, "work", "COMPLETED", {"result": "sync"})
    assert wf.workflow_id == wid
    work = task_by_ref(wf, "work")
    assert work.status == "COMPLETED"
    assert work.output_data == {"result": "sync"}
    assert wait_for_workflow(executor, wid, "COMPLETED").output == {"result": "sync"}


def test_task_logs(task_client, executor, start):
    wid = start(15)
    task_id = task_by_ref(executor.get_workflow(wid, include_tasks=True), "work").task_id
    assert not task_client.get_task_logs(task_id), "no logs yet"
    lines = ["plain line", "second line with spaces", 'with "quotes" and a\nnewline']
    for line in lines:
        task_client.add_task_log(task_id, line)
    logs = task_client.get_task_logs(task_id)
    assert [log.log for log in logs] == lines
    for log in logs:
        assert log.task_id == task_id
        assert isinstance(log.created_time, int) and log.created_time > 0


def test_unknown_task_id_is_404(task_client):
    missing = str(uuid.uuid4())
    err = expect_api_error(lambda: task_client.get_task(missing), 404)
    assert missing in err.message, err.body
