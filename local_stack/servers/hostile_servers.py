"""Servers that misbehave on request, for the fault and property tests (dev-only).

- :class:`ScriptedServer`: websockets' own server on 127.0.0.1 that accepts any
  handshake and runs a script on each connection (send anything, echo the
  handshake back, stay silent, flood). It records each handshake's headers and
  the close code the client sent, so a test can see that the client closed.
- :class:`RawHttpServer`: a TCP server that answers every opening handshake
  with bytes chosen by the test (a redirect, too many headers, garbage), for the
  answers websockets' server would never give.
"""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Callable

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from local_stack.background import BackgroundServer

Script = Callable[[ServerConnection], None]


def wait_for_close(connection: ServerConnection) -> None:
    """Read until the client closes (what a quiet, well-behaved server does)."""
    for _ in connection:
        pass


class ScriptedServer:
    """websockets' server running :attr:`script` on each connection."""

    def __init__(self, script: Script = wait_for_close) -> None:
        self.script = script
        self.handshakes: list[Headers] = []
        # The close code each client sent (None: the connection was dropped without one).
        self.client_close_codes: list[int | None] = []
        self.connections_ended = threading.Event()
        # Added to the handshake's 101 response (a server's own headers).
        self.response_headers: dict[str, str] = {}
        self._server: Server | None = None
        self._background: BackgroundServer | None = None

    @property
    def uri(self) -> str:
        assert self._server is not None, "start() first"
        return f"ws://127.0.0.1:{self._server.socket.getsockname()[1]}"

    def start(self) -> ScriptedServer:
        self._server = serve(
            self._serve,
            "127.0.0.1",
            0,
            compression=None,
            max_size=None,
            process_response=self._add_headers,
        )
        self._background = BackgroundServer(self._server, "scripted-websocket-server")
        return self

    def stop(self) -> None:
        if self._background is not None:
            self._background.stop()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _add_headers(
        self, connection: ServerConnection, request: Request, response: Response
    ) -> Response:
        for name, value in self.response_headers.items():
            response.headers[name] = value
        return response

    def _serve(self, connection: ServerConnection) -> None:
        assert connection.request is not None
        self.handshakes.append(connection.request.headers)
        try:
            self.script(connection)
            wait_for_close(connection)
        except ConnectionClosed:
            pass
        finally:
            received = connection.protocol.close_rcvd
            self.client_close_codes.append(None if received is None else received.code)
            self.connections_ended.set()


class _OneAnswer(socketserver.BaseRequestHandler):
    server: _RawServer

    def handle(self) -> None:
        self.request.settimeout(5)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = self.request.recv(65536)
                if not chunk:
                    return
                data += chunk
        except OSError:
            return
        self.server.owner.requests.append(data.decode("latin-1"))
        self.request.sendall(self.server.owner.answer(data))


class _RawServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    owner: RawHttpServer


class RawHttpServer:
    """Answers each opening handshake with ``answer(request_bytes)``, then closes."""

    def __init__(self, answer: bytes | Callable[[bytes], bytes]) -> None:
        if isinstance(answer, bytes):
            fixed = answer

            def answer(_request: bytes) -> bytes:
                return fixed

        self.answer: Callable[[bytes], bytes] = answer
        self.requests: list[str] = []
        self._server = _RawServer(("127.0.0.1", 0), _OneAnswer)
        self._server.owner = self
        self._background: BackgroundServer | None = None

    @property
    def uri(self) -> str:
        return f"ws://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> RawHttpServer:
        self._background = BackgroundServer(self._server, "raw-http-server", poll_interval=0.05)
        return self

    def __exit__(self, *exc: object) -> None:
        if self._background is not None:
            self._background.stop()


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
    return port
