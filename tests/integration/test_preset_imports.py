"""Presets cost nothing where they are not used: what a fresh interpreter imports.

Each check runs the real handler twice (a cold invocation, then a warm one) in
a child process, since this test process has long imported every preset, and
lists the modules of ``ws_exchange.protocols`` it holds afterwards.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.servers.graphql import GraphQLServer
from local_stack.servers.websocket_server import LocalWebSocketServer
from ws_exchange.protocols import PRESETS

SRC = Path(__file__).resolve().parents[2] / "src"

TWO_INVOCATIONS = """
import json, sys
from ws_exchange.handler import lambda_handler

class Context:
    aws_request_id = "cold-request"
    function_name = "ExchangeFunction"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ExchangeFunction"
    def get_remaining_time_in_millis(self):
        return 10_000

event = json.loads(sys.argv[1])
results = [lambda_handler(event, Context()) for _ in range(2)]
print("RESULT " + json.dumps({
    "ok": [result["ok"] for result in results],
    "errors": [result["error"] for result in results],
    "modules": sorted(m for m in sys.modules if m.startswith("ws_exchange.protocols.")),
}))
"""

PRESET_MODULES = {f"ws_exchange.protocols.{module}" for module in PRESETS.values()}


def imported_after_two_invocations(
    event: object, secrets_manager: LocalSecretsManager, token: str, **env: str
) -> list[str]:
    name = secrets_manager.put_secret(f"imports/{uuid.uuid4()}", json.dumps({"token": token}))
    child = subprocess.run(
        [sys.executable, "-c", TWO_INVOCATIONS, json.dumps(event)],
        env={
            "PATH": os.environ.get("PATH", ""),
            "PYTHONPATH": str(SRC),
            "ALLOW_INSECURE_WEBSOCKET": "true",
            "TOKEN_SECRET_ID": name,
            **secrets_manager.environment,
            **env,
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert child.returncode == 0, child.stderr
    line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
    outcome = json.loads(line[7:])
    assert outcome["ok"] == [True, True], outcome["errors"]
    modules: list[str] = outcome["modules"]
    return modules


def test_without_protocol_no_preset_module_is_imported(
    secrets_manager: LocalSecretsManager, ws_server: LocalWebSocketServer, token: str
) -> None:
    modules = imported_after_two_invocations(
        {"message": {"action": "ping"}},
        secrets_manager,
        token,
        WEBSOCKET_URI=ws_server.uri + "/v1",
    )

    assert PRESET_MODULES.isdisjoint(modules), modules
    assert modules == ["ws_exchange.protocols.link"]


def test_with_graphql_transport_ws_only_that_preset_is_imported(
    secrets_manager: LocalSecretsManager, token: str
) -> None:
    with GraphQLServer(token) as graphql:
        modules = imported_after_two_invocations(
            {"message": {"subscribe": {"query": "{ hello }"}}},
            secrets_manager,
            token,
            WEBSOCKET_URI=graphql.endpoint,
            PROTOCOL="graphql-transport-ws",
        )

    assert PRESET_MODULES.intersection(modules) == {"ws_exchange.protocols.graphql_transport_ws"}
