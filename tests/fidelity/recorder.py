"""Every AWS API call made through botocore, recorded: operation, parameters, the client's region.

In this process: `with recording() as calls:`. In a child process (the build's `recpack` command):
put `SITE_DIR` first on PYTHONPATH and name a file in FIDELITY_CALL_LOG; each call is appended to it
as one JSON line. `stubs` answer operations the emulator lacks (Service Quotas for SageMaker) after
recording them, so the code under test still makes the call through its real botocore client.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from botocore.client import BaseClient

SITE_DIR = Path(__file__).resolve().parent / "site"
LOG_VARIABLE = "FIDELITY_CALL_LOG"
FAIL_VARIABLE = "FIDELITY_FAIL_OPERATION"

Stub = Callable[[str, dict[str, Any]], dict[str, Any]]


def _plain(value: Any) -> Any:
    """Parameters as JSON: bodies and file objects become a marker."""
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return f"<{type(value).__name__}>"


def describe(client: BaseClient, operation: str, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "service": client.meta.service_model.service_name,
        "operation": operation,
        "params": _plain(params),
        "region": client.meta.region_name,
    }


@contextlib.contextmanager
def recording(stubs: dict[str, Stub] | None = None) -> Iterator[list[dict[str, Any]]]:
    """Record this process's calls; `stubs` maps a botocore service name to a fake answering it."""
    calls: list[dict[str, Any]] = []
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        call = describe(client, operation, params)
        calls.append(call)
        stub = (stubs or {}).get(call["service"])
        if stub is not None:
            return stub(operation, params)
        return original(client, operation, params)

    BaseClient._make_api_call = record  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        BaseClient._make_api_call = original  # type: ignore[method-assign]


def install_in_child() -> None:
    """Called by site/sitecustomize.py when FIDELITY_CALL_LOG is set."""
    path = os.environ[LOG_VARIABLE]
    fail = os.environ.get(FAIL_VARIABLE, "")
    original = BaseClient._make_api_call

    def record(client: BaseClient, operation: str, params: dict[str, Any]) -> Any:
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(describe(client, operation, params)) + "\n")
        if operation == fail:
            # A connection that fails for good: the code's own error path runs (and is recorded).
            from botocore.exceptions import EndpointConnectionError

            raise EndpointConnectionError(endpoint_url="https://fault-injected-by-tests-fidelity")
        return original(client, operation, params)

    BaseClient._make_api_call = record  # type: ignore[method-assign]


def read_log(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def child_environment(log: Path, fail_operation: str = "") -> dict[str, str]:
    pythonpath = os.pathsep.join(filter(None, [str(SITE_DIR), os.environ.get("PYTHONPATH", "")]))
    environment = {"PYTHONPATH": pythonpath, LOG_VARIABLE: str(log)}
    if fail_operation:
        environment[FAIL_VARIABLE] = fail_operation
    return environment
