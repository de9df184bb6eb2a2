"""Keeping credentials out of every output: log records, replies, tracebacks.

A credential is every string a credential mode put on the wire (the token, the
``Authorization`` value built from it, an encoded subprotocol, a query value, an
access token, a signature, a session token) and the values of the configured
URI's query string. :data:`scrubber` remembers them as they are made and replaces
each occurrence with ``[redacted]``:

- in every log record, whatever logger made it and whatever the level: a log
  record factory rewrites the message when the record is created, so no handler
  (Powertools', the Lambda runtime's, the root logger's) ever sees the original.
  Some lines are scrubbed by shape as well, because they may carry credentials
  this function never knew: header lines and dict entries named like
  ``Authorization`` or ``Cookie`` (websockets logs each handshake header at DEBUG,
  botocore each request's headers), query string values (websockets logs the
  request line), and botocore's dump of response bodies (the secret itself) and
  its signing details (signatures, session tokens) are replaced whole;
- in every reply kept in the result (a server may echo the handshake back);
- in tracebacks logged for ``internal_error``.
"""

from __future__ import annotations

import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

REDACTED = "[redacted]"
# Credentials from before a rotation stay scrubbed for a while.
_REMEMBERED = 32
# The shortest query value of the configured URI taken for a key (API keys are
# far longer; shorter values are versions, flags, counts).
_SHORTEST_KEY = 8

_NAMED_VALUE = re.compile(
    r"""((?:proxy-)?authorization|x-amz-security-token|x-amz-signature|(?:set-)?cookie)"""
    r"""(['"]?\s*[:=]\s*)(?:b?'[^']*'|b?"[^"]*"|[^\r\n]*)""",
    re.IGNORECASE,
)
_QUERY_VALUE = re.compile(r"([?&][^=&\s#?]*=)[^&\s#\"']*")
# JSON string escapes, to see what a text spells once they are read.
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}


def _unescape(match: re.Match[str]) -> str:
    if match.group(1) is not None:
        return chr(int(match.group(1), 16))
    return _SIMPLE_ESCAPES.get(match.group(2), match.group(2))


