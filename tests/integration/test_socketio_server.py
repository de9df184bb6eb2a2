"""The Socket.IO counterpart speaks Socket.IO v5 over Engine.IO v4 as
python-socketio serves it, checked with a raw websockets client that writes the
packets by hand: the open packet, CONNECT and CONNECT_ERROR per namespace,
events, acknowledgements, disconnect, and the ping/pong that keeps a client."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from local_stack.servers.socketio import (
    PING_INTERVAL_SECONDS,
    PING_TIMEOUT_SECONDS,
    REFUSED_MESSAGE,
    SocketIOServer,
)

from .conftest import eventually

TOKEN = "socketio-test-token-0123456789"
# Long enough for any drop the server makes: a ping interval plus its timeout,
# with room for a loaded machine.
DROP_LIMIT_SECONDS = 4 * (PING_INTERVAL_SECONDS + PING_TIMEOUT_SECONDS)
# Twice what a silent client lasts.
KEPT_SECONDS = 2 * (PING_INTERVAL_SECONDS + PING_TIMEOUT_SECONDS)


@pytest.fixture(scope="module")
def sio() -> Iterator[SocketIOServer]:
    with SocketIOServer(TOKEN) as server:
        yield server


def receive(connection: ClientConnection, *, answer_pings: bool = True) -> str:
    """The next Engine.IO packet that is not a ping (each answered with ``3``)."""
    while True:
        packet = connection.recv(timeout=5)
        assert isinstance(packet, str)
        if packet == "2" and answer_pings:
            connection.send("3")
            continue
        return packet


@contextmanager
def engine_io(server: SocketIOServer) -> Iterator[tuple[ClientConnection, dict[str, Any]]]:
    """An Engine.IO connection and its open packet's data."""
    with connect(server.endpoint) as connection:
        opening = receive(connection)
        assert opening.startswith("0"), opening
        yield connection, json.loads(opening[1:])


def namespace_prefix(namespace: str) -> str:
    return "" if namespace == "/" else f"{namespace},"


def connect_namespace(connection: ClientConnection, namespace: str = "/", auth: Any = None) -> str:
    """Send CONNECT ``40`` for ``namespace`` (with ``auth``, by default the
    token); the server's answer packet."""
    auth = {"token": TOKEN} if auth is None else auth
    connection.send(f"40{namespace_prefix(namespace)}{json.dumps(auth)}")
    return receive(connection)


@pytest.fixture
def client(sio: SocketIOServer) -> Iterator[ClientConnection]:
    """A client connected to the main namespace."""
    with engine_io(sio) as (connection, _):
        assert connect_namespace(connection).startswith("40{")
        yield connection


# --- opening and namespaces ---------------------------------------------------------


def test_the_open_packet_announces_the_short_ping_settings(sio: SocketIOServer) -> None:
    with engine_io(sio) as (_, opening):
        assert opening["pingInterval"] == PING_INTERVAL_SECONDS * 1000
        assert opening["pingTimeout"] == PING_TIMEOUT_SECONDS * 1000
        assert opening["upgrades"] == []
        assert isinstance(opening["sid"], str) and opening["sid"]


@pytest.mark.parametrize("namespace", ["/", "/chat"])
def test_connect_with_the_token_is_answered_with_a_sid(sio: SocketIOServer, namespace: str) -> None:
    with engine_io(sio) as (connection, opening):
        answer = connect_namespace(connection, namespace)

    prefix = "40" + namespace_prefix(namespace)
    assert answer.startswith(prefix + "{"), answer
    sid = json.loads(answer[len(prefix) :])["sid"]
    # A namespace's sid is its own, not the Engine.IO session's.
    assert isinstance(sid, str) and sid and sid != opening["sid"]


@pytest.mark.parametrize("namespace", ["/", "/chat"])
@pytest.mark.parametrize(
    "auth",
    [{"token": "wrong"}, {}, {"token": 42}, {"password": TOKEN}],
    ids=["wrong-token", "empty", "not-a-string", "other-key"],
)
def test_any_other_auth_is_a_connect_error_with_the_server_message(
    sio: SocketIOServer, namespace: str, auth: dict[str, Any]
) -> None:
    with engine_io(sio) as (connection, _):
        answer = connect_namespace(connection, namespace, auth)
        # The Engine.IO connection survives: the right token still gets in.
        assert connect_namespace(connection, namespace).startswith("40")

    prefix = "44" + namespace_prefix(namespace)
    assert answer.startswith(prefix), answer
    assert json.loads(answer[len(prefix) :]) == {"message": REFUSED_MESSAGE}


