"""``PROTOCOL=socketio``: Socket.IO v5 over Engine.IO v4, WebSocket transport only.

References: the Socket.IO protocol (revision 5) and the Engine.IO protocol
(revision 4), as published by the socket.io project. Every Engine.IO packet is
one WebSocket frame: a digit for its type, then its data. ``0`` open (the
session's ``sid``, ``pingInterval``, ``pingTimeout``), ``1`` close, ``2`` ping
(the server's; the client answers ``3``), ``3`` pong, ``4`` message (a Socket.IO
packet), ``5`` upgrade and ``6`` noop (polling upgrades only). A Socket.IO
packet is ``<type>[<attachments>-][<namespace>,][<ack id>][<JSON>]``: ``0``
CONNECT, ``1`` DISCONNECT, ``2`` EVENT, ``3`` ACK, ``4`` CONNECT_ERROR, ``5``
BINARY_EVENT, ``6`` BINARY_ACK; the namespace is written only when it is not
``/``.

Where to connect. ``WEBSOCKET_URI`` reads as Socket.IO's JavaScript client
reads a URL: its path is the namespace, and the Engine.IO endpoint is the
default ``/socket.io/`` (``wss://host/chat``: namespace ``/chat``;
``wss://host``: the main namespace ``/``). A server mounted elsewhere is named
by a path that ends in a ``socket.io`` segment, the namespace after it
(``wss://host/api/socket.io/chat``). The namespace never goes in the query,
where it would be taken for a key and redacted. ``EIO=4&transport=websocket``
is added to the query; the ``query`` credential mode adds its parameter after
them and ``sigv4`` signs the URI as finally sent.

The opening, once the WebSocket is open: the open packet, then CONNECT for the
namespace carrying ``SOCKETIO_AUTH`` (a JSON object, ``"{token}"`` replaced by
the credential's token; by default ``{"token": "{token}"}`` where the mode has
a token, no payload otherwise), answered by CONNECT with the namespace's
``sid``, or CONNECT_ERROR: ``auth_rejected`` with the server's message.

A caller's message ``{"emit": ["event", arg...]}`` sends an EVENT (with an ack
id when it also holds ``"ack": true``); ``sent`` shows its data,
``["event", arg...]``, never stamped. Each EVENT the server sends is a reply,
``["event", arg...]``; the ACK for one of ours is a reply too: the list of the
acknowledgement's arguments. An EVENT asking for an acknowledgement gets an
empty one, as a client without a callback for it would answer. Engine.IO pings
are answered for as long as the exchange lasts, whatever the steps do; pings,
pongs, the open packet and noops never reach ``received``. As the Engine.IO
protocol asks of a client, no ping within the open packet's ``pingInterval +
pingTimeout`` means the connection is lost: ``connection_closed`` at the next wait
for a reply, even in a ``collect`` that would otherwise end quietly. A DISCONNECT or an
Engine.IO close from the server is ``connection_closed`` too. Binary events and
acknowledgements are replies too once their attachments (the binary frames that
follow them) have arrived, each attachment in place of its placeholder as
``{"binary_base64": ...}``, the shape of a binary reply without a preset. The
caller's arguments are JSON: nothing is sent as binary. On the way out:
DISCONNECT, then the normal close.

The CONNECT payload holds the token: it is never logged or shown, and the
token is scrubbed wherever a server echoes it.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple
from urllib.parse import parse_qsl, unquote, urlsplit, urlunsplit

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from ..checks import shorten
from ..credentials import Handshake, mode_name, setting
from ..credentials.message import replace_token
from ..errors import AuthRejected, ConfigError, ConnectionClosed, ConnectTimeout, ExpectationFailed
from ..framing import BINARY_FIELD, dumps, loads
from ..redaction import scrubber
from .graphql_transport_ws import TOKEN_MODES

if TYPE_CHECKING:
    from ..credentials import CredentialMode, Prepared
    from ..deadline import Deadline
    from .link import PresetLink

ENGINE_PATH = "/socket.io/"
MAIN_NAMESPACE = "/"
# The query every Engine.IO v4 WebSocket-only session opens with.
ENGINE_QUERY = (("EIO", "4"), ("transport", "websocket"))
TOKEN = "{token}"  # noqa: S105  (a placeholder, not a password)
DEFAULT_AUTH: dict[str, str] = {"token": TOKEN}

# Engine.IO packet types (one character each).
OPEN, CLOSE, PING, PONG, MESSAGE, UPGRADE, NOOP = "0123456"
# Socket.IO packet types.
CONNECT, DISCONNECT, EVENT, ACK, CONNECT_ERROR, BINARY_EVENT, BINARY_ACK = range(7)

# Event names Socket.IO's own clients refuse to emit: they name the socket's
# lifecycle, and a server may treat them as such.
RESERVED_EVENTS = frozenset(
    {"connect", "connect_error", "disconnect", "disconnecting", "newListener", "removeListener"}
)
_MESSAGE_KEYS = frozenset({"emit", "ack"})
# Beyond a day a server's ping settings cannot matter to one invocation (and
# call_later needs a finite delay).
_LONGEST_PING_MS = 86_400_000
# What the opening awaits, as the link's waiters know them.
_OPENED, _CONNECTED = "open packet", "namespace connected"


class Packet(NamedTuple):
    """One decoded Socket.IO packet."""

    type: int
    namespace: str
    ack_id: int | None
    data: Any
    # BINARY_EVENT / BINARY_ACK: the binary frames that follow it.
    attachments: int = 0


# --- pure: where to connect, and the packets ---------------------------------------


def locate(uri: str) -> tuple[str, str]:
    """``(Engine.IO URI without the Engine.IO query, namespace)`` for ``uri``. Pure.

    Raises:
        ValueError: the namespace holds a comma, which the packet format cannot carry.
    """
    parts = urlsplit(uri)
    segments = parts.path.split("/")
    if "socket.io" in segments:
        cut = len(segments) - 1 - segments[::-1].index("socket.io")
        engine = "/".join(segments[: cut + 1]) + "/"
        rest = segments[cut + 1 :]
    else:
        engine = ENGINE_PATH
        rest = segments
    namespace = "/" + "/".join(unquote(segment) for segment in rest if segment)
    if "," in namespace:
        raise ValueError(f"names the namespace {namespace!r}, and a namespace cannot hold a comma")
    return urlunsplit(parts._replace(path=engine)), namespace


def engine_uri(uri: str) -> str:
    """``uri`` (as :func:`locate` returns it) with ``EIO=4&transport=websocket``
    in its query, ahead of what the query held. Pure."""
    parts = urlsplit(uri)
    ours = "&".join(f"{name}={value}" for name, value in ENGINE_QUERY)
    query = f"{ours}&{parts.query}" if parts.query else ours
    return urlunsplit(parts._replace(query=query))


def encode(kind: int, namespace: str, data: Any = None, ack_id: int | None = None) -> str:
    """The Engine.IO message frame carrying one Socket.IO packet. Pure."""
    prefix = "" if namespace == MAIN_NAMESPACE else f"{namespace},"
    ack = "" if ack_id is None else str(ack_id)
    payload = "" if data is None else dumps(data)
    return f"{MESSAGE}{kind}{prefix}{ack}{payload}"


def decode(text: str) -> Packet:
    """The Socket.IO packet in an Engine.IO message's data. Pure.

    Raises:
        ValueError: ``text`` is not a Socket.IO packet.
    """
    if not text or not "0" <= text[0] <= "6":
        raise ValueError("not a Socket.IO packet type")
    kind, rest = int(text[0]), text[1:]
    attachments = 0
    if kind in (BINARY_EVENT, BINARY_ACK):
        count, dash, rest = rest.partition("-")
        if not (dash and count.isdigit()):
            raise ValueError("a binary packet without its attachment count")
        attachments = int(count)
    namespace = MAIN_NAMESPACE
    if rest.startswith("/"):
        namespace, _, rest = rest.partition(",")
    digits = len(rest) - len(rest.lstrip("0123456789"))
    ack_id = int(rest[:digits]) if digits else None
    data = loads(rest[digits:]) if rest[digits:] else None
    return Packet(kind, namespace, ack_id, data, attachments)


def with_attachments(data: Any, attachments: list[bytes]) -> Any:
    """``data`` with each placeholder ``{"_placeholder": true, "num": n}`` replaced
    by attachment ``n`` as ``{"binary_base64": ...}``. Pure."""
    if isinstance(data, list):
        return [with_attachments(item, attachments) for item in data]
    if isinstance(data, dict):
        number = data.get("num")
        if (
            data.get("_placeholder") is True
            and type(number) is int
            and 0 <= number < len(attachments)
        ):
            return {BINARY_FIELD: base64.b64encode(attachments[number]).decode("ascii")}
        return {key: with_attachments(item, attachments) for key, item in data.items()}
    return data


def silence_limit(opening: dict[str, Any]) -> float | None:
    """Seconds without a ping after which the connection counts as lost: the open
    packet's ``pingInterval + pingTimeout`` (milliseconds); None when it announces
    no usable pair. Pure."""
    total = 0.0
    for name in ("pingInterval", "pingTimeout"):
        value = opening.get(name)
        if not (isinstance(value, int | float) and not isinstance(value, bool)):
            return None
        if not 0 < value < _LONGEST_PING_MS:
            return None
        total += value
    return total / 1000.0


def refusal(data: Any) -> str | None:
    """The server's words in a CONNECT_ERROR (``{"message": ...}``, or a string in
    older servers), scrubbed and on one short line; None when it gave none. Pure."""
    text = data.get("message") if isinstance(data, dict) else data
    if not isinstance(text, str) or not text.strip():
        return None
    return shorten(scrubber.scrub_text(text)).rstrip(".")


def check_message(message: Any) -> None:
    """Refuse a message that is not ``{"emit": ["event", arg...], "ack": bool}``. Pure.

    Raises:
        ValueError: with a sentence fragment saying why.
    """
    if not (isinstance(message, dict) and "emit" in message):
        raise ValueError(
            'is not an event: with PROTOCOL socketio, write {"emit": ["event", arg...]} '
            '(and "ack": true to have its acknowledgement as a reply)'
        )
    unknown = sorted(set(message) - _MESSAGE_KEYS)
    if unknown:
        raise ValueError(f'has "{unknown[0]}" beside "emit", which takes only "ack"')
    emit = message["emit"]
    if not (isinstance(emit, list) and emit and isinstance(emit[0], str) and emit[0]):
        raise ValueError('has an "emit" that is not a list starting with the event\'s name')
    if emit[0] in RESERVED_EVENTS:
        raise ValueError(f'emits "{emit[0]}", a name Socket.IO keeps for the connection itself')
    if not isinstance(message.get("ack", False), bool):
        raise ValueError('has an "ack" that is not true or false')


# --- the preset ------------------------------------------------------------------


@dataclass(slots=True)
class _Session:
    """One connection's Socket.IO session: ack ids, and those not yet answered."""

    ids: itertools.count[int]
    awaiting_acks: set[int]
    connected: bool = False
    # A binary event or acknowledgement whose attachments are still arriving.
    binary: Packet | None = None
    attachments: list[bytes] = field(default_factory=list)
    # The open packet's pingInterval + pingTimeout, in seconds (None: not announced),
    # and the timer that ends the exchange when no ping comes within it.
    silence_limit: float | None = None
    watchdog: asyncio.TimerHandle | None = None

    def heard_from_server(self, link: PresetLink) -> None:
        """(Re)start the wait for the next ping."""
        if self.watchdog is not None:
            self.watchdog.cancel()
        if self.silence_limit is not None:
            self.watchdog = asyncio.get_running_loop().call_later(
                self.silence_limit, _fell_silent, link, self.silence_limit
            )

    def stop_watching(self) -> None:
        if self.watchdog is not None:
            self.watchdog.cancel()
            self.watchdog = None


