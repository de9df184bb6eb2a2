"""The scenario server behaves as a real multi-step endpoint: a login that hands
out a session, a subscription that needs it, a chosen close, an echo, and a
wss:// variant whose certificate expires when told."""

from __future__ import annotations

import json
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local_stack.servers.scenario import (
    PRICE_UPDATES,
    ScenarioServer,
    close_for,
    tls_scenario_server,
)

from .conftest import eventually

DAY_SECONDS = 86_400


@pytest.fixture(scope="module")
def scenario() -> Iterator[ScenarioServer]:
    with ScenarioServer() as server:
        yield server


def ask(connection: ClientConnection, message: Any, replies: int = 1) -> list[Any]:
    connection.send(json.dumps(message))
    return [json.loads(connection.recv(timeout=5)) for _ in range(replies)]


def login(connection: ClientConnection, user: str = "alice") -> str:
    (session,) = ask(connection, {"action": "login", "user": user})
    assert session["type"] == "session"
    session_id: str = session["session_id"]
    return session_id


# --- /login-flow ------------------------------------------------------------------


def test_login_then_subscribe_with_the_session_streams_prices(scenario: ScenarioServer) -> None:
    with connect(scenario.uri + "/login-flow") as connection:
        session_id = login(connection)
        subscribe = {"action": "subscribe", "session_id": session_id, "channel": "prices"}
        replies = ask(connection, subscribe, replies=1 + PRICE_UPDATES)

    assert replies[0] == {"type": "subscribed", "channel": "prices"}
    prices = replies[1:]
    assert [reply["type"] for reply in prices] == ["price"] * PRICE_UPDATES
    assert PRICE_UPDATES >= 2
    for reply in prices:
        assert isinstance(reply["symbol"], str) and reply["symbol"]
        assert isinstance(reply["price"], int | float) and not isinstance(reply["price"], bool)
    assert session_id in scenario.sessions


def test_each_login_gets_a_fresh_random_session_id(scenario: ScenarioServer) -> None:
    with connect(scenario.uri + "/login-flow") as connection:
        first, second = login(connection), login(connection, "bob")

    assert first != second
    assert len(first) >= 16


@pytest.mark.parametrize(
    "session_id",
    [None, "", "not-a-session", 42],
    ids=["missing", "empty", "wrong", "number"],
)
def test_a_wrong_or_missing_session_is_an_error_and_the_connection_stays_open(
    scenario: ScenarioServer, session_id: Any
) -> None:
    subscribe = {"action": "subscribe", "channel": "prices"}
    if session_id is not None:
        subscribe["session_id"] = session_id
    with connect(scenario.uri + "/login-flow") as connection:
        login(connection)
        assert ask(connection, subscribe) == [{"type": "error", "message": "unknown session"}]
        # Still open and still speaking the flow.
        assert ask(connection, {"action": "login", "user": "carol"})[0]["type"] == "session"


def test_a_session_is_valid_only_on_the_connection_that_logged_in(
    scenario: ScenarioServer,
) -> None:
    with connect(scenario.uri + "/login-flow") as first:
        session_id = login(first)
    with connect(scenario.uri + "/login-flow") as second:
        subscribe = {"action": "subscribe", "session_id": session_id, "channel": "prices"}
        assert ask(second, subscribe) == [{"type": "error", "message": "unknown session"}]


@pytest.mark.parametrize(
    ("message", "says"),
    [
        ({"action": "login"}, "login needs a user"),
        ({"action": "login", "user": ""}, "login needs a user"),
        ({"action": "dance"}, 'unknown action: "dance"'),
        (["login"], "expected a JSON object with an action"),
    ],
)
def test_malformed_requests_get_an_error_naming_the_problem(
    scenario: ScenarioServer, message: Any, says: str
) -> None:
    with connect(scenario.uri + "/login-flow") as connection:
        assert ask(connection, message) == [{"type": "error", "message": says}]


def test_only_the_prices_channel_exists(scenario: ScenarioServer) -> None:
    with connect(scenario.uri + "/login-flow") as connection:
        session_id = login(connection)
        subscribe = {"action": "subscribe", "session_id": session_id, "channel": "news"}
        assert ask(connection, subscribe) == [
            {"type": "error", "message": 'unknown channel: "news"'}
        ]


# --- /close-after -----------------------------------------------------------------


def closed_after_first_message(uri: str) -> tuple[Any, int | None, str | None]:
    """The reply to one message, then the close code and reason the server sent."""
    with connect(uri) as connection:
        (reply,) = ask(connection, {"action": "hello"})
        with pytest.raises(ConnectionClosed) as closed:
            connection.recv(timeout=5)
    received = closed.value.rcvd
    return reply, received.code if received else None, received.reason if received else None


def test_close_after_answers_then_closes_with_the_chosen_code_and_reason(
    scenario: ScenarioServer,
) -> None:
    reply, code, reason = closed_after_first_message(
        scenario.uri + "/close-after?code=4000&reason=bye"
    )

    assert reply == {"type": "ack", "message": {"action": "hello"}}
    assert (code, reason) == (4000, "bye")


def test_close_after_without_a_code_is_a_normal_closure(scenario: ScenarioServer) -> None:
    assert closed_after_first_message(scenario.uri + "/close-after")[1:] == (1000, "")


@pytest.mark.parametrize("code", ["1001", "3000", "4999"])
def test_close_after_accepts_every_application_close_code(
    scenario: ScenarioServer, code: str
) -> None:
    assert closed_after_first_message(f"{scenario.uri}/close-after?code={code}")[1] == int(code)


