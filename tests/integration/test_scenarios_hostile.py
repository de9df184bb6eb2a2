"""Scenarios against servers that send what no one should: replies that nest
deeply, arrays that are huge, numbers out of range, lone surrogates, the token
itself, a refused handshake. Each gets a typed answer (never internal_error), in
strict JSON, with no credential in it and no variable carrying one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from websockets.frames import Frame, Opcode
from websockets.sync.server import ServerConnection

from local_stack.servers.hostile_servers import ScriptedServer
from local_stack.servers.scenario import ScenarioServer

from .conftest import Invoke

DEEP = 100_000
HUGE = 140_000


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def strict_json(answer: Any) -> str:
    """The answer as the runtime sends it; fails on NaN, Infinity and lone surrogates."""
    text = json.dumps(answer, ensure_ascii=False, allow_nan=False)
    text.encode("utf-8")
    return text


def answer_each_message_with(*frames: str) -> Callable[[ServerConnection], None]:
    """A script answering the n-th message with the n-th frame, then staying open."""

    def script(connection: ServerConnection) -> None:
        for frame in frames:
            connection.recv()
            connection.send(frame)

    return script


def extracting(variables: dict[str, str], then: list[dict[str, Any]] | None = None) -> Any:
    return {
        "steps": [
            {"send": "go"},
            {"receive": {"count": 1}, "extract": variables},
            *(then or []),
        ]
    }


@pytest.mark.parametrize(
    ("frame", "expression"),
    [
        ("[" * DEEP + "]" * DEEP, "[0][0][0]"),
        ('{"a":' * 5000 + "1" + "}" * 5000, "a.a.a.a.a"),
        ('{"x": 1e400, "y": 1}', "x"),
        ('{"x": 1}', "to_number('1e400')"),
        ('{"x": "\\ud800"}', "x"),
        ('{"x": "\\udfff and more"}', "x"),
    ],
    ids=["deep-list", "deep-object", "1e400", "to_number-1e400", "lone-surrogate", "low-surrogate"],
)
def test_extract_over_hostile_replies_is_typed_and_strict(
    run: Invoke, scripted: ScriptedServer, frame: str, expression: str
) -> None:
    scripted.script = answer_each_message_with(frame, "second")

    result = run(
        extracting({"v": expression}, [{"send": "{{v}}"}, {"receive": {"count": 1}}]),
        WEBSOCKET_URI=scripted.uri,
    )

    strict_json(result)
    error = result["error"]
    assert error is not None, "nothing usable could be extracted"
    if error["type"] == "message_too_large":
        # Decodable but deep: the variable holds it, the message cannot nest so deep.
        assert "steps[2].send" in error["message"], error
    else:
        assert error["type"] == "expectation_failed", error
        assert "steps[1].extract.v" in error["message"], error


def test_a_deep_value_extracted_whole_cannot_be_sent_and_says_why(
    run: Invoke, scripted: ScriptedServer
) -> None:
    # Decodable, 200 levels deep: a variable may hold it, a message may not nest so deep.
    frame = '{"a":' * 200 + "1" + "}" * 200
    scripted.script = answer_each_message_with(frame, "second")

    result = run(
        extracting({"v": "a"}, [{"send": {"wrapped": "{{v}}"}}, {"receive": {"count": 1}}]),
        WEBSOCKET_URI=scripted.uri,
    )

    strict_json(result)
    assert result["ok"] is False
    # The server's data made the message unsendable: not the caller's invalid request.
    assert result["error"]["type"] == "message_too_large", result["error"]
    assert "steps[2].send" in result["error"]["message"], result["error"]
    assert "nested deeper than 64 levels" in result["error"]["message"]
    assert len(result["sent"]) == 1, "the message that could not be sent was not sent"


def test_extract_over_a_huge_array_works_and_stays_typed(
    run: Invoke, scripted: ScriptedServer
) -> None:
    frame = json.dumps(list(range(HUGE)))
    scripted.script = answer_each_message_with(frame, "second")

    result = run(
        extracting(
            {
                "n": "length(@)",
                "top": "max(@)",
                "last": "sort(@)[-1]",
                "evens": "length([?@ > `0`])",
            },
            [
                {"send": {"n": "{{n}}", "top": "{{top}}", "last": "{{last}}"}},
                {"receive": {"count": 1}},
            ],
        ),
        WEBSOCKET_URI=scripted.uri,
        MAX_RESULT_BYTES=str(5 * 1024 * 1024),
    )

    strict_json(result)
    assert result["ok"] is True, result["error"]
    assert result["sent"][1]["n"] == HUGE
    assert result["sent"][1]["top"] == HUGE - 1
    assert result["sent"][1]["last"] == HUGE - 1


def test_an_echoed_token_is_redacted_before_extraction_and_never_sent_back(
    run: Invoke, scripted: ScriptedServer, token: str
) -> None:
    back: list[str] = []

    def echo_the_credential(connection: ServerConnection) -> None:
        assert connection.request is not None
        authorization = connection.request.headers["Authorization"]
        connection.recv()
        connection.send(
            json.dumps(
                {
                    "authorization": authorization,
                    "token": authorization.split()[1],
                    "nested": {"list": [authorization.split()[1]]},
                    "inside": f"your key is {authorization.split()[1]}!",
                }
            )
        )
        back.append(str(connection.recv()))
        connection.send("ok")

    scripted.script = echo_the_credential

    result = run(
        {
            "steps": [
                {"send": "hello"},
                {
                    "receive": {"count": 1},
                    "extract": {
                        "auth": "authorization",
                        "tok": "token",
                        "nested": "nested",
                        "inside": "inside",
                    },
                },
                {"send": {"a": "{{auth}}", "t": "{{tok}}", "n": "{{nested}}", "s": "<{{tok}}>"}},
                {"receive": {"count": 1}},
                {"expect": "vars.tok == '[redacted]'"},
            ],
            "expect": [
                "vars.nested.list[0] == '[redacted]'",
                "contains(vars.inside, '[redacted]')",
            ],
        },
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["ok"] is True, result["error"]
    assert token not in strict_json(result)
    assert result["sent"][1] == {
        "a": "[redacted]",
        "t": "[redacted]",
        "n": {"list": ["[redacted]"]},
        "s": "<[redacted]>",
        "timestamp": result["sent"][1]["timestamp"],
    }
    assert back and token not in back[0], "no variable carried the credential back"


def test_a_refused_handshake_keeps_status_and_headers_and_runs_no_step(
    run: Invoke, token: str
) -> None:
    with ScenarioServer("a-token-nobody-has") as server:
        result = run(
            {"steps": [{"send": {"action": "login", "user": "x"}}, {"receive": {"count": 1}}]},
            WEBSOCKET_URI=server.uri + "/login-flow",
        )

    assert result["ok"] is False
    assert result["error"]["type"] == "auth_rejected", result["error"]
    connection = result["connection"]
    assert connection["status"] == 401
    assert connection["headers"]["content-type"].startswith("text/plain")
    assert int(connection["headers"]["content-length"]) == len("Unauthorized\n")
    assert connection["close"] is None
    assert result["sent"] == [] and server.messages == []
    assert token not in strict_json(result)


def test_a_greeting_before_any_send_has_no_first_reply_timing(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def greet(connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello"}))

    scripted.script = greet

    result = run(
        {
            "steps": [{"receive": {"count": 1}}, {"ping": {}}],
            "expect": ["received[0].type == 'hello'"],
        },
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["ok"] is True, result["error"]
    timings = result["timings_ms"]
    # Nothing was sent: the phase from the first send to the first reply did not happen.
    assert "first_reply" not in timings, timings


def test_first_reply_is_timed_from_the_first_send_even_after_a_greeting(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def greet_then_answer(connection: ServerConnection) -> None:
        connection.send(json.dumps({"type": "hello"}))
        connection.recv()
        connection.send(json.dumps({"type": "answer"}))

    scripted.script = greet_then_answer

    result = run(
        {"steps": [{"receive": {"count": 1}}, {"send": "q"}, {"receive": {"count": 1}}]},
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["ok"] is True, result["error"]
    timings = result["timings_ms"]
    assert 0 <= timings["first_reply"] <= timings["exchange"], timings


def test_a_server_that_never_answers_a_ping_is_reply_timeout_naming_the_step(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def no_pongs(connection: ServerConnection) -> None:
        protocol = connection.protocol
        send_frame = protocol.send_frame

        def everything_but_pongs(frame: Frame) -> None:
            if frame.opcode is not Opcode.PONG:
                send_frame(frame)

        protocol.send_frame = everything_but_pongs  # type: ignore[method-assign]
        # Only now may the client ping.
        connection.send("ready")

    scripted.script = no_pongs

    result = run(
        {
            "steps": [{"receive": {"count": 1}}, {"ping": {}}, {"send": "not sent"}],
            "reply_timeout_seconds": 0.4,
        },
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["ok"] is False
    assert result["error"]["type"] == "reply_timeout", result["error"]
    assert "steps[1]" in result["error"]["message"]
    assert "pong" in result["error"]["message"]
    assert "ping" not in result["timings_ms"]
    assert result["sent"] == []


@pytest.mark.parametrize(
    ("value", "error_type"),
    [("aGVsbG8=", None), ("not base64!", "expectation_failed")],
    ids=["base64", "not-base64"],
)
def test_a_binary_message_filled_from_a_variable(
    run: Invoke, scripted: ScriptedServer, value: str, error_type: str | None
) -> None:
    frames: list[str | bytes] = []

    def answer_then_record(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(json.dumps({"b": value}))
        for frame in connection:
            frames.append(frame)
            connection.send("ok")

    scripted.script = answer_then_record

    result = run(
        extracting({"b": "b"}, [{"send": {"binary_base64": "{{b}}"}}, {"receive": {"count": 1}}]),
        WEBSOCKET_URI=scripted.uri,
    )

    if error_type is None:
        assert result["ok"] is True, result["error"]
        assert frames == [b"hello"]
    else:
        assert result["error"]["type"] == error_type, result["error"]
        assert "steps[2].send" in result["error"]["message"]
        assert "base64" in result["error"]["message"]
        assert frames == []
