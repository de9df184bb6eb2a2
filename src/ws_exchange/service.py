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

from . import checks, observability, offload, scenario, targets
from .checks import Checks
from .config import Config, load_config, wants_fail_on_error
from .deadline import Deadline
from .errors import (
    ConfigError,
    ConnectTimeout,
    ExchangeError,
    ExpectationFailed,
    InternalError,
    InvalidRequest,
)
from .event_loop import EventLoop
from .exchange import run
from .plan import MEMORY_BUDGET_BYTES, Plan, Progress, SecretStore
from .redaction import scrubber
from .result import (
    RESPONSE_LIMIT_BYTES,
    RESULT_OVERHEAD_BYTES,
    api_response,
    build_result,
    fit_fleet,
    fit_response,
    fleet_api_response,
    fleet_result,
    target_share,
    timings_ms,
)
from .scenario import CollectStep, ReceiveStep, SendStep, Step
from .triggers import (
    Request,
    Selection,
    Trigger,
    parse_payload,
    parse_request,
    recognise,
    stamped,
)

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
    callers always get a status code. With a targets file, the targets the
    event names (all of them when it names none) run concurrently.
    """
    started = time.perf_counter()
    trigger = recognise(event)
    request: Request | None = None
    error: ExchangeError | None = None
    try:
        # The request is checked before anything is read or opened: an invalid
        # request costs no secret read and no connection.
        request = parse_request(event, trigger)
        fleet = targets.load_fleet(os.environ)
        if fleet is not None:
            selection = request.selection or Selection()
            chosen = fleet.choose(selection.names, selection.group)
            return _fleet(chosen, request, selection.single, trigger, context, started)
        if request.selection is not None:
            raise InvalidRequest(
                "This deployment has no targets (no targets file, or one that lists none): "
                "leave out target, targets and group, or add targets to the targets file."
            )
    except ExchangeError as exc:
        error = exc
    return _single(request, error, trigger, context, started)


def _single(
    request: Request | None,
    error: ExchangeError | None,
    trigger: Trigger,
    context: Any,
    started: float,
) -> dict[str, Any]:
    """The environment's one unnamed target (no targets file)."""
    progress = Progress(started_at=started)
    config: Config | None = None
    plan: Plan | None = None
    checked: list[dict[str, Any]] = []
    try:
        if error is not None:
            raise error
        assert request is not None
        config = load_config(os.environ)
        deadline = Deadline.from_context(context, API_TIMEOUT_SECONDS if trigger.is_api else None)
        plan = make_plan(config, request, getattr(context, "aws_request_id", None))
        # What asyncio.run does, on the loop event_loop.EventLoop describes
        # (asyncio.run takes a loop factory from Python 3.12; the Runner from 3.11).
        with asyncio.Runner(loop_factory=EventLoop) as runner:
            runner.run(run(plan, secret_store(config.secrets_source), deadline, progress))
        checked, failed = _evaluate(plan, progress, deadline, started)
        if failed is not None:
            raise failed
    except ExchangeError as exc:
        error = exc
    except Exception as exc:
        error = _internal(exc)
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
    if error is None or error.type != "invalid_request":
        observability.run_completed()
    if trigger.is_api:
        return api_response(result, error)
    if error is not None and (config.fail_on_error if config else wants_fail_on_error(os.environ)):
        raise error
    return result


def _evaluate(
    plan: Plan, progress: Progress, deadline: Deadline, started: float
) -> tuple[list[dict[str, Any]], ExpectationFailed | None]:
    """The plan's expectations over what happened, and the failure if one did not hold."""
    if not plan.expect:
        return [], None
    outcome = {
        "sent": progress.sent,
        "received": progress.received,
        "subprotocol": progress.subprotocol,
        "timings_ms": timings_ms(progress, _ms_since(started)),
        "connection": progress.connection,
        "vars": progress.variables,
    }
    checked, failed = checks.evaluate(plan.expect, outcome, deadline.at)
    if failed is None:
        return checked, None
    return checked, ExpectationFailed(checks.expectation_failed_message(failed))


def _internal(exc: BaseException) -> InternalError:
    observability.log_internal_error(exc)
    return InternalError(
        "An unexpected error occurred in the function; its traceback is in the logs."
    )


# --- a fleet: the targets an invocation names, concurrently ---------------------------------

# How long after the deadline a target still busy is given up on: its own waits end at
# the deadline; only a blocking call its thread cannot abandon (a hung secret read past
# its timeout) could hold it longer.
GIVE_UP_AFTER_DEADLINE_SECONDS = 0.1


