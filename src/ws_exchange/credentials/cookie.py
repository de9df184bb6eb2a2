"""``AUTH_MODE=cookie``: ``Cookie: <AUTH_COOKIE>=<token>`` (session-cookie logins). Pure logic.

The secret holds the token (``TOKEN_SECRET_FIELD``, or the whole string), sent as the
value of the cookie named ``AUTH_COOKIE`` (an RFC 6265 cookie name: an RFC 9110 token).
The value goes as is, so the token may hold any character a header carries except
``;`` and ``,``, which would end the cookie
(:func:`~ws_exchange.credentials.header_token`). Nothing is cached beyond the core's
secret cache. Scrubbed: the token and the whole header value. ``Cookie`` is refused in
``HANDSHAKE_HEADERS`` in every mode: this mode alone writes it. websockets drops
``Cookie`` on a cross-origin redirect (and the core refuses those anyway), so the
token only ever reaches the configured origin.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..errors import ConfigError
from . import (
    Handshake,
    Prepared,
    ReadSecret,
    header_token,
    is_token,
    read_token,
    setting,
    token_field,
)
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline


@dataclass(frozen=True, slots=True)
class Cookie(HandshakeOnly):
    """The token as the value of a named cookie."""

    needs_secret: ClassVar[bool] = True
    name: str
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        value = f"{self.name}={header_token(token, cookie=True)}"
        return Prepared(
            replace(handshake, headers=(*handshake.headers, ("Cookie", value))),
            fresh=fresh,
            credentials=(token, value),
            token=token,
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Cookie:
    """The mode from ``AUTH_COOKIE``; :class:`ConfigError` naming it if missing or invalid."""
    name = setting(environ, "AUTH_COOKIE")
    if name is None:
        raise ConfigError(
            "AUTH_COOKIE is required with AUTH_MODE cookie: the name of the cookie that "
            "carries the token (e.g. session)."
        )
    if not is_token(name):
        raise ConfigError(
            f"AUTH_COOKIE: {name!r} is not a valid cookie name (letters, digits and "
            "!#$%&'*+-.^_`|~, no spaces, '=' or ';')."
        )
    return Cookie(name=name, field=token_field(environ))
