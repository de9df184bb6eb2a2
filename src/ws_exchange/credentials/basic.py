"""``AUTH_MODE=basic``: ``Authorization: Basic base64(username:password)`` (RFC 7617). Pure logic.

The secret is JSON ``{"username": ..., "password": ...}``; both are encoded as UTF-8
(RFC 7617 section 2.1, ``charset="UTF-8"``). Nothing is cached beyond the core's secret
cache. Scrubbed: the password, the base64 value and the whole header value. websockets
drops ``Authorization`` on a cross-origin redirect.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..errors import SecretInvalid
from . import Handshake, Prepared, ReadSecret, secret_object
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline

_WHAT = "The token secret (TOKEN_SECRET_ID)"


def _has_control(text: str) -> bool:
    return any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in text)


def basic_value(secret_text: str) -> tuple[str, str, str]:
    """``("Basic <base64>", base64, password)`` from the secret's text. Pure.

    Raises:
        SecretInvalid: not ``{"username", "password"}``, a colon in the username or a
            control character in either (RFC 7617 section 2).
    """
    fields = secret_object(secret_text, ("username",), ("password",), what=_WHAT)
    username = fields["username"]
    password = fields.get("password")
    if password is None:
        raise SecretInvalid(f"{_WHAT} has no field 'password'.")
    if ":" in username:
        raise SecretInvalid(f"{_WHAT}'s username contains a colon, which Basic cannot carry.")
    if _has_control(username) or _has_control(password):
        raise SecretInvalid(f"{_WHAT}'s username or password contains a control character.")
    encoded = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
    return f"Basic {encoded}", encoded, password


@dataclass(frozen=True, slots=True)
class Basic(HandshakeOnly):
    """A username and password in ``Authorization``."""

    needs_secret: ClassVar[bool] = True

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        secret = read_secret(refresh)
        value, encoded, password = basic_value(secret.text)
        credentials = (value, encoded, password) if password else (value, encoded)
        return Prepared(
            replace(handshake, headers=(*handshake.headers, ("Authorization", value))),
            fresh=secret.fresh,
            credentials=credentials,
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Basic:
    """The mode; it has no settings of its own (the cross-mode check runs in ``load_mode``)."""
    return Basic()
