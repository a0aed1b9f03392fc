"""WorkflowClient / WorkflowExecutor: start, read, list, pause, terminate, restart, retry,
rerun, skip, remove and search. No workers here: the tests complete tasks themselves."""

from __future__ import annotations

import re
import time
import uuid

import pytest
from conductor.client.http.models import (
    RerunWorkflowRequest,
    SkipTaskRequest,
    StartWorkflowRequest,
    TaskDef,
    TaskResult,
    WorkflowDef,
    WorkflowTask,
)
from conductor.client.http.models.correlation_ids_search_request import CorrelationIdsSearchRequest
from conductor.client.http.models.task_result_status import TaskResultStatus

from sdk_helpers import (
    eventually,
    expect_api_error,
    pending_task,
    task_by_ref,
    tasks_by_ref,
    unique,
    wait_for_workflow,
)

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


@pytest.fixture(scope="module")
def wf_name(metadata):
    """A registered two-task workflow: first(n) -> second(prev=first.v); outputs both."""
    first, second, name = unique("py_ops_first"), unique("py_ops_second"), unique("py_ops_wf")
    # No retries, so a FAILED task fails the workflow at once.
    metadata.metadataResourceApi.register_task_def(body=[TaskDef(name=first, retry_count=0), TaskDef(name=second, retry_count=0)])
    metadata.register_workflow_def(
        WorkflowDef(
            name=name,
            version=1,
            tasks=[
                WorkflowTask(name=first, task_reference_name="first", type="SIMPLE", input_parameters={"n": "${workflow.input.n}"}),
                WorkflowTask(name=second, task_reference_name="second", type="SIMPLE", input_parameters={"prev": "${first.output.v}"}),
            ],
            input_parameters=["n"],
            output_parameters={"first": "${first.output.v}", "second": "${second.output.v}"},
            timeout_seconds=0,
        )
    )
    return name


def finish(executor, workflow_id, ref, output, status="COMPLETED"):
    """Completes (or fails) the pending task `ref` through WorkflowExecutor.update_task."""
    task = pending_task(executor, workflow_id, ref)
    answer = executor.update_task(task.task_id, workflow_id, output, status)
    assert answer == task.task_id, "POST /tasks answers the task id"
    return task


def run_to_completion(executor, workflow_id, n):
    finish(executor, workflow_id, "first", {"v": f"first-{n}"})
    finish(executor, workflow_id, "second", {"v": f"second-{n}"})
    return wait_for_workflow(executor, workflow_id, "COMPLETED")


def start(workflow_client, name, n, correlation_id=None, **kwargs):
    return workflow_client.start_workflow(
        StartWorkflowRequest(name=name, version=1, input={"n": n}, correlation_id=correlation_id, **kwargs)
    )


