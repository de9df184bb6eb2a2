"""What every local WebSocket server shares: websockets' own sync ``serve`` on
127.0.0.1, in a daemon thread from :meth:`start` until :meth:`stop`, on a free port
unless one is given, with or without TLS."""

from __future__ import annotations

import ssl
from typing import Any, ClassVar, Self

from websockets.sync.server import Server, ServerConnection, serve

from local_stack.background import BackgroundServer


class WebSocketCounterpart:
    """Subclasses say how they serve (:meth:`_serve`) and with which options
    (:meth:`serve_options`: ``process_request``, ``select_subprotocol``...)."""

    thread_name: ClassVar[str] = "local-websocket-server"
    # Appended to the URI (AppSync's realtime endpoint has a path of its own).
    path: ClassVar[str] = ""

    def __init__(self, *, ssl_context: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.port = port
        self._ssl_context = ssl_context
        self._server: Server | None = None
        self._background: BackgroundServer | None = None

    @property
    def uri(self) -> str:
        """``ws://127.0.0.1:<port>`` (``wss://`` with an ``ssl_context``) and :attr:`path`."""
        assert self._server is not None, "start() first"
        port = self._server.socket.getsockname()[1]
        return f"{'wss' if self._ssl_context else 'ws'}://127.0.0.1:{port}{self.path}"

    def serve_options(self) -> dict[str, Any]:
        """Options for websockets' ``serve`` besides the handler, host, port and TLS."""
        return {}

    def _serve(self, connection: ServerConnection) -> None:
        raise NotImplementedError

    def start(self) -> Self:
        self._server = serve(
            self._serve,
            "127.0.0.1",
            self.port,
            ssl=self._ssl_context,
            compression=None,
            **self.serve_options(),
        )
        self._background = BackgroundServer(self._server, self.thread_name)
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
