"""Closing the connection, and what a close by the server means. I/O at the edge."""

from __future__ import annotations

import asyncio
import contextlib
import time

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.frames import CloseCode
from websockets.protocol import State

from . import connection_facts
from .config import Config
from .deadline import Deadline
from .errors import ConnectionClosed, ExchangeError, MessageTooLarge
from .handshake import CLOSE_TIMEOUT_SECONDS
from .plan import Progress

# How a server ends a conversation on purpose: going away or done.
NORMAL_CLOSE_CODES = frozenset({CloseCode.NORMAL_CLOSURE, CloseCode.GOING_AWAY})


async def close(
    connection: ClientConnection,
    deadline: Deadline,
    progress: Progress,
    *,
    draining: bool = False,
) -> None:
    """Close the connection (the close handshake, capped by the deadline), and
    record how it ended and how long closing took.

    ``draining``: replies may still be arriving; read and drop them meanwhile
    (:func:`_close_draining`), as is always done when they have filled the queue.
    """
    started = time.perf_counter()
    # A connection the server already closed (or dropped) was not ended by us.
    ours = connection.protocol.state is State.OPEN
    try:
        await _close(connection, deadline, draining=draining)
    finally:
        if ours:
            progress.phases["close"] = (time.perf_counter() - started) * 1000.0
        progress.connection["close"] = connection_facts.close_facts(
            connection.close_code, connection.close_reason or "", _initiator(connection, ours)
        )


def _initiator(connection: ClientConnection, ours: bool) -> str:
    """Who began the close: whoever sent the first close frame, else who dropped it."""
    protocol = connection.protocol
    if protocol.close_rcvd is not None and (
        protocol.close_sent is None or protocol.close_rcvd_then_sent
    ):
        return "server"
    if protocol.close_sent is not None:
        return "client"
    return "client" if ours else "server"


async def _close(connection: ClientConnection, deadline: Deadline, *, draining: bool) -> None:
    timeout = deadline.cap(CLOSE_TIMEOUT_SECONDS)
    try:
        if timeout <= 0:
            raise TimeoutError
        async with asyncio.timeout(timeout):
            if draining or not connection.transport.is_reading():
                await _close_draining(connection)
            else:
                await connection.close()
    except (TimeoutError, OSError, WebSocketClosed):
        # The replies are in hand; a close handshake that fails changes nothing
        # the caller can act on.
        connection.transport.abort()


async def _close_draining(connection: ClientConnection) -> None:
    """Close, reading and dropping the replies that still arrive.

    Replies a streaming server sent after the last one kept fill the receive
    queue, which pauses reading: the server's close frame behind them would
    never be read, and the close would last its whole timeout (2 s, measured
    against a stream). Not on every close: draining costs a warm exchange about
    0.1 ms, a fifth of what the warm target of `make bench` allows over the raw
    library.
    """
    closing = asyncio.ensure_future(connection.close())
    with contextlib.suppress(WebSocketClosed):
        async for _ in connection:
            pass
    await closing


def closed_normally(exc: WebSocketClosed) -> bool:
    """Whether the server ended the connection on purpose (1000 or 1001)."""
    return exc.rcvd is not None and exc.rcvd.code in NORMAL_CLOSE_CODES


def closed_error(exc: WebSocketClosed, config: Config) -> ExchangeError:
    """The typed error for a connection that closed before the exchange was complete."""
    # websockets closes with 1009 itself on an oversized message; a server's own
    # 1009, echoed back, is the server's close.
    if (
        exc.sent is not None
        and exc.sent.code == CloseCode.MESSAGE_TOO_BIG
        and not exc.rcvd_then_sent
    ):
        return MessageTooLarge(
            f"The server sent a message larger than MAX_MESSAGE_BYTES ({config.max_message_bytes})."
        )
    if exc.rcvd is None:
        return ConnectionClosed("The connection was lost before the exchange was complete.")
    return ConnectionClosed(
        f"The server closed the connection with code {exc.rcvd.code} "
        "before the exchange was complete."
    )
