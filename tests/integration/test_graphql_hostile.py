"""PROTOCOL=graphql-transport-ws against servers that misbehave.

Each server is websockets' own on 127.0.0.1, scripted to speak just enough
graphql-transport-ws to reach the fault (Strawberry, the well-behaved
counterpart, cannot be made to ack twice or flood pings). Every fault gets a
typed result in time, with no credential in it.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import invoke
from local_stack.servers.hostile_servers import ScriptedServer

from .conftest import Invoke, eventually
from .test_observability import run_child

SUBPROTOCOL = "graphql-transport-ws"
HELLO = {"subscribe": {"query": "{ hello }"}}
ANSWER = {"data": {"hello": "Hello, world!"}}


class GraphQLScript:
    """What a scripted server saw: each message the client sent, decoded."""

    def __init__(self) -> None:
        self.seen: list[Any] = []
        self.pongs = 0

    def read(self, connection: ServerConnection) -> dict[str, Any]:
        message = json.loads(connection.recv())
        self.seen.append(message)
        if message.get("type") == "pong":
            self.pongs += 1
        return message  # type: ignore[no-any-return]

    def read_until(self, connection: ServerConnection, kind: str) -> dict[str, Any]:
        while True:
            message = self.read(connection)
            if message.get("type") == kind:
                return message

    def open(self, connection: ServerConnection, *, ack: bool = True) -> dict[str, Any]:
        init = self.read_until(connection, "connection_init")
        if ack:
            connection.send(json.dumps({"type": "connection_ack"}))
        return init

    def subscribed(self, connection: ServerConnection) -> str:
        operation_id: str = self.read_until(connection, "subscribe")["id"]
        return operation_id

    def read_for(self, connection: ServerConnection, seconds: float) -> None:
        """Keep reading (counting pongs) for ``seconds`` or until the client closes."""
        end = time.monotonic() + seconds
        with contextlib.suppress(TimeoutError):
            while time.monotonic() < end:
                message = json.loads(connection.recv(timeout=max(0.0, end - time.monotonic())))
                self.seen.append(message)
                self.pongs += message.get("type") == "pong"


def send(connection: ServerConnection, **message: Any) -> None:
    connection.send(json.dumps(message))


@pytest.fixture
def graphql(token: str) -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        # Selecting the subprotocol, as a graphql-transport-ws server does.
        server.response_headers["Sec-WebSocket-Protocol"] = SUBPROTOCOL
        yield server


@pytest.fixture
def script() -> GraphQLScript:
    return GraphQLScript()


def on(server: ScriptedServer, body: Callable[[ServerConnection], None]) -> None:
    server.script = body


def settings(server: ScriptedServer, **more: str) -> dict[str, str]:
    return {"WEBSOCKET_URI": server.uri, "PROTOCOL": SUBPROTOCOL, **more}


def timed(spec: Any, timeout: int) -> Any:
    return type(spec)(**{**spec.__dict__, "timeout": timeout})


def assert_error(result: dict[str, Any], kind: str, *words: str) -> None:
    assert result["ok"] is False, result
    assert result["error"]["type"] == kind, result["error"]
    for word in words:
        assert word in result["error"]["message"], result["error"]


# --- the opening -----------------------------------------------------------------------


def test_a_server_that_never_acks_is_auth_rejected_within_the_open_timeout(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    on(graphql, lambda connection: script.open(connection, ack=False))
    started = time.monotonic()

    result = run({"message": HELLO}, **settings(graphql, OPEN_TIMEOUT_SECONDS="0.5"))

    assert_error(result, "auth_rejected", "did not acknowledge connection_init", "0.5 s")
    assert time.monotonic() - started < 3.0
    assert result["sent"] == []


def test_a_second_ack_is_ignored(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def twice(connection: ServerConnection) -> None:
        script.open(connection)
        send(connection, type="connection_ack", payload={"again": True})
        operation = script.subscribed(connection)
        send(connection, type="connection_ack")
        send(connection, id=operation, type="next", payload=ANSWER)
        send(connection, id=operation, type="complete")

    on(graphql, twice)

    result = run({"message": HELLO}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [ANSWER]


@pytest.mark.parametrize(
    ("code", "meaning", "retryable"),
    [
        (4400, "bad request", False),
        (4406, "does not speak graphql-transport-ws", False),
        (4408, "initialisation timeout", True),
        (4409, "subscriber already exists", False),
        (4429, "too many initialisation requests", True),
        (4500, "internal server error", True),
        (1000, "1000 before", True),
    ],
)
def test_a_close_before_the_ack_is_connection_closed_naming_the_code(
    run: Invoke,
    graphql: ScriptedServer,
    script: GraphQLScript,
    code: int,
    meaning: str,
    retryable: bool,
) -> None:
    def refuse(connection: ServerConnection) -> None:
        script.open(connection, ack=False)
        connection.close(code, "no")

    on(graphql, refuse)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "connection_closed", str(code), meaning, "connection_init")
    assert result["error"]["retryable"] is retryable
    assert result["attempts"] == 1


@pytest.mark.parametrize("code", [4401, 4403])
def test_a_refusing_close_before_the_ack_is_auth_rejected(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, code: int
) -> None:
    def refuse(connection: ServerConnection) -> None:
        script.open(connection, ack=False)
        connection.close(code, "Forbidden")

    on(graphql, refuse)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "auth_rejected", str(code))


def test_a_connection_dropped_before_the_ack_is_connection_closed(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def drop(connection: ServerConnection) -> None:
        script.open(connection, ack=False)
        connection.socket.close()

    on(graphql, drop)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "connection_closed", "connection_init")


def test_an_error_during_the_opening_is_auth_rejected_with_the_servers_words_scrubbed(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, token: str
) -> None:
    def refuse(connection: ServerConnection) -> None:
        init = script.open(connection, ack=False)
        said = init["payload"]["Authorization"]
        send(connection, type="error", payload=[{"message": f"bad credentials {said}"}])

    on(graphql, refuse)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "auth_rejected", "bad credentials", "[redacted]")
    assert "operation" not in result["error"]["message"]
    assert token not in json.dumps(result)


# --- operations ------------------------------------------------------------------------


def test_an_error_for_an_operation_is_expectation_failed_with_each_message_scrubbed(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, token: str
) -> None:
    def fail(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        errors = [{"message": "Cannot query field 'x'."}, {"message": f"token {token} refused"}]
        send(connection, id=operation, type="error", payload=errors)

    on(graphql, fail)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(
        result,
        "expectation_failed",
        "The GraphQL operation failed: Cannot query field 'x'; token [redacted] refused.",
    )
    assert token not in json.dumps(result)


def test_an_error_with_many_messages_shows_the_first_three(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def fail(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        errors = [{"message": f"problem {n}"} for n in range(5000)]
        send(connection, id=operation, type="error", payload=[{"no": "message"}, *errors])

    on(graphql, fail)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(
        result,
        "expectation_failed",
        "The GraphQL operation failed: problem 0; problem 1; problem 2.",
    )


@pytest.mark.parametrize("code", [4400, 4401, 4403, 4409, 4429, 4500])
def test_a_close_after_subscribe_is_connection_closed_naming_the_code(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, code: int
) -> None:
    def close_on_subscribe(connection: ServerConnection) -> None:
        script.open(connection)
        script.subscribed(connection)
        connection.close(code, "closing")

    on(graphql, close_on_subscribe)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "connection_closed", str(code))


@pytest.mark.parametrize("code", [4400, 4401, 4403, 4409, 4429, 4500])
def test_a_close_mid_stream_keeps_what_arrived_and_names_the_code(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, code: int
) -> None:
    def close_mid_stream(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload=ANSWER)
        connection.close(code, "closing")

    on(graphql, close_mid_stream)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "connection_closed", str(code))
    assert result["received"] == [ANSWER]


@pytest.mark.parametrize(
    ("frame", "words"),
    [
        ("not json", "not JSON"),
        (b"\x00\x01", "binary"),
        ("[1, 2]", "not a JSON object"),
        ('{"payload": {}}', "no type"),
        ('{"type": "data", "id": "1", "payload": {}}', '"data"'),
        ('{"type": "ka"}', "subscriptions-transport-ws"),
    ],
)
def test_a_frame_that_is_not_graphql_transport_ws_is_expectation_failed(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, frame: str | bytes, words: str
) -> None:
    def garble(connection: ServerConnection) -> None:
        script.open(connection)
        script.subscribed(connection)
        connection.send(frame)

    on(graphql, garble)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "expectation_failed", "graphql-transport-ws", words)
    assert result["received"] == []


def test_a_frame_that_is_not_graphql_transport_ws_during_the_opening_is_named(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def garble(connection: ServerConnection) -> None:
        script.open(connection, ack=False)
        connection.send("<html>")

    on(graphql, garble)

    result = run({"message": HELLO}, **settings(graphql))

    assert_error(result, "expectation_failed", "not JSON")


def test_next_error_and_complete_for_an_unknown_id_and_pongs_are_ignored(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def stray(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        send(connection, type="pong")
        send(connection, type="pong", payload={"unsolicited": True})
        send(connection, id="other", type="next", payload={"data": {"stray": 1}})
        send(connection, id="other", type="complete")
        send(connection, id="other", type="error", payload=[{"message": "stray"}])
        send(connection, type="next", payload={"data": {"stray": 2}})
        send(connection, id=operation, type="next", payload=ANSWER)
        send(connection, id=operation, type="complete")

    on(graphql, stray)

    result = run({"message": HELLO}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [ANSWER]


def test_a_next_after_the_operation_completed_is_ignored(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def late(connection: ServerConnection) -> None:
        script.open(connection)
        first = script.subscribed(connection)
        send(connection, id=first, type="next", payload=ANSWER)
        send(connection, id=first, type="complete")
        send(connection, id=first, type="next", payload={"data": {"late": True}})
        second = script.subscribed(connection)
        send(connection, id=second, type="next", payload={"data": {"second": True}})
        send(connection, id=second, type="complete")

    on(graphql, late)

    result = run(
        {"steps": [{"send": HELLO}, {"receive": {}}, {"send": HELLO}, {"receive": {}}]},
        **settings(graphql),
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == [ANSWER, {"data": {"second": True}}]


def test_subscriptions_still_open_are_completed_before_a_normal_close(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def endless(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        for n in range(5):
            send(connection, id=operation, type="next", payload={"data": {"n": n}})
        script.read_until(connection, "complete")

    on(graphql, endless)

    result = run({"steps": [{"send": HELLO}, {"receive": {"count": 3}}]}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert [reply["data"]["n"] for reply in result["received"]] == [0, 1, 2]
    assert eventually(lambda: graphql.client_close_codes == [1000])
    assert {"id": "1", "type": "complete"} in script.seen
    assert [message["type"] for message in script.seen] == [
        "connection_init",
        "subscribe",
        "complete",
    ]


# --- keep-alives -------------------------------------------------------------------------


def test_a_flood_of_protocol_pings_is_all_answered_and_never_a_reply(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    pings = 2000
    answered = threading.Event()

    def flood(connection: ServerConnection) -> None:
        send(connection, type="ping")  # before the ack too: allowed at any time
        script.open(connection)
        operation = script.subscribed(connection)
        for _ in range(pings - 2):
            send(connection, type="ping")
        send(connection, type="ping", payload={"n": "last"})
        while script.pongs < pings:
            script.read(connection)
        answered.set()
        send(connection, id=operation, type="next", payload=ANSWER)
        send(connection, id=operation, type="complete")

    on(graphql, flood)

    result = run({"message": HELLO}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert answered.is_set()
    assert result["received"] == [ANSWER]
    pongs = [message for message in script.seen if message["type"] == "pong"]
    assert len(pongs) == pings
    # As the reference client does: a ping's payload comes back in its pong.
    assert {"type": "pong", "payload": {"n": "last"}} in pongs


def test_an_endless_flood_of_protocol_pings_cannot_hold_the_answer(
    spec: Any, function_env: dict[str, str], graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def flood(connection: ServerConnection) -> None:
        script.open(connection)
        script.subscribed(connection)
        ping = json.dumps({"type": "ping"})
        with contextlib.suppress(Exception):
            while True:
                connection.send(ping)

    on(graphql, flood)
    started = time.monotonic()

    result = invoke(timed(spec, 2), {"message": HELLO}, {**function_env, **settings(graphql)})

    elapsed = time.monotonic() - started
    assert_error(result, "reply_timeout")
    assert result["received"] == []
    assert elapsed < 1.9, f"answered {elapsed:.2f} s into a 2 s invocation"


def test_a_flood_of_websocket_pings_cannot_hold_the_answer(
    spec: Any, function_env: dict[str, str], graphql: ScriptedServer, script: GraphQLScript
) -> None:
    pings = (b"\x89\x7d" + b"x" * 125) * 1000

    def flood(connection: ServerConnection) -> None:
        script.open(connection)
        script.subscribed(connection)
        with contextlib.suppress(OSError):
            while True:
                connection.socket.sendall(pings)

    on(graphql, flood)
    started = time.monotonic()

    result = invoke(timed(spec, 2), {"message": HELLO}, {**function_env, **settings(graphql)})

    elapsed = time.monotonic() - started
    assert_error(result, "reply_timeout")
    assert elapsed < 1.9, f"answered {elapsed:.2f} s into a 2 s invocation"


def test_websocket_pings_between_messages_change_nothing(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript
) -> None:
    def pinging(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        for _ in range(200):
            connection.ping()
        send(connection, id=operation, type="next", payload=ANSWER)
        send(connection, id=operation, type="complete")

    on(graphql, pinging)

    result = run({"message": HELLO}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [ANSWER]


# --- credentials ---------------------------------------------------------------------------


def test_connection_params_echoed_in_a_next_are_redacted(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, token: str
) -> None:
    def echo(connection: ServerConnection) -> None:
        init = script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload={"data": {"params": init["payload"]}})
        send(connection, id=operation, type="complete")

    on(graphql, echo)
    graphql.response_headers["X-Echo"] = f"Bearer {token}"

    result = run({"message": HELLO}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert result["received"][0]["data"]["params"]["Authorization"] in {
        "[redacted]",
        "Bearer [redacted]",
    }
    assert token not in json.dumps(result)
    assert script.seen[0]["payload"] == {"Authorization": f"Bearer {token}"}


def test_many_strings_in_the_params_never_push_the_token_out_of_the_scrubber(
    run: Invoke, graphql: ScriptedServer, script: GraphQLScript, token: str
) -> None:
    params = {"auth": "{token}"}
    params.update({f"field{n}": f"a-long-literal-value-{n:04d}" for n in range(40)})

    def echo(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload={"data": {"said": token}})
        send(connection, id=operation, type="complete")

    on(graphql, echo)

    result = run(
        {"message": HELLO}, **settings(graphql, GRAPHQL_CONNECTION_PARAMS=json.dumps(params))
    )

    assert result["ok"] is True, result["error"]
    assert script.seen[0]["payload"]["auth"] == token
    assert result["received"] == [{"data": {"said": "[redacted]"}}]


def test_literal_connection_params_are_kept_out_of_results_and_debug_logs(
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    graphql: ScriptedServer,
    script: GraphQLScript,
) -> None:
    key = "literal-api-key-0123456789"

    def echo(connection: ServerConnection) -> None:
        init = script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload={"data": {"params": init["payload"]}})
        send(connection, id=operation, type="complete")

    on(graphql, echo)
    variables = {
        **function_env,
        **settings(graphql),
        "AUTH_MODE": "none",
        "GRAPHQL_CONNECTION_PARAMS": json.dumps({"apiKey": key}),
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }

    results, output = run_child([({"message": HELLO}, variables)], secrets_manager, root_debug=True)

    assert results[0]["ok"] is True, results
    assert script.seen[0]["payload"] == {"apiKey": key}, "the parameters went to the server"
    assert key not in json.dumps(results[0])
    assert key not in output
    assert "connection_init" not in output


def test_connection_init_is_never_in_a_debug_frame_line_even_with_nothing_to_scrub(
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    graphql: ScriptedServer,
    script: GraphQLScript,
) -> None:
    # Too short to be scrubbed inside other text: only leaving the frame line
    # out keeps it from the log.
    def answer(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload=ANSWER)
        send(connection, id=operation, type="complete")

    on(graphql, answer)
    variables = {
        **function_env,
        **settings(graphql),
        "AUTH_MODE": "none",
        "GRAPHQL_CONNECTION_PARAMS": json.dumps({"pin": "Qz7#"}),
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }

    results, output = run_child([({"message": HELLO}, variables)], secrets_manager, root_debug=True)

    assert results[0]["ok"] is True, results
    assert script.seen[0]["payload"] == {"pin": "Qz7#"}
    assert "Qz7#" not in output
    assert "connection_init" not in output
    assert "> TEXT '{" in output.replace("\\", ""), "other frames are logged, payload and all"


def test_the_token_and_params_never_reach_debug_logs(
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    graphql: ScriptedServer,
    script: GraphQLScript,
    token: str,
) -> None:
    def echo(connection: ServerConnection) -> None:
        init = script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload={"data": {"params": init["payload"]}})
        send(connection, id=operation, type="error", payload=[{"message": f"no {token}"}])

    on(graphql, echo)
    variables = {**function_env, **settings(graphql), "POWERTOOLS_LOG_LEVEL": "DEBUG"}

    results, output = run_child([({"message": HELLO}, variables)], secrets_manager, root_debug=True)

    assert results[0]["error"]["type"] == "expectation_failed", results
    assert token not in output
    assert token not in json.dumps(results[0])
    assert token not in json.dumps(results[0]["connection"].get("headers", {}))


def test_a_preset_that_breaks_on_a_frame_is_a_typed_internal_error_not_a_hang(
    run: Invoke,
    graphql: ScriptedServer,
    script: GraphQLScript,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from ws_exchange.protocols import graphql_transport_ws

    def broken(self: Any, link: Any, frame: str | bytes) -> None:
        raise RuntimeError("a bug in the preset")

    def answer(connection: ServerConnection) -> None:
        script.open(connection)
        operation = script.subscribed(connection)
        send(connection, id=operation, type="next", payload=ANSWER)

    on(graphql, answer)
    started = time.monotonic()
    original = graphql_transport_ws.GraphQLTransportWS.incoming

    def after_the_ack(self: Any, link: Any, frame: str | bytes) -> None:
        if '"next"' in str(frame):
            broken(self, link, frame)
        original(self, link, frame)

    monkeypatch.setattr(graphql_transport_ws.GraphQLTransportWS, "incoming", after_the_ack)

    result = run({"message": HELLO}, **settings(graphql, REPLY_TIMEOUT_SECONDS="5"))

    assert_error(result, "internal_error")
    assert time.monotonic() - started < 4.0
    assert eventually(lambda: len(graphql.client_close_codes) == 1)
