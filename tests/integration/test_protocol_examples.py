"""The protocol preset examples in events/protocols/ run through the function, as
``make demo`` runs them: each against a real server of its ``PROTOCOL`` (Strawberry for
graphql-transport-ws, python-socketio, the AppSync Events emulator), its credential read
from the local Secrets Manager under the name its env-vars file gives."""

from __future__ import annotations

import json
import re
import socket
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack import __main__ as cli
from local_stack.aws.appsync_events import ApiKeyAuth, LocalAppSyncEvents
from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.protocols import (
    APPSYNC_HTTP_HOST,
    PRESETS,
    PROTOCOL_PORTS,
    PROTOCOLS,
    SECRET_NAMES,
    ProtocolStack,
    protocol_env_file,
    protocol_events,
)
from local_stack.runtime.invoker import FunctionSpec, apply_env_vars, read_json
from local_stack.servers.graphql import GraphQLServer
from local_stack.servers.socketio import SocketIOServer

NAMES = [event.stem for event in protocol_events()]
_PORT = re.compile(r"127\.0\.0\.1:\d+")


@pytest.fixture(scope="module")
def protocol_stack() -> Iterator[ProtocolStack]:
    with ProtocolStack() as stack:
        yield stack


def credentials(stack: ProtocolStack) -> list[str]:
    return [stack.graphql_token, stack.socketio_token, stack.api_key]


def test_the_examples_are_the_ones_the_demo_runs() -> None:
    assert NAMES == ["appsync", "graphql", "socketio"]
    assert all(path.parent == PROTOCOLS for path in protocol_events())


@pytest.mark.parametrize("name", NAMES)
def test_every_env_file_names_its_preset_fixed_port_and_secret(name: str) -> None:
    variables = json.loads(protocol_env_file(name).read_text())["ExchangeFunction"]

    assert variables["PROTOCOL"] == PRESETS[name]
    assert variables["WEBSOCKET_URI"].startswith(f"ws://127.0.0.1:{PROTOCOL_PORTS[name]}/")
    assert variables["TOKEN_SECRET_ID"] == SECRET_NAMES[name]
    if name == "appsync":
        assert variables["APPSYNC_AUTH"] == "api_key"
        assert variables["APPSYNC_HTTP_HOST"] == APPSYNC_HTTP_HOST


def test_every_example_succeeds_through_the_runtime_client(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    protocol_stack: ProtocolStack,
    capfd: pytest.CaptureFixture[str],
) -> None:
    results = cli.demo_protocols(spec, secrets_manager, protocol_stack)

    output = capfd.readouterr().out
    assert results == [True] * len(NAMES), output
    headers = [line for line in output.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- protocols/{name}.json: OK" for name in NAMES]
    # Each example reached its server and went through the protocol's own operations.
    assert '"subprotocol": "graphql-transport-ws"' in output
    assert '{"data": {"prices": {"seq": 3, "symbol": "SOL-USD", "price": 100.75}}}' in output
    assert [event[:2] for event in protocol_stack.socketio.events][-2:] == [
        ("/chat", "echo"),
        ("/chat", "ping"),
    ]
    assert '"subprotocol": "aws-appsync-event-ws"' in output
    assert protocol_stack.appsync.verdicts
    assert all(verdict.ok for verdict in protocol_stack.appsync.verdicts)
    for credential in credentials(protocol_stack):
        assert credential not in output, "a credential reached the demo's output"


@pytest.mark.parametrize("name", NAMES)
def test_an_example_with_the_wrong_credential_is_refused(
    name: str,
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    protocol_stack: ProtocolStack,
) -> None:
    # The counterparts check the stored credential: the examples pass because of it.
    wrong = secrets_manager.put_secret(f"test/protocols/{uuid.uuid4()}", '{"token": "wrong"}')
    variables = apply_env_vars(spec, protocol_stack.env_vars(name))
    variables["TOKEN_SECRET_ID"] = wrong

    with cli._invoker(spec, variables, secrets_manager.environment, raw=True) as run:
        result = run(read_json(PROTOCOLS / f"{name}.json"))

    assert result["ok"] is False
    assert result["error"]["type"] == "auth_rejected", result["error"]


def test_the_env_files_served_keep_everything_but_the_port(
    protocol_stack: ProtocolStack,
) -> None:
    for name in NAMES:
        written: dict[str, Any] = protocol_stack.env_vars(name)
        original = json.loads(protocol_env_file(name).read_text())
        assert _PORT.sub("P", json.dumps(written)) == _PORT.sub("P", json.dumps(original))
        assert written != original


def test_the_stored_secrets_are_what_each_counterpart_checks(
    secrets_manager: LocalSecretsManager, protocol_stack: ProtocolStack
) -> None:
    protocol_stack.put_secrets(secrets_manager)
    client = secrets_manager.client()

    stored = {
        name: client.get_secret_value(SecretId=secret)["SecretString"]
        for name, secret in SECRET_NAMES.items()
    }

    assert json.loads(stored["graphql"]) == {"token": protocol_stack.graphql.token}
    assert json.loads(stored["socketio"]) == {"token": protocol_stack.socketio.token}
    auth = protocol_stack.appsync.auth
    assert isinstance(auth, ApiKeyAuth)
    assert stored["appsync"] == auth.key


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port


def test_each_counterpart_serves_on_the_port_it_is_given() -> None:
    # As `make stack` gives them their fixed ports; free ones here.
    ports = [_free_port() for _ in range(3)]
    graphql = GraphQLServer("t", port=ports[0])
    sio = SocketIOServer("t", port=ports[1])
    appsync = LocalAppSyncEvents(ApiKeyAuth("k"), port=ports[2])

    with graphql, sio, appsync:
        assert graphql.endpoint == f"ws://127.0.0.1:{ports[0]}/graphql"
        assert sio.uri == f"ws://127.0.0.1:{ports[1]}"
        assert appsync.uri == f"ws://127.0.0.1:{ports[2]}/event/realtime"
        # Taken: a second server on the same port fails to start, as `make stack`
        # twice does.
        with pytest.raises(OSError):
            GraphQLServer("t", port=ports[0]).start()
