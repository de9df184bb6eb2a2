"""``PROTOCOL=appsync-events``: the WebSocket protocol of AWS AppSync Events APIs.

Reference: AWS's Event API guide and its clients (amplify-js's
``AWSAppSyncEventsProvider``). ``WEBSOCKET_URI`` is the API's realtime endpoint,
``wss://<id>.appsync-realtime-api.<region>.amazonaws.com/event/realtime`` (or
a custom domain's). The handshake offers ``aws-appsync-event-ws`` and the
authorization subprotocol (:mod:`.appsync_auth`, ``APPSYNC_AUTH``); the client
sends ``connection_init`` and awaits ``connection_ack`` within
``OPEN_TIMEOUT_SECONDS``, whose ``connectionTimeoutMs`` says how long the
connection may stay silent: the server sends ``ka`` keep-alives meanwhile
(never replies), and a silence that long ends the exchange as
``connection_closed``.

A caller's message is one of:

* ``{"subscribe": "/namespace/channel"}``: ``subscribe`` with a fresh ``id`` and
  its ``authorization``; awaits ``subscribe_success`` (within the reply
  timeout). Each ``data`` message for it is a reply: its ``event``, decoded
  from the JSON text AppSync carries it as.
* ``{"publish": {"channel": "/namespace/channel", "events": [<JSON>, ...]}}``:
  1 to 5 events, each sent as its JSON text; awaits ``publish_success``.

A subscribe's events come from publishes made after it, so among several
plain messages (``messages``) the replies of a subscribe that another message
follows are not awaited before sending that message
(:meth:`AppSyncEvents.defers_replies`).

Refusals: ``connection_error``, ``subscribe_error``, ``publish_error`` or
``error`` with ``UnauthorizedException`` (or a close with 4401/4403 while the
connection or a message awaits its answer) is ``auth_rejected`` (a refused
connection reads a cached secret again once); ``BadRequestException`` for a
subscribe or publish is ``invalid_request``, any other refusal
``expectation_failed``, never retried. No ``connection_ack`` within the open
timeout is ``connect_timeout``, retried as a slow handshake is.

The preset shows ``sent`` as the frames it sent with ``authorization``
replaced by ``[redacted]``; messages are never stamped.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from ..checks import shorten
from ..credentials import (
    MODE_VARIABLE_DEFAULTS,
    MODE_VARIABLES,
    Handshake,
    setting,
    signing_region,
    token_field,
)
from ..errors import (
    AuthRejected,
    ConfigError,
    ConnectionClosed,
    ConnectTimeout,
    ExchangeError,
    ExpectationFailed,
    HandshakeFailed,
    InvalidRequest,
    ReplyTimeout,
)
from ..framing import dumps, loads
from ..redaction import REDACTED, scrubber
from . import closed_by_server
from .appsync_auth import (
    EVENT_SUBPROTOCOL,
    Authorizer,
    IamAuth,
    IamAuthorizer,
    SecretAuth,
    SecretAuthorizer,
    signed_body,
)

if TYPE_CHECKING:
    from ..credentials import CredentialMode, Prepared
    from ..deadline import Deadline
    from .link import PresetLink

AUTH_CHOICES = ("api_key", "iam", "token")
# The authorization object's field for each secret-backed APPSYNC_AUTH.
_SECRET_FIELDS = {"api_key": "x-api-key", "token": "Authorization"}
MAX_EVENTS = 5
MAX_SEGMENTS = 5
# What AWS's Event API guide allows in a channel segment.
_SEGMENT = re.compile(r"[A-Za-z0-9-]{1,50}")
_REALTIME_HOST = re.compile(r"([^.]+)\.appsync-realtime-api\.(.+)")
_REGION_IN_HOST = re.compile(
    r"[^.]+\.appsync(?:-realtime)?-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_HOST = re.compile(
    r"(?=.{1,253}(?::|$))[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*(?::[0-9]{1,5})?"
)
_ERROR_TYPE = re.compile(r"[A-Za-z][A-Za-z0-9]{0,63}")
UNAUTHORIZED = "UnauthorizedException"
BAD_REQUEST = "BadRequestException"
# Close codes with which a server refuses the credential (graphql-ws's, which
# AppSync's GraphQL endpoint uses).
REFUSING_CLOSE_CODES = frozenset({4401, 4403})
# AWS's default when an ack names no (usable) connectionTimeoutMs.
DEFAULT_CONNECTION_TIMEOUT_MS = 300_000
# Variables of AUTH_MODE that SIGV4 shares with APPSYNC_AUTH=iam.
_IAM_VARIABLES = frozenset({"SIGV4_REGION"})
_SHOWN_ERRORS = 3


class AppSyncEvents:
    """The appsync-events preset."""

    name: ClassVar[str] = "appsync-events"
    completes: ClassVar[bool] = False

    def __init__(self, mode: SecretAuth | IamAuth, authorizer: Authorizer) -> None:
        self._mode = mode
        self._authorizer = authorizer

    def __repr__(self) -> str:
        return "AppSyncEvents()"

    def credential_mode(self) -> CredentialMode | None:
        return self._mode

    def connect_parameters(self, handshake: Handshake) -> Handshake:
        others = tuple(p for p in handshake.subprotocols if p != EVENT_SUBPROTOCOL)
        return Handshake(handshake.uri, handshake.headers, (EVENT_SUBPROTOCOL, *others))

    def check(self, message: Any) -> None:
        check_message(message)

    def defers_replies(self, message: Any) -> bool:
        """Whether a plain message's replies come only after the messages that
        follow it: a subscribe's events come from later publishes."""
        return isinstance(message, dict) and "subscribe" in message

    async def open(
        self, link: PresetLink, prepared: Prepared, deadline: Deadline, timeout: float
    ) -> None:
        session = _Session(prepared)
        link.state = session
        acknowledged = link.expect("connection_ack")
        limit = deadline.cap(timeout)
        try:
            await link.send_frame(dumps({"type": "connection_init"}))
            async with asyncio.timeout(limit):
                ack = await acknowledged
        except TimeoutError:
            raise ConnectTimeout(
                f"The AppSync Events API did not acknowledge connection_init within "
                f"{limit:.3g} s (OPEN_TIMEOUT_SECONDS)."
            ) from None
        except ExchangeError:
            raise
        except Exception as exc:
            raise _closed_error(exc, "connection_init") from None
        session.watch(link, connection_timeout_seconds(ack))

    async def send(self, link: PresetLink, message: Any, timeout: float) -> Any:
        session: _Session = link.state
        operation = operation_of(message)
        identifier = str(uuid.uuid4())
        authorization, credentials = self._authorizer.authorize(session.prepared, operation.body)
        scrubber.remember(credentials)
        frame = operation.frame(identifier, authorization)
        key = (operation.kind, identifier)
        answered = link.expect(key)
        if operation.kind == "subscribe":
            # Before sending: its data may follow its success at once.
            session.subscriptions.add(identifier)
        try:
            await link.send_frame(dumps(frame))
            async with asyncio.timeout(timeout):
                await answered
        except TimeoutError:
            session.subscriptions.discard(identifier)
            raise ReplyTimeout(
                f"The AppSync Events API did not answer the {operation.kind} to "
                f"{operation.channel} within {timeout:.3g} s."
            ) from None
        except ExchangeError:
            session.subscriptions.discard(identifier)
            raise
        except Exception as exc:
            session.subscriptions.discard(identifier)
            code = closed_by_server(exc)
            if code in REFUSING_CLOSE_CODES:
                raise _closed_error(exc, operation.kind) from None
            raise
        return {**frame, "authorization": REDACTED}

    def incoming(self, link: PresetLink, frame: str | bytes) -> None:
        session: _Session = link.state
        session.heard()
        message = _decode(frame)
        if message is None:
            link.fail(
                ExpectationFailed("The server sent a frame that is not an AppSync Events message.")
            )
            return
        kind = message.get("type")
        identifier = message.get("id")
        if kind == "data":
            if identifier in session.subscriptions:
                link.reply(decode_event(message.get("event")))
        elif kind == "ka":
            return
        elif kind in ("subscribe_success", "publish_success"):
            operation = kind.partition("_")[0]
            failed = message.get("failed")
            if kind == "publish_success" and isinstance(failed, list) and failed:
                link.reject((operation, identifier), ExpectationFailed(_partial_publish(message)))
            else:
                link.resolve((operation, identifier))
        elif kind in ("subscribe_error", "publish_error"):
            operation = kind.partition("_")[0]
            if operation == "subscribe":
                session.subscriptions.discard(identifier)
            error = refusal(operation, message.get("errors"))
            if not link.reject((operation, identifier), error):
                link.fail(error)
        elif kind == "connection_ack":
            link.resolve("connection_ack", message)
        elif kind in ("connection_error", "error"):
            error = refusal("connection", message.get("errors"))
            if not link.reject("connection_ack", error):
                link.fail(
                    error if kind == "connection_error" else refusal("", message.get("errors"))
                )
        elif kind in ("unsubscribe_success", "unsubscribe_error"):
            session.subscriptions.discard(identifier)

    async def close(self, link: PresetLink) -> None:
        session: _Session | None = link.state
        if session is None:
            return
        session.stop()
        for identifier in sorted(session.subscriptions):
            await link.send_frame(dumps({"type": "unsubscribe", "id": identifier}))
        session.subscriptions.clear()


