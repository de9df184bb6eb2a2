"""``PROTOCOL=graphql-transport-ws``: GraphQL over WebSocket, the protocol of the
``graphql-ws`` library, Apollo, Hasura, Strawberry and others.

Reference: the graphql-ws library's PROTOCOL.md. The client offers the
subprotocol ``graphql-transport-ws`` and sends ``connection_init``, whose
``payload`` carries the connection parameters (``GRAPHQL_CONNECTION_PARAMS``, a
JSON value with ``"{token}"`` replaced by the credential's token; by default
``{"Authorization": "Bearer {token}"}`` where the mode has a token); the server
answers ``connection_ack``, or refuses by closing with 4403 (4401 for an
operation before the ack). Either side may ``ping``; the other answers ``pong``.

A caller's message ``{"subscribe": {"query": ..., "variables": ..., "operationName":
...}}`` goes as ``{"id": <fresh>, "type": "subscribe", "payload": ...}``; each
``next`` for it is a reply (its ``payload``); ``complete`` ends it; an ``error``
message ends the exchange as ``expectation_failed`` with the server's GraphQL
error messages. A ``receive`` step or ``until`` without a condition of its own
waits for ``complete``. On the way out, every operation still open gets a
``complete``.

Against a server that misbehaves: a second ``connection_ack`` is ignored, as
are ``next``, ``error`` and ``complete`` for an id with no operation open (the
reference client listens by id); every ``ping`` is answered, its payload
echoed; a close before the ack names its code (4401 and 4403 are
``auth_rejected``); a frame that is not a graphql-transport-ws message ends the
exchange as ``expectation_failed`` saying what it was.

The connection parameters hold the token: they are never logged or shown. The
token, and every string of 8 characters or more in the parameters, is scrubbed
wherever a server echoes it; ``connection_init`` is sent without websockets'
DEBUG frame line.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from ..checks import shorten
from ..credentials import Handshake, mode_name, setting
from ..credentials.message import replace_token
from ..errors import AuthRejected, ConfigError, ConnectionClosed, ExpectationFailed
from ..framing import dumps, loads
from ..redaction import SHORTEST_ANYWHERE, scrubber

if TYPE_CHECKING:
    from ..credentials import CredentialMode, Prepared
    from ..deadline import Deadline
    from .link import PresetLink

SUBPROTOCOL = "graphql-transport-ws"
TOKEN = "{token}"  # noqa: S105  (a placeholder, not a password)
DEFAULT_PARAMS: dict[str, str] = {"Authorization": "Bearer {token}"}
# Modes whose credential is a token the parameters can carry.
TOKEN_MODES = frozenset(
    {"bearer", "header", "query", "subprotocol", "cookie", "oauth2_client_credentials"}
)
# Close codes with which a server refuses the connection's parameters.
REFUSING_CLOSE_CODES = frozenset({4401, 4403})
# What graphql-ws's close codes mean, in the words a result shows.
CLOSE_MEANINGS: dict[int, str] = {
    4400: "bad request: it could not read a message",
    4401: "unauthorized",
    4403: "forbidden",
    4406: "subprotocol not acceptable: it does not speak graphql-transport-ws",
    4408: "connection initialisation timeout",
    4409: "subscriber already exists for an operation id",
    4429: "too many initialisation requests",
    4500: "internal server error",
}
# Closes that say the two sides disagree on the protocol: the same request fails again.
_LASTING_CLOSE_CODES = frozenset({4400, 4406, 4409})
# Message types of the older subscriptions-transport-ws protocol (subprotocol graphql-ws).
_LEGACY_TYPES = frozenset({"ka", "data", "connection_error"})
_OPERATION_KEYS = frozenset({"query", "variables", "operationName", "extensions"})
_SHOWN_ERRORS = 3
# Strings of the connection parameters scrubbed as credentials, at most.
_REMEMBERED_PARAMS = 16


class GraphQLTransportWS:
    """The graphql-transport-ws preset."""

    name: ClassVar[str] = "graphql-transport-ws"
    completes: ClassVar[bool] = True

    def __init__(self, params: Any) -> None:
        # The connection_init payload, "{token}" still in it; None: no payload.
        self._params = params

    def __repr__(self) -> str:
        return "GraphQLTransportWS()"

    def credential_mode(self) -> CredentialMode | None:
        return None

    def connect_parameters(self, handshake: Handshake) -> Handshake:
        others = tuple(p for p in handshake.subprotocols if p != SUBPROTOCOL)
        return Handshake(handshake.uri, handshake.headers, (SUBPROTOCOL, *others))

    def check(self, message: Any) -> None:
        operation = message.get("subscribe") if isinstance(message, dict) else None
        if not (isinstance(message, dict) and len(message) == 1 and isinstance(operation, dict)):
            raise ValueError(
                "is not an operation: with PROTOCOL graphql-transport-ws, write "
                '{"subscribe": {"query": "...", "variables": {...}}}'
            )
        if not isinstance(operation.get("query"), str):
            raise ValueError('has no "query" text in its "subscribe"')
        unknown = sorted(set(operation) - _OPERATION_KEYS)
        if unknown:
            raise ValueError(
                f'has "{unknown[0]}" in its "subscribe", which takes only query, '
                "variables, operationName and extensions"
            )

    async def open(
        self, link: PresetLink, prepared: Prepared, deadline: Deadline, timeout: float
    ) -> None:
        link.state = _Operations()
        init: dict[str, Any] = {"type": "connection_init"}
        if self._params is not None:
            init["payload"] = replace_token(self._params, prepared.token or "")
            # A server may echo the parameters back (in a next, an error): they
            # are credentials wherever they appear, the literal ones too.
            # The scrubber keeps the latest few credentials: the mode's own go last,
            # so that however many strings the parameters hold, the token stays.
            scrubber.remember(_long_strings(init["payload"])[:_REMEMBERED_PARAMS])
            scrubber.remember(prepared.credentials)
        acknowledged = link.expect("connection_ack")
        limit = deadline.cap(timeout)
        try:
            await link.send_frame(dumps(init), secret=True)
            async with asyncio.timeout(limit):
                await acknowledged
        except TimeoutError:
            raise AuthRejected(
                f"The server did not acknowledge connection_init within {limit:.3g} s "
                "(graphql-transport-ws): check that WEBSOCKET_URI is a "
                "graphql-transport-ws endpoint and that it accepts the connection parameters."
            ) from None
        except WebSocketClosed as exc:
            raise _closed_before_ack(exc) from None

    async def send(self, link: PresetLink, message: Any, timeout: float) -> Any:
        operations: _Operations = link.state
        operation_id = str(next(operations.ids))
        sent = {"id": operation_id, "type": "subscribe", "payload": message["subscribe"]}
        operations.open.add(operation_id)
        await link.send_frame(dumps(sent))
        return sent

    def incoming(self, link: PresetLink, frame: str | bytes) -> None:
        message = _decode(frame)
        if isinstance(message, str):
            link.fail(ExpectationFailed(message))
            return
        kind = message["type"]
        operations: _Operations = link.state
        if kind == "next":
            if operations.is_open(message.get("id")):
                link.reply(message.get("payload"))
        elif kind == "complete":
            if operations.close(message.get("id")):
                link.complete()
        elif kind == "ping":
            pong: dict[str, Any] = {"type": "pong"}
            if message.get("payload") is not None:
                # As the reference client does: the ping's payload comes back.
                pong["payload"] = message["payload"]
            link.answer(dumps(pong))
        elif kind == "connection_ack":
            link.resolve("connection_ack")  # False for a second ack: ignored
        elif kind == "error":
            if link.reject("connection_ack", AuthRejected(_refusal(message.get("payload")))):
                return
            if operations.close(message.get("id")):
                link.fail(ExpectationFailed(_error_message(message.get("payload"))))
        elif kind != "pong":
            link.fail(ExpectationFailed(_unknown_type(kind)))

    async def close(self, link: PresetLink) -> None:
        operations: _Operations = link.state
        for operation_id in sorted(operations.open):
            await link.send_frame(dumps({"id": operation_id, "type": "complete"}))
        operations.open.clear()


class _Operations:
    """One connection's operations: the next id, and those not yet complete."""

    def __init__(self) -> None:
        self.ids = itertools.count(1)
        self.open: set[str] = set()

    def is_open(self, operation_id: Any) -> bool:
        return isinstance(operation_id, str) and operation_id in self.open

    def close(self, operation_id: Any) -> bool:
        """Note that the operation is over; False: no such operation was open."""
        if not self.is_open(operation_id):
            return False
        self.open.discard(operation_id)
        return True


