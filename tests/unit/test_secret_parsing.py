"""Finding the token in a GetSecretValue answer: the store's text, then the mode's token
(as the default mode, bearer, takes it: raw in a header)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from ws_exchange.credentials import SecretValue, header_token
from ws_exchange.credentials import token_from_secret as extract_from_text
from ws_exchange.errors import SecretInvalid
from ws_exchange.secret import _text


def extract_token(raw: Any, field: str) -> str:
    """What bearer mode sends from a GetSecretValue answer (string or binary)."""
    return header_token(extract_from_text(_text(raw), field))


def rejected(raw: Any, field: str = "token") -> SecretInvalid:
    with pytest.raises(SecretInvalid) as info:
        extract_token(raw, field)
    assert info.value.type == "secret_invalid"
    assert info.value.retryable is False
    return info.value


# --- JSON objects ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "field", "expected"),
    [
        ('{"token": "abc123"}', "token", "abc123"),
        ('{"token": "abc123", "other": "x"}', "token", "abc123"),
        ('{"api_key": "k-1", "token": "t-2"}', "api_key", "k-1"),
        ('{"token": "  abc123\\n"}', "token", "abc123"),
        ('  {"token": "abc123"}\n', "token", "abc123"),
        ('{"token": "eyJhbGciOi.J9-_~+/="}', "token", "eyJhbGciOi.J9-_~+/="),
        (b'{"token": "from-binary"}', "token", "from-binary"),
    ],
)
def test_json_object_field(raw: str | bytes, field: str, expected: str) -> None:
    assert extract_token(raw, field) == expected


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ('{"token": "abc"}', "api_key"),
        ('{"api_key": "abc"}', "token"),
        ("{}", "token"),
    ],
)
def test_missing_field_is_named(raw: str, field: str) -> None:
    error = rejected(raw, field)
    assert repr(field) in error.message
    assert "abc" not in str(error)


@pytest.mark.parametrize("value", [12345, None, True, ["tok"], {"nested": "tok"}, 1.5])
def test_non_string_field_is_rejected(value: Any) -> None:
    error = rejected(json.dumps({"token": value}))
    assert "'token'" in error.message
    assert "12345" not in str(error)


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "\n",
        "\t\r\n ",
        '{"token": ""}',
        '{"token": "   "}',
        '{"token": "\\n"}',
        b"",
        b"  ",
    ],
)
def test_empty_or_whitespace_token_is_rejected(raw: str | bytes) -> None:
    assert "empty" in rejected(raw).message


# --- plain strings -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("abc123", "abc123"),
        ("abc123\n", "abc123"),
        ("  abc123  ", "abc123"),
        ("\r\nabc123\r\n", "abc123"),
        (
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_",
            "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.sig-_",
        ),
        ("!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~", "!#$%&'()*+,-./:;<=>?@[\\]^_`{|}~"),
        (b"abc123\n", "abc123"),
    ],
)
def test_plain_string_is_the_token(raw: str | bytes, expected: str) -> None:
    assert extract_token(raw, "token") == expected


@pytest.mark.parametrize(
    "raw",
    ['"abc"', "[1]", "[1,2]", "123", "true", "null", '["tok"]', "{abc}", "{not-json"],
)
def test_json_that_is_not_an_object_is_the_literal_token(raw: str) -> None:
    # As documented: a SecretString that is not a JSON object is the token itself.
    assert extract_token(raw, "token") == raw
    assert extract_token(f"  {raw}\n", "token") == raw


@pytest.mark.parametrize("raw", ['"a b"', "[1, 2]", '{"token" "x"}'])
def test_json_like_non_object_with_spaces_is_the_literal_token(raw: str) -> None:
    # A header carries inner spaces: only what it cannot hold is refused.
    assert extract_token(raw, "token") == raw


# --- bytes and None ------------------------------------------------------------------


@pytest.mark.parametrize("raw", [b"\xff\xfe", b"tok\x80en", b"\xc3"])
def test_non_utf8_binary_is_rejected(raw: bytes) -> None:
    assert "UTF-8" in rejected(raw).message


@pytest.mark.parametrize("raw", [None, 12345, ["tok"], {"token": "abc"}])
def test_no_value_is_rejected(raw: Any) -> None:
    rejected(raw)


# --- characters an HTTP header cannot carry -----------------------------------------------


# Each carries the marker "sEkReT" so that a message quoting it can be caught.
BAD_TOKENS = [
    "sEkReT\ten",
    "sEkReT\x00en",
    "sEkReT\x7fen",
    "sEkReT\x1ben",
    "sEkReT\r\nX-Injected: 1",
    "sEkReT\x85en",
    "sEkReT☕",
]
# Characters a header carries: only what the carrier cannot hold is refused.
GOOD_TOKENS = ["sEkReT en", "sEkReTé", "sEkReT\u00a0en", 'sEkReT="x";,']


@pytest.mark.parametrize("token", BAD_TOKENS, ids=repr)
@pytest.mark.parametrize("wrap", ["plain", "json", "bytes"])
def test_token_with_unsafe_characters_is_rejected(token: str, wrap: str) -> None:
    raw: str | bytes = {
        "plain": token,
        "json": json.dumps({"token": token}),
        "bytes": token.encode("utf-8"),
    }[wrap]
    assert "header" in rejected(raw).message


@pytest.mark.parametrize("token", GOOD_TOKENS, ids=repr)
@pytest.mark.parametrize("wrap", ["plain", "json", "bytes"])
def test_token_with_characters_a_header_carries_is_accepted(token: str, wrap: str) -> None:
    raw: str | bytes = {
        "plain": token,
        "json": json.dumps({"token": token}),
        "bytes": token.encode("utf-8"),
    }[wrap]
    assert extract_token(raw, "token") == token


# --- no message ever quotes the secret ------------------------------------------------------


LEAKY_SECRETS: list[tuple[str | bytes, str]] = [
    *((t, "token") for t in BAD_TOKENS),
    (json.dumps({"token": 98765432}), "token"),
    (json.dumps({"token": ["sEkReT"]}), "token"),
    (json.dumps({"password": "sEkReT"}), "token"),
    (json.dumps({"token": "sEkReT"}), "api_key"),
    ("sEkReT\x00", "token"),
    (b"sEkReT\xff", "token"),
    ('{"token": "sEkReT",\n broken', "token"),
]


@pytest.mark.parametrize(("raw", "field"), LEAKY_SECRETS, ids=repr)
def test_no_secret_invalid_message_contains_the_token(raw: str | bytes, field: str) -> None:
    error = rejected(raw, field)
    for text in (error.message, str(error), repr(error), json.dumps(error.as_dict())):
        for word in ("sEkReT", "98765432", "X-Injected"):
            assert word not in text


def test_secret_value_repr_hides_the_text() -> None:
    value = SecretValue("sEkReT", fresh=True)
    assert "sEkReT" not in repr(value)
    assert "sEkReT" not in str(value)


def test_deeply_nested_secret_is_secret_invalid() -> None:
    rejected('{"token": ' + "[" * 10_000 + "]" * 10_000 + "}")
