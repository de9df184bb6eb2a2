"""Message framing (the contract's section 4). Pure logic.

Outgoing: a JSON object gains a UTC ``timestamp`` unless it has one and is sent
as JSON text; a string is sent as a text frame unchanged; anything else as its
JSON text. Incoming: JSON text is decoded, other text kept as a string, binary
returned as ``{"binary_base64": ...}``.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

# check_circular off: every value sent was decoded from JSON (the event or
# DEFAULT_MESSAGE), which cannot hold a cycle, and the markers dict it would
# build per message is measurable in a 1000-message batch.
_dumps = json.JSONEncoder(
    ensure_ascii=False, separators=(",", ":"), allow_nan=False, check_circular=False
).encode


def _reject_constant(name: str) -> Any:
    # NaN and Infinity are not JSON: such a reply is kept as text so the result
    # stays valid JSON.
    raise ValueError(name)


_decoder = json.JSONDecoder(parse_constant=_reject_constant)
_loads = _decoder.decode
_raw_decode = _decoder.raw_decode


def loads(text: str) -> Any:
    """Strict JSON: NaN and Infinity rejected; any failure is a ValueError.

    Nesting deep enough to exhaust the decoder's recursion counts as invalid
    too, so that text from a server, a caller or a deployer cannot crash the
    invocation with it.
    """
    try:
        # Fast path for the usual frame, one JSON document with no surrounding
        # whitespace: raw_decode skips decode()'s two whitespace regex scans.
        # Anything else (whitespace, trailing data, invalid text) takes the
        # full decode(), which owns the error reporting.
        try:
            value, end = _raw_decode(text)
        except ValueError:
            return _loads(text)
        return value if end == len(text) else _loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def stamp(message: Any, now: datetime | None = None) -> Any:
    """Return ``message`` as it will be sent: objects gain a ``timestamp``."""
    # type() first: events decode to plain dicts, and the ABC check costs more.
    if (type(message) is dict or isinstance(message, Mapping)) and "timestamp" not in message:
        moment = now if now is not None else datetime.now(UTC)
        return {**message, "timestamp": moment.isoformat()}
    return message


def encode(message: Any) -> str:
    """The text frame for an already stamped ``message``."""
    if isinstance(message, str):
        return message
    return _dumps(message)


def decode(frame: str | bytes) -> Any:
    """The JSON value a received frame stands for."""
    if isinstance(frame, str):
        try:
            return loads(frame)
        except ValueError:
            return frame
    return {"binary_base64": base64.b64encode(frame).decode("ascii")}
