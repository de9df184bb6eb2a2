"""Offline checks of the template's credential parameters: every AUTH_MODE deploys clean.

Each configuration (every mode, with and without a client-certificate secret, a
customer-managed key and the secrets extension layer) is expanded by SAM's translator
with its parameter values, then what CloudFormation would resolve from those values is
evaluated (rules, conditions, the role's statements, the function's environment) and
checked: ``GetSecretValue`` on exactly the configured secrets, ``execute-api:Invoke`` on
the ``$connect`` route in ``sigv4`` mode only, and an environment the function's own
configuration loader accepts. cfn-lint checks each mode's values against the parameter
constraints. The rules are checked against the function: a combination the function
refuses as ``config_error`` is one a rule refuses at deploy time, and the other way round.
"""

from __future__ import annotations

import functools
import itertools
import json
import re
import shlex
import tomllib
from typing import Any

import pytest

from local_stack.runtime.invoker import load_function
from ws_exchange.config import load_config
from ws_exchange.credentials import MODE_VARIABLE_DEFAULTS, MODE_VARIABLES, MODES
from ws_exchange.errors import ConfigError

from ._cfn import (
    SAMCONFIG_PATH,
    TEMPLATE_PATH,
    evaluate,
    evaluate_conditions,
    failed_rules,
    load_template,
    parameter_values,
    sam_transform,
)

FUNCTION_ID = "ExchangeFunction"

TOKEN_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ws-exchange/token-AbCdEf"
CERT_SECRET = "arn:aws:secretsmanager:us-east-1:123456789012:secret:ws-exchange/cert-XyZ123"
KMS_KEY = "arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
LAYER = (
    "arn:aws:lambda:us-east-1:177933569100:layer:"
    "AWS-Parameters-and-Secrets-Lambda-Extension-Arm64:12"
)
API_URI = "wss://a1b2c3d4e5.execute-api.eu-west-1.amazonaws.com/prod"
API_CONNECT_ROUTE = "arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/$connect"

# A realistic deployment of each mode: its required settings and some optional ones.
MODE_PARAMETERS: dict[str, dict[str, str]] = {
    "bearer": {"TokenSecretArn": TOKEN_SECRET, "AuthScheme": "Token"},
    "header": {
        "TokenSecretArn": TOKEN_SECRET,
        "AuthHeader": "X-API-Key",
        "HandshakeHeaders": '{"Origin": "https://app.example.com"}',
    },
    "basic": {"TokenSecretArn": TOKEN_SECRET},
    "query": {"TokenSecretArn": TOKEN_SECRET, "AuthQueryParam": "apikey"},
    "subprotocol": {
        "TokenSecretArn": TOKEN_SECRET,
        "AuthSubprotocolPrefix": "base64url.bearer.authorization.k8s.io.",
        "AuthSubprotocolEncoding": "base64url",
        "Subprotocols": "v4.channel.k8s.io, channel.k8s.io",
    },
    "oauth2_client_credentials": {
        "TokenSecretArn": TOKEN_SECRET,
        "OAuth2TokenUrl": "https://auth.example.com/oauth2/token",
        "OAuth2Scope": "stream:read stream:write",
        "OAuth2Audience": "https://stream.example.com",
        "OAuth2ClientAuth": "client_secret_post",
    },
    "sigv4": {
        "TokenSecretArn": "",
        "WebSocketUri": API_URI,
        "ExecuteApiConnectArn": API_CONNECT_ROUTE,
    },
    "message": {
        "TokenSecretArn": TOKEN_SECRET,
        "AuthMessage": '{"type": "auth", "access_token": "{token}"}',
        "AuthSuccess": "type == 'auth_ok'",
        "AuthFailure": "type == 'auth_invalid'",
        "TokenSecretField": "access_token",
    },
    "cookie": {"TokenSecretArn": TOKEN_SECRET, "AuthCookie": "session_id"},
    "none": {"TokenSecretArn": ""},
}
SECRET_MODES = {mode for mode in MODES if mode not in ("sigv4", "none")}

