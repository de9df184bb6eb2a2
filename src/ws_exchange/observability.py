"""Structured logs and EMF metrics through Powertools: one summary per invocation."""

from __future__ import annotations

import os
import traceback
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric

from .errors import ExchangeError
from .redaction import scrubber
from .triggers import Trigger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "websocket-exchange"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "WebSocketExchange"


logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record(result: dict[str, Any], error: ExchangeError | None, trigger: Trigger) -> None:
    """Log the summary line and add the invocation's metrics."""
    summary = {
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


def log_internal_error(exc: BaseException) -> None:
    """Log a failure no error type names, with its traceback, credentials scrubbed."""
    text = "".join(traceback.format_exception(exc))
    logger.error(
        "internal error",
        extra={"error_type": "internal_error", "traceback": scrubber.scrub_log_line(text)},
    )
