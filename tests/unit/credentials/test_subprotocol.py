"""subprotocol mode: ``<AUTH_SUBPROTOCOL_PREFIX><token>`` offered after ``SUBPROTOCOLS``."""

from __future__ import annotations

import base64

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import ConfigError, SecretInvalid

from ._support import URI, Secrets, deadline, mode

K8S = "base64url.bearer.authorization.k8s.io."


def prepare(token: str, offered: tuple[str, ...] = (), **environ: str):  # type: ignore[no-untyped-def]
    subprotocol = mode({"AUTH_MODE": "subprotocol", "TOKEN_SECRET_ID": "s", **environ})
    return subprotocol.prepare(
        Handshake(URI, (), offered), Secrets(token), deadline(), refresh=False
    )


def test_kubernetes_token_is_unpadded_base64url_after_the_configured_subprotocols() -> None:
    token = "eyJhbGciOiJSUzI1NiJ9.e30.sig??>"  # encodes to '-' / '_' and would pad
    prepared = prepare(
        token,
        ("v4.channel.k8s.io",),
        AUTH_SUBPROTOCOL_PREFIX=K8S,
        AUTH_SUBPROTOCOL_ENCODING="base64url",
    )
    encoded = base64.urlsafe_b64encode(token.encode()).decode().rstrip("=")
    assert "=" not in encoded and ("-" in encoded or "_" in encoded)
    assert prepared.handshake.subprotocols == ("v4.channel.k8s.io", K8S + encoded)
    assert prepared.handshake.headers == ()
    assert set(prepared.credentials) == {token, encoded, K8S + encoded}


def test_raw_encoding_puts_the_token_as_is() -> None:
    prepared = prepare("abc.123", AUTH_SUBPROTOCOL_PREFIX="access_token.")
    assert prepared.handshake.subprotocols == ("access_token.abc.123",)
    assert prepared.credentials == ("abc.123", "access_token.abc.123")


def test_a_raw_token_a_subprotocol_cannot_carry_points_at_base64url() -> None:
    with pytest.raises(SecretInvalid, match="base64url") as info:
        prepare("sEkReT/with,comma", AUTH_SUBPROTOCOL_PREFIX="p.")
    assert "sEkReT" not in str(info.value)


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "AUTH_SUBPROTOCOL_PREFIX"),
        ({"AUTH_SUBPROTOCOL_PREFIX": "a b"}, "AUTH_SUBPROTOCOL_PREFIX"),
        ({"AUTH_SUBPROTOCOL_PREFIX": "a,"}, "AUTH_SUBPROTOCOL_PREFIX"),
        (
            {"AUTH_SUBPROTOCOL_PREFIX": "p.", "AUTH_SUBPROTOCOL_ENCODING": "base64"},
            "AUTH_SUBPROTOCOL_ENCODING",
        ),
    ],
)
def test_invalid_settings_name_their_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        mode({"AUTH_MODE": "subprotocol", "TOKEN_SECRET_ID": "s", **environ})
    assert info.value.message.startswith(variable)
