"""query mode: the token as ``AUTH_QUERY_PARAM``, URL-encoded."""

from __future__ import annotations

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import ConfigError

from ._support import Secrets, deadline, mode


def prepare(uri: str, token: str, **environ: str):  # type: ignore[no-untyped-def]
    query = mode({"AUTH_MODE": "query", "TOKEN_SECRET_ID": "s", **environ}, uri=uri)
    return query.prepare(Handshake(uri), Secrets(token), deadline(), refresh=False)


def test_the_token_is_appended_as_access_token_by_default() -> None:
    prepared = prepare("wss://h.example.com/v1", "tok-1")
    assert prepared.handshake.uri == "wss://h.example.com/v1?access_token=tok-1"
    assert prepared.credentials == ("tok-1",)


def test_the_token_joins_an_existing_query_under_the_configured_name() -> None:
    prepared = prepare("wss://h.example.com/v1?x=1&y=", "tok", AUTH_QUERY_PARAM="api_key")
    assert prepared.handshake.uri == "wss://h.example.com/v1?x=1&y=&api_key=tok"


def test_reserved_characters_are_percent_encoded_and_both_forms_are_credentials() -> None:
    prepared = prepare("wss://h.example.com/", "a+b/c=d&e%f?")
    assert prepared.handshake.uri == "wss://h.example.com/?access_token=a%2Bb%2Fc%3Dd%26e%25f%3F"
    assert prepared.credentials == ("a+b/c=d&e%f?", "a%2Bb%2Fc%3Dd%26e%25f%3F")


def test_a_uri_that_already_has_the_parameter_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="AUTH_QUERY_PARAM"):
        mode(
            {"AUTH_MODE": "query", "TOKEN_SECRET_ID": "s"},
            uri="wss://h.example.com/?access_token=old",
        )


@pytest.mark.parametrize("name", ["access token", "café"])
def test_an_unusable_parameter_name_names_the_variable(name: str) -> None:
    with pytest.raises(ConfigError, match="AUTH_QUERY_PARAM"):
        mode({"AUTH_MODE": "query", "TOKEN_SECRET_ID": "s", "AUTH_QUERY_PARAM": name})