class TestStartAndRead:
    def test_start_request_get_with_and_without_tasks_and_status(self, workflow_client, executor, wf_name):
        wid = workflow_client.start_workflow(
            StartWorkflowRequest(name=wf_name, version=1, input={"n": 1}, correlation_id="corr-read", priority=5)
        )
        assert isinstance(wid, str) and UUID_RE.match(wid), wid

        wf = workflow_client.get_workflow(wid, include_tasks=True)
        assert (wf.workflow_id, wf.status, wf.workflow_name, wf.workflow_version) == (wid, "RUNNING", wf_name, 1)
        assert wf.input == {"n": 1}
        assert wf.correlation_id == "corr-read"
        assert wf.priority == 5
        assert [(t.reference_task_name, t.status) for t in wf.tasks] == [("first", "SCHEDULED")]
        assert wf.tasks[0].input_data == {"n": 1}
        assert wf.tasks[0].workflow_instance_id == wid

        # The SDK leaves includeTasks out when it is False, so the server default (true) applies.
        assert len(executor.get_workflow(wid, include_tasks=False).tasks) == 1
        # The generated API does send includeTasks=false.
        bare = workflow_client.workflowResourceApi.get_execution_status(wid, include_tasks=False)
        assert bare.workflow_id == wid
        assert not bare.tasks, "includeTasks=false leaves the tasks out"

        status = workflow_client.get_workflow_status(wid, include_output=True, include_variables=True)
        assert (status.workflow_id, status.status, status.correlation_id) == (wid, "RUNNING", "corr-read")

        done = run_to_completion(executor, wid, 1)
        assert done.output == {"first": "first-1", "second": "second-1"}
        second = task_by_ref(done, "second")
        assert second.input_data == {"prev": "first-1"}, "the first task's output feeds the second task"
        final = executor.get_workflow_status(wid, include_output=True)
        assert final.status == "COMPLETED"
        assert final.output == {"first": "first-1", "second": "second-1"}

    def test_start_by_name_without_version_runs_the_latest(self, metadata, workflow_client, executor):
        name = unique("py_ops_versions")
        for version in (1, 2):
            metadata.register_workflow_def(
                WorkflowDef(
                    name=name,
                    version=version,
                    tasks=[WorkflowTask(name="vars", task_reference_name="vars", type="SET_VARIABLE", input_parameters={"version": version})],
                    output_parameters={"version": "${workflow.variables.version}", "x": "${workflow.input.x}"},
                )
            )
        wid = workflow_client.start_workflow_by_name(name, {"x": "by-name"}, correlationId="corr-by-name")
        wf = wait_for_workflow(executor, wid, "COMPLETED")
        assert wf.workflow_version == 2
        assert wf.output == {"version": 2, "x": "by-name"}
        assert wf.correlation_id == "corr-by-name"

        wid1 = workflow_client.start_workflow_by_name(name, {"x": "v1"}, version=1)
        assert wait_for_workflow(executor, wid1, "COMPLETED").output == {"version": 1, "x": "v1"}

    def test_running_list_and_correlation_ids(self, workflow_client, executor, wf_name):
        corr_a, corr_b = unique("corr_a"), unique("corr_b")
        a1 = start(workflow_client, wf_name, 11, corr_a)
        a2 = start(workflow_client, wf_name, 12, corr_a)
        b1 = start(workflow_client, wf_name, 13, corr_b)
        run_to_completion(executor, a2, 12)

        running = workflow_client.workflowResourceApi.get_running_workflow(wf_name, version=1)
        assert {a1, b1} <= set(running), running
        assert a2 not in running, "a completed workflow is not running"

        closed = workflow_client.get_by_correlation_ids(wf_name, [corr_a, corr_b], include_completed=True, include_tasks=True)
        assert sorted(w.workflow_id for w in closed[corr_a]) == sorted([a1, a2])
        assert [w.workflow_id for w in closed[corr_b]] == [b1]
        assert {w.workflow_id: w.status for w in closed[corr_a]} == {a1: "RUNNING", a2: "COMPLETED"}
        assert all(w.tasks for w in closed[corr_a]), "includeTasks=true returns the tasks"

        open_only = workflow_client.get_by_correlation_ids(wf_name, [corr_a], include_completed=False)
        assert [w.workflow_id for w in open_only[corr_a]] == [a1], "without includeClosed only running workflows"

        # GET /workflow/{name}/correlated/{correlationId} (generated API).
        one = workflow_client.workflowResourceApi.get_workflows2(wf_name, corr_a, include_closed=True)
        assert sorted(w.workflow_id for w in one) == sorted([a1, a2])
        # The batch form names the workflows in the body (POST /workflow/correlated/batch).
        # (WorkflowExecutor.get_by_correlation_ids_and_names cannot be used: in SDK 2.0.0 it
        # passes a keyword argument the client does not take.)
        batch = workflow_client.get_by_correlation_ids_in_batch(
            CorrelationIdsSearchRequest(correlation_ids=[corr_a, corr_b], workflow_names=[wf_name]), include_completed=True
        )
        assert sorted(w.workflow_id for w in batch[corr_a]) == sorted([a1, a2])
        assert [w.workflow_id for w in batch[corr_b]] == [b1]

        for wid in (a1, b1):
            workflow_client.terminate_workflow(wid, reason="cleanup")


