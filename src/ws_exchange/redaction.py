"""Keeping credentials out of every output: log lines, replies, tracebacks.

A credential is every string a credential mode put on the wire (the token, the
``Authorization`` value built from it, an encoded subprotocol, a query value, an
access token, a signature, a session token) and the values of the configured
URI's query string. :data:`scrubber` remembers them as they are made and replaces
them with ``[redacted]``.

Where a credential is replaced depends on its length. One of 8 characters or more
is replaced wherever it occurs, inside any text. A shorter one (a weak password,
a short key) is replaced only where it stands as a whole value: a header value, a
reply that is nothing else, a field of a log line. Inside longer text a password
``a`` would match half the words: keys, timestamps and the values reply checks
read would be rewritten. The forms derived from a short credential
(``Bearer <token>``, a Basic value) are long, and replaced anywhere. A warning
says when a credential is short, once per credential.

What is covered:

- every log record, whatever logger made it, at any level, whatever handler
  writes it: a log record factory (:func:`install`) rewrites the message and the
  traceback text when the record is created. Some lines are scrubbed by shape as
  well, because they may carry credentials this function never knew: header
  lines and dict entries named like ``Authorization`` or ``Cookie`` (websockets
  logs each handshake header at DEBUG, botocore each request's headers), query
  string values (websockets logs the request line), and botocore's dump of
  response bodies (the secret itself) and its signing details (signatures,
  session tokens) are replaced whole;
- every field of the function's own JSON log lines (:meth:`Scrubber.scrub_log_fields`,
  Powertools' serializer): ``extra`` keys and the exception are attached to a
  record after the factory ran, out of its reach;
- every reply kept in the result (a server may echo the handshake back).

Frame lines. websockets logs each frame at DEBUG with the start (and, for a long
payload, the end) of its payload. A credential cut across the fragments of a
message, or by websockets' elision of a long payload, leaves pieces that no search
for the whole credential finds, and which piece a line shows depends on where the
fragments and the elision fall. So while any credential is known, a frame line
shows the frame's kind and size and nothing of its payload: no piece of anything
in the payload can reach the line, wherever credentials fall. Before any
credential is known (``AUTH_MODE=none`` and no key in the URI), payloads are
logged as websockets writes them.
"""

from __future__ import annotations

import json
import logging
import re
from collections import OrderedDict
from collections.abc import Callable, Iterable
from typing import Any

from websockets.frames import Frame

REDACTED = "[redacted]"
# Credentials shorter than this are replaced only where they stand whole. The
# configured URI's query values shorter than this are not taken for keys at all:
# ``v=2`` or ``interval_ms=20`` are versions and settings.
SHORTEST_ANYWHERE = 8
# Credentials from before a rotation stay scrubbed for a while.
_REMEMBERED = 32

_NAMED_VALUE = re.compile(
    r"""((?:proxy-)?authorization|x-amz-security-token|x-amz-signature|(?:set-)?cookie)"""
    r"""(['"]?\s*[:=]\s*)(?:b?'[^']*'|b?"[^"]*"|[^\r\n]*)""",
    re.IGNORECASE,
)
# Words every _NAMED_VALUE match contains, lower-cased.
_NAMED_HINTS = ("authorization", "x-amz-security-token", "x-amz-signature", "cookie")
_QUERY_VALUE = re.compile(r"([?&][^=&\s#?]*=)[^&\s#\"']*")
# JSON string escapes, to see what a text spells once they are read.
_JSON_ESCAPE = re.compile(r"\\(?:u([0-9a-fA-F]{4})|(.))", re.DOTALL)
_SIMPLE_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t"}

