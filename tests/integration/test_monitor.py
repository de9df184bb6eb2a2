"""Reply checks through the handler: until, collect_seconds, expect."""

from __future__ import annotations

import time
from typing import Any

import pytest

from local_stack.aws.secrets_manager import LocalSecretsManager

from .conftest import Invoke, body, sample

SUBSCRIBE = {"action": "subscribe", "channel": "prices"}


def assert_error(result: dict[str, Any], error_type: str, *, retryable: bool) -> None:
    assert result["ok"] is False, result
    assert result["error"]["type"] == error_type, result["error"]
    assert result["error"]["retryable"] is retryable


# --- until --------------------------------------------------------------------------


def test_until_matching_the_first_reply_stops_there(run: Invoke, server) -> None:
    result = run({"message": {"action": "ping"}, "until": "type == 'pong'"})

    assert result["ok"] is True, result
    assert result["received"] == [{"type": "pong"}]


def test_until_matching_a_later_reply_keeps_everything_up_to_it(run: Invoke, server) -> None:
    result = run(
        {"message": SUBSCRIBE, "until": "type == 'snapshot'"},
        WEBSOCKET_URI=server.uri + "/snapshot",
    )

    assert result["ok"] is True, result
    types = [reply["type"] for reply in result["received"]]
    assert types == ["subscribed", "update", "update", "update", "snapshot"]


def test_until_never_matching_fails_after_max_replies(run: Invoke, server) -> None:
    started = time.monotonic()

    result = run(
        {"message": "x", "until": "type == 'never'", "max_replies": 5},
        WEBSOCKET_URI=server.uri + "/stream?interval_ms=0",
    )

    assert_error(result, "expectation_failed", retryable=False)
    assert len(result["received"]) == 5
    assert "max_replies (5 replies)" in result["error"]["message"]
    # The stream still flows: the close reads past it instead of waiting 2 s.
    assert time.monotonic() - started < 1.5


def test_until_on_a_server_that_goes_silent_is_a_reply_timeout(run: Invoke, server) -> None:
    result = run(
        {"message": SUBSCRIBE, "until": "type == 'never'", "reply_timeout_seconds": 0.3},
        WEBSOCKET_URI=server.uri + "/snapshot",
    )

    assert_error(result, "reply_timeout", retryable=True)
    assert len(result["received"]) == 5


def test_until_applies_to_each_message(run: Invoke, server) -> None:
    result = run(
        {
            "messages": [{"action": "ping", "id": "a"}, {"action": "ping", "id": "b"}],
            "until": "type == 'pong'",
        }
    )

    assert result["ok"] is True, result
    assert result["received"] == [{"type": "pong", "id": "a"}, {"type": "pong", "id": "b"}]


# --- collect_seconds ----------------------------------------------------------------


def test_collect_seconds_samples_a_steady_stream(run: Invoke, server) -> None:
    started = time.monotonic()

    result = run(
        {"message": "go", "expected_replies": 0, "collect_seconds": 0.5},
        WEBSOCKET_URI=server.uri + "/stream?interval_ms=20",
    )

    elapsed = time.monotonic() - started
    assert result["ok"] is True, result
    # 25 ticks in 0.5 s at 20 ms; a loaded machine may deliver fewer.
    assert 5 <= len(result["received"]) <= 30
    assert [reply["seq"] for reply in result["received"]] == list(
        range(1, len(result["received"]) + 1)
    )
    assert 0.5 <= elapsed < 3


def test_collect_seconds_with_silence_is_not_an_error(run: Invoke, server) -> None:
    result = run(
        {"message": "x", "expected_replies": 0, "collect_seconds": 0.3},
        WEBSOCKET_URI=server.uri + "/silent",
    )

    assert result["ok"] is True, result
    assert result["received"] == []