class Scrubber:
    """Remembers credentials and removes them from text and JSON values."""

    def __init__(self) -> None:
        self._credentials: OrderedDict[str, None] = OrderedDict()
        # Values of the configured URI's query string: replaced, not accumulated,
        # so that however many there are, they never push a credential out.
        self._configured: frozenset[str] = frozenset()
        self._sorted: tuple[str, ...] = ()

    def remember_configured(self, values: Iterable[str]) -> None:
        """Scrub ``values`` (from the configuration) from every later output.

        Only values long enough to be a key: a query string's ``v=2`` or
        ``interval_ms=20`` is not a credential, and scrubbing every "2" would
        make the output useless.
        """
        configured = frozenset(value for value in values if len(value) >= _SHORTEST_KEY)
        if configured != self._configured:
            self._configured = configured
            self._sort()

    def remember(self, credentials: Iterable[str]) -> None:
        """Scrub each of ``credentials`` from every later output."""
        changed = False
        for credential in credentials:
            if not credential:
                continue
            if credential in self._credentials:
                self._credentials.move_to_end(credential)
                continue
            self._credentials[credential] = None
            changed = True
            if len(self._credentials) > _REMEMBERED:
                self._credentials.popitem(last=False)
        if changed:
            self._sort()

    def _sort(self) -> None:
        # Longest first, so that "Bearer <token>" goes whole before "<token>" alone.
        known = {*self._credentials, *self._configured}
        self._sorted = tuple(sorted(known, key=len, reverse=True))

    @property
    def remembered(self) -> tuple[str, ...]:
        """Every credential scrubbed, longest first."""
        return self._sorted

    def forget_all(self) -> None:
        """Forget every remembered credential (tests)."""
        self._credentials.clear()
        self._configured = frozenset()
        self._sorted = ()

    def scrub_text(self, text: str) -> str:
        """``text`` without any remembered credential."""
        for credential in self._sorted:
            if credential in text:
                text = text.replace(credential, REDACTED)
        return text

    def scrub_log_line(self, text: str) -> str:
        """``text`` without remembered credentials, credential-named values or query values."""
        text = self.scrub_text(text)
        text = _NAMED_VALUE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
        return _QUERY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)

    def scrub_frame(self, frame: bytes) -> bytes:
        """A received binary frame without remembered credentials, before it is encoded."""
        for credential in self._sorted:
            encoded = credential.encode("utf-8")
            if encoded in frame:
                frame = frame.replace(encoded, REDACTED.encode("ascii"))
        return frame

    def scrub_reply(self, frame: str | bytes, reply: Any) -> Any:
        """``reply`` (what ``frame`` decoded to) without remembered credentials.

        Decoded values are scrubbed, not the frame's text, so that a replaced
        credential can never break the JSON around it; a reply kept as text is
        scrubbed as text, escapes read. Most replies hold no credential and no
        escape, and are returned as they are after one look at their text.
        """
        if isinstance(frame, str):
            if not self.may_hide_credentials(frame) and not any(
                credential in frame for credential in self._sorted
            ):
                return reply
            if reply is frame:
                return self.scrub_escaped_text(self.scrub_text(frame))
        # Binary replies too: base64 can spell a credential (an alphanumeric key).
        return self.scrub_value(reply)

    def may_hide_credentials(self, frame: str) -> bool:
        """Whether a decoded ``frame`` could hold a credential its text does not show."""
        return bool(self._sorted) and "\\" in frame

    def scrub_escaped_text(self, text: str) -> str:
        """``text`` (a reply kept as text) without credentials spelled with JSON escapes.

        When the escapes spell one, the text is kept with its escapes read (and any
        lone surrogate written back as an escape, so that it stays UTF-8).
        """
        if not self.may_hide_credentials(text):
            return text
        unescaped = _JSON_ESCAPE.sub(_unescape, text)
        scrubbed = self.scrub_text(unescaped)
        if scrubbed == unescaped:
            return text
        return scrubbed.encode("utf-8", "backslashreplace").decode("utf-8")

    def scrub_value(self, value: Any) -> Any:
        """A decoded JSON value with every string (and key) scrubbed.

        Iterative: a reply may nest as deep as the JSON decoder allows, far deeper
        than Python's recursion limit.
        """
        if not isinstance(value, list | dict):
            return self.scrub_text(value) if isinstance(value, str) else value
        # (item, the copy to put its scrubbed form in, at which key or index):
        # copies are built top-down, each slot filled when its item is popped.
        result: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(value, result, 0)]
        while stack:
            item, parent, key = stack.pop()
            if isinstance(item, str):
                item = self.scrub_text(item)
            elif isinstance(item, list):
                copy: Any = [None] * len(item)
                stack.extend((child, copy, index) for index, child in enumerate(item))
                item = copy
            elif isinstance(item, dict):
                copy = {}
                for name, child in item.items():
                    scrubbed = self.scrub_text(name)
                    copy[scrubbed] = None
                    stack.append((child, copy, scrubbed))
                item = copy
            parent[key] = item
        return result[0]


scrubber = Scrubber()


def _frame_payload_hides_credential(args: Any) -> bool:
    # websockets logs frames as ("> %s", frame), eliding the middle of long
    # payloads: a credential cut in two would survive text replacement.
    if isinstance(args, tuple) and len(args) == 1:
        data = getattr(args[0], "data", None)
        if isinstance(data, bytes | bytearray):
            return scrubber.scrub_frame(bytes(data)) != data
    return False


def _may_need_scrubbing(message: str) -> bool:
    # Every shape scrubbed has a ":" or "=" (a header, a query value), or a
    # remembered credential; most lines (the summary line) have neither.
    return ":" in message or "=" in message or any(c in message for c in scrubber.remembered)


def _scrubbing_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        if isinstance(record.msg, str) and record.msg.startswith("Response body"):
            # botocore's DEBUG dump of a response: for GetSecretValue, the secret.
            record.msg, record.args = "Response body: [redacted]", None
            return record
        if record.name == "botocore.auth":
            # The canonical request, string to sign and signature of every AWS
            # call (the signature on a line of its own, the session token inside).
            record.msg, record.args = "request signing details [redacted]", None
            return record
        if record.name.startswith("websockets") and _frame_payload_hides_credential(record.args):
            record.msg, record.args = "%s frame [redacted]", (str(record.msg)[:1],)
            return record
        message = record.getMessage()
        scrubbed = scrubber.scrub_log_line(message) if _may_need_scrubbing(message) else message
        if scrubbed != message:
            record.msg, record.args = scrubbed, None
        return record

    factory.scrubs_credentials = True  # type: ignore[attr-defined]
    return factory


def install() -> None:
    """Scrub every log record from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "scrubs_credentials", False):
        logging.setLogRecordFactory(_scrubbing_factory(current))
