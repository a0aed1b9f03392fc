"""Roles through the SDK's authorization client, as conductor-python's own
integration tests call it: the built-in roles, the permission atoms, and a custom
role made, read, changed and deleted, then enforced for an application that holds
it."""

from __future__ import annotations

import pytest
from conductor.client.configuration.configuration import Configuration
from conductor.client.configuration.settings.authentication_settings import AuthenticationSettings
from conductor.client.http.models import StartWorkflowRequest
from conductor.client.http.models.create_or_update_application_request import (
    CreateOrUpdateApplicationRequest,
)
from conductor.client.http.models.create_or_update_role_request import CreateOrUpdateRoleRequest
from conductor.client.http.rest import ApiException
from conductor.client.orkes_clients import OrkesClients
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.simple_task import SimpleTask

from sdk_helpers import unique


@pytest.fixture(scope="module")
def auth(clients):
    return clients.get_authorization_client()


def role_name(prefix: str) -> str:
    return unique(prefix).upper().replace("-", "_")


def test_the_sdks_role_listings(auth):
    assert isinstance(auth.list_all_roles(), list) and auth.list_all_roles()
    system = auth.list_system_roles()
    assert isinstance(system, dict)
    for name in ("USER", "ADMIN", "METADATA_MANAGER", "WORKFLOW_MANAGER", "WORKER"):
        assert name in system
    assert isinstance(auth.list_custom_roles(), list)
    permissions = auth.list_available_permissions()
    assert isinstance(permissions, dict) and permissions
    assert "READ_WORKFLOW_DEF" in permissions["WORKFLOW_DEF"]


def test_a_custom_role_lifecycle_as_the_sdk_tests_it(auth):
    name = role_name("sdk_role")
    created = auth.create_role(CreateOrUpdateRoleRequest(name=name, permissions=["READ_WORKFLOW_DEF"]))
    assert created["name"] == name
    got = auth.get_role(name)
    assert [p["name"] for p in got["permissions"]] == ["READ_WORKFLOW_DEF"]
    updated = auth.update_role(
        name, CreateOrUpdateRoleRequest(name=name, permissions=["READ_WORKFLOW_DEF", "EXECUTE_WORKFLOW_DEF"])
    )
    assert "name" in updated
    assert name in [r.name for r in auth.list_custom_roles()]
    # The form the SDK's other test sends is not an atom: a clear 400.
    with pytest.raises(ApiException) as refused:
        auth.create_role(CreateOrUpdateRoleRequest(name=role_name("other"), permissions=["workflow-read"]))
    assert refused.value.status == 400 and "workflow-read" in refused.value.body
    auth.delete_role(name)
    with pytest.raises(ApiException) as gone:
        auth.get_role(name)
    assert gone.value.status == 404


def test_an_application_with_a_custom_role_starts_any_workflow(auth, podium, executor):
    wf = ConductorWorkflow(executor=executor, name=unique("py_role_wf"), version=1)
    wf.add(SimpleTask(unique("py_role_task"), "t"))
    wf.register(True)
    name = role_name("runner")
    auth.create_role(
        CreateOrUpdateRoleRequest(name=name, permissions=["EXECUTE_WORKFLOW_DEF", "EXECUTE_TASK_DEF"])
    )
    app = auth.create_application(CreateOrUpdateApplicationRequest(unique("py_role_app")))
    key = auth.create_access_key(app.id)
    program = OrkesClients(
        configuration=Configuration(
            server_api_url=podium.api_url,
            authentication_settings=AuthenticationSettings(key_id=key.id, key_secret=key.secret),
        )
    ).get_workflow_client()
    request = StartWorkflowRequest(name=wf.name, version=1, input={})
    with pytest.raises(ApiException) as refused:
        program.start_workflow(request)
    assert refused.value.status == 403
    auth.add_role_to_application_user(app.id, name)
    workflow_id = program.start_workflow(request)
    assert program.get_workflow(workflow_id, include_tasks=False).status == "RUNNING"
    auth.remove_role_from_application_user(app.id, name)
    with pytest.raises(ApiException) as refused_again:
        program.start_workflow(request)
    assert refused_again.value.status == 403
    auth.delete_role(name)