@dataclass(slots=True)
class _Session:
    """One connection: its credential, its subscriptions and its silence watchdog."""

    prepared: Prepared
    subscriptions: set[str] = field(default_factory=set)
    last_heard: float = field(default_factory=time.monotonic)
    _timer: asyncio.TimerHandle | None = None

    def heard(self) -> None:
        self.last_heard = time.monotonic()

    def watch(self, link: PresetLink, seconds: float) -> None:
        """End the exchange when nothing arrives for ``seconds``: one timer,
        moved on only when it fires (not at every frame)."""
        loop = asyncio.get_running_loop()

        def check() -> None:
            silent = time.monotonic() - self.last_heard
            if silent < seconds:
                self._timer = loop.call_at(loop.time() + seconds - silent, check)
                return
            self._timer = None
            link.fail(
                ConnectionClosed(
                    f"Nothing, not even a keep-alive, arrived from the AppSync Events API "
                    f"for {seconds:.3g} s, the connectionTimeoutMs of its connection_ack: "
                    "the connection is taken as lost."
                )
            )

        self.heard()
        self._timer = loop.call_at(loop.time() + seconds, check)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None


# --- messages (pure) ------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operation:
    """A caller's subscribe or publish, as the protocol frames it."""

    kind: str
    channel: str
    # Each event's JSON text (publish only).
    events: tuple[str, ...] | None = None

    @property
    def body(self) -> bytes:
        """What an IAM signature of this operation covers."""
        return signed_body(self.channel, None if self.events is None else list(self.events))

    def frame(self, identifier: str, authorization: Mapping[str, str]) -> dict[str, Any]:
        """The protocol message for this operation."""
        frame: dict[str, Any] = {"type": self.kind, "id": identifier, "channel": self.channel}
        if self.events is not None:
            frame["events"] = list(self.events)
        frame["authorization"] = dict(authorization)
        return frame


