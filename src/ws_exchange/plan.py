"""What one invocation does and what has happened so far. Pure logic.

A :class:`Plan` is the configuration and the request, resolved before any I/O;
a :class:`Progress` is filled in as the exchange goes, so that a failure keeps
whatever arrived before it. Both are plain data: the result is built from them
without importing the network side.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from .checks import Checks
    from .config import Config
    from .credentials import SecretValue
    from .framing import Outgoing


class SecretStore(Protocol):
    """Where secrets are read: Secrets Manager through the SDK or the Lambda extension."""

    def get(
        self, secret_id: str, *, max_age: float, refresh: bool, timeout: float
    ) -> SecretValue: ...


@dataclass(frozen=True, slots=True)
class Plan:
    """What one invocation does: the configuration and the request, resolved."""

    config: Config
    messages: tuple[Outgoing, ...]
    # The messages' frames in bytes, as sent (timestamps included).
    sent_bytes: int
    expected_replies: int
    reply_timeout: float
    # until, max_replies, collect_seconds and expect (the request's, else DEFAULT_EXPECT).
    checks: Checks
    # Bytes of replies the result may keep (MAX_RESULT_BYTES, less what the sent
    # messages take of Lambda's response limit).
    result_budget: int


def _no_connection() -> dict[str, Any]:
    return {"status": None, "headers": {}, "tls": None, "close": None}


@dataclass(slots=True)
class Progress:
    """What has happened so far; read by the result even after a failure."""

    sent: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    received_bytes: int = 0
    memory_estimate: int = 0
    attempts: int = 0
    subprotocol: str | None = None
    secret_ms: float = 0.0
    connect_ms: float = 0.0
    exchange_ms: float = 0.0
    # Phase timings of the successful attempt and of the conversation (ms):
    # dns, tcp, tls, handshake, first_reply, close, ping; absent if not reached.
    phases: dict[str, float] = field(default_factory=dict)
    # When the first message was sent (time.perf_counter), for first_reply.
    first_sent_at: float = 0.0
    # What the connection showed: the handshake's status and headers, TLS, the close.
    connection: dict[str, Any] = field(default_factory=_no_connection)
