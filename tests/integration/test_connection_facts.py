"""What the connection showed: the handshake's answer, TLS and its certificate, the
close, and the phases of the successful attempt, each from a real server."""

from __future__ import annotations

import datetime
import json
import ssl
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.servers.hostile_servers import ScriptedServer
from local_stack.servers.websocket_server import LocalWebSocketServer

from .conftest import Invoke
from .test_observability import json_lines, run_child
from .test_tls import self_signed

__all__ = ["self_signed"]


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def test_a_plain_exchange_shows_status_headers_close_and_its_phases(
    run: Invoke, server: LocalWebSocketServer
) -> None:
    uri = server.uri.replace("127.0.0.1", "localhost")

    result = run(
        {"message": {"action": "ping"}, "expect": ["connection.status == `101`"]},
        WEBSOCKET_URI=uri,
    )

    assert result["ok"] is True, result["error"]
    connection = result["connection"]
    assert connection["status"] == 101
    assert connection["headers"]["upgrade"].lower() == "websocket"
    assert all(name == name.lower() for name in connection["headers"])
    assert connection["tls"] is None
    assert connection["close"] == {"code": 1000, "reason": "", "initiated_by": "client"}
    timings = result["timings_ms"]
    for phase in ("dns", "tcp", "handshake", "first_reply", "close"):
        assert timings[phase] >= 0, phase
    assert "tls" not in timings, "no TLS on ws://"
    assert "ping" not in timings
    # Phases of the successful attempt fit inside the invocation's own spans.
    assert timings["dns"] + timings["tcp"] + timings["handshake"] <= timings["connect"]
    assert timings["first_reply"] <= timings["exchange"]


def test_an_ip_literal_needs_no_name_resolution(run: Invoke, server: LocalWebSocketServer) -> None:
    result = run({"message": {"action": "ping"}}, WEBSOCKET_URI=server.uri)

    assert result["ok"] is True
    assert "dns" not in result["timings_ms"]
    assert "tcp" in result["timings_ms"]


def test_a_refused_handshake_keeps_its_status_and_headers_with_credentials_redacted(
    run: Invoke, server: LocalWebSocketServer, token: str
) -> None:
    server.token = "a-token-nobody-has"

    result = run({"message": "x"}, WEBSOCKET_URI=server.uri)

    assert result["ok"] is False
    connection = result["connection"]
    assert connection["status"] in (401, 403)
    assert connection["close"] is None
    for name in ("www-authenticate", "set-cookie"):
        if name in connection["headers"]:
            assert connection["headers"][name] == "[redacted]"
    assert token not in json.dumps(result)


def test_headers_that_carry_a_credential_or_a_session_are_redacted(
    run: Invoke, scripted: ScriptedServer, token: str
) -> None:
    def echo(connection: ServerConnection) -> None:
        connection.recv()
        connection.send("ok")
        connection.recv()

    scripted.script = echo
    scripted.response_headers = {
        "Set-Cookie": "session=abc123; HttpOnly",
        "X-Echo": f"you sent Bearer {token}",
        "X-Served-By": "scripted",
    }

    result = run({"message": "x"}, WEBSOCKET_URI=scripted.uri)

    assert result["ok"] is True, result["error"]
    headers = result["connection"]["headers"]
    assert headers["set-cookie"] == "[redacted]"
    assert token not in headers["x-echo"]
    assert "[redacted]" in headers["x-echo"]
    assert headers["x-served-by"] == "scripted"


@pytest.mark.parametrize("code", [1000, 4000])
def test_a_close_by_the_server_is_recorded_with_its_code_and_reason(
    run: Invoke, scripted: ScriptedServer, code: int
) -> None:
    def close_after_reply(connection: ServerConnection) -> None:
        connection.recv()
        connection.send("bye")
        connection.close(code, "maintenance")

    scripted.script = close_after_reply

    result = run(
        {"message": "x", "expected_replies": 0, "collect_seconds": 3},
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["connection"]["close"] == {
        "code": code,
        "reason": "maintenance",
        "initiated_by": "server",
    }
    assert result["ok"] is (code == 1000)
    assert "close" not in result["timings_ms"], "the client did not close it"


def test_tls_version_cipher_and_the_servers_certificate(
    function_env: dict[str, str], secrets_manager: Any, token: str, self_signed: Any
) -> None:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*self_signed)
    with LocalWebSocketServer(token, ssl_context=context) as tls_server:
        variables = {
            **function_env,
            "WEBSOCKET_URI": tls_server.uri,
            "ALLOW_INSECURE_WEBSOCKET": "false",
        }
        event = {
            "message": "over tls",
            "expect": ["connection.tls.certificate.days_left >= `0`"],
        }
        results, output = run_child(
            [(event, variables)], secrets_manager, SSL_CERT_FILE=str(self_signed[0])
        )

    result = results[0]
    assert result["ok"] is True, result
    tls = result["connection"]["tls"]
    assert tls["version"].startswith("TLSv1.")
    assert tls["cipher"]
    certificate = tls["certificate"]
    assert certificate["subject"] == "CN=127.0.0.1"
    assert certificate["issuer"] == "CN=127.0.0.1"
    not_after = datetime.datetime.fromisoformat(certificate["not_after"])
    left = not_after - datetime.datetime.now(datetime.UTC)
    assert certificate["days_left"] == left.days
    assert certificate["days_left"] in (0, 1), "the fixture's certificate lasts one day"
    assert result["timings_ms"]["tls"] > 0

    # The same facts reach CloudWatch as metrics.
    metrics = {
        metric["Name"]: (lambda v: v[-1] if isinstance(v, list) else v)(document[metric["Name"]])
        for document in json_lines(output)
        if "_aws" in document
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    }
    assert metrics["CertificateDaysLeft"] == certificate["days_left"]
    for name in ("TcpLatency", "TlsLatency", "HandshakeLatency", "FirstReplyLatency"):
        assert metrics[name] >= 0, name
    assert "DnsLatency" not in metrics, "an IP literal is not resolved"


def test_a_greeting_before_anything_is_sent_is_not_the_first_reply(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def greet_then_echo(connection: ServerConnection) -> None:
        connection.send("welcome")
        connection.send(connection.recv())

    scripted.script = greet_then_echo

    result = run(
        {"steps": [{"receive": {"count": 1}}, {"send": "x"}, {"receive": {"count": 1}}]},
        WEBSOCKET_URI=scripted.uri,
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["welcome", "x"]
    # Timed from the first send to the reply after it, not from the clock's origin.
    assert 0 <= result["timings_ms"]["first_reply"] <= result["timings_ms"]["exchange"]
