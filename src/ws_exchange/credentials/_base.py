"""What most modes share: nothing to do once the connection is open. Pure logic."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..deadline import Deadline
    from . import Prepared


class HandshakeOnly:
    """Mixin for the modes whose credential travels on the handshake alone."""

    __slots__ = ()

    async def after_open(
        self,
        connection: ClientConnection,
        prepared: Prepared,
        deadline: Deadline,
        reply_timeout: float,
    ) -> None:
        """Nothing: the handshake carried the credential."""
