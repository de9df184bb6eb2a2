"""Scenarios through the real handler against the real scenario server: every step
kind, the variables between them, and what the connection showed.

The server (local_stack/servers/scenario.py) verifies the bearer token of the
function's secret on every handshake, so each scenario also proves that the
credential went where it should and nowhere else.
"""

from __future__ import annotations

import datetime
import json
import re
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.servers.scenario import PRICE_UPDATES, ScenarioServer

from .conftest import Invoke, body, sample

UUID4 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


@pytest.fixture(scope="module")
def scenario_server_module(token: str) -> Iterator[ScenarioServer]:
    with ScenarioServer(token) as server:
        yield server


@pytest.fixture
def scenario_server(scenario_server_module: ScenarioServer, token: str) -> ScenarioServer:
    """The shared server, its records cleared, accepting the session token."""
    scenario_server_module.token = token
    scenario_server_module.messages.clear()
    scenario_server_module.handshakes.clear()
    scenario_server_module.sessions.clear()
    return scenario_server_module


@pytest.fixture
def on(run: Invoke, scenario_server: ScenarioServer) -> Any:
    """``on(path, event, **variables)``: run the event against a path of the server."""

    def _on(path: str, event: Any, **variables: str) -> Any:
        return run(event, WEBSOCKET_URI=scenario_server.uri + path, **variables)

    return _on


def assert_error(result: dict[str, Any], error_type: str, *, naming: str) -> str:
    assert result["ok"] is False, result
    assert result["error"]["type"] == error_type, result["error"]
    message: str = result["error"]["message"]
    assert naming in message, message
    return message


def received_by_server(server: ScenarioServer) -> list[Any]:
    return [json.loads(frame) for frame in server.messages]


# --- send and its placeholders -------------------------------------------------------


