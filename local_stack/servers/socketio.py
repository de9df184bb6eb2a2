"""A Socket.IO server on 127.0.0.1: python-socketio's ASGI app under uvicorn
(Socket.IO v5 over Engine.IO v4; I/O at the edge).

Clients connect to ``/socket.io/?EIO=4&transport=websocket`` (the WebSocket
transport only: no long-polling first). Both namespaces, ``/`` and ``/chat``,
behave alike:

=====================  ============================================================
client sends           the server
=====================  ============================================================
``40`` / ``40/chat,``  with auth ``{"token": <the token>}``: ``40{"sid": ...}``;
 + auth payload        any other auth: ``44{"message": "`` :data:`REFUSED_MESSAGE`
                       ``"}`` (CONNECT_ERROR), and the namespace stays closed
``42["ping", ...]``    emits ``42["pong", ...]`` with the same arguments
``42<id>["echo", ...]``  acknowledges with ``43<id>[...]``: the same arguments
``41``                 disconnects the namespace
=====================  ============================================================

Engine.IO pings ``2`` every :attr:`SocketIOServer.ping_interval` seconds (1 by
default, so tests see them) and expects ``3`` within
:attr:`~SocketIOServer.ping_timeout` seconds. python-engineio drops a client
that sends nothing at all for ``ping_interval + ping_timeout`` (``"transport
close"`` in :attr:`~SocketIOServer.disconnects`), and one that keeps sending
but never answers a ping the next time it writes to it (``"ping timeout"``).
"""

from __future__ import annotations

import hmac
from typing import Any

import socketio

from local_stack.servers.asgi import AsgiServer

NAMESPACES = ("/", "/chat")
PATH = "/socket.io/"
REFUSED_MESSAGE = "authentication failed"
PING_INTERVAL_SECONDS = 1.0
PING_TIMEOUT_SECONDS = 1.0


class SocketIOServer(AsgiServer):
    """The Socket.IO server, on a free port of 127.0.0.1 (or on ``port``) from :meth:`start`
    until :meth:`stop`.

    :attr:`events` records each event received as ``(namespace, name, args)``;
    :attr:`disconnects` each namespace disconnection as ``(namespace, reason)``,
    the reason in python-engineio's words (``"ping timeout"``, ``"client
    disconnect"``...).
    """

    def __init__(
        self,
        token: str,
        *,
        ping_interval: float = PING_INTERVAL_SECONDS,
        ping_timeout: float = PING_TIMEOUT_SECONDS,
        port: int = 0,
    ) -> None:
        self.token = token
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout
        self.events: list[tuple[str, str, list[Any]]] = []
        self.disconnects: list[tuple[str, str]] = []
        self.sio: Any = socketio.AsyncServer(
            async_mode="asgi",
            transports=["websocket"],
            ping_interval=ping_interval,
            ping_timeout=ping_timeout,
        )
        for namespace in NAMESPACES:
            self._register(namespace)
        super().__init__(socketio.ASGIApp(self.sio), "local-socketio-server", port=port)

    @property
    def endpoint(self) -> str:
        """The Engine.IO WebSocket URI a raw client opens."""
        return f"{self.uri}{PATH}?EIO=4&transport=websocket"

    def __enter__(self) -> SocketIOServer:
        self.start()
        return self

    def _register(self, namespace: str) -> None:
        async def connect(sid: str, environ: dict[str, Any], auth: Any = None) -> None:
            presented = auth.get("token") if isinstance(auth, dict) else None
            if not (
                isinstance(presented, str)
                and hmac.compare_digest(presented.encode(), self.token.encode())
            ):
                # python-socketio's own exception (not the builtin of the same
                # name) becomes CONNECT_ERROR ``44`` carrying this message.
                raise socketio.exceptions.ConnectionRefusedError(REFUSED_MESSAGE)

        async def disconnect(sid: str, reason: str = "") -> None:
            self.disconnects.append((namespace, reason))

        async def ping(sid: str, *args: Any) -> None:
            self.events.append((namespace, "ping", list(args)))
            await self.sio.emit("pong", args or None, to=sid, namespace=namespace)

        async def echo(sid: str, *args: Any) -> tuple[Any, ...]:
            self.events.append((namespace, "echo", list(args)))
            # A tuple: each element is one argument of the acknowledgement.
            return args

        for name, handler in (
            ("connect", connect),
            ("disconnect", disconnect),
            ("ping", ping),
            ("echo", echo),
        ):
            self.sio.on(name, handler, namespace=namespace)