# The function's variable each credential parameter feeds.
VARIABLE_OF = {
    "AuthMode": "AUTH_MODE",
    "TokenSecretArn": "TOKEN_SECRET_ID",
    "TokenSecretField": "TOKEN_SECRET_FIELD",
    "ClientCertSecretArn": "CLIENT_CERT_SECRET_ID",
    "CaBundle": "CA_BUNDLE",
    "AuthScheme": "AUTH_SCHEME",
    "AuthHeader": "AUTH_HEADER",
    "AuthCookie": "AUTH_COOKIE",
    "AuthQueryParam": "AUTH_QUERY_PARAM",
    "AuthSubprotocolPrefix": "AUTH_SUBPROTOCOL_PREFIX",
    "AuthSubprotocolEncoding": "AUTH_SUBPROTOCOL_ENCODING",
    "OAuth2TokenUrl": "OAUTH2_TOKEN_URL",
    "OAuth2Scope": "OAUTH2_SCOPE",
    "OAuth2Audience": "OAUTH2_AUDIENCE",
    "OAuth2ClientAuth": "OAUTH2_CLIENT_AUTH",
    "AuthMessage": "AUTH_MESSAGE",
    "AuthSuccess": "AUTH_SUCCESS",
    "AuthFailure": "AUTH_FAILURE",
    "Sigv4Service": "SIGV4_SERVICE",
    "Sigv4Region": "SIGV4_REGION",
    "HandshakeHeaders": "HANDSHAKE_HEADERS",
    "Subprotocols": "SUBPROTOCOLS",
}
PARAMETER_OF = {variable: parameter for parameter, variable in VARIABLE_OF.items()}
# Documented defaults that are not "unset" (the others default to "").
DOCUMENTED_DEFAULTS = {**MODE_VARIABLE_DEFAULTS, "AUTH_MODE": "bearer", "HANDSHAKE_HEADERS": "{}"}


def _configuration_id(mode: str, cert: bool, kms: bool, layer: bool) -> str:
    extras = [name for name, on in (("cert", cert), ("kms", kms), ("layer", layer)) if on]
    return "-".join([mode, *extras]) if extras else mode


CONFIGURATIONS = {
    _configuration_id(mode, cert, kms, layer): (mode, cert, kms, layer)
    for mode, cert, kms, layer in itertools.product(MODES, *[(False, True)] * 3)
}


def configuration_parameters(mode: str, cert: bool, kms: bool, layer: bool) -> dict[str, str]:
    return {
        "AuthMode": mode,
        **MODE_PARAMETERS[mode],
        **({"ClientCertSecretArn": CERT_SECRET} if cert else {}),
        **({"SecretKmsKeyArn": KMS_KEY} if kms else {}),
        **({"SecretsExtensionLayerArn": LAYER} if layer else {}),
    }


@functools.cache
def _template() -> dict[str, Any]:
    return load_template()


@functools.cache
def _transformed(configuration: str) -> dict[str, Any]:
    return sam_transform(_template(), configuration_parameters(*CONFIGURATIONS[configuration]))


class Deployed:
    """One configuration as CloudFormation would deploy it: values and conditions resolved."""

    def __init__(self, configuration: str) -> None:
        self.mode, self.cert, self.kms, self.layer = CONFIGURATIONS[configuration]
        self.values = parameter_values(
            _template(), configuration_parameters(*CONFIGURATIONS[configuration])
        )
        cfn = _transformed(configuration)
        self.conditions = evaluate_conditions(cfn, self.values)
        function = cfn["Resources"][FUNCTION_ID]["Properties"]
        self.function = evaluate(function, self.values, self.conditions)
        role = cfn["Resources"][function["Role"]["Fn::GetAtt"][0]]["Properties"]
        policies = evaluate(role.get("Policies", []), self.values, self.conditions)
        self.statements = [s for p in policies for s in p["PolicyDocument"]["Statement"]]

    def grants(self, action: str) -> list[str]:
        """The resources of every statement allowing ``action``, one entry per statement."""
        found = []
        for statement in self.statements:
            assert statement["Effect"] == "Allow" and "NotResource" not in statement
            if action in _actions(statement):
                resource = statement["Resource"]
                found.extend(resource if isinstance(resource, list) else [resource])
        return found


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return actions if isinstance(actions, list) else [actions]


