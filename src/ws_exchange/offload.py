"""Blocking calls kept off the event loop while several targets share it.

Obtaining credentials is synchronous (a secret read, a token request): alone on
the loop, an exchange loses nothing by waiting for it inline. When a fleet runs
its targets concurrently on one loop, one slow secret read would hold up every
other target, so the fan-out sets an executor of its own here and
:func:`call` runs the work there. Each target runs in a task of its own, which
sees the executor through its copy of the context.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from collections.abc import Callable
from concurrent.futures import Executor
from typing import Any, TypeVar

T = TypeVar("T")

executor: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "ws_exchange_offload", default=None
)


async def call(function: Callable[..., T], /, *args: Any, **kwargs: Any) -> T:
    """``function(*args, **kwargs)``: on the fan-out's executor when one is set, else inline."""
    pool = executor.get()
    if pool is None:
        return function(*args, **kwargs)
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(pool, functools.partial(function, *args, **kwargs))
