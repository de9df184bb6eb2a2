"""``AUTH_MODE=bearer``: ``Authorization: <AUTH_SCHEME> <token>``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, ClassVar

from ..errors import ConfigError
from . import Handshake, Prepared, ReadSecret

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..deadline import Deadline

_AUTH_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class Bearer:
    needs_secret: ClassVar[bool] = True
    scheme: str = "Bearer"
    field: str = "token"

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        from ..secret import extract_token

        secret = read_secret(refresh)
        token = extract_token(secret.text, self.field)
        value = f"{self.scheme} {token}"
        headers = (*handshake.headers, ("Authorization", value))
        return Prepared(replace(handshake, headers=headers), secret.fresh, (value, token))

    async def after_open(
        self,
        connection: ClientConnection,
        prepared: Prepared,
        deadline: Deadline,
        reply_timeout: float,
    ) -> None:
        return None


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> Bearer:
    scheme = environ.get("AUTH_SCHEME", "Bearer").strip()
    if not _AUTH_SCHEME.fullmatch(scheme):
        raise ConfigError("AUTH_SCHEME must be a single word such as Bearer.")
    field = environ.get("TOKEN_SECRET_FIELD", "token").strip()
    if not field:
        raise ConfigError("TOKEN_SECRET_FIELD must not be empty.")
    return Bearer(scheme, field)
