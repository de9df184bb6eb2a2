"""WebSocket servers on 127.0.0.1 that each verify one way of carrying a
credential (websockets' own ``serve``, I/O).

Each one checks the opening handshake in constant time (``hmac.compare_digest``),
answers a wrong or missing credential with HTTP 401, and then answers messages
as :class:`~local_stack.servers.websocket_server.LocalWebSocketServer` does on ``/``
(:func:`~local_stack.servers.websocket_server.answers`: ``ping`` -> ``pong``,
``subscribe`` -> ``subscribed`` + ``update``, anything else echoed):

==============================  ===============================================
server                          the handshake must carry
==============================  ===============================================
``OpenServer``                  nothing (``none`` mode; with a ``ssl_context``
                                that requires a client certificate, mutual
                                TLS alone)
``BasicAuthServer``             ``Authorization: Basic base64(user:password)``
``HeaderKeyServer``             ``<header>: <key>`` (default ``X-API-Key``)
``CookieServer``                ``Cookie: <cookie>=<token>`` (default cookie
                                ``session``), that cookie exactly once among
                                any others
``QueryKeyServer``              ``?<param>=<url-encoded key>`` (default
                                ``access_token``)
``SubprotocolTokenServer``      ``Sec-WebSocket-Protocol: <prefix><token>``,
                                the token ``raw`` or unpadded ``base64url``
                                (Kubernetes: ``base64url.bearer.authorization
                                .k8s.io.``); the server selects one of its own
                                ``subprotocols`` the client also offered, never
                                the credential-carrying one
``OAuth2ProtectedServer``       ``Authorization: Bearer <access token>`` that a
                                ``LocalTokenEndpoint`` issued, not expired, not
                                revoked
``AuthMessageServer``           nothing; after the handshake it sends
                                ``{"type": "auth_required"}``, expects
                                ``{"type": "auth", "access_token": ...}`` and
                                answers ``{"type": "auth_ok"}``, or
                                ``{"type": "auth_invalid", "message": ...}``
                                and closes (as Home Assistant does); with
                                ``oversized_reply`` set, its verdict is a
                                message of that many bytes
==============================  ===============================================

Credentials are plain attributes, so a test rotates one by assigning it. Every
server records the handshakes' headers (:attr:`handshakes`), whether each was
accepted (:attr:`outcomes`) and the messages received after authentication
(:attr:`messages`). Any of them serves ``wss://`` when given an ``ssl_context``
(:meth:`local_stack.credentials.pki.LocalPKI.server_context` requires a client certificate),
and listens on ``port`` when given one (a free port otherwise).
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import json
import logging
import ssl
import threading
from collections.abc import Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import parse_authorization_basic
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection
from websockets.typing import Subprotocol

from local_stack.credentials.oauth2_server import LocalTokenEndpoint
from local_stack.servers.base import WebSocketCounterpart
from local_stack.servers.websocket_server import answers

K8S_PREFIX = "base64url.bearer.authorization.k8s.io."
K8S_CHANNEL = "v4.channel.k8s.io"
AUTH_REQUIRED = {"type": "auth_required", "ha_version": "local"}
AUTH_OK = {"type": "auth_ok", "ha_version": "local"}
AUTH_INVALID_MESSAGE = "Invalid access token or password"

# At DEBUG websockets logs every handshake header, so these servers would print
# the very credentials they verify into the output the function's secrecy
# tests search: their logger stays at WARNING whatever the root level.
LOGGER = logging.getLogger("local_stack.counterparts")
LOGGER.setLevel(logging.WARNING)


def _same(presented: str, expected: str) -> bool:
    return hmac.compare_digest(
        presented.encode(errors="surrogateescape"), expected.encode(errors="surrogateescape")
    )


def encode_subprotocol_token(token: str, encoding: str) -> str:
    """The token as it follows the prefix: ``raw`` or unpadded ``base64url``."""
    if encoding == "raw":
        return token
    if encoding == "base64url":
        return base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    raise ValueError(f"unknown subprotocol encoding {encoding!r}")


class VerifyingServer(WebSocketCounterpart):
    """A websockets server that verifies a credential on the opening handshake;
    subclasses say how (:meth:`verify`). Runs in a background thread until
    :meth:`stop`."""

    refusal = HTTPStatus.UNAUTHORIZED
    thread_name = "local-verifying-server"

    def serve_options(self) -> dict[str, Any]:
        return {
            "process_request": self._check,
            "select_subprotocol": self._select,
            "logger": LOGGER,
        }

    def __init__(
        self,
        *,
        ssl_context: ssl.SSLContext | None = None,
        subprotocols: Sequence[str] = (),
        port: int = 0,
    ) -> None:
        super().__init__(ssl_context=ssl_context, port=port)
        self.subprotocols = list(subprotocols)
        self.handshakes: list[Headers] = []
        self.paths: list[str] = []
        self.outcomes: list[bool] = []
        self.messages: list[str | bytes] = []
        self._lock = threading.Lock()

    def reset(self) -> None:
        """Forget recorded handshakes and messages."""
        with self._lock:
            self.handshakes.clear()
            self.paths.clear()
            self.outcomes.clear()
            self.messages.clear()

    @property
    def accepted(self) -> int:
        return sum(self.outcomes)

    @property
    def refused(self) -> int:
        return len(self.outcomes) - sum(self.outcomes)

    def verify(self, request: Request) -> bool:
        """Whether the handshake request carries the right credential."""
        raise NotImplementedError

    def converse(self, connection: ServerConnection) -> None:
        """The exchange once the handshake is accepted: :func:`answers`."""
        for frame in connection:
            with self._lock:
                self.messages.append(frame)
            try:
                decoded: Any = json.loads(frame)
            except ValueError:
                decoded = frame if isinstance(frame, str) else repr(frame)
            for reply in answers(decoded):
                connection.send(json.dumps(reply))

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        accepted = self.verify(request)
        with self._lock:
            self.handshakes.append(request.headers)
            self.paths.append(request.path)
            self.outcomes.append(accepted)
        if accepted:
            return None
        status = self.refusal
        return connection.respond(status, f"{status.phrase}\n")

    def _select(
        self, connection: ServerConnection, offered: Sequence[Subprotocol]
    ) -> Subprotocol | None:
        # Only the server's own subprotocols: a credential-carrying one is never echoed.
        for subprotocol in offered:
            if subprotocol in self.subprotocols:
                return subprotocol
        return None

    def _serve(self, connection: ServerConnection) -> None:
        with contextlib.suppress(ConnectionClosed):
            self.converse(connection)


class OpenServer(VerifyingServer):
    """Accepts every handshake: ``none`` mode, or mutual TLS alone."""

    thread_name = "local-open-server"

    def verify(self, request: Request) -> bool:
        return True


class BasicAuthServer(VerifyingServer):
    """``Authorization: Basic`` (RFC 7617) with :attr:`username` and :attr:`password`."""

    thread_name = "local-basic-server"

    def __init__(self, username: str, password: str, **options: Any) -> None:
        super().__init__(**options)
        self.username = username
        self.password = password

    def verify(self, request: Request) -> bool:
        try:
            username, password = parse_authorization_basic(request.headers.get("Authorization", ""))
        except InvalidHeader:
            return False
        right_username = _same(username, self.username)
        right_password = _same(password, self.password)
        return right_username and right_password


class HeaderKeyServer(VerifyingServer):
    """The key, as is, in the header :attr:`header` (exactly once)."""

    thread_name = "local-header-server"

    def __init__(self, key: str, *, header: str = "X-API-Key", **options: Any) -> None:
        super().__init__(**options)
        self.key = key
        self.header = header

    def verify(self, request: Request) -> bool:
        values = request.headers.get_all(self.header)
        return len(values) == 1 and _same(values[0], self.key)


def cookie_pairs(headers: Headers) -> list[tuple[str, str]]:
    """Every ``name=value`` pair of the request's ``Cookie`` header(s), as a server
    reads them (RFC 6265 section 5.4: pairs separated by ``;``, spaces trimmed)."""
    pairs = []
    for header in headers.get_all("Cookie"):
        for item in header.split(";"):
            name, equals, value = item.strip().partition("=")
            if equals:
                pairs.append((name.strip(), value.strip()))
    return pairs


class CookieServer(VerifyingServer):
    """The token as the value of the cookie :attr:`cookie` (exactly once)."""

    thread_name = "local-cookie-server"

    def __init__(self, token: str, *, cookie: str = "session", **options: Any) -> None:
        super().__init__(**options)
        self.token = token
        self.cookie = cookie

    def verify(self, request: Request) -> bool:
        values = [value for name, value in cookie_pairs(request.headers) if name == self.cookie]
        return len(values) == 1 and _same(values[0], self.token)


class QueryKeyServer(VerifyingServer):
    """The key in query parameter :attr:`param` (exactly once, URL-decoded)."""

    thread_name = "local-query-server"

    def __init__(self, key: str, *, param: str = "access_token", **options: Any) -> None:
        super().__init__(**options)
        self.key = key
        self.param = param

    def verify(self, request: Request) -> bool:
        values = parse_qs(urlsplit(request.path).query, keep_blank_values=True).get(self.param, [])
        return len(values) == 1 and _same(values[0], self.key)


class SubprotocolTokenServer(VerifyingServer):
    """The token in ``Sec-WebSocket-Protocol`` as ``<prefix><encoded token>``
    (exactly one such subprotocol); the server selects one of :attr:`subprotocols`."""

    thread_name = "local-subprotocol-server"

    def __init__(
        self,
        token: str,
        *,
        prefix: str = K8S_PREFIX,
        encoding: str = "base64url",
        subprotocols: Sequence[str] = (K8S_CHANNEL,),
        **options: Any,
    ) -> None:
        super().__init__(subprotocols=subprotocols, **options)
        encode_subprotocol_token("", encoding)
        self.token = token
        self.prefix = prefix
        self.encoding = encoding

    def verify(self, request: Request) -> bool:
        offered = [
            item.strip()
            for value in request.headers.get_all("Sec-WebSocket-Protocol")
            for item in value.split(",")
        ]
        carriers = [item for item in offered if item.startswith(self.prefix)]
        if len(carriers) != 1:
            return False
        expected = self.prefix + encode_subprotocol_token(self.token, self.encoding)
        return _same(carriers[0], expected)


class OAuth2ProtectedServer(VerifyingServer):
    """``Authorization: Bearer <access token>`` that :attr:`token_endpoint` issued
    and still considers valid."""

    thread_name = "local-oauth2-protected-server"

    def __init__(self, token_endpoint: LocalTokenEndpoint, **options: Any) -> None:
        super().__init__(**options)
        self.token_endpoint = token_endpoint

    def verify(self, request: Request) -> bool:
        scheme, _, access_token = request.headers.get("Authorization", "").partition(" ")
        # RFC 6750: the scheme is case-insensitive ("bearer" is common in token answers).
        if scheme.lower() != "bearer" or not access_token:
            return False
        return self.token_endpoint.is_valid(access_token.strip())


class AuthMessageServer(VerifyingServer):
    """Accepts the handshake, then authenticates by message as Home Assistant does."""

    thread_name = "local-auth-message-server"

    def __init__(self, token: str, *, auth_timeout: float = 10.0, **options: Any) -> None:
        super().__init__(**options)
        self.token = token
        self.auth_timeout = auth_timeout
        # When set, the verdict is padded to this many bytes (a server answering a
        # login with a huge session document).
        self.oversized_reply: int | None = None
        # One entry per authentication message received: accepted or not.
        self.auth_outcomes: list[bool] = []

    def verify(self, request: Request) -> bool:
        return True

    def reset(self) -> None:
        super().reset()
        with self._lock:
            self.oversized_reply = None
            self.auth_outcomes.clear()

    def converse(self, connection: ServerConnection) -> None:
        connection.send(json.dumps(AUTH_REQUIRED))
        try:
            frame = connection.recv(timeout=self.auth_timeout)
        except TimeoutError:
            connection.close(1008, "authentication timed out")
            return
        accepted = self._authenticates(frame)
        with self._lock:
            self.auth_outcomes.append(accepted)
        if not accepted:
            connection.send(json.dumps({"type": "auth_invalid", "message": AUTH_INVALID_MESSAGE}))
            connection.close()
            return
        verdict = json.dumps(AUTH_OK)
        if self.oversized_reply is not None:
            padding = "x" * max(0, self.oversized_reply - len(verdict) - len(', "padding": ""'))
            verdict = json.dumps({**AUTH_OK, "padding": padding})
        connection.send(verdict)
        super().converse(connection)

    def _authenticates(self, frame: str | bytes) -> bool:
        try:
            message = json.loads(frame)
        except ValueError:
            return False
        if not isinstance(message, dict) or message.get("type") != "auth":
            return False
        access_token = message.get("access_token")
        return isinstance(access_token, str) and _same(access_token, self.token)
