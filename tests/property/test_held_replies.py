"""Properties of keeping a reply after the next message is sent.

A reply nothing reads before the next message (a count step's, a plain
message's) may be held and kept once that message is on its way. That must
change nothing a caller can see: the same replies, in the same order, counted
the same, and the same error at the same point, whatever the budget. The oracle
is the same sequence run with every reply kept at once.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ws_exchange import replies
from ws_exchange.errors import MessageTooLarge
from ws_exchange.plan import Progress
from ws_exchange.redaction import scrubber

from .conftest import JSONISH, PROPERTY_SETTINGS

LONG_CREDENTIAL = "tok-Held-Replies-0123456789"
SHORT_CREDENTIAL = "ab"
# The shortest a credential can be: a whole reply of one byte becomes "[redacted]".
SHORTEST_CREDENTIAL = "x"


@pytest.fixture(autouse=True)
def credentials() -> Iterator[None]:
    scrubber.forget_all()
    scrubber.remember([LONG_CREDENTIAL, SHORT_CREDENTIAL, SHORTEST_CREDENTIAL])
    yield
    scrubber.forget_all()


def utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def escaped(text: str) -> str:
    return "".join(f"\\u{ord(character):04x}" for character in text)


# Frames in every shape that is kept larger than it arrived: text that is no
# JSON (kept as a string, its control characters escaped), numbers written back
# longer, a short credential as the whole reply, credentials spelled with escapes.
TEXT_FRAMES = st.one_of(
    st.text(st.sampled_from('\x00\x01\x1f"\\ab{é😀'), max_size=40),
    # A text frame is UTF-8 (websockets refuses any other): a lone surrogate
    # arrives escaped, never raw.
    JSONISH.map(json.dumps),
    JSONISH.map(lambda value: json.dumps(value, ensure_ascii=False)).filter(utf8),
    st.lists(
        st.sampled_from(["1e15", "1E15", "1e-7", "0e0", "12345678901234567.5"]), max_size=6
    ).map(lambda numbers: "[" + ",".join(numbers) + "]"),
    st.sampled_from(
        [
            SHORT_CREDENTIAL,
            json.dumps(SHORT_CREDENTIAL),
            f'["{SHORT_CREDENTIAL}","{SHORT_CREDENTIAL}"]',
            LONG_CREDENTIAL,
            f'{{"t":"{escaped(LONG_CREDENTIAL)}"}}',
            f'"{escaped(LONG_CREDENTIAL[:8])}{LONG_CREDENTIAL[8:]}"',
            f"{LONG_CREDENTIAL[:8]}\\u0000{LONG_CREDENTIAL}",
        ]
    ),
)
FRAMES = st.one_of(
    TEXT_FRAMES,
    st.binary(max_size=40),
    st.sampled_from([SHORT_CREDENTIAL.encode(), SHORTEST_CREDENTIAL.encode()]),
    st.just(SHORTEST_CREDENTIAL),
)
EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("reply"), FRAMES),
        st.tuples(st.just("send"), st.integers(min_value=0, max_value=400)),
    ),
    max_size=12,
)


def plan(budget: int) -> Any:
    return SimpleNamespace(result_budget=budget)


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(frame=FRAMES)
def test_no_reply_is_counted_above_the_most_it_may_take(frame: str | bytes) -> None:
    progress = Progress()
    replies.keep(frame, plan(10**9), progress)
    assert progress.received_bytes <= replies._most_kept(frame)


def run(events: list[tuple[str, Any]], budget: int, held: bool) -> tuple[Any, ...]:
    """The events as the conversation meets them; ``held``: replies kept later."""
    progress = Progress()
    sent = 0
    error = None
    try:
        for kind, item in events:
            if kind == "reply":
                # As RawLink.receive: a held reply is kept before the next one.
                replies.keep_held(plan(budget), progress)
                replies.keep(item, plan(budget), progress, later=held)
            else:
                replies.charge_sent(item, plan(budget), progress)
                sent += 1
    except MessageTooLarge as exc:
        error = exc.message
    finally:
        # As the conversation ends, however it ends.
        replies.keep_held(plan(budget), progress)
    return progress.received, progress.received_bytes, sent, error


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(events=EVENTS, budget=st.integers(min_value=0, max_value=2000))
def test_holding_replies_changes_nothing_a_caller_sees(
    events: list[tuple[str, Any]], budget: int
) -> None:
    assert run(events, budget, held=True) == run(events, budget, held=False)


def test_a_held_reply_is_kept_after_the_message_sent_next() -> None:
    progress = Progress()
    assert replies.keep('{"n":1}', plan(1000), progress, later=True) is None
    assert progress.received == [] and progress.unkept == '{"n":1}'
    replies.charge_sent(10, plan(1000), progress)
    replies.keep_held(plan(1000), progress)
    assert progress.received == [{"n": 1}]
    assert progress.received_bytes == 15 + len('{"n":1}')
    assert progress.unkept is None


def test_a_reply_that_may_not_fit_is_kept_at_once() -> None:
    progress = Progress()
    frame = '{"n":1}'
    # Fits as it is kept (7 bytes), not as it might have been: kept now, not held.
    assert replies.keep(frame, plan(7), progress, later=True) == {"n": 1}
    assert progress.unkept is None
    with pytest.raises(MessageTooLarge):
        replies.keep(frame, plan(7), progress, later=True)
