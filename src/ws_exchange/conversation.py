"""The conversation: send each message, collect its replies. I/O at the edge.

Every wait is capped by the deadline; every reply is kept through
:func:`.replies.keep`, which scrubs it and charges it to the result's budgets.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from . import checks, framing
from .closing import closed_error, closed_normally
from .deadline import Deadline
from .errors import ExpectationFailed, ReplyTimeout
from .plan import Plan, Progress
from .replies import keep

_TIE_SECONDS = 0.01


async def converse(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> None:
    """Send each message and collect its replies (a count, or ``until`` one matches),
    then, with ``collect_seconds``, whatever else arrives in that window."""
    until = plan.checks.until
    try:
        # One bound for the whole conversation, so that a server that stops
        # reading cannot hold a send past the deadline; each reply has its own
        # timeout inside it. (A bound per send cost a 1000-message batch 5 %.)
        # Set just after the deadline, within its safety margin, so that a reply
        # timeout cut short by the deadline fires first and says what it awaited.
        async with asyncio.timeout_at(deadline.at + _TIE_SECONDS):
            progress.first_sent_at = time.perf_counter()
            for outgoing in plan.messages:
                sent, frame = outgoing.frame(framing.now())
                await connection.send(frame)
                progress.sent.append(sent)
                if until is None:
                    for _ in range(plan.expected_replies):
                        await _receive(connection, plan, deadline, progress)
                    continue
                for _ in range(plan.checks.max_replies):
                    reply = await _receive(connection, plan, deadline, progress)
                    if checks.matches(until, reply, deadline.at):
                        break
                else:
                    raise ExpectationFailed(
                        checks.until_not_matched_message(plan.checks.max_replies)
                    )
            if plan.checks.collect_seconds is not None:
                await _collect(connection, plan, deadline, progress)
    except TimeoutError:
        raise ReplyTimeout("The Lambda deadline came during the exchange.") from None
    except WebSocketClosed as exc:
        raise closed_error(exc, plan.config) from None


async def _collect(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> None:
    """Keep what arrives for ``collect_seconds`` (at most ``max_replies``).

    Silence is fine, and so is the server ending the conversation with a normal
    close (1000 or 1001) within the window: what was collected is checked.
    """
    assert plan.checks.collect_seconds is not None
    window = deadline.cap(plan.checks.collect_seconds)
    try:
        async with asyncio.timeout(window):
            for _ in range(plan.checks.max_replies):
                frame = await connection.recv()
                _arrived(progress)
                keep(frame, plan, progress)
    except TimeoutError:
        pass
    except WebSocketClosed as exc:
        if not closed_normally(exc):
            raise


async def _receive(
    connection: ClientConnection, plan: Plan, deadline: Deadline, progress: Progress
) -> Any:
    """Wait for one reply, keep it in ``progress`` and return it (as kept)."""
    limit = deadline.cap(plan.reply_timeout)
    # Checked before each wait, not only by the timer: replies that are already
    # buffered return without yielding to the event loop, where a timer fires.
    if limit <= 0:
        raise ReplyTimeout("No time was left before the Lambda deadline to wait for a reply.")
    try:
        async with asyncio.timeout(limit):
            frame = await connection.recv()
    except TimeoutError:
        if limit < plan.reply_timeout:
            raise ReplyTimeout(
                f"No reply arrived before the Lambda deadline ({limit:.3g} s)."
            ) from None
        raise ReplyTimeout(f"No reply arrived within {limit:.3g} s.") from None
    _arrived(progress)
    return keep(frame, plan, progress)


def _arrived(progress: Progress) -> None:
    """Note the time to the first reply, from the first message sent."""
    if not progress.received and "first_reply" not in progress.phases:
        progress.phases["first_reply"] = (time.perf_counter() - progress.first_sent_at) * 1000.0
