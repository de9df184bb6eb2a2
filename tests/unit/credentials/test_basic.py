"""basic mode: ``Authorization: Basic base64(username:password)`` (RFC 7617)."""

from __future__ import annotations

import base64
import json

import pytest

from ws_exchange.credentials import Handshake
from ws_exchange.errors import SecretInvalid

from ._support import URI, Secrets, deadline, mode


def prepare(secret: str):  # type: ignore[no-untyped-def]
    basic = mode({"AUTH_MODE": "basic", "TOKEN_SECRET_ID": "s"})
    return basic.prepare(Handshake(URI), Secrets(secret), deadline(), refresh=False)


def test_rfc_7617_example_is_encoded_exactly() -> None:
    # RFC 7617 section 2: Aladdin / open sesame.
    prepared = prepare('{"username": "Aladdin", "password": "open sesame"}')
    assert prepared.handshake.headers == (("Authorization", "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ=="),)
    assert set(prepared.credentials) == {
        "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "QWxhZGRpbjpvcGVuIHNlc2FtZQ==",
        "open sesame",
    }


def test_username_and_password_are_utf8_and_the_password_may_hold_colons() -> None:
    prepared = prepare(json.dumps({"username": "tést", "password": "a:b:ç"}))
    value = prepared.handshake.headers[0][1]
    assert base64.b64decode(value.removeprefix("Basic ")).decode() == "tést:a:b:ç"


@pytest.mark.parametrize(
    ("secret", "says"),
    [
        ("sEkReT", "JSON object"),
        ('{"username": "u"}', "'password'"),
        ('{"password": "sEkReT"}', "'username'"),
        ('{"username": "u:v", "password": "sEkReT"}', "colon"),
        ('{"username": "u", "password": "sEkReT\\n"}', "control"),
        ('{"username": "u", "password": 12345}', "not a string"),
    ],
)
def test_a_secret_that_is_not_username_and_password_is_secret_invalid(
    secret: str, says: str
) -> None:
    with pytest.raises(SecretInvalid) as info:
        prepare(secret)
    assert says in info.value.message
    assert "sEkReT" not in str(info.value)
    assert "12345" not in str(info.value)
