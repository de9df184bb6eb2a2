"""Property: a message prepared once is sent exactly as stamping and encoding it would be."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ws_exchange.framing import encode, now, prepare, stamp

from .conftest import JSONISH, PROPERTY_SETTINGS

# Objects with and without a "timestamp" of their own.
KEYS = st.one_of(st.text(max_size=8), st.just("timestamp"))
MESSAGES = st.one_of(JSONISH, st.dictionaries(KEYS, JSONISH, max_size=4))


@PROPERTY_SETTINGS
@given(message=MESSAGES)
def test_a_prepared_frame_is_the_stamped_message_encoded(message: Any) -> None:
    timestamp = now()
    try:
        expected = encode(stamp(message, timestamp=timestamp))
        expected_bytes = expected.encode("utf-8")
    except (ValueError, TypeError):  # NaN, Infinity, lone surrogates: refused
        try:
            prepare(message)
        except ValueError:
            return
        raise AssertionError("prepare accepted what cannot be sent") from None
    outgoing = prepare(message)
    sent, frame = outgoing.frame(timestamp)
    assert frame == expected
    assert sent == stamp(message, timestamp=timestamp)
    assert outgoing.size == len(expected_bytes)
