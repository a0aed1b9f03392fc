"""Access control through the Python SDK: the documented least-privilege example
(a worker application and two programs, each with only the grants it needs), the
SDK's authorization client against Podium, and a worker that keeps polling across
many token expiries.

Applications, keys and grants are made with OrkesAuthorizationClient as the admin;
each application then runs with its own key, as a separate program would."""

from __future__ import annotations

import time

import pytest
from conductor.client.automator.task_handler import TaskHandler
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.models import StartWorkflowRequest, TaskDef
from conductor.client.http.models.create_or_update_application_request import (
    CreateOrUpdateApplicationRequest,
)
from conductor.client.http.models.subject_ref import SubjectRef
from conductor.client.http.models.target_ref import TargetRef, TargetType
from conductor.client.http.rest import ApiException
from conductor.client.orkes.models.access_type import AccessType
from conductor.client.orkes_clients import OrkesClients
from conductor.client.worker.worker import Worker
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.simple_task import SimpleTask

from podium_server import start_podium
from sdk_helpers import unique, wait_for_workflow


def complete_task(task):
    """The worker: completes any task it gets (module level, for spawned processes)."""
    return {"done": True, "by": "WorkerX"}


def configuration(server, key_id: str, secret: str) -> Configuration:
    return Configuration(
        server_api_url=server.api_url,
        authentication_settings=AuthenticationSettings(key_id=key_id, key_secret=secret),
    )


def new_application(auth, server, name: str, roles=()):
    """An application with one key; returns (application id, its clients, its config)."""
    app = auth.create_application(CreateOrUpdateApplicationRequest(name))
    for role in roles:
        auth.add_role_to_application_user(app.id, role)
    key = auth.create_access_key(app.id)
    cfg = configuration(server, key.id, key.secret)
    return app.id, key.id, OrkesClients(configuration=cfg), cfg


def subject(app_id: str) -> SubjectRef:
    return SubjectRef("USER", f"app:{app_id}")


def expect_status(status: int, fn):
    with pytest.raises(ApiException) as err:
        fn()
    assert err.value.status == status, str(err.value)
    return err.value


@pytest.fixture(scope="module")
def example(podium, clients, executor):
    """task_x, Workflow_1 and Workflow_2 (both run task_x), and the three applications."""
    auth = clients.get_authorization_client()
    task_x = unique("task_x")
    clients.get_metadata_client().register_task_def(TaskDef(name=task_x, response_timeout_seconds=30))
    names = {}
    for label in ("Workflow_1", "Workflow_2"):
        wf = ConductorWorkflow(executor=executor, name=unique(label), version=1)
        wf.add(SimpleTask(task_x, "x_ref"))
        wf.register(True)
        names[label] = wf.name

    worker_id, worker_key, worker_clients, worker_cfg = new_application(auth, podium, "WorkerX", ["WORKER"])
    p1_id, _, p1_clients, _ = new_application(auth, podium, "Program1")
    p2_id, _, p2_clients, _ = new_application(auth, podium, "Program2")
    execute = [AccessType.EXECUTE]
    auth.grant_permissions(subject(worker_id), TargetRef(TargetType.TASK_DEF, task_x), execute)
    for app_id, label in ((p1_id, "Workflow_1"), (p2_id, "Workflow_2")):
        auth.grant_permissions(subject(app_id), TargetRef(TargetType.WORKFLOW_DEF, names[label]), execute)
        auth.grant_permissions(subject(app_id), TargetRef(TargetType.TASK_DEF, task_x), execute)
    return {
        "auth": auth,
        "task_x": task_x,
        "w1": names["Workflow_1"],
        "w2": names["Workflow_2"],
        "worker": (worker_id, worker_key, worker_clients, worker_cfg),
        "p1": (p1_id, p1_clients),
        "p2": (p2_id, p2_clients),
    }


def start(clients, name: str) -> str:
    return clients.get_workflow_client().start_workflow(StartWorkflowRequest(name=name, version=1, input={}))


def test_the_authorization_client_sees_what_was_granted(example):
    auth = example["auth"]
    worker_id = example["worker"][0]
    user = auth.get_user(f"app:{worker_id}")
    assert [r.name for r in user.roles] == ["WORKER"]
    granted = auth.get_granted_permissions_for_user(f"app:{worker_id}")
    assert [(g.target.id, sorted(g.access)) for g in granted] == [(example["task_x"], ["EXECUTE"])]
    holders = auth.get_permissions(TargetRef(TargetType.TASK_DEF, example["task_x"]))
    assert len(holders["EXECUTE"]) == 3
    keys = auth.get_access_keys(worker_id)
    assert [k.status for k in keys] == ["ACTIVE"]


