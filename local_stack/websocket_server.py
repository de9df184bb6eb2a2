"""An authenticated WebSocket server on 127.0.0.1: websockets' own ``serve``.

The opening handshake must carry ``Authorization: Bearer <token>`` (compared in
constant time) or it is answered with 401. The path selects the behaviour, so
the fault tests meet real misbehaviour on a real socket:

==================  ==========================================================
path                behaviour
==================  ==========================================================
``/`` (any other)   answers each message (``ping`` -> ``pong``, ``subscribe``
                    -> ``subscribed`` and one ``update``, anything else echoed)
``/silent``         accepts messages and never answers
``/close-1011``     closes with 1011 (internal error) after the first message
``/drop``           drops the TCP connection after the first message
``/binary``         answers with a binary frame
``/text``           answers with text that is not JSON
``/oversized``      answers with a 64 KiB message
``/status-500``     answers the handshake with HTTP 500
``/status-404``     answers the handshake with HTTP 404
``/redirect``       answers the handshake with 302 to :attr:`redirect_to`
==================  ==========================================================
"""

from __future__ import annotations

import hmac
import json
import socket
import ssl
from http import HTTPStatus
from typing import Any

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from .background import BackgroundServer

OVERSIZED_BYTES = 64 * 1024


def answers(message: Any) -> list[Any]:
    """What the server replies to one decoded message."""
    if isinstance(message, dict) and message.get("action") == "ping":
        return [{"type": "pong"}]
    if isinstance(message, dict) and message.get("action") == "subscribe":
        channel = message.get("channel")
        return [
            {"type": "subscribed", "channel": channel},
            {"type": "update", "channel": channel, "seq": 1},
        ]
    return [{"type": "echo", "message": message}]


class LocalWebSocketServer:
    """The server, running in a background thread until :meth:`stop`, on a free
    port of 127.0.0.1 unless ``port`` is given."""

    def __init__(
        self,
        token: str,
        *,
        scheme: str = "Bearer",
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        self.port = port
        self.token = token
        self.scheme = scheme
        self.redirect_to: str | None = None
        self.handshakes: list[Headers] = []
        self.messages: list[str | bytes] = []
        self._ssl_context = ssl_context
        self._server: Server | None = None
        self._background: BackgroundServer | None = None

    @property
    def uri(self) -> str:
        assert self._server is not None, "start() first"
        port = self._server.socket.getsockname()[1]
        return f"{'wss' if self._ssl_context else 'ws'}://127.0.0.1:{port}"

    def start(self) -> LocalWebSocketServer:
        self._server = serve(
            self._serve,
            "127.0.0.1",
            self.port,
            ssl=self._ssl_context,
            process_request=self._check,
            compression=None,
        )
        self._background = BackgroundServer(self._server, "local-websocket-server")
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()

    def __enter__(self) -> LocalWebSocketServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _check(self, connection: ServerConnection, request: Request) -> Response | None:
        self.handshakes.append(request.headers)
        path = request.path.split("?")[0]
        if path == "/redirect" and self.redirect_to:
            response = connection.respond(HTTPStatus.FOUND, "")
            response.headers["Location"] = self.redirect_to
            return response
        expected = f"{self.scheme} {self.token}".encode()
        presented = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(presented, expected):
            return connection.respond(HTTPStatus.UNAUTHORIZED, "Unauthorized\n")
        if path == "/status-500":
            return connection.respond(HTTPStatus.INTERNAL_SERVER_ERROR, "Server error\n")
        if path == "/status-404":
            return connection.respond(HTTPStatus.NOT_FOUND, "Not found\n")
        return None

    def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        path = connection.request.path.split("?")[0]
        try:
            for frame in connection:
                self.messages.append(frame)
                if path == "/silent":
                    continue
                if path == "/close-1011":
                    connection.close(1011, "internal error")
                    return
                if path == "/drop":
                    connection.socket.shutdown(socket.SHUT_RDWR)
                    connection.socket.close()
                    return
                if path == "/binary":
                    connection.send(b"\x00\x01binary\xff")
                elif path == "/text":
                    connection.send("plain text, not JSON")
                elif path == "/oversized":
                    connection.send("x" * OVERSIZED_BYTES)
                else:
                    try:
                        decoded: Any = json.loads(frame)
                    except ValueError:
                        decoded = frame if isinstance(frame, str) else repr(frame)
                    for reply in answers(decoded):
                        connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass


class SilentListener:
    """A TCP socket that accepts connections and never says a word.

    The opening handshake against it can only time out.
    """

    def __init__(self) -> None:
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.bind(("127.0.0.1", 0))
        self._socket.listen(16)

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self._socket.getsockname()[1]}"

    def close(self) -> None:
        self._socket.close()

    def __enter__(self) -> SilentListener:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def closed_port_uri() -> str:
    """A ws:// URI on a port of 127.0.0.1 where nothing listens."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"ws://127.0.0.1:{port}"
