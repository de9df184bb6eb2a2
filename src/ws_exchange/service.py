"""One invocation, from event to answer: the composition of the other modules."""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from typing import Any

from . import observability
from .config import Config, load_config, wants_fail_on_error
from .deadline import Deadline
from .errors import ExchangeError
from .exchange import Progress, exchange
from .result import api_response, build_result
from .secret import TokenSource
from .triggers import Request, parse_request, recognise

# API Gateway stops waiting for the integration after 29 s (REST) or 30 s
# (HTTP API) and answers 503 itself; the typed result must come back first.
API_TIMEOUT_SECONDS = 29.0


def handle(event: Any, context: Any, tokens: TokenSource) -> dict[str, Any]:
    """Serve one invocation and return what the Lambda runtime should answer.

    Every anticipated failure becomes a typed result; with FAIL_ON_ERROR the
    failure is raised after it is logged, so that Lambda's asynchronous retries
    and on-failure destinations engage. API callers always get a status code.
    """
    started = time.perf_counter()
    trigger = recognise(event)
    progress = Progress()
    config: Config | None = None
    error: ExchangeError | None = None

    def conclude(error: ExchangeError | None) -> dict[str, Any]:
        """Build the result, log its summary and add its metrics."""
        result = build_result(
            endpoint=config.endpoint if config else None,
            progress=progress,
            error=error,
            request_id=getattr(context, "aws_request_id", None),
            total_ms=(time.perf_counter() - started) * 1000.0,
        )
        observability.record(result, error, trigger)
        return result

    try:
        # The request is checked before anything is read or opened: an invalid
        # request costs no secret fetch and no connection.
        request = parse_request(event, trigger)
        config = load_config(os.environ)
        deadline = Deadline.from_context(context, API_TIMEOUT_SECONDS if trigger.is_api else None)
        result = asyncio.run(_exchange(config, request, tokens, deadline, progress, conclude))
    except ExchangeError as exc:
        error = exc
        result = conclude(error)
    if trigger.is_api:
        return api_response(result, error)
    if error is not None and (config.fail_on_error if config else wants_fail_on_error(os.environ)):
        raise error
    return result


async def _exchange(
    config: Config,
    request: Request,
    tokens: TokenSource,
    deadline: Deadline,
    progress: Progress,
    conclude: Callable[[ExchangeError | None], dict[str, Any]],
) -> dict[str, Any]:
    closing = await exchange(config, request, tokens, deadline, progress)
    try:
        # The result is complete once the replies are in; it is built and
        # logged while the server answers the close frame (timings_ms.total
        # therefore ends here, before the close handshake).
        return conclude(None)
    finally:
        await closing
