"""Credential modes (the contract's section 8): how credentials travel on the handshake.

The interface lives here; each ``AUTH_MODE`` value has a module of its own, imported on
first use only (:func:`load_mode`), so a ``bearer`` deployment never imports the
OAuth2 client, botocore's signer or JMESPath.

A mode is built from the environment by its module's ``from_environ`` (which raises
:class:`~ws_exchange.errors.ConfigError` naming the variable at fault), then, for each
connection attempt, :meth:`CredentialMode.prepare` turns the configured
:class:`Handshake` into the one that carries the credential, and
:meth:`CredentialMode.after_open` runs once the connection is open (only ``message``
acts there). Every string a mode puts on the wire that is a credential is listed in
:attr:`Prepared.credentials`, so that redaction learns each encoded form.

The *secret* is what Secrets Manager holds (:class:`SecretValue`); the *credential* is
what goes on the wire.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import ConfigError

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..deadline import Deadline

# AUTH_MODE value -> module under ws_exchange.credentials.
MODES: dict[str, str] = {
    "bearer": "bearer",
    "header": "header",
    "basic": "basic",
    "query": "query",
    "subprotocol": "subprotocol",
    "oauth2_client_credentials": "oauth2",
    "sigv4": "sigv4",
    "message": "message",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class SecretValue:
    """A secret's text and whether it came from its source just now (not a cache)."""

    text: str
    fresh: bool

    def __repr__(self) -> str:
        return f"SecretValue(text='***', fresh={self.fresh})"


# Reads the mode's configured secret: ``read_secret(refresh)``; ``refresh=True``
# bypasses the cache. Raises the contract's ``secret_*`` errors; capped by the deadline.
ReadSecret = Callable[[bool], SecretValue]


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the opening handshake carries, before and after a mode adds its credential."""

    uri: str
    headers: tuple[tuple[str, str], ...] = ()
    subprotocols: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Headers and subprotocols may carry credentials; the URI's query too.
        return f"Handshake(headers={len(self.headers)}, subprotocols={len(self.subprotocols)})"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A handshake carrying its credential, and what redaction must learn from it."""

    handshake: Handshake
    # Every credential in it was obtained from its source just now: a 401/403 is final.
    fresh: bool
    # Every string put on the wire that is (or reveals) a credential, in each encoded form.
    credentials: tuple[str, ...] = ()
    # The raw token, for modes that use it after the handshake (``message``).
    token: str | None = None

    def __repr__(self) -> str:
        return f"Prepared(fresh={self.fresh}, credentials={len(self.credentials)})"


class CredentialMode(Protocol):
    """One ``AUTH_MODE``: built by its module's ``from_environ``."""

    # Whether the mode reads TOKEN_SECRET_ID (``sigv4`` and ``none`` do not).
    needs_secret: ClassVar[bool]

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        """Return ``handshake`` with the credential on it.

        ``refresh=True`` after a 401/403 on a cached credential: obtain it again.
        """
        ...

    async def after_open(
        self,
        connection: ClientConnection,
        prepared: Prepared,
        deadline: Deadline,
        reply_timeout: float,
    ) -> None:
        """Run once the connection is open (authentication messages); usually nothing."""
        ...


def load_mode(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> CredentialMode:
    """The configured mode, its module imported now; :class:`ConfigError` if invalid."""
    name = (environ.get("AUTH_MODE") or "bearer").strip()
    module_name = MODES.get(name)
    if module_name is None:
        raise ConfigError(f"AUTH_MODE must be one of: {', '.join(MODES)}.")
    module: Any = importlib.import_module(f"{__name__}.{module_name}")
    mode: CredentialMode = module.from_environ(environ, uri=uri, allow_insecure=allow_insecure)
    return mode
