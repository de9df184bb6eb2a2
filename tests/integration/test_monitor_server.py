"""The local WebSocket server's behaviours for reply checks, met with a plain client.

Ids echoed on replies, a subscription that ends in a snapshot, a steady stream:
what ``until``, ``collect_seconds`` and ``expect`` are tested against through the
handler. Here the server alone is checked, with websockets' own sync client.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local_stack.servers.websocket_server import (
    SNAPSHOT_AFTER_UPDATES,
    STREAM_INTERVAL_MS,
    LocalWebSocketServer,
    answers,
    snapshot_answers,
)
from ws_exchange.checks import evaluate, matches, parse_checks
from ws_exchange.errors import InvalidRequest

from .conftest import eventually, sample

# Long enough for a loaded 2-core machine, short enough to fail fast.
RECV_TIMEOUT_SECONDS = 5.0
# How long "nothing more arrives" is watched for after a finished reply sequence.
QUIET_SECONDS = 0.3


@contextmanager
def client(
    server: LocalWebSocketServer, path: str, token: str, *, max_queue: int | None = 16
) -> Iterator[ClientConnection]:
    """A connection with the token on the handshake, as the function presents it.

    Against an endless flood, pass ``max_queue=None``: with flow control the
    client stops reading when its queue is full, never sees the server's close
    frame behind the queued ticks, and closing takes the whole close timeout.
    """
    with connect(
        server.uri + path,
        additional_headers={"Authorization": f"Bearer {token}"},
        open_timeout=RECV_TIMEOUT_SECONDS,
        close_timeout=RECV_TIMEOUT_SECONDS,
        max_queue=max_queue,
        compression=None,
    ) as connection:
        yield connection


def exchange(connection: ClientConnection, message: Any, replies: int) -> list[Any]:
    connection.send(json.dumps(message))
    return [json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS)) for _ in range(replies)]


def assert_quiet(connection: ClientConnection) -> None:
    with pytest.raises(TimeoutError):
        connection.recv(timeout=QUIET_SECONDS)


# --- ids ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ({"action": "ping", "id": "req-1"}, [{"type": "pong", "id": "req-1"}]),
        (
            {"action": "subscribe", "channel": "prices", "id": 7},
            [
                {"type": "subscribed", "channel": "prices", "id": 7},
                {"type": "update", "channel": "prices", "seq": 1, "id": 7},
            ],
        ),
        (
            {"action": "other", "id": None},
            [{"type": "echo", "message": {"action": "other", "id": None}, "id": None}],
        ),
    ],
)
def test_replies_to_a_message_with_an_id_carry_that_id(
    server: LocalWebSocketServer, token: str, message: dict[str, Any], expected: list[Any]
) -> None:
    with client(server, "/v1", token) as connection:
        assert exchange(connection, message, len(expected)) == expected


def test_replies_to_a_message_without_an_id_are_unchanged(
    server: LocalWebSocketServer, token: str
) -> None:
    with client(server, "/v1", token) as connection:
        assert exchange(connection, {"action": "ping"}, 1) == [{"type": "pong"}]
        assert exchange(connection, {"action": "subscribe", "channel": "c"}, 2) == [
            {"type": "subscribed", "channel": "c"},
            {"type": "update", "channel": "c", "seq": 1},
        ]
        assert exchange(connection, ["id"], 1) == [{"type": "echo", "message": ["id"]}]


def test_an_id_field_inside_a_non_object_message_is_not_echoed() -> None:
    assert answers("id") == [{"type": "echo", "message": "id"}]
    assert answers([{"id": 1}]) == [{"type": "echo", "message": [{"id": 1}]}]


# --- /snapshot ------------------------------------------------------------------------


def test_a_subscription_on_snapshot_gets_updates_then_one_snapshot_then_nothing(
    server: LocalWebSocketServer, token: str
) -> None:
    message = {"action": "subscribe", "channel": "prices", "id": "sub-1"}
    with client(server, "/snapshot", token) as connection:
        replies = exchange(connection, message, SNAPSHOT_AFTER_UPDATES + 2)
        assert_quiet(connection)
    assert [r["type"] for r in replies] == [
        "subscribed",
        *["update"] * SNAPSHOT_AFTER_UPDATES,
        "snapshot",
    ]
    assert [r.get("seq") for r in replies[1:]] == list(range(1, SNAPSHOT_AFTER_UPDATES + 2))
    assert all(r["id"] == "sub-1" and r["channel"] == "prices" for r in replies)
    assert replies[-1]["state"] == {"updates": SNAPSHOT_AFTER_UPDATES}


def test_snapshot_answers_other_messages_like_the_default_path(
    server: LocalWebSocketServer, token: str
) -> None:
    with client(server, "/snapshot", token) as connection:
        assert exchange(connection, {"action": "ping", "id": 3}, 1) == [{"type": "pong", "id": 3}]
        assert_quiet(connection)
    assert snapshot_answers({"action": "x"}) == answers({"action": "x"})


def test_each_subscription_on_snapshot_gets_its_own_snapshot(
    server: LocalWebSocketServer, token: str
) -> None:
    count = SNAPSHOT_AFTER_UPDATES + 2
    with client(server, "/snapshot", token) as connection:
        first = exchange(connection, {"action": "subscribe", "channel": "a"}, count)
        second = exchange(connection, {"action": "subscribe", "channel": "b"}, count)
    assert first[-1]["type"] == second[-1]["type"] == "snapshot"
    assert (first[-1]["channel"], second[-1]["channel"]) == ("a", "b")
    assert "id" not in first[-1]


# --- /stream --------------------------------------------------------------------------


def test_stream_sends_numbered_ticks_at_the_default_rate_after_the_first_message(
    server: LocalWebSocketServer, token: str
) -> None:
    ticks = 10
    with client(server, "/stream", token) as connection:
        assert_quiet(connection)  # nothing before the first message
        connection.send(json.dumps({"action": "subscribe", "id": "s"}))
        first = json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS))
        started = time.monotonic()
        rest = [json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS)) for _ in range(ticks - 1)]
        elapsed = time.monotonic() - started
    replies = [first, *rest]
    assert replies == [{"type": "tick", "seq": seq, "id": "s"} for seq in range(1, ticks + 1)]
    # The schedule never sends early: nine periods separate the first and the tenth.
    assert elapsed >= (ticks - 1) * STREAM_INTERVAL_MS / 1000 * 0.9, elapsed


def test_count_streams_exactly_that_many_ticks_at_full_speed_then_nothing(
    server: LocalWebSocketServer, token: str
) -> None:
    with client(server, "/stream?interval_ms=0&count=1000", token) as connection:
        connection.send(json.dumps({"action": "subscribe"}))
        seqs = [
            json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS))["seq"] for _ in range(1000)
        ]
        assert_quiet(connection)
        # Still connected and recording after the last tick.
        connection.send(json.dumps({"action": "after"}))
    assert seqs == list(range(1, 1001))
    assert eventually(lambda: len(server.messages) == 2)
    assert json.loads(server.messages[-1]) == {"action": "after"}


def test_an_endless_flood_stops_when_the_client_closes(
    server: LocalWebSocketServer, token: str
) -> None:
    for _ in range(3):
        with client(server, "/stream?interval_ms=0", token, max_queue=None) as connection:
            connection.send(json.dumps({"action": "subscribe"}))
            seqs = [
                json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS))["seq"] for _ in range(100)
            ]
            assert seqs == list(range(1, 101))
    with client(server, "/v1", token) as connection:
        assert exchange(connection, {"action": "ping"}, 1) == [{"type": "pong"}]


def test_interval_ms_sets_the_period(server: LocalWebSocketServer, token: str) -> None:
    with client(server, "/stream?interval_ms=100", token) as connection:
        connection.send(json.dumps("go"))
        connection.recv(timeout=RECV_TIMEOUT_SECONDS)
        started = time.monotonic()
        for _ in range(3):
            connection.recv(timeout=RECV_TIMEOUT_SECONDS)
        elapsed = time.monotonic() - started
    assert elapsed >= 3 * 0.1 * 0.9, elapsed


@pytest.mark.parametrize("query", ["interval_ms=soon", "interval_ms=", "other=1", "count=x"])
def test_a_bad_or_missing_interval_falls_back_to_the_default_rate(
    server: LocalWebSocketServer, token: str, query: str
) -> None:
    with client(server, f"/stream?{query}", token) as connection:
        connection.send(json.dumps({"action": "subscribe"}))
        replies = [json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS)) for _ in range(3)]
    assert [r["seq"] for r in replies] == [1, 2, 3]


def test_messages_sent_during_a_stream_are_recorded_and_do_not_break_the_sequence(
    server: LocalWebSocketServer, token: str
) -> None:
    with client(server, "/stream", token) as connection:
        connection.send(json.dumps({"action": "subscribe"}))
        connection.recv(timeout=RECV_TIMEOUT_SECONDS)
        connection.send(json.dumps({"action": "ping"}))
        replies = [json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS)) for _ in range(5)]
    assert [r["seq"] for r in replies] == [2, 3, 4, 5, 6]
    assert all(r["type"] == "tick" for r in replies)
    assert [json.loads(m) for m in server.messages] == [{"action": "subscribe"}, {"action": "ping"}]


# --- the credential still guards the new paths ----------------------------------------


@pytest.mark.parametrize("path", ["/snapshot", "/stream", "/stream?interval_ms=0"])
def test_the_new_paths_refuse_a_wrong_token(
    server: LocalWebSocketServer, token: str, path: str
) -> None:
    with pytest.raises(InvalidStatus) as info, client(server, path, token + "x"):
        pass
    assert info.value.response.status_code == 401


# --- the monitor samples hold against this server -------------------------------------


@pytest.mark.parametrize(
    ("name", "where"), [("monitor-scheduler-input.json", "input"), ("monitor-api.json", "body")]
)
def test_the_monitor_samples_pass_against_the_default_path(
    server: LocalWebSocketServer, token: str, name: str, where: str
) -> None:
    """What ``make demo`` will see: ``until`` stops at the last reply, every expectation holds."""
    event = sample(name)
    payload = event if where == "input" else json.loads(event["body"])
    checks = parse_checks(payload, error=InvalidRequest)
    assert checks is not None
    assert checks.until is not None
    received: list[Any] = []
    with client(server, "/v1", token) as connection:
        connection.send(json.dumps(payload["message"]))
        while len(received) < checks.max_replies:
            received.append(json.loads(connection.recv(timeout=RECV_TIMEOUT_SECONDS)))
            if matches(checks.until, received[-1]):
                break
        assert_quiet(connection)
    assert matches(checks.until, received[-1])
    document = {
        "sent": [payload["message"]],
        "received": received,
        "subprotocol": None,
        "timings_ms": {"secret": 1.0, "connect": 5.0, "exchange": 5.0, "total": 11.0},
    }
    results, failed = evaluate(checks.expect, document)
    assert failed is None, results
