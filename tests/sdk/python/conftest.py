"""Session fixture: one real Podium server, the SDK configured for it, the SDK's clients.

Everything here runs before the SDK is imported by any test module, so the
environment is cleaned first: the SDK reads CONDUCTOR_* (server URL, credentials,
HTTP/2, log level) and conductor.worker.* / CONDUCTOR_WORKER_* (worker settings)
variables, and any of them could send traffic to another server.
"""

from __future__ import annotations

import os
import signal
import uuid

for _key in list(os.environ):
    if _key.lower().startswith(("conductor_", "conductor.")):
        del os.environ[_key]
# httpx honours proxy variables; the suite only ever talks to 127.0.0.1 directly.
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"
# Worker task names carry this suffix. Spawned worker processes inherit the variable,
# so they import the worker module with the same names as this process.
os.environ.setdefault("PODIUM_SDK_RUN_ID", uuid.uuid4().hex[:8])

import pytest  # noqa: E402

from podium_server import PodiumServer, start_podium  # noqa: E402


def _terminate_as_interrupt(signum, frame):
    # SIGTERM (e.g. a CI timeout) unwinds like Ctrl-C, so fixture finalizers stop the
    # server and the worker processes.
    raise KeyboardInterrupt(f"signal {signum}")


signal.signal(signal.SIGTERM, _terminate_as_interrupt)

_server: PodiumServer | None = None


@pytest.fixture(scope="session")
def podium():
    global _server
    _server = start_podium()
    try:
        yield _server
    finally:
        code = _server.stop()
        # A clean shutdown on SIGTERM is part of what the suite checks, but only report it.
        if code not in (0, -signal.SIGTERM):
            print(f"\nPodium exited with {code} on SIGTERM; log tail:\n{_server.log_tail(30)}")


@pytest.fixture(scope="session")
def config(podium):
    from conductor.client.configuration.configuration import Configuration
    from conductor.client.configuration.settings.authentication_settings import (
        AuthenticationSettings,
    )

    # The run's admin key: the SDK mints a token and sends it with every call.
    cfg = Configuration(
        server_api_url=podium.api_url,
        authentication_settings=AuthenticationSettings(
            key_id=podium.key_id, key_secret=podium.key_secret
        ),
    )
    assert cfg.host == f"http://127.0.0.1:{podium.port}/api"
    return cfg


@pytest.fixture(scope="session")
def clients(config):
    from conductor.client.orkes_clients import OrkesClients

    return OrkesClients(configuration=config)


@pytest.fixture(scope="session")
def metadata(clients):
    return clients.get_metadata_client()


@pytest.fixture(scope="session")
def workflow_client(clients):
    return clients.get_workflow_client()


@pytest.fixture(scope="session")
def task_client(clients):
    return clients.get_task_client()


@pytest.fixture(scope="session")
def executor(clients):
    return clients.get_workflow_executor()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    # The server's side of a failure: its log tail goes into the test's report.
    if report.failed and _server is not None:
        report.sections.append(("Podium server log (tail)", _server.log_tail(60)))
