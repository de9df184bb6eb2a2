"""The result, the API answer and the error types."""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest

from ws_exchange import errors
from ws_exchange.errors import ERROR_TYPES, ConnectFailed, ExchangeError, ReplyTimeout
from ws_exchange.plan import Progress
from ws_exchange.result import api_response, build_result, status_code

# Written out from docs/results-and-errors.md (the error types) and docs/invocations.md
# (status codes), not read from the code under test.
DOCUMENTED_TYPES = [
    "invalid_request",
    "config_error",
    "secret_not_found",
    "secret_access_denied",
    "secret_invalid",
    "token_request_failed",
    "auth_rejected",
    "handshake_failed",
    "connect_failed",
    "connect_timeout",
    "reply_timeout",
    "connection_closed",
    "message_too_large",
    "expectation_failed",
    "internal_error",
]
DOCUMENTED_STATUS = {
    "invalid_request": 400,
    "config_error": 500,
    "secret_not_found": 500,
    "secret_access_denied": 500,
    "secret_invalid": 500,
    "internal_error": 500,
    "auth_rejected": 502,
    "token_request_failed": 502,
    "expectation_failed": 502,
    "handshake_failed": 502,
    "connect_failed": 502,
    "connection_closed": 502,
    "message_too_large": 502,
    "connect_timeout": 504,
    "reply_timeout": 504,
}
RESULT_KEYS = {
    "ok",
    "endpoint",
    "subprotocol",
    "sent",
    "received",
    "checks",
    "connection",
    "attempts",
    "timings_ms",
    "error",
    "request_id",
}
TIMING_KEYS = {"secret", "connect", "exchange", "total"}
REQUEST_ID = "c6af9ac6-7b61-11e6-9a41-93e812345678"
ENDPOINT = "wss://stream.example.com/v1"
BY_TYPE = {cls.type: cls for cls in ERROR_TYPES}


def progress(**fields: Any) -> Progress:
    defaults: dict[str, Any] = {
        "sent": [{"action": "ping", "timestamp": "2026-11-24T04:00:00.123456+00:00"}],
        "received": [{"type": "pong"}],
        "attempts": 1,
        "secret_ms": 0.0234,
        "connect_ms": 41.7049,
        "exchange_ms": 12.3,
    }
    return Progress(**{**defaults, **fields})


def result(error: ExchangeError | None = None, **overrides: Any) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "endpoint": ENDPOINT,
        "progress": progress(),
        "checks": [],
        "error": error,
        "request_id": REQUEST_ID,
        "total_ms": 55.149,
    }
    return build_result(**{**kwargs, **overrides})


# --- error types ---------------------------------------------------------------


def test_error_types_equal_the_documented_list() -> None:
    assert [cls.type for cls in ERROR_TYPES] == DOCUMENTED_TYPES
    assert len(set(ERROR_TYPES)) == len(ERROR_TYPES)


def test_every_error_class_in_the_module_is_listed() -> None:
    classes = {
        obj
        for _, obj in inspect.getmembers(errors, inspect.isclass)
        if issubclass(obj, ExchangeError) and obj is not ExchangeError
    }
    assert classes == set(ERROR_TYPES)


@pytest.mark.parametrize(
    ("class_name", "type_"),
    [
        ("InvalidRequest", "invalid_request"),
        ("ConfigError", "config_error"),
        ("SecretNotFound", "secret_not_found"),
        ("SecretAccessDenied", "secret_access_denied"),
        ("SecretInvalid", "secret_invalid"),
        ("AuthRejected", "auth_rejected"),
        ("HandshakeFailed", "handshake_failed"),
        ("ConnectFailed", "connect_failed"),
        ("ConnectTimeout", "connect_timeout"),
        ("ReplyTimeout", "reply_timeout"),
        ("ConnectionClosed", "connection_closed"),
        ("MessageTooLarge", "message_too_large"),
    ],
)
def test_each_class_carries_its_documented_type(class_name: str, type_: str) -> None:
    cls = getattr(errors, class_name)
    assert cls.type == type_
    assert cls("x").type == type_


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.type)
def test_str_starts_with_the_type(cls: type[ExchangeError]) -> None:
    error = cls("Something went wrong.")
    assert str(error) == f"{cls.type}: Something went wrong."
    assert str(error).startswith(cls.type)
    assert error.message == "Something went wrong."


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.type)
def test_as_dict_carries_the_given_sentence_and_retryability(cls: type[ExchangeError]) -> None:
    for retryable in (True, False):
        assert cls("One human sentence.", retryable=retryable).as_dict() == {
            "type": BY_TYPE[cls.type].type,
            "message": "One human sentence.",
            "retryable": retryable,
        }
    assert cls("Default.").as_dict()["retryable"] is (
        cls.type in {"connect_failed", "connect_timeout", "reply_timeout", "connection_closed"}
    )


@pytest.mark.parametrize(
    ("type_", "retryable"),
    [
        ("invalid_request", False),
        ("config_error", False),
        ("secret_not_found", False),
        ("secret_invalid", False),
        ("auth_rejected", False),
        ("message_too_large", False),
        ("connect_failed", True),
        ("connect_timeout", True),
        ("reply_timeout", True),
        ("connection_closed", True),
    ],
)
def test_default_retryable(type_: str, retryable: bool) -> None:
    assert BY_TYPE[type_]("x").retryable is retryable


@pytest.mark.parametrize("retryable", [True, False])
@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.type)
def test_retryable_can_be_overridden(cls: type[ExchangeError], retryable: bool) -> None:
    error = cls("x", retryable=retryable)
    assert error.retryable is retryable
    assert error.as_dict()["retryable"] is retryable


# --- build_result ------------------------------------------------------------------


