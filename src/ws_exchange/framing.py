"""Message framing. Pure logic.

Outgoing: a JSON object gains a UTC ``timestamp`` unless it has one and is sent
as JSON text; a string is sent as a text frame unchanged; anything else as its
JSON text. Incoming: JSON text is decoded, other text kept as a string, binary
returned as ``{"binary_base64": ...}``.

Everything a reply decodes to is strict JSON that encodes to UTF-8: no NaN or
Infinity (``1e400`` included, which Python's decoder turns into ``inf``) and no
lone surrogates (``"\\ud800"`` is valid JSON text but not a character). A reply
that would decode to such a value is kept as its text instead.
"""

from __future__ import annotations

import base64
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

# One outgoing message, counted as sent (UTF-8 bytes of its frame, timestamp
# included): websockets' own default max_size, far above any command or subscription.
MAX_OUTGOING_BYTES = 1024 * 1024
# Nesting deeper than this is not a message, it is an attempt to exhaust the
# JSON encoder's recursion.
MAX_NESTING = 64

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)
# A JSON escape that can stand for half of a surrogate pair.
_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


_decoder = json.JSONDecoder(parse_float=_finite, parse_constant=_reject_constant)


def loads(text: str) -> Any:
    """Decode strict JSON text; any failure (too deep included) is a :class:`ValueError`."""
    try:
        value = _decoder.decode(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    if "\\" in text and _SURROGATE_ESCAPE.search(text):
        dumps(value).encode("utf-8")  # UnicodeEncodeError (a ValueError) on a lone surrogate
    return value


def dumps(value: Any) -> str:
    """Compact JSON text, as sent and as counted against the result's size limit."""
    return _encoder.encode(value)


def _timestamp(moment: datetime) -> str:
    # Fixed width (microseconds always shown): a message's size is known before it is sent.
    return moment.isoformat(timespec="microseconds")


def now() -> str:
    """The current UTC time as a message's ``timestamp``."""
    return _timestamp(datetime.now(UTC))


def _gets_timestamp(message: Any) -> bool:
    return isinstance(message, dict) and "timestamp" not in message


def stamp(message: Any, now: datetime | None = None, *, timestamp: str | None = None) -> Any:
    """Return ``message`` as it will be sent: objects gain a ``timestamp``
    (``now``, by default the current time, or the given ``timestamp`` text)."""
    if not _gets_timestamp(message):
        return message
    if timestamp is None:
        timestamp = _timestamp(now if now is not None else datetime.now(UTC))
    return {**message, "timestamp": timestamp}


def encode(message: Any) -> str:
    """The text frame for an already stamped ``message``."""
    if isinstance(message, str):
        return message
    return dumps(message)


@dataclass(frozen=True, slots=True)
class Outgoing:
    """A message checked and encoded once, before any I/O.

    Sending it only puts the timestamp into text encoded beforehand: the frame is
    exactly ``encode(stamp(message, timestamp=...))``, and ``size`` its bytes.
    """

    message: Any
    # UTF-8 bytes of the frame, timestamp included.
    size: int
    # The frame's text up to the timestamp's value; the whole frame when unstamped.
    head: str
    stamped: bool

    def frame(self, timestamp: str) -> tuple[Any, str]:
        """The message as sent (stamped with ``timestamp``) and its text frame."""
        if not self.stamped:
            return self.message, self.head
        return stamp(self.message, timestamp=timestamp), f'{self.head}{timestamp}"}}'


# Every timestamp has this many characters (any moment will do to count them).
_TIMESTAMP_LENGTH = len(_timestamp(datetime(2000, 1, 1, tzinfo=UTC)))


def prepare(message: Any) -> Outgoing:
    """Check ``message`` and encode it for sending.

    Raises:
        ValueError: with a reason to put after "The message": too deep, too large,
            not representable as JSON, or not encodable as UTF-8 text.
    """
    _check_nesting(message)
    stamped = _gets_timestamp(message)
    try:
        text = encode(message)
        # A timestamp is a plain ASCII string: it needs no escapes, and it comes
        # last, as stamp() adds it last.
        head = f'{text[:-1]}{"," if len(message) else ""}"timestamp":"' if stamped else text
        size = len(head.encode("utf-8")) + (_TIMESTAMP_LENGTH + 2 if stamped else 0)
    except UnicodeEncodeError:
        raise ValueError("cannot be sent as UTF-8 text (it holds a lone surrogate)") from None
    except (ValueError, TypeError):
        raise ValueError("holds a value JSON cannot represent") from None
    if size > MAX_OUTGOING_BYTES:
        raise ValueError(f"is larger than {MAX_OUTGOING_BYTES} bytes once encoded")
    return Outgoing(message, size, head, stamped)


def _check_nesting(value: Any) -> None:
    # Iterative: the point is to refuse what would exhaust recursion. Only
    # containers are stacked: a 5 MB list of numbers is a loop, not 2 million tuples.
    if not isinstance(value, dict | list):
        return
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if depth > MAX_NESTING:
            raise ValueError(f"is nested deeper than {MAX_NESTING} levels")
        children = item.values() if isinstance(item, dict) else item
        for child in children:
            if isinstance(child, dict | list):
                stack.append((child, depth + 1))


def decode(frame: str | bytes) -> Any:
    """The JSON value a received frame stands for."""
    if isinstance(frame, str):
        try:
            return loads(frame)
        except ValueError:
            return frame
    return {"binary_base64": base64.b64encode(frame).decode("ascii")}
