"""Property: a reply is never counted smaller than it is kept, and exactly when compact.

The result's size limit (MAX_RESULT_BYTES) holds only if no reply is counted below
the bytes it takes in the result. Frames are written here in every way a server
may write JSON: compact, with spaces, indented, ASCII-escaped, and with floats in
long fixed notation (12345678901234567.5, which Python writes back longer).
"""

from __future__ import annotations

import json
import math
from decimal import Decimal
from typing import Any

from hypothesis import assume, given
from hypothesis import strategies as st

from ws_exchange.framing import decode, kept_size

from .conftest import JSONISH, PROPERTY_SETTINGS


def encoded_size(value: Any) -> int:
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def representable(value: Any) -> bool:
    try:
        json.dumps(value, allow_nan=False).encode("utf-8")
        json.dumps(value, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, TypeError):
        return False
    return True


def fixed(number: float, decimals: int | None) -> str:
    """``number`` in fixed notation: ``decimals`` places, or every digit it has."""
    text = format(Decimal(number), "f") if decimals is None else format(number, f".{decimals}f")
    return text if "." in text else f"{text}.0"


def with_fixed_floats(value: Any, decimals: int | None) -> str:
    """Compact JSON text of ``value`` with each float in fixed notation."""
    if isinstance(value, float):
        return fixed(value, decimals)
    if isinstance(value, list):
        return "[" + ",".join(with_fixed_floats(item, decimals) for item in value) + "]"
    if isinstance(value, dict):
        members = (
            f"{json.dumps(key, ensure_ascii=False)}:{with_fixed_floats(item, decimals)}"
            for key, item in value.items()
        )
        return "{" + ",".join(members) + "}"
    return json.dumps(value, ensure_ascii=False)


WRITERS = {
    "compact": lambda v: json.dumps(v, ensure_ascii=False, separators=(",", ":")),
    "spaced": lambda v: json.dumps(v, ensure_ascii=False),
    "indented": lambda v: json.dumps(v, ensure_ascii=False, indent=2),
    "ascii": lambda v: json.dumps(v),
    "fixed-floats": lambda v: with_fixed_floats(v, None),
    "fixed-1": lambda v: with_fixed_floats(v, 1),
    "fixed-20": lambda v: with_fixed_floats(v, 20),
}


@PROPERTY_SETTINGS
@given(value=JSONISH, writer=st.sampled_from(sorted(WRITERS)))
def test_a_reply_is_never_counted_below_its_kept_size(value: Any, writer: str) -> None:
    assume(representable(value))
    frame = WRITERS[writer](value)
    decoded = decode(frame)
    count = kept_size(frame, decoded, decoded)
    assert count >= encoded_size(decoded)
    if writer == "compact":
        assert count == encoded_size(decoded)


@PROPERTY_SETTINGS
@given(
    number=st.floats(allow_nan=False, allow_infinity=False),
    decimals=st.one_of(st.none(), st.integers(min_value=1, max_value=25)),
)
def test_a_float_in_any_fixed_notation_is_never_undercounted(
    number: float, decimals: int | None
) -> None:
    frame = "[" + fixed(number, decimals) + "]"
    decoded = decode(frame)
    assume(isinstance(decoded, list) and math.isfinite(decoded[0]))
    assert kept_size(frame, decoded, decoded) >= encoded_size(decoded)


@PROPERTY_SETTINGS
@given(frame=st.one_of(st.text(max_size=40), st.binary(max_size=40)))
def test_text_and_binary_that_are_not_json_are_counted_exactly(frame: str | bytes) -> None:
    decoded = decode(frame)
    if isinstance(frame, str) and decoded is not frame:
        return  # valid JSON: the properties above
    assume(representable(decoded))
    assert kept_size(frame, decoded, decoded) == encoded_size(decoded)