def test_connect_without_any_auth_payload_is_refused(sio: SocketIOServer) -> None:
    with engine_io(sio) as (connection, _):
        connection.send("40")
        answer = receive(connection)

    assert answer == "44" + json.dumps({"message": REFUSED_MESSAGE}, separators=(",", ":"))


# --- events and acknowledgements ----------------------------------------------------


def test_a_ping_event_is_answered_with_a_pong_event(client: ClientConnection) -> None:
    client.send('42["ping",{"n":1},"two"]')
    assert json.loads(receive(client)[2:]) == ["pong", {"n": 1}, "two"]


def test_the_chat_namespace_answers_in_its_own_namespace(client: ClientConnection) -> None:
    assert connect_namespace(client, "/chat").startswith("40/chat,")
    client.send('42/chat,["ping"]')
    assert receive(client) == '42/chat,["pong"]'


def test_echo_returns_its_arguments_through_the_ack(client: ClientConnection) -> None:
    client.send('4217["echo",{"x":[1,2]},"y",3.5]')
    answer = receive(client)

    assert answer.startswith("4317[")
    assert json.loads(answer[4:]) == [{"x": [1, 2]}, "y", 3.5]


def test_echo_acks_carry_their_own_ids_in_each_namespace(client: ClientConnection) -> None:
    connect_namespace(client, "/chat")
    client.send('421["echo","main"]')
    client.send('42/chat,2["echo","chat"]')
    answers = {receive(client), receive(client)}

    assert answers == {'431["main"]', '43/chat,2["chat"]'}


def test_disconnect_closes_the_namespace(sio: SocketIOServer, client: ClientConnection) -> None:
    before = len(sio.disconnects)
    client.send("41")

    assert eventually(lambda: ("/", "client disconnect") in sio.disconnects[before:])


def test_events_are_recorded(sio: SocketIOServer, client: ClientConnection) -> None:
    client.send('42["ping","recorded"]')
    receive(client)

    assert ("/", "ping", ["recorded"]) in sio.events


# --- keep-alive ---------------------------------------------------------------------


def closed_by_server_within(connection: ClientConnection, limit: float) -> bool:
    """Whether the server closes ``connection`` within ``limit`` seconds, the
    client never answering a ping meanwhile."""
    deadline = time.monotonic() + limit
    try:
        while time.monotonic() < deadline:
            try:
                receive(connection, answer_pings=False)
            except TimeoutError:
                continue
    except ConnectionClosed:
        return True
    return False


def test_a_client_that_never_answers_pings_is_dropped(sio: SocketIOServer) -> None:
    with engine_io(sio) as (connection, _):
        connect_namespace(connection)
        assert closed_by_server_within(connection, DROP_LIMIT_SECONDS)


def test_a_client_that_talks_but_never_answers_pings_is_dropped_for_ping_timeout(
    sio: SocketIOServer,
) -> None:
    with engine_io(sio) as (connection, _):
        connect_namespace(connection)
        deadline = time.monotonic() + DROP_LIMIT_SECONDS
        with pytest.raises(ConnectionClosed):
            while time.monotonic() < deadline:
                connection.send('42["ping"]')
                with suppress(TimeoutError):
                    connection.recv(timeout=0.2)  # pongs and pings alike, unanswered

    assert eventually(lambda: ("/", "ping timeout") in sio.disconnects)


def test_a_client_that_answers_pings_is_kept(sio: SocketIOServer) -> None:
    pings = 0
    with engine_io(sio) as (connection, _):
        connect_namespace(connection)
        deadline = time.monotonic() + KEPT_SECONDS
        while time.monotonic() < deadline:
            try:
                packet = connection.recv(timeout=0.2)
            except TimeoutError:
                continue
            assert packet == "2"
            pings += 1
            connection.send("3")
        connection.send('429["echo","still here"]')
        assert receive(connection) == '439["still here"]'

    assert pings >= 3


# --- lifecycle ------------------------------------------------------------------------


def test_stop_closes_open_sockets_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    server = SocketIOServer(TOKEN).start()
    uri = server.endpoint
    with engine_io(server) as (connection, _):
        connect_namespace(connection)
        server.stop()
        with pytest.raises(ConnectionClosed):
            while True:
                receive(connection)

    assert eventually(lambda: set(threading.enumerate()) <= before)
    with pytest.raises(OSError):
        connect(uri, open_timeout=2).close()
