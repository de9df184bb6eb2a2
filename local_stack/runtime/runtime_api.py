"""The Lambda Runtime API (2018-06-01) on 127.0.0.1, as a runtime client sees it.

A runtime process (here AWS's own ``awslambdaric``) long-polls
``GET /2018-06-01/runtime/invocation/next`` for an event and answers it with
``POST .../invocation/{id}/response`` or ``.../invocation/{id}/error``; a
runtime that cannot load the handler posts ``/2018-06-01/runtime/init/error``
and exits. :class:`RuntimeAPI` queues events, hands them out one at a time with
the headers Lambda sends, and records each invocation's outcome.
"""

from __future__ import annotations

import json
import sys
import threading
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal

from local_stack.background import BackgroundServer

API_PREFIX = "/2018-06-01/runtime"
# How often a blocked /next, and the server loop, look whether it is stopping.
_POLL_SECONDS = 0.05

OutcomeKind = Literal["response", "error", "init_error"]


@dataclass(frozen=True)
class InvocationOutcome:
    """What the runtime answered: the response payload, or its error document
    (``errorType``, ``errorMessage``, ``stackTrace``)."""

    kind: OutcomeKind
    payload: Any
    request_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.kind == "response"


@dataclass
class _Invocation:
    request_id: str
    body: bytes
    timeout_seconds: float
    trace_id: str
    deadline_ms: int | None = None


@dataclass
class _State:
    pending: deque[_Invocation] = field(default_factory=deque)
    started: dict[str, _Invocation] = field(default_factory=dict)
    outcomes: dict[str, InvocationOutcome] = field(default_factory=dict)
    init_error: InvocationOutcome | None = None
    stopping: bool = False


class RuntimeAPI:
    """The Runtime API for one function, on a free port of 127.0.0.1."""

    def __init__(self, function_arn: str) -> None:
        self.function_arn = function_arn
        self._state = _State()
        self._changed = threading.Condition()
        self._server: ThreadingHTTPServer | None = None
        self._background: BackgroundServer | None = None

    @property
    def address(self) -> str:
        """``host:port``, the value of ``AWS_LAMBDA_RUNTIME_API``."""
        assert self._server is not None, "start() first"
        host, port = self._server.server_address[:2]
        return f"{host!s}:{port}"

    def start(self) -> RuntimeAPI:
        api = self

        class Handler(_RuntimeAPIHandler):
            runtime_api = api

        self._server = _Server(("127.0.0.1", 0), Handler)
        self._background = BackgroundServer(
            self._server, "local-runtime-api", poll_interval=_POLL_SECONDS
        )
        return self

    def stop(self) -> None:
        with self._changed:
            self._state.stopping = True
            self._changed.notify_all()
        if self._background is not None:
            self._background.stop()

    def __enter__(self) -> RuntimeAPI:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def submit(self, event: Any, timeout_seconds: float) -> str:
        """Queue ``event`` for the next ``/next``; return its request id."""
        invocation = _Invocation(
            request_id=str(uuid.uuid4()),
            body=json.dumps(event).encode(),
            timeout_seconds=timeout_seconds,
            trace_id=_trace_id(),
        )
        with self._changed:
            self._state.pending.append(invocation)
            self._changed.notify_all()
        return invocation.request_id

    def wait(self, request_id: str, timeout: float) -> InvocationOutcome | None:
        """The outcome of ``request_id`` (or the runtime's init error), or
        ``None`` if neither arrived within ``timeout`` seconds."""
        with self._changed:
            self._changed.wait_for(
                lambda: request_id in self._state.outcomes or self._state.init_error is not None,
                timeout=timeout,
            )
            if request_id in self._state.outcomes:
                return self._state.outcomes.pop(request_id)
            if self._state.init_error is not None:
                return self._state.init_error
            return None

    def deadline_ms(self, request_id: str) -> int | None:
        """The deadline (epoch ms) of an invocation the runtime has taken."""
        with self._changed:
            invocation = self._state.started.get(request_id)
            return None if invocation is None else invocation.deadline_ms

    def reset(self) -> None:
        """Forget every queued event and error, for a fresh runtime process."""
        with self._changed:
            self._state.pending.clear()
            self._state.started.clear()
            self._state.outcomes.clear()
            self._state.init_error = None

    def _next(self) -> _Invocation | None:
        with self._changed:
            while not self._state.pending and not self._state.stopping:
                self._changed.wait(_POLL_SECONDS)
            if self._state.stopping:
                return None
            invocation = self._state.pending.popleft()
            # As in Lambda, the function's timeout starts when the runtime takes the event.
            invocation.deadline_ms = int((time.time() + invocation.timeout_seconds) * 1000)
            self._state.started[invocation.request_id] = invocation
            return invocation

    def _is_started(self, request_id: str) -> bool:
        with self._changed:
            return request_id in self._state.started

    def _finish(self, request_id: str, outcome: InvocationOutcome) -> None:
        with self._changed:
            if self._state.started.pop(request_id, None) is not None:
                self._state.outcomes[request_id] = outcome
                self._changed.notify_all()

    def _init_failed(self, outcome: InvocationOutcome) -> None:
        with self._changed:
            self._state.init_error = outcome
            self._changed.notify_all()