def _decode(frame: str | bytes) -> dict[str, Any] | str:
    """The message in ``frame``, or a sentence saying why it is not one."""
    if isinstance(frame, bytes):
        return _not_a_message("a binary frame, which the protocol never uses")
    try:
        message = loads(frame)
    except ValueError:
        return _not_a_message("a frame that is not JSON")
    if not isinstance(message, dict):
        return _not_a_message("JSON that is not a JSON object")
    if not isinstance(message.get("type"), str):
        return _not_a_message("a JSON object with no type")
    return message


def _not_a_message(what: str) -> str:
    return f"The server sent {what}: not a graphql-transport-ws message."


def _unknown_type(kind: str) -> str:
    shown = shorten(scrubber.scrub_text(kind), 40)
    if kind in _LEGACY_TYPES:
        return (
            f'The server sent a message of type "{shown}", which is not graphql-transport-ws '
            "but the older subscriptions-transport-ws protocol: the endpoint needs a client "
            "of that protocol."
        )
    return f'The server sent a message of type "{shown}", which graphql-transport-ws does not have.'


def _closed_before_ack(exc: WebSocketClosed) -> AuthRejected | ConnectionClosed:
    """The typed error for a connection that closed before ``connection_ack``."""
    if exc.rcvd is None:
        return ConnectionClosed(
            "The connection was lost before the server acknowledged connection_init "
            "(graphql-transport-ws)."
        )
    code = exc.rcvd.code
    if code in REFUSING_CLOSE_CODES:
        return AuthRejected(
            f"The server refused the connection parameters with close code {code} "
            f"({CLOSE_MEANINGS[code]}, graphql-transport-ws): check the token and "
            "GRAPHQL_CONNECTION_PARAMS."
        )
    meaning = f" ({CLOSE_MEANINGS[code]})" if code in CLOSE_MEANINGS else ""
    return ConnectionClosed(
        f"The server closed the connection with code {code}{meaning} before it "
        "acknowledged connection_init (graphql-transport-ws).",
        retryable=False if code in _LASTING_CLOSE_CODES else None,
    )


