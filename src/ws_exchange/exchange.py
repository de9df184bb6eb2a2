"""The exchange coroutine: credentials, connect, converse, close. I/O at the edge.

:func:`run` reads as the contract's section 1: the credential mode prepares the
opening handshake (a secret read, a token request or a signature), websockets
opens the connection with the credential in ``additional_headers=`` (websockets
>= 14; the legacy ``extra_headers=`` raises TypeError), each message is sent and
its replies collected, and the connection is closed, on success and failure
alike. Every wait is capped by the :class:`~ws_exchange.deadline.Deadline`.
Progress is recorded in a :class:`Progress` as it happens, so that a failure
keeps whatever arrived before it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import socket
import ssl
import threading
import time
import urllib.parse
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    SecurityError,
)
from websockets.frames import CloseCode
from websockets.uri import parse_uri

from . import checks, framing, tls
from .checks import Checks
from .config import Config
from .credentials import Handshake, Prepared, SecretValue
from .deadline import Deadline, backoff_delay
from .errors import (
    AuthRejected,
    ConnectFailed,
    ConnectionClosed,
    ConnectTimeout,
    ExchangeError,
    ExpectationFailed,
    HandshakeFailed,
    MessageTooLarge,
    ReplyTimeout,
)
from .framing import Outgoing
from .redaction import scrubber

CLOSE_TIMEOUT_SECONDS = 2.0
_TIE_SECONDS = 0.01
USER_AGENT = "websocket-exchange-lambda"
# Python objects take far more memory than the JSON text they decode from: an
# empty list is 3 bytes of text and 64 bytes of memory, and ordinary replies
# take about 10 times their text. Replies are also charged an estimate of their
# decoded size (64 bytes per value), so that no server can exhaust a 128 MB
# function within MAX_RESULT_BYTES. Measured peaks (tests/integration/test_memory.py):
# 4 MiB of ordinary replies fit; the costliest floods stop below 100 MiB of RSS.
MEMORY_BUDGET_BYTES = 48 * 1024 * 1024
_BYTES_PER_VALUE = 64

# A number with an exponent, which Python writes back longer (1e15).
_EXPONENT = re.compile(r"[0-9][eE]")

log = logging.getLogger(__name__)
WEBSOCKETS_LOGGER = logging.getLogger("websockets.client")


class SecretStore(Protocol):
    """Where secrets are read: Secrets Manager through the SDK or the Lambda extension."""

    def get(
        self, secret_id: str, *, max_age: float, refresh: bool, timeout: float
    ) -> SecretValue: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What one invocation does: the configuration and the request, resolved."""

    config: Config
    messages: tuple[Outgoing, ...]
    # The messages' frames in bytes, as sent (timestamps included).
    sent_bytes: int
    expected_replies: int
    reply_timeout: float
    # until, max_replies, collect_seconds and expect (the request's, else DEFAULT_EXPECT).
    checks: Checks
    # Bytes of replies the result may keep (MAX_RESULT_BYTES, less what the sent
    # messages take of Lambda's response limit).
    result_budget: int


@dataclass(slots=True)
class Progress:
    """What has happened so far; read by the result even after a failure."""

    sent: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    received_bytes: int = 0
    memory_estimate: int = 0
    attempts: int = 0
    subprotocol: str | None = None
    secret_ms: float = 0.0
    connect_ms: float = 0.0
    exchange_ms: float = 0.0


class EventLoop(asyncio.SelectorEventLoop):
    """The event loop an exchange runs on: ``asyncio.Runner(loop_factory=EventLoop)``.

    asyncio resolves host names on the loop's default executor, and closing the
    loop (``asyncio.run`` does it on the way out) joins that executor's threads,
    for up to 300 s: a resolver that hangs would hold the answer past the
    deadline even though the wait for it was cut short. This loop resolves each
    name on a daemon thread of its own, which nothing joins: a hung resolution
    finishes on its own, and never holds up a later one. With no default
    executor, closing the loop also starts no thread to shut one down: that
    thread cost ~0.25 ms of a ~3 ms warm invocation on loopback (``make bench``).
    """

    async def getaddrinfo(
        self,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        answer: asyncio.Future[list[Any]] = self.create_future()

        def resolve() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (
                    socket.getaddrinfo(host, port, family, type, proto, flags),
                    None,
                )
            except Exception as exc:  # handed to the waiting coroutine
                outcome = (None, exc)
            # Once the loop is closed (its invocation is over), nobody is waiting.
            with contextlib.suppress(RuntimeError):
                self.call_soon_threadsafe(_settle, answer, *outcome)

        threading.Thread(target=resolve, name="resolver", daemon=True).start()
        return await answer


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():  # its waiter gave up (a deadline)
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)


