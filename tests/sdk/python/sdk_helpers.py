"""Small helpers the test modules share (no fixtures here)."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Callable, Iterable

from conductor.client.http.api_client import ApiClient
from conductor.client.http.rest import ApiException

TERMINAL = {"COMPLETED", "FAILED", "TIMED_OUT", "TERMINATED"}

# Only the serializer is used, so the instance skips __init__ (no HTTP client, no config).
_serializer = ApiClient.__new__(ApiClient)


def unique(prefix: str) -> str:
    """A name no other test (or earlier run) uses."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def wire(obj: Any) -> Any:
    """What the SDK puts on the wire for a model (unset fields dropped)."""
    return _serializer.sanitize_for_serialization(obj)


def eventually(fn: Callable[[], Any], timeout: float = 20.0, interval: float = 0.1, what: str = "condition") -> Any:
    """Calls `fn` until it returns something truthy and returns that; fails after `timeout`."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_error: BaseException | None = None
    while True:
        try:
            last = fn()
            last_error = None
            if last:
                return last
        except ApiException as err:  # e.g. an index that is not up to date yet
            last_error = err
        if time.monotonic() >= deadline:
            break
        time.sleep(interval)
    detail = f"last error: {last_error}" if last_error else f"last value: {str(last)[:2000]}"
    raise AssertionError(f"timed out after {timeout}s waiting for {what}; {detail}")


def describe_tasks(workflow) -> str:
    return ", ".join(
        f"{t.reference_task_name}:{t.task_type}:{t.status}" for t in (workflow.tasks or [])
    )


def wait_for_workflow(executor, workflow_id: str, statuses: Iterable[str] | str | None = None, timeout: float = 30.0):
    """Waits until the workflow reaches one of `statuses` (default: any terminal one)."""
    wanted = {statuses} if isinstance(statuses, str) else set(statuses or TERMINAL)
    seen = {}

    def check():
        wf = executor.get_workflow(workflow_id, include_tasks=True)
        seen["wf"] = wf
        return wf if wf.status in wanted else None

    try:
        return eventually(check, timeout=timeout, what=f"workflow {workflow_id} to reach {'|'.join(sorted(wanted))}")
    except AssertionError as err:
        wf = seen.get("wf")
        if wf is not None:
            raise AssertionError(
                f"{err}\nlast status: {wf.status}, reason: {wf.reason_for_incompletion}, tasks: [{describe_tasks(wf)}]"
            ) from None
        raise


def tasks_by_ref(workflow, ref: str) -> list:
    return [t for t in (workflow.tasks or []) if t.reference_task_name == ref]


def task_by_ref(workflow, ref: str):
    """The last attempt of the task with this reference name, or None."""
    matching = tasks_by_ref(workflow, ref)
    return matching[-1] if matching else None


def pending_task(executor, workflow_id: str, ref: str, timeout: float = 20.0):
    """Waits for a SCHEDULED or IN_PROGRESS task with this reference name and returns it."""

    def check():
        wf = executor.get_workflow(workflow_id, include_tasks=True)
        for t in wf.tasks or []:
            if t.reference_task_name == ref and t.status in ("SCHEDULED", "IN_PROGRESS"):
                return t
        return None

    return eventually(check, timeout=timeout, what=f"a pending task {ref} in {workflow_id}")


def contains_diff(actual: Any, expected: Any, path: str = "$") -> list[str]:
    """Differences where `actual` lacks what `expected` has: objects recursively (extra
    keys in `actual` are fine, a server fills in defaults), lists element by element
    with equal length, other values equal."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{path}: expected an object, got {json.dumps(actual)[:300]}"]
        out: list[str] = []
        for key, value in expected.items():
            out += contains_diff(actual.get(key), value, f"{path}.{key}")
        return out
    if isinstance(expected, list):
        if not isinstance(actual, list):
            return [f"{path}: expected a list, got {json.dumps(actual)[:300]}"]
        if len(actual) != len(expected):
            return [f"{path}: expected {len(expected)} elements, got {len(actual)}: {json.dumps(actual)[:500]}"]
        out = []
        for i, (a, e) in enumerate(zip(actual, expected)):
            out += contains_diff(a, e, f"{path}[{i}]")
        return out
    # True == 1 in Python: a bool must not stand in for a number (or the reverse).
    if actual != expected or isinstance(actual, bool) != isinstance(expected, bool):
        return [f"{path}: expected {json.dumps(expected)}, got {json.dumps(actual)}"]
    return []


def expect_api_error(fn: Callable[[], Any], status: int | tuple[int, ...]) -> ApiException:
    """Runs `fn`, which must raise ApiException with `status`; returns the exception."""
    wanted = (status,) if isinstance(status, int) else status
    try:
        result = fn()
    except ApiException as err:
        assert err.status in wanted, (
            f"expected HTTP {'/'.join(map(str, wanted))}, got {err.status}: {err.body!r}"
        )
        return err
    raise AssertionError(f"expected ApiException {wanted}, but the call returned {result!r}")
