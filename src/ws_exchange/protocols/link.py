"""The connection as the conversation reads and writes it. I/O at the edge.

:class:`RawLink` is the connection itself: messages go out as they are framed,
each frame that arrives is a reply, read when a step asks for one.

:class:`PresetLink` runs a protocol preset: a reader task reads every frame as
it arrives and hands it to the preset, which answers keep-alives at once (a
server's pings are answered even while a step sleeps, each before the next
frame is read), resolves
acknowledgements the preset awaits, and queues the application's replies for
the steps to take. The reader charges each frame to the memory budget as it
arrives; a reply is charged to the result's budget when a step takes it, as
with ``raw``.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import Hashable
from typing import TYPE_CHECKING, Any, Final

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed as WebSocketClosed

from .. import framing
from ..errors import ExchangeError, InternalError, InvalidRequest
from ..plan import Plan, Progress
from ..replies import charge_memory, keep, keep_held, keep_value

if TYPE_CHECKING:
    from ..credentials import Prepared
    from ..deadline import Deadline
    from ..framing import Outgoing
    from . import Preset


# The longest a preset's own ending (complete, disconnect) may take.
_END_SECONDS = 1.0


class _Complete:
    """An operation the protocol says is over (GraphQL's ``complete``)."""

    def __repr__(self) -> str:
        return "COMPLETE"


COMPLETE: Final = _Complete()


def _arrived(progress: Progress) -> None:
    """Note the time from the first message sent to the first reply after it.

    A greeting that arrives before anything is sent is no answer to it.
    """
    if progress.first_sent_at and "first_reply" not in progress.phases:
        progress.phases["first_reply"] = (time.perf_counter() - progress.first_sent_at) * 1000.0


class RawLink:
    """The connection as it is: what the caller writes is what goes on the wire."""

    completes = False

    def __init__(self, connection: ClientConnection, plan: Plan, progress: Progress) -> None:
        self.connection = connection
        self._plan = plan
        self._progress = progress

    async def send(self, outgoing: Outgoing, timeout: float) -> Any:
        timestamp = framing.now()
        await self.connection.send(outgoing.frame_at(timestamp))
        # Made once the frame is on its way, while the server reads it: between a
        # reply and the next message, every microsecond is the exchange's.
        return outgoing.sent_at(timestamp)

    async def receive(self, *, completes: bool = False, later: bool = False) -> Any:
        """The next reply, kept; with ``later``, possibly held for :func:`.keep_held`
        (``None``)."""
        # A reply held since the last receive is kept first, in order; usually
        # just after a message was sent, while the server reads it.
        keep_held(self._plan, self._progress)
        frame = await self.connection.recv()
        _arrived(self._progress)
        return keep(frame, self._plan, self._progress, later=later)

    def raise_failure(self) -> None:
        """Nothing fails behind the conversation's back on a raw connection."""

    async def end(self, deadline: Deadline) -> bool:
        """Nothing to end before the WebSocket close; False: nothing left to drain."""
        return False

    async def stop(self) -> None:
        return None


class PresetLink:
    """The connection behind a protocol preset, read by a task of its own."""

    completes = True

    def __init__(
        self, connection: ClientConnection, preset: Preset, plan: Plan, progress: Progress
    ) -> None:
        self.connection = connection
        self.preset = preset
        self._plan = plan
        self._progress = progress
        # Replies and COMPLETE marks, in arrival order.
        self._arrivals: collections.deque[Any] = collections.deque()
        self._ready = asyncio.Event()
        self._ended: BaseException | None = None
        self._waiters: dict[Hashable, asyncio.Future[Any]] = {}
        self._answers: set[asyncio.Task[None]] = set()
        # Answers the preset gave while the reader ran it, sent before the next read.
        self._due: collections.deque[str | bytes] = collections.deque()
        self._reading = False
        self._reader: asyncio.Task[None] | None = None
        # The preset's own state for this connection (operation ids, timers).
        self.state: Any = None

    # --- the lifecycle --------------------------------------------------------------

    def start(self) -> None:
        self._reader = asyncio.ensure_future(self._read())

    async def open(self, prepared: Prepared, deadline: Deadline, timeout: float) -> None:
        self.start()
        await self.preset.open(self, prepared, deadline, timeout)

    def raise_failure(self) -> None:
        """Raise the protocol failure the server reported while no step was waiting
        (an ``error`` during a sleep, keep-alives that stopped): the steps all ran,
        but the exchange did not succeed."""
        if isinstance(self._ended, ExchangeError):
            raise self._ended

    async def end(self, deadline: Deadline) -> bool:
        """End the protocol (capped by the deadline; a failure changes nothing the
        caller can act on), then stop reading; True: frames may still arrive."""
        if self._ended is None:
            try:
                async with asyncio.timeout(deadline.cap(_END_SECONDS)):
                    await self.preset.close(self)
            except (TimeoutError, WebSocketClosed, OSError):
                pass
        await self.stop()
        return True

    async def stop(self) -> None:
        """Stop reading (before the WebSocket close, which reads what remains)."""
        if self._reader is not None and not self._reader.done():
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        for task in self._answers:
            task.cancel()

    async def _read(self) -> None:
        try:
            while True:
                frame = await self.connection.recv()
                charge_memory(frame, self._progress)
                self._reading = True
                try:
                    self.preset.incoming(self, frame)
                finally:
                    self._reading = False
                # Answered before the next frame is read, in order: a server
                # flooding pings is held to the pace at which it reads the
                # answers, instead of a task per ping piling up and keeping the
                # event loop from the deadline's timers (past 3 s of a 2 s
                # invocation, measured).
                if self._due:
                    while self._due:
                        with contextlib.suppress(WebSocketClosed):  # the next read reports it
                            await self.connection.send(self._due.popleft())
                    # A send that is not held back returns without yielding, and
                    # so does a read of a frame already parsed: thousands of pings
                    # in one chunk would be answered before any timer ran (0.4 s
                    # past the deadline, measured).
                    await asyncio.sleep(0)
        except WebSocketClosed as exc:
            self._end(exc)
        except ExchangeError as exc:
            self._end(exc)
        except Exception as exc:
            # A fault of the preset's own: the steps waiting on the reader must
            # fail now, typed, rather than wait out their timeouts.
            from ..observability import log_internal_error

            log_internal_error(exc)
            self._end(
                InternalError(
                    "An unexpected error occurred in the function while reading the "
                    "server's messages; its traceback is in the logs."
                )
            )

    def _end(self, error: BaseException) -> None:
        if self._ended is None:
            self._ended = error
        for waiter in self._waiters.values():
            if not waiter.done():
                waiter.set_exception(error)
        self._ready.set()

    # --- what the conversation calls -----------------------------------------------

    async def send(self, outgoing: Outgoing, timeout: float) -> Any:
        try:
            self.preset.check(outgoing.message)
        except ValueError as exc:
            # Checked before any I/O unless it was built from variables just now.
            raise InvalidRequest(f"A message built from variables {exc}.") from None
        return await self.preset.send(self, outgoing.message, timeout)

    async def receive(self, *, completes: bool = False, later: bool = False) -> Any:
        """The next reply, kept; :data:`COMPLETE` when an operation ends (if
        ``completes``, else such marks are passed over). Never held: the
        reader has already decoded it."""
        while True:
            while not self._arrivals:
                if self._ended is not None:
                    raise self._ended
                self._ready.clear()
                await self._ready.wait()
            item = self._arrivals.popleft()
            if item is COMPLETE:
                if completes:
                    return COMPLETE
                continue
            _arrived(self._progress)
            return keep_value(item, self._plan, self._progress)

    # --- what a preset calls -------------------------------------------------------

    async def send_frame(self, frame: str | bytes, *, secret: bool = False) -> None:
        """Send ``frame``; ``secret``: it carries credentials (connection parameters),
        so websockets' DEBUG frame line, which shows the start of a payload, is
        not written for it, whatever the scrubber knows."""
        if not secret:
            await self.connection.send(frame)
            return
        protocol = self.connection.protocol
        debug, protocol.debug = protocol.debug, False
        try:
            await self.connection.send(frame)
        finally:
            protocol.debug = debug

    def reply(self, value: Any) -> None:
        """Queue a reply of the application's."""
        self._arrivals.append(value)
        self._ready.set()

    def complete(self) -> None:
        """Mark the end of an operation in the replies' order."""
        self._arrivals.append(COMPLETE)
        self._ready.set()

    def answer(self, frame: str | bytes) -> None:
        """Send ``frame`` now, whatever the steps are doing (a pong, a keep-alive):
        from :meth:`Preset.incoming`, before the reader reads the next frame."""
        if self._reading:
            self._due.append(frame)
            return
        task = asyncio.ensure_future(self._answer(frame))
        self._answers.add(task)
        task.add_done_callback(self._answers.discard)

    async def _answer(self, frame: str | bytes) -> None:
        with contextlib.suppress(WebSocketClosed):  # the reader reports the close
            await self.connection.send(frame)

    def fail(self, error: ExchangeError) -> None:
        """End the exchange with ``error`` (a protocol error the server sent)."""
        self._end(error)

    def expect(self, key: Hashable) -> asyncio.Future[Any]:
        """A future resolved when the preset sees ``key``'s acknowledgement."""
        waiter: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        if self._ended is not None:
            waiter.set_exception(self._ended)
        self._waiters[key] = waiter
        return waiter

    def resolve(self, key: Hashable, value: Any = None) -> bool:
        """Resolve ``key``'s waiter with ``value``; False when nobody awaits ``key``."""
        waiter = self._waiters.pop(key, None)
        if waiter is None or waiter.done():
            return False
        waiter.set_result(value)
        return True

    def reject(self, key: Hashable, error: BaseException) -> bool:
        """Fail ``key``'s waiter with ``error``; False when nobody awaits ``key``."""
        waiter = self._waiters.pop(key, None)
        if waiter is None or waiter.done():
            return False
        waiter.set_exception(error)
        return True


Link = RawLink | PresetLink
