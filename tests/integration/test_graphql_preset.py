"""PROTOCOL=graphql-transport-ws against a real GraphQL server (Strawberry)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from local_stack.servers.graphql import GraphQLServer

from .conftest import Invoke

PRICES = {"subscribe": {"query": "subscription { prices(count: 3) { seq symbol price } }"}}


@pytest.fixture
def graphql(token: str) -> Iterator[GraphQLServer]:
    with GraphQLServer(token) as server:
        yield server


def settings(server: GraphQLServer, **more: str) -> dict[str, str]:
    return {"WEBSOCKET_URI": server.endpoint, "PROTOCOL": "graphql-transport-ws", **more}


def test_a_subscription_gives_each_next_as_a_reply_until_complete(
    run: Invoke, graphql: GraphQLServer, token: str
) -> None:
    result = run({"message": PRICES}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert result["subprotocol"] == "graphql-transport-ws"
    assert [reply["data"]["prices"]["seq"] for reply in result["received"]] == [1, 2, 3]
    assert result["sent"] == [{"id": "1", "type": "subscribe", "payload": PRICES["subscribe"]}]
    assert token not in json.dumps(result)


def test_until_stops_at_the_matching_next(run: Invoke, graphql: GraphQLServer) -> None:
    result = run({"message": PRICES, "until": "data.prices.seq == `2`"}, **settings(graphql))

    assert result["ok"] is True, result["error"]
    assert [reply["data"]["prices"]["seq"] for reply in result["received"]] == [1, 2]


def test_steps_wait_for_complete_and_expectations_see_the_payloads(
    run: Invoke, graphql: GraphQLServer
) -> None:
    result = run(
        {
            "steps": [
                {"send": PRICES},
                {"receive": {}, "extract": {"last": "data.prices.seq"}},
                {"expect": "vars.last == `3`"},
                {"send": {"subscribe": {"query": "{ hello }"}}},
                {"receive": {"count": 1}},
            ],
            "expect": ["received[-1].data.hello == 'Hello, world!'"],
        },
        **settings(graphql),
    )

    assert result["ok"] is True, result["error"]
    assert len(result["received"]) == 4


def test_a_wrong_token_is_auth_rejected(run: Invoke, graphql: GraphQLServer) -> None:
    graphql.token = "not-the-token"

    result = run({"message": PRICES}, **settings(graphql))

    assert result["ok"] is False
    assert result["error"]["type"] == "auth_rejected"
    assert "4403" in result["error"]["message"]


def test_an_error_message_is_expectation_failed_with_the_servers_words(
    run: Invoke, graphql: GraphQLServer
) -> None:
    result = run(
        {"message": {"subscribe": {"query": "subscription { unknown }"}}}, **settings(graphql)
    )

    assert result["ok"] is False
    assert result["error"]["type"] == "expectation_failed"
    assert "unknown" in result["error"]["message"]
    assert result["error"]["message"].startswith("The GraphQL operation failed:")


def test_the_servers_pings_are_answered_and_never_replies(run: Invoke, token: str) -> None:
    with GraphQLServer(token, ping_interval=0.05) as pinging:
        result = run(
            {"steps": [{"send": PRICES}, {"receive": {}}, {"sleep": 0.4}]},
            **settings(pinging),
        )
        deadline = time.monotonic() + 2
        while pinging.pongs < 3 and time.monotonic() < deadline:
            time.sleep(0.02)

    assert result["ok"] is True, result["error"]
    assert pinging.pongs >= 3, "pings during the sleep step were answered"
    assert all("type" not in reply for reply in result["received"])
    assert len(result["received"]) == 3


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"action": "ping"}, "is not an operation"),
        ({"subscribe": {"variables": {}}}, 'has no "query"'),
        ({"subscribe": {"query": "{ hello }", "id": 1}}, 'has "id"'),
    ],
)
def test_a_message_the_protocol_cannot_send_is_invalid_request_before_any_io(
    run: Invoke, graphql: GraphQLServer, message: Any, words: str
) -> None:
    result = run({"message": message}, **settings(graphql))

    assert result["error"]["type"] == "invalid_request"
    assert words in result["error"]["message"]
    assert result["attempts"] == 0


def test_a_receive_waiting_for_complete_needs_a_protocol_with_operations(
    run: Invoke, graphql: GraphQLServer
) -> None:
    result = run({"steps": [{"send": "x"}, {"receive": {}}]}, WEBSOCKET_URI=graphql.endpoint)

    assert result["error"]["type"] == "invalid_request"
    assert "neither count nor until" in result["error"]["message"]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"AUTH_MODE": "message", "AUTH_MESSAGE": '{"t": "{token}"}'}, "AUTH_MODE"),
        ({"AUTH_MODE": "none", "GRAPHQL_CONNECTION_PARAMS": '{"t": "{token}"}'}, "GRAPHQL"),
        ({"GRAPHQL_CONNECTION_PARAMS": "{not json"}, "GRAPHQL_CONNECTION_PARAMS"),
        ({"PROTOCOL": "graphql"}, "PROTOCOL"),
    ],
)
def test_contradicting_settings_are_config_errors_naming_them(
    run: Invoke, graphql: GraphQLServer, variables: dict[str, str], named: str
) -> None:
    result = run({"message": PRICES}, **{**settings(graphql), **variables})

    assert result["error"]["type"] == "config_error"
    assert named in result["error"]["message"]


def test_another_presets_setting_is_a_config_error(run: Invoke, graphql: GraphQLServer) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=graphql.endpoint, SOCKETIO_AUTH="{}")

    assert result["error"]["type"] == "config_error"
    assert "SOCKETIO_AUTH" in result["error"]["message"]


def test_the_graphql_recipe_subscribe_take_n_then_complete(
    run: Invoke, graphql: GraphQLServer
) -> None:
    # The recipe the protocols page shows, as written there.
    result = run(
        {
            "steps": [
                {
                    "send": {
                        "subscribe": {
                            "query": "subscription ($n: Int!) { prices(count: $n) { seq price } }",
                            "variables": {"n": 1000},
                        }
                    }
                },
                {"receive": {"count": 3}},
                {"expect": "received[-1].data.prices.seq == `3`"},
            ]
        },
        **settings(graphql, TIMESTAMP_FIELD="timestamp"),
    )

    assert result["ok"] is True, result["error"]
    assert len(result["received"]) == 3
    assert "timestamp" not in result["sent"][0]["payload"]


def test_an_error_while_no_step_waits_still_fails_the_exchange(
    run: Invoke, graphql: GraphQLServer
) -> None:
    result = run(
        {"steps": [{"send": {"subscribe": {"query": "subscription { unknown }"}}}, {"sleep": 0.3}]},
        **settings(graphql),
    )

    assert result["ok"] is False
    assert result["error"]["type"] == "expectation_failed"
    assert "unknown" in result["error"]["message"]
