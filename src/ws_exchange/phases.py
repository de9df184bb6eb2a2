"""Phase timings of one connection attempt, marked where each phase starts and ends.

The marks come from the places that do the work: the resolver
(:meth:`.event_loop.EventLoop.getaddrinfo`), the socket connect
(:meth:`.event_loop.EventLoop.sock_connect`), the moment the transport is ready
after the TLS handshake (the connection's ``connection_made``), and the HTTP
upgrade (the connection's ``handshake``). Pure logic: only the clock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

# The phases of opening a connection, in order.
OPENING_PHASES = ("dns", "tcp", "tls", "handshake")


@dataclass(slots=True)
class PhaseWatch:
    """Start and end marks (``time.perf_counter``) of the phases of one attempt."""

    started: dict[str, float] = field(default_factory=dict)
    ended: dict[str, float] = field(default_factory=dict)

    def start(self, phase: str) -> None:
        """Mark the start of ``phase``; a phase that repeats (a second address) keeps its first."""
        self.started.setdefault(phase, time.perf_counter())

    def end(self, phase: str) -> None:
        """Mark the end of ``phase``; the last end counts."""
        if phase in self.started:
            self.ended[phase] = time.perf_counter()

    def span(self, phase: str, since: str) -> None:
        """Record ``phase`` as running from the end of ``since`` until now."""
        if since in self.ended:
            self.started[phase] = self.ended[since]
            self.ended[phase] = time.perf_counter()

    def durations_ms(self) -> dict[str, float]:
        """Each phase that started and ended, in milliseconds."""
        return {
            phase: (self.ended[phase] - self.started[phase]) * 1000.0
            for phase in OPENING_PHASES
            if phase in self.ended
        }