def test_a_whole_string_placeholder_keeps_the_values_type(
    on: Any, scenario_server: ScenarioServer
) -> None:
    first = {"n": 42, "ratio": 0.5, "flag": False, "items": [1, "two"], "obj": {"a": [1, 2]}}
    result = on(
        "/echo",
        {
            "steps": [
                {"send": first},
                {
                    "receive": {"count": 1},
                    "extract": {
                        "n": "n",
                        "ratio": "ratio",
                        "flag": "flag",
                        "items": "items",
                        "obj": "obj",
                    },
                },
                {
                    "send": {
                        "n": "{{n}}",
                        "ratio": "{{ratio}}",
                        "flag": "{{flag}}",
                        "deep": [{"items": "{{items}}"}],
                        "obj": "{{obj}}",
                    }
                },
                {"receive": {"count": 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    second = received_by_server(scenario_server)[1]
    assert second["n"] == 42 and type(second["n"]) is int
    assert second["ratio"] == 0.5
    assert second["flag"] is False
    assert second["deep"] == [{"items": [1, "two"]}]
    assert second["obj"] == {"a": [1, 2]}
    assert result["sent"][1] == second, "sent shows the message as sent"


def test_a_placeholder_inside_a_longer_string_inserts_the_values_text(
    on: Any, scenario_server: ScenarioServer
) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": {"name": "ada", "n": 7, "obj": {"a": 1}, "list": [1, 2]}},
                {
                    "receive": {"count": 1},
                    "extract": {"name": "name", "n": "n", "obj": "obj", "list": "list"},
                },
                {"send": "user={{name}};n={{n}};obj={{obj}};list={{list}};{{{n}}}"},
                {"receive": {"count": 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    text = scenario_server.messages[1]
    assert text == 'user=ada;n=7;obj={"a":1};list=[1,2];{7}'
    assert result["sent"][1] == text
    assert result["received"][1] == text


def test_built_in_placeholders_are_fresh_at_each_use(
    on: Any, scenario_server: ScenarioServer
) -> None:
    before_ms = time.time_ns() // 1_000_000
    message = {
        "a": "{{uuid}}",
        "b": "{{uuid}}",
        "tagged": "run-{{uuid}}",
        "at": "{{timestamp}}",
        "ms": "{{epoch_ms}}",
        "rid": "{{request_id}}",
        "rid_text": "req:{{request_id}}",
    }
    result = on(
        "/echo",
        {
            "steps": [
                {"send": message},
                {"receive": {"count": 1}},
                {"sleep": 0.01},
                {"send": message},
                {"receive": {"count": 1}},
            ]
        },
    )
    after_ms = time.time_ns() // 1_000_000

    assert result["ok"] is True, result["error"]
    first, second = received_by_server(scenario_server)
    uuids = [first["a"], first["b"], second["a"], second["b"]]
    assert all(UUID4.fullmatch(value) for value in uuids), uuids
    assert len(set(uuids)) == 4, "every use is a new UUID"
    assert first["tagged"] != second["tagged"]
    assert UUID4.fullmatch(first["tagged"].removeprefix("run-"))
    for each in (first, second):
        assert type(each["ms"]) is int and before_ms <= each["ms"] <= after_ms
        moment = datetime.datetime.fromisoformat(each["at"])
        assert moment.utcoffset() == datetime.timedelta(0)
        assert before_ms <= moment.timestamp() * 1000 <= after_ms + 1
        assert each["rid"] == result["request_id"]
        assert each["rid_text"] == "req:" + result["request_id"]
    assert second["ms"] > first["ms"], "computed at each use, after the sleep"


def test_quadruple_braces_write_literal_braces(on: Any, scenario_server: ScenarioServer) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": {"v": "x"}},
                {"receive": {"count": 1}, "extract": {"v": "v"}},
                {
                    "send": {
                        "literal": "{{{{v}}}}",
                        "graphql": "query {{{{ a }}}} {{v}}",
                        "single": "{ } }} {",
                    }
                },
                {"receive": {"count": 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    sent = received_by_server(scenario_server)[1]
    assert sent["literal"] == "{{v}}"
    assert sent["graphql"] == "query {{ a }} x"
    assert sent["single"] == "{ } }} {"


# --- receive ------------------------------------------------------------------------------


def login_steps() -> list[dict[str, Any]]:
    return [
        {"send": {"action": "login", "user": "monitor"}},
        {"receive": {"count": 1}, "extract": {"sid": "session_id"}},
        {"send": {"action": "subscribe", "session_id": "{{sid}}", "channel": "prices"}},
    ]


def test_receive_count_collects_exactly_that_many(on: Any) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                *login_steps(),
                {"receive": {"count": 2}},
                {"expect": "length(received) == `3` && received[2].type == 'price'"},
                {"receive": {"count": PRICE_UPDATES - 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    assert [reply["type"] for reply in result["received"]] == [
        "session",
        "subscribed",
        *["price"] * PRICE_UPDATES,
    ]


def test_receive_until_stops_at_the_matching_reply(on: Any) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                *login_steps(),
                {"receive": {"until": "type == 'price' && seq == `2`", "max_replies": 10}},
                {"expect": "received[-1].seq == `2`"},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    assert [reply["type"] for reply in result["received"]] == [
        "session",
        "subscribed",
        "price",
        "price",
    ]


def test_receive_until_without_a_match_within_max_replies_names_the_step(on: Any) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                *login_steps(),
                {"receive": {"until": "type == 'never'", "max_replies": 2}},
                {"send": {"action": "login", "user": "not-reached"}},
            ]
        },
    )

    message = assert_error(result, "expectation_failed", naming="steps[3]")
    assert "max_replies (2 replies)" in message
    assert len(result["received"]) == 3, "exactly max_replies replies were read"
    assert len(result["sent"]) == 2


def test_receive_timeout_seconds_is_that_steps_limit(
    on: Any, scenario_server: ScenarioServer
) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                {"send": {"action": "login", "user": "monitor"}},
                {"receive": {"count": 2, "timeout_seconds": 0.3}},
            ],
            "reply_timeout_seconds": 8,
        },
    )

    message = assert_error(result, "reply_timeout", naming="steps[1]")
    assert "0.3 s" in message
    assert [reply["type"] for reply in result["received"]] == ["session"]
    # Well under the invocation's 8 s reply timeout.
    assert result["timings_ms"]["exchange"] < 4000


def test_an_extract_that_finds_nothing_names_the_variable(on: Any) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                {"send": {"action": "login", "user": "monitor"}},
                {"receive": {"count": 1}, "extract": {"sid": "session_id", "gone": "session.id"}},
                {"send": {"x": "{{gone}}"}},
            ]
        },
    )

    message = assert_error(result, "expectation_failed", naming="steps[1].extract.gone")
    assert "null" in message
    assert len(result["sent"]) == 1, "the exchange stopped at the extract"


# --- collect ----------------------------------------------------------------------------


def test_silence_while_collecting_is_fine(on: Any) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": "one"},
                {"collect": 0.4},
                {"expect": "length(received) == `1`"},
                {"send": "two"},
                {"receive": {"count": 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["one", "two"]
    assert result["timings_ms"]["exchange"] >= 400


@pytest.mark.parametrize("code", [1000, 1001])
def test_a_normal_close_ends_the_collect_window(on: Any, code: int) -> None:
    result = on(
        f"/close-after?code={code}&reason=done",
        {
            "steps": [
                {"send": {"action": "bye"}},
                {"collect": 8},
                {"expect": f"connection.close.code == `{code}`"},
            ],
            "expect": ["received[0].type == 'ack'", f"connection.close.code == `{code}`"],
        },
    )

    assert result["ok"] is True, result["error"]
    assert result["received"][0]["message"]["action"] == "bye"
    assert result["connection"]["close"] == {
        "code": code,
        "reason": "done",
        "initiated_by": "server",
    }
    assert result["timings_ms"]["exchange"] < 6000, "the close ended the window"


def test_another_close_while_collecting_is_connection_closed(on: Any) -> None:
    result = on(
        "/close-after?code=4001",
        {"steps": [{"send": {"action": "bye"}}, {"collect": 8}]},
    )

    message = assert_error(result, "connection_closed", naming="4001")
    assert result["received"][0]["type"] == "ack"
    assert message


# --- await_close ------------------------------------------------------------------------


def test_await_close_records_the_servers_code_and_reason(on: Any) -> None:
    # A reason under 8 characters: longer values of the URI's query are taken for keys.
    result = on(
        "/close-after?code=4000&reason=bye",
        {
            "steps": [
                {"send": {"action": "logout"}},
                {"await_close": {"timeout_seconds": 5}},
                {
                    "expect": "connection.close.code == `4000` && "
                    "connection.close.initiated_by == 'server'"
                },
            ],
            "expect": ["connection.close.code == `4000`", "connection.close.reason == 'bye'"],
        },
    )

    assert result["ok"] is True, result["error"]
    assert result["connection"]["close"] == {
        "code": 4000,
        "reason": "bye",
        "initiated_by": "server",
    }
    assert result["received"][0]["type"] == "ack", "replies before the close are kept"
    assert "close" not in result["timings_ms"], "the client did not close"


def test_an_expected_close_code_that_differs_fails_the_expectation(on: Any) -> None:
    result = on(
        "/close-after?code=4002",
        {
            "steps": [{"send": {"action": "logout"}}, {"await_close": {}}],
            "expect": ["connection.close.code == `4000`"],
        },
    )

    assert_error(result, "expectation_failed", naming="connection.close.code == `4000`")
    assert result["connection"]["close"]["code"] == 4002


def test_await_close_without_a_close_is_reply_timeout_naming_the_step(
    on: Any, scenario_server: ScenarioServer
) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": "hello"},
                {"await_close": {"timeout_seconds": 0.3}},
                {"send": "not sent"},
            ]
        },
    )

    message = assert_error(result, "reply_timeout", naming="steps[1]")
    assert "0.3 s" in message
    assert result["received"] == ["hello"], "the echo arrived while awaiting the close"
    assert scenario_server.messages == ["hello"]
    assert result["connection"]["close"]["initiated_by"] == "client"


# --- ping, expect, sleep ------------------------------------------------------------------


def test_ping_records_its_round_trip(on: Any) -> None:
    result = on(
        "/echo",
        {
            "steps": [{"ping": {}}, {"expect": "timings_ms.ping >= `0`"}, {"ping": {}}],
            "expect": ["timings_ms.ping >= `0`"],
        },
    )

    assert result["ok"] is True, result["error"]
    assert 0 < result["timings_ms"]["ping"] < result["timings_ms"]["exchange"]
    assert result["sent"] == [] and result["received"] == []


def test_no_ping_no_ping_timing(on: Any) -> None:
    result = on("/echo", {"steps": [{"send": "x"}, {"receive": {"count": 1}}]})

    assert result["ok"] is True, result["error"]
    assert "ping" not in result["timings_ms"]


def test_a_falsy_expect_step_stops_the_exchange(on: Any, scenario_server: ScenarioServer) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": "first"},
                {"receive": {"count": 1}},
                {"expect": "received[0] == 'something else'"},
                {"send": "second"},
                {"receive": {"count": 1}},
            ],
            "expect": ["`true`"],
        },
    )

    message = assert_error(result, "expectation_failed", naming="steps[2]")
    assert "received[0] == 'something else'" in message
    assert result["sent"] == ["first"]
    assert scenario_server.messages == ["first"], "the server never saw a later message"
    assert result["checks"] == [], "the invocation's expectations are not evaluated"


