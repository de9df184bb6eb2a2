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

The connection parameters hold the token: they are never logged or shown; the
token is scrubbed wherever a server echoes it.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from ..checks import shorten
from ..credentials import Handshake, mode_name, setting
from ..credentials.message import replace_token
from ..errors import AuthRejected, ConfigError, ExpectationFailed
from ..framing import dumps, loads
from ..redaction import scrubber
from . import closed_by_server

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
_OPERATION_KEYS = frozenset({"query", "variables", "operationName", "extensions"})
_SHOWN_ERRORS = 3


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
        acknowledged = link.expect("connection_ack")
        limit = deadline.cap(timeout)
        try:
            await link.send_frame(dumps(init))
            async with asyncio.timeout(limit):
                await acknowledged
        except TimeoutError:
            raise AuthRejected(
                f"The server did not acknowledge connection_init within {limit:.3g} s "
                "(graphql-transport-ws)."
            ) from None
        except Exception as exc:
            code = closed_by_server(exc)
            if code in REFUSING_CLOSE_CODES:
                raise AuthRejected(
                    f"The server refused the connection parameters with close code {code} "
                    "(graphql-transport-ws)."
                ) from None
            raise

    async def send(self, link: PresetLink, message: Any, timeout: float) -> Any:
        operations: _Operations = link.state
        operation_id = str(next(operations.ids))
        sent = {"id": operation_id, "type": "subscribe", "payload": message["subscribe"]}
        operations.open.add(operation_id)
        await link.send_frame(dumps(sent))
        return sent

    def incoming(self, link: PresetLink, frame: str | bytes) -> None:
        message = _decode(frame) or {}
        kind = message.get("type")
        if kind == "next":
            link.reply(message.get("payload"))
        elif kind == "complete":
            link.state.open.discard(str(message.get("id")))
            link.complete()
        elif kind == "ping":
            link.answer(dumps({"type": "pong"}))
        elif kind == "connection_ack":
            link.resolve("connection_ack")
        elif kind == "error":
            failure = ExpectationFailed(_error_message(message.get("payload")))
            if not link.reject("connection_ack", AuthRejected(failure.message)):
                link.fail(failure)
        elif kind != "pong":
            link.fail(
                ExpectationFailed(
                    "The server sent a frame that is not a graphql-transport-ws message."
                )
            )

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


def _decode(frame: str | bytes) -> dict[str, Any] | None:
    if isinstance(frame, bytes):
        return None
    try:
        message = loads(frame)
    except ValueError:
        return None
    return message if isinstance(message, dict) else None


def _error_message(payload: Any) -> str:
    """The server's GraphQL error messages, scrubbed and shortened, in one sentence."""
    errors = payload if isinstance(payload, list) else [payload]
    texts = [
        shorten(scrubber.scrub_text(error["message"]))
        for error in errors
        if isinstance(error, dict) and isinstance(error.get("message"), str)
    ]
    if not texts:
        return "The GraphQL operation failed; the server gave no error message."
    shown = "; ".join(texts[:_SHOWN_ERRORS])
    return f"The GraphQL operation failed: {shown.rstrip('.')}."


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
