"""The reply loop's own deadline check, without a network.

A reply that is already buffered returns without yielding to the event loop,
where timers fire: a server that keeps the buffer full would hold the answer
past the deadline. The loop therefore checks the time before each wait; a
connection that always has a reply ready shows it.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ws_exchange.config import load_config
from ws_exchange.conversation import converse
from ws_exchange.deadline import Deadline
from ws_exchange.errors import ReplyTimeout
from ws_exchange.framing import prepare
from ws_exchange.plan import Plan, Progress
from ws_exchange.protocols.link import RawLink
from ws_exchange.scenario import from_messages


class AlwaysReady:
    """A connection whose next reply is always already there."""

    def __init__(self) -> None:
        self.received = 0

    async def send(self, frame: str) -> None:
        return None

    async def recv(self) -> str:
        self.received += 1
        return '{"type": "update"}'


def plan(replies: int) -> Plan:
    config = load_config({"WEBSOCKET_URI": "wss://example.com/", "TOKEN_SECRET_ID": "s"})
    return Plan(
        config=config,
        steps=from_messages(
            (prepare("x"),),
            expected_replies=replies,
            until=None,
            max_replies=100,
            collect_seconds=None,
        ),
        sent_bytes=1,
        reply_timeout=10.0,
        expect=(),
        result_budget=4 * 1024 * 1024,
    )


def test_no_reply_is_awaited_once_the_deadline_has_passed() -> None:
    connection = AlwaysReady()
    deadline = Deadline(0.0, margin=0.0)

    progress = Progress()
    the_plan = plan(100)
    link = RawLink(connection, the_plan, progress)  # type: ignore[arg-type]

    with pytest.raises(ReplyTimeout, match="No time was left"):
        asyncio.run(converse(link, the_plan, deadline, progress))

    assert connection.received == 0


def test_replies_are_awaited_while_time_is_left() -> None:
    connection: Any = AlwaysReady()
    progress = Progress()

    the_plan = plan(5)
    link = RawLink(connection, the_plan, progress)

    asyncio.run(converse(link, the_plan, Deadline(10.0, margin=0.0), progress))

    assert connection.received == 5
    assert progress.received == [{"type": "update"}] * 5