class TestControl:
    def test_pause_and_resume(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 3)
        executor.pause(wid)
        assert executor.get_workflow(wid).status == "PAUSED"

        # A paused workflow accepts task results but schedules nothing new.
        finish(executor, wid, "first", {"v": "first-3"})
        time.sleep(0.5)
        paused = executor.get_workflow(wid, include_tasks=True)
        assert paused.status == "PAUSED"
        assert task_by_ref(paused, "first").status == "COMPLETED"
        assert task_by_ref(paused, "second") is None, "nothing is scheduled while paused"

        executor.resume(wid)
        resumed = eventually(
            lambda: (lambda wf: wf if wf.status == "RUNNING" and task_by_ref(wf, "second") else None)(
                executor.get_workflow(wid, include_tasks=True)
            ),
            what="the resumed workflow to schedule 'second'",
        )
        assert task_by_ref(resumed, "second").input_data == {"prev": "first-3"}
        finish(executor, wid, "second", {"v": "second-3"})
        assert wait_for_workflow(executor, wid, "COMPLETED").output == {"first": "first-3", "second": "second-3"}

        # Resuming a workflow that is not paused is an error.
        expect_api_error(lambda: executor.resume(wid), (400, 409, 500))

    def test_terminate_with_reason_then_restart(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 4, "corr-restart")
        executor.terminate(wid, reason="stopped by the test")
        terminated = executor.get_workflow(wid, include_tasks=True)
        assert terminated.status == "TERMINATED"
        assert terminated.reason_for_incompletion == "stopped by the test"
        assert task_by_ref(terminated, "first").status == "CANCELED"

        executor.restart(wid)
        restarted = executor.get_workflow(wid, include_tasks=True)
        assert restarted.workflow_id == wid, "restart keeps the workflow id"
        assert restarted.status == "RUNNING"
        assert restarted.correlation_id == "corr-restart"
        assert restarted.input == {"n": 4}
        assert [(t.reference_task_name, t.status) for t in restarted.tasks] == [("first", "SCHEDULED")]
        assert restarted.tasks[0].task_id != task_by_ref(terminated, "first").task_id

        done = run_to_completion(executor, wid, 4)
        assert done.output == {"first": "first-4", "second": "second-4"}

        # Terminating a completed workflow is refused (Conductor: 409).
        expect_api_error(lambda: executor.terminate(wid, reason="too late"), 409)
        assert executor.get_workflow(wid).status == "COMPLETED"
        # Restarting a running workflow is refused too (Conductor: 409).
        running = start(workflow_client, wf_name, 44)
        expect_api_error(lambda: executor.restart(running), 409)
        executor.terminate(running, reason="cleanup")

    def test_fail_a_task_then_retry(self, workflow_client, task_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 5)
        finish(executor, wid, "first", {"v": "first-5"})
        second = pending_task(executor, wid, "second")
        answer = task_client.update_task(
            TaskResult(
                workflow_instance_id=wid,
                task_id=second.task_id,
                status=TaskResultStatus.FAILED,
                reason_for_incompletion="boom from the test",
                output_data={"error": "boom"},
            )
        )
        assert answer == second.task_id
        failed = wait_for_workflow(executor, wid, "FAILED")
        assert task_by_ref(failed, "second").status == "FAILED"
        assert task_by_ref(failed, "second").reason_for_incompletion == "boom from the test"
        assert "boom from the test" in (failed.reason_for_incompletion or ""), failed.reason_for_incompletion

        executor.retry(wid)
        retried = executor.get_workflow(wid, include_tasks=True)
        assert retried.status == "RUNNING"
        seconds = tasks_by_ref(retried, "second")
        assert [t.status for t in seconds] == ["FAILED", "SCHEDULED"], "the failed attempt stays, a new one is scheduled"
        assert seconds[1].retried_task_id == second.task_id
        assert seconds[1].retry_count == 1
        assert task_by_ref(retried, "first").status == "COMPLETED", "completed tasks are kept"

        finish(executor, wid, "second", {"v": "second-5"})
        assert wait_for_workflow(executor, wid, "COMPLETED").output == {"first": "first-5", "second": "second-5"}
        # Retrying a workflow that did not fail is an error.
        expect_api_error(lambda: executor.retry(wid), (400, 404, 409))

    def test_rerun_with_new_input_and_from_a_task(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 6)
        run_to_completion(executor, wid, 6)

        answer = executor.rerun(RerunWorkflowRequest(workflow_input={"n": 66}), wid)
        assert answer == wid, "rerun answers the (same) workflow id"
        rerun = executor.get_workflow(wid, include_tasks=True)
        assert rerun.status == "RUNNING"
        assert rerun.input == {"n": 66}
        assert [(t.reference_task_name, t.status) for t in rerun.tasks] == [("first", "SCHEDULED")]
        assert rerun.tasks[0].input_data == {"n": 66}
        done = run_to_completion(executor, wid, 66)
        assert done.output == {"first": "first-66", "second": "second-66"}

        second_id = task_by_ref(done, "second").task_id
        workflow_client.rerun_workflow(wid, RerunWorkflowRequest(re_run_from_task_id=second_id))
        from_task = executor.get_workflow(wid, include_tasks=True)
        assert from_task.status == "RUNNING"
        assert task_by_ref(from_task, "first").status == "COMPLETED", "tasks before the rerun task are kept"
        assert task_by_ref(from_task, "second").status == "SCHEDULED"
        finish(executor, wid, "second", {"v": "second-again"})
        assert wait_for_workflow(executor, wid, "COMPLETED").output == {"first": "first-66", "second": "second-again"}

    def test_skip_a_task_not_reached_yet(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 7)
        # The Python SDK puts the SkipTaskRequest into a `skipTaskRequest` query value (not a body).
        executor.skip_task_from_workflow(wid, "second", SkipTaskRequest(task_output={"v": "skipped"}))
        after_skip = executor.get_workflow(wid, include_tasks=True)
        assert task_by_ref(after_skip, "second") is not None, "the skipped task is recorded"
        assert task_by_ref(after_skip, "second").status == "SKIPPED"

        finish(executor, wid, "first", {"v": "first-7"})
        done = wait_for_workflow(executor, wid, "COMPLETED")
        assert [t.status for t in tasks_by_ref(done, "second")] == ["SKIPPED"], "the skipped task never runs"
        assert done.output["first"] == "first-7"

        # Skipping in a workflow that is not running is an error.
        expect_api_error(lambda: executor.skip_task_from_workflow(wid, "second", SkipTaskRequest()), (400, 409, 500))

    def test_restart_with_the_latest_definition(self, metadata, workflow_client, executor):
        name = unique("py_ops_restart_latest")

        def definition(version):
            return WorkflowDef(
                name=name,
                version=version,
                tasks=[
                    WorkflowTask(name="mark", task_reference_name="mark", type="SET_VARIABLE", input_parameters={"v": version}),
                    # A WAIT without duration holds the run until it is terminated.
                    WorkflowTask(name="hold", task_reference_name="hold", type="WAIT"),
                ],
            )

        metadata.register_workflow_def(definition(1))
        wid = workflow_client.start_workflow_by_name(name, {}, version=1)
        executor.terminate(wid, reason="before restart")
        metadata.register_workflow_def(definition(2))

        # POST .../restart?useLatestDefinitions=True (the SDK capitalises booleans on POST).
        executor.restart(wid, use_latest_definitions=True)
        restarted = eventually(
            lambda: (lambda wf: wf if task_by_ref(wf, "hold") else None)(executor.get_workflow(wid, include_tasks=True)),
            what="the restarted run to reach its WAIT",
        )
        assert restarted.status == "RUNNING"
        assert restarted.workflow_version == 2
        assert restarted.variables == {"v": 2}
        executor.terminate(wid, reason="cleanup")

    def test_status_without_flags_leaves_output_and_variables_out(self, metadata, workflow_client, executor):
        name = unique("py_ops_status")
        metadata.register_workflow_def(
            WorkflowDef(
                name=name,
                version=1,
                tasks=[WorkflowTask(name="vars", task_reference_name="vars", type="SET_VARIABLE", input_parameters={"k": "v"})],
                output_parameters={"out": "${workflow.variables.k}"},
            )
        )
        wid = workflow_client.start_workflow_by_name(name, {}, version=1)
        wait_for_workflow(executor, wid, "COMPLETED")
        # Conductor's defaults: includeOutput=false, includeVariables=false.
        bare = executor.get_workflow_status(wid)
        assert (bare.workflow_id, bare.status) == (wid, "COMPLETED")
        assert not bare.output and not bare.variables, f"got output={bare.output} variables={bare.variables}"
        full = executor.get_workflow_status(wid, include_output=True, include_variables=True)
        assert full.output == {"out": "v"}
        assert full.variables == {"k": "v"}

    def test_terminate_twice_and_pause_after_the_end(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 45)
        executor.terminate(wid, reason="first reason")
        # Terminating a TERMINATED workflow is a no-op in Conductor.
        executor.terminate(wid, reason="second reason")
        wf = executor.get_workflow(wid)
        assert (wf.status, wf.reason_for_incompletion) == ("TERMINATED", "first reason")
        # A workflow that has ended cannot be paused (Conductor: 409).
        expect_api_error(lambda: executor.pause(wid), 409)
        assert executor.get_workflow(wid).status == "TERMINATED"

    def test_remove_a_running_workflow(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 46)
        # OrkesWorkflowClient.remove_workflow sends no archiveWorkflow: Conductor's default
        # (true) refuses to archive a running workflow.
        err = expect_api_error(lambda: workflow_client.remove_workflow(wid), 400)
        assert wid in err.message, err.body
        assert executor.get_workflow(wid).status == "RUNNING"
        # archiveWorkflow=False removes it anyway.
        executor.remove_workflow(wid, archive_workflow=False)
        expect_api_error(lambda: executor.get_workflow(wid), 404)

    def test_remove_a_workflow(self, workflow_client, executor, wf_name):
        wid = start(workflow_client, wf_name, 8)
        executor.terminate(wid, reason="to be removed")
        workflow_client.remove_workflow(wid)
        err = expect_api_error(lambda: executor.get_workflow(wid), 404)
        assert wid in err.message
        # Removing it again: it is gone.
        expect_api_error(lambda: workflow_client.remove_workflow(wid), 404)


