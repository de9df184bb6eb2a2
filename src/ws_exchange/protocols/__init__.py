"""Protocol presets (``PROTOCOL``): the protocol an application speaks over WebSocket.

A preset owns the connection's lifecycle so that the caller's messages and
checks deal only with the application's data: what the opening handshake
offers (:meth:`Preset.connect_parameters`), the protocol's own opening after
the WebSocket one (:meth:`Preset.open`: ``connection_init`` and its ack, a
Socket.IO CONNECT), how a caller's message goes on the wire
(:meth:`Preset.send`), what each incoming frame means (:meth:`Preset.incoming`:
a reply, a keep-alive to answer or ignore, an acknowledgement, a failure) and
how the protocol ends (:meth:`Preset.close`).

``raw`` (the default) is the identity: messages go as they are framed, every
frame is a reply, and the conversation reads the connection itself
(:class:`~.link.RawLink`). Every other preset runs behind a
:class:`~.link.PresetLink`, whose reader answers the protocol's keep-alives for
as long as the exchange lasts, whatever the steps are doing.

Each preset is one module, imported only when configured: a ``raw`` deployment
imports none of them.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..credentials import setting
from ..errors import ConfigError

if TYPE_CHECKING:
    from ..credentials import CredentialMode, Handshake, Prepared
    from ..deadline import Deadline
    from .link import PresetLink

# PROTOCOL value -> module under ws_exchange.protocols.
PRESETS: dict[str, str] = {
    "raw": "raw",
    "graphql-transport-ws": "graphql_transport_ws",
    "appsync-events": "appsync_events",
    "socketio": "socketio",
}

# Each preset's own variables: set under another PROTOCOL, a contradiction.
PRESET_VARIABLES: dict[str, str] = {
    "GRAPHQL_CONNECTION_PARAMS": "graphql-transport-ws",
    "APPSYNC_AUTH": "appsync-events",
    "APPSYNC_HTTP_HOST": "appsync-events",
    "SOCKETIO_AUTH": "socketio",
}


class Preset(Protocol):
    """One ``PROTOCOL``: built by its module's ``from_environ``."""

    name: ClassVar[str]
    # Whether the protocol's operations end (GraphQL's ``complete``), so that a
    # receive step may wait for that instead of a count or a condition.
    completes: ClassVar[bool]

    def credential_mode(self) -> CredentialMode | None:
        """The preset's own way of carrying credentials, replacing ``AUTH_MODE``'s
        (AppSync's authorization subprotocol); None: ``AUTH_MODE`` as configured."""
        ...

    def connect_parameters(self, handshake: Handshake) -> Handshake:
        """The configured handshake as the protocol needs it (subprotocols, query)."""
        ...

    def check(self, message: Any) -> None:
        """Refuse a message this protocol cannot send, before any I/O.

        Raises:
            ValueError: with a sentence fragment saying why.
        """
        ...

    async def open(
        self, link: PresetLink, prepared: Prepared, deadline: Deadline, timeout: float
    ) -> None:
        """The protocol's opening, once the WebSocket is open; ``AuthRejected`` if refused."""
        ...

    async def send(self, link: PresetLink, message: Any, timeout: float) -> Any:
        """Send a caller's message as the protocol frames it (awaiting its
        acknowledgement where the protocol has one); return it as ``sent`` shows it."""
        ...

    def incoming(self, link: PresetLink, frame: str | bytes) -> None:
        """Say what one incoming frame means, through ``link``'s methods."""
        ...

    async def close(self, link: PresetLink) -> None:
        """End the protocol before the WebSocket close (complete, disconnect)."""
        ...


def preset_name(environ: Mapping[str, str]) -> str:
    """The configured ``PROTOCOL``; :class:`ConfigError` if unknown."""
    name = setting(environ, "PROTOCOL") or "raw"
    if name not in PRESETS:
        raise ConfigError(f"PROTOCOL must be one of: {', '.join(PRESETS)}.")
    return name


def load_preset(environ: Mapping[str, str], *, uri: str) -> Preset | None:
    """The configured preset, its module imported now; None for ``raw``.

    Raises:
        ConfigError: ``PROTOCOL`` unknown, another preset's variable set, or the
            preset's own settings invalid or contradicting ``AUTH_MODE``.
    """
    name = preset_name(environ)
    for variable, owner in PRESET_VARIABLES.items():
        if owner != name and setting(environ, variable) is not None:
            raise ConfigError(
                f"{variable} is set but PROTOCOL is {name}; it applies only to "
                f"PROTOCOL {owner}: remove it or change PROTOCOL."
            )
    if name == "raw":
        return None
    module: Any = importlib.import_module(f"{__name__}.{PRESETS[name]}")
    preset: Preset = module.from_environ(environ, uri=uri)
    return preset


def closed_by_server(error: BaseException) -> int | None:
    """The close code a server ended the connection with, if ``error`` is that close."""
    from websockets.exceptions import ConnectionClosed

    if isinstance(error, ConnectionClosed) and error.rcvd is not None:
        return error.rcvd.code
    return None
