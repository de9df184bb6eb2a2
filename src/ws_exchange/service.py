"""One invocation, from event to answer: the composition of the other modules."""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from . import observability
from .config import Config, load_config, wants_fail_on_error
from .deadline import Deadline
from .errors import ExchangeError
from .exchange import Progress, exchange
from .result import api_response, build_result
from .secret import TokenSource
from .triggers import parse_request, recognise


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
    try:
        # The request is checked before anything is read or opened: an invalid
        # request costs no secret fetch and no connection.
        request = parse_request(event, trigger)
        config = load_config(os.environ)
        deadline = Deadline.from_context(context)
        asyncio.run(exchange(config, request, tokens, deadline, progress))
    except ExchangeError as exc:
        error = exc
    result = build_result(
        endpoint=config.endpoint if config else None,
        progress=progress,
        error=error,
        request_id=getattr(context, "aws_request_id", None),
        total_ms=(time.perf_counter() - started) * 1000.0,
    )
    observability.record(result, error, trigger)
    if trigger.is_api:
        return api_response(result, error)
    if error is not None and (config.fail_on_error if config else wants_fail_on_error(os.environ)):
        raise error
    return result
