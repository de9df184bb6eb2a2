"""Property: a message prepared once is sent exactly as stamping and encoding it would be."""

from __future__ import annotations

import base64
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ws_exchange.framing import MAX_OUTGOING_BYTES, encode, now, prepare, stamp

from .conftest import JSONISH, PROPERTY_SETTINGS

# TIMESTAMP_FIELD values: the default, none, and any key (escapes and non-ASCII included).
FIELDS = st.one_of(st.just("timestamp"), st.just(""), st.text(min_size=1, max_size=64))
# Objects with and without the field of their own.
KEYS = st.one_of(st.text(max_size=8), st.just("timestamp"))
MESSAGES = st.one_of(JSONISH, st.dictionaries(KEYS, JSONISH, max_size=4))


@PROPERTY_SETTINGS
@given(message=MESSAGES, field=FIELDS)
def test_a_prepared_frame_is_the_stamped_message_encoded(message: Any, field: str) -> None:
    timestamp = now()
    try:
        field.encode("utf-8")  # a lone surrogate is no configurable field
        expected = encode(stamp(message, field, timestamp=timestamp))
        expected_bytes = expected.encode("utf-8")
    except (ValueError, TypeError):  # NaN, Infinity, lone surrogates: refused
        try:
            prepare(message, field)
        except ValueError:
            return
        raise AssertionError("prepare accepted what cannot be sent") from None
    if isinstance(message, dict) and list(message) == ["binary_base64"]:
        return  # binary messages: below
    outgoing = prepare(message, field)
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert frame == expected
    assert sent == stamp(message, field, timestamp=timestamp)
    assert outgoing.size == len(expected_bytes) <= MAX_OUTGOING_BYTES
    # Choosing the field later gives the same message.
    assert prepare(message, "").stamped_with(field) == outgoing


@PROPERTY_SETTINGS
@given(data=st.binary(max_size=512), field=FIELDS)
def test_a_binary_message_is_sent_as_its_bytes_and_shown_as_written(
    data: bytes, field: str
) -> None:
    message = {"binary_base64": base64.b64encode(data).decode("ascii")}
    outgoing = prepare(message, field)
    timestamp = now()
    assert (outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)) == (message, data)
    assert outgoing.size == len(data)
