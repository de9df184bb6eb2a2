"""Property: whatever a server sends back, the result is typed, strict, bounded, clean.

A scripted websockets server on 127.0.0.1 answers the first message with generated
frames: arbitrary text, JSON with NaN, Infinity, 1e400, lone-surrogate escapes, deep
nesting and long numbers, binary frames, the token (echoed from the handshake,
embedded, spelled with JSON escapes, in a close reason), then a close with a random
code, a dropped connection, or silence. The handler, asking for N replies with a short
reply timeout and a short Lambda timeout, answers before the deadline with a typed,
strict-JSON result that holds no token, never more replies than were sent, and no
more reply bytes than MAX_RESULT_BYTES.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from hypothesis import event as label
from hypothesis import example, given, settings
from hypothesis import strategies as st
from websockets.datastructures import Headers
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import FunctionSpec
from local_stack.servers.hostile_servers import ScriptedServer

from .conftest import JSONISH, PROPERTY_SETTINGS, call, check_invariants, shows_token, timed

TIMEOUT_SECONDS = 2

# A frame as generated: what kind, and what it is made from (the token is known
# only once the session has one, so frames are rendered per example).
Frame = tuple[str, Any]


def escaped(character: str) -> str:
    return f"\\u{ord(character):04x}"


# Every way a frame can carry the token; each takes the token and the handshake headers.
TOKEN_PLACEMENTS: list[Callable[[str, Headers], str]] = [
    lambda t, h: t,
    lambda t, h: f"Bearer {t}",
    lambda t, h: "\r\n".join(f"{name}: {value}" for name, value in h.raw_items()),
    lambda t, h: json.dumps({"headers": dict(h.raw_items())}),
    lambda t, h: json.dumps({"echo": t}),
    lambda t, h: json.dumps({t: 1}),
    lambda t, h: '"' + "".join(escaped(c) for c in t) + '"',
    lambda t, h: '{"k": "' + escaped(t[0]) + t[1:] + '"}',
    lambda t, h: '["' + t[:5] + escaped(t[5]) + t[6:] + '"]',
    lambda t, h: '{"' + escaped(t[0]) + t[1:] + '": "key"}',
    lambda t, h: "x" * 1000 + t + "y" * 1000,
    lambda t, h: t + t,
    lambda t, h: t[:7] + t + t[7:],
    lambda t, h: json.dumps([t, {"nested": [{"a": "pre" + t + "post"}]}]),
    lambda t, h: '{"a": NaN, "t": "' + t + '"}',
    lambda t, h: '{"t": "' + escaped(t[0]) + t[1:] + '", "s": "\\ud800"}',
    lambda t, h: '{"t": "' + t + '", "n": 1e400}',
    lambda t, h: "{not json " + t,
    lambda t, h: json.dumps({"e": t}, ensure_ascii=True) + " trailing",
]

ODD_JSON = st.sampled_from(
    [
        "NaN",
        "-Infinity",
        "1e400",
        "-1e400",
        "[1e400]",
        '{"a": Infinity}',
        "1e-400",
        "-0.0",
        '"\\ud800"',
        '{"\\udfff": 1}',
        '["\\ud83d\\ude00", "\\ude00\\ud83d"]',
        '"\\\\ud800"',
        "[" * 63 + "]" * 63,
        "[" * 65 + "]" * 65,
        "[" * 5000 + "]" * 5000,
        "[" * 100_000,
        '{"a":' * 3000 + "1" + "}" * 3000,
        "1" * 4300,
        "1" * 4301,
        "-" + "9" * 10_000,
        "1" * 4000 + ".5e3",
        "[" + ",".join(["{}"] * 20_000) + "]",
        "",
        " ",
        "\ufeff{}",
        "null",
    ]
)
# Text a server can send (websockets refuses lone surrogates on its side).
PLAIN_TEXT = st.text(max_size=50)

FRAMES = st.one_of(
    st.tuples(st.just("text"), PLAIN_TEXT),
    st.tuples(st.just("text"), ODD_JSON),
    # json.dumps writes NaN, Infinity and lone surrogates as escapes: not strict JSON.
    st.tuples(st.just("text"), JSONISH.map(json.dumps)),
    st.tuples(st.just("text"), st.integers(1, 300_000).map(lambda n: json.dumps("x" * n))),
    st.tuples(st.just("token"), st.integers(0, len(TOKEN_PLACEMENTS) - 1)),
    st.tuples(st.just("binary"), st.binary(max_size=64)),
    st.tuples(st.just("binary-token"), st.binary(max_size=8)),
)
ENDINGS = st.one_of(
    st.just(("silence", None)),
    st.just(("drop", None)),
    st.tuples(
        st.just("close"),
        st.tuples(
            st.sampled_from(
                [1000, 1001, 1002, 1003, 1007, 1008, 1009, 1010, 1011, 1012, 1013, 3000, 4999]
            ),
            st.sampled_from(["", "bye", "token {token}", "{token}"]),
        ),
    ),
)


def render(frame: Frame, token: str, headers: Headers) -> str | bytes:
    kind, made_of = frame
    if kind == "token":
        return TOKEN_PLACEMENTS[made_of](token, headers)
    if kind == "binary-token":
        return made_of + token.encode() + made_of
    assert kind in ("text", "binary"), kind
    value: str | bytes = made_of
    return value


def script_for(
    frames: list[Frame], ending: tuple[str, Any], token: str
) -> Callable[[ServerConnection], None]:
    """The server's side: wait for the first message, send the frames, then end."""

    def script(connection: ServerConnection) -> None:
        assert connection.request is not None
        connection.recv(timeout=TIMEOUT_SECONDS)
        for frame in frames:
            connection.send(render(frame, token, connection.request.headers))
        kind, detail = ending
        if kind == "close":
            code, reason = detail
            connection.close(code, reason.replace("{token}", token))
        elif kind == "drop":
            connection.close_socket()

    return script


