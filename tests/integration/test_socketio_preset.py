"""PROTOCOL=socketio against a real Socket.IO server (python-socketio under
uvicorn), and against scripted servers for what python-socketio never does
(silence, an early close, binary data, a refusal that echoes the token)."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.servers.hostile_servers import ScriptedServer
from local_stack.servers.socketio import REFUSED_MESSAGE, SocketIOServer

from .conftest import Invoke, eventually
from .test_observability import run_child

OPENING = '0{"sid":"s1","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1}'
# The scripted servers' limits: short, so that a test of silence stays short.
Script = Callable[[ServerConnection], None]
QUICK = {"OPEN_TIMEOUT_SECONDS": "0.5", "MAX_ATTEMPTS": "1", "REPLY_TIMEOUT_SECONDS": "1"}


@pytest.fixture
def sio(token: str) -> Iterator[SocketIOServer]:
    with SocketIOServer(token) as server:
        yield server


def settings(uri: str, **more: str) -> dict[str, str]:
    return {"WEBSOCKET_URI": uri, "PROTOCOL": "socketio", **more}


# --- namespaces, events, acknowledgements ------------------------------------------


@pytest.mark.parametrize(
    ("path", "namespace"),
    [("", "/"), ("/", "/"), ("/chat", "/chat"), ("/socket.io/chat", "/chat")],
)
def test_an_event_is_emitted_in_the_uris_namespace_and_the_answer_is_a_reply(
    run: Invoke, sio: SocketIOServer, token: str, path: str, namespace: str
) -> None:
    result = run({"message": {"emit": ["ping", {"n": 1}, "two"]}}, **settings(sio.uri + path))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [["pong", {"n": 1}, "two"]]
    assert result["sent"] == [["ping", {"n": 1}, "two"]], "as emitted, never stamped"
    assert (namespace, "ping", [{"n": 1}, "two"]) in sio.events
    assert eventually(lambda: (namespace, "client disconnect") in sio.disconnects)
    assert token not in json.dumps(result)


def test_an_acknowledgement_is_a_reply_of_its_arguments(run: Invoke, sio: SocketIOServer) -> None:
    result = run(
        {"message": {"emit": ["echo", {"x": [1, 2]}, "y"], "ack": True}},
        **settings(sio.uri + "/chat"),
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == [[{"x": [1, 2]}, "y"]]
    assert ("/chat", "echo", [{"x": [1, 2]}, "y"]) in sio.events


def test_binary_arguments_arrive_as_base64_in_events_and_acknowledgements(
    run: Invoke, sio: SocketIOServer
) -> None:
    async def blob(sid: str, *args: Any) -> tuple[Any, ...]:
        await sio.sio.emit("blob", {"raw": b"\x00\x01\xff", "n": 1}, to=sid, namespace="/chat")
        return (b"ack-bytes", "text")

    sio.sio.on("blob", blob, namespace="/chat")

    result = run(
        {"message": {"emit": ["blob"], "ack": True}, "expected_replies": 2},
        **settings(sio.uri + "/chat"),
    )

    assert result["ok"] is True, result["error"]
    event = ["blob", {"raw": {"binary_base64": base64.b64encode(b"\x00\x01\xff").decode()}, "n": 1}]
    acknowledgement = [{"binary_base64": base64.b64encode(b"ack-bytes").decode()}, "text"]
    assert len(result["received"]) == 2
    assert event in result["received"] and acknowledgement in result["received"]


def test_steps_mix_events_and_acknowledgements(run: Invoke, sio: SocketIOServer) -> None:
    result = run(
        {
            "steps": [
                {"send": {"emit": ["echo", "{{uuid}}"], "ack": True}},
                {"receive": {"count": 1}, "extract": {"id": "[0]"}},
                {"send": {"emit": ["ping", "{{id}}"]}},
                {"receive": {"until": "[0] == 'pong'"}},
                {"expect": "received[1][1] == vars.id"},
            ]
        },
        **settings(sio.uri),
    )

    assert result["ok"] is True, result["error"]
    assert [reply[0] for reply in result["received"]][1] == "pong"


def test_the_servers_pings_are_answered_while_a_step_sleeps(run: Invoke, token: str) -> None:
    # A client that answers no ping is dropped after interval + timeout (0.4 s).
    with SocketIOServer(token, ping_interval=0.2, ping_timeout=0.2) as pinging:
        result = run(
            {
                "steps": [
                    {"send": {"emit": ["ping"]}},
                    {"receive": {"count": 1}},
                    {"sleep": 1.2},
                    {"send": {"emit": ["echo", "still here"], "ack": True}},
                    {"receive": {"count": 1}},
                ]
            },
            **settings(pinging.uri),
        )
        assert eventually(lambda: bool(pinging.disconnects))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [["pong"], ["still here"]], "no ping or pong among them"
    assert pinging.disconnects == [("/", "client disconnect")]


def test_a_wrong_token_is_auth_rejected_with_the_servers_message(
    run: Invoke, sio: SocketIOServer
) -> None:
    sio.token = "not-the-token"

    result = run({"message": {"emit": ["ping"]}}, **settings(sio.uri + "/chat"))

    assert result["ok"] is False
    assert result["error"]["type"] == "auth_rejected"
    assert REFUSED_MESSAGE in result["error"]["message"]
    assert "/chat" in result["error"]["message"]


def test_socketio_auth_shapes_the_connect_payload(
    run: Invoke, sio: SocketIOServer, token: str
) -> None:
    wrong_key = run(
        {"message": {"emit": ["ping"]}}, **settings(sio.uri, SOCKETIO_AUTH='{"key": "{token}"}')
    )
    right = run(
        {"message": {"emit": ["ping"]}},
        **settings(sio.uri, SOCKETIO_AUTH='{"token": "{token}", "client": "probe"}'),
    )

    assert wrong_key["error"]["type"] == "auth_rejected"
    assert right["ok"] is True, right["error"]


def test_the_query_mode_composes_with_the_engine_io_query(
    run: Invoke, sio: SocketIOServer, token: str
) -> None:
    result = run({"message": {"emit": ["ping"]}}, **settings(sio.uri + "/chat", AUTH_MODE="query"))

    assert result["ok"] is True, result["error"]
    assert result["endpoint"] == sio.uri + "/chat"
    assert token not in json.dumps(result)


def test_the_token_never_reaches_debug_logs_results_or_headers(
    function_env: dict[str, str], secrets_manager: LocalSecretsManager, token: str
) -> None:
    with SocketIOServer(token) as server:
        variables = {
            **function_env,
            **settings(server.uri + "/chat"),
            "LOG_LEVEL": "DEBUG",
            "AWS_LAMBDA_LOG_LEVEL": "DEBUG",
        }
        echo = {"message": {"emit": ["echo", "x"], "ack": True}}
        runs = [(echo, variables), (echo, {**variables, "AUTH_MODE": "query"})]
        results, output = run_child(runs, secrets_manager, root_debug=True)

    assert [r["ok"] for r in results] == [True, True], results
    # Frames (the CONNECT with its auth among them) are logged, whole frames redacted.
    assert "> TEXT [redacted]" in output
    # The query mode's parameter comes after the Engine.IO query, on the engine path.
    assert "GET /socket.io/?EIO=[redacted]&transport=[redacted]&access_token=[redacted]" in output
    assert token not in output
    assert token not in json.dumps(results)
    assert all(token not in json.dumps(r["connection"]["headers"]) for r in results)


# --- what the caller and the deployer can get wrong ----------------------------------


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"action": "ping"}, "is not an event"),
        ("hello", "is not an event"),
        ({"emit": []}, "not a list starting with the event"),
        ({"emit": [1, 2]}, "not a list starting with the event"),
        ({"emit": ["ping"], "ack": "yes"}, '"ack"'),
        ({"emit": ["ping"], "to": "room"}, '"to"'),
        ({"emit": ["disconnect"]}, "keeps for the connection"),
    ],
)
def test_a_message_the_protocol_cannot_send_is_invalid_request_before_any_io(
    run: Invoke, sio: SocketIOServer, message: Any, words: str
) -> None:
    result = run({"message": message}, **settings(sio.uri))

    assert result["error"]["type"] == "invalid_request"
    assert words in result["error"]["message"]
    assert result["attempts"] == 0


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"AUTH_MODE": "message", "AUTH_MESSAGE": '{"t": "{token}"}'}, "AUTH_MODE"),
        ({"AUTH_MODE": "none", "SOCKETIO_AUTH": '{"t": "{token}"}'}, "SOCKETIO_AUTH"),
        ({"SOCKETIO_AUTH": '["{token}"]'}, "SOCKETIO_AUTH"),
        ({"SOCKETIO_AUTH": "{not json"}, "SOCKETIO_AUTH"),
        ({"AUTH_MODE": "query", "AUTH_QUERY_PARAM": "EIO"}, "AUTH_QUERY_PARAM"),
        ({"GRAPHQL_CONNECTION_PARAMS": "{}"}, "GRAPHQL_CONNECTION_PARAMS"),
    ],
)
def test_contradicting_settings_are_config_errors_naming_them(
    run: Invoke, sio: SocketIOServer, variables: dict[str, str], named: str
) -> None:
    result = run({"message": {"emit": ["ping"]}}, **{**settings(sio.uri), **variables})

    assert result["error"]["type"] == "config_error"
    assert named in result["error"]["message"]
    assert result["attempts"] == 0


@pytest.mark.parametrize("path", ["/a,b", "/socket.io/?EIO=3", "/socket.io/?transport=polling"])
def test_a_uri_the_preset_cannot_use_is_a_config_error(
    run: Invoke, sio: SocketIOServer, path: str
) -> None:
    result = run({"message": {"emit": ["ping"]}}, **settings(sio.uri + path))

    assert result["error"]["type"] == "config_error"
    assert "WEBSOCKET_URI" in result["error"]["message"]


def test_without_a_token_mode_connect_carries_no_payload(run: Invoke, sio: SocketIOServer) -> None:
    # The counterpart refuses a CONNECT without auth: the refusal proves none was sent.
    result = run({"message": {"emit": ["ping"]}}, **settings(sio.uri, AUTH_MODE="none"))

    assert result["error"]["type"] == "auth_rejected"
    assert REFUSED_MESSAGE in result["error"]["message"]


# --- servers that misbehave ------------------------------------------------------------


def scripted(script: Script) -> ScriptedServer:
    return ScriptedServer(script)


def opens_then(answer: Callable[[ServerConnection, str], None]) -> Script:
    """A script that sends the open packet, reads CONNECT, then runs ``answer``."""

    def script(connection: ServerConnection) -> None:
        connection.send(OPENING)
        connect = connection.recv(timeout=5)
        assert isinstance(connect, str)
        answer(connection, connect)

    return script


def test_a_server_that_never_sends_the_open_packet_is_connect_timeout_in_time(
    run: Invoke,
) -> None:
    with ScriptedServer(lambda connection: time.sleep(2)) as silent:
        started = time.monotonic()
        result = run({"message": {"emit": ["ping"]}}, **settings(silent.uri, **QUICK))
        elapsed = time.monotonic() - started

    assert result["error"]["type"] == "connect_timeout"
    assert "open packet" in result["error"]["message"]
    assert elapsed < 1.5


def test_a_server_that_never_answers_connect_is_connect_timeout_in_time(run: Invoke) -> None:
    connects: list[str] = []
    with scripted(opens_then(lambda connection, connect: connects.append(connect))) as mute:
        result = run({"message": {"emit": ["ping"]}}, **settings(mute.uri + "/chat", **QUICK))

    assert result["error"]["type"] == "connect_timeout"
    assert "CONNECT for namespace /chat" in result["error"]["message"]
    assert len(connects) == 1 and connects[0].startswith("40/chat,{")


def test_a_server_that_closes_before_the_namespace_connects_is_connection_closed(
    run: Invoke,
) -> None:
    with scripted(lambda connection: connection.close(1011)) as closing:
        result = run({"message": {"emit": ["ping"]}}, **settings(closing.uri, **QUICK))

    assert result["error"]["type"] == "connection_closed"
    assert "1011" in result["error"]["message"]


def test_a_refusal_that_echoes_the_token_is_scrubbed(run: Invoke, token: str) -> None:
    def refuse(connection: ServerConnection, connect: str) -> None:
        connection.send("44" + json.dumps({"message": f"bad token {token}, go away"}))

    with scripted(opens_then(refuse)) as refusing:
        result = run({"message": {"emit": ["ping"]}}, **settings(refusing.uri, **QUICK))

    assert result["error"]["type"] == "auth_rejected"
    assert "bad token [redacted], go away" in result["error"]["message"]
    assert token not in json.dumps(result)


@pytest.mark.parametrize(
    ("after_connect", "error_type", "words"),
    [
        ("41", "connection_closed", "disconnected namespace /"),
        ("1", "connection_closed", "closed the Engine.IO session"),
        (b"\x00\x01", "expectation_failed", "no Socket.IO binary packet announced"),
        ("hello", "expectation_failed", "not an Engine.IO packet"),
        ("4{", "expectation_failed", "not a Socket.IO packet"),
    ],
)
def test_what_the_server_sends_after_connecting_ends_the_exchange_typed(
    run: Invoke, after_connect: str | bytes, error_type: str, words: str
) -> None:
    def accept_then(connection: ServerConnection, connect: str) -> None:
        connection.send('40{"sid":"n1"}')
        connection.send(after_connect)

    with scripted(opens_then(accept_then)) as server:
        result = run({"message": {"emit": ["ping"]}}, **settings(server.uri, **QUICK))

    assert result["error"]["type"] == error_type
    assert words in result["error"]["message"]


def test_attachments_fill_their_placeholders_and_other_namespaces_are_skipped(
    run: Invoke,
) -> None:
    def converse(connection: ServerConnection, connect: str) -> None:
        connection.send('40{"sid":"n1"}')
        connection.recv(timeout=5)  # the caller's event
        connection.send('451-/other,["skipped",{"_placeholder":true,"num":0}]')
        connection.send(b"\xde\xad")
        connection.send('452-["file",{"_placeholder":true,"num":1},{"_placeholder":true,"num":0}]')
        connection.send("2")  # a ping between attachments
        connection.send(b"first")
        connection.send(b"second")

    with scripted(opens_then(converse)) as server:
        result = run({"message": {"emit": ["ping"]}}, **settings(server.uri, **QUICK))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [
        ["file", {"binary_base64": "c2Vjb25k"}, {"binary_base64": "Zmlyc3Q="}]
    ]


def test_a_server_that_stops_pinging_is_connection_closed_even_while_collecting(
    run: Invoke,
) -> None:
    def fall_silent(connection: ServerConnection) -> None:
        connection.send('0{"sid":"s1","upgrades":[],"pingInterval":200,"pingTimeout":100}')
        connection.recv(timeout=5)  # CONNECT
        connection.send('40{"sid":"n1"}')
        connection.recv(timeout=5)  # the caller's event
        connection.send('42["pong"]')
        for _ in range(3):  # pings, then nothing: a server whose loop is stuck
            connection.send("2")
            time.sleep(0.1)

    with ScriptedServer(fall_silent) as server:
        started = time.monotonic()
        result = run(
            {"steps": [{"send": {"emit": ["ping"]}}, {"receive": {"count": 1}}, {"collect": 5}]},
            **settings(server.uri, **QUICK),
        )
        elapsed = time.monotonic() - started

    assert result["error"]["type"] == "connection_closed"
    assert "no Engine.IO ping for 0.3 s" in result["error"]["message"]
    assert result["received"] == [["pong"]]
    assert elapsed < 3, "long before the collect window ends"


def test_an_event_asking_for_an_ack_gets_an_empty_one_and_noise_is_ignored(run: Invoke) -> None:
    answers: list[str] = []

    def converse(connection: ServerConnection, connect: str) -> None:
        connection.send('40{"sid":"n1"}')
        connection.recv(timeout=5)  # the caller's event
        for packet in ("6", "3", "2", '42/other,["elsewhere"]', '437["unknown ack"]'):
            connection.send(packet)
        connection.send('4212["news",{"id":1}]')
        answers.append(str(connection.recv(timeout=5)))
        answers.append(str(connection.recv(timeout=5)))

    with scripted(opens_then(converse)) as server:
        result = run({"message": {"emit": ["ping"]}}, **settings(server.uri, **QUICK))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [["news", {"id": 1}]]
    assert sorted(answers) == ["3", "4312[]"]
