"""A fleet of named targets, run concurrently against real local servers.

Concurrency is shown without timing anything: servers that answer only once
all of them are connected (a barrier) succeed only if the targets really run
at once. Isolation is shown by what each result holds: its own server's replies
and nothing else, within its own share.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.credentials.oauth2_server import Fault, LocalTokenEndpoint
from local_stack.runtime.invoker import FunctionSpec, invoke
from local_stack.servers.hostile_servers import ScriptedServer
from ws_exchange.result import RESPONSE_LIMIT_BYTES, response_size, target_share

Invoke = Callable[..., Any]
BARRIER_SECONDS = 5.0


def answer_after(barrier: threading.Barrier, name: str) -> Callable[[ServerConnection], None]:
    """A server that answers each message with its own name, once every server is connected."""

    def script(connection: ServerConnection) -> None:
        barrier.wait()
        for _ in connection:
            connection.send(json.dumps({"type": "pong", "server": name}))

    return script


@pytest.fixture
def servers() -> Iterator[list[ScriptedServer]]:
    started: list[ScriptedServer] = []
    try:
        yield started
    finally:
        for server in started:
            server.stop()


def serve(servers: list[ScriptedServer], script: Callable[[ServerConnection], None]) -> str:
    server = ScriptedServer(script).start()
    servers.append(server)
    return server.uri


@pytest.fixture
def targets_file(tmp_path: Path) -> Callable[[list[dict[str, Any]]], dict[str, str]]:
    def write(entries: list[dict[str, Any]]) -> dict[str, str]:
        path = tmp_path / f"targets-{uuid.uuid4().hex}.json"
        path.write_text(json.dumps({"targets": entries}))
        return {"TARGETS_FILE": str(path)}

    return write


def test_eight_targets_run_at_once_each_with_its_own_replies(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    barrier = threading.Barrier(8, timeout=BARRIER_SECONDS)
    names = [f"t{index}" for index in range(8)]
    env = targets_file(
        [
            # A host name, so that each opening awaits its resolution and they interleave.
            {
                "name": name,
                "websocket_uri": serve(servers, answer_after(barrier, name)).replace(
                    "127.0.0.1", "localhost"
                ),
            }
            for name in names
        ]
    )

    answer = run({"targets": "*"}, **env)

    assert answer["summary"] == {"total": 8, "ok": 8, "failed": 0}, answer
    assert answer["ok"] is True
    for name in names:
        result = answer["targets"][name]
        assert result["target"] == name
        assert [reply["server"] for reply in result["received"]] == [name]
        # Each timed its own connection, though all opened at once on one event loop.
        assert {"dns", "tcp", "handshake", "first_reply"} <= set(result["timings_ms"]), result


def test_max_concurrency_bounds_how_many_run_at_once(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    lock = threading.Lock()
    active = [0]
    peak = [0]

    def counted(connection: ServerConnection) -> None:
        with lock:
            active[0] += 1
            peak[0] = max(peak[0], active[0])
        threading.Event().wait(0.2)  # stay connected a while, so overlaps show
        message = connection.recv()
        connection.send(json.dumps({"echo": json.loads(message)}))
        with lock:
            active[0] -= 1

    env = targets_file(
        [{"name": f"t{index}", "websocket_uri": serve(servers, counted)} for index in range(6)]
    )

    answer = run({"targets": "*"}, MAX_CONCURRENCY="2", **env)

    assert answer["summary"]["ok"] == 6, answer
    assert peak[0] == 2


def test_a_hanging_credential_does_not_hold_up_the_other_targets(
    spec: FunctionSpec,
    function_env: dict[str, str],
    servers: list[ScriptedServer],
    targets_file: Any,
    secrets_manager: LocalSecretsManager,
) -> None:
    # The stuck token request waits until the deadline: had it held the event loop,
    # the other targets would find no time left when their turn came.
    short = dataclasses.replace(spec, timeout=3)
    barrier = threading.Barrier(3, timeout=BARRIER_SECONDS)
    client = {"client_id": "fleet-client", "client_secret": uuid.uuid4().hex}
    secret = secrets_manager.put_secret(f"test/{uuid.uuid4()}", json.dumps(client))
    with LocalTokenEndpoint(client["client_id"], client["client_secret"]) as endpoint:
        endpoint.fault = Fault.HANG
        env = targets_file(
            [
                # First, so that a token request on the event loop would block the rest.
                {
                    "name": "stuck",
                    "websocket_uri": serve(servers, answer_after(barrier, "never")),
                    "auth_mode": "oauth2_client_credentials",
                    "oauth2_token_url": endpoint.token_url,
                    "token_secret_id": secret,
                },
                *(
                    {"name": name, "websocket_uri": serve(servers, answer_after(barrier, name))}
                    for name in ("a", "b", "c")
                ),
            ]
        )

        answer = invoke(short, {"targets": "*"}, {**function_env, **env})

    assert answer["targets"]["stuck"]["error"]["type"] == "token_request_failed"
    for name in ("a", "b", "c"):
        assert answer["targets"][name]["ok"] is True, answer["targets"][name]
    assert answer["summary"] == {"total": 4, "ok": 3, "failed": 1}


def test_a_flooding_target_keeps_to_its_share_and_out_of_the_others(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    barrier = threading.Barrier(1, timeout=BARRIER_SECONDS)

    def flood(connection: ServerConnection) -> None:
        connection.recv()
        chunk = json.dumps({"junk": "x" * 60_000})
        for _ in range(400):  # 24 MB: far more than any share
            connection.send(chunk)

    env = targets_file(
        [
            {"name": "flood", "websocket_uri": serve(servers, flood), "until": "`false`"},
            {"name": "good", "websocket_uri": serve(servers, answer_after(barrier, "good"))},
        ]
    )

    answer = run({"targets": ["flood", "good"]}, **env)

    assert answer["targets"]["good"]["received"] == [{"type": "pong", "server": "good"}]
    assert answer["targets"]["flood"]["error"]["type"] == "message_too_large"
    assert response_size(answer["targets"]["flood"]) <= target_share(2)
    assert response_size(answer) <= RESPONSE_LIMIT_BYTES


def test_one_named_target_answers_with_its_own_result(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    barrier = threading.Barrier(1, timeout=BARRIER_SECONDS)
    env = targets_file(
        [{"name": "solo", "websocket_uri": serve(servers, answer_after(barrier, "solo"))}]
    )

    result = run({"target": "solo", "message": {"action": "hello"}}, **env)

    assert result["ok"] is True
    assert result["target"] == "solo"
    assert result["sent"][0]["action"] == "hello"
    assert "targets" not in result


def test_an_unknown_target_is_refused_before_any_connection(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    uri = serve(servers, answer_after(threading.Barrier(1), "x"))
    env = targets_file([{"name": "prices", "websocket_uri": uri}])

    result = run({"targets": ["prices", "pricse"]}, **env)

    assert result["error"]["type"] == "invalid_request"
    assert "'pricse' (did you mean prices?)" in result["error"]["message"]
    assert servers[0].handshakes == []


def test_a_bad_target_fails_alone(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    barrier = threading.Barrier(1, timeout=BARRIER_SECONDS)
    env = targets_file(
        [
            {"name": "bad", "websocket_uri": "ws://127.0.0.1:1/", "max_attempts": 0},
            {"name": "good", "websocket_uri": serve(servers, answer_after(barrier, "good"))},
        ]
    )

    answer = run({}, **env)

    bad = answer["targets"]["bad"]["error"]
    assert bad["type"] == "config_error"
    assert bad["message"].startswith("Target 'bad': max_attempts must be between 1")
    assert answer["targets"]["good"]["ok"] is True


def test_a_target_carries_its_own_defaults_and_the_invocation_may_replace_them(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    def echo(connection: ServerConnection) -> None:
        for message in connection:
            connection.send(json.dumps({"echo": json.loads(message)}))

    env = targets_file(
        [
            {
                "name": "echo",
                "websocket_uri": serve(servers, echo),
                "message": {"action": "custom"},
                "expect": ["received[0].echo.action == 'custom'"],
                "group": "g",
            }
        ]
    )

    answer = run({"group": "g"}, **env)
    assert answer["targets"]["echo"]["ok"] is True, answer
    assert answer["targets"]["echo"]["checks"][0]["passed"] is True

    replaced = run({"group": "g", "message": {"action": "other"}}, **env)
    assert replaced["targets"]["echo"]["error"]["type"] == "expectation_failed"


def test_metrics_name_each_target_and_count_invalid_requests_apart(
    function_env: dict[str, str],
    servers: list[ScriptedServer],
    targets_file: Any,
    secrets_manager: LocalSecretsManager,
) -> None:
    from tests.integration.test_observability import json_lines, run_child

    barrier = threading.Barrier(1, timeout=BARRIER_SECONDS)
    env = {
        **function_env,
        **targets_file(
            [
                {"name": "up", "websocket_uri": serve(servers, answer_after(barrier, "up"))},
                {"name": "down", "websocket_uri": "ws://127.0.0.1:1/", "max_attempts": 1},
            ]
        ),
    }

    _, output = run_child([({"targets": "*"}, env), ({"target": "nope"}, env)], secrets_manager)

    lines = json_lines(output)
    documents = [line for line in lines if "_aws" in line]
    per_target = {document["target"]: document for document in documents if "target" in document}
    assert per_target["up"]["ExchangeOk"] == [1.0]
    assert per_target["down"]["ExchangeOk"] == [0.0]
    assert per_target["down"]["service"] == per_target["up"]["service"]
    dimensions = per_target["up"]["_aws"]["CloudWatchMetrics"][0]["Dimensions"]
    assert [sorted(d) for d in dimensions] == [["service", "target"]]
    names = [
        metric["Name"]
        for document in documents
        if "target" not in document
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
    # The service-wide counts the alarms watch: one failure (down), one success (up),
    # the caller's unknown target counted apart, and one completed run.
    assert names.count("ExchangeFailed") == 1
    assert names.count("InvalidRequest") == 1
    assert names.count("RunsCompleted") == 1
    summary = next(line for line in lines if line.get("message", "").startswith("fleet"))
    assert summary["total"] == 2 and summary["failed"] == 1
    assert summary["failed_targets"] == {"down": "connect_failed"}
    assert {line.get("target") for line in lines if line.get("message") == "exchange failed"} == {
        "down"
    }


def test_a_key_in_one_targets_uri_is_scrubbed_though_others_open_after_it(
    run: Invoke, servers: list[ScriptedServer], targets_file: Any
) -> None:
    barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
    key = uuid.uuid4().hex

    def echo_path(connection: ServerConnection) -> None:
        assert connection.request is not None
        barrier.wait()  # both targets have opened before either answers
        for _ in connection:
            connection.send(json.dumps({"path": connection.request.path}))

    env = targets_file(
        [
            {"name": "keyed", "websocket_uri": serve(servers, echo_path) + f"/?api_key={key}"},
            {"name": "other", "websocket_uri": serve(servers, echo_path) + "/?region=eu-west-1x"},
        ]
    )

    answer = run({"targets": "*"}, **env)

    assert answer["summary"]["ok"] == 2, answer
    assert key not in json.dumps(answer)
    assert answer["targets"]["keyed"]["received"] == [{"path": "/?api_key=[redacted]"}]


def test_without_targets_naming_one_is_invalid_and_plain_runs_are_unchanged(run: Invoke) -> None:
    refused = run({"target": "prices"})
    assert refused["error"]["type"] == "invalid_request"
    assert "has no targets" in refused["error"]["message"]
    plain = run({})
    assert plain["ok"] is True and "target" not in plain and "targets" not in plain


def test_each_target_sends_its_own_credential_and_only_to_its_own_endpoint(
    run: Invoke,
    servers: list[ScriptedServer],
    targets_file: Any,
    secrets_manager: LocalSecretsManager,
) -> None:
    tokens = {name: uuid.uuid4().hex for name in ("a", "b")}
    secret_ids = {
        name: secrets_manager.put_secret(f"test/{uuid.uuid4()}", json.dumps({"token": token}))
        for name, token in tokens.items()
    }
    barrier = threading.Barrier(2, timeout=BARRIER_SECONDS)
    uris = {name: serve(servers, answer_after(barrier, name)) for name in tokens}
    env = targets_file(
        [
            {"name": name, "websocket_uri": uris[name], "token_secret_id": secret_ids[name]}
            for name in tokens
        ]
    )

    answer = run({"targets": "*"}, **env)

    assert answer["summary"]["ok"] == 2, answer
    for server, name in zip(servers, tokens, strict=True):
        assert [h["Authorization"] for h in server.handshakes] == [f"Bearer {tokens[name]}"]
    assert not any(token in json.dumps(answer) for token in tokens.values())