_USAGE = (
    'with PROTOCOL appsync-events, write {"subscribe": "/namespace/channel"} or '
    '{"publish": {"channel": "/namespace/channel", "events": [...]}}'
)


def check_message(message: Any) -> None:
    """Refuse what the preset cannot send. Pure.

    Raises:
        ValueError: with a sentence fragment saying why.
    """
    if not isinstance(message, dict) or len(message) != 1:
        raise ValueError(f"is not an AppSync Events operation: {_USAGE}")
    if "subscribe" in message:
        channel = message["subscribe"]
        if not isinstance(channel, str):
            raise ValueError('has a "subscribe" that is not a channel path such as "/default/*"')
        check_channel(channel, wildcard=True)
    elif "publish" in message:
        publish = message["publish"]
        if not isinstance(publish, dict):
            raise ValueError(
                'has a "publish" that is not an object {"channel": ..., "events": [...]}'
            )
        unknown = sorted(set(publish) - {"channel", "events"})
        if unknown:
            raise ValueError(
                f'has "{unknown[0]}" in its "publish", which takes only channel and events'
            )
        channel = publish.get("channel")
        if not isinstance(channel, str):
            raise ValueError('has no "channel" path in its "publish"')
        check_channel(channel, wildcard=False)
        events = publish.get("events")
        if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
            raise ValueError(
                f'has a "publish" whose "events" is not a list of 1 to {MAX_EVENTS} JSON values'
            )
    else:
        raise ValueError(f"is not an AppSync Events operation: {_USAGE}")


def check_channel(channel: str, *, wildcard: bool) -> None:
    """Refuse a channel path AppSync would refuse: 1 to 5 segments of letters,
    digits and hyphens (at most 50 each), a final ``*`` only to subscribe. Pure.

    Raises:
        ValueError: naming what is wrong.
    """
    segments = channel.strip("/").split("/")
    shown = shorten(channel, 80)
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise ValueError(
            f"names the channel {shown!r}, which does not have 1 to {MAX_SEGMENTS} segments"
        )
    for index, segment in enumerate(segments):
        if segment == "*" and index == len(segments) - 1 and index > 0:
            if wildcard:
                continue
            raise ValueError(f"publishes to the wildcard channel {shown!r}; name one channel")
        if not _SEGMENT.fullmatch(segment):
            raise ValueError(
                f"names the channel {shown!r}: each segment is 1 to 50 letters, digits or hyphens"
            )