@pytest.fixture(params=sorted(CONFIGURATIONS))
def deployed(request: pytest.FixtureRequest) -> Deployed:
    return Deployed(request.param)


def _loaded(environment: dict[str, Any]) -> Any:
    assert all(isinstance(value, str) for value in environment.values()), environment
    return load_config(environment)


# --------------------------------------------------------------------------- every configuration


def test_every_configuration_passes_the_rules_and_sams_translator(deployed: Deployed) -> None:
    # The transform ran in Deployed; the rules are CloudFormation's first check.
    assert failed_rules(_template(), deployed.values) == []
    assert deployed.function["Runtime"] == "python3.13"


def test_get_secret_value_is_granted_on_exactly_the_configured_secrets(deployed: Deployed) -> None:
    expected = []
    if deployed.mode in SECRET_MODES:
        expected.append(TOKEN_SECRET)
    if deployed.cert:
        expected.append(CERT_SECRET)
    assert deployed.grants("secretsmanager:GetSecretValue") == expected
    other = [
        action
        for statement in deployed.statements
        for action in _actions(statement)
        if action.startswith("secretsmanager:") and action != "secretsmanager:GetSecretValue"
    ]
    assert other == []


def test_execute_api_invoke_is_granted_in_sigv4_mode_only_on_connect(deployed: Deployed) -> None:
    if deployed.mode == "sigv4":
        assert deployed.grants("execute-api:Invoke") == [API_CONNECT_ROUTE]
        assert [a for s in deployed.statements for a in _actions(s) if "execute-api" in a] == [
            "execute-api:Invoke"
        ]
    else:
        assert "execute-api" not in json.dumps(deployed.statements)


def test_kms_decrypt_is_granted_only_with_a_customer_managed_key_and_a_secret_to_read(
    deployed: Deployed,
) -> None:
    reads_a_secret = deployed.mode in SECRET_MODES or deployed.cert
    expected = [KMS_KEY] if deployed.kms and reads_a_secret else []
    assert deployed.grants("kms:Decrypt") == expected


def test_the_environment_carries_the_parameters_and_the_function_accepts_it(
    deployed: Deployed,
) -> None:
    environment = deployed.function["Environment"]["Variables"]
    for parameter, variable in VARIABLE_OF.items():
        assert environment[variable] == deployed.values[parameter], variable
    config = _loaded(environment)
    assert type(config.mode).__module__ == f"ws_exchange.credentials.{MODES[deployed.mode]}"
    expected_secret = TOKEN_SECRET if deployed.mode in SECRET_MODES else None
    assert config.token_secret_id == expected_secret
    assert config.client_cert_secret_id == (CERT_SECRET if deployed.cert else None)


def test_the_extension_layer_and_source_come_only_with_the_layer_parameter(
    deployed: Deployed,
) -> None:
    environment = deployed.function["Environment"]["Variables"]
    if deployed.layer:
        assert deployed.function["Layers"] == [LAYER]
        assert environment["SECRETS_SOURCE"] == "extension"
    else:
        assert "Layers" not in deployed.function
        assert environment["SECRETS_SOURCE"] == "sdk"
    # The function's cache is the only one, so a refresh after a 401/403 reaches the service.
    assert environment["PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED"] == "false"
    assert _loaded(environment).secrets_source == environment["SECRETS_SOURCE"]


# --------------------------------------------------------------------------- cfn-lint


def _lint(template: dict[str, Any], values: dict[str, Any]) -> list[str]:
    """cfn-lint's findings on ``template`` deployed with ``values`` (set as the defaults,
    so that cfn-lint checks them against the constraints and resolves with them)."""
    from cfnlint.api import lint
    from cfnlint.config import ManualArgs

    document = json.loads(json.dumps(template))
    for name, spec in document["Parameters"].items():
        spec["Default"] = values[name]
    matches = lint(json.dumps(document), config=ManualArgs(regions=["us-east-1"]))
    return [
        str(match)
        for match in matches
        # Resolved by SAM's transform itself: unused in its output (as in test_template.py).
        if not (match.rule.id == "W2001" and "TracingMode" in str(match))
    ]


