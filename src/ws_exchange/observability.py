"""Structured logs and EMF metrics through Powertools: one summary per invocation."""

from __future__ import annotations

import json
import os
from typing import Any

from aws_lambda_powertools.logging import Logger
from aws_lambda_powertools.metrics import Metrics, MetricUnit, single_metric
from aws_lambda_powertools.shared.functions import powertools_dev_is_set

from .errors import ExchangeError
from .triggers import Trigger

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME") or "websocket-exchange"
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE") or "WebSocketExchange"


def _message(text: Any) -> Any:
    """Powertools decodes every log message that is JSON text; trying it on
    each plain sentence costs a JSONDecodeError per line. Only text that can
    be a JSON object or array is tried."""
    if isinstance(text, str) and text[:1] in ("{", "["):
        try:
            return json.loads(text)
        except ValueError:
            pass
    return text


# What Powertools' default serializer does (json.dumps with these options), with
# the encoder built once instead of on every line; POWERTOOLS_DEV's indented
# output is left to Powertools.
_serialize = (
    None
    if powertools_dev_is_set()
    else json.JSONEncoder(default=str, separators=(",", ":"), ensure_ascii=False).encode
)

logger = Logger(service=SERVICE, json_deserializer=_message, json_serializer=_serialize)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)


def record(result: dict[str, Any], error: ExchangeError | None, trigger: Trigger) -> None:
    """Log the summary line and add the invocation's metrics."""
    summary = {
        "ok": result["ok"],
        "trigger": trigger.value,
        "endpoint": result["endpoint"],
        "attempts": result["attempts"],
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
