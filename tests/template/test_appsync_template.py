"""Offline checks of the template's AppSync Events parameters: each APPSYNC_AUTH deploys
clean, reads a secret only where it uses one, is granted the Event API's actions only
with ``iam``, and hands the function an environment it accepts; the rules refuse what
the function would refuse."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from ws_exchange.config import load_config
from ws_exchange.protocols.appsync_auth import IamAuth, SecretAuth
from ws_exchange.protocols.appsync_events import AppSyncEvents

from ._cfn import (
    evaluate,
    evaluate_conditions,
    failed_rules,
    load_template,
    parameter_values,
    sam_transform,
)
from .test_credentials_template import FUNCTION_ID, TOKEN_SECRET, _lint

REALTIME_URI = (
    "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime"
)
API_ARN = "arn:aws:appsync:eu-west-1:123456789012:apis/abcdefghijklmnopqrstuvwxyz"

DEPLOYMENTS: dict[str, dict[str, str]] = {
    "api_key": {"TokenSecretArn": TOKEN_SECRET},
    "default": {"TokenSecretArn": TOKEN_SECRET, "AppsyncAuth": ""},
    "token": {"TokenSecretArn": TOKEN_SECRET, "AppsyncAuth": "token", "TokenSecretField": "jwt"},
    "iam": {"AppsyncAuth": "iam", "AppsyncApiArn": API_ARN},
    "iam-custom-domain": {
        "AppsyncAuth": "iam",
        "AppsyncApiArn": API_ARN,
        "AppsyncHttpHost": "events.example.com",
        "Sigv4Region": "eu-west-1",
        "WebSocketUri": "wss://events.example.com/event/realtime",
    },
}


def deployment_parameters(name: str) -> dict[str, str]:
    parameters = {"Protocol": "appsync-events", "WebSocketUri": REALTIME_URI}
    if name == "api_key":
        parameters["AppsyncAuth"] = "api_key"
    return {**parameters, **DEPLOYMENTS[name]}


@functools.cache
def _template() -> dict[str, Any]:
    return load_template()


@functools.cache
def _transformed(name: str) -> dict[str, Any]:
    return sam_transform(_template(), deployment_parameters(name))


class Deployed:
    def __init__(self, name: str) -> None:
        self.name = name
        self.values = parameter_values(_template(), deployment_parameters(name))
        cfn = _transformed(name)
        conditions = evaluate_conditions(cfn, self.values)
        function = cfn["Resources"][FUNCTION_ID]["Properties"]
        self.function = evaluate(function, self.values, conditions)
        role = cfn["Resources"][function["Role"]["Fn::GetAtt"][0]]["Properties"]
        policies = evaluate(role.get("Policies", []), self.values, conditions)
        self.statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]

    @property
    def is_iam(self) -> bool:
        return self.name.startswith("iam")

    def grants(self, prefix: str) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for statement in self.statements:
            actions = statement["Action"]
            for action in actions if isinstance(actions, list) else [actions]:
                if action.startswith(prefix):
                    resource = statement["Resource"]
                    found.setdefault(action, []).extend(
                        resource if isinstance(resource, list) else [resource]
                    )
        return found


@pytest.fixture(params=sorted(DEPLOYMENTS))
def deployed(request: pytest.FixtureRequest) -> Deployed:
    return Deployed(request.param)


def test_every_appsync_deployment_passes_the_rules(deployed: Deployed) -> None:
    assert failed_rules(_template(), deployed.values) == []


def test_the_secret_is_granted_only_where_it_is_read(deployed: Deployed) -> None:
    expected = {} if deployed.is_iam else {"secretsmanager:GetSecretValue": [TOKEN_SECRET]}
    assert deployed.grants("secretsmanager:") == expected


def test_the_event_api_is_granted_only_with_iam_and_only_on_its_arn(deployed: Deployed) -> None:
    namespaces = f"{API_ARN}/channelNamespace/*"
    expected = (
        {
            "appsync:EventConnect": [API_ARN],
            "appsync:EventSubscribe": [namespaces],
            "appsync:EventPublish": [namespaces],
        }
        if deployed.is_iam
        else {}
    )
    assert deployed.grants("appsync:") == expected
    assert deployed.grants("execute-api:") == {}


def test_the_function_accepts_the_environment(deployed: Deployed) -> None:
    environment = deployed.function["Environment"]["Variables"]
    config = load_config({**environment, "AWS_REGION": "us-east-1"})
    assert isinstance(config.preset, AppSyncEvents)
    assert isinstance(config.mode, IamAuth if deployed.is_iam else SecretAuth)
    assert config.token_secret_id == (None if deployed.is_iam else TOKEN_SECRET)


def test_a_raw_deployment_passes_no_appsync_setting() -> None:
    values = parameter_values(_template(), {"TokenSecretArn": TOKEN_SECRET})
    cfn = sam_transform(_template(), {"TokenSecretArn": TOKEN_SECRET})
    function = evaluate(
        cfn["Resources"][FUNCTION_ID]["Properties"], values, evaluate_conditions(cfn, values)
    )
    environment = function["Environment"]["Variables"]
    assert environment["PROTOCOL"] == "raw"
    assert environment["APPSYNC_AUTH"] == environment["APPSYNC_HTTP_HOST"] == ""
    assert load_config(environment).preset is None


@pytest.mark.parametrize(
    ("overrides", "words"),
    [
        ({"AppsyncAuth": "iam"}, "AppsyncApiArn is required"),
        ({"AppsyncAuth": "token", "TokenSecretArn": ""}, "TokenSecretArn is required"),
        ({"AppsyncAuth": "api_key", "TokenSecretArn": ""}, "TokenSecretArn is required"),
        (
            {"TokenSecretArn": TOKEN_SECRET, "AppsyncApiArn": API_ARN},
            "AppsyncApiArn applies only",
        ),
        ({"TokenSecretArn": TOKEN_SECRET, "AuthMode": "header", "AuthHeader": "x"}, "AuthMode"),
        ({"TokenSecretArn": TOKEN_SECRET, "AuthScheme": "Token"}, "AuthScheme"),
        ({"TokenSecretArn": TOKEN_SECRET, "Sigv4Region": "eu-west-1"}, "Sigv4Region"),
        ({"Protocol": "raw", "TokenSecretArn": TOKEN_SECRET, "AppsyncAuth": "iam"}, "AppsyncAuth"),
        (
            {"Protocol": "raw", "TokenSecretArn": TOKEN_SECRET, "AppsyncHttpHost": "a.b"},
            "AppsyncHttpHost",
        ),
    ],
)
def test_the_rules_refuse_what_the_function_refuses(overrides: dict[str, str], words: str) -> None:
    parameters = {"Protocol": "appsync-events", "WebSocketUri": REALTIME_URI, **overrides}
    failures = failed_rules(_template(), parameter_values(_template(), parameters))
    assert any(words in failure for failure in failures), failures


@pytest.mark.parametrize("name", ["api_key", "iam-custom-domain"])
def test_cfn_lint_is_clean(name: str) -> None:
    values = parameter_values(_template(), deployment_parameters(name))
    assert _lint(_transformed(name), values) == []
