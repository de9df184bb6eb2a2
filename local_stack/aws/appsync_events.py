"""A local AWS AppSync Events realtime endpoint on 127.0.0.1: websockets' own ``serve``.

What follows is the protocol as AWS's own clients speak it (amplify-js
``packages/api-graphql/src/Providers/AWSAppSyncEventsProvider`` and
``AWSWebSocketProvider``, aws-appsync-events-swift ``AppSyncWebSocketClient``)
and as AWS's Event API guide describes it; it is the reference the client
side is written against. Where the public sources are silent, the line says
"emulator's choice".

Endpoints
---------
The API has two domains: HTTP ``<id>.appsync-api.<region>.amazonaws.com`` (its
``/event`` path takes HTTP publishes) and realtime
``<id>.appsync-realtime-api.<region>.amazonaws.com``, WebSocket path
``/event/realtime``. A custom domain serves both on one host. Every
authorization object names the *HTTP* domain as ``host``, even on the
realtime socket. On 127.0.0.1 the realtime host cannot look like the real one,
so the expected HTTP host is configured (:attr:`LocalAppSyncEvents.http_host`).

Opening handshake
-----------------
The client offers two subprotocols, ``aws-appsync-event-ws`` (the server
selects it) and ``header-<b64>``, where ``<b64>`` is the authorization object
as JSON, base64url-encoded without ``=`` padding. The object holds, by mode:

* API key: ``{"host": ..., "x-api-key": ...}`` (amplify-js adds ``x-amz-date``);
* token (Cognito user pool, OIDC, Lambda authorizer): ``{"host": ...,
  "Authorization": <token>}``;
* IAM: the headers of a SigV4-signed ``POST https://<http host>/event`` whose
  body is ``{}``, signed with service ``appsync`` and the API's region, with
  the headers ``accept: application/json, text/javascript``,
  ``content-encoding: amz-1.0``, ``content-type: application/json;
  charset=UTF-8``, plus ``host`` and ``x-amz-date`` (and
  ``x-amz-security-token`` with temporary credentials); the object carries
  all of them and ``authorization``. No ``x-amz-content-sha256``. Header
  names are matched without regard to case (botocore writes ``X-Amz-Date``,
  amplify-js ``x-amz-date``); only the names in ``SignedHeaders`` are signed,
  so extra headers (amplify-js adds ``x-amz-user-agent``) are allowed.

A handshake that does not offer ``aws-appsync-event-ws`` is answered with
HTTP 400 (emulator's choice). Everything else is judged after the socket opens.

Messages (JSON text frames)
---------------------------
client -> server::

    {"type": "connection_init"}
    {"type": "subscribe", "id": <id>, "channel": "/ns/a/b", "authorization": {...}}
    {"type": "publish", "id": <id>, "channel": "/ns/a/b",
     "events": ["<JSON text>", ...], "authorization": {...}}
    {"type": "unsubscribe", "id": <subscription id>}

server -> client::

    {"type": "connection_ack", "connectionTimeoutMs": 300000}
    {"type": "connection_error", "errors": [{"errorType": "UnauthorizedException",
     "message": "You are not authorized to make this call.", "errorCode": 401}]}
    {"type": "ka"}
    {"type": "subscribe_success", "id": <id>}
    {"type": "subscribe_error", "id": <id>, "errors": [{"errorType": ..., "message": ...}]}
    {"type": "data", "id": <subscription id>, "event": "<JSON text>"}
    {"type": "publish_success", "id": <id>,
     "successful": [{"identifier": <uuid>, "index": 0}, ...], "failed": []}
    {"type": "publish_error", "id": <id>, "errors": [...]}
    {"type": "unsubscribe_success", "id": <id>}
    {"type": "unsubscribe_error", "id": <id>, "errors": [...]}
    {"type": "error", "errors": [...]}

* ``connectionTimeoutMs`` is a top-level field of the ack (not under
  ``payload`` as in AppSync's GraphQL protocol). A ``ka`` arrives
  periodically (about every minute on AWS); a client that sees no message for
  ``connectionTimeoutMs`` treats the connection as dead.
* A connection that fails authorization gets ``connection_error`` in answer to
  ``connection_init``; the emulator then closes with 1000 (emulator's choice).
  Clients treat ``UnauthorizedException`` and ``BadRequestException`` as not
  worth retrying (amplify-js ``NON_RETRYABLE_ERROR_TYPES``).
* Each ``subscribe`` and ``publish`` carries its own ``authorization``, built as
  above; for IAM the signed body is the compact JSON (no spaces, keys in this
  order, non-ASCII and ``/`` unescaped, as ``JSON.stringify`` writes it) of
  ``{"channel": <channel>}`` for a subscribe and ``{"channel": <channel>,
  "events": [<the same strings>]}`` for a publish, with ``<channel>`` exactly
  as it appears in the message. A failed check is ``subscribe_error`` /
  ``publish_error`` with ``UnauthorizedException``; a malformed message (no
  id, bad channel, 0 or more than 5 events, an event that is not JSON text,
  a wildcard publish, an id already subscribed) is ``BadRequestException``.
* Channels: ``/namespace/segment...``, 1 to 5 segments of ``[A-Za-z0-9-]``
  (at most 50 characters each); the leading ``/`` is optional. A subscription
  may end in ``/*``, which matches every channel below that prefix, at any
  depth. Publishing to a wildcard is a bad request.
* A publish delivers one ``data`` message per event, the event as the JSON text
  that was published, to every matching subscription on every connection
  (the publisher's own included), then answers ``publish_success`` (the order
  is configurable: :attr:`Behaviour.data_before_publish_success`).
* Fields a message does not need are ignored (amplify-js repeats ``channel``,
  ``events`` and ``authorization`` under ``payload``, and sends ``events``
  only when publishing).
* Unknown message types and non-JSON frames get ``error`` with
  ``BadRequestException`` (emulator's choice); so do ``subscribe`` and
  ``publish`` before ``connection_ack``.

Close codes: the public sources show AppSync reporting failures in messages
and document no close codes for Event APIs. The 4400/4401/4403/4409/4429
family (graphql-ws's bad request, unauthorized, forbidden, duplicate
subscriber, too many init requests) is offered only as a misbehaviour
(:attr:`Behaviour.close_code`) so hostile tests can meet it.

Here
----
:attr:`LocalAppSyncEvents.uri` is ``ws://127.0.0.1:<free port>/event/realtime``
(any path is served). ``keepalive_seconds`` sets the ``ka`` period (``None``:
never, to meet a client's ``connectionTimeoutMs``), ``connection_timeout_ms``
the ack's field. Misbehaviour for hostile tests is a :class:`Behaviour`, read
when each connection opens; :meth:`LocalAppSyncEvents.reset` sets it between
tests. :attr:`~LocalAppSyncEvents.messages`, :attr:`~LocalAppSyncEvents.verdicts`
and :attr:`~LocalAppSyncEvents.pongs` record what happened.
"""