async def run(plan: Plan, store: SecretStore, deadline: Deadline, progress: Progress) -> None:
    """Run one exchange, recording into ``progress``; raise :class:`ExchangeError`."""
    connection = await open_connection(plan, store, deadline, progress)
    started = time.perf_counter()
    try:
        await converse(connection, plan, deadline, progress)
    finally:
        progress.exchange_ms = _ms_since(started)
        # Sampling a stream (until, collect_seconds) stops while it still flows.
        streaming = plan.checks.until is not None or plan.checks.collect_seconds is not None
        await close(connection, deadline, draining=streaming)


async def open_connection(
    plan: Plan, store: SecretStore, deadline: Deadline, progress: Progress
) -> ClientConnection:
    """Connect with the credential, retrying what can succeed on retry.

    A 401/403 (or a refused authentication message) on a credential that did not
    come from its source just now obtains it again and tries once more, outside
    the MAX_ATTEMPTS budget: the secret may have been rotated, a token revoked.
    """
    config = plan.config
    # A deployer may have put a key in WEBSOCKET_URI's query string itself.
    scrubber.remember_configured(config.query_values)
    started = time.perf_counter()
    try:
        prepared = _credentials(config, store, deadline, progress, refresh=False)
        context, context_fresh = _tls_context(config, store, deadline, progress, refresh=False)
        failures = 0
        while True:
            progress.attempts += 1
            try:
                connection = await _connect(config, prepared.handshake, context, deadline)
                try:
                    await config.mode.after_open(connection, prepared, deadline, plan.reply_timeout)
                except BaseException:
                    await close(connection, deadline)
                    raise
            except AuthRejected:
                if prepared.fresh and context_fresh:
                    raise
                log.warning("credential rejected; obtaining it again")
                prepared = _credentials(config, store, deadline, progress, refresh=True)
                context, context_fresh = _tls_context(
                    config, store, deadline, progress, refresh=True
                )
                continue
            except (ConnectFailed, ConnectTimeout, HandshakeFailed) as error:
                failures += 1
                if not error.retryable or failures >= config.max_attempts:
                    raise
                delay = backoff_delay(failures)
                if delay >= deadline.remaining():
                    raise
                log.warning(
                    "connection attempt failed; retrying",
                    extra={"error_type": error.type, "attempt": progress.attempts},
                )
                await asyncio.sleep(delay)
                continue
            selected = connection.subprotocol
            # A subprotocol that carries a credential is never shown.
            progress.subprotocol = None if selected in prepared.credentials else selected
            return connection
    finally:
        progress.connect_ms = _ms_since(started) - progress.secret_ms


def _credentials(
    config: Config, store: SecretStore, deadline: Deadline, progress: Progress, *, refresh: bool
) -> Prepared:
    def read_secret(refresh: bool) -> SecretValue:
        assert config.token_secret_id is not None  # the mode needs a secret: config checked
        return store.get(
            config.token_secret_id,
            max_age=config.secret_max_age,
            refresh=refresh,
            timeout=deadline.remaining(),
        )

    started = time.perf_counter()
    try:
        prepared = config.mode.prepare(config.handshake, read_secret, deadline, refresh=refresh)
    finally:
        progress.secret_ms += _ms_since(started)
    scrubber.remember(prepared.credentials)
    return prepared


# The last client-certificate context per secret, rebuilt only when the secret is
# read again: parsing the PEM chain and loading the CA store cost milliseconds.
_client_contexts: dict[str, ssl.SSLContext] = {}


def _tls_context(
    config: Config, store: SecretStore, deadline: Deadline, progress: Progress, *, refresh: bool
) -> tuple[ssl.SSLContext | None, bool]:
    """The TLS context for ``wss://`` (with the client certificate when configured),
    and whether it was built from a secret read just now."""
    if not config.websocket_uri.startswith("wss:"):
        return None, True
    secret_id = config.client_cert_secret_id
    if secret_id is None:
        return tls.default_context(), True
    started = time.perf_counter()
    try:
        secret = store.get(
            secret_id, max_age=config.secret_max_age, refresh=refresh, timeout=deadline.remaining()
        )
        context = _client_contexts.get(secret_id)
        if secret.fresh or context is None:
            context = _client_contexts[secret_id] = tls.client_context(secret.text)
    finally:
        progress.secret_ms += _ms_since(started)
    return context, secret.fresh


