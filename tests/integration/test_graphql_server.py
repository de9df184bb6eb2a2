"""The GraphQL counterpart speaks graphql-transport-ws as Strawberry serves it,
checked with a raw websockets client that follows the protocol by hand:
connection_init with the token, subscribe, next, complete, error, ping/pong,
and the close codes for a refused or out-of-order client."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from local_stack.servers.graphql import (
    DEFAULT_PRICE_COUNT,
    FAILING_MESSAGE,
    SUBPROTOCOL,
    GraphQLServer,
)

from .conftest import eventually

TOKEN = "graphql-test-token-0123456789"
PRICES = "subscription Prices($count: Int!) { prices(count: $count) { seq symbol price } }"


@pytest.fixture(scope="module")
def graphql() -> Iterator[GraphQLServer]:
    with GraphQLServer(TOKEN) as server:
        yield server


def send(connection: ClientConnection, message: dict[str, Any]) -> None:
    connection.send(json.dumps(message))


def receive(connection: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(connection.recv(timeout=5))
    return message


def closed_with(connection: ClientConnection) -> tuple[int, str]:
    """The close code and reason the server ends the connection with."""
    with pytest.raises(ConnectionClosed) as closed:
        while True:
            connection.recv(timeout=5)
    assert closed.value.rcvd is not None, "the server closed without a close frame"
    return closed.value.rcvd.code, closed.value.rcvd.reason


@contextmanager
def open_session(server: GraphQLServer, payload: Any = None) -> Iterator[ClientConnection]:
    """A connection that sent connection_init (with ``payload``, by default the
    bearer token) and nothing else yet."""
    with connect(server.endpoint, subprotocols=[SUBPROTOCOL]) as connection:
        init: dict[str, Any] = {"type": "connection_init"}
        init["payload"] = {"Authorization": f"Bearer {TOKEN}"} if payload is None else payload
        send(connection, init)
        yield connection


@pytest.fixture
def session(graphql: GraphQLServer) -> Iterator[ClientConnection]:
    """An acknowledged connection."""
    with open_session(graphql) as connection:
        assert receive(connection) == {"type": "connection_ack"}
        yield connection


def subscribe(
    connection: ClientConnection, operation_id: str, query: str, **variables: Any
) -> list[dict[str, Any]]:
    """Everything the server sends for one operation, up to its complete or error."""
    payload: dict[str, Any] = {"query": query}
    if variables:
        payload["variables"] = variables
    send(connection, {"id": operation_id, "type": "subscribe", "payload": payload})
    messages = []
    while True:
        message = receive(connection)
        messages.append(message)
        if message["type"] in ("complete", "error"):
            return messages


# --- connection_init -------------------------------------------------------------


def test_the_bearer_token_in_connection_init_is_acknowledged(graphql: GraphQLServer) -> None:
    with open_session(graphql) as connection:
        assert connection.subprotocol == SUBPROTOCOL
        assert receive(connection) == {"type": "connection_ack"}


@pytest.mark.parametrize(
    "payload",
    [
        {"Authorization": "Bearer wrong-token"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
        {"authorization": f"Bearer {TOKEN}"},
        {"token": TOKEN},
        {},
    ],
    ids=["wrong-token", "no-scheme", "other-scheme", "lower-case-key", "other-key", "empty"],
)
def test_any_other_connection_init_is_closed_with_4403_forbidden(
    graphql: GraphQLServer, payload: dict[str, Any]
) -> None:
    with open_session(graphql, payload) as connection:
        assert closed_with(connection) == (4403, "Forbidden")


def test_subscribing_before_the_ack_is_closed_with_4401(graphql: GraphQLServer) -> None:
    with connect(graphql.endpoint, subprotocols=[SUBPROTOCOL]) as connection:
        send(connection, {"id": "1", "type": "subscribe", "payload": {"query": "{ hello }"}})
        assert closed_with(connection) == (4401, "Unauthorized")


def test_a_second_connection_init_is_closed_with_4429(session: ClientConnection) -> None:
    send(session, {"type": "connection_init", "payload": {"Authorization": f"Bearer {TOKEN}"}})
    assert closed_with(session)[0] == 4429


def test_a_client_that_offers_no_subprotocol_is_closed_with_4406(graphql: GraphQLServer) -> None:
    with connect(graphql.endpoint) as connection:
        assert connection.subprotocol is None
        assert closed_with(connection)[0] == 4406


# --- operations ---------------------------------------------------------------------


def test_a_query_is_one_next_then_complete(session: ClientConnection) -> None:
    assert subscribe(session, "q1", "{ hello }") == [
        {"id": "q1", "type": "next", "payload": {"data": {"hello": "Hello, world!"}}},
        {"id": "q1", "type": "complete"},
    ]


@pytest.mark.parametrize("count", [1, 5, 50])
def test_prices_yields_count_next_messages_then_complete(
    session: ClientConnection, count: int
) -> None:
    messages = subscribe(session, f"p{count}", PRICES, count=count)

    assert messages[-1] == {"id": f"p{count}", "type": "complete"}
    nexts = messages[:-1]
    assert [(m["id"], m["type"]) for m in nexts] == [(f"p{count}", "next")] * count
    prices = [m["payload"]["data"]["prices"] for m in nexts]
    assert [p["seq"] for p in prices] == list(range(1, count + 1))
    assert all(isinstance(p["price"], float) and p["symbol"] for p in prices)


def test_prices_without_a_count_yields_the_default(session: ClientConnection) -> None:
    messages = subscribe(session, "d", "subscription { prices { seq } }")

    assert len(messages) == DEFAULT_PRICE_COUNT + 1


def test_prices_with_count_zero_completes_at_once(session: ClientConnection) -> None:
    assert subscribe(session, "z", PRICES, count=0) == [{"id": "z", "type": "complete"}]


def test_a_subscription_that_raises_sends_its_error_in_next_then_completes(
    session: ClientConnection,
) -> None:
    assert subscribe(session, "f", "subscription { failing { seq } }") == [
        {
            "id": "f",
            "type": "next",
            "payload": {"data": None, "errors": [{"message": FAILING_MESSAGE}]},
        },
        {"id": "f", "type": "complete"},
    ]


def test_an_invalid_operation_is_an_error_message_without_complete(
    session: ClientConnection,
) -> None:
    messages = subscribe(session, "e", "subscription { unknown }")

    assert len(messages) == 1
    error = messages[0]
    assert (error["id"], error["type"]) == ("e", "error")
    assert isinstance(error["payload"], list) and error["payload"]
    assert "unknown" in error["payload"][0]["message"]
    # The socket stays usable: a later operation on it still runs.
    assert subscribe(session, "after", "{ hello }")[-1] == {"id": "after", "type": "complete"}


def test_two_subscriptions_interleave_on_one_socket(session: ClientConnection) -> None:
    for operation_id in ("a", "b"):
        send(
            session,
            {
                "id": operation_id,
                "type": "subscribe",
                "payload": {"query": PRICES, "variables": {"count": 20}},
            },
        )
    completed: set[str] = set()
    counts = {"a": 0, "b": 0}
    while completed != {"a", "b"}:
        message = receive(session)
        if message["type"] == "complete":
            completed.add(message["id"])
        else:
            counts[message["id"]] += 1

    assert counts == {"a": 20, "b": 20}


# --- keep-alive -----------------------------------------------------------------------


def test_a_client_ping_is_answered_with_pong(session: ClientConnection) -> None:
    send(session, {"type": "ping"})
    assert receive(session) == {"type": "pong"}


def test_with_a_ping_interval_the_server_pings_and_counts_the_pongs() -> None:
    with GraphQLServer(TOKEN, ping_interval=0.05) as server, open_session(server) as connection:
        assert receive(connection) == {"type": "connection_ack"}
        for _ in range(3):
            assert receive(connection) == {"type": "ping"}
            send(connection, {"type": "pong"})
        assert eventually(lambda: server.pongs == 3)
        # Pings keep coming while an operation runs; its results still arrive.
        send(
            connection,
            {
                "id": "p",
                "type": "subscribe",
                "payload": {"query": PRICES, "variables": {"count": 200}},
            },
        )
        types = []
        while not types or types[-1] != "complete":
            message = receive(connection)
            types.append(message["type"])
            if message["type"] == "ping":
                send(connection, {"type": "pong"})

    assert types.count("next") == 200
    assert set(types) <= {"next", "ping", "complete"}


def test_without_a_ping_interval_the_server_never_pings(graphql: GraphQLServer) -> None:
    with open_session(graphql) as connection:
        assert receive(connection) == {"type": "connection_ack"}
        with pytest.raises(TimeoutError):
            connection.recv(timeout=0.3)


# --- lifecycle --------------------------------------------------------------------------


def test_stop_closes_open_sockets_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    server = GraphQLServer(TOKEN).start()
    uri = server.endpoint
    with open_session(server) as connection:
        assert receive(connection) == {"type": "connection_ack"}
        server.stop()
        assert closed_with(connection)[0] == 1012  # uvicorn's "service restart"

    assert eventually(lambda: set(threading.enumerate()) <= before)
    with pytest.raises(OSError):
        connect(uri, open_timeout=2).close()
