"""Schedules through the SDK's scheduler client: the lifecycle conductor-python's own
integration test walks (an inline workflow definition, pause, resume, preview, tags,
delete), and a schedule that runs its workflow, found in the run records."""

from __future__ import annotations

import pytest
from conductor.client.http.models import StartWorkflowRequest
from conductor.client.http.models.save_schedule_request import SaveScheduleRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes.models.metadata_tag import MetadataTag
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.inline import InlineTask

from sdk_helpers import eventually, unique


@pytest.fixture(scope="module")
def scheduler(clients):
    return clients.get_scheduler_client()


def _workflow(executor, prefix: str) -> ConductorWorkflow:
    wf = ConductorWorkflow(executor=executor, name=unique(prefix), version=1)
    wf.add(InlineTask("hello_ref", "'hello ' + $.who", bindings={"who": "${workflow.input.who}"}))
    return wf


def test_the_sdks_schedule_lifecycle(scheduler, executor):
    wf = _workflow(executor, "py_sched_inline_wf")
    name = unique("py_sched")
    request = StartWorkflowRequest(name=wf.name, workflow_def=wf.to_workflow_def())
    scheduler.save_schedule(
        SaveScheduleRequest(name=name, start_workflow_request=request, cron_expression="0 */5 * ? * *")
    )
    assert scheduler.get_schedule(name).name == name
    scheduler.pause_schedule(name)
    listed = scheduler.get_all_schedules(wf.name)
    assert [s.name for s in listed] == [name]
    assert listed[0].paused
    scheduler.resume_schedule(name)
    assert not scheduler.get_schedule(name).paused
    times = scheduler.get_next_few_schedule_execution_times("0 */5 * ? * *", limit=1)
    assert len(times) == 1
    tags = [MetadataTag("sch_tag", "val"), MetadataTag("sch_tag_2", "val2")]
    scheduler.set_scheduler_tags(tags, name)
    assert len(scheduler.get_scheduler_tags(name)) == 2
    scheduler.delete_scheduler_tags(tags, name)
    assert len(scheduler.get_scheduler_tags(name)) == 0
    scheduler.delete_schedule(name)
    with pytest.raises(ApiException) as missing:
        scheduler.get_schedule(name)
    assert missing.value.status == 404
    assert f"Schedule '{name}' not found" in str(missing.value.body)


def test_a_schedule_starts_its_workflow_when_due(scheduler, executor, workflow_client):
    wf = _workflow(executor, "py_sched_wf")
    wf.register(True)
    name = unique("py_sched_every_second")
    scheduler.save_schedule(
        SaveScheduleRequest(
            name=name,
            start_workflow_request=StartWorkflowRequest(name=wf.name, version=1, input={"who": "cron"}),
            cron_expression="* * * ? * *",
            zone_id="Europe/Berlin",
        )
    )
    try:
        found = eventually(
            lambda: scheduler.search_schedule_executions(
                start=0, size=10, sort="scheduledTime:ASC", query=f"scheduleName IN ({name})"
            ).results,
            what="a recorded run",
        )
        run = found[0]
        assert run.state == "EXECUTED"
        assert run.schedule_name == name
        started = workflow_client.get_workflow(run.workflow_id, include_tasks=False)
        assert started.input["who"] == "cron"
        assert started.input["_startedByScheduler"] == name
    finally:
        scheduler.delete_schedule(name)
