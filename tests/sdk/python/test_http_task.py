"""The HTTP system task, built with HttpTask / HttpInput, calling a small HTTP server the
test runs on 127.0.0.1."""

from __future__ import annotations

import pytest
from conductor.client.workflow.conductor_workflow import ConductorWorkflow
from conductor.client.workflow.task.http_task import HttpInput, HttpMethod, HttpTask

from http_echo import EchoServer
from sdk_helpers import task_by_ref, unique, wait_for_workflow


@pytest.fixture(scope="module")
def echo():
    server = EchoServer()
    try:
        yield server
    finally:
        server.close()


def test_http_post_and_get_outputs_flow_into_the_workflow(executor, echo):
    post = HttpTask(
        "post_ref",
        HttpInput(
            method=HttpMethod.POST,
            uri=f"{echo.url}/echo?name=${{workflow.input.name}}",
            headers={"X-Podium-Test": "${workflow.input.name}"},
            body={"name": "${workflow.input.name}", "n": 42},
            content_type="application/json",
            accept="application/json",
        ),
    )
    # A plain dict without a method gets "GET" from the SDK.
    get = HttpTask("get_ref", {"uri": f"{echo.url}/items/7?x=${{post_ref.output.response.body.received.n}}"})
    wf = ConductorWorkflow(executor=executor, name=unique("py_http_wf"), version=1)
    wf.add(post).add(get).output_parameters(
        {
            "status": post.status_code(),
            "received": post.body("received"),
            "getPath": get.body("path"),
            "getQuery": get.body("query"),
        }
    )
    wf.register(True)

    run = executor.execute(name=wf.name, version=1, workflow_input={"name": "ada"}, wait_for_seconds=20)
    assert run.status == "COMPLETED", run
    assert run.output == {
        "status": 200,
        "received": {"name": "ada", "n": 42},
        "getPath": "/items/7",
        "getQuery": {"x": "42"},
    }

    done = executor.get_workflow(run.workflow_id, include_tasks=True)
    post_task = task_by_ref(done, "post_ref")
    assert post_task.task_type == "HTTP"
    assert post_task.status == "COMPLETED"
    response = post_task.output_data["response"]
    assert response["statusCode"] == 200
    assert response["reasonPhrase"] == "OK"
    assert response["body"] == {
        "method": "POST",
        "path": "/echo",
        "query": {"name": "ada"},
        "contentType": "application/json",
        "received": {"name": "ada", "n": 42},
    }
    content_type = {k.lower(): v for k, v in response["headers"].items()}["content-type"]
    assert "application/json" in (content_type if isinstance(content_type, str) else " ".join(content_type))

    calls = echo.calls(path="/echo")
    assert len(calls) == 1
    assert calls[0]["method"] == "POST"
    assert calls[0]["received"] == {"name": "ada", "n": 42}
    assert calls[0]["headers"].get("x-podium-test") == "ada"
    assert calls[0]["headers"].get("content-type", "").startswith("application/json")
    assert [c["method"] for c in echo.calls(path="/items/7")] == ["GET"]


def test_http_error_status_fails_the_task_and_the_workflow(executor, echo):
    wf = ConductorWorkflow(executor=executor, name=unique("py_http_fail"), version=1)
    wf.add(HttpTask("boom_ref", {"uri": f"{echo.url}/status/500", "method": "GET"}))
    wid = wf.start_workflow_with_input({})
    done = wait_for_workflow(executor, wid, timeout=20)
    assert done.status == "FAILED"
    task = task_by_ref(done, "boom_ref")
    assert task.status == "FAILED"
    assert "500" in (task.reason_for_incompletion or ""), task.reason_for_incompletion
    assert len(echo.calls(path="/status/500")) == 1, "an HTTP task without a task def is not retried"
