"""The socketio preset's pure parts: where it connects, the packets it writes and
reads (checked against the Socket.IO v5 protocol document's own examples), the
messages it accepts and its settings."""

from __future__ import annotations

from typing import Any

import pytest

from ws_exchange.config import load_config
from ws_exchange.credentials import SecretValue
from ws_exchange.deadline import Deadline
from ws_exchange.errors import ConfigError
from ws_exchange.protocols import socketio
from ws_exchange.protocols.socketio import (
    ACK,
    BINARY_ACK,
    BINARY_EVENT,
    CONNECT,
    CONNECT_ERROR,
    DISCONNECT,
    EVENT,
    Packet,
    check_message,
    decode,
    encode,
    engine_uri,
    locate,
    refusal,
    silence_limit,
    with_attachments,
)

# --- where it connects ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "engine", "namespace"),
    [
        ("wss://h.example", "wss://h.example/socket.io/", "/"),
        ("wss://h.example/", "wss://h.example/socket.io/", "/"),
        ("wss://h.example/chat", "wss://h.example/socket.io/", "/chat"),
        ("wss://h.example/chat/", "wss://h.example/socket.io/", "/chat"),
        ("wss://h.example/a/b", "wss://h.example/socket.io/", "/a/b"),
        ("wss://h.example/socket.io", "wss://h.example/socket.io/", "/"),
        ("wss://h.example/socket.io/", "wss://h.example/socket.io/", "/"),
        ("wss://h.example/socket.io/chat", "wss://h.example/socket.io/", "/chat"),
        ("wss://h.example/api/socket.io/", "wss://h.example/api/socket.io/", "/"),
        ("wss://h.example/api/socket.io/chat", "wss://h.example/api/socket.io/", "/chat"),
        ("wss://h.example/caf%C3%A9", "wss://h.example/socket.io/", "/café"),
        ("wss://h.example:8443/chat?v=2", "wss://h.example:8443/socket.io/?v=2", "/chat"),
    ],
)
def test_the_uris_path_names_the_namespace_and_the_engine_path(
    uri: str, engine: str, namespace: str
) -> None:
    assert locate(uri) == (engine, namespace)


def test_a_namespace_with_a_comma_is_refused() -> None:
    with pytest.raises(ValueError, match="comma"):
        locate("wss://h.example/a,b")


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("wss://h.example/socket.io/", "wss://h.example/socket.io/?EIO=4&transport=websocket"),
        (
            "wss://h.example/socket.io/?v=2",
            "wss://h.example/socket.io/?EIO=4&transport=websocket&v=2",
        ),
    ],
)
def test_the_engine_io_query_comes_first(uri: str, expected: str) -> None:
    assert engine_uri(uri) == expected


BASE = {
    "WEBSOCKET_URI": "wss://h.example/chat?tenant=a",
    "TOKEN_SECRET_ID": "prod/token",
    "PROTOCOL": "socketio",
}


def test_the_configured_handshake_goes_to_the_engine_path() -> None:
    config = load_config(BASE)

    assert config.handshake.uri == ("wss://h.example/socket.io/?EIO=4&transport=websocket&tenant=a")
    assert config.endpoint == "wss://h.example/chat"
    assert config.preset is not None and config.preset.namespace == "/chat"  # type: ignore[attr-defined]


def test_the_query_mode_adds_its_parameter_after_the_engine_io_query() -> None:
    config = load_config({**BASE, "AUTH_MODE": "query"})

    prepared = config.mode.prepare(
        config.handshake, lambda refresh: SecretValue("t0k/en", True), Deadline(5), refresh=False
    )

    assert prepared.handshake.uri == (
        "wss://h.example/socket.io/?EIO=4&transport=websocket&tenant=a&access_token=t0k%2Fen"
    )


# --- packets ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "namespace", "data", "ack_id", "wire"),
    [
        # The protocol document's examples, each wrapped in an Engine.IO message ("4").
        (CONNECT, "/", None, None, "40"),
        (
            CONNECT,
            "/admin",
            {"sid": "oSO0OpakMV_3jnilAAAA"},
            None,
            '40/admin,{"sid":"oSO0OpakMV_3jnilAAAA"}',
        ),
        (CONNECT_ERROR, "/", {"message": "Not authorized"}, None, '44{"message":"Not authorized"}'),
        (EVENT, "/", ["foo"], None, '42["foo"]'),
        (EVENT, "/admin", ["bar"], None, '42/admin,["bar"]'),
        (EVENT, "/", ["foo"], 12, '4212["foo"]'),
        (ACK, "/admin", ["bar"], 13, '43/admin,13["bar"]'),
        (DISCONNECT, "/", None, None, "41"),
        (DISCONNECT, "/admin", None, None, "41/admin,"),
    ],
)
def test_packets_encode_and_decode_as_the_protocol_document_shows(
    kind: int, namespace: str, data: Any, ack_id: int | None, wire: str
) -> None:
    assert encode(kind, namespace, data, ack_id) == wire
    assert decode(wire[1:]) == Packet(kind, namespace, ack_id, data)


