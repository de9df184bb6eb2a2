"""An authenticated WebSocket server on 127.0.0.1: websockets' own ``serve``.

The opening handshake must carry ``Authorization: Bearer <token>`` (compared in
constant time) or it is answered with 401. The path selects the behaviour, so
the fault tests meet real misbehaviour on a real socket:

==================  ==========================================================
path                behaviour
==================  ==========================================================
``/`` (any other)   answers each message (``ping`` -> ``pong``, ``subscribe``
                    -> ``subscribed`` and one ``update``, anything else echoed);
                    a reply to a JSON object with an ``id`` carries that ``id``
``/snapshot``       like ``/``, but ``subscribe`` -> ``subscribed``, then
                    :data:`SNAPSHOT_AFTER_UPDATES` ``update`` replies, then
                    one ``snapshot``, then nothing until the next message
``/stream``         from the first message on, a ``tick`` with a ``seq`` (1, 2,
                    ...) every :data:`STREAM_INTERVAL_MS` ms until the client
                    closes; ``?interval_ms=N`` (0..1000) sets the period, 0 is as
                    fast as the socket takes them; ``?count=N`` stops after N
                    ticks (at most :data:`MAX_STREAM_COUNT`), then silence
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

import contextlib
import hmac
import json
import socket
import ssl
import time
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection

from local_stack.servers.base import WebSocketCounterpart

OVERSIZED_BYTES = 64 * 1024
SNAPSHOT_AFTER_UPDATES = 3
STREAM_INTERVAL_MS = 20
MAX_STREAM_INTERVAL_MS = 1000
MAX_STREAM_COUNT = 100_000


def answers(message: Any) -> list[Any]:
    """What the server replies to one decoded message."""
    if isinstance(message, dict) and message.get("action") == "ping":
        replies: list[Any] = [{"type": "pong"}]
    elif isinstance(message, dict) and message.get("action") == "subscribe":
        channel = message.get("channel")
        replies = [
            {"type": "subscribed", "channel": channel},
            {"type": "update", "channel": channel, "seq": 1},
        ]
    else:
        replies = [{"type": "echo", "message": message}]
    return _with_id(message, replies)


def snapshot_answers(message: Any) -> list[Any]:
    """What ``/snapshot`` replies: a subscription's updates end with a snapshot."""
    if not (isinstance(message, dict) and message.get("action") == "subscribe"):
        return answers(message)
    channel = message.get("channel")
    updates = [
        {"type": "update", "channel": channel, "seq": seq}
        for seq in range(1, SNAPSHOT_AFTER_UPDATES + 1)
    ]
    snapshot = {
        "type": "snapshot",
        "channel": channel,
        "seq": SNAPSHOT_AFTER_UPDATES + 1,
        "state": {"updates": SNAPSHOT_AFTER_UPDATES},
    }
    return _with_id(message, [{"type": "subscribed", "channel": channel}, *updates, snapshot])


def tick(seq: int, message: Any) -> dict[str, Any]:
    """The ``seq``-th reply of ``/stream`` to the message that started it."""
    replies: list[dict[str, Any]] = _with_id(message, [{"type": "tick", "seq": seq}])
    return replies[0]


def _with_id(message: Any, replies: list[Any]) -> list[Any]:
    # Only a message that names an id gets it back, so replies to any other
    # message stay exactly what they always were.
    if isinstance(message, dict) and "id" in message:
        return [{**reply, "id": message["id"]} for reply in replies]
    return replies


def _query_integer(query: str, name: str, default: int, low: int, high: int) -> int:
    """``name`` from the query string, clamped to ``low..high``; ``default`` if absent or bad."""
    values = parse_qs(query).get(name)
    try:
        value = int(values[-1]) if values else None
    except ValueError:
        value = None
    return default if value is None else min(max(value, low), high)


def _decode(frame: str | bytes) -> Any:
    try:
        return json.loads(frame)
    except ValueError:
        return frame if isinstance(frame, str) else repr(frame)


class LocalWebSocketServer(WebSocketCounterpart):
    """The server, running in a background thread until :meth:`stop`, on a free
    port of 127.0.0.1 unless ``port`` is given."""

    thread_name = "local-websocket-server"

    def serve_options(self) -> dict[str, Any]:
        return {"process_request": self._check}

    def __init__(
        self,
        token: str,
        *,
        scheme: str = "Bearer",
        ssl_context: ssl.SSLContext | None = None,
        port: int = 0,
    ) -> None:
        super().__init__(ssl_context=ssl_context, port=port)
        self.token = token
        self.scheme = scheme
        self.redirect_to: str | None = None
        self.handshakes: list[Headers] = []
        self.messages: list[str | bytes] = []

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
        path, _, query = connection.request.path.partition("?")
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
                if path == "/stream":
                    interval_ms = _query_integer(
                        query, "interval_ms", STREAM_INTERVAL_MS, 0, MAX_STREAM_INTERVAL_MS
                    )
                    # 0 (the default, or a bad value) streams without end.
                    count = _query_integer(query, "count", 0, 0, MAX_STREAM_COUNT) or None
                    self._stream(connection, _decode(frame), interval_ms / 1000, count)
                    return
                if path == "/binary":
                    connection.send(b"\x00\x01binary\xff")
                elif path == "/text":
                    connection.send("plain text, not JSON")
                elif path == "/oversized":
                    connection.send("x" * OVERSIZED_BYTES)
                else:
                    reply_to = snapshot_answers if path == "/snapshot" else answers
                    for reply in reply_to(_decode(frame)):
                        connection.send(json.dumps(reply))
        except ConnectionClosed:
            pass

    def _stream(
        self, connection: ServerConnection, message: Any, interval: float, count: int | None
    ) -> None:
        """Send ``count`` ticks (``None``: no end) at a fixed rate, recording
        what the client sends meanwhile.

        Waiting in ``recv(timeout=...)`` rather than sleeping notices the
        client's messages and its close as they come. The schedule is kept
        from the start, so the rate does not drift with the time each send
        takes; after a stall it resumes from now instead of bursting.
        """
        seq = 0
        next_at = time.monotonic()
        while count is None or seq < count:
            now = time.monotonic()
            if now >= next_at:
                seq += 1
                connection.send(json.dumps(tick(seq, message)))
                next_at = max(next_at + interval, now) if interval else now
                continue
            with contextlib.suppress(TimeoutError):
                self.messages.append(connection.recv(timeout=next_at - now))
        # All sent: keep recording the client's messages until it closes.
        while True:
            self.messages.append(connection.recv())


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
