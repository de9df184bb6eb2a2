"""An ASGI application served by uvicorn on 127.0.0.1, in a background thread.

I/O at the edge. The GraphQL and Socket.IO counterparts are real libraries'
ASGI applications (Strawberry, python-socketio); this module gives them the
local stack's shape: a free port, :attr:`AsgiServer.uri`, :meth:`~AsgiServer.stop`,
and use as a context manager.

The listening socket is bound before the thread starts, so :attr:`~AsgiServer.uri`
is known at once and a client that connects before uvicorn accepts simply waits
in the backlog. :meth:`~AsgiServer.stop` closes open WebSocket connections with
1012 (uvicorn's "service restart") and joins the thread.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from typing import Any

import uvicorn

from local_stack.background import BackgroundServer

# Long enough for a subscription or an emit in flight to finish, short enough
# that a test's teardown never waits on a client that does not close.
GRACEFUL_SHUTDOWN_SECONDS = 1
STARTUP_TIMEOUT_SECONDS = 5.0


class _Uvicorn:
    """uvicorn's ``Server`` seen as :class:`~local_stack.background.Serving`."""

    def __init__(self, app: Any, listener: socket.socket) -> None:
        config = uvicorn.Config(
            app,
            lifespan="off",
            # None: no dictConfig over the process's logging, which the tests
            # (and the function's own log capture) rely on.
            log_config=None,
            log_level="warning",
            # websockets is already the product's library; its Sans-I/O core is
            # what uvicorn's "websockets-sansio" drives.
            ws="websockets-sansio",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._listener = listener
        self.settled = threading.Event()

    @property
    def is_serving(self) -> bool:
        return bool(self._server.started) and not self._server.should_exit

    def serve_forever(self) -> None:
        asyncio.run(self._serve())

    async def _serve(self) -> None:
        serving = asyncio.create_task(self._server.serve(sockets=[self._listener]))
        while not (self._server.started or serving.done()):
            await asyncio.sleep(0.01)
        self.settled.set()
        await serving

    def shutdown(self) -> None:
        self._server.should_exit = True


class AsgiServer:
    """``app`` served on a free port of 127.0.0.1 (or on ``port``) from :meth:`start`
    until :meth:`stop`."""

    def __init__(self, app: Any, name: str, *, port: int = 0) -> None:
        self.app = app
        self.name = name
        self.requested_port = port
        self._listener: socket.socket | None = None
        self._background: BackgroundServer | None = None

    @property
    def port(self) -> int:
        assert self._listener is not None, "start() first"
        port: int = self._listener.getsockname()[1]
        return port

    @property
    def uri(self) -> str:
        """``ws://127.0.0.1:<port>``, without a path."""
        return f"ws://127.0.0.1:{self.port}"

    def start(self) -> AsgiServer:
        listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            listener.bind(("127.0.0.1", self.requested_port))
        except OSError:
            listener.close()
            raise
        listener.listen(128)
        self._listener = listener
        serving = _Uvicorn(self.app, listener)
        self._background = BackgroundServer(serving, self.name)
        if not (serving.settled.wait(STARTUP_TIMEOUT_SECONDS) and serving.is_serving):
            self.stop()
            raise RuntimeError(f"{self.name} did not start within {STARTUP_TIMEOUT_SECONDS} s")
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()
            self._background = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def __enter__(self) -> AsgiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
