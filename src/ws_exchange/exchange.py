"""The exchange: open, converse, close. I/O at the edge.

:func:`run` reads as what one invocation does: the credential mode prepares
the opening handshake and the connection is opened (:mod:`.opening`), the
conversation runs (:mod:`.conversation`), and the connection is closed
(:mod:`.closing`), on success and failure alike. Every wait is capped by the
:class:`~ws_exchange.deadline.Deadline`. Progress is recorded in a
:class:`~ws_exchange.plan.Progress` as it happens, so that a failure keeps
whatever arrived before it.
"""

from __future__ import annotations

import asyncio
import time

from .closing import close
from .conversation import converse
from .deadline import Deadline
from .opening import open_connection
from .plan import Plan, Progress, SecretStore


async def run(plan: Plan, store: SecretStore, deadline: Deadline, progress: Progress) -> None:
    """Run one exchange, recording into ``progress``; raise :class:`ExchangeError`."""
    link = await open_connection(plan, store, deadline, progress)
    connection = link.connection
    # A server flooding frames (pings, each answered by websockets itself) keeps
    # the event loop busy: every wait is cut at the deadline, but the loop only
    # reaches those timers between chunks of frames, and each chunk read after
    # the deadline delays the answer further (0.1-0.45 s past it against a raw
    # ping flood, measured in tests/integration/test_hostile.py). Dropping the
    # connection just after the deadline stops reading at once; the waits' own
    # timers, due a moment earlier, still say what was being awaited.
    cut = asyncio.get_running_loop().call_at(
        deadline.at + DROP_AFTER_DEADLINE_SECONDS, connection.transport.abort
    )
    started = time.perf_counter()
    try:
        await converse(link, plan, deadline, progress)
        link.raise_failure()
    finally:
        progress.exchange_ms = (time.perf_counter() - started) * 1000.0
        # A preset ends its protocol first (complete, disconnect) and stops reading;
        # frames still arriving are read and dropped by the close.
        drain = await link.end(deadline) or plan.drain_on_close
        await close(connection, deadline, progress, draining=drain)
        cut.cancel()


DROP_AFTER_DEADLINE_SECONDS = 0.05
