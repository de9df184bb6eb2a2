"""A GraphQL server speaking graphql-transport-ws on 127.0.0.1: Strawberry's ASGI
app under uvicorn (I/O at the edge).

The socket is served at ``/graphql`` (any path works; Strawberry does not look
at it). ``connection_init`` must carry ``{"Authorization": "Bearer <token>"}``
(compared in constant time); any other payload closes the socket with 4403
Forbidden, as the protocol recommends. The schema:

============================  ======================================================
operation                     what the server does
============================  ======================================================
``{ hello }``                 ``next`` ``{"data": {"hello": "Hello, world!"}}``,
                              then ``complete`` (``hello(name: "x")`` greets x)
``subscription { prices }``   ``count`` (default :data:`DEFAULT_PRICE_COUNT`,
                              0..:data:`MAX_PRICE_COUNT`) ``next`` messages with a
                              ``{seq, symbol, price}``, then ``complete``
``subscription { failing }``  one ``next`` with ``errors`` (the stream raised
                              :data:`FAILING_MESSAGE`), then ``complete``
``subscription { unknown }``  an ``error`` message (validation: no such field),
                              no ``complete``
============================  ======================================================

Strawberry answers the client's ``ping`` with ``pong`` on its own. Its
graphql-transport-ws handler never pings first, so with ``ping_interval`` set
this server also sends a protocol ``ping`` every that many seconds after the
ack, and counts the ``pong`` replies in :attr:`GraphQLServer.pongs`: what a
client that must answer a server's pings is tested against.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
from collections.abc import AsyncGenerator
from typing import Any

import strawberry
from graphql import GraphQLError
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.subscriptions import GRAPHQL_TRANSPORT_WS_PROTOCOL
from strawberry.subscriptions.protocols.graphql_transport_ws.handlers import (
    BaseGraphQLTransportWSHandler,
)
from strawberry.subscriptions.protocols.graphql_transport_ws.types import PongMessage
from strawberry.types import ExecutionContext
from strawberry.types.unset import UNSET, UnsetType

from local_stack.servers.asgi import AsgiServer

SUBPROTOCOL = GRAPHQL_TRANSPORT_WS_PROTOCOL
PATH = "/graphql"
DEFAULT_PRICE_COUNT = 3
MAX_PRICE_COUNT = 1000
FAILING_MESSAGE = "the price feed failed"
SYMBOLS = ("BTC-USD", "ETH-USD", "SOL-USD")


@strawberry.type
class Price:
    seq: int
    symbol: str
    price: float


def price(seq: int) -> Price:
    """The ``seq``-th price the ``prices`` subscription yields (1-based)."""
    return Price(seq=seq, symbol=SYMBOLS[(seq - 1) % len(SYMBOLS)], price=100.0 + seq / 4)


@strawberry.type
class Query:
    @strawberry.field
    def hello(self, name: str = "world") -> str:
        return f"Hello, {name}!"


@strawberry.type
class Subscription:
    @strawberry.subscription
    async def prices(self, count: int = DEFAULT_PRICE_COUNT) -> AsyncGenerator[Price]:
        if not 0 <= count <= MAX_PRICE_COUNT:
            raise ValueError(f"count must be 0..{MAX_PRICE_COUNT}")
        for seq in range(1, count + 1):
            yield price(seq)
            # Lets a client's complete or close arrive between two prices.
            await asyncio.sleep(0)

    @strawberry.subscription
    async def failing(self) -> AsyncGenerator[Price]:
        raise RuntimeError(FAILING_MESSAGE)
        yield  # an async generator, as a subscription resolver must be


class _QuietSchema(strawberry.Schema):
    # Strawberry logs every resolver error with its traceback; here the errors
    # are the point, and the client sees each one in its ``next`` or ``error``.
    def process_errors(
        self, errors: list[GraphQLError], execution_context: ExecutionContext | None = None
    ) -> None:
        return None


SCHEMA = _QuietSchema(query=Query, subscription=Subscription)


class _PingingHandler(BaseGraphQLTransportWSHandler[Any, Any]):
    """Strawberry's graphql-transport-ws handler, plus server-initiated pings."""

    view: _GraphQLApp

    async def handle(self) -> None:
        pinging = asyncio.create_task(self._ping_periodically())
        try:
            await super().handle()
        finally:
            pinging.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pinging

    async def _ping_periodically(self) -> None:
        interval = self.view.counterpart.ping_interval
        if interval is None:
            return
        while True:
            await asyncio.sleep(interval)
            if self.connection_acknowledged:
                # The socket may close between the check and the send.
                with contextlib.suppress(Exception):
                    await self.send_message({"type": "ping"})

    async def handle_pong(self, message: PongMessage) -> None:
        self.view.counterpart.pongs += 1


class _GraphQLApp(GraphQL[Any, Any]):
    """Strawberry's ASGI view with the counterpart's authentication."""

    graphql_transport_ws_handler_class = _PingingHandler

    def __init__(self, counterpart: GraphQLServer) -> None:
        super().__init__(SCHEMA, graphql_ide=None, subscription_protocols=(SUBPROTOCOL,))
        self.counterpart = counterpart

    async def on_ws_connect(self, context: Any) -> UnsetType | dict[str, object] | None:
        params = context.get("connection_params")
        presented = params.get("Authorization") if isinstance(params, dict) else None
        expected = f"Bearer {self.counterpart.token}".encode()
        if not (isinstance(presented, str) and hmac.compare_digest(presented.encode(), expected)):
            raise ConnectionRejectionError({"message": "unauthorized"})
        # UNSET: a bare ``{"type": "connection_ack"}``, as the protocol shows it.
        bare: UnsetType = UNSET
        return bare


class GraphQLServer(AsgiServer):
    """The GraphQL server, on a free port of 127.0.0.1 (or on ``port``) from :meth:`start`
    until :meth:`stop`.

    ``ping_interval`` (seconds, ``None``: never) makes it ping each
    acknowledged client; :attr:`pongs` counts the answers.
    """

    def __init__(self, token: str, *, ping_interval: float | None = None, port: int = 0) -> None:
        self.token = token
        self.ping_interval = ping_interval
        self.pongs = 0
        super().__init__(_GraphQLApp(self), "local-graphql-server", port=port)

    @property
    def endpoint(self) -> str:
        """The WebSocket URI of the GraphQL endpoint."""
        return self.uri + PATH

    def __enter__(self) -> GraphQLServer:
        self.start()
        return self