@pytest.mark.parametrize(
    ("text", "packet"),
    [
        (
            '51-["baz",{"_placeholder":true,"num":0}]',
            Packet(BINARY_EVENT, "/", None, ["baz", {"_placeholder": True, "num": 0}], 1),
        ),
        ('52-/admin,["baz"]', Packet(BINARY_EVENT, "/admin", None, ["baz"], 2)),
        ('61-15["bar"]', Packet(BINARY_ACK, "/", 15, ["bar"], 1)),
        ("3[]", Packet(ACK, "/", None, [])),
        ('0{"sid":"x"}', Packet(CONNECT, "/", None, {"sid": "x"})),
    ],
)
def test_binary_packets_and_edge_forms_decode(text: str, packet: Packet) -> None:
    assert decode(text) == packet


def test_attachments_replace_their_placeholders_at_any_depth() -> None:
    data = [
        "file",
        {"_placeholder": True, "num": 1},
        {"nested": [{"_placeholder": True, "num": 0}]},
        # Not placeholders: a number out of range, not an integer, not marked true.
        {"_placeholder": True, "num": 2},
        {"_placeholder": True, "num": True},
        {"_placeholder": 1, "num": 0},
    ]

    assert with_attachments(data, [b"\x00\xff", b"hi"]) == [
        "file",
        {"binary_base64": "aGk="},
        {"nested": [{"binary_base64": "AP8="}]},
        {"_placeholder": True, "num": 2},
        {"_placeholder": True, "num": True},
        {"_placeholder": 1, "num": 0},
    ]


@pytest.mark.parametrize("text", ["", "7", "x[]", "5[]", "5x-[]", '2["a"', "2{bad"])
def test_what_is_not_a_packet_is_a_value_error(text: str) -> None:
    with pytest.raises(ValueError):
        decode(text)


@pytest.mark.parametrize(
    ("data", "words"),
    [
        ({"message": "Not authorized"}, "Not authorized"),
        ("Not authorized.", "Not authorized"),
        ({"message": "line one\n   line two"}, "line one line two"),
        ({"message": ""}, None),
        ({"data": 1}, None),
        (None, None),
        (42, None),
    ],
)
def test_a_refusal_gives_the_servers_words_on_one_line(data: Any, words: str | None) -> None:
    assert refusal(data) == words


@pytest.mark.parametrize(
    ("opening", "seconds"),
    [
        ({"pingInterval": 25000, "pingTimeout": 20000}, 45.0),
        ({"pingInterval": 200, "pingTimeout": 100.5}, 0.3005),
        ({"pingInterval": 25000}, None),
        ({"pingInterval": 0, "pingTimeout": 1}, None),
        ({"pingInterval": -5, "pingTimeout": 1}, None),
        ({"pingInterval": True, "pingTimeout": 1}, None),
        ({"pingInterval": "25000", "pingTimeout": 1}, None),
        ({"pingInterval": 10**12, "pingTimeout": 1}, None),
    ],
)
def test_the_silence_limit_is_the_announced_interval_plus_timeout(
    opening: dict[str, Any], seconds: float | None
) -> None:
    assert silence_limit(opening) == seconds


def test_a_long_refusal_is_shortened() -> None:
    words = refusal({"message": "x" * 5000})
    assert words is not None and len(words) < 300


# --- messages and settings -------------------------------------------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"emit": ["ping"]},
        {"emit": ["ping", 1, {"a": None}, [2]]},
        {"emit": ["echo"], "ack": True},
        {"emit": ["echo"], "ack": False},
    ],
)
def test_events_are_accepted(message: Any) -> None:
    check_message(message)


@pytest.mark.parametrize(
    "message",
    [
        "ping",
        ["ping"],
        {"event": "ping"},
        {"emit": "ping"},
        {"emit": []},
        {"emit": [""]},
        {"emit": [None, 1]},
        {"emit": ["ping"], "ack": 1},
        {"emit": ["ping"], "namespace": "/x"},
        {"emit": ["connect"]},
        {"emit": ["disconnect"]},
    ],
)
def test_anything_else_is_refused(message: Any) -> None:
    with pytest.raises(ValueError):
        check_message(message)


def preset(**environ: str) -> Any:
    return socketio.from_environ(environ, uri=environ.pop("uri", "wss://h.example/chat"))


def test_the_default_auth_carries_the_token_in_token_modes_and_nothing_otherwise() -> None:
    assert preset()._auth == {"token": "{token}"}
    assert preset(AUTH_MODE="header")._auth == {"token": "{token}"}
    assert preset(AUTH_MODE="none")._auth is None
    assert preset(AUTH_MODE="sigv4")._auth is None


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"SOCKETIO_AUTH": "[1]"}, "SOCKETIO_AUTH"),
        ({"SOCKETIO_AUTH": '"{token}"'}, "SOCKETIO_AUTH"),
        ({"SOCKETIO_AUTH": "{"}, "SOCKETIO_AUTH"),
        ({"AUTH_MODE": "basic", "SOCKETIO_AUTH": '{"t": "{token}"}'}, "SOCKETIO_AUTH"),
        ({"AUTH_MODE": "message"}, "AUTH_MODE"),
        ({"AUTH_MODE": "query", "AUTH_QUERY_PARAM": "transport"}, "AUTH_QUERY_PARAM"),
        ({"uri": "wss://h.example/socket.io/?EIO=3"}, "WEBSOCKET_URI"),
        ({"uri": "wss://h.example/a,b"}, "WEBSOCKET_URI"),
    ],
)
def test_bad_settings_are_config_errors_naming_the_variable(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        preset(**environ)


def test_the_preset_never_shows_its_payload() -> None:
    assert "token" not in repr(preset(SOCKETIO_AUTH='{"token": "{token}", "k": "v"}'))
