"""Runs an official SDK's own integration suite (a checkout of the SDK's repository
at its release tag) against a Podium server with security on: starts the server,
points the suite at it with the admin key (CONDUCTOR_SERVER_URL, CONDUCTOR_AUTH_KEY,
CONDUCTOR_AUTH_SECRET), runs it there with the tests that need what this machine
cannot offer left out (see docs/compatibility.md), and always stops the server.

Usage: upstream_suite.py python|javascript <sdk checkout> [runner arguments...]
conductor-python's suite runs with pytest; @io-orkes/conductor-javascript's with
jest, as against an Orkes 4 server (ORKES_BACKEND_VERSION=4, unless the
environment sets it).
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from http_echo import EchoServer
from podium_server import start_podium

# Need an AI provider, outside services (httpbin, grpcbin) or Orkes-only features;
# each is listed with its reason in docs/compatibility.md.
OUT_OF_SCOPE = [
    "--ignore=tests/integration/ai",
    "--ignore=tests/integration/test_ai_examples.py",
    "--ignore=tests/integration/test_ai_task_types.py",
    "--ignore=tests/integration/test_agentic_workflows.py",
    "--deselect=tests/integration/client/orkes/test_orkes_service_registry_client.py",
    "--deselect=tests/integration/test_workflow_client_intg.py::TestOrkesWorkflowClientIntg::test_all",
]


# The JavaScript suite's stand-in for httpbin: its tests call http://<host>:8081.
HTTPBIN_PORT = 8081


def main() -> int:
    language, checkout, extra = sys.argv[1], Path(sys.argv[2]).resolve(), sys.argv[3:]
    # In a network namespace of its own (scripts/sdk-suites makes one where it
    # can), port 8081 is free for an echo server standing in for httpbin.
    echo = EchoServer(HTTPBIN_PORT) if os.environ.get("PODIUM_SDK_SUITES_NETNS") == "1" else None
    server = start_podium()
    try:
        env = dict(os.environ)
        if echo is not None:
            env["HTTPBIN_SERVICE_HOSTNAME"] = "127.0.0.1"
        env.update(
            CONDUCTOR_SERVER_URL=server.api_url,
            CONDUCTOR_AUTH_KEY=server.key_id,
            CONDUCTOR_AUTH_SECRET=server.key_secret,
            PYTHONDONTWRITEBYTECODE="1",
            # Orkes 4 by default; ORKES_BACKEND_VERSION=5 opens the suite's Orkes 5 gates.
            ORKES_BACKEND_VERSION=os.environ.get("ORKES_BACKEND_VERSION", "4"),
        )
        if language == "javascript":
            command = [
                "npx",
                "jest",
                "--force-exit",
                "--testMatch=**/src/integration-tests/*.test.ts",
                *extra,
            ]
        else:
            command = [
                sys.executable,
                "-m",
                "pytest",
                "-p",
                "no:cacheprovider",
                "-p",
                "no:warnings",
                "-rfEs",
                "tests/integration",
                *OUT_OF_SCOPE,
                *extra,
            ]
        return subprocess.call(command, cwd=checkout, env=env)
    finally:
        server.stop()
        if echo is not None:
            echo.close()


if __name__ == "__main__":
    sys.exit(main())