class SocketIO:
    """The socketio preset."""

    name: ClassVar[str] = "socketio"
    completes: ClassVar[bool] = False

    def __init__(self, namespace: str, auth: Any) -> None:
        self.namespace = namespace
        # The CONNECT payload, "{token}" still in it; None: no payload.
        self._auth = auth

    def __repr__(self) -> str:
        return f"SocketIO(namespace={self.namespace!r})"

    def credential_mode(self) -> CredentialMode | None:
        return None

    def connect_parameters(self, handshake: Handshake) -> Handshake:
        engine, _ = locate(handshake.uri)
        return Handshake(engine_uri(engine), handshake.headers, handshake.subprotocols)

    def check(self, message: Any) -> None:
        check_message(message)

    async def open(
        self, link: PresetLink, prepared: Prepared, deadline: Deadline, timeout: float
    ) -> None:
        link.state = _Session(itertools.count(1), set())
        opened = link.expect(_OPENED)
        auth = None if self._auth is None else replace_token(self._auth, prepared.token or "")
        limit = deadline.cap(timeout)
        waiting_for = "no Engine.IO open packet"
        try:
            async with asyncio.timeout(limit):
                await opened
                waiting_for = f"no answer to CONNECT for namespace {self.namespace}"
                # Awaited only now: a future failed by a close and never awaited
                # would be reported by asyncio.
                connected = link.expect(_CONNECTED)
                await link.send_frame(encode(CONNECT, self.namespace, auth))
                await connected
        except TimeoutError:
            raise ConnectTimeout(
                f"The server sent {waiting_for} within {limit:.3g} s (PROTOCOL socketio): "
                "is WEBSOCKET_URI a Socket.IO endpoint?"
            ) from None
        except WebSocketClosed as exc:
            code = f" with code {exc.rcvd.code}" if exc.rcvd is not None else ""
            raise ConnectionClosed(
                f"The server closed the connection{code} before namespace "
                f"{self.namespace} was connected (PROTOCOL socketio)."
            ) from None
        link.state.connected = True

    async def send(self, link: PresetLink, message: Any, timeout: float) -> Any:
        session: _Session = link.state
        ack_id = None
        if message.get("ack", False):
            ack_id = next(session.ids)
            session.awaiting_acks.add(ack_id)
        emit = message["emit"]
        await link.send_frame(encode(EVENT, self.namespace, emit, ack_id))
        return emit

    def incoming(self, link: PresetLink, frame: str | bytes) -> None:
        if isinstance(frame, bytes):
            self._attachment(link, frame)
            return
        kind, data = frame[:1], frame[1:]
        if kind == PING:
            # "2probe" is answered "3probe" (an upgrade's probe; not ours, but harmless).
            link.answer(PONG + data)
            link.state.heard_from_server(link)
        elif kind == MESSAGE:
            self._packet(link, data)
        elif kind == OPEN:
            try:
                opening = loads(data)
            except ValueError:
                opening = None
            if not isinstance(opening, dict):
                link.fail(
                    ExpectationFailed(
                        "The server's Engine.IO open packet holds no session (PROTOCOL socketio)."
                    )
                )
                return
            link.state.silence_limit = silence_limit(opening)
            link.state.heard_from_server(link)
            link.resolve(_OPENED, opening)
        elif kind == CLOSE:
            link.fail(
                ConnectionClosed("The server closed the Engine.IO session (PROTOCOL socketio).")
            )
        elif kind not in (PONG, UPGRADE, NOOP):
            link.fail(
                ExpectationFailed(
                    "The server sent a frame that is not an Engine.IO packet (PROTOCOL socketio)."
                )
            )

    def _packet(self, link: PresetLink, text: str) -> None:
        try:
            packet = decode(text)
        except ValueError:
            link.fail(
                ExpectationFailed(
                    "The server sent a message that is not a Socket.IO packet (PROTOCOL socketio)."
                )
            )
            return
        session: _Session = link.state
        if packet.type in (BINARY_EVENT, BINARY_ACK):
            if packet.attachments:
                session.binary, session.attachments = packet, []
            else:
                self._deliver(link, packet)
            return
        self._deliver(link, packet)

    def _attachment(self, link: PresetLink, frame: bytes) -> None:
        session: _Session | None = link.state
        if session is None or session.binary is None:
            link.fail(
                ExpectationFailed(
                    "The server sent a binary frame that no Socket.IO binary packet announced "
                    "(PROTOCOL socketio)."
                )
            )
            return
        session.attachments.append(frame)
        packet = session.binary
        if len(session.attachments) == packet.attachments:
            data = with_attachments(packet.data, session.attachments)
            session.binary, session.attachments = None, []
            self._deliver(link, packet._replace(data=data))

    def _deliver(self, link: PresetLink, packet: Packet) -> None:
        if packet.namespace != self.namespace:
            return  # a namespace this connection never asked for
        session: _Session = link.state
        kind = {BINARY_EVENT: EVENT, BINARY_ACK: ACK}.get(packet.type, packet.type)
        if kind == EVENT and isinstance(packet.data, list) and packet.data:
            if packet.ack_id is not None:
                # Answered first: the reply may end the exchange before a later answer runs.
                link.answer(encode(ACK, self.namespace, [], packet.ack_id))
            link.reply(packet.data)
        elif kind == ACK and packet.ack_id in session.awaiting_acks:
            session.awaiting_acks.discard(packet.ack_id)
            link.reply(packet.data if isinstance(packet.data, list) else [])
        elif packet.type == CONNECT:
            link.resolve(_CONNECTED, packet.data)
        elif packet.type == CONNECT_ERROR:
            words = refusal(packet.data)
            said = f": {words}" if words else "; the server gave no reason"
            refused = AuthRejected(
                f"The server refused the Socket.IO connection to namespace {self.namespace}{said}."
            )
            if not link.reject(_CONNECTED, refused):
                link.fail(refused)
        elif packet.type == DISCONNECT:
            link.fail(
                ConnectionClosed(
                    f"The server disconnected namespace {self.namespace} (PROTOCOL socketio)."
                )
            )
        elif kind == EVENT:
            link.fail(
                ExpectationFailed(
                    "The server sent an EVENT without an event name (PROTOCOL socketio)."
                )
            )

    async def close(self, link: PresetLink) -> None:
        session: _Session | None = link.state
        if session is not None:
            session.stop_watching()
        if session is not None and session.connected:
            await link.send_frame(encode(DISCONNECT, self.namespace))


