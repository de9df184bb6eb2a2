"""``AUTH_MODE=subprotocol``: the token as a subprotocol offered last. Pure logic.

``Sec-WebSocket-Protocol`` offers ``SUBPROTOCOLS`` then ``<AUTH_SUBPROTOCOL_PREFIX><token>``
(Kubernetes: prefix ``base64url.bearer.authorization.k8s.io.``, encoding ``base64url``).
``AUTH_SUBPROTOCOL_ENCODING`` is ``raw`` (the token must then be an RFC 9110 token) or
``base64url`` (RFC 4648 section 5, unpadded, of its UTF-8: any character). The secret
holds the token. Nothing is cached beyond the core's secret cache. Scrubbed: the
token, its encoding and the whole subprotocol; the result never shows that
subprotocol. websockets keeps subprotocols on a redirect: the core must refuse
cross-origin ones.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..errors import ConfigError, SecretInvalid
from . import Handshake, Prepared, ReadSecret, is_token, read_token, setting, token_field
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline

ENCODINGS = ("raw", "base64url")


def encode_token(token: str, encoding: str) -> str:
    """``token`` as it goes after the prefix. Pure.

    Raises:
        SecretInvalid: a ``raw`` token with characters a subprotocol cannot carry.
    """
    if encoding == "base64url":
        return base64.urlsafe_b64encode(token.encode()).decode("ascii").rstrip("=")
    if not is_token(token):
        raise SecretInvalid(
            "The secret's token has characters a subprotocol cannot carry; "
            "set AUTH_SUBPROTOCOL_ENCODING=base64url."
        )
    return token


@dataclass(frozen=True, slots=True)
class Subprotocol(HandshakeOnly):
    """The token in ``Sec-WebSocket-Protocol``, after the configured subprotocols."""

    needs_secret: ClassVar[bool] = True
    prefix: str
    encoding: str = "raw"
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        encoded = encode_token(token, self.encoding)
        carrier = f"{self.prefix}{encoded}"
        credentials = (token, carrier) if encoded == token else (token, encoded, carrier)
        return Prepared(
            replace(handshake, subprotocols=(*handshake.subprotocols, carrier)),
            fresh=fresh,
            credentials=credentials,
            token=token,
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Subprotocol:
    """The mode from ``AUTH_SUBPROTOCOL_PREFIX`` and ``AUTH_SUBPROTOCOL_ENCODING``.

    Raises:
        ConfigError: naming the variable missing or invalid.
    """
    prefix = setting(environ, "AUTH_SUBPROTOCOL_PREFIX")
    if prefix is None:
        raise ConfigError(
            "AUTH_SUBPROTOCOL_PREFIX is required with AUTH_MODE subprotocol "
            "(Kubernetes: base64url.bearer.authorization.k8s.io.)."
        )
    if not is_token(prefix):
        raise ConfigError(
            "AUTH_SUBPROTOCOL_PREFIX must contain only characters a subprotocol can carry "
            "(RFC 9110 token characters)."
        )
    encoding = setting(environ, "AUTH_SUBPROTOCOL_ENCODING") or "raw"
    if encoding not in ENCODINGS:
        raise ConfigError("AUTH_SUBPROTOCOL_ENCODING must be raw or base64url.")
    return Subprotocol(prefix=prefix, encoding=encoding, field=token_field(environ))
