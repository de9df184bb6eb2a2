"""One opening handshake: websockets' ``connect``, its redirect policy and its failures
in the product's words. I/O at the edge.

The credential travels in ``additional_headers=`` (websockets >= 14; the legacy
``extra_headers=`` raises TypeError). Every failure websockets, asyncio or ssl
can raise while opening is mapped here to one typed error whose message names
the host and port and the likely cause, never a library's text (which may quote
request headers).
"""

from __future__ import annotations

import errno
import logging
import socket
import ssl
import urllib.parse

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import (
    InvalidHandshake,
    InvalidMessage,
    InvalidStatus,
    InvalidURI,
    SecurityError,
)
from websockets.uri import parse_uri

from .config import Config
from .credentials import Handshake
from .deadline import Deadline
from .errors import AuthRejected, ConnectFailed, ConnectTimeout, ExchangeError, HandshakeFailed

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


async def attempt(
    config: Config, handshake: Handshake, context: ssl.SSLContext | None, deadline: Deadline
) -> ClientConnection:
    """Open one connection (DNS, TCP, TLS, the handshake and its redirects)."""
    timeout = deadline.cap(config.open_timeout)
    if timeout <= 0:
        raise ConnectTimeout("No time was left before the Lambda deadline to open the connection.")
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
    )
    try:
        return await opening
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