def _server_messages(payload: Any) -> list[str]:
    """The GraphQL error messages in ``payload``, scrubbed and shortened."""
    errors = payload if isinstance(payload, list) else [payload]
    texts = (
        error["message"]
        for error in errors
        if isinstance(error, dict) and isinstance(error.get("message"), str)
    )
    # Only those shown are scrubbed: a server may send thousands.
    return [
        shorten(scrubber.scrub_text(text)).rstrip(".")
        for text in itertools.islice(texts, _SHOWN_ERRORS)
    ]


def _error_message(payload: Any) -> str:
    """The server's GraphQL error messages, scrubbed and shortened, in one sentence."""
    texts = _server_messages(payload)
    if not texts:
        return "The GraphQL operation failed; the server gave no error message."
    return f"The GraphQL operation failed: {'; '.join(texts)}."


def _refusal(payload: Any) -> str:
    """An ``error`` in answer to ``connection_init``, in one sentence."""
    texts = _server_messages(payload)
    said = f": {'; '.join(texts)}" if texts else ""
    return (
        f"The server refused connection_init with an error message{said} "
        "(graphql-transport-ws): check the token and GRAPHQL_CONNECTION_PARAMS."
    )


def _long_strings(value: Any) -> list[str]:
    """Every string in ``value`` long enough to be scrubbed inside other text."""
    if isinstance(value, str):
        return [value] if len(value) >= SHORTEST_ANYWHERE else []
    if isinstance(value, dict):
        return [text for item in value.values() for text in _long_strings(item)]
    if isinstance(value, list):
        return [text for item in value for text in _long_strings(item)]
    return []


def from_environ(environ: Mapping[str, str], *, uri: str) -> GraphQLTransportWS:
    """The preset, its connection parameters checked against the credential mode.

    Raises:
        ConfigError: ``GRAPHQL_CONNECTION_PARAMS`` not JSON, or naming ``{token}``
            where the mode has no token; ``AUTH_MODE=message`` (a second
            authentication message the protocol has no room for).
    """
    mode = mode_name(environ)
    if mode == "message":
        raise ConfigError(
            "AUTH_MODE message contradicts PROTOCOL graphql-transport-ws: the token goes in "
            "connection_init's payload (GRAPHQL_CONNECTION_PARAMS), with AUTH_MODE bearer "
            "or another mode that reads a token."
        )
    raw = setting(environ, "GRAPHQL_CONNECTION_PARAMS")
    if raw is None:
        return GraphQLTransportWS(DEFAULT_PARAMS if mode in TOKEN_MODES else None)
    try:
        params = json.loads(raw)
    except ValueError:
        raise ConfigError("GRAPHQL_CONNECTION_PARAMS must be JSON (an object).") from None
    if mode not in TOKEN_MODES and TOKEN in json.dumps(params):
        raise ConfigError(
            f"GRAPHQL_CONNECTION_PARAMS names {TOKEN}, but AUTH_MODE {mode} has no token "
            "to put there."
        )
    return GraphQLTransportWS(params)
