"""Message framing. Pure logic.

Outgoing: a JSON object gains a UTC timestamp in ``TIMESTAMP_FIELD`` (default
``timestamp``; empty: none) unless it has that field, and is sent as JSON text;
exactly ``{"binary_base64": "<base64>"}`` is sent as a binary frame of those
bytes, never stamped; a string is sent as a text frame unchanged; anything else
as its JSON text. Incoming: JSON text is decoded, other text kept as a string,
binary returned as ``{"binary_base64": ...}``, the shape a binary message goes out in.

Everything a reply decodes to is strict JSON that encodes to UTF-8: no NaN or
Infinity (``1e400`` included, which Python's decoder turns into ``inf``) and no
lone surrogates (``"\\ud800"`` is valid JSON text but not a character). A reply
that would decode to such a value is kept as its text instead.
"""

from __future__ import annotations

import base64
import functools
import json
import math
import re
import time
from datetime import UTC, datetime
from typing import Any, NamedTuple

# One outgoing message, counted as sent (UTF-8 bytes of its frame, timestamp
# included): websockets' own default max_size, far above any command or subscription.
MAX_OUTGOING_BYTES = 1024 * 1024
# Nesting deeper than this is not a message, it is an attempt to exhaust the
# JSON encoder's recursion.
MAX_NESTING = 64

# No cycle check: every value it encodes is decoded JSON, or built from decoded
# JSON by filling placeholders, and holds no cycle (~0.25 us of a ~2 us message).
_encoder = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
)
# A JSON escape that can stand for half of a surrogate pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_JSON_WHITESPACE = " \t\n\r"
_decoder = json.JSONDecoder(parse_float=_finite, parse_constant=_reject_constant)


def loads(text: str) -> Any:
    """Decode strict JSON text; any failure (too deep included) is a :class:`ValueError`."""
    # raw_decode, the whitespace around the value skipped here: JSONDecoder.decode
    # does the same with two regular expressions, ~0.3 us of each reply.
    start = len(text) - len(text.lstrip(_JSON_WHITESPACE))
    try:
        value, end = _decoder.raw_decode(text, start)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if end != len(text) and text[end:].strip(_JSON_WHITESPACE):
        raise ValueError("extra data after the JSON value")
    if "\\" in text and _SURROGATE_ESCAPE.search(text):
        dumps(value).encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, as sent and as counted against the result's size limit."""
    return _encoder.encode(value)


# TIMESTAMP_FIELD when unset.
DEFAULT_TIMESTAMP_FIELD = "timestamp"
# The one shape of a binary message, out and back: {"binary_base64": "<base64>"}.
BINARY_FIELD = "binary_base64"


def _timestamp(moment: datetime) -> str:
    # Fixed width (microseconds always shown): a message's size is known before it is sent.
    return moment.isoformat(timespec="microseconds")


# The current second's text up to its fraction ("2026-12-05T03:56:26."), and that second.
_second: tuple[int, str] = (-1, "")