def operation_of(message: dict[str, Any]) -> Operation:
    """The operation a checked message stands for. Pure."""
    if "subscribe" in message:
        return Operation("subscribe", message["subscribe"])
    publish = message["publish"]
    return Operation("publish", publish["channel"], tuple(dumps(e) for e in publish["events"]))


def decode_event(event: Any) -> Any:
    """A ``data`` message's event: its JSON text decoded (text that is not JSON as it is). Pure."""
    if not isinstance(event, str):
        return event
    try:
        return loads(event)
    except ValueError:
        return event


def connection_timeout_seconds(ack: Any) -> float:
    """The silence an ack allows (``connectionTimeoutMs``), in seconds; AWS's
    default (5 minutes) when it names none that is a positive number. Pure."""
    value = ack.get("connectionTimeoutMs") if isinstance(ack, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float):
        value = DEFAULT_CONNECTION_TIMEOUT_MS
    if not (math.isfinite(value) and value > 0):
        value = DEFAULT_CONNECTION_TIMEOUT_MS
    return float(value) / 1000.0


def refusal(operation: str, errors: Any) -> ExchangeError:
    """The typed error for AppSync's ``errors`` list answering ``operation``
    (``connection``, ``subscribe``, ``publish``, or "" for a bare ``error``). Pure.

    ``UnauthorizedException`` (or error code 401/403) is ``auth_rejected``;
    ``BadRequestException`` for a subscribe or publish is ``invalid_request``
    (the caller's message); a refused connection for any other reason is
    ``handshake_failed``; anything else ``expectation_failed``. None is retryable.
    """
    items = [item for item in errors if isinstance(item, dict)] if isinstance(errors, list) else []
    types = [
        item["errorType"]
        for item in items
        if isinstance(item.get("errorType"), str) and _ERROR_TYPE.fullmatch(item["errorType"])
    ]
    codes = {item.get("errorCode") for item in items}
    texts = [
        shorten(scrubber.scrub_text(item["message"]))
        for item in items
        if isinstance(item.get("message"), str)
    ]
    what = {
        "connection": "the connection",
        "subscribe": "the subscribe",
        "publish": "the publish",
    }.get(operation, "a message")
    named = f" ({', '.join(types[:_SHOWN_ERRORS])})" if types else ""
    said = f": {'; '.join(texts[:_SHOWN_ERRORS]).rstrip('.')}" if texts else ""
    sentence = f"The AppSync Events API refused {what}{named}{said}."
    if UNAUTHORIZED in types or codes & {401, 403}:
        return AuthRejected(
            f"{sentence} Check APPSYNC_AUTH and its credential (and, for iam, the role's "
            "appsync permissions on this API)."
        )
    if BAD_REQUEST in types and operation in ("subscribe", "publish"):
        return InvalidRequest(sentence)
    if operation == "connection":
        return HandshakeFailed(sentence)
    return ExpectationFailed(sentence)


def _partial_publish(message: dict[str, Any]) -> str:
    failed = message.get("failed")
    successful = message.get("successful")
    count = len(failed) if isinstance(failed, list) else 0
    total = count + (len(successful) if isinstance(successful, list) else 0)
    return f"The AppSync Events API did not publish {count} of the {total} events."


def _closed_error(exc: BaseException, moment: str) -> ExchangeError:
    code = closed_by_server(exc)
    if code in REFUSING_CLOSE_CODES:
        return AuthRejected(
            f"The AppSync Events API closed the connection with code {code} in answer to "
            f"{moment}: the credential was refused."
        )
    if code is None:
        return ConnectionClosed(f"The connection was lost while awaiting the answer to {moment}.")
    return ConnectionClosed(
        f"The AppSync Events API closed the connection with code {code} in answer to {moment}."
    )


def _decode(frame: str | bytes) -> dict[str, Any] | None:
    if isinstance(frame, bytes):
        return None
    try:
        message = loads(frame)
    except ValueError:
        return None
    return message if isinstance(message, dict) and isinstance(message.get("type"), str) else None


# --- settings (pure) ------------------------------------------------------------------------


