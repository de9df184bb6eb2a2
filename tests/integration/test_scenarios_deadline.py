"""Scenario waits against the Lambda deadline: a sleep or a collect window that
outlasts the time left is cut at the deadline with reply_timeout naming the step,
and the answer comes before Lambda would stop the invocation; waits that add up to
more than the time are not refused, the scenario runs until the deadline."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.runtime.invoker import invoke
from local_stack.servers.scenario import ScenarioServer

FUNCTION_TIMEOUT_SECONDS = 2


@pytest.fixture(scope="module")
def scenario_server(token: str) -> Iterator[ScenarioServer]:
    with ScenarioServer(token) as server:
        yield server


@pytest.fixture
def run_briefly(spec: Any, function_env: dict[str, str], scenario_server: ScenarioServer) -> Any:
    """Run an event on ``/echo`` in a function whose timeout is 2 s; the answer and
    how long it took."""
    short = type(spec)(**{**spec.__dict__, "timeout": FUNCTION_TIMEOUT_SECONDS})

    def _run(event: Any) -> tuple[dict[str, Any], float]:
        scenario_server.messages.clear()
        started = time.monotonic()
        result = invoke(
            short, event, {**function_env, "WEBSOCKET_URI": scenario_server.uri + "/echo"}
        )
        return result, time.monotonic() - started

    return _run


def assert_cut_at_the_deadline(result: dict[str, Any], elapsed: float, step: str) -> None:
    assert result["ok"] is False, result
    assert result["error"]["type"] == "reply_timeout", result["error"]
    assert step in result["error"]["message"], result["error"]
    assert elapsed < FUNCTION_TIMEOUT_SECONDS, f"answered {elapsed:.2f} s into a 2 s invocation"


def test_a_sleep_past_the_deadline_is_cut_with_reply_timeout_naming_it(
    run_briefly: Any, scenario_server: ScenarioServer
) -> None:
    result, elapsed = run_briefly(
        {"steps": [{"send": "before"}, {"receive": {"count": 1}}, {"sleep": 30}, {"send": "after"}]}
    )

    assert_cut_at_the_deadline(result, elapsed, "steps[2]")
    assert result["received"] == ["before"]
    assert scenario_server.messages == ["before"]


def test_a_collect_past_the_deadline_is_cut_with_reply_timeout_naming_it(
    run_briefly: Any, scenario_server: ScenarioServer
) -> None:
    result, elapsed = run_briefly(
        {"steps": [{"send": "before"}, {"collect": 30}, {"send": "after"}]}
    )

    assert_cut_at_the_deadline(result, elapsed, "steps[1]")
    assert result["received"] == ["before"], "what arrived in the window is kept"
    assert scenario_server.messages == ["before"]


def test_a_collect_past_the_deadline_as_the_last_step_still_fails(run_briefly: Any) -> None:
    result, elapsed = run_briefly({"steps": [{"send": "only"}, {"collect": 30}]})

    assert_cut_at_the_deadline(result, elapsed, "steps[1]")


def test_collect_seconds_past_the_deadline_ends_at_it_without_error(run_briefly: Any) -> None:
    # Plain messages keep their meaning: collect_seconds is "at most, never past
    # the deadline".
    result, elapsed = run_briefly({"message": "x", "expected_replies": 1, "collect_seconds": 30})

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["x"]
    assert elapsed < FUNCTION_TIMEOUT_SECONDS


def test_static_waits_beyond_the_time_left_still_run_the_first_steps(
    run_briefly: Any, scenario_server: ScenarioServer
) -> None:
    result, elapsed = run_briefly(
        {
            "steps": [
                {"send": "first"},
                {"receive": {"count": 1}},
                {"sleep": 60},
                {"collect": 900},
                {"sleep": 60},
                {"send": "never"},
            ]
        }
    )

    assert_cut_at_the_deadline(result, elapsed, "steps[2]")
    assert scenario_server.messages == ["first"]
    assert result["sent"] == ["first"] and result["received"] == ["first"]
