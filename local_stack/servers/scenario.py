"""A WebSocket server on 127.0.0.1 whose conversations take several steps:
websockets' own ``serve``, the counterpart of multi-step scenarios (I/O at the
edge; what each path answers is pure, in :class:`LoginFlow` and :func:`close_for`).

Without a ``token`` any client may connect; with one, the opening handshake
must carry ``Authorization: Bearer <token>`` (compared in constant time) or is
answered with 401. An unknown path is answered with 404.

========================  =========================================================
path                      behaviour
========================  =========================================================
``/login-flow``           ``{"action": "login", "user": <non-empty string>}`` ->
                          ``{"type": "session", "session_id": <random>}``;
                          ``{"action": "subscribe", "session_id": <that id>,
                          "channel": "prices"}`` -> ``{"type": "subscribed",
                          "channel": "prices"}`` then :data:`PRICE_UPDATES`
                          ``{"type": "price", "seq", "symbol", "price"}``; a session
                          id this connection was not given -> ``{"type": "error",
                          "message": "unknown session"}`` and the connection stays
                          open; anything else -> an ``error`` saying what is wrong
``/close-after``          answers the first message with ``{"type": "ack",
                          "message": <it>}``, then closes with ``?code=`` (default
                          1000) and ``?reason=`` (default empty); a code other than
                          1000, 1001 or 3000-4999, or a reason over 123 bytes,
                          closes with 1008 and a reason saying so
``/echo``                 sends each message back as it came (text or binary)
========================  =========================================================

WebSocket pings are answered by websockets itself. :func:`tls_scenario_server`
serves the same paths over ``wss://`` with a certificate that expires in a
chosen number of days, from a fresh local CA (:mod:`local_stack.credentials.pki`).
"""

from __future__ import annotations

import datetime
import hmac
import json
import secrets
import ssl
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from local_stack.credentials import pki
from local_stack.servers.base import WebSocketCounterpart

PATHS = ("/login-flow", "/close-after", "/echo")
PRICE_UPDATES = 3
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")
DEFAULT_CERTIFICATE_DAYS = 3.0
# RFC 6455 section 5.5: a control frame's payload is at most 125 bytes, two of
# them the close code.
MAX_CLOSE_REASON_BYTES = 123
POLICY_VIOLATION = 1008


@dataclass
class LoginFlow:
    """One connection's ``/login-flow`` conversation: the sessions it was given."""

    new_session_id: Callable[[], str] = field(default=lambda: secrets.token_hex(8))
    sessions: set[str] = field(default_factory=set)

    def answer(self, message: Any) -> list[dict[str, Any]]:
        """The replies to one decoded message, in order."""
        if not isinstance(message, dict):
            return [_error("expected a JSON object with an action")]
        action = message.get("action")
        if action == "login":
            user = message.get("user")
            if not (isinstance(user, str) and user):
                return [_error("login needs a user")]
            session_id = self.new_session_id()
            self.sessions.add(session_id)
            return [{"type": "session", "session_id": session_id}]
        if action == "subscribe":
            if message.get("session_id") not in self.sessions:
                return [_error("unknown session")]
            channel = message.get("channel")
            if channel != "prices":
                return [_error(f"unknown channel: {json.dumps(channel)}")]
            return [
                {"type": "subscribed", "channel": channel},
                *(price(seq) for seq in range(1, PRICE_UPDATES + 1)),
            ]
        return [_error(f"unknown action: {json.dumps(action)}")]


def price(seq: int) -> dict[str, Any]:
    """The ``seq``-th price update of a ``/login-flow`` subscription (1-based)."""
    return {
        "type": "price",
        "seq": seq,
        "symbol": SYMBOLS[(seq - 1) % len(SYMBOLS)],
        "price": 100.0 + seq / 4,
    }


def _error(message: str) -> dict[str, Any]:
    return {"type": "error", "message": message}


def is_allowed_close_code(code: int) -> bool:
    """Whether an application may choose ``code`` (RFC 6455 section 7.4): normal
    closure, going away, or the registered and private ranges."""
    return code in (1000, 1001) or 3000 <= code <= 4999


def close_for(query: str) -> tuple[int, str]:
    """The close code and reason ``/close-after`` uses for its query string."""
    values = parse_qs(query, keep_blank_values=True)
    text = values.get("code", ["1000"])[-1]
    reason = values.get("reason", [""])[-1]
    try:
        code = int(text)
    except ValueError:
        return POLICY_VIOLATION, "close code must be a number"
    if not is_allowed_close_code(code):
        return POLICY_VIOLATION, f"close code {code} is not allowed"
    if len(reason.encode()) > MAX_CLOSE_REASON_BYTES:
        return POLICY_VIOLATION, f"close reason longer than {MAX_CLOSE_REASON_BYTES} bytes"
    return code, reason


def _decode(frame: str | bytes) -> Any:
    try:
        return json.loads(frame)
    except ValueError:
        return frame if isinstance(frame, str) else repr(frame)


class ScenarioServer(WebSocketCounterpart):
    """The server, running in a background thread from :meth:`start` until
    :meth:`stop`, on a free port of 127.0.0.1 unless ``port`` is given (the
    fixed ports the env-vars files in ``events/scenarios/`` name).

    :attr:`messages` records every frame received, :attr:`handshakes` every
    handshake's headers, :attr:`sessions` every session id handed out.
    """

    thread_name = "local-scenario-server"

    def serve_options(self) -> dict[str, Any]:
        return {"process_request": self._check}

    def __init__(
        self,
        token: str | None = None,
        *,
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(ssl_context=ssl_context, port=port)
        self.token = token
        self.handshakes: list[Headers] = []
        self.messages: list[str | bytes] = []
        self.sessions: list[str] = []
        # Set by tls_scenario_server: the CA a client must trust, and when the
        # server certificate expires.
        self.pki: pki.LocalPKI | None = None
        self.certificate_not_after: datetime.datetime | None = None

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request.headers)
        if self.token is not None:
            expected = f"Bearer {self.token}".encode()
            presented = request.headers.get("Authorization", "").encode()
            if not hmac.compare_digest(presented, expected):
                return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        if request.path.partition("?")[0] not in PATHS:
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        return None

    def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        path, _, query = connection.request.path.partition("?")
        flow = LoginFlow(new_session_id=self._new_session_id)
        try:
            for frame in connection:
                self.messages.append(frame)
                if path == "/echo":
                    connection.send(frame)
                elif path == "/close-after":
                    connection.send(json.dumps({"type": "ack", "message": _decode(frame)}))
                    connection.close(*close_for(query))
                    return
                else:
                    for reply in flow.answer(_decode(frame)):
                        connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass

    def _new_session_id(self) -> str:
        session_id = secrets.token_hex(8)
        self.sessions.append(session_id)
        return session_id


def tls_scenario_server(
    days_left: float = DEFAULT_CERTIFICATE_DAYS, *, token: str | None = None, port: int = 0
) -> ScenarioServer:
    """A :class:`ScenarioServer` over ``wss://`` (not started) whose certificate
    for 127.0.0.1 expires ``days_left`` days from now (negative: already
    expired), issued by a fresh CA that a client trusts through
    ``server.pki.ca_pem``."""
    not_after = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=days_left)
    authority = pki.generate(server_not_after=not_after)
    server = ScenarioServer(
        token, ssl_context=authority.server_context(require_client_certificate=False), port=port
    )
    server.pki = authority
    # X.509 keeps whole seconds.
    server.certificate_not_after = not_after.replace(microsecond=0)
    return server
