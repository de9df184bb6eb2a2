"""``AUTH_MODE=query``: the token as query parameter ``AUTH_QUERY_PARAM``. Pure logic.

The secret holds the token (``TOKEN_SECRET_FIELD``, or the whole string). The value is
percent-encoded (every byte of its UTF-8 outside RFC 3986's unreserved set, so it may
hold any character) and appended to the
URI's existing query. Nothing is cached beyond the core's secret cache. Scrubbed: the
token and its encoded form, so that the request line websockets logs at DEBUG and any
echo of it are redacted. A query string is kept by websockets on a redirect: the core
must refuse cross-origin ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar
from urllib.parse import parse_qsl, quote, urlsplit, urlunsplit

from ..errors import ConfigError
from . import Handshake, Prepared, ReadSecret, read_token, setting, token_field
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline


def with_query_parameter(uri: str, name: str, value: str) -> tuple[str, str]:
    """``(uri with name=value appended to its query, the encoded value)``. Pure."""
    parts = urlsplit(uri)
    encoded = quote(value, safe="")
    pair = f"{quote(name, safe='')}={encoded}"
    query = f"{parts.query}&{pair}" if parts.query else pair
    return urlunsplit(parts._replace(query=query)), encoded


@dataclass(frozen=True, slots=True)
class Query(HandshakeOnly):
    """The token in the handshake URI's query string."""

    needs_secret: ClassVar[bool] = True
    parameter: str = "access_token"
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        token, fresh = read_token(read_secret, self.field, refresh=refresh)
        uri, encoded = with_query_parameter(handshake.uri, self.parameter, token)
        credentials = (token,) if encoded == token else (token, encoded)
        return Prepared(
            replace(handshake, uri=uri), fresh=fresh, credentials=credentials, token=token
        )


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Query:
    """The mode from ``AUTH_QUERY_PARAM``; :class:`ConfigError` naming it if invalid."""
    parameter = setting(environ, "AUTH_QUERY_PARAM") or "access_token"
    if not all("!" <= c <= "~" for c in parameter):
        raise ConfigError("AUTH_QUERY_PARAM must be visible ASCII (e.g. access_token).")
    existing = {name for name, _ in parse_qsl(urlsplit(uri).query, keep_blank_values=True)}
    if parameter in existing:
        raise ConfigError(
            f"WEBSOCKET_URI already has a query parameter {parameter!r}, the one "
            "AUTH_QUERY_PARAM puts the token in: remove it from the URI."
        )
    return Query(parameter=parameter, field=token_field(environ))
