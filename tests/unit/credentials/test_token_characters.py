"""A token is refused only for characters its carrier cannot hold.

Raw in a header (bearer, header, cookie): control characters (and characters beyond
ISO-8859-1, which have no header byte); in a cookie also ``;`` and ``,``; in a raw
subprotocol anything but RFC 9110 token characters. A URL-encoded (query),
base64url-encoded or JSON-embedded (message) token may hold any character.
"""

from __future__ import annotations

import base64
import json
from urllib.parse import parse_qs, urlsplit

import pytest

from ws_exchange.credentials import Handshake, Prepared, header_problem, header_token
from ws_exchange.errors import SecretInvalid

from ._support import URI, Secrets, deadline, mode

SETTINGS: dict[str, dict[str, str]] = {
    "bearer": {},
    "header": {"AUTH_HEADER": "X-API-Key"},
    "cookie": {"AUTH_COOKIE": "session"},
    "query": {},
    "subprotocol_raw": {"AUTH_MODE": "subprotocol", "AUTH_SUBPROTOCOL_PREFIX": "p."},
    "subprotocol_base64url": {
        "AUTH_MODE": "subprotocol",
        "AUTH_SUBPROTOCOL_PREFIX": "p.",
        "AUTH_SUBPROTOCOL_ENCODING": "base64url",
    },
    "message": {"AUTH_MESSAGE": '{"type": "auth", "access_token": "{token}"}'},
}

# Each token carries the marker "sEkReT" so that a message quoting it is caught.
SPACE = "sEkReT with spaces"
QUOTES = 'sEkReT="quoted"/+'
LATIN1 = "sEkReT-été"
LINE_BREAK = "sEkReT\r\nX-Injected: 1"
TAB = "sEkReT\tx"
NUL = "sEkReT\x00x"
DEL = "sEkReT\x7fx"
EMOJI = "sEkReT-☕"
SEMICOLON = "sEkReT;other=1"
COMMA = "sEkReT,x"
EVERYTHING = [SPACE, QUOTES, LATIN1, LINE_BREAK, TAB, NUL, DEL, EMOJI, SEMICOLON, COMMA]

HEADER_REFUSES = {LINE_BREAK, TAB, NUL, DEL, EMOJI}
REFUSED: dict[str, set[str]] = {
    "bearer": HEADER_REFUSES,
    "header": HEADER_REFUSES,
    "cookie": HEADER_REFUSES | {SEMICOLON, COMMA},
    "query": set(),
    # RFC 9110 tchar has no space, quote, '=', '/', ';', ',' nor anything beyond ASCII.
    "subprotocol_raw": set(EVERYTHING),
    "subprotocol_base64url": set(),
    "message": set(),
}
CASES = [(name, token) for name in SETTINGS for token in EVERYTHING]


def prepare(name: str, token: str) -> Prepared:
    environ = {"AUTH_MODE": name, "TOKEN_SECRET_ID": "s", **SETTINGS[name]}
    return mode(environ).prepare(
        # The secret holds the token; JSON lets it hold any character.
        Handshake(URI),
        Secrets(json.dumps({"token": token})),
        deadline(),
        refresh=False,
    )


def carried(name: str, prepared: Prepared) -> str:
    """The token as the server receives it, decoded from its carrier."""
    handshake = prepared.handshake
    headers = dict(handshake.headers)
    if name == "bearer":
        return headers["Authorization"].removeprefix("Bearer ")
    if name == "header":
        return headers["X-API-Key"]
    if name == "cookie":
        return headers["Cookie"].removeprefix("session=")
    if name == "query":
        return parse_qs(urlsplit(handshake.uri).query)["access_token"][0]
    if name == "subprotocol_raw":
        return handshake.subprotocols[-1].removeprefix("p.")
    if name == "subprotocol_base64url":
        encoded = handshake.subprotocols[-1].removeprefix("p.")
        return base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)).decode()
    assert prepared.token is not None
    return prepared.token


@pytest.mark.parametrize(("name", "token"), CASES, ids=[f"{n}-{t!r}" for n, t in CASES])
def test_a_token_is_refused_only_for_what_its_carrier_cannot_hold(name: str, token: str) -> None:
    if token not in REFUSED[name]:
        prepared = prepare(name, token)
        assert carried(name, prepared) == token
        assert token in prepared.credentials
        return
    with pytest.raises(SecretInvalid) as info:
        prepare(name, token)
    error = info.value
    assert error.retryable is False
    for shown in (error.message, str(error), repr(error), json.dumps(error.as_dict())):
        assert "sEkReT" not in shown
        assert "X-Injected" not in shown
    if name.startswith("subprotocol"):
        assert "AUTH_SUBPROTOCOL_ENCODING=base64url" in error.message
    elif token in (SEMICOLON, COMMA):
        assert "cookie value" in error.message
    else:
        assert "HTTP header" in error.message


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("plain", None),
        ("with space and é", None),
        ("a\nb", "control character"),
        ("a\x85b", "control character"),
        ("a☕", "ISO-8859-1"),
    ],
)
def test_header_problem_names_what_a_header_cannot_carry(text: str, problem: str | None) -> None:
    found = header_problem(text)
    assert found is None if problem is None else problem in (found or "")


def test_a_cookie_value_is_refused_semicolons_and_commas_a_header_may_carry() -> None:
    assert header_token("a;b,c") == "a;b,c"
    with pytest.raises(SecretInvalid, match="cookie value"):
        header_token("a;b", cookie=True)