def now() -> str:
    """The current UTC time as a message's timestamp.

    Exactly ``_timestamp(datetime.now(UTC))``, written from the second's text, made
    once a second: 0.6 us against 1.5 us, paid as each message is sent, between
    a reply and the next message.
    """
    global _second
    seconds, fraction = divmod(time.time_ns() // 1000, 1_000_000)
    second, head = _second
    if seconds != second:
        head = _timestamp(datetime.fromtimestamp(seconds, UTC))[:20]
        _second = (seconds, head)
    return f"{head}{fraction:06d}+00:00"


def _gets_timestamp(message: Any, field: str) -> bool:
    return bool(field) and isinstance(message, dict) and field not in message


def stamp(
    message: Any,
    field: str = DEFAULT_TIMESTAMP_FIELD,
    *,
    now: datetime | None = None,
    timestamp: str | None = None,
) -> Any:
    """Return ``message`` as it will be sent: an object without ``field`` gains it
    (``now``, by default the current time, or the given ``timestamp`` text);
    an empty ``field`` stamps nothing."""
    if not _gets_timestamp(message, field):
        return message
    if timestamp is None:
        timestamp = _timestamp(now if now is not None else datetime.now(UTC))
    return {**message, field: timestamp}


def encode(message: Any) -> str:
    """The text frame for an already stamped ``message``."""
    if isinstance(message, str):
        return message
    return dumps(message)


# Every timestamp has this many characters (any moment will do to count them).
_TIMESTAMP_LENGTH = len(_timestamp(datetime(2000, 1, 1, tzinfo=UTC)))


class Outgoing(NamedTuple):
    """A message checked and encoded once, before any I/O; stamped when sent.

    ``timestamp_field`` is where the timestamp goes (``None``: the message is sent
    as ``data``, as are strings, lists, binary messages and objects that carry
    the field already). The frame is exactly ``encode(stamp(message, field,
    timestamp=...))``: the timestamp is put into text encoded beforehand rather
    than the stamped object encoded again, which saves ~5 us per message. A
    1000-message batch against a raw send/recv loop on loopback measured 1.10x
    this way and 1.16x encoding each stamped object (in-process, median of 31
    shuffled rounds, 2026-12-05), where ``make bench`` allows 1.15x.

    A named tuple made in one step (:func:`_outgoing`), not a frozen dataclass
    stamped in a second: a message built from variables is made as it is sent,
    and this is ~1.5 us of its ~5 us.
    """

    # The message as the caller wrote it.
    message: Any
    # The frame without a timestamp: JSON text, or bytes for a binary message.
    data: str | bytes
    # UTF-8 bytes of ``data``.
    data_size: int
    # Bytes of the frame as sent, timestamp included.
    size: int
    timestamp_field: str | None = None
    # With a timestamp_field: the frame's text up to the timestamp's value.
    head: str = ""

    @property
    def shown_size(self) -> int:
        """Bytes of the message as the result's ``sent`` shows it (compact JSON).

        That is the frame itself except for a string, shown quoted and escaped
        (a control character takes 6 bytes), and a binary message, shown as base64.
        """
        if isinstance(self.message, str) or isinstance(self.data, bytes):
            return len(dumps(self.message).encode("utf-8"))
        return self.size

    def stamped_with(self, field: str) -> Outgoing:
        """This message with its timestamp in ``field`` (empty: no timestamp).

        Raises:
            ValueError: the timestamp takes the frame past :data:`MAX_OUTGOING_BYTES`.
        """
        return _outgoing(self.message, self.data, self.data_size, field)

    def frame_at(self, timestamp: str) -> str | bytes:
        """The frame, stamped with ``timestamp``."""
        if self.timestamp_field is None:
            return self.data
        return f'{self.head}{timestamp}"}}'

    def sent_at(self, timestamp: str) -> Any:
        """The message as the frame stamped with ``timestamp`` carries it."""
        if self.timestamp_field is None:
            return self.message
        return stamp(self.message, self.timestamp_field, timestamp=timestamp)


def _outgoing(message: Any, data: str | bytes, data_size: int, field: str) -> Outgoing:
    """``message``, encoded as ``data``, ready to be sent with its timestamp in ``field``.

    Raises:
        TooLarge: the timestamp takes the frame past :data:`MAX_OUTGOING_BYTES`.
    """
    if not (isinstance(data, str) and _gets_timestamp(message, field)):
        return Outgoing(message, data, data_size, data_size)
    # stamp() adds the field last; a timestamp is plain ASCII that needs no escapes.
    comma = "," if message else ""
    name, name_size = _field_name(field)
    # What the head adds to data: [,]"<field>":" then <timestamp>" (the brace stays).
    size = data_size + len(comma) + name_size + 1 + _TIMESTAMP_LENGTH + 2
    if size > MAX_OUTGOING_BYTES:
        raise TooLarge(_too_large())
    return Outgoing(message, data, data_size, size, field, f'{data[:-1]}{comma}{name}:"')


@functools.lru_cache(maxsize=16)
def _field_name(field: str) -> tuple[str, int]:
    """``field`` as JSON text, and its UTF-8 bytes (one TIMESTAMP_FIELD per deployment)."""
    name = dumps(field)
    return name, len(name.encode("utf-8"))


class TooLarge(ValueError):
    """A message larger or deeper than a message may be (the reason after "The message")."""


def _too_large() -> str:
    return f"is larger than {MAX_OUTGOING_BYTES} bytes once encoded"


def is_binary(message: Any) -> bool:
    """Whether ``message`` is a binary message, ``{"binary_base64": ...}`` exactly."""
    return isinstance(message, dict) and len(message) == 1 and BINARY_FIELD in message


def prepare_written(message: Any, data: str, timestamp_field: str) -> Outgoing:
    """As :func:`prepare`, for a message already written as its frame's text ``data``
    (``encode(message)``, nested as deep as the message was checked to be).

    Raises:
        TooLarge: the frame is larger than :data:`MAX_OUTGOING_BYTES`.
        ValueError: it cannot be sent as UTF-8 text.
    """
    try:
        size = len(data) if data.isascii() else len(data.encode("utf-8"))
    except UnicodeEncodeError:
        raise ValueError("cannot be sent as UTF-8 text (it holds a lone surrogate)") from None
    if size > MAX_OUTGOING_BYTES:
        raise TooLarge(_too_large())
    return _outgoing(message, data, size, timestamp_field)


def prepare(message: Any, timestamp_field: str = DEFAULT_TIMESTAMP_FIELD) -> Outgoing:
    """Check ``message`` and encode it for sending, stamped in ``timestamp_field``.

    Raises:
        ValueError: with a reason to put after "The message": too deep, too large,
            not representable as JSON, not encodable as UTF-8 text, or a binary
            message whose base64 is invalid.
    """
    _check_nesting(message)
    if is_binary(message):
        data = _binary(message[BINARY_FIELD])
        if len(data) > MAX_OUTGOING_BYTES:
            raise TooLarge(_too_large())
        return _outgoing(message, data, len(data), timestamp_field)
    try:
        text = encode(message)
    except (ValueError, TypeError):
        raise ValueError("holds a value JSON cannot represent") from None
    return prepare_written(message, text, timestamp_field)


def _binary(text: Any) -> bytes:
    if not isinstance(text, str):
        raise ValueError(f"has a {BINARY_FIELD} that is not a string of base64")
    # A base64 text's length bounds its bytes: refuse a huge one before decoding it.
    if len(text) > (MAX_OUTGOING_BYTES + 2) // 3 * 4:
        raise TooLarge(_too_large())
    try:
        # Strict: the lenient decoder drops characters outside the alphabet,
        # sending other bytes than the caller wrote.
        return base64.b64decode(text, validate=True)
    except ValueError:
        raise ValueError(
            f"has a {BINARY_FIELD} that is not valid base64 (standard alphabet, padded)"
        ) from None


# A tuple, not dict | list: isinstance over a union built at each call costs
# ~0.1 us more, and this is asked of every value of every message.
_CONTAINERS = (dict, list)


def _check_nesting(value: Any) -> None:
    # Iterative: the point is to refuse what would exhaust recursion. Only
    # containers are stacked: a 5 MB list of numbers is a loop, not 2 million tuples.
    if not isinstance(value, _CONTAINERS):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise TooLarge(f"is nested deeper than {MAX_NESTING} levels")
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, _CONTAINERS):
                stack.append((child, depth + 1))


