"""The result (the contract's section 5) and the API answer. Pure logic."""

from __future__ import annotations

import json
from typing import Any

from .errors import ExchangeError
from .exchange import Progress


def build_result(
    *,
    endpoint: str | None,
    progress: Progress,
    error: ExchangeError | None,
    request_id: str | None,
    total_ms: float,
) -> dict[str, Any]:
    """The structured result of one invocation."""
    return {
        "ok": error is None,
        "endpoint": endpoint,
        "sent": progress.sent,
        "received": progress.received,
        "attempts": progress.attempts,
        "timings_ms": {
            "secret": round(progress.secret_ms, 2),
            "connect": round(progress.connect_ms, 2),
            "exchange": round(progress.exchange_ms, 2),
            "total": round(total_ms, 2),
        },
        "error": None if error is None else error.as_dict(),
        "request_id": request_id,
    }


def status_code(error: ExchangeError | None) -> int:
    """The HTTP status an API caller receives for this outcome."""
    return 200 if error is None else error.status_code


def api_response(result: dict[str, Any], error: ExchangeError | None) -> dict[str, Any]:
    """An API Gateway proxy response (REST 1.0 and HTTP API 2.0 alike)."""
    return {
        "statusCode": status_code(error),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result, ensure_ascii=False, separators=(",", ":")),
    }