@pytest.fixture(scope="module")
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def reply_bytes(reply: Any) -> int:
    return len(json.dumps(reply, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


@settings(PROPERTY_SETTINGS, max_examples=150)
@given(
    frames=st.lists(FRAMES, max_size=6),
    ending=ENDINGS,
    expected=st.integers(min_value=0, max_value=4),
    messages=st.integers(min_value=1, max_value=2),
    max_result_bytes=st.sampled_from([64, 1000, 50_000, 4_194_304]),
    reply_timeout=st.sampled_from(["0.1", "0.2"]),
)
# The token spelled with JSON escapes, and echoed with the handshake (once leaked).
@example(
    frames=[("token", 6), ("token", 2)],
    ending=("silence", None),
    expected=2,
    messages=1,
    max_result_bytes=4_194_304,
    reply_timeout="0.2",
)
@example(
    frames=[("text", "1e400"), ("text", '"\\ud800"'), ("text", "NaN")],
    ending=("close", (1011, "{token}")),
    expected=4,
    messages=1,
    max_result_bytes=4_194_304,
    reply_timeout="0.1",
)
# Found by this property: a reply that is not strict JSON is kept as its text, and that
# text spells the token with one JSON escape ("\\u0076" + the rest of it in clear).
@example(
    frames=[("token", 15)],
    ending=("silence", None),
    expected=1,
    messages=1,
    max_result_bytes=4_194_304,
    reply_timeout="0.2",
)
def test_any_reply_stream_gives_a_typed_strict_bounded_result_without_the_token(
    spec: FunctionSpec,
    base_env: dict[str, str],
    scripted: ScriptedServer,
    token: str,
    frames: list[Frame],
    ending: tuple[str, Any],
    expected: int,
    messages: int,
    max_result_bytes: int,
    reply_timeout: str,
) -> None:
    short = timed(spec, TIMEOUT_SECONDS)
    scripted.script = script_for(frames, ending, token)
    event = {
        "messages": [{"action": "ping", "n": n} for n in range(messages)],
        "expected_replies": expected,
    }
    environment = {
        **base_env,
        "WEBSOCKET_URI": scripted.uri + "/v1",
        "REPLY_TIMEOUT_SECONDS": reply_timeout,
        "MAX_RESULT_BYTES": str(max_result_bytes),
    }

    outcome = call(short, event, environment)

    result = check_invariants(outcome, spec=short, secret=token, api=False, fail_on_error=False)
    label(outcome.error_type or "ok")
    assert len(result["received"]) <= len(frames), "more replies than the server sent"
    assert sum(reply_bytes(reply) for reply in result["received"]) <= max_result_bytes
    if result["ok"]:
        assert len(result["received"]) == expected * messages


def exchange(
    spec: FunctionSpec, environment: dict[str, str], script: Callable[[ServerConnection], None]
) -> dict[str, Any]:
    """One direct invocation asking for one reply from a server running ``script``."""
    with ScriptedServer(script) as server:
        outcome = call(
            timed(spec, TIMEOUT_SECONDS),
            {"message": {"action": "ping"}},
            {**environment, "WEBSOCKET_URI": server.uri + "/v1"},
        )
    assert outcome.raised is None
    result: dict[str, Any] = outcome.result
    return result


def test_a_token_spelled_with_escapes_in_a_reply_that_is_not_strict_json_is_redacted(
    spec: FunctionSpec, base_env: dict[str, str], token: str
) -> None:
    # Not strict JSON (a lone surrogate), so kept as text: the text still spells the token.
    reply = '{"t": "' + escaped(token[0]) + token[1:] + '", "s": "\\ud800"}'

    def script(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(reply)

    result = exchange(spec, base_env, script)

    assert result["ok"] is True, result["error"]
    assert token[1:] not in json.dumps(result["received"]), result["received"]
    assert not shows_token(result, token)


def test_a_binary_reply_whose_base64_spells_the_token_is_redacted(
    spec: FunctionSpec, base_env: dict[str, str], secrets_manager: LocalSecretsManager
) -> None:
    # A token in base64's own alphabet, of a length base64 produces whole.
    key = base64.b64encode(uuid.uuid4().bytes + uuid.uuid4().bytes[:8]).decode()
    secret_id = secrets_manager.put_secret(f"property/{uuid.uuid4()}", json.dumps({"token": key}))

    def script(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(base64.b64decode(key))

    result = exchange(spec, {**base_env, "TOKEN_SECRET_ID": secret_id}, script)

    assert result["ok"] is True, result["error"]
    assert key not in json.dumps(result), result["received"]