from __future__ import annotations

import base64
import binascii
import datetime
import hmac
import json
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any, Literal

from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed, InvalidHeader
from websockets.headers import parse_subprotocol
from websockets.http11 import Request, Response
from websockets.sync.server import ServerConnection
from websockets.typing import Subprotocol

from local_stack.aws.sigv4 import SigningCredentials, Verdict, verify
from local_stack.servers.base import WebSocketCounterpart

SUBPROTOCOL = Subprotocol("aws-appsync-event-ws")
HEADER_PREFIX = "header-"
SERVICE = "appsync"
SIGNED_PATH = "/event"
DEFAULT_HTTP_HOST = "example123example123example1.appsync-api.us-east-1.amazonaws.com"
DEFAULT_CONNECTION_TIMEOUT_MS = 300_000
MAX_EVENTS = 5
MAX_SEGMENTS = 5
UNAUTHORIZED = "UnauthorizedException"
BAD_REQUEST = "BadRequestException"
UNAUTHORIZED_MESSAGE = "You are not authorized to make this call."

_SEGMENT = re.compile(r"[A-Za-z0-9-]{1,50}")

Moment = Literal["open", "connection_init", "ack", "subscribe", "publish"]


@dataclass(frozen=True)
class ApiKeyAuth:
    """Authorize with ``x-api-key`` equal to :attr:`key`."""

    key: str = field(repr=False)


@dataclass(frozen=True)
class TokenAuth:
    """Authorize with ``Authorization`` equal to :attr:`token` (Cognito, OIDC, Lambda)."""

    token: str = field(repr=False)


