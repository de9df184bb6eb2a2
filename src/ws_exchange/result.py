"""The result and the API answer. Pure logic."""

from __future__ import annotations

import json
from typing import Any

from .errors import ExchangeError, MessageTooLarge
from .plan import Progress

# Lambda's synchronous response limit is 6 MB: every answer stays below it.
RESPONSE_LIMIT_BYTES = 6_000_000
# Room for the result's other fields (endpoint, timings, error, request id).
RESULT_OVERHEAD_BYTES = 64 * 1024


def build_result(
    *,
    endpoint: str | None,
    progress: Progress,
    checks: list[dict[str, Any]],
    error: ExchangeError | None,
    request_id: str | None,
    total_ms: float,
) -> dict[str, Any]:
    """The structured result of one invocation."""
    return {
        "ok": error is None,
        "endpoint": endpoint,
        "subprotocol": progress.subprotocol,
        "sent": progress.sent,
        "received": progress.received,
        "checks": checks,
        "attempts": progress.attempts,
        "connection": progress.connection,
        "timings_ms": timings_ms(progress, total_ms),
        "error": None if error is None else error.as_dict(),
        "request_id": request_id if isinstance(request_id, str) else None,
    }


def timings_ms(progress: Progress, total_ms: float) -> dict[str, float]:
    """The result's ``timings_ms``, in milliseconds rounded to 0.01: the invocation's
    totals, then the phases that happened."""
    timings = {
        "secret": round(progress.secret_ms, 2),
        "connect": round(progress.connect_ms, 2),
        "exchange": round(progress.exchange_ms, 2),
        "total": round(total_ms, 2),
    }
    for phase, ms in progress.phases.items():
        timings[phase] = round(ms, 2)
    return timings


def status_code(error: ExchangeError | None) -> int:
    """The HTTP status an API caller receives for this outcome."""
    return 200 if error is None else error.status_code


def api_response(result: dict[str, Any], error: ExchangeError | None) -> dict[str, Any]:
    """An API Gateway proxy response (REST 1.0 and HTTP API 2.0 alike)."""
    return {
        "statusCode": status_code(error),
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(result, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
    }


def response_size(answer: dict[str, Any]) -> int:
    """Bytes of ``answer`` as the Lambda runtime sends it (its separators, UTF-8)."""
    return len(json.dumps(answer, ensure_ascii=False, allow_nan=False).encode("utf-8"))


def fit_response(
    result: dict[str, Any],
    error: ExchangeError | None,
    *,
    sent_bytes: int,
    received_bytes: int,
    is_api: bool,
    limit: int = RESPONSE_LIMIT_BYTES,
) -> tuple[dict[str, Any], ExchangeError | None]:
    """``result`` and ``error``, with replies (then messages sent) dropped from the
    end if the answer would not fit Lambda's response limit (then the error is
    ``message_too_large``).

    The replies are already bounded by MAX_RESULT_BYTES as they arrive; this is
    the last guarantee, for what the runtime's separators add to a result, and
    escaping to an API body. ``limit`` is the result's share of the response (a
    fleet's targets share it). A small result is not measured: the messages sent
    and the replies kept (``sent_bytes``, ``received_bytes``: compact JSON) at
    most double in either form.
    """
    if 2 * (sent_bytes + received_bytes) + RESULT_OVERHEAD_BYTES <= limit:
        return result, error

    def size() -> int:
        return response_size(api_response(result, error) if is_api else result)

    # Replies first; then the messages sent, which a scenario may have built
    # from replies (an API body escapes their quotes once more).
    for kept in (result["received"], result["sent"]):
        while kept and size() > limit:
            del kept[len(kept) * 9 // 10 :]
            if not isinstance(error, MessageTooLarge):
                error = MessageTooLarge(
                    "The replies exceed what one Lambda response can carry (6 MB); "
                    "lower MAX_RESULT_BYTES or ask the server for less."
                    if limit == RESPONSE_LIMIT_BYTES
                    else f"The replies exceed this target's share of the response ({limit} "
                    "bytes of Lambda's 6 MB); run fewer targets per invocation or ask the "
                    "server for less."
                )
                result["ok"] = False
                result["error"] = error.as_dict()
    return result, error


# A fleet's answer besides its targets' results: the envelope, the summary, and each
# target's name as a key.
FLEET_OVERHEAD_BYTES = 16 * 1024
PER_TARGET_OVERHEAD_BYTES = 256


def target_share(count: int) -> int:
    """Bytes of Lambda's response each of ``count`` targets' results may take."""
    room = RESPONSE_LIMIT_BYTES - FLEET_OVERHEAD_BYTES - PER_TARGET_OVERHEAD_BYTES * count
    return room // max(1, count)


def fleet_result(results: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """A fleet invocation's answer: every target's result, and how many succeeded."""
    succeeded = sum(1 for result in results.values() if result["ok"])
    return {
        "ok": succeeded == len(results),
        "targets": results,
        "summary": {"total": len(results), "ok": succeeded, "failed": len(results) - succeeded},
    }


def fleet_api_response(answer: dict[str, Any], errors: list[ExchangeError]) -> dict[str, Any]:
    """A fleet's API answer: 200 when every target succeeded, else the status of the
    first target (in the order named) that failed."""
    if errors:
        status = errors[0].status_code
    else:
        status = 200 if answer["ok"] else MessageTooLarge.status_code
    return {
        "statusCode": status,
        "headers": {"Content-Type": "application/json"},
        "body": json.dumps(answer, ensure_ascii=False, separators=(",", ":"), allow_nan=False),
    }


def fit_fleet(answer: dict[str, Any], *, known_bytes: int, is_api: bool) -> dict[str, Any]:
    """``answer``, within Lambda's response limit whatever its results hold.

    Each result was already fitted to its share; this is the last guarantee, for
    what a share's estimate does not count (a server's long handshake headers).
    The largest results lose their replies and headers first, and say so. An
    answer whose messages and replies (``known_bytes``) and headers are small is
    not measured.
    """
    results = answer["targets"]
    # A server chooses its handshake headers (up to websockets' limits, ~1 MB).
    headers = sum(
        len(name) + len(value)
        for result in results.values()
        for name, value in result["connection"]["headers"].items()
    )
    if 2 * (known_bytes + headers) + RESULT_OVERHEAD_BYTES * len(results) <= RESPONSE_LIMIT_BYTES:
        return answer

    def size() -> int:
        return response_size({"body": json.dumps(answer)} if is_api else answer)

    by_size = sorted(results, key=lambda name: response_size(results[name]), reverse=True)
    for name in by_size:
        if size() <= RESPONSE_LIMIT_BYTES:
            break
        result = results[name]
        result["received"] = []
        result["connection"] = {**result["connection"], "headers": {}}
        if result["ok"]:
            answer["summary"]["ok"] -= 1
            answer["summary"]["failed"] += 1
            answer["ok"] = False
        result["ok"] = False
        result["error"] = MessageTooLarge(
            "The fleet's answer would not fit Lambda's 6 MB response: this target's "
            "replies were dropped; run fewer targets per invocation."
        ).as_dict()
    return answer
