"""The template's Protocol and SocketioAuth parameters match what the function accepts."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ws_exchange.protocols import PRESETS
from ws_exchange.protocols.socketio import from_environ

FUNCTION_ID = "ExchangeFunction"


def test_protocol_offers_exactly_the_functions_presets(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["Protocol"]
    assert parameter["AllowedValues"] == list(PRESETS)
    assert parameter["Default"] == "raw"


def test_the_variables_come_from_the_parameters(cfn: dict[str, Any]) -> None:
    variables = cfn["Resources"][FUNCTION_ID]["Properties"]["Environment"]["Variables"]
    assert variables["PROTOCOL"] == {"Ref": "Protocol"}
    assert variables["SOCKETIO_AUTH"] == {"Ref": "SocketioAuth"}


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        ('{"token": "{token}"}', True),
        ('{\n  "token": "{token}",\n  "client": "monitor"\n}', True),
        ("[1]", False),
        ('"{token}"', False),
    ],
)
def test_socketio_auth_admits_what_the_function_accepts(
    template: dict[str, Any], value: str, allowed: bool
) -> None:
    # CloudFormation matches the whole value with a Java regex; this pattern means
    # the same in Python.
    pattern = template["Parameters"]["SocketioAuth"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed
    if allowed:
        from_environ({"SOCKETIO_AUTH": value}, uri="wss://h.example/chat")


def test_socketio_auth_is_refused_under_another_protocol(template: dict[str, Any]) -> None:
    rule = template["Rules"]["SocketioSettingsOnlyWithSocketio"]
    assert json.dumps(rule["RuleCondition"]) == json.dumps(
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "Protocol"}, "socketio"]}]}
    )
    assert rule["Assertions"][0]["Assert"] == {"Fn::Equals": [{"Ref": "SocketioAuth"}, ""]}


def test_graphql_connection_params_reach_the_function_only_with_its_protocol(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    variables = cfn["Resources"][FUNCTION_ID]["Properties"]["Environment"]["Variables"]
    assert variables["GRAPHQL_CONNECTION_PARAMS"] == {"Ref": "GraphqlConnectionParams"}
    rule = template["Rules"]["GraphqlSettingsOnlyWithGraphql"]
    assert json.dumps(rule["RuleCondition"]) == json.dumps(
        {"Fn::Not": [{"Fn::Equals": [{"Ref": "Protocol"}, "graphql-transport-ws"]}]}
    )
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Equals": [{"Ref": "GraphqlConnectionParams"}, ""]
    }
