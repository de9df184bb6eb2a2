"""The exchange coroutine: connect, send, receive, close. I/O at the edge.

:func:`exchange` opens one WebSocket to the configured endpoint with the token
in the ``Authorization`` header of the opening handshake (websockets >= 14
takes ``additional_headers=``; the legacy ``extra_headers=`` raises TypeError),
retries what can succeed on retry, sends each message and waits for its
replies. Progress is recorded in a :class:`Progress` as it happens, so a
failure keeps whatever arrived before it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from dataclasses import dataclass, field
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    ConnectionClosed as WebSocketClosed,
)
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    SecurityError,
)
from websockets.frames import CloseCode

from . import framing
from .config import Config
from .deadline import Deadline, backoff_delay
from .errors import (
    AuthRejected,
    ConnectFailed,
    ConnectionClosed,
    ConnectTimeout,
    ExchangeError,
    HandshakeFailed,
    MessageTooLarge,
    ReplyTimeout,
)
from .redaction import WEBSOCKETS_LOGGER, token_filter
from .secret import Token, TokenSource
from .triggers import Request

CLOSE_TIMEOUT_SECONDS = 2.0
USER_AGENT = "websocket-exchange-lambda"

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Progress:
    """What has happened so far; read by the result even after a failure."""

    sent: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    attempts: int = 0
    secret_ms: float = 0.0
    connect_ms: float = 0.0
    exchange_ms: float = 0.0


async def exchange(
    config: Config,
    request: Request,
    tokens: TokenSource,
    deadline: Deadline,
    progress: Progress,
) -> asyncio.Future[None]:
    """Run one exchange, recording into ``progress``; raise :class:`ExchangeError`.

    On success the close handshake is returned under way (the close frame is
    already sent): the caller builds and logs the result while the server
    answers, then awaits it. That wait is most of a short exchange's close,
    and the bookkeeping would otherwise be added to it. After a failure the
    connection is closed before the error is raised.
    """
    messages = request.messages if request.messages is not None else (config.default_message,)
    replies = (
        config.expected_replies if request.expected_replies is None else request.expected_replies
    )
    reply_timeout = request.reply_timeout or config.reply_timeout

    started = time.perf_counter()
    try:
        connection = await _open(config, tokens, deadline, progress)
    finally:
        progress.connect_ms = _ms_since(started) - progress.secret_ms
    started = time.perf_counter()
    try:
        await _converse(connection, messages, replies, reply_timeout, config, deadline, progress)
    except BaseException:
        progress.exchange_ms = _ms_since(started)
        await _close(connection, deadline)
        raise
    progress.exchange_ms = _ms_since(started)
    closing = asyncio.ensure_future(_close(connection, deadline))
    # One turn of the loop runs the close task up to its first wait, after
    # the close frame is written.
    await asyncio.sleep(0)
    return closing


async def _open(
    config: Config, tokens: TokenSource, deadline: Deadline, progress: Progress
) -> ClientConnection:
    token = _fetch(tokens, config, progress, refresh=False)
    rotated = token.fresh
    failures = 0
    while True:
        progress.attempts += 1
        try:
            return await _connect(config, token.value, deadline)
        except AuthRejected:
            if rotated:
                raise
            # A cached token may have been rotated since: fetch it again and
            # try once more, outside the MAX_ATTEMPTS budget.
            log.warning("token rejected; fetching the secret again")
            token = _fetch(tokens, config, progress, refresh=True)
            rotated = True
        except (ConnectFailed, ConnectTimeout, HandshakeFailed) as error:
            failures += 1
            if not error.retryable or failures >= config.max_attempts:
                raise
            delay = backoff_delay(failures)
            if delay >= deadline.remaining():
                raise
            log.warning(
                "connection attempt failed; retrying",
                extra={"error_type": error.type, "attempt": progress.attempts, "delay_s": delay},
            )
            await asyncio.sleep(delay)


def _fetch(tokens: TokenSource, config: Config, progress: Progress, *, refresh: bool) -> Token:
    started = time.perf_counter()
    try:
        token = tokens.get(config, refresh=refresh)
    finally:
        progress.secret_ms += _ms_since(started)
    token_filter.remember(token.value)
    return token


@functools.cache
def _tls_context() -> ssl.SSLContext:
    """The default, verifying TLS context, built once: loading the CA store
    costs milliseconds that every warm invocation would otherwise pay."""
    return ssl.create_default_context()


async def _connect(config: Config, token: str, deadline: Deadline) -> ClientConnection:
    timeout = deadline.cap(config.open_timeout)
    if timeout <= 0:
        raise ConnectTimeout("No time was left before the Lambda deadline to open the connection.")
    try:
        return await connect(
            config.websocket_uri,
            additional_headers=(("Authorization", f"{config.auth_scheme} {token}"),),
            user_agent_header=USER_AGENT,
            open_timeout=timeout,
            close_timeout=CLOSE_TIMEOUT_SECONDS,
            # Short exchanges: keepalive pings and compression cost more than
            # they give, and a proxy from the environment must not see the token.
            ping_interval=None,
            compression=None,
            proxy=None,
            max_size=config.max_message_bytes,
            logger=WEBSOCKETS_LOGGER,
            ssl=_tls_context() if config.websocket_uri.startswith("wss:") else None,
        )
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise AuthRejected(f"The server rejected the token with HTTP {status}.") from None
        raise HandshakeFailed(
            f"The server answered the opening handshake with HTTP {status}.",
            retryable=status >= 500,
        ) from None
    except TimeoutError:
        raise ConnectTimeout(f"Opening the connection took longer than {timeout:g} s.") from None
    except ssl.SSLCertVerificationError as exc:
        raise HandshakeFailed(
            f"The server's TLS certificate was refused: {exc.verify_message}."
        ) from None
    except ssl.SSLError:
        raise HandshakeFailed("The TLS handshake with the server failed.") from None
    except SecurityError:
        raise HandshakeFailed("The server redirected to an endpoint that is not allowed.") from None
    except InvalidMessage:
        raise ConnectFailed(
            "The server closed the connection during the opening handshake."
        ) from None
    except InvalidHandshake:
        raise HandshakeFailed("The server's handshake response was not valid.") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectFailed(f"Could not connect to the endpoint: {reason}.") from None


async def _converse(
    connection: ClientConnection,
    messages: tuple[Any, ...],
    replies: int,
    reply_timeout: float,
    config: Config,
    deadline: Deadline,
    progress: Progress,
) -> None:
    # The hot loop of a batch: one timeout context for the whole conversation,
    # re-armed before each reply (a context per recv costs a Timeout object, a
    # task lookup and a timer handle each time), and every attribute lookup
    # hoisted out of the loop.
    loop = asyncio.get_running_loop()
    send, recv = connection.send, connection.recv
    stamp, encode, decode = framing.stamp, framing.encode, framing.decode
    sent, received = progress.sent, progress.received
    end = deadline.at
    waited: float | None = None  # the reply timeout last armed
    try:
        # Armed at the deadline from the start, so that a send stuck on a
        # server that stopped reading cannot outlive the invocation either;
        # after a reply, the next send runs under that reply's timer.
        async with asyncio.timeout_at(end) as limit:
            for message in messages:
                stamped = stamp(message)
                await send(encode(stamped))
                sent.append(stamped)
                for _ in range(replies):
                    now = loop.time()
                    waited = min(reply_timeout, end - now)
                    if waited <= 0:
                        raise ReplyTimeout(
                            "No time was left before the Lambda deadline to wait for a reply."
                        )
                    limit.reschedule(now + waited)
                    received.append(decode(await recv()))
    except TimeoutError:
        if waited is None:
            raise ReplyTimeout(
                "The Lambda deadline came while sending; no reply was awaited yet."
            ) from None
        raise ReplyTimeout(f"No reply arrived within {waited:g} s.") from None
    except WebSocketClosed as exc:
        raise _closed_error(exc, config) from None


def _closed_error(exc: WebSocketClosed, config: Config) -> ExchangeError:
    if exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG:
        return MessageTooLarge(
            f"The server sent a message larger than MAX_MESSAGE_BYTES ({config.max_message_bytes})."
        )
    if exc.rcvd is None:
        return ConnectionClosed("The connection was lost before the exchange was complete.")
    return ConnectionClosed(
        f"The server closed the connection with code {exc.rcvd.code} "
        "before the exchange was complete."
    )


async def _close(connection: ClientConnection, deadline: Deadline) -> None:
    timeout = deadline.cap(CLOSE_TIMEOUT_SECONDS)
    try:
        async with asyncio.timeout(max(timeout, 0.001)):
            await connection.close()
    except (TimeoutError, OSError, WebSocketClosed):
        # The replies are in hand; a close handshake that fails changes nothing
        # the caller can act on.
        connection.transport.abort()


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
