"""cookie mode: ``Cookie: <AUTH_COOKIE>=<token>``."""

from __future__ import annotations

import json

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import ConfigError, SecretInvalid

from ._support import URI, Secrets, deadline, mode

COOKIE = {"AUTH_MODE": "cookie", "TOKEN_SECRET_ID": "s", "AUTH_COOKIE": "session_id"}


def test_the_token_is_the_named_cookie_after_the_configured_headers() -> None:
    prepared = mode(COOKIE).prepare(
        Handshake(URI, (("Origin", "https://app"),), ("chat",)),
        Secrets('{"token": "s3ss=ion/+"}'),
        deadline(),
        refresh=False,
    )
    assert prepared.handshake == Handshake(
        URI, (("Origin", "https://app"), ("Cookie", "session_id=s3ss=ion/+")), ("chat",)
    )
    # Both the token and the whole header value are scrubbed.
    assert prepared.credentials == ("s3ss=ion/+", "session_id=s3ss=ion/+")
    assert prepared.fresh is True


def test_token_secret_field_is_used() -> None:
    prepared = mode({**COOKIE, "TOKEN_SECRET_FIELD": "sid"}).prepare(
        Handshake(URI), Secrets('{"sid": "a", "token": "b"}'), deadline(), refresh=False
    )
    assert prepared.handshake.headers == (("Cookie", "session_id=a"),)


def test_a_cached_token_is_not_fresh_and_refresh_reads_the_secret_again() -> None:
    secrets = Secrets("old", "new", cached=True)
    cookie = mode(COOKIE)
    first = cookie.prepare(Handshake(URI), secrets, deadline(), refresh=False)
    assert (first.fresh, first.credentials[0]) == (False, "old")
    second = cookie.prepare(Handshake(URI), secrets, deadline(), refresh=True)
    assert (second.fresh, second.credentials[0]) == (True, "new")
    assert secrets.calls == [False, True]


@pytest.mark.parametrize("token", ["sEkReT;admin=1", "sEkReT,x", "sEkReT\r\nX-Injected: 1"])
def test_a_token_a_cookie_cannot_carry_is_secret_invalid_without_quoting_it(token: str) -> None:
    with pytest.raises(SecretInvalid) as info:
        mode(COOKIE).prepare(
            Handshake(URI),
            Secrets(json.dumps({"token": token})),
            deadline(),
            refresh=False,
        )
    assert "sEkReT" not in str(info.value)
    assert "X-Injected" not in str(info.value)


@pytest.mark.parametrize(
    ("value", "says"),
    [
        (None, "required"),
        ("", "required"),
        ("two words", "not a valid cookie name"),
        ("a=b", "not a valid cookie name"),
        ("a;b", "not a valid cookie name"),
        ("caf\u00e9", "not a valid cookie name"),
    ],
)
def test_a_missing_or_invalid_auth_cookie_names_the_variable(value: str | None, says: str) -> None:
    environ = {k: v for k, v in COOKIE.items() if k != "AUTH_COOKIE"}
    if value is not None:
        environ["AUTH_COOKIE"] = value
    with pytest.raises(ConfigError) as info:
        mode(environ)
    assert info.value.message.startswith("AUTH_COOKIE")
    assert says in info.value.message


def test_auth_cookie_in_another_mode_is_a_contradiction() -> None:
    with pytest.raises(ConfigError, match="AUTH_COOKIE"):
        mode({"TOKEN_SECRET_ID": "s", "AUTH_COOKIE": "session"})


def test_repr_shows_no_secret() -> None:
    prepared = mode(COOKIE).prepare(Handshake(URI), Secrets("sEkReT"), deadline(), refresh=False)
    assert "sEkReT" not in repr(prepared)
    assert "sEkReT" not in repr(prepared.handshake)
