"""``AUTH_MODE=none``: no credential on the handshake (public endpoints, mutual TLS alone).

Pure logic. No secret is read (``TOKEN_SECRET_ID`` is ignored), nothing is cached or
scrubbed. A 401/403 is final: there is nothing to obtain again.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from . import Handshake, Prepared, ReadSecret
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline


@dataclass(frozen=True, slots=True)
class NoCredential(HandshakeOnly):
    """The handshake as configured."""

    needs_secret: ClassVar[bool] = False

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        return Prepared(handshake, fresh=True)


def from_environ(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> NoCredential:
    """The mode; it has no settings of its own."""
    return NoCredential()
