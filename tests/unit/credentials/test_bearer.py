"""bearer mode: ``Authorization: <AUTH_SCHEME> <token>``."""

from __future__ import annotations

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import ConfigError, SecretInvalid

from ._support import URI, Secrets, deadline, mode


def test_the_token_follows_the_scheme_in_authorization_after_the_configured_headers() -> None:
    prepared = mode({"TOKEN_SECRET_ID": "s"}).prepare(
        Handshake(URI, (("Origin", "https://app"),), ("chat",)),
        Secrets('{"token": "tok-1"}'),
        deadline(),
        refresh=False,
    )
    assert prepared.handshake == Handshake(
        URI, (("Origin", "https://app"), ("Authorization", "Bearer tok-1")), ("chat",)
    )
    assert prepared.credentials == ("tok-1", "Bearer tok-1")
    assert prepared.fresh is True


def test_auth_scheme_and_token_secret_field_are_used() -> None:
    environ = {"TOKEN_SECRET_ID": "s", "AUTH_SCHEME": "Token", "TOKEN_SECRET_FIELD": "key"}
    prepared = mode(environ).prepare(
        Handshake(URI), Secrets('{"key": "k", "token": "t"}'), deadline(), refresh=False
    )
    assert prepared.handshake.headers == (("Authorization", "Token k"),)


@pytest.mark.parametrize("scheme", ["Bearer Token", "Bea:rer", "Bé"])
def test_an_auth_scheme_that_is_not_one_word_names_the_variable(scheme: str) -> None:
    with pytest.raises(ConfigError, match="AUTH_SCHEME"):
        mode({"TOKEN_SECRET_ID": "s", "AUTH_SCHEME": scheme})


def test_a_cached_token_is_not_fresh_and_refresh_reads_the_secret_again() -> None:
    secrets = Secrets("old", "new", cached=True)
    bearer = mode({"TOKEN_SECRET_ID": "s"})
    first = bearer.prepare(Handshake(URI), secrets, deadline(), refresh=False)
    assert (first.fresh, first.credentials[0]) == (False, "old")
    second = bearer.prepare(Handshake(URI), secrets, deadline(), refresh=True)
    assert (second.fresh, second.credentials[0]) == (True, "new")
    assert secrets.calls == [False, True]


def test_a_token_a_header_cannot_carry_is_secret_invalid() -> None:
    with pytest.raises(SecretInvalid, match="control character"):
        mode({"TOKEN_SECRET_ID": "s"}).prepare(
            Handshake(URI), Secrets('{"token": "two\\nlines"}'), deadline(), refresh=False
        )


def test_repr_shows_no_secret() -> None:
    prepared = mode({"TOKEN_SECRET_ID": "s"}).prepare(
        Handshake(URI), Secrets("sEkReT"), deadline(), refresh=False
    )
    assert "sEkReT" not in repr(prepared)