@dataclass(frozen=True)
class IamAuth:
    """Authorize with a SigV4 signature by :attr:`credentials` for :attr:`region`."""

    credentials: SigningCredentials
    region: str = "us-east-1"


Auth = ApiKeyAuth | TokenAuth | IamAuth


@dataclass(frozen=True)
class Behaviour:
    """How a connection departs from AppSync's behaviour (defaults: it does not).

    ``ack``: ``"never"`` leaves ``connection_init`` unanswered, ``"twice"`` sends
    two acks. ``keepalive_only``: after the ack, nothing but ``ka`` (subscribe
    and publish go unanswered). ``ping_flood``: that many WebSocket pings right
    after the ack. ``close_code`` at ``close_at``: close the connection instead
    of answering (``"ack"``: right after acking). ``subscribe_error`` /
    ``publish_error``: answer every subscribe / publish with that ``errorType``.
    ``echo_connection_params``: after each ``subscribe_success``, a ``data``
    message for it whose event is the decoded connection authorization object.
    """

    ack: Literal["once", "never", "twice"] = "once"
    keepalive_only: bool = False
    ping_flood: int = 0
    close_code: int | None = None
    close_at: Moment = "connection_init"
    subscribe_error: str | None = None
    publish_error: str | None = None
    echo_connection_params: bool = False
    data_before_publish_success: bool = True


class BadRequest(Exception):
    """Raised when a message is malformed; its text goes back to the client."""


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def decode_header_subprotocol(subprotocol: str) -> dict[str, Any]:
    """The authorization object carried by a ``header-<base64url JSON>`` subprotocol.

    Raises:
        BadRequest: if it is not base64url of a JSON object of strings.
    """
    encoded = subprotocol.removeprefix(HEADER_PREFIX)
    try:
        raw = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError):
        raise BadRequest("the header subprotocol is not base64url-encoded JSON") from None
    if not isinstance(decoded, dict) or not all(
        isinstance(value, str) for value in decoded.values()
    ):
        raise BadRequest("the header subprotocol is not a JSON object of strings")
    return decoded


def signed_body(channel: str, events: list[str] | None = None) -> bytes:
    """The body an IAM signature covers: what ``JSON.stringify`` writes for it."""
    body: dict[str, Any] = {"channel": channel}
    if events is not None:
        body["events"] = events
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


def channel_segments(channel: str, *, wildcard: bool) -> list[str]:
    """The segments of a channel path.

    Raises:
        BadRequest: if the path is not 1..5 valid segments (a final ``*`` only
            when ``wildcard``).
    """
    segments = channel.strip("/").split("/")
    if not 1 <= len(segments) <= MAX_SEGMENTS:
        raise BadRequest(f"a channel has 1 to {MAX_SEGMENTS} segments")
    for index, segment in enumerate(segments):
        if segment == "*" and wildcard and index == len(segments) - 1 and index > 0:
            continue
        if not _SEGMENT.fullmatch(segment):
            raise BadRequest("a channel segment is 1 to 50 letters, digits or hyphens")
    return segments


def matches(subscription: list[str], published: list[str]) -> bool:
    """Whether a publish to ``published`` reaches a subscription to ``subscription``."""
    if subscription[-1] == "*":
        prefix = subscription[:-1]
        return len(published) > len(prefix) and published[: len(prefix)] == prefix
    return subscription == published


def error(error_type: str, message: str) -> dict[str, str]:
    return {"errorType": error_type, "message": message}


def check_authorization(
    auth: Auth,
    headers: Mapping[str, Any],
    body: bytes,
    *,
    http_host: str,
    now: datetime.datetime,
) -> Verdict:
    """Whether one authorization object authorizes ``body`` for this API."""
    if not all(isinstance(value, str) for value in headers.values()):
        return Verdict(False, "authorization values must be strings")
    lowered = {name.lower(): value for name, value in headers.items()}
    host = lowered.get("host")
    if host is None or not hmac.compare_digest(host.encode(), http_host.encode()):
        return Verdict(False, "host does not name the API's HTTP domain")
    if isinstance(auth, ApiKeyAuth):
        key = lowered.get("x-api-key", "")
        if not hmac.compare_digest(key.encode(), auth.key.encode()):
            return Verdict(False, "x-api-key is missing or wrong")
        return Verdict(True, "API key accepted")
    if isinstance(auth, TokenAuth):
        token = lowered.get("authorization", "")
        if not hmac.compare_digest(token.encode(), auth.token.encode()):
            return Verdict(False, "Authorization is missing or wrong")
        return Verdict(True, "token accepted")
    return verify(
        "POST",
        SIGNED_PATH,
        headers,
        body,
        credentials=auth.credentials,
        region=auth.region,
        service=SERVICE,
        now=now,
    )


