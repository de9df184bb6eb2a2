"""``AUTH_MODE=message``: the token sent in a first message, after the handshake.

Nothing travels on the handshake. Once the connection is open, ``AUTH_MESSAGE`` (a JSON
value) is sent with every ``{token}`` inside its string values replaced by the token, as
Home Assistant and many exchange and realtime APIs expect. Replies are then read, each
within the reply timeout and the deadline: one matching ``AUTH_FAILURE`` (JMESPath), a
close, or more than :data:`MAX_SKIPPED_REPLIES` replies matching neither expression is
``auth_rejected``; one matching ``AUTH_SUCCESS`` (by default: the first reply that does
not match ``AUTH_FAILURE``) lets the exchange begin. Replies matching neither (a
greeting such as ``{"type": "auth_required"}``) are skipped. A reply larger than
``MAX_MESSAGE_BYTES`` is ``message_too_large``, not a refusal.

The secret holds the token (``TOKEN_SECRET_FIELD``, or the whole string). Nothing is
cached beyond the core's secret cache. Scrubbed: the token and its JSON-escaped form.
The token may hold any character: JSON escapes what needs it.
The token is sent on the connection opened, after any redirect, so it goes where the
connection went: the core must refuse cross-origin redirects.

:func:`auth_text` and :func:`judge` are the pure half; :meth:`Message.after_open` the I/O.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from websockets.exceptions import ConnectionClosed as WebSocketClosed
from websockets.frames import CloseCode

from ..checks import MAX_EXPRESSION_CHARS, Expression, compile_expression, matches
from ..errors import AuthRejected, ConfigError, ExchangeError, MessageTooLarge, ReplyTimeout
from ..framing import decode, encode, loads
from . import Handshake, Prepared, ReadSecret, read_token, setting, token_field

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..deadline import Deadline

PLACEHOLDER = "{token}"
# Greetings and notices a server may send before its verdict (a documented bound).
MAX_SKIPPED_REPLIES = 10

Verdict = Literal["success", "failure", "skip"]


def replace_token(value: Any, token: str) -> Any:
    """``value`` with every ``{token}`` in its string values replaced (keys untouched). Pure."""
    if isinstance(value, str):
        return value.replace(PLACEHOLDER, token)
    if isinstance(value, list):
        return [replace_token(item, token) for item in value]
    if isinstance(value, dict):
        return {key: replace_token(item, token) for key, item in value.items()}
    return value


def _has_placeholder(value: Any) -> bool:
    if isinstance(value, str):
        return PLACEHOLDER in value
    if isinstance(value, list):
        return any(_has_placeholder(item) for item in value)
    if isinstance(value, dict):
        return any(_has_placeholder(item) for item in value.values())
    return False


def auth_text(template: Any, token: str) -> str:
    """The frame that carries the token: a string as is, any other value as JSON. Pure."""
    return encode(replace_token(template, token))


def judge(reply: Any, success: Expression | None, failure: Expression | None) -> Verdict:
    """What a decoded reply says about the authentication. Pure.

    As the reply checks evaluate: JMESPath truthiness, and an expression that
    cannot be evaluated on a reply does not match it.
    """
    if failure is not None and matches(failure, reply):
        return "failure"
    if success is None or matches(success, reply):
        return "success"
    return "skip"


def closed_error(exc: WebSocketClosed, max_message_bytes: int | None) -> ExchangeError:
    """What a closed connection during authentication means. Pure.

    websockets closes the connection itself, with 1009 (the close frame it *sent*), when
    a reply exceeds its ``max_size``: that is the reply's size, not the server's verdict.
    A 1009 the server sent first (and websockets echoed) is the server's own close.
    """
    too_big = exc.sent is not None and exc.sent.code == CloseCode.MESSAGE_TOO_BIG
    if too_big and not exc.rcvd_then_sent:
        limit = f" ({max_message_bytes} bytes)" if max_message_bytes is not None else ""
        return MessageTooLarge(
            f"The server's reply to the authentication message is larger than "
            f"MAX_MESSAGE_BYTES{limit}."
        )
    code = exc.rcvd.code if exc.rcvd is not None else None
    detail = f" (close code {code})" if code is not None else ""
    return AuthRejected(
        f"The server closed the connection after the authentication message{detail}."
    )


@dataclass(frozen=True, slots=True)
class Message:
    """The token in a message sent right after the handshake."""

    needs_secret: ClassVar[bool] = True
    template: Any
    success: Expression | None = None
    failure: Expression | None = None
    field: str = "token"

    def __repr__(self) -> str:
        return f"Message(field={self.field!r})"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        escaped = json.dumps(token)[1:-1]
        credentials = (token,) if escaped == token else (token, escaped)
        return Prepared(handshake, fresh=fresh, credentials=credentials, token=token)

    async def after_open(
        self,
        connection: ClientConnection,
        prepared: Prepared,
        deadline: Deadline,
        reply_timeout: float,
    ) -> None:
        """Send the authentication message and wait for the verdict.

        Raises:
            AuthRejected: a reply matched ``AUTH_FAILURE``, the server closed the
                connection, or sent too many replies matching neither expression.
            MessageTooLarge: a reply larger than ``MAX_MESSAGE_BYTES``.
            ReplyTimeout: no reply within ``reply_timeout`` (or the deadline).
        """
        assert prepared.token is not None, "prepare() of this mode sets the token"
        text = auth_text(self.template, prepared.token)
        try:
            await self._send(connection, text, deadline, reply_timeout)
            for _ in range(MAX_SKIPPED_REPLIES + 1):
                reply = decode(await self._receive(connection, deadline, reply_timeout))
                verdict = judge(reply, self.success, self.failure)
                if verdict == "success":
                    return
                if verdict == "failure":
                    raise AuthRejected("The server refused the authentication message.")
        except WebSocketClosed as exc:
            raise closed_error(exc, connection.protocol.max_message_size) from None
        raise AuthRejected(
            f"The server sent {MAX_SKIPPED_REPLIES + 1} replies to the authentication message "
            "and none matched AUTH_SUCCESS or AUTH_FAILURE."
        )

    @staticmethod
    async def _send(
        connection: ClientConnection, text: str, deadline: Deadline, reply_timeout: float
    ) -> None:
        timeout = deadline.cap(reply_timeout)
        if timeout <= 0:
            raise ReplyTimeout("No time was left before the Lambda deadline to authenticate.")
        try:
            async with asyncio.timeout(timeout):
                await connection.send(text)
        except TimeoutError:
            raise ReplyTimeout(
                f"Sending the authentication message took longer than {timeout:g} s."
            ) from None

    @staticmethod
    async def _receive(
        connection: ClientConnection, deadline: Deadline, reply_timeout: float
    ) -> str | bytes:
        timeout = deadline.cap(reply_timeout)
        if timeout <= 0:
            raise ReplyTimeout(
                "No time was left before the Lambda deadline to wait for the authentication reply."
            )
        try:
            async with asyncio.timeout(timeout):
                return await connection.recv()
        except TimeoutError:
            raise ReplyTimeout(
                f"No reply to the authentication message within {timeout:g} s."
            ) from None


def _expression(environ: Mapping[str, str], name: str) -> Expression | None:
    raw = setting(environ, name)
    if raw is None:
        return None
    if len(raw) > MAX_EXPRESSION_CHARS:
        raise ConfigError(f"{name} is longer than {MAX_EXPRESSION_CHARS} characters.")
    try:
        return compile_expression(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} {exc}.") from None


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Message:
    """The mode from ``AUTH_MESSAGE``, ``AUTH_SUCCESS`` and ``AUTH_FAILURE``.

    Raises:
        ConfigError: naming the variable missing or invalid.
    """
    raw = setting(environ, "AUTH_MESSAGE")
    if raw is None:
        raise ConfigError(
            'AUTH_MESSAGE is required with AUTH_MODE message, e.g. {"type": "auth", '
            '"access_token": "{token}"}.'
        )
    try:
        template = loads(raw)
    except ValueError:
        raise ConfigError("AUTH_MESSAGE must be valid JSON.") from None
    if not _has_placeholder(template):
        raise ConfigError(
            'AUTH_MESSAGE must contain "{token}" in a string value, where the token goes.'
        )
    try:
        auth_text(template, "").encode("utf-8")
    except UnicodeEncodeError:
        # The environment decodes with surrogateescape: bytes that were not UTF-8.
        raise ConfigError("AUTH_MESSAGE must be UTF-8 text.") from None
    return Message(
        template=template,
        success=_expression(environ, "AUTH_SUCCESS"),
        failure=_expression(environ, "AUTH_FAILURE"),
        field=token_field(environ),
    )