def _trace_id() -> str:
    """An X-Ray trace header, as Lambda passes one even with tracing off."""
    root = f"1-{int(time.time()):08x}-{uuid.uuid4().hex[:24]}"
    return f"Root={root};Parent={uuid.uuid4().hex[:16]};Sampled=0"


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A runtime process that is stopped or killed resets its connections: expected.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _RuntimeAPIHandler(BaseHTTPRequestHandler):
    runtime_api: RuntimeAPI
    # Keep-alive, as the runtime client's libcurl expects of Lambda.
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        if self.path != f"{API_PREFIX}/invocation/next":
            self._answer(HTTPStatus.NOT_FOUND, {"errorMessage": f"no route {self.path}"})
            return
        invocation = self.runtime_api._next()
        if invocation is None:
            self._answer(HTTPStatus.SERVICE_UNAVAILABLE, {"errorMessage": "shutting down"})
            return
        assert invocation.deadline_ms is not None
        self._answer(
            HTTPStatus.OK,
            invocation.body,
            {
                "Lambda-Runtime-Aws-Request-Id": invocation.request_id,
                "Lambda-Runtime-Deadline-Ms": str(invocation.deadline_ms),
                "Lambda-Runtime-Invoked-Function-Arn": self.runtime_api.function_arn,
                "Lambda-Runtime-Trace-Id": invocation.trace_id,
            },
        )

    def do_POST(self) -> None:
        body = _decode(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        parts = self.path.removeprefix(API_PREFIX + "/").split("/")
        if parts == ["init", "error"]:
            self._answer(HTTPStatus.ACCEPTED, {"status": "OK"})
            self.runtime_api._init_failed(InvocationOutcome("init_error", body))
            return
        if len(parts) == 3 and parts[0] == "invocation" and parts[2] in ("response", "error"):
            request_id = parts[1]
            if not self.runtime_api._is_started(request_id):
                self._answer(
                    HTTPStatus.BAD_REQUEST,
                    {"errorType": "InvalidRequestID", "errorMessage": "unknown request id"},
                )
                return
            # Answered before the outcome is published: the caller may then stop the
            # runtime, which must not find its POST cut off.
            self._answer(HTTPStatus.ACCEPTED, {"status": "OK"})
            kind: OutcomeKind = "response" if parts[2] == "response" else "error"
            self.runtime_api._finish(request_id, InvocationOutcome(kind, body, request_id))
            return
        self._answer(HTTPStatus.NOT_FOUND, {"errorMessage": f"no route {self.path}"})

    def _answer(self, status: HTTPStatus, body: Any, headers: dict[str, str] | None = None) -> None:
        payload = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        # The runtime's native client dies with SIGSEGV on a /next answer without it.
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: the runtime's own output is what the caller collects."""


def _decode(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return body.decode("utf-8", "replace")