def test_programs_start_only_their_workflow_and_cannot_poll(example):
    _, p1 = example["p1"]
    _, p2 = example["p2"]
    assert start(p1, example["w1"])
    assert start(p2, example["w2"])
    refused = expect_status(403, lambda: start(p1, example["w2"]))
    assert f"execute workflow: {example['w2']}" in str(refused.body)
    expect_status(403, lambda: start(p2, example["w1"]))
    expect_status(403, lambda: p1.get_task_client().poll_task(example["task_x"], worker_id="p1"))


def test_the_worker_completes_program_runs_and_can_do_nothing_else(example, executor):
    _, p1 = example["p1"]
    worker_id, _, worker_clients, worker_cfg = example["worker"]
    run = start(p1, example["w1"])
    handler = TaskHandler(
        workers=[Worker(example["task_x"], complete_task, poll_interval=0.1)],
        configuration=worker_cfg,
        scan_for_annotated_workers=False,
    )
    handler.start_processes()
    try:
        done = wait_for_workflow(executor, run, "COMPLETED")
        assert done.tasks[0].output_data == {"done": True, "by": "WorkerX"}
    finally:
        handler.stop_processes()
    # The program reads the run it started; the worker can neither read nor start runs.
    assert p1.get_workflow_client().get_workflow(run, include_tasks=False).status == "COMPLETED"
    # Not allowed to read it: answered as a workflow id that does not exist is.
    expect_status(403, lambda: worker_clients.get_workflow_client().get_workflow(run, include_tasks=False))
    expect_status(403, lambda: start(worker_clients, example["w1"]))


def test_revoking_and_pausing_apply_to_the_next_request(example):
    auth = example["auth"]
    p1_id, p1 = example["p1"]
    worker_id, worker_key, worker_clients, _ = example["worker"]
    assert start(p1, example["w1"])
    auth.remove_permissions(subject(p1_id), TargetRef(TargetType.WORKFLOW_DEF, example["w1"]), [AccessType.EXECUTE])
    expect_status(403, lambda: start(p1, example["w1"]))

    tasks = worker_clients.get_task_client()
    tasks.batch_poll_tasks(example["task_x"], worker_id="wx", count=1, timeout_in_millisecond=10)
    paused = auth.toggle_access_key_status(worker_id, worker_key)
    assert paused.status == "INACTIVE"
    # The SDK answers 401 INVALID_TOKEN by minting a new token, which an inactive key
    # cannot: the call fails with the 401.
    expect_status(401, lambda: tasks.batch_poll_tasks(example["task_x"], worker_id="wx", count=1, timeout_in_millisecond=10))
    assert auth.toggle_access_key_status(worker_id, worker_key).status == "ACTIVE"


@pytest.fixture(scope="module")
def short_lived():
    """A second server whose tokens live two seconds."""
    server = start_podium(extra_env={"PODIUM_TOKEN_TTL_SECONDS": "2"})
    try:
        yield server
    finally:
        server.stop()


def test_a_worker_keeps_polling_across_token_expiries(short_lived):
    admin_cfg = configuration(short_lived, short_lived.key_id, short_lived.key_secret)
    admin = OrkesClients(configuration=admin_cfg)
    task = unique("expiring")
    admin.get_metadata_client().register_task_def(TaskDef(name=task, response_timeout_seconds=30))
    executor = admin.get_workflow_executor()
    wf = ConductorWorkflow(executor=executor, name=unique("expiring_wf"), version=1)
    wf.add(SimpleTask(task, "t_ref"))
    wf.register(True)
    worker_id, _, _, worker_cfg = new_application(
        admin.get_authorization_client(), short_lived, "expiring-worker", ["WORKER"]
    )
    admin.get_authorization_client().grant_permissions(
        subject(worker_id), TargetRef(TargetType.TASK_DEF, task), [AccessType.EXECUTE]
    )
    handler = TaskHandler(
        workers=[Worker(task, complete_task, poll_interval=0.2)],
        configuration=worker_cfg,
        scan_for_annotated_workers=False,
    )
    handler.start_processes()
    try:
        # Runs started over more than three token lifetimes: each is completed by the
        # same worker process, which must mint new tokens as the old ones expire.
        runs = []
        for _ in range(4):
            runs.append(start(admin, wf.name))
            time.sleep(2.2)
        for run in runs:
            # The admin's own token expires too; the SDK renews it on EXPIRED_TOKEN.
            assert wait_for_workflow(executor, run, "COMPLETED", timeout=30).status == "COMPLETED"
    finally:
        handler.stop_processes()