def _fleet(
    chosen: tuple[targets.Target, ...],
    request: Request,
    single: bool,
    trigger: Trigger,
    context: Any,
    started: float,
) -> dict[str, Any]:
    """Run ``chosen`` concurrently under one deadline and one response and memory budget."""
    request_id = getattr(context, "aws_request_id", None)
    deadline = Deadline.from_context(context, API_TIMEOUT_SECONDS if trigger.is_api else None)
    try:
        limit = targets.max_concurrency(os.environ)
    except ConfigError as exc:
        return _single(request, exc, trigger, context, started)
    share = target_share(len(chosen))
    memory = MEMORY_BUDGET_BYTES // len(chosen)
    jobs = [
        _Job(target, _target_plan(target, request, request_id, share), started, memory)
        for target in chosen
    ]
    runnable = [job for job in jobs if job.plan is not None]
    # A key in any target's URI is scrubbed from every result, whichever opens last.
    scrubber.remember_fleet(
        value for job in runnable if job.plan for value in job.plan.config.query_values
    )
    if runnable:
        # Here, not at the top: a deployment without targets never loads the pool's module.
        from concurrent.futures import ThreadPoolExecutor

        pool = ThreadPoolExecutor(
            max_workers=min(limit, len(runnable)), thread_name_prefix="fleet-credentials"
        )
        token = offload.executor.set(pool)
        try:
            with asyncio.Runner(loop_factory=EventLoop) as runner:
                runner.run(_run_all(runnable, deadline, limit))
        finally:
            offload.executor.reset(token)
            # Never joined: a thread stuck in a blocking call finishes on its own.
            pool.shutdown(wait=False, cancel_futures=True)
    results: dict[str, dict[str, Any]] = {}
    errors: list[ExchangeError] = []
    for job in jobs:
        result, error = job.finish(request_id, trigger.is_api, share)
        observability.record(result, error, trigger, target=job.target.name)
        results[job.target.name] = result
        if error is not None:
            errors.append(error)
    observability.run_completed()
    if single:
        (result,) = results.values()
        if trigger.is_api:
            return api_response(result, errors[0] if errors else None)
        if errors and wants_fail_on_error(os.environ):
            raise errors[0]
        return result
    answer = fleet_result(results)
    known = sum(
        job.progress.received_bytes + (job.plan.sent_bytes if job.plan else 0) for job in jobs
    )
    answer = fit_fleet(answer, known_bytes=known, is_api=trigger.is_api)
    observability.record_fleet(answer, trigger, _ms_since(started))
    if trigger.is_api:
        return fleet_api_response(answer, errors)
    if errors and wants_fail_on_error(os.environ):
        failed = [name for name, result in results.items() if not result["ok"]]
        raise type(errors[0])(
            f"{len(failed)} of {len(results)} targets failed: {', '.join(failed[:10])}."
        )
    return answer


class _Job:
    """One target of a fleet invocation: its plan, and what has happened to it."""

    __slots__ = ("checked", "error", "plan", "progress", "running", "started", "target")

    def __init__(
        self,
        target: targets.Target,
        planned: Plan | ExchangeError,
        started: float,
        memory_budget: int,
    ):
        self.target = target
        self.plan = planned if isinstance(planned, Plan) else None
        self.error = planned if isinstance(planned, ExchangeError) else None
        self.progress = Progress(started_at=started, memory_budget=memory_budget)
        self.checked: list[dict[str, Any]] = []
        self.started = started
        # Whether it got one of the MAX_CONCURRENCY slots.
        self.running = False

    async def run(self, deadline: Deadline, slots: asyncio.Semaphore) -> None:
        assert self.plan is not None and self.target.config is not None
        store = secret_store(self.target.config.secrets_source)
        try:
            async with asyncio.timeout_at(deadline.at + GIVE_UP_AFTER_DEADLINE_SECONDS):
                async with slots:
                    self.running = True
                    await run(self.plan, store, deadline, self.progress)
            self.checked, failed = _evaluate(self.plan, self.progress, deadline, self.started)
            if failed is not None:
                raise failed
        except ExchangeError as exc:
            self.error = exc
        except TimeoutError:
            self.error = ConnectTimeout(
                "The target did not finish before the Lambda deadline"
                + (
                    "."
                    if self.running
                    else " (it waited for a free slot: raise MAX_CONCURRENCY, or split the "
                    "fleet into groups with schedules of their own)."
                )
            )
        except Exception as exc:
            self.error = _internal(exc)

    def finish(
        self, request_id: str | None, is_api: bool, share: int
    ) -> tuple[dict[str, Any], ExchangeError | None]:
        config = self.target.config
        result = build_result(
            endpoint=config.endpoint if config else None,
            progress=self.progress,
            checks=self.checked,
            error=self.error,
            request_id=request_id,
            total_ms=_ms_since(self.started),
        )
        result["target"] = self.target.name
        return fit_response(
            result,
            self.error,
            sent_bytes=self.plan.sent_bytes if self.plan else 0,
            received_bytes=self.progress.received_bytes,
            is_api=is_api,
            limit=share,
        )


async def _run_all(jobs: list[_Job], deadline: Deadline, limit: int) -> None:
    slots = asyncio.Semaphore(limit)
    async with asyncio.TaskGroup() as group:
        for job in jobs:
            group.create_task(job.run(deadline, slots))


def _target_plan(
    target: targets.Target, request: Request, request_id: str | None, share: int
) -> Plan | ExchangeError:
    """What one target does in this invocation, or why it cannot run (no I/O)."""
    if target.error is not None or target.config is None:
        return target.error or ConfigError(f"Target {target.name!r} has no configuration.")
    try:
        own = parse_payload(
            targets.request_fields(target, request.fields), where=f"request for {target.name}"
        )
        return make_plan(target.config, own, request_id, response_limit=share)
    except ExchangeError as exc:
        return exc


def make_plan(
    config: Config,
    request: Request,
    request_id: str | None = None,
    *,
    response_limit: int = RESPONSE_LIMIT_BYTES,
) -> Plan:
    """What this invocation does: the request's choices, else the configuration's.

    ``response_limit`` is the result's share of Lambda's response (a fleet's
    targets share it).

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
    room = response_limit - RESULT_OVERHEAD_BYTES - sent_bytes * 3 // 2
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
