"""The conversation: the plan's steps, in order, over one connection. I/O at the edge.

Every invocation is a list of steps: a scenario's own, or the ones its
``message``/``messages``, ``expected_replies``, ``until`` and
``collect_seconds`` stand for (:func:`.scenario.from_messages`). Every wait is
capped by the deadline; every reply is kept through :func:`.replies.keep`,
which scrubs it of credentials (before any expression sees it) and charges it
to the result's budgets.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from websockets.exceptions import ConnectionClosed as WebSocketClosed

from . import checks, connection_facts, scenario, templates
from .closing import closed_error, closed_normally
from .deadline import Deadline
from .errors import ExpectationFailed, ReplyTimeout
from .plan import Plan, Progress
from .protocols.link import COMPLETE, Link
from .replies import charge_sent, charge_variable, keep_held
from .result import timings_ms
from .scenario import (
    AwaitCloseStep,
    CollectStep,
    ExpectStep,
    PingStep,
    ReceiveStep,
    SendStep,
    SleepStep,
    Step,
)

_TIE_SECONDS = 0.01


@dataclass(slots=True)
class _Turn:
    """One conversation in progress: the link, the plan, the budgets and the step running."""

    link: Link
    plan: Plan
    deadline: Deadline
    progress: Progress
    builtins: templates.Builtins
    out_of_time: Callable[[], bool]
    # The step running now, for messages about the deadline ("" outside a scenario).
    label: str = ""


async def converse(link: Link, plan: Plan, deadline: Deadline, progress: Progress) -> None:
    """Run the plan's steps in order; raise the typed error of the first that fails."""
    turn = _Turn(
        link,
        plan,
        deadline,
        progress,
        templates.builtins(plan.request_id or ""),
        checks.deadline_check(deadline.at),
    )
    try:
        # One bound for the whole conversation, so that a server that stops
        # reading cannot hold a send past the deadline; each wait has its own
        # timeout inside it. (A bound per send cost a 1000-message batch 5 %.)
        # Set just after the deadline, within its safety margin, so that a wait
        # cut short by the deadline fires first and says what it awaited.
        async with asyncio.timeout_at(deadline.at + _TIE_SECONDS):
            for step in plan.steps:
                turn.label = step.label
                await _RUN[type(step)](turn, step)
    except TimeoutError:
        during = f" during {turn.label}" if turn.label else " during the exchange"
        raise ReplyTimeout(f"The Lambda deadline came{during}.") from None
    except WebSocketClosed as exc:
        raise closed_error(exc, plan.config) from None
    finally:
        keep_held(plan, progress)


async def _send(turn: _Turn, step: SendStep) -> None:
    outgoing = step.prepare(
        turn.progress.variables, turn.builtins, turn.plan.config.timestamp_field
    )
    if step.outgoing is None:
        # A value built from variables was not counted when the plan was made.
        charge_sent(outgoing.shown_size, turn.plan, turn.progress)
    if not turn.progress.first_sent_at:
        turn.progress.first_sent_at = time.perf_counter()
    sent = await turn.link.send(outgoing, turn.plan.reply_timeout)
    turn.progress.sent.append(sent)


async def _receive_step(turn: _Turn, step: ReceiveStep) -> None:
    timeout = turn.plan.reply_timeout if step.timeout is None else step.timeout
    reply: Any = None
    if step.count is not None:
        for index in range(step.count):
            # Only the step's last reply is read here, and only to extract from it.
            later = not step.extract or index < step.count - 1
            reply = await _receive(turn, timeout, later=later)
    elif step.until is None:
        # Until the protocol's operation is complete (its mark is not a reply).
        for _ in range(step.max_replies + 1):
            arrived = await _receive(turn, timeout, completes=True)
            if arrived is COMPLETE:
                break
            reply = arrived
        else:
            raise ExpectationFailed(scenario.not_completed_message(step))
    else:
        for _ in range(step.max_replies):
            reply = await _receive(turn, timeout)
            if scenario.reply_matches(step, reply, turn.out_of_time):
                break
        else:
            raise ExpectationFailed(scenario.until_not_matched_message(step))
    if step.extract:
        progress = turn.progress
        progress.variables.update(
            scenario.extract(
                step,
                reply,
                turn.out_of_time,
                lambda name, text: charge_variable(name, text, progress),
            )
        )