# Each mode once, the extras varied so that every combination of them is linted too.
LINTED = [
    _configuration_id(mode, bool(i & 1), bool(i & 2), bool(i & 4)) for i, mode in enumerate(MODES)
]


@pytest.mark.parametrize("configuration", LINTED)
def test_cfn_lint_is_clean_for_each_mode(configuration: str) -> None:
    """The expanded template (full resource schemas, IAM policy grammar included), with the
    mode's values as the parameters' defaults: checked against the constraints too."""
    values = parameter_values(_template(), configuration_parameters(*CONFIGURATIONS[configuration]))
    assert _lint(_transformed(configuration), values) == []


def test_cfn_lint_sees_a_value_outside_the_constraints() -> None:
    """The check above is live: a value the parameter forbids is reported."""
    values = parameter_values(_template(), {"AuthScheme": "Bearer token"})
    assert any("E2015" in finding for finding in _lint(_transformed("bearer"), values))


def test_the_linted_configurations_cover_every_mode_and_every_extras_combination() -> None:
    assert {CONFIGURATIONS[c][0] for c in LINTED} == set(MODES)
    assert {CONFIGURATIONS[c][1:] for c in LINTED} == set(itertools.product(*[(False, True)] * 3))


# --------------------------------------------------------------------------- sigv4 grant


def _connect_grants(overrides: dict[str, str]) -> list[Any]:
    values = parameter_values(_template(), overrides)
    cfn = _transformed("sigv4")
    conditions = evaluate_conditions(cfn, values)
    role_id = cfn["Resources"][FUNCTION_ID]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = evaluate(cfn["Resources"][role_id]["Properties"]["Policies"], values, conditions)
    return [
        s["Resource"]
        for p in policies
        for s in p["PolicyDocument"]["Statement"]
        if s["Action"] == "execute-api:Invoke"
    ]


def test_the_connect_arn_is_the_grant_for_a_custom_domain() -> None:
    route = "arn:aws:execute-api:us-east-1:123456789012:zz99yy88xx/live/$connect"
    overrides = {
        "AuthMode": "sigv4",
        "TokenSecretArn": "",
        "WebSocketUri": "wss://ws.example.com/live",
        "Sigv4Region": "us-east-1",
        "ExecuteApiConnectArn": route,
    }
    assert failed_rules(_template(), parameter_values(_template(), overrides)) == []
    assert _connect_grants(overrides) == [route]


@pytest.mark.parametrize(
    "uri",
    [
        # A custom domain name: nothing in it names the API, its region or its stage.
        "wss://ws.example.com/prod",
        "wss://ws.example.com",
        # The API's own URL too: a rule cannot read the URI, so it cannot tell the two apart.
        API_URI,
    ],
)
def test_sigv4_without_the_connect_arn_is_refused_by_a_rule(uri: str) -> None:
    values = parameter_values(
        _template(), {"AuthMode": "sigv4", "TokenSecretArn": "", "WebSocketUri": uri}
    )
    refused = failed_rules(_template(), values)
    assert len(refused) == 1, refused
    assert "ExecuteApiConnectArn is required with AuthMode sigv4" in refused[0]
    assert "$connect" in refused[0]


def test_the_grant_is_never_derived_from_the_uri() -> None:
    # With a custom domain, a grant derived from the host named the API "ws" in region
    # "com": a wrong grant that deployed. Only the parameter's value is ever granted.
    grants = _connect_grants(
        {
            "AuthMode": "sigv4",
            "WebSocketUri": "wss://ws.example.com/prod",
            "ExecuteApiConnectArn": API_CONNECT_ROUTE,
        }
    )
    assert grants == [API_CONNECT_ROUTE]
    cfn = _transformed("sigv4")
    role_id = cfn["Resources"][FUNCTION_ID]["Properties"]["Role"]["Fn::GetAtt"][0]
    assert "WebSocketUri" not in json.dumps(cfn["Resources"][role_id]["Properties"]["Policies"])


