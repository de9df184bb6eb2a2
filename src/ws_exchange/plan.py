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
    from .checks import Expression
    from .config import Config
    from .credentials import SecretValue
    from .scenario import Step


class SecretStore(Protocol):
    """Where secrets are read: Secrets Manager through the SDK or the Lambda extension."""

    def get(
        self, secret_id: str, *, max_age: float, refresh: bool, timeout: float
    ) -> SecretValue: ...


# What the decoded replies of one invocation may take in memory (replies.py says why).
MEMORY_BUDGET_BYTES = 48 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Plan:
    """What one invocation does: the configuration and the request, resolved."""

    config: Config
    # A scenario's steps, or the steps the request's messages and checks stand for.
    steps: tuple[Step, ...]
    # The messages known before any I/O, as the result's `sent` shows them (compact JSON).
    sent_bytes: int
    reply_timeout: float
    # Evaluated once the connection is closed: the request's, else DEFAULT_EXPECT.
    expect: tuple[Expression, ...]
    # Bytes of replies (and of messages built from variables) the result may keep:
    # MAX_RESULT_BYTES, less what the known messages take of Lambda's response limit.
    result_budget: int
    # Replies may still be arriving when the conversation ends (until, collect):
    # the close reads and drops them.
    drain_on_close: bool = False
    # The invocation's request id, for the ``request_id`` placeholder.
    request_id: str | None = None


def _no_connection() -> dict[str, Any]:
    return {"status": None, "headers": {}, "tls": None, "close": None}


@dataclass(slots=True)
class Progress:
    """What has happened so far; read by the result even after a failure."""

    sent: list[Any] = field(default_factory=list)
    received: list[Any] = field(default_factory=list)
    received_bytes: int = 0
    memory_estimate: int = 0
    # What memory_estimate may reach: a fleet's targets share the function's.
    memory_budget: int = MEMORY_BUDGET_BYTES
    attempts: int = 0
    subprotocol: str | None = None
    secret_ms: float = 0.0
    connect_ms: float = 0.0
    exchange_ms: float = 0.0
    # Phase timings of the successful attempt and of the conversation (ms):
    # dns, tcp, tls, handshake, first_reply, close, ping; absent if not reached.
    phases: dict[str, float] = field(default_factory=dict)
    # When the invocation and the first message began (time.perf_counter).
    started_at: float = 0.0
    first_sent_at: float = 0.0
    # What receive steps extracted, by name, and the memory each is charged.
    variables: dict[str, Any] = field(default_factory=dict)
    variable_memory: dict[str, int] = field(default_factory=dict)
    # What the connection showed: the handshake's status and headers, TLS, the close.
    connection: dict[str, Any] = field(default_factory=_no_connection)
    # A reply received, charged to the memory budget, not yet kept in `received`
    # (replies.keep with later=True).
    unkept: str | bytes | None = None
