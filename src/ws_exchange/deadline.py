"""Time budgets: every wait is capped by the Lambda deadline. Pure logic.

Lambda kills an invocation at its deadline without a word; the function must
answer before that with a typed result. A :class:`Deadline` is the moment, a
safety margin before Lambda's, after which nothing more may be waited for.
"""

from __future__ import annotations

import random
import time
from typing import Protocol

# Time kept back for building the result, the summary log line and the metrics
# flush after the last wait has been cut short.
SAFETY_MARGIN_SECONDS = 0.5
BACKOFF_BASE_SECONDS = 0.2
BACKOFF_CAP_SECONDS = 5.0


class LambdaContextLike(Protocol):
    """The part of the Lambda context object this module reads."""

    def get_remaining_time_in_millis(self) -> int: ...


class Deadline:
    """A point in (monotonic) time that no wait may go past."""

    __slots__ = ("_at",)

    def __init__(self, seconds_left: float, margin: float = SAFETY_MARGIN_SECONDS) -> None:
        self._at = time.monotonic() + seconds_left - margin

    @classmethod
    def from_context(
        cls, context: LambdaContextLike | None, limit: float | None = None
    ) -> Deadline:
        """The deadline of the invocation ``context`` belongs to.

        ``limit`` shortens it further (a caller that stops waiting sooner than
        Lambda would). Without a context (a bare call of the handler) the
        longest Lambda invocation, 15 minutes, is the limit.
        """
        seconds = 900.0 if context is None else context.get_remaining_time_in_millis() / 1000.0
        return cls(seconds if limit is None else min(seconds, limit))

    @property
    def at(self) -> float:
        """The deadline on the :func:`time.monotonic` clock (asyncio's clock too)."""
        return self._at

    def remaining(self) -> float:
        """Seconds left before the deadline (never negative)."""
        return max(0.0, self._at - time.monotonic())

    def cap(self, seconds: float) -> float:
        """``seconds``, shortened to what is left (0.0 when nothing is)."""
        return min(seconds, self.remaining())


def backoff_delay(failures: int, rng: random.Random | None = None) -> float:
    """Full-jitter exponential backoff before the retry after ``failures`` failures.

    A uniform draw in ``[0, min(cap, base * 2**(failures - 1))]``: retries of
    many functions hitting one recovering server spread out instead of
    arriving together.
    """
    ceiling = min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** max(0, failures - 1))
    return (rng or random).uniform(0.0, ceiling)
