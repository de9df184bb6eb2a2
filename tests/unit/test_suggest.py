"""The closest known name to a mistyped one."""

from __future__ import annotations

import pytest

from ws_exchange.suggest import closest

FIELDS = ("message", "messages", "expected_replies", "reply_timeout_seconds", "until")


@pytest.mark.parametrize(
    ("word", "expected"),
    [
        ("expected_reply", "expected_replies"),
        ("expect_replies", "expected_replies"),
        ("mesage", "message"),
        ("reply_timeout", "reply_timeout_seconds"),
        ("untl", "until"),
    ],
)
def test_a_near_miss_finds_the_known_name(word: str, expected: str) -> None:
    assert closest(word, FIELDS) == expected


@pytest.mark.parametrize("word", ["uri", "headers", "secret_id", "", "x" * 200])
def test_an_unrelated_word_finds_nothing(word: str) -> None:
    assert closest(word, FIELDS) is None


def test_case_is_ignored_when_comparing_but_the_name_is_returned_as_known() -> None:
    assert closest("websocket_uri", ("WEBSOCKET_URI", "AUTH_MODE")) == "WEBSOCKET_URI"


def test_a_stricter_cutoff_refuses_a_looser_match() -> None:
    assert closest("reply_timeout", FIELDS, cutoff=0.9) is None