log = logging.getLogger(__name__)


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
        # The same, for every target of a fleet at once: its targets open connections
        # concurrently, each replacing the one configuration's values with its own.
        self._fleet: frozenset[str] = frozenset()
        # Replaced anywhere, longest first: "Bearer <token>" goes whole before "<token>".
        self._anywhere: tuple[str, ...] = ()
        # Replaced where they stand whole.
        self._short: frozenset[str] = frozenset()
        self._in_json: tuple[str, ...] = ()

    def remember_configured(self, values: Iterable[str]) -> None:
        """Scrub ``values`` (from the configuration) from every later output.

        Only values long enough to be a key: a query string's ``v=2`` or
        ``interval_ms=20`` is not a credential.
        """
        configured = frozenset(value for value in values if len(value) >= SHORTEST_ANYWHERE)
        if configured != self._configured:
            self._configured = configured
            self._sort()

    def remember_fleet(self, values: Iterable[str]) -> None:
        """Scrub ``values`` (every target's configured ones) beside the configuration's own."""
        fleet = frozenset(value for value in values if len(value) >= SHORTEST_ANYWHERE)
        if fleet != self._fleet:
            self._fleet = fleet
            self._sort()

    def remember(self, credentials: Iterable[str]) -> None:
        """Scrub each of ``credentials`` from every later output; warn once about short ones."""
        changed = short = False
        for credential in credentials:
            if not credential:
                continue
            if credential in self._credentials:
                self._credentials.move_to_end(credential)
                continue
            self._credentials[credential] = None
            changed = True
            short = short or len(credential) < SHORTEST_ANYWHERE
            if len(self._credentials) > _REMEMBERED:
                self._credentials.popitem(last=False)
        if changed:
            self._sort()
        if short:
            log.warning(
                "A credential is shorter than %d characters: it is redacted only where it "
                "stands as a whole value (a header or query value, a whole reply, a log "
                "field), not inside longer text. Use a longer one.",
                SHORTEST_ANYWHERE,
            )

    def _sort(self) -> None:
        known = {*self._credentials, *self._configured, *self._fleet}
        long = (credential for credential in known if len(credential) >= SHORTEST_ANYWHERE)
        self._anywhere = tuple(sorted(long, key=len, reverse=True))
        self._short = frozenset(known) - frozenset(self._anywhere)
        # Each credential as it would stand inside a JSON string (escaping is per
        # character, so a credential in a field is this text in the line).
        self._in_json = tuple(json.dumps(c, ensure_ascii=False)[1:-1] for c in known)

    @property
    def knows_credentials(self) -> bool:
        """Whether any credential is remembered."""
        return bool(self._anywhere or self._short)

    def forget_all(self) -> None:
        """Forget every remembered credential (tests)."""
        self._credentials.clear()
        self._configured = frozenset()
        self._fleet = frozenset()
        self._anywhere = ()
        self._short = frozenset()
        self._in_json = ()

    def scrub_text(self, text: str) -> str:
        """``text`` without any credential of :data:`SHORTEST_ANYWHERE` characters or more."""
        for credential in self._anywhere:
            text = text.replace(credential, REDACTED)
        return text

    def scrub_whole(self, value: str) -> str:
        """``value`` (a whole value: a header, a reply, a log field) without any credential."""
        return REDACTED if value in self._short else self.scrub_text(value)

    def scrub_log_line(self, text: str) -> str:
        """``text`` without remembered credentials, credential-named values or query values."""
        text = self.scrub_text(text)
        text = _NAMED_VALUE.sub(lambda m: m.group(1) + m.group(2) + REDACTED, text)
        return _QUERY_VALUE.sub(lambda m: m.group(1) + REDACTED, text)

    def line_may_need_scrubbing(self, line: str) -> bool:
        """Whether :meth:`scrub_log_fields` could change any field of the JSON ``line``
        they were written as: a remembered credential, or a credential-named or query
        value, anywhere in it. Searching the written line once is a few us; scrubbing
        every field of every line cost a warm invocation ~150 us (cProfile, 500
        invocations against the bench server), 0.07 of the raw floor."""
        if any(credential in line for credential in self._in_json):
            return True
        # The patterns only where their literal parts are: searching a summary line
        # with them cost ~80 us, the substring tests ~2 us.
        lowered = line.lower()
        if any(name in lowered for name in _NAMED_HINTS) and _NAMED_VALUE.search(line):
            return True
        return ("?" in line or "&" in line) and _QUERY_VALUE.search(line) is not None

    def scrub_log_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """A structured log line's ``fields``, each value (however nested) scrubbed as
        a whole value and as a log line, each key as text.

        Values JSON cannot hold (an exception in a stack trace) are scrubbed as the
        text they would be written as.
        """
        scrubbed: dict[str, Any] = self._walk(
            fields, lambda value: self.scrub_log_line(self.scrub_whole(value))
        )
        return scrubbed

    def scrub_frame(self, frame: bytes) -> bytes:
        """A received binary frame without remembered credentials, before it is encoded."""
        if any(frame == credential.encode("utf-8") for credential in self._short):
            return REDACTED.encode("ascii")
        for credential in self._anywhere:
            frame = frame.replace(credential.encode("utf-8"), REDACTED.encode("ascii"))
        return frame

    def scrub_reply(self, frame: str | bytes, reply: Any) -> Any:
        """``reply`` (what ``frame`` decoded to) without remembered credentials.

        Decoded values are scrubbed, not the frame's text, so that a replaced
        credential can never break the JSON around it; a reply kept as text is
        scrubbed as text, escapes read. A short credential goes only when it is
        the whole reply: inside a reply it may be any word (``{"role": "admin"}``).
        """
        if isinstance(reply, str) and reply in self._short:
            return REDACTED
        if isinstance(frame, str):
            # A decoded string spells a credential only if the frame's text does,
            # or escapes it: one look at the text spares the walk through the
            # value (~6 us a reply, +0.02 on the 1000-message batch's ratio to
            # the raw loop, whose target is 1.15).
            if not self.may_hide_credentials(frame) and not any(
                credential in frame for credential in self._anywhere
            ):
                return reply
            if reply is frame:
                return self.scrub_escaped_text(self.scrub_text(frame))
        # Binary replies too: base64 can spell a credential (an alphanumeric key).
        return self.scrub_value(reply)

    def may_hide_credentials(self, frame: str) -> bool:
        """Whether a decoded ``frame`` could hold a credential its text does not show."""
        return bool(self._anywhere) and "\\" in frame

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
        """A decoded JSON value with every string (and key) scrubbed as text."""
        return self._walk(value, self.scrub_text)

    def _walk(self, value: Any, scrub: Callable[[str], str]) -> Any:
        """A copy of ``value`` with ``scrub`` applied to every string in it, and
        :meth:`scrub_text` to every key.

        Iterative: a reply may nest as deep as the JSON decoder allows, far deeper
        than Python's recursion limit.
        """
        # (item, the copy to put its scrubbed form in, at which key or index):
        # copies are built top-down, each slot filled when its item is popped.
        result: list[Any] = [None]
        stack: list[tuple[Any, Any, Any]] = [(value, result, 0)]
        while stack:
            item, parent, key = stack.pop()
            if isinstance(item, list | tuple):
                copy: Any = [None] * len(item)
                stack.extend((child, copy, index) for index, child in enumerate(item))
                item = copy
            elif isinstance(item, dict):
                copy = {}
                for name, child in item.items():
                    scrubbed = self.scrub_text(name) if isinstance(name, str) else name
                    copy[scrubbed] = None
                    stack.append((child, copy, scrubbed))
                item = copy
            elif item is not None and not isinstance(item, bool | int | float):
                item = scrub(item if isinstance(item, str) else str(item))
            parent[key] = item
        return result[0]


