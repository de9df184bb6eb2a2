"""The event loop an exchange runs on: name resolution that never holds it up."""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import socket
import threading
from typing import Any

from .phases import PhaseWatch


class EventLoop(asyncio.SelectorEventLoop):
    """The event loop an exchange runs on: ``asyncio.Runner(loop_factory=EventLoop)``.

    asyncio resolves host names on the loop's default executor, and closing the
    loop (``asyncio.run`` does it on the way out) joins that executor's threads,
    for up to 300 s: a resolver that hangs would hold the answer past the
    deadline even though the wait for it was cut short. This loop resolves each
    name on a daemon thread of its own, which nothing joins: a hung resolution
    finishes on its own, and never holds up a later one. With no default
    executor, closing the loop also starts no thread to shut one down: that
    thread cost ~0.25 ms of a ~3 ms warm invocation on loopback (``make bench``).

    It is also where an attempt's DNS and TCP phases start and end: ``watch``
    is the current attempt's :class:`~.phases.PhaseWatch`, kept per task, so
    that targets of a fleet opening connections at once each time their own.
    """

    @property
    def watch(self) -> PhaseWatch | None:
        return _watch.get()

    @watch.setter
    def watch(self, watch: PhaseWatch | None) -> None:
        _watch.set(watch)

    async def sock_connect(self, sock: socket.socket, address: Any) -> None:
        watch = self.watch
        if watch is not None:
            watch.start("tcp")
        await super().sock_connect(sock, address)
        if watch is not None:
            watch.end("tcp")

    async def getaddrinfo(
        self,
        host: Any,
        port: Any,
        *,
        family: int = 0,
        type: int = 0,
        proto: int = 0,
        flags: int = 0,
    ) -> list[Any]:
        watch = self.watch
        if watch is not None:
            watch.start("dns")
        answer: asyncio.Future[list[Any]] = self.create_future()

        def resolve() -> None:
            try:
                outcome: tuple[Any, BaseException | None] = (
                    socket.getaddrinfo(host, port, family, type, proto, flags),
                    None,
                )
            except Exception as exc:  # handed to the waiting coroutine
                outcome = (None, exc)
            # Once the loop is closed (its invocation is over), nobody is waiting.
            with contextlib.suppress(RuntimeError):
                self.call_soon_threadsafe(_settle, answer, *outcome)

        threading.Thread(target=resolve, name="resolver", daemon=True).start()
        addresses = await answer
        if watch is not None:
            watch.end("dns")
        return addresses


_watch: contextvars.ContextVar[PhaseWatch | None] = contextvars.ContextVar(
    "ws_exchange_phase_watch", default=None
)


def _settle(answer: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if answer.done():  # its waiter gave up (a deadline)
        return
    if error is not None:
        answer.set_exception(error)
    else:
        answer.set_result(result)