def test_no_connect_grant_outside_sigv4_mode() -> None:
    assert _connect_grants({"WebSocketUri": "wss://stream.example.com"}) == []


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("", True),
        (API_CONNECT_ROUTE, True),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/*", False),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/*/$connect", False),
        ("arn:aws:execute-api:eu-west-1:123456789012:a1b2c3d4e5/prod/$default", False),
    ],
)
def test_the_connect_arn_parameter_admits_one_connect_route_only(value: str, allowed: bool) -> None:
    pattern = _template()["Parameters"]["ExecuteApiConnectArn"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


# --------------------------------------------------------------------------- sigv4 / none secrets


@pytest.mark.parametrize("mode", ["sigv4", "none"])
def test_a_token_secret_left_set_is_neither_required_nor_granted_in_modes_without_one(
    mode: str,
) -> None:
    values = parameter_values(
        _template(), {**MODE_PARAMETERS[mode], "AuthMode": mode, "TokenSecretArn": TOKEN_SECRET}
    )
    assert failed_rules(_template(), values) == []
    cfn = _transformed(mode)
    conditions = evaluate_conditions(cfn, values)
    assert conditions["HasTokenSecret"] is False
    role_id = cfn["Resources"][FUNCTION_ID]["Properties"]["Role"]["Fn::GetAtt"][0]
    policies = evaluate(cfn["Resources"][role_id]["Properties"]["Policies"], values, conditions)
    assert "secretsmanager" not in json.dumps(policies)


# --------------------------------------------------------------------------- rules = the function


# A value other than the default for each mode setting, valid in its own mode.
SAMPLE_VALUES = {
    "AuthScheme": "Token",
    "AuthHeader": "X-API-Key",
    "AuthQueryParam": "key",
    "AuthSubprotocolPrefix": "token.",
    "AuthSubprotocolEncoding": "base64url",
    "OAuth2TokenUrl": "https://auth.example.com/token",
    "OAuth2Scope": "read",
    "OAuth2Audience": "stream",
    "OAuth2ClientAuth": "client_secret_post",
    "AuthCookie": "sid",
    "AuthMessage": '{"auth": "{token}"}',
    "AuthSuccess": "ok",
    "AuthFailure": "error",
    "Sigv4Service": "appsync",
    "Sigv4Region": "eu-west-1",
    "TokenSecretField": "api_key",
}


def _environment(values: dict[str, Any]) -> dict[str, Any]:
    cfn = _transformed("bearer")
    conditions = evaluate_conditions(cfn, values)
    function = cfn["Resources"][FUNCTION_ID]["Properties"]
    environment: dict[str, Any] = evaluate(function["Environment"]["Variables"], values, conditions)
    return environment


def test_every_mode_variable_of_the_function_has_a_parameter_with_a_sample() -> None:
    assert set(MODE_VARIABLES) <= set(PARAMETER_OF)
    assert {PARAMETER_OF[variable] for variable in MODE_VARIABLES} == set(SAMPLE_VALUES)


@pytest.mark.parametrize(
    ("mode", "variable"),
    [(mode, variable) for variable in MODE_VARIABLES for mode in MODES],
)
def test_a_setting_is_refused_by_a_rule_exactly_where_the_function_refuses_it(
    mode: str, variable: str
) -> None:
    parameter = PARAMETER_OF[variable]
    values = parameter_values(
        _template(),
        {**MODE_PARAMETERS[mode], "AuthMode": mode, parameter: SAMPLE_VALUES[parameter]},
    )
    refused = failed_rules(_template(), values)
    if mode in MODE_VARIABLES[variable]:
        assert refused == []
        _loaded(_environment(values))
    else:
        assert len(refused) == 1 and parameter in refused[0], refused
        with pytest.raises(ConfigError, match=variable):
            _loaded(_environment(values))


REQUIRED_SETTINGS = [
    ("header", "AuthHeader"),
    ("cookie", "AuthCookie"),
    ("subprotocol", "AuthSubprotocolPrefix"),
    ("oauth2_client_credentials", "OAuth2TokenUrl"),
    ("message", "AuthMessage"),
    *[(mode, "TokenSecretArn") for mode in sorted(SECRET_MODES)],
]


@pytest.mark.parametrize(("mode", "parameter"), REQUIRED_SETTINGS)
def test_a_required_setting_left_empty_is_refused_by_a_rule_and_by_the_function(
    mode: str, parameter: str
) -> None:
    values = parameter_values(
        _template(), {**MODE_PARAMETERS[mode], "AuthMode": mode, parameter: ""}
    )
    refused = failed_rules(_template(), values)
    assert len(refused) == 1 and parameter in refused[0], refused
    with pytest.raises(ConfigError, match=VARIABLE_OF[parameter]):
        _loaded(_environment(values))


def test_the_connect_arn_is_refused_outside_sigv4_mode() -> None:
    values = parameter_values(_template(), {"ExecuteApiConnectArn": API_CONNECT_ROUTE})
    refused = failed_rules(_template(), values)
    assert len(refused) == 1 and "ExecuteApiConnectArn" in refused[0], refused


# --------------------------------------------------------------------------- parameters


def test_each_credential_variable_is_a_ref_to_its_parameter_with_the_documented_default() -> None:
    template = _template()
    variables = template["Resources"][FUNCTION_ID]["Properties"]["Environment"]["Variables"]
    for parameter, variable in VARIABLE_OF.items():
        assert variables[variable] == {"Ref": parameter}, variable
        default = template["Parameters"][parameter]["Default"]
        assert default == DOCUMENTED_DEFAULTS.get(variable, ""), parameter


def test_auth_mode_offers_exactly_the_functions_modes() -> None:
    parameter = _template()["Parameters"]["AuthMode"]
    assert parameter["AllowedValues"] == list(MODES)
    assert parameter["Default"] == "bearer"


def test_every_parameter_is_described_and_in_exactly_one_group() -> None:
    template = _template()
    groups = template["Metadata"]["AWS::CloudFormation::Interface"]["ParameterGroups"]
    grouped = [name for group in groups for name in group["Parameters"]]
    assert sorted(grouped) == sorted(template["Parameters"])
    for name, spec in template["Parameters"].items():
        assert spec.get("Description", "").strip(), name


@pytest.mark.parametrize(
    ("parameter", "value", "allowed"),
    [
        ("TokenSecretArn", "", True),
        ("TokenSecretArn", TOKEN_SECRET, True),
        ("TokenSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:token", False),
        ("TokenSecretArn", "arn:aws:secretsmanager:us-east-1:123456789012:secret:*", False),
        ("ClientCertSecretArn", "", True),
        ("ClientCertSecretArn", CERT_SECRET, True),
        ("ClientCertSecretArn", "websocket-exchange/cert", False),
        ("CaBundle", "", True),
        ("CaBundle", "certs/ca.pem", True),
        ("CaBundle", "certs/private-ca_2.crt", True),
        ("CaBundle", "/etc/ssl/cert.pem", False),
        ("CaBundle", "../ca.pem", False),
        ("CaBundle", "certs/../../ca.pem", False),
        ("CaBundle", "certs/my ca.pem", False),
        ("AuthScheme", "Bearer", True),
        ("AuthScheme", "Bearer token", False),
        ("AuthScheme", "", False),
        ("AuthHeader", "X-API-Key", True),
        ("AuthHeader", "X API Key", False),
        ("AuthCookie", "", True),
        ("AuthCookie", "session_id", True),
        ("AuthCookie", "session id", False),
        ("AuthCookie", "a=b", False),
        ("AuthQueryParam", "access_token", True),
        ("AuthQueryParam", "access token", False),
        ("AuthSubprotocolPrefix", "base64url.bearer.authorization.k8s.io.", True),
        ("AuthSubprotocolPrefix", "a,b", False),
        ("OAuth2TokenUrl", "https://auth.example.com/oauth2/token", True),
        ("OAuth2TokenUrl", "http://auth.example.com/oauth2/token", False),
        ("OAuth2Scope", "read write openid", True),
        ("OAuth2Scope", 'read "write"', False),
        ("OAuth2Scope", "read\\write", False),
        ("OAuth2Audience", "https://api.example.com", True),
        ("OAuth2Audience", "caf\u00e9", False),
        ("Sigv4Service", "execute-api", True),
        ("Sigv4Service", "Execute API", False),
        ("Sigv4Region", "", True),
        ("Sigv4Region", "eu-west-1", True),
        ("Sigv4Region", "EU West", False),
        ("HandshakeHeaders", "{}", True),
        ("HandshakeHeaders", '{"Origin": "https://app.example.com"}', True),
        ("HandshakeHeaders", '["Origin"]', False),
        ("Subprotocols", "", True),
        ("Subprotocols", "graphql-transport-ws", True),
        ("Subprotocols", "v4.channel.k8s.io, channel.k8s.io", True),
        ("Subprotocols", "a,,b", False),
        ("Subprotocols", "a b", False),
    ],
)
def test_parameter_patterns(parameter: str, value: str, allowed: bool) -> None:
    # CloudFormation matches the whole value with a Java regex; these patterns mean
    # the same in Python.
    pattern = _template()["Parameters"][parameter]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


# --------------------------------------------------------------------------- local invoker


def test_the_local_invoker_resolves_the_credential_parameters() -> None:
    spec = load_function(TEMPLATE_PATH)
    for parameter, variable in VARIABLE_OF.items():
        default = _template()["Parameters"][parameter]["Default"]
        assert spec.environment[variable] == default, variable

    overrides = {"AuthMode": "sigv4", "Sigv4Region": "eu-west-1", "TokenSecretArn": ""}
    spec = load_function(TEMPLATE_PATH, parameter_overrides=overrides)
    assert spec.environment["AUTH_MODE"] == "sigv4"
    assert spec.environment["SIGV4_REGION"] == "eu-west-1"
    assert spec.environment["TOKEN_SECRET_ID"] == ""


# --------------------------------------------------------------------------- samconfig examples


def _commented_overrides() -> list[dict[str, str]]:
    """The commented ``parameter_overrides`` examples in samconfig.toml, parsed."""
    examples = []
    for line in SAMCONFIG_PATH.read_text(encoding="utf-8").splitlines():
        if line.startswith("# parameter_overrides = "):
            value = tomllib.loads(line.removeprefix("# "))["parameter_overrides"]
            examples.append(dict(word.split("=", 1) for word in shlex.split(value)))
    return examples


def test_the_commented_samconfig_examples_name_real_parameters_and_pass_the_rules() -> None:
    examples = _commented_overrides()
    assert {example["AuthMode"] for example in examples} == {"sigv4", "oauth2_client_credentials"}
    for example in examples:
        assert set(example) <= set(_template()["Parameters"]), example
        # Not the bearer default's token secret: each example stands on its own.
        values = parameter_values(_template(), {"TokenSecretArn": "", **example})
        assert failed_rules(_template(), values) == [], example


# --------------------------------------------------------------------------- CA bundle


def test_the_ca_bundle_parameter_reaches_the_function_which_checks_the_file() -> None:
    values = parameter_values(_template(), {"CaBundle": "certs/no-such-ca.pem"})
    environment = _environment(values)
    assert environment["CA_BUNDLE"] == "certs/no-such-ca.pem"
    with pytest.raises(ConfigError, match="CA_BUNDLE"):
        _loaded(environment)


# --------------------------------------------------------------------------- API authorization


def test_a_jwt_audience_without_an_issuer_is_refused_by_a_rule() -> None:
    # Without an issuer the route stays IAM-authorized: the audience would do nothing.
    values = parameter_values(_template(), {"JwtAudience": "my-client-id"})
    refused = failed_rules(_template(), values)
    assert len(refused) == 1 and "JwtAudience" in refused[0] and "JwtIssuer" in refused[0]


def test_a_jwt_issuer_and_audience_together_pass_the_rules() -> None:
    values = parameter_values(
        _template(), {"JwtIssuer": "https://auth.example.com/", "JwtAudience": "my-client-id"}
    )
    assert failed_rules(_template(), values) == []