def http_host(environ: Mapping[str, str], uri: str) -> str:
    """The API's HTTP domain: ``APPSYNC_HTTP_HOST``, else the realtime host's
    ``appsync-realtime-api`` read as ``appsync-api``. Pure.

    Raises:
        ConfigError: naming ``APPSYNC_HTTP_HOST`` when it is malformed, or needed.
    """
    configured = setting(environ, "APPSYNC_HTTP_HOST")
    if configured is not None:
        if not _HOST.fullmatch(configured):
            raise ConfigError(
                "APPSYNC_HTTP_HOST must be a host name such as "
                "example.appsync-api.eu-west-1.amazonaws.com or api.example.com, without "
                "https:// or a path."
            )
        return configured.lower()
    host = (urlsplit(uri).hostname or "").lower()
    match = _REALTIME_HOST.fullmatch(host)
    if match is None:
        raise ConfigError(
            "APPSYNC_HTTP_HOST is required: WEBSOCKET_URI's host is not "
            "<id>.appsync-realtime-api.<region>.amazonaws.com, so set the API's HTTP domain "
            "(a custom domain's own name)."
        )
    return f"{match.group(1)}.appsync-api.{match.group(2)}"


def iam_region(environ: Mapping[str, str], uri: str, host: str) -> str:
    """The region IAM signs for: ``SIGV4_REGION``, the API's hosts', else ``AWS_REGION``. Pure.

    Raises:
        ConfigError: naming ``SIGV4_REGION`` when none is found or it is malformed.
    """
    in_host = None
    for name in (host.partition(":")[0], (urlsplit(uri).hostname or "").lower()):
        match = _REGION_IN_HOST.fullmatch(name)
        if match:
            in_host = match.group(1)
            break
    return signing_region(
        environ,
        in_host,
        "SIGV4_REGION is required with APPSYNC_AUTH iam: the API's hosts name no region "
        "and AWS_REGION is not set.",
    )


def _check_auth_mode(environ: Mapping[str, str], auth: str) -> None:
    """Refuse an ``AUTH_MODE`` (or a mode's setting) that the preset would ignore."""
    mode = setting(environ, "AUTH_MODE")
    if mode is not None and mode != "bearer":
        raise ConfigError(
            f"AUTH_MODE {mode} contradicts PROTOCOL appsync-events, which carries the "
            "credential its own way: choose it with APPSYNC_AUTH (api_key, token or iam) "
            "and leave AUTH_MODE unset (or at bearer)."
        )
    for variable in MODE_VARIABLES:
        if variable == "TOKEN_SECRET_FIELD" or (variable in _IAM_VARIABLES and auth == "iam"):
            continue
        value = setting(environ, variable)
        if value is not None and value != MODE_VARIABLE_DEFAULTS.get(variable):
            raise ConfigError(
                f"{variable} is set but does nothing with PROTOCOL appsync-events "
                f"(APPSYNC_AUTH {auth}): remove it."
            )


def from_environ(environ: Mapping[str, str], *, uri: str) -> AppSyncEvents:
    """The preset and its credential mode, from ``APPSYNC_AUTH`` and ``APPSYNC_HTTP_HOST``.

    Raises:
        ConfigError: naming the variable: ``APPSYNC_AUTH`` unknown, ``AUTH_MODE``
            or another mode's setting set, ``TOKEN_SECRET_ID`` missing for
            ``api_key``/``token``, no HTTP host or (``iam``) no region.
    """
    auth = (setting(environ, "APPSYNC_AUTH") or "api_key").lower()
    if auth not in AUTH_CHOICES:
        raise ConfigError(f"APPSYNC_AUTH must be one of: {', '.join(AUTH_CHOICES)}.")
    _check_auth_mode(environ, auth)
    host = http_host(environ, uri)
    if auth == "iam":
        authorizer = IamAuthorizer(host, iam_region(environ, uri, host))
        return AppSyncEvents(IamAuth(authorizer), authorizer)
    if setting(environ, "TOKEN_SECRET_ID") is None:
        holds = "API key" if auth == "api_key" else "token"
        raise ConfigError(
            f"TOKEN_SECRET_ID is required with APPSYNC_AUTH {auth}: the Secrets Manager "
            f"secret holding the {holds}."
        )
    secret_authorizer = SecretAuthorizer(host, _SECRET_FIELDS[auth])
    return AppSyncEvents(
        SecretAuth(secret_authorizer, field=token_field(environ)), secret_authorizer
    )
