"""Warm worker: one long-lived process, like a warm Lambda execution environment.

    python -m bench.warm URI TOKEN

Reads commands on stdin, answers each with one JSON line on the original
stdout; the handler's own logs go to /dev/null (in Lambda they go to a pipe
the runtime drains, which no contender should be charged differently for).

- ``warm N``: N pairs, alternating our handler and the raw floor, token cached;
- ``naive N``: N invocations of the naive handler (its Secrets Manager calls);
- ``batch N M``: N pairs of one M-message invocation against the raw loop;
- ``scenario N M``: N pairs of one M-step scenario (M/2 send/receive pairs, every
  send after the first carrying ``{{sid}}``, extracted once from the first reply)
  against a raw loop that fills the same value into each message it sends.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from websockets.asyncio.client import connect

from bench._context import Context

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


async def _raw_once(uri: str, headers: dict[str, str], payload: str) -> Any:
    async with connect(uri, additional_headers=headers, compression=None, proxy=None) as ws:
        await ws.send(payload)
        return await ws.recv()


async def _raw_batch(uri: str, headers: dict[str, str], payload: str, count: int) -> None:
    async with connect(uri, additional_headers=headers, compression=None, proxy=None) as ws:
        for _ in range(count):
            await ws.send(payload)
            await ws.recv()


async def _raw_scenario(uri: str, headers: dict[str, str], stamp: str, pairs: int) -> None:
    async with connect(uri, additional_headers=headers, compression=None, proxy=None) as ws:
        await ws.send(json.dumps({"action": "ping", "id": "s-81", "timestamp": stamp}))
        sid = json.loads(await ws.recv())["id"]
        for _ in range(pairs - 1):
            message = {"action": "ping", "sid": sid, "timestamp": stamp}
            await ws.send(json.dumps(message, separators=(",", ":")))
            await ws.recv()


def scenario_event(steps: int) -> dict[str, Any]:
    """``steps`` steps: a ping whose reply gives ``sid``, then pings that carry it."""
    first = [
        {"send": {"action": "ping", "id": "s-81"}},
        {"receive": {"count": 1}, "extract": {"sid": "id"}},
    ]
    pair = [{"send": {"action": "ping", "sid": "{{sid}}"}}, {"receive": {"count": 1}}]
    return {"steps": first + pair * (steps // 2 - 1)}


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    started = time.perf_counter()
    value = call()
    return time.perf_counter() - started, value


def _invocation(handler: Callable[[Any, Any], Any], event: Any) -> Callable[[], Any]:
    """One call of ``handler``; the context is made beforehand, as the runtime
    makes it, so that its cost is charged to neither contender."""
    context = Context()
    return lambda: handler(event, context)


def main() -> None:
    uri, token = sys.argv[1], sys.argv[2]
    answer = os.fdopen(os.dup(1), "w", buffering=1)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)

    sys.path.insert(0, os.path.join(ROOT, "src"))
    sys.path.insert(0, os.path.join(ROOT, "bench"))
    from naive_handler import lambda_handler as naive

    from ws_exchange.handler import lambda_handler as ours

    headers = {"Authorization": f"Bearer {token}"}
    # The same frame our handler sends: a ping with its timestamp.
    payload = json.dumps(
        {"action": "ping", "timestamp": datetime.now(UTC).isoformat()}, separators=(",", ":")
    )

    def checked(result: Any) -> Any:
        if not result["ok"]:
            raise SystemExit(f"our handler failed: {result['error']}")
        return result

    for line in sys.stdin:
        command, *args = line.split()
        numbers = [int(a) for a in args]
        if command == "warm":
            a, b = [], []
            for _ in range(numbers[0]):
                seconds, result = _timed(_invocation(ours, {}))
                checked(result)
                a.append(seconds)
                b.append(_timed(lambda: asyncio.run(_raw_once(uri, headers, payload)))[0])
            print(json.dumps({"ours": a, "raw": b}), file=answer)
        elif command == "naive":
            a = [_timed(_invocation(naive, {}))[0] for _ in range(numbers[0])]
            print(json.dumps({"naive": a}), file=answer)
        elif command == "batch":
            pairs, count = numbers
            event = {"messages": [{"action": "ping"}] * count}
            a, b = [], []
            for _ in range(pairs):
                seconds, result = _timed(_invocation(ours, event))
                if len(checked(result)["received"]) != count:
                    raise SystemExit("batch: replies missing")
                a.append(seconds)
                raw_batch = _raw_batch(uri, headers, payload, count)
                b.append(_timed(lambda: asyncio.run(raw_batch))[0])  # noqa: B023
            print(json.dumps({"ours": a, "raw": b}), file=answer)
        elif command == "scenario":
            pairs, steps = numbers
            event = scenario_event(steps)
            stamp = datetime.now(UTC).isoformat()
            a, b = [], []
            for _ in range(pairs):
                seconds, result = _timed(_invocation(ours, event))
                if len(checked(result)["received"]) != steps // 2:
                    raise SystemExit("scenario: replies missing")
                a.append(seconds)
                raw_scenario = _raw_scenario(uri, headers, stamp, steps // 2)
                b.append(_timed(lambda: asyncio.run(raw_scenario))[0])  # noqa: B023
            print(json.dumps({"ours": a, "raw": b}), file=answer)
        else:
            raise SystemExit(f"unknown command {command!r}")


if __name__ == "__main__":
    main()