def search_with_total(workflow_client, query, start, size):
    """GET /workflow/search through the SDK's ApiClient, read as SearchResultWorkflowSummary."""
    return workflow_client.api_client.call_api(
        "/workflow/search",
        "GET",
        query_params=[("start", start), ("size", size), ("freeText", "*"), ("query", query)],
        header_params={"Accept": "application/json"},
        response_type="SearchResultWorkflowSummary",
        _return_http_data_only=True,
    )


class TestSearch:
    def test_search_by_type_status_and_correlation(self, workflow_client, executor, wf_name):
        corr = unique("corr_search")
        ids = [start(workflow_client, wf_name, 9, corr), start(workflow_client, wf_name, 10, corr)]
        executor.terminate(ids[1], reason="done searching")
        query = f"workflowType IN ({wf_name}) AND correlationId = '{corr}'"

        found = eventually(
            lambda: (lambda r: r if len(r.results or []) == 2 else None)(workflow_client.search(query=query)),
            what=f"search '{query}' to find 2 workflows",
        )
        assert sorted(s.workflow_id for s in found.results) == sorted(ids)
        by_id = {s.workflow_id: s for s in found.results}
        assert by_id[ids[0]].status == "RUNNING"
        assert by_id[ids[1]].status == "TERMINATED"
        assert by_id[ids[1]].reason_for_incompletion == "done searching"
        assert by_id[ids[1]].end_time, "an ended workflow's summary has its end time"
        for summary in found.results:
            assert (summary.workflow_type, summary.version, summary.correlation_id) == (wf_name, 1, corr)
            assert isinstance(summary.start_time, str) and summary.start_time, "WorkflowSummary times are strings"

        # WorkflowClient.search's model has no totalHits; read it through the SDK's own
        # SearchResultWorkflowSummary model on the same route.
        counted = search_with_total(workflow_client, query, 0, 10)
        assert counted.total_hits == 2
        assert len(counted.results) == 2

        running = workflow_client.search(query=f"{query} AND status IN (RUNNING)")
        assert [s.workflow_id for s in running.results] == [ids[0]]
        terminated = executor.search(query=f"workflowType IN ({wf_name}) AND status IN (TERMINATED) AND correlationId = '{corr}'")
        assert [s.workflow_id for s in terminated.results] == [ids[1]]

        paged = search_with_total(workflow_client, query, 1, 1)
        assert paged.total_hits == 2, "totalHits counts every match, not the page"
        assert len(paged.results) == 1
        executor.terminate(ids[0], reason="done searching")


    def test_summary_of_a_running_workflow_has_no_end_time(self, workflow_client, executor, wf_name):
        corr = unique("corr_endtime")
        wid = start(workflow_client, wf_name, 47, corr)
        query = f"workflowType IN ({wf_name}) AND correlationId = '{corr}'"
        running = eventually(
            lambda: (lambda r: r.results[0] if len(r.results or []) == 1 else None)(workflow_client.search(query=query)),
            what=f"search '{query}' to find the workflow",
        )
        assert running.status == "RUNNING"
        assert running.execution_time == 0
        # Conductor's WorkflowSummary sets endTime only once the workflow has ended, so the
        # field is absent (None in the SDK's model) while it runs.
        assert running.end_time is None, f"running summary has endTime {running.end_time!r}"
        executor.terminate(wid, reason="cleanup")