async def _collect(turn: _Turn, step: CollectStep) -> None:
    """Keep what arrives for the window (at most ``max_replies``).

    Silence is fine, and so is the server ending the conversation with a normal
    close (1000 or 1001) within the window: what was collected is checked. A
    scenario's window cut short by the deadline is not what the step asked for
    (and the steps after it would run out of time); ``collect_seconds`` only
    ever meant "never past the deadline".
    """
    window = turn.deadline.cap(step.seconds)
    try:
        async with asyncio.timeout(window):
            for _ in range(step.max_replies):
                await turn.link.receive()
    except TimeoutError:
        if step.label and window < step.seconds:
            raise ReplyTimeout(
                f"The Lambda deadline came during {step.label}, {window:.3g} s into its "
                f"{step.seconds:g} s collect window."
            ) from None
    except WebSocketClosed as exc:
        if not closed_normally(exc):
            raise
        _closed_by_server(turn.progress, exc)


async def _await_close(turn: _Turn, step: AwaitCloseStep) -> None:
    """Wait for the server to close; replies that arrive first are kept.

    Whatever code the server closes with ends the step without error: the
    close is recorded for the expectations to judge.
    """
    timeout = turn.plan.reply_timeout if step.timeout is None else step.timeout
    limit = turn.deadline.cap(timeout)
    try:
        async with asyncio.timeout(limit):
            while True:
                await turn.link.receive()
    except TimeoutError:
        raise ReplyTimeout(
            f"{step.label}: the server did not close the connection within {limit:.3g} s."
        ) from None
    except WebSocketClosed as exc:
        if exc.rcvd is None:
            raise
        _closed_by_server(turn.progress, exc)


async def _ping(turn: _Turn, step: PingStep) -> None:
    limit = turn.deadline.cap(turn.plan.reply_timeout)
    started = time.perf_counter()
    pong = await turn.link.connection.ping()
    try:
        async with asyncio.timeout(limit):
            await pong
    except TimeoutError:
        raise ReplyTimeout(f"{step.label}: no pong arrived within {limit:.3g} s.") from None
    turn.progress.phases["ping"] = (time.perf_counter() - started) * 1000.0


async def _expect(turn: _Turn, step: ExpectStep) -> None:
    progress = turn.progress
    keep_held(turn.plan, progress)
    document = {
        "sent": progress.sent,
        "received": progress.received,
        "subprotocol": progress.subprotocol,
        "timings_ms": timings_ms(progress, (time.perf_counter() - progress.started_at) * 1000.0),
        "connection": progress.connection,
        "vars": progress.variables,
    }
    scenario.check_expect(step, document, turn.out_of_time)


async def _sleep(turn: _Turn, step: SleepStep) -> None:
    # Cut at the deadline by the conversation's own bound: a ReplyTimeout naming the step.
    await asyncio.sleep(step.seconds)


_RUN: dict[type[Step], Callable[[_Turn, Any], Awaitable[None]]] = {
    SendStep: _send,
    ReceiveStep: _receive_step,
    CollectStep: _collect,
    AwaitCloseStep: _await_close,
    PingStep: _ping,
    ExpectStep: _expect,
    SleepStep: _sleep,
}


async def _receive(
    turn: _Turn, timeout: float, *, completes: bool = False, later: bool = False
) -> Any:
    """Wait for one reply, keep it in ``progress`` and return it (as kept); with
    ``completes``, :data:`COMPLETE` when the protocol's operation ends first;
    with ``later``, the reply may be kept after the next message is sent."""
    limit = turn.deadline.cap(timeout)
    # Checked before each wait, not only by the timer: replies that are already
    # buffered return without yielding to the event loop, where a timer fires.
    if limit <= 0:
        raise ReplyTimeout("No time was left before the Lambda deadline to wait for a reply.")
    try:
        async with asyncio.timeout(limit):
            return await turn.link.receive(completes=completes, later=later)
    except TimeoutError:
        where = f"{turn.label}: n" if turn.label else "N"
        if limit < timeout:
            raise ReplyTimeout(
                f"{where}o reply arrived before the Lambda deadline ({limit:.3g} s)."
            ) from None
        raise ReplyTimeout(f"{where}o reply arrived within {limit:.3g} s.") from None


def _closed_by_server(progress: Progress, exc: WebSocketClosed) -> None:
    """Record the server's close now, for the steps after this one to see."""
    assert exc.rcvd is not None
    progress.connection["close"] = connection_facts.close_facts(
        exc.rcvd.code, exc.rcvd.reason, "server"
    )