@pytest.mark.parametrize("code", ["1005", "1006", "1011", "2999", "5000", "-1", "bye"])
def test_close_after_refuses_codes_an_application_may_not_choose_with_1008(
    scenario: ScenarioServer, code: str
) -> None:
    _, received, reason = closed_after_first_message(f"{scenario.uri}/close-after?code={code}")

    assert received == 1008
    assert reason and "close code" in reason


def test_close_after_refuses_a_reason_longer_than_a_close_frame_holds(
    scenario: ScenarioServer,
) -> None:
    _, code, reason = closed_after_first_message(f"{scenario.uri}/close-after?reason={'x' * 124}")

    assert code == 1008
    assert reason == "close reason longer than 123 bytes"
    assert close_for("reason=" + "x" * 123) == (1000, "x" * 123)


# --- /echo, pings, handshakes -----------------------------------------------------


def test_echo_returns_each_frame_as_it_came(scenario: ScenarioServer) -> None:
    frames: list[str | bytes] = ['{"n": 1}', "plain text", b"\x00\xffbinary", "é ✓"]
    with connect(scenario.uri + "/echo") as connection:
        for frame in frames:
            connection.send(frame)
        assert [connection.recv(timeout=5) for _ in frames] == frames


def test_pings_are_answered(scenario: ScenarioServer) -> None:
    with connect(scenario.uri + "/echo") as connection:
        assert connection.ping(b"probe").wait(timeout=5)


def test_an_unknown_path_is_answered_with_404(scenario: ScenarioServer) -> None:
    with pytest.raises(InvalidStatus) as refused:
        connect(scenario.uri + "/nowhere").close()

    assert refused.value.response.status_code == 404


def test_with_a_token_the_handshake_needs_the_bearer_header() -> None:
    with ScenarioServer("s3cret-token") as server:
        with pytest.raises(InvalidStatus) as refused:
            connect(server.uri + "/echo").close()
        with pytest.raises(InvalidStatus) as wrong:
            connect(
                server.uri + "/echo", additional_headers={"Authorization": "Bearer other"}
            ).close()
        with connect(
            server.uri + "/echo", additional_headers={"Authorization": "Bearer s3cret-token"}
        ) as connection:
            connection.send("hi")
            assert connection.recv(timeout=5) == "hi"

    assert refused.value.response.status_code == 401
    assert wrong.value.response.status_code == 401


# --- wss:// with a chosen expiry --------------------------------------------------


def days_left(connection: ClientConnection) -> float:
    """Days until the server's certificate expires, as the client saw it on the wire."""
    assert isinstance(connection.socket, ssl.SSLSocket)
    certificate = connection.socket.getpeercert()
    assert certificate
    expires = ssl.cert_time_to_seconds(str(certificate["notAfter"]))
    return (expires - time.time()) / DAY_SECONDS


@pytest.mark.parametrize("days", [3.0, 30.0, 0.5])
def test_tls_variant_serves_a_certificate_expiring_in_the_chosen_days(days: float) -> None:
    with tls_scenario_server(days) as server:
        assert server.pki is not None
        trusting = ssl.create_default_context(cadata=server.pki.ca_pem)
        assert server.uri.startswith("wss://127.0.0.1:")
        with connect(server.uri + "/echo", ssl=trusting) as connection:
            seen = days_left(connection)
            connection.send("over tls")
            assert connection.recv(timeout=5) == "over tls"

    assert seen == pytest.approx(days, abs=0.01)


def test_tls_variant_defaults_to_three_days_and_serves_every_path() -> None:
    with tls_scenario_server() as server:
        assert server.pki is not None
        trusting = ssl.create_default_context(cadata=server.pki.ca_pem)
        with connect(server.uri + "/login-flow", ssl=trusting) as connection:
            assert 2.9 < days_left(connection) <= 3  # 3 days less the seconds since issue
            assert login(connection)


def test_tls_variant_is_refused_by_a_client_that_does_not_trust_its_ca() -> None:
    with tls_scenario_server() as server, pytest.raises(ssl.SSLCertVerificationError):
        connect(server.uri + "/echo", ssl=ssl.create_default_context()).close()


def test_an_expired_certificate_fails_verification_as_expired() -> None:
    with tls_scenario_server(-1) as server:
        assert server.pki is not None
        trusting = ssl.create_default_context(cadata=server.pki.ca_pem)
        with pytest.raises(ssl.SSLCertVerificationError) as refused:
            connect(server.uri + "/echo", ssl=trusting).close()

    assert "expired" in str(refused.value)


# --- lifecycle ----------------------------------------------------------------------


def test_stop_releases_the_port_and_leaves_no_thread() -> None:
    before = set(threading.enumerate())
    with ScenarioServer() as server:
        uri = server.uri
        with connect(uri + "/echo") as connection:
            connection.send("x")
            connection.recv(timeout=5)

    assert eventually(lambda: set(threading.enumerate()) <= before)
    with pytest.raises(OSError):
        connect(uri + "/echo", open_timeout=2).close()


def test_a_given_port_is_the_one_served() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with ScenarioServer(port=port) as server, connect(f"ws://127.0.0.1:{port}/echo") as client:
        assert server.uri == f"ws://127.0.0.1:{port}"
        client.send("fixed")
        assert client.recv(timeout=5) == "fixed"