def decode(frame: str | bytes) -> Any:
    """The JSON value a received frame stands for."""
    if isinstance(frame, str):
        try:
            return loads(frame)
        except ValueError:
            return frame
    return {"binary_base64": base64.b64encode(frame).decode("ascii")}


# A number Python may write back longer than the frame has it: one with an
# exponent (1e15 comes back as 1000000000000000.0), or a float of 17 or more
# integer digits (12345678901234567.5 comes back as 1.2345678901234568e+16).
_MAY_GROW = re.compile(r"[0-9](?:[eE]|[0-9]{16}\.)")


def kept_size(frame: str | bytes, decoded: Any, reply: Any) -> int:
    """Bytes ``reply`` (``frame`` received, ``decoded``, then scrubbed) takes in
    the result as compact JSON; never less, so the result's size limit holds.

    JSON text is counted as its frame, without encoding it again: receiving,
    decoding and counting 1000 replies of 77 bytes took 1.08x a raw
    send/recv loop this way, 1.16x encoding each (in-process on loopback,
    median of 31 shuffled rounds, 2026-12-05). Decoding and encoding never
    makes JSON text longer, except for the numbers ``_MAY_GROW`` finds. Strings
    never grow (their escapes are written back as short or shorter: ``\\u00e9``
    becomes ``é``); in fixed notation, a float below 1e16 is written back with at most
    the digits it was written with, and from 1e16 Python writes an exponent.
    Spaces, long escapes, repeated keys and extra digits only shrink, so such
    frames count a little more than they take: exact for compact JSON as
    Python writes it, an upper bound otherwise. Text kept as a string, binary,
    those numbers and scrubbed replies are encoded to be counted, exactly.
    """
    if (
        isinstance(frame, str)
        and decoded is not frame
        and reply is decoded
        and not _MAY_GROW.search(frame)
    ):
        return len(frame) if frame.isascii() else len(frame.encode("utf-8"))
    return len(dumps(reply).encode("utf-8"))