def _fell_silent(link: PresetLink, limit: float) -> None:
    # The Engine.IO protocol's own rule for a client: no ping within
    # pingInterval + pingTimeout means the connection is lost, however quiet it looks.
    link.fail(
        ConnectionClosed(
            f"The server sent no Engine.IO ping for {limit:.3g} s (its pingInterval plus "
            "pingTimeout): the connection is presumed lost (PROTOCOL socketio)."
        )
    )


def from_environ(environ: Mapping[str, str], *, uri: str) -> SocketIO:
    """The preset, its namespace from ``uri`` and its CONNECT payload checked
    against the credential mode.

    Raises:
        ConfigError: ``SOCKETIO_AUTH`` not a JSON object, or naming ``{token}``
            where the mode has no token; ``AUTH_MODE=message``; a namespace with a
            comma; an Engine.IO query parameter in the URI (or in
            ``AUTH_QUERY_PARAM``) other than the one the preset sends.
    """
    mode = mode_name(environ)
    if mode == "message":
        raise ConfigError(
            "AUTH_MODE message contradicts PROTOCOL socketio: the token goes in the CONNECT "
            "packet's auth payload (SOCKETIO_AUTH), with AUTH_MODE bearer or another mode "
            "that reads a token."
        )
    try:
        _, namespace = locate(uri)
    except ValueError as exc:
        raise ConfigError(f"WEBSOCKET_URI {exc}.") from None
    query = dict(parse_qsl(urlsplit(uri).query, keep_blank_values=True))
    for name, value in ENGINE_QUERY:
        if name in query:
            raise ConfigError(
                f"WEBSOCKET_URI has a query parameter {name}, which PROTOCOL socketio sets "
                f"itself ({name}={value}): remove it from the URI."
            )
    if mode == "query" and (setting(environ, "AUTH_QUERY_PARAM") or "") in dict(ENGINE_QUERY):
        raise ConfigError(
            "AUTH_QUERY_PARAM names an Engine.IO query parameter that PROTOCOL socketio "
            "sets itself: choose another name."
        )
    raw = setting(environ, "SOCKETIO_AUTH")
    if raw is None:
        return SocketIO(namespace, DEFAULT_AUTH if mode in TOKEN_MODES else None)
    try:
        auth = json.loads(raw)
    except ValueError:
        auth = None
    if not isinstance(auth, dict):
        raise ConfigError(
            'SOCKETIO_AUTH must be a JSON object, e.g. {"token": "{token}"} (the CONNECT '
            "packet's auth payload)."
        )
    if mode not in TOKEN_MODES and TOKEN in json.dumps(auth):
        raise ConfigError(
            f"SOCKETIO_AUTH names {TOKEN}, but AUTH_MODE {mode} has no token to put there."
        )
    return SocketIO(namespace, auth)
