"""A local-stack server's ``serve_forever`` in a daemon thread."""

from __future__ import annotations

import threading
from typing import Any, Protocol


class Serving(Protocol):
    """What socketserver, werkzeug and websockets' sync servers have in common."""

    def serve_forever(self, *args: Any, **kwargs: Any) -> None: ...

    def shutdown(self) -> None: ...


class BackgroundServer:
    """Serves ``server`` in a daemon thread from construction until :meth:`stop`."""

    def __init__(self, server: Serving, name: str, **serve_options: Any) -> None:
        self.server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs=serve_options, name=name, daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving, release the listening socket, and wait for the thread."""
        self.server.shutdown()
        # socketserver-based servers keep the socket open until server_close().
        close = getattr(self.server, "server_close", None)
        if close is not None:
            close()
        self._thread.join(timeout=5)