scrubber = Scrubber()


def _without_payload(frame: Frame) -> str:
    """What a frame line shows while credentials are known: the frame's kind and size."""
    continued = "" if frame.fin else ", continued"
    return f"{frame.opcode.name} {REDACTED} [{len(frame.data)} bytes{continued}]"


def _scrub_argument(argument: Any) -> Any:
    """A log record's argument: a frame without its payload, a string (a header's
    value, say) without credentials, each item of a comma-separated list
    (``Sec-WebSocket-Protocol: chat, <key>``) taken as a whole value."""
    if isinstance(argument, Frame) and scrubber.knows_credentials:
        return _without_payload(argument)
    if isinstance(argument, str):
        return ", ".join(scrubber.scrub_whole(item) for item in argument.split(", "))
    return argument


def _scrub(record: logging.LogRecord) -> None:
    if isinstance(record.msg, str) and record.msg.startswith("Response body"):
        # botocore's DEBUG dump of a response: for GetSecretValue, the secret.
        record.msg, record.args = "Response body: [redacted]", None
        return
    if record.name == "botocore.auth":
        # The canonical request, string to sign and signature of every AWS
        # call (the signature on a line of its own, the session token inside).
        record.msg, record.args = "request signing details [redacted]", None
        return
    if isinstance(record.args, tuple):
        record.args = tuple(_scrub_argument(arg) for arg in record.args)
    message = record.getMessage()
    scrubbed = scrubber.scrub_log_line(message)
    if scrubbed != message:
        record.msg, record.args = scrubbed, None
    if record.exc_info and record.exc_info[1] is not None:
        # What a standard formatter would write, scrubbed; formatters use
        # exc_text when it is set.
        text = logging.Formatter().formatException(record.exc_info)
        scrubbed = scrubber.scrub_log_line(text)
        if scrubbed != text:
            record.exc_text = scrubbed


def _scrubbing_factory(make: Callable[..., logging.LogRecord]) -> Callable[..., logging.LogRecord]:
    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        record = make(*args, **kwargs)
        _scrub(record)
        return record

    factory.scrubs_credentials = True  # type: ignore[attr-defined]
    return factory


def install() -> None:
    """Scrub every log record from now on (idempotent)."""
    current = logging.getLogRecordFactory()
    if not getattr(current, "scrubs_credentials", False):
        logging.setLogRecordFactory(_scrubbing_factory(current))
