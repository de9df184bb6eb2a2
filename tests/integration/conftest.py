"""Fixtures: the local stack (moto's Secrets Manager server and an authenticated
websockets server on 127.0.0.1) and the template-driven invoker, shared with
``make demo``."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import (
    EVENTS,
    FunctionSpec,
    apply_env_vars,
    environment,
    invoke,
    load_function,
    read_json,
)
from local_stack.servers.hostile_servers import ScriptedServer
from local_stack.servers.websocket_server import LocalWebSocketServer

Invoke = Callable[..., Any]
SRC = Path(__file__).resolve().parents[2] / "src"


def child_outcome(
    code: str,
    args: list[str],
    secrets_manager: LocalSecretsManager,
    token: str,
    script: Any,
    **variables: str,
) -> dict[str, Any]:
    """Run ``code`` (a script that calls the handler and prints one ``RESULT <json>``
    line) with ``args`` in a fresh process that imports only what Lambda would,
    against ``script`` on a scripted server, its secret a new one holding ``token``;
    the JSON it printed. ``variables`` are more of the function's environment."""
    name = secrets_manager.put_secret(f"child/{uuid.uuid4()}", json.dumps({"token": token}))
    with ScriptedServer(script) as server:
        child = subprocess.run(
            [sys.executable, "-c", code, *args],
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(SRC),
                "WEBSOCKET_URI": server.uri,
                "ALLOW_INSECURE_WEBSOCKET": "true",
                "TOKEN_SECRET_ID": name,
                **secrets_manager.environment,
                **variables,
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert child.returncode == 0, child.stderr[-2000:]
    line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
    outcome: dict[str, Any] = json.loads(line[7:])
    return outcome


@pytest.fixture(scope="session")
def token() -> str:
    return secrets.token_urlsafe(32)


@pytest.fixture(scope="session")
def secrets_manager() -> Iterator[LocalSecretsManager]:
    with LocalSecretsManager() as server, environment(server.environment):
        yield server


@pytest.fixture(scope="session")
def ws_server(token: str) -> Iterator[LocalWebSocketServer]:
    with LocalWebSocketServer(token) as server:
        yield server


@pytest.fixture
def server(ws_server: LocalWebSocketServer, token: str) -> Iterator[LocalWebSocketServer]:
    """The shared server, reset to accept the session token."""
    ws_server.token = token
    ws_server.scheme = "Bearer"
    ws_server.redirect_to = None
    ws_server.handshakes.clear()
    ws_server.messages.clear()
    yield ws_server
    ws_server.token = token


@pytest.fixture
def secret_id(secrets_manager: LocalSecretsManager, token: str) -> str:
    """A secret of its own for each test, so no test sees another's cache."""
    return secrets_manager.put_secret(f"test/{uuid.uuid4()}", json.dumps({"token": token}))


@pytest.fixture(scope="session")
def spec() -> FunctionSpec:
    return load_function()


@pytest.fixture
def function_env(
    spec: FunctionSpec, server: LocalWebSocketServer, secret_id: str
) -> dict[str, str]:
    """The function's environment: template, events/env.json, then the live stack."""
    variables = apply_env_vars(spec, read_json(EVENTS / "env.json"))
    variables.update(
        WEBSOCKET_URI=server.uri + "/v1",
        TOKEN_SECRET_ID=secret_id,
        ALLOW_INSECURE_WEBSOCKET="true",
        REPLY_TIMEOUT_SECONDS="5",
    )
    return variables


@pytest.fixture
def run(spec: FunctionSpec, function_env: dict[str, str]) -> Invoke:
    """Invoke the real handler: ``run(event, VAR=value, ...)``."""

    def _run(event: Any, **overrides: str) -> Any:
        return invoke(spec, event, {**function_env, **overrides})

    return _run


def sample(name: str) -> Any:
    return read_json(EVENTS / name)


def body(response: dict[str, Any]) -> Any:
    return json.loads(response["body"])


def eventually(condition: Callable[[], bool], limit: float = 5.0) -> bool:
    """Poll ``condition`` until it holds or ``limit`` seconds pass."""
    deadline = time.monotonic() + limit
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def event_path(name: str) -> Path:
    return EVENTS / name