class TestErrors:
    def test_unknown_workflow_id_is_404_with_a_message(self, workflow_client, executor):
        missing = str(uuid.uuid4())
        err = expect_api_error(lambda: workflow_client.get_workflow(missing), 404)
        assert err.code == 404 and err.is_not_found()
        assert isinstance(err.message, str) and missing in err.message, err.body
        err = expect_api_error(lambda: executor.get_workflow_status(missing), 404)
        assert missing in err.message
        expect_api_error(lambda: executor.pause(missing), 404)
        expect_api_error(lambda: executor.terminate(missing, reason="x"), 404)

    def test_starting_an_unknown_workflow_is_404(self, workflow_client):
        name = unique("py_ops_nodef")
        err = expect_api_error(
            lambda: workflow_client.start_workflow(StartWorkflowRequest(name=name, version=1, input={})), 404
        )
        assert name in err.message, err.body
        err = expect_api_error(lambda: workflow_client.start_workflow_by_name(name, {}), 404)
        assert name in err.message, err.body


class TestRequeueAndUpgrade:
    def test_requeue_answers_how_many_waiting_tasks_were_queued_again(self, workflow_client, task_client, metadata):
        task_type = unique("py_requeue")
        name = unique("py_requeue_wf")
        metadata.register_task_def(TaskDef(name=task_type, retry_count=0))
        metadata.register_workflow_def(
            WorkflowDef(name=name, version=1, tasks=[WorkflowTask(name=task_type, task_reference_name="t", type="SIMPLE")]),
            overwrite=True,
        )
        ids = {workflow_client.start_workflow(StartWorkflowRequest(name=name, version=1, input={})) for _ in range(2)}
        assert task_client.taskResourceApi.requeue_pending_task(task_type) == "2"
        polled = task_client.batch_poll_tasks(task_type, worker_id="py-requeue", count=5, timeout_in_millisecond=500)
        assert {t.workflow_instance_id for t in polled} == ids, "each task once"

    def test_a_running_workflow_is_upgraded_to_its_next_version(self, workflow_client, executor, metadata, wf_name):
        wid = start(workflow_client, wf_name, 7)
        finish(executor, wid, "first", {"v": "first-7"})
        pending_task(executor, wid, "second")
        first, second = (t.name for t in metadata.get_workflow_def(wf_name, version=1).tasks)
        # Version 2 checks something before `second` and says goodbye after it.
        name = wf_name
        metadata.register_workflow_def(
            WorkflowDef(
                name=name,
                version=2,
                tasks=[
                    WorkflowTask(name=first, task_reference_name="first", type="SIMPLE"),
                    WorkflowTask(name="check", task_reference_name="check", type="NOOP"),
                    WorkflowTask(name=second, task_reference_name="second", type="SIMPLE"),
                    WorkflowTask(name=first, task_reference_name="bye", type="SIMPLE", input_parameters={"c": "${check.output.ok}"}),
                ],
            ),
            overwrite=True,
        )
        body = {"name": name, "version": 2, "taskOutput": {"check": {"ok": True}}}
        workflow_client.workflowResourceApi.upgrade_running_workflow_to_version(body, wid)
        wf = executor.get_workflow(wid, include_tasks=True)
        assert wf.workflow_version == 2
        assert task_by_ref(wf, "check").status == "SKIPPED"
        finish(executor, wid, "second", {"v": "second-7"})
        bye = pending_task(executor, wid, "bye")
        assert bye.input_data == {"c": True}
        finish(executor, wid, "bye", {})
        wait_for_workflow(executor, wid, "COMPLETED")
        metadata.unregister_workflow_def(name, 2)