class _Connect(connect):
    """websockets' ``connect``, following redirects only within the configured origin.

    websockets drops ``Authorization`` and ``Cookie`` on a cross-origin redirect
    but keeps every other header and the subprotocols, which may carry
    credentials too; credentials go to the configured endpoint only.
    """

    redirects = 0

    def process_redirect(self, exc: Exception) -> Exception | str:
        if not (isinstance(exc, InvalidStatus) and 300 <= exc.response.status_code < 400):
            return exc
        status = exc.response.status_code
        location = exc.response.headers.get("Location")
        if location is None:
            return HandshakeFailed(
                f"The server answered the opening handshake with HTTP {status} and no Location."
            )
        try:
            target = parse_uri(urllib.parse.urljoin(self.uri, location))
        except (InvalidURI, ValueError):
            return HandshakeFailed(
                f"The server redirected the opening handshake (HTTP {status}) to a location "
                "that is not a WebSocket endpoint, such as a login page: check WEBSOCKET_URI."
            )
        here = self.ws_uri
        if (target.secure, target.host, target.port) != (here.secure, here.host, here.port):
            return HandshakeFailed(
                f"The server redirected the opening handshake (HTTP {status}) to another "
                "origin; credentials are only sent to WEBSOCKET_URI's host, so set "
                "WEBSOCKET_URI to the endpoint it redirects to."
            )
        self.redirects += 1
        return super().process_redirect(exc)


async def _connect(
    config: Config, handshake: Handshake, context: ssl.SSLContext | None, deadline: Deadline
) -> ClientConnection:
    timeout = deadline.cap(config.open_timeout)
    if timeout <= 0:
        raise ConnectTimeout("No time was left before the Lambda deadline to open the connection.")
    attempt = _Connect(
        handshake.uri,
        additional_headers=handshake.headers,
        subprotocols=list(handshake.subprotocols) or None,  # type: ignore[arg-type]
        user_agent_header=USER_AGENT,
        # Covers DNS, TCP, TLS, the handshake and its redirects.
        open_timeout=timeout,
        close_timeout=CLOSE_TIMEOUT_SECONDS,
        # Short exchanges: keepalive pings and compression cost more than they
        # give, and a proxy from the environment must not see the credential.
        ping_interval=None,
        compression=None,
        proxy=None,
        max_size=config.max_message_bytes,
        logger=WEBSOCKETS_LOGGER,
        ssl=context,
    )
    try:
        return await attempt
    except ExchangeError:
        raise
    except InvalidStatus as exc:
        status = exc.response.status_code
        if status in (401, 403):
            raise AuthRejected(f"The server rejected the credential with HTTP {status}.") from None
        raise HandshakeFailed(
            f"The server answered the opening handshake with HTTP {status}.",
            retryable=status >= 500,
        ) from None
    except TimeoutError:
        raise ConnectTimeout(f"Opening the connection took longer than {timeout:.3g} s.") from None
    except ssl.SSLCertVerificationError as exc:
        raise HandshakeFailed(
            f"The server's TLS certificate was refused: {exc.verify_message}."
        ) from None
    except ssl.SSLError:
        raise HandshakeFailed("The TLS handshake with the server failed.") from None
    except SecurityError:
        if attempt.redirects:
            raise HandshakeFailed(
                f"The server redirected the opening handshake {attempt.redirects} times "
                "(a redirect loop): check WEBSOCKET_URI."
            ) from None
        raise HandshakeFailed("The server's handshake response exceeded safe limits.") from None
    except InvalidMessage as exc:
        if isinstance(exc.__cause__, EOFError | OSError):
            if config.client_cert_secret_id is not None:
                # With TLS 1.3 a server refuses a client certificate after the
                # client's side of the TLS handshake: it shows as a closed connection.
                raise HandshakeFailed(
                    "The server closed the connection during the handshake; it may have "
                    "refused the client certificate (CLIENT_CERT_SECRET_ID)."
                ) from None
            raise ConnectFailed(
                "The server closed the connection during the opening handshake."
            ) from None
        raise HandshakeFailed(
            "The server's handshake response was not valid HTTP or exceeded safe limits."
        ) from None
    except InvalidHandshake:
        raise HandshakeFailed("The server's handshake response was not valid.") from None
    except UnicodeError:
        raise ConnectFailed("The endpoint's host name cannot be resolved.") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ConnectFailed(f"Could not connect to the endpoint: {reason}.") from None


