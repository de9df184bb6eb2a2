"""``AUTH_MODE=bearer`` (the default): ``Authorization: <AUTH_SCHEME> <token>``. Pure logic.

The secret (``TOKEN_SECRET_ID``) holds the token: the whole SecretString, or its
``TOKEN_SECRET_FIELD`` when it is a JSON object. Nothing is cached here: the core's
secret cache (``SECRET_MAX_AGE_SECONDS``) is the only one. Scrubbed: the token and the
whole header value. websockets drops ``Authorization`` on a cross-origin redirect, so
the token only ever reaches the configured origin.
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
class Bearer(HandshakeOnly):
    """The token after a scheme word in ``Authorization``."""

    needs_secret: ClassVar[bool] = True
    scheme: str = "Bearer"
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        header_token(token)
        value = f"{self.scheme} {token}"
        return Prepared(
            replace(handshake, headers=(*handshake.headers, ("Authorization", value))),
            fresh=fresh,
            credentials=(token, value),
            token=token,
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Bearer:
    """The mode from ``AUTH_SCHEME`` and ``TOKEN_SECRET_FIELD``; :class:`ConfigError` if invalid."""
    scheme = setting(environ, "AUTH_SCHEME") or "Bearer"
    if not is_token(scheme):
        raise ConfigError("AUTH_SCHEME must be a single word such as Bearer.")
    return Bearer(scheme=scheme, field=token_field(environ))
