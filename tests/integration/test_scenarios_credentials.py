"""A scenario runs the same whichever way the credential travels: each mode's
verifying server checks the handshake (or the authentication message), then
answers the steps; variables carry the server's data, never the credential."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import pytest

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.credentials.stack import LocalCredentialStack
from local_stack.runtime.invoker import invoke

pytest_plugins = ["tests.integration.conftest_counterparts"]

MODES = ["bearer", "header", "basic", "query", "message", "cookie"]

SCENARIO = {
    "steps": [
        {"send": {"action": "subscribe", "channel": "prices-{{uuid}}"}},
        {
            "receive": {"until": "type == 'update'", "max_replies": 5},
            "extract": {"channel": "channel", "seq": "seq"},
        },
        {"send": {"action": "note", "channel": "{{channel}}", "seq": "{{seq}}"}},
        {"receive": {"count": 1}, "extract": {"echoed": "message.channel"}},
        {"ping": {}},
        {"expect": "vars.echoed == vars.channel && vars.seq == `1`"},
    ],
    "expect": ["connection.status == `101`", "vars.echoed == sent[0].channel"],
}


def secret_values(secret: str) -> list[str]:
    document = json.loads(secret)
    return [value for value in document.values() if isinstance(value, str) and len(value) >= 8]


@pytest.fixture
def mode_env(
    credential_stack: LocalCredentialStack,
    secrets_manager: LocalSecretsManager,
    function_env: dict[str, str],
) -> Callable[[str], dict[str, str]]:
    def make(name: str) -> dict[str, str]:
        variables = {
            key: value
            for key, value in function_env.items()
            if key not in ("WEBSOCKET_URI", "TOKEN_SECRET_ID", "ALLOW_INSECURE_WEBSOCKET")
        }
        variables.update(credential_stack.settings(name))
        secret = credential_stack.secret(name)
        assert secret is not None
        variables["TOKEN_SECRET_ID"] = secrets_manager.put_secret(f"test/{uuid.uuid4()}", secret)
        return variables

    return make


@pytest.mark.parametrize("name", MODES)
def test_a_scenario_with_variables_runs_in_every_credential_mode(
    spec: Any,
    mode_env: Callable[[str], dict[str, str]],
    credential_stack: LocalCredentialStack,
    name: str,
) -> None:
    result = invoke(spec, SCENARIO, mode_env(name))

    assert result["ok"] is True, result["error"]
    assert [check["passed"] for check in result["checks"]] == [True, True]
    server = credential_stack.endpoint(name)
    assert len(server.handshakes) == 1, "one handshake, accepted"
    subscribe, note = (json.loads(frame) for frame in server.messages)
    assert subscribe["channel"].startswith("prices-")
    assert note["channel"] == subscribe["channel"]
    assert note["seq"] == 1 and type(note["seq"]) is int
    # The authentication message is no part of the scenario.
    assert len(result["sent"]) == 2
    assert result["timings_ms"]["ping"] > 0
    dumped = json.dumps(result)
    secret = credential_stack.secret(name)
    assert secret is not None
    for value in secret_values(secret):
        assert value not in dumped
