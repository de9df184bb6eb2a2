"""One invocation, from event to answer: the composition of the other modules.

event -> request -> configuration -> plan -> ``run(...)`` on a fresh event loop -> result.
Every failure becomes a typed result: the function's own errors as they are
raised, anything else as ``internal_error`` (logged with its traceback, scrubbed).
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import Any

from . import checks, observability, scenario
from .checks import Checks
from .config import Config, load_config, wants_fail_on_error
from .deadline import Deadline
from .errors import ExchangeError, ExpectationFailed, InternalError, InvalidRequest
from .event_loop import EventLoop
from .exchange import run
from .plan import Plan, Progress, SecretStore
from .result import (
    RESPONSE_LIMIT_BYTES,
    RESULT_OVERHEAD_BYTES,
    api_response,
    build_result,
    fit_response,
    timings_ms,
)
from .scenario import CollectStep, ReceiveStep, SendStep, Step
from .triggers import Request, parse_request, recognise, stamped

# API Gateway stops waiting for the integration after 29 s (REST) or 30 s
# (HTTP API) and answers 503 itself; the typed result must come back first.
API_TIMEOUT_SECONDS = 29.0

# One store per secrets source for the life of the execution environment, so
# that warm invocations share its cache; created on first use.
_stores: dict[str, SecretStore] = {}


def handle(event: Any, context: Any) -> dict[str, Any]:
    """Serve one invocation and return what the Lambda runtime should answer.

    With FAIL_ON_ERROR the failure is raised after it is logged, so that
    Lambda's asynchronous retries and on-failure destinations engage. API
    callers always get a status code.
    """
    started = time.perf_counter()
    trigger = recognise(event)
    progress = Progress(started_at=started)
    config: Config | None = None
    error: ExchangeError | None = None
    plan: Plan | None = None
    checked: list[dict[str, Any]] = []
    try:
        # The request is checked before anything is read or opened: an invalid
        # request costs no secret read and no connection.
        request = parse_request(event, trigger)
        config = load_config(os.environ)
        deadline = Deadline.from_context(context, API_TIMEOUT_SECONDS if trigger.is_api else None)
        plan = make_plan(config, request, getattr(context, "aws_request_id", None))
        # What asyncio.run does, on the loop event_loop.EventLoop describes
        # (asyncio.run takes a loop factory from Python 3.12; the Runner from 3.11).
        with asyncio.Runner(loop_factory=EventLoop) as runner:
            runner.run(run(plan, secret_store(config.secrets_source), deadline, progress))
        if plan.expect:
            outcome = {
                "sent": progress.sent,
                "received": progress.received,
                "subprotocol": progress.subprotocol,
                "timings_ms": timings_ms(progress, _ms_since(started)),
                "connection": progress.connection,
                "vars": progress.variables,
            }
            checked, failed = checks.evaluate(plan.expect, outcome, deadline.at)
            if failed is not None:
                raise ExpectationFailed(checks.expectation_failed_message(failed))
    except ExchangeError as exc:
        error = exc
    except Exception as exc:
        error = InternalError(
            "An unexpected error occurred in the function; its traceback is in the logs."
        )
        observability.log_internal_error(exc)
    result = build_result(
        endpoint=config.endpoint if config else None,
        progress=progress,
        checks=checked,
        error=error,
        request_id=getattr(context, "aws_request_id", None),
        total_ms=_ms_since(started),
    )
    sent_bytes = plan.sent_bytes if plan else 0
    result, error = fit_response(
        result,
        error,
        sent_bytes=sent_bytes,
        received_bytes=progress.received_bytes,
        is_api=trigger.is_api,
    )
    observability.record(result, error, trigger)
    if trigger.is_api:
        return api_response(result, error)
    if error is not None and (config.fail_on_error if config else wants_fail_on_error(os.environ)):
        raise error
    return result


def make_plan(config: Config, request: Request, request_id: str | None = None) -> Plan:
    """What this invocation does: the request's choices, else the configuration's.

    Raises:
        InvalidRequest: the messages leave no room for replies in Lambda's response,
            or TIMESTAMP_FIELD's timestamp takes one past its size limit.
    """
    checks = request.checks or Checks()
    expect = checks.expect or config.default_expect
    if request.steps is not None:
        steps = _stamped(request.steps, config.timestamp_field)
        drain = any(isinstance(step, ReceiveStep | CollectStep) for step in steps)
    else:
        messages = (
            (config.default_outgoing,)
            if request.messages is None
            else stamped(request.messages, config.timestamp_field)
        )
        expected = request.expected_replies
        if expected is None and not (checks.until is None and _completes(config)):
            expected = config.expected_replies
        steps = scenario.from_messages(
            messages,
            # None: each operation's replies until it is complete (GraphQL).
            expected_replies=expected,
            until=checks.until,
            max_replies=checks.max_replies,
            collect_seconds=checks.collect_seconds,
            # A preset may say that a message's replies come after the next one's.
            defers_replies=getattr(config.preset, "defers_replies", None),
        )
        # Sampling a stream (until, collect_seconds) stops while it still flows.
        drain = checks.until is not None or checks.collect_seconds is not None
    if config.preset is not None or any(_awaits_completion(step) for step in steps):
        _check_for_protocol(steps, config)
    # As the result's `sent` shows them, where a string's escapes and a binary
    # message's base64 can take several times its frame.
    sent_bytes = sum(
        step.outgoing.shown_size
        for step in steps
        if isinstance(step, SendStep) and step.outgoing is not None
    )
    # The runtime's separators (", ", ": ") and an API body's escapes make them
    # up to half again, or twice, as large.
    room = RESPONSE_LIMIT_BYTES - RESULT_OVERHEAD_BYTES - sent_bytes * 3 // 2
    if room <= 0:
        raise InvalidRequest(
            f"The messages take {sent_bytes} bytes as the result's sent shows them: "
            "a result echoing them would not fit Lambda's 6 MB response limit."
        )
    return Plan(
        config=config,
        steps=steps,
        sent_bytes=sent_bytes,
        reply_timeout=request.reply_timeout or config.reply_timeout,
        expect=expect,
        result_budget=min(config.max_result_bytes, room),
        drain_on_close=drain,
        request_id=request_id,
    )


def _completes(config: Config) -> bool:
    """Whether the protocol has operations that end (GraphQL's ``complete``)."""
    return config.preset is not None and config.preset.completes


def _awaits_completion(step: Step) -> bool:
    return isinstance(step, ReceiveStep) and step.count is None and step.until is None


def _check_for_protocol(steps: tuple[Step, ...], config: Config) -> None:
    """Refuse, before any I/O, what the configured protocol cannot do.

    Raises:
        InvalidRequest: a message the preset cannot send, or a receive step waiting
            for an operation to complete where the protocol has none.
    """
    preset = config.preset
    for step in steps:
        where = step.label or "The message"
        if _awaits_completion(step) and not _completes(config):
            protocol = "raw" if preset is None else preset.name
            raise InvalidRequest(
                f"{where}.receive holds neither count nor until: with PROTOCOL {protocol}, "
                "say how many replies to collect, or until which one."
            )
        if preset is not None and isinstance(step, SendStep) and step.outgoing is not None:
            try:
                preset.check(step.outgoing.message)
            except ValueError as exc:
                raise InvalidRequest(f"{where} {exc}.") from None


def _stamped(steps: tuple[Step, ...], timestamp_field: str) -> tuple[Step, ...]:
    """A scenario's ready-made messages with their timestamp in TIMESTAMP_FIELD."""
    ready: list[Step] = []
    for step in steps:
        if isinstance(step, SendStep) and step.outgoing is not None:
            try:
                step = step._replace(outgoing=step.outgoing.stamped_with(timestamp_field))
            except ValueError as exc:
                raise InvalidRequest(f"{step.label}.send {exc}.") from None
        ready.append(step)
    return tuple(ready)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


def secret_store(source: str) -> SecretStore:
    """The execution environment's store for ``source`` (``sdk`` or ``extension``)."""
    store = _stores.get(source)
    if store is None:
        if source == "extension":
            # Imported only when configured: this path never imports boto3.
            from .secret_extension import ExtensionSecretStore

            store = ExtensionSecretStore()
        else:
            from .secret import SdkSecretStore

            store = SdkSecretStore()
        _stores[source] = store
    return store
