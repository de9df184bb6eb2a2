"""The result's size limit holds for replies Python writes back longer than they came."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from websockets.sync.server import ServerConnection

from local_stack.servers.hostile_servers import ScriptedServer

from .conftest import Invoke

# 20,001 bytes on the wire; kept as 1.2345678901234568e+16 each, 23,001 bytes.
LONG_FLOATS = "[" + ",".join(["12345678901234567.5"] * 1000) + "]"


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def test_a_reply_that_grows_when_kept_is_counted_as_kept(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def answer(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(LONG_FLOATS)

    scripted.script = answer

    result = run({}, WEBSOCKET_URI=scripted.uri, MAX_RESULT_BYTES="22000")

    assert result["error"] is not None, "23,001 bytes kept under a 22,000-byte limit"
    assert result["error"]["type"] == "message_too_large"
    assert result["received"] == []


def test_a_reply_that_grows_when_kept_fits_a_limit_it_fits(
    run: Invoke, scripted: ScriptedServer
) -> None:
    def answer(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(LONG_FLOATS)

    scripted.script = answer

    result = run({}, WEBSOCKET_URI=scripted.uri, MAX_RESULT_BYTES="23001")

    assert result["ok"] is True, result["error"]
    assert result["received"] == [[1.2345678901234568e16] * 1000]
