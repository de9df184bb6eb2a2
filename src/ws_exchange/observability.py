"""Structured logs and EMF metrics through Powertools: one summary per invocation."""

from __future__ import annotations

import json
import os
import traceback
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics, Metrics, MetricUnit, single_metric

from .errors import ExchangeError
from .redaction import scrubber
from .triggers import Trigger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "websocket-exchange"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "WebSocketExchange"


def _serialize(fields: dict[str, Any]) -> str:
    """A log line as Powertools writes it by default, credentials scrubbed from every
    field: ``extra`` keys and the exception are out of the record factory's reach."""
    line = json.dumps(fields, default=str, separators=(",", ":"), ensure_ascii=False)
    if not scrubber.line_may_need_scrubbing(line):
        return line
    return json.dumps(
        scrubber.scrub_log_fields(fields), default=str, separators=(",", ":"), ensure_ascii=False
    )


logger = Logger(service=SERVICE, json_serializer=_serialize)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record(
    result: dict[str, Any],
    error: ExchangeError | None,
    trigger: Trigger,
    *,
    target: str | None = None,
) -> None:
    """Log the summary line and add the invocation's (or one target's) metrics.

    A caller's invalid request is logged and counted apart (``InvalidRequest``):
    it says nothing about the endpoint, and must never raise the failure alarm.
    """
    if error is not None and error.type == "invalid_request":
        logger.warning(
            "invalid request",
            extra={
                "trigger": trigger.value,
                "error_type": error.type,
                "error_message": error.message,
                **({"target": target} if target else {}),
            },
        )
        metrics.add_metric(name="InvalidRequest", unit=MetricUnit.Count, value=1)
        return
    summary = {
        **({"target": target} if target else {}),
        "ok": result["ok"],
        "trigger": trigger.value,
        "endpoint": result["endpoint"],
        "attempts": result["attempts"],
        "checks_passed": sum(1 for check in result["checks"] if check["passed"]),
        "checks_failed": sum(1 for check in result["checks"] if not check["passed"]),
        "sent_count": len(result["sent"]),
        "received_count": len(result["received"]),
        "timings_ms": result["timings_ms"],
    }
    timings = result["timings_ms"]
    if error is None:
        logger.info("exchange succeeded", extra=summary)
        metrics.add_metric(name="ExchangeSucceeded", unit=MetricUnit.Count, value=1)
    else:
        logger.error(
            "exchange failed",
            extra={
                **summary,
                "error_type": error.type,
                "error_message": error.message,
                "retryable": error.retryable,
            },
        )
        metrics.add_metric(name="ExchangeFailed", unit=MetricUnit.Count, value=1)
        if error.type == "expectation_failed":
            metrics.add_metric(name="ExpectationFailed", unit=MetricUnit.Count, value=1)
        # By type in its own EMF document, so the ExchangeFailed alarm keeps
        # the plain service dimension.
        with single_metric(
            name="ExchangeFailedByType",
            unit=MetricUnit.Count,
            value=1,
            namespace=NAMESPACE,
            default_dimensions={"service": SERVICE},
        ) as by_type:
            by_type.add_dimension(name="ErrorType", value=error.type)
    if result["attempts"]:
        metrics.add_metric(
            name="ConnectLatency", unit=MetricUnit.Milliseconds, value=timings["connect"]
        )
    if result["sent"]:
        metrics.add_metric(
            name="ExchangeLatency", unit=MetricUnit.Milliseconds, value=timings["exchange"]
        )
    for phase, name in PHASE_METRICS.items():
        if phase in timings:
            metrics.add_metric(name=name, unit=MetricUnit.Milliseconds, value=timings[phase])
    tls = result["connection"]["tls"]
    days_left = None
    if tls is not None and tls["certificate"] is not None:
        days_left = tls["certificate"]["days_left"]
        metrics.add_metric(name="CertificateDaysLeft", unit=MetricUnit.Count, value=days_left)
    if target is not None:
        _record_target(target, result, error, days_left)


def _record_target(
    target: str, result: dict[str, Any], error: ExchangeError | None, days_left: int | None
) -> None:
    """The target's own metrics, in an EMF document with a ``target`` dimension (the
    dashboard's per-target graphs), beside the service-wide ones the alarms watch."""
    own = EphemeralMetrics(namespace=NAMESPACE, service=SERVICE)
    own.add_dimension(name="target", value=target)
    # 1 or 0: its average over a period is the target's success rate.
    own.add_metric(name="ExchangeOk", unit=MetricUnit.Count, value=1 if error is None else 0)
    if error is not None:
        own.add_metric(name="ExchangeFailed", unit=MetricUnit.Count, value=1)
    timings = result["timings_ms"]
    if result["attempts"]:
        own.add_metric(
            name="ConnectLatency", unit=MetricUnit.Milliseconds, value=timings["connect"]
        )
    if result["sent"]:
        own.add_metric(
            name="ExchangeLatency", unit=MetricUnit.Milliseconds, value=timings["exchange"]
        )
    if days_left is not None:
        own.add_metric(name="CertificateDaysLeft", unit=MetricUnit.Count, value=days_left)
    own.flush_metrics()


def run_completed() -> None:
    """One run (a single exchange or a fleet) completed, whatever its outcome: the
    heartbeat alarm fires when none has for a while."""
    metrics.add_metric(name="RunsCompleted", unit=MetricUnit.Count, value=1)


def record_fleet(answer: dict[str, Any], trigger: Trigger, total_ms: float) -> None:
    """The fleet invocation's one summary line."""
    failed = {
        name: result["error"]["type"]
        for name, result in answer["targets"].items()
        if result["error"] is not None
    }
    extra = {
        "trigger": trigger.value,
        **answer["summary"],
        "failed_targets": failed,
        "total_ms": round(total_ms, 2),
    }
    if failed:
        logger.error("fleet finished with failures", extra=extra)
    else:
        logger.info("fleet succeeded", extra=extra)


# The phases of the successful attempt and of the conversation, one latency metric each.
PHASE_METRICS = {
    "dns": "DnsLatency",
    "tcp": "TcpLatency",
    "tls": "TlsLatency",
    "handshake": "HandshakeLatency",
    "first_reply": "FirstReplyLatency",
    "close": "CloseLatency",
    "ping": "PingLatency",
}


def log_internal_error(exc: BaseException) -> None:
    """Log a failure of no known type, with its traceback, credentials scrubbed.

    Scrubbed here as well as in the line's serializer: the record's ``traceback``
    field reaches any handler a deployer adds, not only Powertools'.
    """
    text = scrubber.scrub_log_line("".join(traceback.format_exception(exc)))
    logger.error("internal error", extra={"error_type": "internal_error", "traceback": text})
