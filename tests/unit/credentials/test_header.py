"""header mode: ``<AUTH_HEADER>: <token>``."""

from __future__ import annotations

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import ConfigError

from ._support import URI, Secrets, deadline, mode


def test_the_token_is_the_value_of_auth_header() -> None:
    prepared = mode({"AUTH_MODE": "header", "AUTH_HEADER": "X-API-Key", "TOKEN_SECRET_ID": "s"})
    result = prepared.prepare(
        Handshake(URI, (("Origin", "o"),)), Secrets("key-1\n"), deadline(), refresh=False
    )
    assert result.handshake.headers == (("Origin", "o"), ("X-API-Key", "key-1"))
    assert result.credentials == ("key-1",)
    assert result.handshake.uri == URI


def test_authorization_may_carry_a_bare_key() -> None:
    header = mode({"AUTH_MODE": "header", "AUTH_HEADER": "Authorization", "TOKEN_SECRET_ID": "s"})
    result = header.prepare(Handshake(URI), Secrets("key-1"), deadline(), refresh=False)
    assert result.handshake.headers == (("Authorization", "key-1"),)


@pytest.mark.parametrize(
    "name", [None, "", "X API Key", "X-Key:", "Host", "Sec-WebSocket-Protocol", "Cookie"]
)
def test_a_missing_or_unusable_auth_header_names_the_variable(name: str | None) -> None:
    environ = {"AUTH_MODE": "header", "TOKEN_SECRET_ID": "s"}
    if name is not None:
        environ["AUTH_HEADER"] = name
    with pytest.raises(ConfigError) as info:
        mode(environ)
    assert info.value.message.startswith("AUTH_HEADER")


def test_handshake_headers_may_not_repeat_auth_header() -> None:
    from ws_exchange.credentials import parse_handshake_headers

    with pytest.raises(ConfigError, match="AUTH_HEADER"):
        parse_handshake_headers(
            {
                "AUTH_MODE": "header",
                "AUTH_HEADER": "X-API-Key",
                "HANDSHAKE_HEADERS": '{"x-api-key": "1"}',
            }
        )