def test_collect_seconds_keeps_at_most_max_replies(run: Invoke, server) -> None:
    result = run(
        {"message": "go", "expected_replies": 0, "collect_seconds": 2, "max_replies": 7},
        WEBSOCKET_URI=server.uri + "/stream?interval_ms=0",
    )

    assert result["ok"] is True, result
    assert len(result["received"]) == 7


# --- expect -------------------------------------------------------------------------


def test_passing_expectations_are_listed_in_checks(run: Invoke, server) -> None:
    expect = ["received[0].type == 'pong'", "length(sent) == `1`", "timings_ms.total > `0`"]

    result = run({"message": {"action": "ping"}, "expect": expect})

    assert result["ok"] is True, result
    assert result["checks"] == [{"expect": text, "passed": True} for text in expect]


def test_a_failing_expectation_names_the_first_that_failed(run: Invoke, server) -> None:
    expect = ["received[0].type == 'pong'", "received[0].type == 'nope'", "`false`"]

    result = run({"message": {"action": "ping"}, "expect": expect})

    assert_error(result, "expectation_failed", retryable=False)
    assert "received[0].type == 'nope'" in result["error"]["message"]
    assert [check["passed"] for check in result["checks"]] == [True, False, False]
    assert result["received"] == [{"type": "pong"}]


def test_default_expect_applies_to_plain_scheduled_runs(run: Invoke, server) -> None:
    result = run(sample("scheduled.json"), DEFAULT_EXPECT="[\"received[0].type == 'pong'\"]")

    assert result["ok"] is True, result
    assert result["checks"] == [{"expect": "received[0].type == 'pong'", "passed": True}]


def test_a_failing_default_expect_fails_the_run(run: Invoke, server) -> None:
    result = run(sample("scheduled.json"), DEFAULT_EXPECT="[\"received[0].type == 'other'\"]")

    assert_error(result, "expectation_failed", retryable=False)


@pytest.mark.parametrize("name", ["monitor-scheduler-input.json", "monitor-api.json"])
def test_the_monitor_samples_pass_against_the_local_server(run: Invoke, server, name) -> None:
    answer = run(sample(name))

    result = body(answer) if "statusCode" in answer else answer
    assert result["ok"] is True, result
    assert result["checks"] and all(check["passed"] for check in result["checks"])


def test_an_api_expectation_failure_is_a_502(run: Invoke, server) -> None:
    event = {**sample("api-http.json"), "isBase64Encoded": False}
    event["body"] = '{"message": {"action": "ping"}, "expect": ["received[0].type == \'x\'"]}'

    response = run(event)

    assert response["statusCode"] == 502
    assert body(response)["error"]["type"] == "expectation_failed"


# --- malformed expressions: refused before any I/O ---------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"message": "x", "until": "type =="},
        {"message": "x", "expect": ["received[0"]},
        {"message": "x", "expect": ["foo(@)"]},
        {"message": "x", "until": "a", "expected_replies": 2},
        {"message": "x", "expect": ["a"] * 21},
        {"message": "x", "until": "a" * 1001},
        {"message": "x", "collect_seconds": 0},
        {"message": "x", "max_replies": 1001},
    ],
)
def test_malformed_checks_are_invalid_requests_before_any_io(
    run: Invoke, server, secrets_manager: LocalSecretsManager, payload: dict[str, Any]
) -> None:
    calls = secrets_manager.get_secret_value_calls

    result = run(payload)

    assert_error(result, "invalid_request", retryable=False)
    assert secrets_manager.get_secret_value_calls == calls
    assert server.handshakes == []


@pytest.mark.parametrize("raw", ['["type =="]', '"not a list"', "[1]", "{"])
def test_malformed_default_expect_is_a_config_error_before_any_io(
    run: Invoke, server, raw: str
) -> None:
    result = run({}, DEFAULT_EXPECT=raw)

    assert_error(result, "config_error", retryable=False)
    assert "DEFAULT_EXPECT" in result["error"]["message"]
    assert server.handshakes == []