def test_ok_result_has_exactly_the_documented_shape() -> None:
    built = result()
    assert set(built) == RESULT_KEYS
    assert set(built["timings_ms"]) == TIMING_KEYS
    assert built == {
        "ok": True,
        "endpoint": ENDPOINT,
        "subprotocol": None,
        "sent": [{"action": "ping", "timestamp": "2026-11-24T04:00:00.123456+00:00"}],
        "received": [{"type": "pong"}],
        "checks": [],
        "attempts": 1,
        "connection": {"status": None, "headers": {}, "tls": None, "close": None},
        "timings_ms": {"secret": 0.02, "connect": 41.7, "exchange": 12.3, "total": 55.15},
        "error": None,
        "request_id": REQUEST_ID,
    }


def test_the_phases_that_happened_follow_the_totals_in_timings() -> None:
    built = result(progress=progress(phases={"dns": 1.234, "tcp": 0.5, "first_reply": 2.0}))

    assert built["timings_ms"] == {
        "secret": 0.02,
        "connect": 41.7,
        "exchange": 12.3,
        "total": 55.15,
        "dns": 1.23,
        "tcp": 0.5,
        "first_reply": 2.0,
    }


@pytest.mark.parametrize("cls", ERROR_TYPES, ids=lambda c: c.type)
def test_failed_result_carries_the_error(cls: type[ExchangeError]) -> None:
    error = cls("It failed.")
    built = result(error, progress=progress(received=["partial"], attempts=3))
    assert set(built) == RESULT_KEYS
    assert built["ok"] is False
    assert built["error"] == {
        "type": cls.type,
        "message": "It failed.",
        "retryable": error.retryable,
    }
    assert set(built["error"]) == {"type", "message", "retryable"}
    assert built["received"] == ["partial"]
    assert built["attempts"] == 3


def test_result_before_config_has_null_endpoint_and_request_id() -> None:
    built = result(
        errors.ConfigError("WEBSOCKET_URI is required."),
        endpoint=None,
        request_id=None,
        progress=Progress(),
    )
    assert built["endpoint"] is None
    assert built["request_id"] is None
    assert built["sent"] == []
    assert built["received"] == []
    assert built["attempts"] == 0
    assert built["timings_ms"] == {"secret": 0.0, "connect": 0.0, "exchange": 0.0, "total": 55.15}


def test_result_is_json_serialisable() -> None:
    built = result(ReplyTimeout("No reply arrived within 5 s."))
    assert json.loads(json.dumps(built, allow_nan=False)) == built


# --- api_response ---------------------------------------------------------------------


def test_status_code_ok() -> None:
    assert status_code(None) == 200
    assert api_response(result(), None)["statusCode"] == 200


@pytest.mark.parametrize(("type_", "expected"), sorted(DOCUMENTED_STATUS.items()))
def test_status_code_for_every_error_type_is_the_documented_one(type_: str, expected: int) -> None:
    error = BY_TYPE[type_]("x")
    assert status_code(error) == expected
    assert api_response(result(error), error)["statusCode"] == expected


def test_status_table_covers_every_error_type() -> None:
    assert set(DOCUMENTED_STATUS) == {cls.type for cls in ERROR_TYPES}


@pytest.mark.parametrize("retryable", [True, False])
def test_status_code_does_not_depend_on_retryable(retryable: bool) -> None:
    assert status_code(errors.HandshakeFailed("HTTP 503", retryable=retryable)) == 502


@pytest.mark.parametrize("error", [None, ConnectFailed("Could not connect.")], ids=["ok", "failed"])
def test_api_response_shape_and_body(error: ExchangeError | None) -> None:
    built = result(error, progress=progress(received=[{"note": "café ☕"}]))
    response = api_response(built, error)
    assert set(response) == {"statusCode", "headers", "body"}
    assert response["headers"] == {"Content-Type": "application/json"}
    assert isinstance(response["body"], str)
    assert json.loads(response["body"]) == built


def test_api_body_keeps_non_ascii_readable() -> None:
    response = api_response(result(progress=progress(received=["café"])), None)
    assert "café" in response["body"]


# --- a fleet's answer ------------------------------------------------------------------


def _target_result(name: str, header_bytes: int) -> dict:
    return {
        "ok": True,
        "target": name,
        "endpoint": "wss://x.example/",
        "sent": [],
        "received": [{"n": 1}],
        "checks": [],
        "attempts": 1,
        # What a share's estimate does not count: a server's own handshake headers.
        "connection": {"status": 101, "headers": {"x-big": "h" * header_bytes}, "tls": None},
        "timings_ms": {},
        "error": None,
        "request_id": None,
    }


def test_a_fleet_answer_always_fits_even_beyond_the_estimates() -> None:
    from ws_exchange.result import fit_fleet, fleet_result, response_size

    results = {f"t{i}": _target_result(f"t{i}", 400_000) for i in range(20)}
    answer = fleet_result(results)
    assert response_size(answer) > 6_000_000

    fitted = fit_fleet(answer, known_bytes=20, is_api=False)

    assert response_size(fitted) <= 6_000_000
    trimmed = [r for r in fitted["targets"].values() if not r["ok"]]
    assert trimmed and all(r["error"]["type"] == "message_too_large" for r in trimmed)
    assert fitted["summary"]["failed"] == len(trimmed) and fitted["ok"] is False
    assert any(r["ok"] for r in fitted["targets"].values())


def test_a_small_fleet_answer_is_left_alone() -> None:
    from ws_exchange.result import fit_fleet, fleet_result

    answer = fleet_result({"a": _target_result("a", 100)})
    assert fit_fleet(answer, known_bytes=20, is_api=True)["ok"] is True
