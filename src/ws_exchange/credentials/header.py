"""``AUTH_MODE=header``: ``<AUTH_HEADER>: <token>``, the token as is (API keys). Pure logic.

The secret holds the token (``TOKEN_SECRET_FIELD``, or the whole string). Nothing is
cached here beyond the core's secret cache. Scrubbed: the token. The token may hold
any character a header can carry (:func:`~ws_exchange.credentials.header_token`): no
control characters. Unlike
``Authorization``, a custom header is kept by websockets on a redirect to another
origin: the endpoint's redirects must be trusted (the core refuses cross-origin ones).
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
    is_reserved_header,
    is_token,
    read_token,
    setting,
    token_field,
)
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline


@dataclass(frozen=True, slots=True)
class Header(HandshakeOnly):
    """The token as the value of a header of the deployer's choosing."""

    needs_secret: ClassVar[bool] = True
    name: str
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        header_token(token)
        return Prepared(
            replace(handshake, headers=(*handshake.headers, (self.name, token))),
            fresh=fresh,
            credentials=(token,),
            token=token,
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Header:
    """The mode from ``AUTH_HEADER``; :class:`ConfigError` naming it if missing or invalid."""
    name = setting(environ, "AUTH_HEADER")
    if name is None:
        raise ConfigError("AUTH_HEADER is required with AUTH_MODE header (e.g. X-API-Key).")
    if not is_token(name):
        raise ConfigError(f"AUTH_HEADER: {name!r} is not a valid header name.")
    # Authorization stays allowed: some APIs take a bare key there, without a scheme.
    if name.lower() != "authorization" and is_reserved_header(name):
        raise ConfigError(
            f"AUTH_HEADER must not be {name}, a header reserved for the handshake or the "
            "proxy; use the header the endpoint reads the key from, such as X-API-Key."
        )
    return Header(name=name, field=token_field(environ))