async def converse(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> None:
    """Send each message and collect its replies (a count, or ``until`` one matches),
    then, with ``collect_seconds``, whatever else arrives in that window."""
    until = plan.checks.until
    try:
        # One bound for the whole conversation, so that a server that stops
        # reading cannot hold a send past the deadline; each reply has its own
        # timeout inside it. (A bound per send cost a 1000-message batch 5 %.)
        # Set just after the deadline, within its safety margin, so that a reply
        # timeout cut short by the deadline fires first and says what it awaited.
        async with asyncio.timeout_at(deadline.at + _TIE_SECONDS):
            for outgoing in plan.messages:
                sent, frame = outgoing.frame(framing.now())
                await connection.send(frame)
                progress.sent.append(sent)
                if until is None:
                    for _ in range(plan.expected_replies):
                        await _receive(connection, plan, deadline, progress)
                    continue
                for _ in range(plan.checks.max_replies):
                    if checks.matches(until, await _receive(connection, plan, deadline, progress)):
                        break
                else:
                    raise ExpectationFailed(
                        checks.until_not_matched_message(plan.checks.max_replies)
                    )
            if plan.checks.collect_seconds is not None:
                await _collect(connection, plan, deadline, progress)
    except TimeoutError:
        raise ReplyTimeout("The Lambda deadline came during the exchange.") from None
    except WebSocketClosed as exc:
        raise _closed_error(exc, plan.config) from None


async def _collect(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> None:
    """Keep what arrives for ``collect_seconds`` (at most ``max_replies``); silence is fine."""
    assert plan.checks.collect_seconds is not None
    window = deadline.cap(plan.checks.collect_seconds)
    try:
        async with asyncio.timeout(window):
            for _ in range(plan.checks.max_replies):
                _keep(await connection.recv(), plan, progress)
    except TimeoutError:
        pass


async def _receive(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> Any:
    """Wait for one reply, keep it in ``progress`` and return it (as kept)."""
    limit = deadline.cap(plan.reply_timeout)
    # Checked before each wait, not only by the timer: replies that are already
    # buffered return without yielding to the event loop, where a timer fires.
    if limit <= 0:
        raise ReplyTimeout("No time was left before the Lambda deadline to wait for a reply.")
    try:
        async with asyncio.timeout(limit):
            frame = await connection.recv()
    except TimeoutError:
        if limit < plan.reply_timeout:
            raise ReplyTimeout(
                f"No reply arrived before the Lambda deadline ({limit:.3g} s)."
            ) from None
        raise ReplyTimeout(f"No reply arrived within {limit:.3g} s.") from None
    return _keep(frame, plan, progress)


def _keep(frame: str | bytes, plan: Plan, progress: Progress) -> Any:
    """Keep a received frame in ``progress``: scrubbed of credentials, within the
    result's size and memory budgets; return the reply as kept."""
    progress.memory_estimate += _memory_estimate(frame)
    if progress.memory_estimate > MEMORY_BUDGET_BYTES:
        raise MessageTooLarge(
            "The replies would need more memory than the function can spare; "
            "ask the server for less, or over several invocations."
        )
    if isinstance(frame, bytes):
        frame = scrubber.scrub_frame(frame)
    decoded = framing.decode(frame)
    reply = scrubber.scrub_reply(frame, decoded)
    size = _kept_size(frame, decoded, reply)
    if progress.received_bytes + size > plan.result_budget:
        raise MessageTooLarge(
            f"The replies exceed the {plan.result_budget} bytes a result may keep "
            "(MAX_RESULT_BYTES, within Lambda's 6 MB response limit)."
        )
    progress.received_bytes += size
    progress.received.append(reply)
    return reply


def _kept_size(frame: str | bytes, decoded: Any, reply: Any) -> int:
    """Bytes ``reply`` takes in the result, as compact JSON.

    JSON text without an exponent never grows when decoded and encoded again
    (escapes and spaces only shrink), so its frame's size is the answer, without
    encoding it again: encoding every reply to count it cost a 1000-message batch
    5 %. Text kept as a string, binary, numbers such as ``1e15`` (written back as
    ``1000000000000000.0``) and scrubbed replies are encoded to be counted.
    """
    if (
        isinstance(frame, str)
        and decoded is not frame
        and reply is decoded
        and not _EXPONENT.search(frame)
    ):
        return len(frame.encode("utf-8"))
    return len(framing.dumps(reply).encode("utf-8"))


def _memory_estimate(frame: str | bytes) -> int:
    if isinstance(frame, bytes):
        return len(frame) * 2
    values = frame.count(",") + frame.count(":") + frame.count("[") + frame.count("{")
    return len(frame) + values * _BYTES_PER_VALUE


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


async def close(
    connection: ClientConnection, deadline: Deadline, *, draining: bool = False
) -> None:
    """Close the connection (the close handshake, capped by the deadline).

    ``draining``: replies may still be arriving; read and drop them meanwhile
    (:func:`_close_draining`), as is always done when they have filled the queue.
    """
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


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
