"""One opening handshake: websockets' ``connect``, its redirect policy and its failures
in the product's words. I/O at the edge.

The credential travels in ``additional_headers=`` (websockets >= 14; the legacy
``extra_headers=`` raises TypeError). Every failure websockets, asyncio or ssl
can raise while opening is mapped here to one typed error whose message names
the host and port and the likely cause, never a library's text (which may quote
request headers).
"""

from __future__ import annotations

import asyncio
import errno
import functools
import logging
import socket
import ssl
import urllib.parse
from typing import Any

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    SecurityError,
)
from websockets.uri import parse_uri

from . import connection_facts
from .config import Config
from .credentials import Handshake
from .deadline import Deadline
from .errors import AuthRejected, ConnectFailed, ConnectTimeout, ExchangeError, HandshakeFailed
from .event_loop import EventLoop
from .phases import PhaseWatch
from .plan import Progress

CLOSE_TIMEOUT_SECONDS = 2.0
USER_AGENT = "websocket-exchange-lambda"
WEBSOCKETS_LOGGER = logging.getLogger("websockets.client")


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


class _TimedConnection(ClientConnection):
    """websockets' connection, marking the end of TLS and the HTTP upgrade's span."""

    def __init__(self, watch: PhaseWatch, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.watch = watch

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # Called once the transport is ready: after the TLS handshake, if any.
        if transport.get_extra_info("ssl_object") is not None:
            self.watch.span("tls", since="tcp")
        super().connection_made(transport)

    async def handshake(self, *args: Any, **kwargs: Any) -> None:
        self.watch.started.pop("handshake", None)  # a redirect's second request
        self.watch.start("handshake")
        await super().handshake(*args, **kwargs)
        self.watch.end("handshake")


async def attempt(
    config: Config,
    handshake: Handshake,
    context: ssl.SSLContext | None,
    deadline: Deadline,
    progress: Progress,
) -> ClientConnection:
    """Open one connection (DNS, TCP, TLS, the handshake and its redirects).

    Records what the server answered in ``progress.connection`` (a refused
    handshake's status and headers too) and, on success, the attempt's phases.
    """
    timeout = deadline.cap(config.open_timeout)
    if timeout <= 0:
        raise ConnectTimeout("No time was left before the Lambda deadline to open the connection.")
    watch = PhaseWatch()
    loop = asyncio.get_running_loop()
    if isinstance(loop, EventLoop):
        loop.watch = watch
    opening = _Connect(
        handshake.uri,
        additional_headers=handshake.headers,
        subprotocols=list(handshake.subprotocols) or None,  # type: ignore[arg-type]
        user_agent_header=USER_AGENT,
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
        # websockets documents "a wrapper or a subclass"; its annotation says class.
        create_connection=functools.partial(_TimedConnection, watch),  # type: ignore[arg-type]
    )
    try:
        connection = await opening
    except ExchangeError:
        raise
    except InvalidStatus as exc:
        status = exc.response.status_code
        progress.connection.update(
            connection_facts.handshake_facts(status, exc.response.headers.raw_items())
        )
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
        if opening.redirects:
            raise HandshakeFailed(
                f"The server redirected the opening handshake {opening.redirects} times "
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
        raise _unreachable(handshake.uri, exc) from None
    finally:
        if isinstance(loop, EventLoop):
            loop.watch = None
    response = connection.response
    assert response is not None  # the handshake succeeded
    progress.connection.update(
        connection_facts.handshake_facts(response.status_code, response.headers.raw_items())
    )
    progress.connection["tls"] = connection_facts.tls_facts(
        connection.transport.get_extra_info("ssl_object")
    )
    progress.phases.update(watch.durations_ms())
    return connection


def _unreachable(uri: str, exc: OSError) -> ConnectFailed:
    """Why no TCP connection could be made, in the deployer's terms."""
    where = parse_uri(uri)
    place = f"{where.host} port {where.port}"
    if isinstance(exc, socket.gaierror):
        return ConnectFailed(
            f"The host name {where.host} could not be resolved: check WEBSOCKET_URI, and "
            "that the function can reach a DNS server (a VPC needs a resolver)."
        )
    if exc.errno == errno.ECONNREFUSED:
        return ConnectFailed(
            f"Nothing accepted the connection at {place}: check that the server is running "
            "and listening on that port."
        )
    if exc.errno in (errno.ENETUNREACH, errno.EHOSTUNREACH):
        return ConnectFailed(
            f"{place} cannot be reached from the function: check its VPC's routes, "
            "NAT gateway and security groups."
        )
    if exc.errno in (errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED):
        return ConnectFailed(f"The connection to {place} was reset while it was being opened.")
    return ConnectFailed(
        f"Could not connect to {place}: the network refused or dropped every attempt."
    )