def test_an_expect_step_sees_the_exchange_so_far_and_vars(on: Any) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"expect": "length(sent) == `0` && connection.status == `101`"},
                {"send": {"k": "v"}},
                {"receive": {"count": 1}, "extract": {"k": "k"}},
                {
                    "expect": "vars.k == 'v' && sent[0].k == 'v' && received[0].k == 'v' "
                    "&& connection.close == null && subprotocol == null"
                },
            ]
        },
    )

    assert result["ok"] is True, result["error"]


def test_sleep_waits_between_steps(on: Any, scenario_server: ScenarioServer) -> None:
    result = on(
        "/echo",
        {
            "steps": [
                {"send": {"n": "{{epoch_ms}}"}},
                {"receive": {"count": 1}},
                {"sleep": 0.5},
                {"send": {"n": "{{epoch_ms}}"}},
                {"receive": {"count": 1}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    arrivals = [message["n"] for message in received_by_server(scenario_server)]
    assert arrivals[1] - arrivals[0] >= 500
    assert result["timings_ms"]["exchange"] >= 500


# --- the login flow ---------------------------------------------------------------------


def test_the_login_flow_end_to_end(on: Any, scenario_server: ScenarioServer) -> None:
    result = on(
        "/login-flow",
        {
            "steps": [
                {"send": {"action": "login", "user": "monitor-{{request_id}}"}},
                {
                    "receive": {"until": "type == 'session'", "max_replies": 5},
                    "extract": {"sid": "session_id"},
                },
                {"send": {"action": "subscribe", "session_id": "{{sid}}", "channel": "prices"}},
                {
                    "receive": {"until": "type == 'price'", "max_replies": 10},
                    "extract": {"first_price": "price", "symbol": "symbol"},
                },
                {"expect": "vars.first_price > `0`"},
            ],
            "expect": [
                "vars.sid == received[0].session_id",
                "sent[1].session_id == vars.sid",
                "connection.status == `101`",
                "received[-1].type == 'price'",
            ],
        },
    )

    assert result["ok"] is True, result["error"]
    assert [check["passed"] for check in result["checks"]] == [True] * 4
    (session_id,) = scenario_server.sessions
    login, subscribe = received_by_server(scenario_server)
    assert login["user"] == "monitor-" + result["request_id"]
    assert subscribe["session_id"] == session_id
    assert result["sent"][1]["session_id"] == session_id
    assert [reply["type"] for reply in result["received"]] == ["session", "subscribed", "price"]
    assert "Authorization" in scenario_server.handshakes[0]


def test_a_session_the_server_never_gave_is_refused_by_the_server(on: Any) -> None:
    # The placeholder is what makes the flow work: a literal session is refused.
    result = on(
        "/login-flow",
        {
            "steps": [
                {"send": {"action": "login", "user": "monitor"}},
                {"receive": {"count": 1}},
                {"send": {"action": "subscribe", "session_id": "made-up", "channel": "prices"}},
                {"receive": {"until": "type == 'price'", "max_replies": 1}},
            ]
        },
    )

    assert_error(result, "expectation_failed", naming="steps[3]")
    assert result["received"][-1] == {"type": "error", "message": "unknown session"}


def test_a_session_id_is_never_the_same_twice(on: Any) -> None:
    seen = set()
    for _ in range(2):
        result = on(
            "/login-flow",
            {
                "steps": [
                    {"send": {"action": "login", "user": str(uuid.uuid4())}},
                    {"receive": {"count": 1}, "extract": {"sid": "session_id"}},
                    {"send": {"action": "subscribe", "session_id": "{{sid}}", "channel": "prices"}},
                    {"receive": {"count": 1}},
                ]
            },
        )
        assert result["ok"] is True, result["error"]
        seen.add(result["sent"][1]["session_id"])
    assert len(seen) == 2


# --- triggers ---------------------------------------------------------------------------

LOGIN_SCENARIO = {
    "steps": [
        *login_steps(),
        {"receive": {"until": "type == 'price'", "max_replies": 5}},
    ],
    "expect": ["vars.sid == sent[1].session_id"],
}


def test_a_scheduled_events_detail_carries_a_scenario(
    on: Any, scenario_server: ScenarioServer
) -> None:
    event = {**sample("scheduled.json"), "detail": LOGIN_SCENARIO}

    result = on("/login-flow", event)

    assert result["ok"] is True, result["error"]
    assert received_by_server(scenario_server)[1]["session_id"] == scenario_server.sessions[0]


@pytest.mark.parametrize("name", ["api-http.json", "api-rest.json"])
def test_an_api_body_carries_a_scenario_and_a_failing_step_is_a_502(
    on: Any, scenario_server: ScenarioServer, name: str
) -> None:
    template = sample(name)
    ok_event = {**template, "body": json.dumps(LOGIN_SCENARIO), "isBase64Encoded": False}
    failing = {
        "steps": [*LOGIN_SCENARIO["steps"], {"expect": "vars.sid == 'someone else'"}],
    }
    failing_event = {**template, "body": json.dumps(failing), "isBase64Encoded": False}

    answer = on("/login-flow", ok_event)
    refused = on("/login-flow", failing_event)

    assert answer["statusCode"] == 200, answer
    assert body(answer)["ok"] is True
    assert refused["statusCode"] == 502
    assert body(refused)["error"]["type"] == "expectation_failed"
    assert "steps[4]" in body(refused)["error"]["message"]