@dataclass
class _Session:
    """One connection's state; ``subscriptions`` maps id -> channel segments."""

    connection: ServerConnection
    authorization: dict[str, Any] | None
    handshake_error: str | None
    behaviour: Behaviour
    acked: bool = False
    subscriptions: dict[str, list[str]] = field(default_factory=dict)


class Closed(Exception):
    """Raised inside a handler once the behaviour closed the connection."""


class LocalAppSyncEvents(WebSocketCounterpart):
    """The realtime endpoint, in a background thread until :meth:`stop`, on a
    free port of 127.0.0.1 unless ``port`` is given."""

    thread_name = "local-appsync-events"
    path = "/event/realtime"

    def serve_options(self) -> dict[str, Any]:
        return {
            "process_request": self._check_offer,
            "select_subprotocol": self._select,
            # The server's own pings would mix with the flood under test.
            "ping_interval": None,
        }

    def __init__(
        self,
        auth: Auth,
        *,
        http_host: str = DEFAULT_HTTP_HOST,
        connection_timeout_ms: int = DEFAULT_CONNECTION_TIMEOUT_MS,
        keepalive_seconds: float | None = 60.0,
        behaviour: Behaviour | None = None,
        clock: Callable[[], datetime.datetime] = _utc_now,
        port: int = 0,
    ) -> None:
        super().__init__(port=port)
        self.auth = auth
        self.http_host = http_host
        self.connection_timeout_ms = connection_timeout_ms
        self.keepalive_seconds = keepalive_seconds
        self.behaviour = behaviour or Behaviour()
        self.clock = clock
        # What the tests read: every frame received, each authorization verdict,
        # and the pong events of flood pings (set when the client answered).
        self.messages: list[str | bytes] = []
        self.verdicts: list[Verdict] = []
        self.pongs: list[threading.Event] = []
        self._lock = threading.Lock()
        self._sessions: list[_Session] = []

    def reset(self, behaviour: Behaviour | None = None) -> None:
        """Forget records and take ``behaviour`` (default: the real one) for new connections."""
        with self._lock:
            self.behaviour = behaviour or Behaviour()
            self.messages.clear()
            self.verdicts.clear()
            self.pongs.clear()

    # Handshake -------------------------------------------------------------

    @staticmethod
    def _offered(headers: Headers) -> list[str]:
        offered: list[str] = []
        for value in headers.get_all("Sec-WebSocket-Protocol"):
            try:
                offered.extend(parse_subprotocol(value))
            except InvalidHeader:
                continue
        return offered

    def _check_offer(self, connection: ServerConnection, request: Request) -> Response | None:
        if SUBPROTOCOL not in self._offered(request.headers):
            return connection.respond(
                HTTPStatus.BAD_REQUEST, f"Offer the {SUBPROTOCOL} subprotocol.\n"
            )
        return None

    @staticmethod
    def _select(connection: ServerConnection, offered: Any) -> Subprotocol | None:
        return SUBPROTOCOL if SUBPROTOCOL in offered else None

    def _open_session(self, connection: ServerConnection) -> _Session:
        assert connection.request is not None
        headers = [
            item
            for item in self._offered(connection.request.headers)
            if item.startswith(HEADER_PREFIX)
        ]
        authorization: dict[str, Any] | None = None
        handshake_error: str | None = None
        if len(headers) != 1:
            handshake_error = "offer exactly one header- subprotocol"
        else:
            try:
                authorization = decode_header_subprotocol(headers[0])
            except BadRequest as exc:
                handshake_error = str(exc)
        with self._lock:
            session = _Session(connection, authorization, handshake_error, self.behaviour)
            self._sessions.append(session)
        return session

    # Conversation ----------------------------------------------------------

    def _serve(self, connection: ServerConnection) -> None:
        session = self._open_session(connection)
        try:
            self._maybe_close(session, "open")
            self._converse(session)
        except (ConnectionClosed, Closed):
            pass
        finally:
            with self._lock:
                self._sessions.remove(session)

    def _converse(self, session: _Session) -> None:
        connection = session.connection
        interval = self.keepalive_seconds
        next_ka: float | None = None
        while True:
            timeout = None
            if next_ka is not None:
                timeout = max(next_ka - time.monotonic(), 0.0)
            try:
                frame = connection.recv(timeout=timeout)
            except TimeoutError:
                self._send(session, {"type": "ka"})
                next_ka = time.monotonic() + interval if interval is not None else None
                continue
            with self._lock:
                self.messages.append(frame)
            was_acked = session.acked
            self._answer(session, frame)
            if session.acked and not was_acked and interval is not None:
                next_ka = time.monotonic() + interval

    def _answer(self, session: _Session, frame: str | bytes) -> None:
        try:
            message = json.loads(frame)
        except ValueError:
            message = None
        if not isinstance(message, dict):
            self._send_error(session, "each message is a JSON object")
            return
        kind = message.get("type")
        if kind == "connection_init":
            self._connection_init(session)
        elif kind in ("subscribe", "publish", "unsubscribe"):
            if not session.acked:
                self._send_error(session, "send connection_init and await connection_ack first")
            elif session.behaviour.keepalive_only:
                return
            elif kind == "subscribe":
                self._subscribe(session, message)
            elif kind == "publish":
                self._publish(session, message)
            else:
                self._unsubscribe(session, message)
        else:
            self._send_error(session, "unknown message type")

    def _connection_init(self, session: _Session) -> None:
        behaviour = session.behaviour
        self._maybe_close(session, "connection_init")
        if session.acked:
            self._send_error(session, "the connection is already initialised")
            return
        if behaviour.ack == "never":
            return
        if session.authorization is None:
            self._refuse_connection(session, BAD_REQUEST, 400, session.handshake_error or "")
            return
        verdict = self._authorize(session.authorization, b"{}")
        if not verdict.ok:
            self._refuse_connection(session, UNAUTHORIZED, 401, UNAUTHORIZED_MESSAGE)
            return
        ack = {"type": "connection_ack", "connectionTimeoutMs": self.connection_timeout_ms}
        self._send(session, ack)
        if behaviour.ack == "twice":
            self._send(session, ack)
        session.acked = True
        for index in range(behaviour.ping_flood):
            pong = session.connection.ping(index.to_bytes(4, "big"))
            with self._lock:
                self.pongs.append(pong)
        self._maybe_close(session, "ack")

    def _refuse_connection(self, session: _Session, kind: str, code: int, message: str) -> None:
        self._send(
            session,
            {"type": "connection_error", "errors": [{**error(kind, message), "errorCode": code}]},
        )
        session.connection.close(1000)
        raise Closed

    def _subscribe(self, session: _Session, message: dict[str, Any]) -> None:
        self._maybe_close(session, "subscribe")
        identifier = message.get("id")
        try:
            channel = _required_string(message, "channel")
            if not isinstance(identifier, str) or not identifier:
                raise BadRequest("a subscribe needs a string id")
            segments = channel_segments(channel, wildcard=True)
            if identifier in session.subscriptions:
                raise BadRequest("a subscription with this id already exists")
        except BadRequest as exc:
            self._reply_error(session, "subscribe_error", identifier, BAD_REQUEST, str(exc))
            return
        if session.behaviour.subscribe_error is not None:
            self._reply_error(
                session,
                "subscribe_error",
                identifier,
                session.behaviour.subscribe_error,
                _configured_failure(session.behaviour.subscribe_error),
            )
            return
        if not self._authorize_message(session, "subscribe_error", message, signed_body(channel)):
            return
        with self._lock:
            session.subscriptions[identifier] = segments
        self._send(session, {"type": "subscribe_success", "id": identifier})
        if session.behaviour.echo_connection_params:
            echoed = json.dumps(session.authorization)
            self._send(session, {"type": "data", "id": identifier, "event": echoed})

    def _publish(self, session: _Session, message: dict[str, Any]) -> None:
        self._maybe_close(session, "publish")
        identifier = message.get("id")
        try:
            if not isinstance(identifier, str) or not identifier:
                raise BadRequest("a publish needs a string id")
            channel = _required_string(message, "channel")
            segments = channel_segments(channel, wildcard=False)
            events = _events(message)
        except BadRequest as exc:
            self._reply_error(session, "publish_error", identifier, BAD_REQUEST, str(exc))
            return
        if session.behaviour.publish_error is not None:
            self._reply_error(
                session,
                "publish_error",
                identifier,
                session.behaviour.publish_error,
                _configured_failure(session.behaviour.publish_error),
            )
            return
        body = signed_body(channel, events)
        if not self._authorize_message(session, "publish_error", message, body):
            return
        success = {
            "type": "publish_success",
            "id": identifier,
            "successful": [
                {"identifier": str(uuid.uuid4()), "index": index} for index in range(len(events))
            ],
            "failed": [],
        }
        if not session.behaviour.data_before_publish_success:
            self._send(session, success)
        self._deliver(segments, events)
        if session.behaviour.data_before_publish_success:
            self._send(session, success)

    def _unsubscribe(self, session: _Session, message: dict[str, Any]) -> None:
        identifier = message.get("id")
        with self._lock:
            known = isinstance(identifier, str) and (
                session.subscriptions.pop(identifier, None) is not None
            )
        if known:
            self._send(session, {"type": "unsubscribe_success", "id": identifier})
        else:
            self._reply_error(
                session, "unsubscribe_error", identifier, BAD_REQUEST, "no such subscription"
            )

    def _deliver(self, published: list[str], events: list[str]) -> None:
        with self._lock:
            targets = [
                (session, identifier)
                for session in self._sessions
                for identifier, channel in session.subscriptions.items()
                if matches(channel, published)
            ]
        for session, identifier in targets:
            for event in events:
                try:
                    self._send(session, {"type": "data", "id": identifier, "event": event})
                except ConnectionClosed:
                    break

    # Authorization ---------------------------------------------------------

    def _authorize(self, headers: Mapping[str, Any], body: bytes) -> Verdict:
        verdict = check_authorization(
            self.auth, headers, body, http_host=self.http_host, now=self.clock()
        )
        with self._lock:
            self.verdicts.append(verdict)
        return verdict

    def _authorize_message(
        self, session: _Session, reply: str, message: dict[str, Any], body: bytes
    ) -> bool:
        headers = message.get("authorization")
        if not isinstance(headers, dict):
            self._reply_error(session, reply, message["id"], UNAUTHORIZED, UNAUTHORIZED_MESSAGE)
            return False
        if not self._authorize(headers, body).ok:
            self._reply_error(session, reply, message["id"], UNAUTHORIZED, UNAUTHORIZED_MESSAGE)
            return False
        return True

    # Sending ---------------------------------------------------------------

    def _maybe_close(self, session: _Session, moment: Moment) -> None:
        behaviour = session.behaviour
        if behaviour.close_code is not None and behaviour.close_at == moment:
            session.connection.close(behaviour.close_code, f"closing at {moment}")
            raise Closed

    @staticmethod
    def _send(session: _Session, message: dict[str, Any]) -> None:
        session.connection.send(json.dumps(message))

    def _send_error(self, session: _Session, message: str) -> None:
        self._send(session, {"type": "error", "errors": [error(BAD_REQUEST, message)]})

    def _reply_error(
        self, session: _Session, kind: str, identifier: Any, error_type: str, message: str
    ) -> None:
        errors = [error(error_type, message)]
        self._send(session, {"type": kind, "id": identifier, "errors": errors})


def _configured_failure(error_type: str) -> str:
    return UNAUTHORIZED_MESSAGE if error_type == UNAUTHORIZED else "Invalid request."


def _required_string(message: dict[str, Any], name: str) -> str:
    value = message.get(name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string")
    return value


def _events(message: dict[str, Any]) -> list[str]:
    events = message.get("events")
    if not isinstance(events, list) or not 1 <= len(events) <= MAX_EVENTS:
        raise BadRequest(f"events is a list of 1 to {MAX_EVENTS} JSON texts")
    for event in events:
        if not isinstance(event, str):
            raise BadRequest("each event is a string of JSON text")
        try:
            json.loads(event)
        except ValueError:
            raise BadRequest("each event is a string of JSON text") from None
    return list(events)
