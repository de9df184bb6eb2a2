"""Offline validation of template.yaml and samconfig.toml.

Each test pins one deployment property; removing the property from the template makes
the test fail. Everything runs offline: cfn-lint, aws-sam-translator, no AWS account.
"""

from __future__ import annotations

import importlib
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from ._cfn import (
    NO_VALUE,
    ROOT,
    SAMCONFIG_PATH,
    TEMPLATE_PATH,
    condition_combinations,
    only_resource,
    parameter_default,
    resolve_conditions,
    resources_of_type,
)

FUNCTION_ID = "ExchangeFunction"
HANDLER = "ws_exchange.handler.lambda_handler"

# docs/configuration.md's variables (with the deployed values for the optional ones) plus
# Powertools'.
DOCUMENTED_ENVIRONMENT = {
    "WEBSOCKET_URI": {"Ref": "WebSocketUri"},
    "TOKEN_SECRET_ID": {"Ref": "TokenSecretArn"},
    "TOKEN_SECRET_FIELD": "token",
    "AUTH_SCHEME": "Bearer",
    "OPEN_TIMEOUT_SECONDS": "10",
    "REPLY_TIMEOUT_SECONDS": "10",
    "EXPECTED_REPLIES": "1",
    "MAX_ATTEMPTS": "3",
    "SECRET_MAX_AGE_SECONDS": "300",
    "DEFAULT_MESSAGE": '{"action": "ping"}',
    "TIMESTAMP_FIELD": "timestamp",
    "ALLOW_INSECURE_WEBSOCKET": "false",
    "MAX_MESSAGE_BYTES": "1048576",
    "FAIL_ON_ERROR": "false",
    # The stack's name: two stacks in one account and region never share metrics or alarms.
    "POWERTOOLS_SERVICE_NAME": {"Ref": "AWS::StackName"},
    "TARGETS_FILE": "targets.json",
    "MAX_CONCURRENCY": "8",
    "POWERTOOLS_METRICS_NAMESPACE": "WebSocketExchange",
}

# Fields a direct payload may carry (docs/invocations.md).
DIRECT_PAYLOAD_FIELDS = {
    "target",
    "targets",
    "group",
    "message",
    "messages",
    "expected_replies",
    "reply_timeout_seconds",
    "until",
    "max_replies",
    "collect_seconds",
    "expect",
}

# Resolved by the SAM transform itself (Tracing), so unused in its CloudFormation output.
RESOLVED_BY_SAM = {"TracingMode"}


def run_cfn_lint(path: str) -> subprocess.CompletedProcess[str]:
    """The cfn-lint CLI of this interpreter's environment, as `sam validate --lint` runs it."""
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys; from cfnlint.runner import main; sys.exit(main())",
            path,
        ],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
    )


def function(cfn: dict[str, Any]) -> dict[str, Any]:
    resource = cfn["Resources"][FUNCTION_ID]
    assert resource["Type"] == "AWS::Lambda::Function"
    return resource["Properties"]


def role_statements(cfn: dict[str, Any], conditions: dict[str, bool]) -> list[dict[str, Any]]:
    role_arn = function(cfn)["Role"]
    assert set(role_arn) == {"Fn::GetAtt"}, "the function must use the role SAM generates"
    role = cfn["Resources"][role_arn["Fn::GetAtt"][0]]["Properties"]
    policies = resolve_conditions(role.get("Policies", []), conditions)
    return [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


# --------------------------------------------------------------------------- linters


def test_cfn_lint_reports_no_errors_or_warnings() -> None:
    result = run_cfn_lint(str(TEMPLATE_PATH.relative_to(ROOT)))
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == "", result.stdout


def test_transformed_template_passes_cfn_lint(cfn: dict[str, Any], tmp_path) -> None:
    """cfn-lint checks SAM resources only shallowly; the expanded template gets the full schemas."""
    path = tmp_path / "transformed.json"
    path.write_text(json.dumps(cfn, indent=1), encoding="utf-8")
    result = run_cfn_lint(str(path))
    findings = [
        line
        for line in result.stdout.splitlines()
        if line.strip()
        and not line.startswith(str(path))
        and not any(f"Parameter {name} not used" in line for name in RESOLVED_BY_SAM)
    ]
    assert findings == [], result.stdout + result.stderr


# --------------------------------------------------------------------------- function


def test_function_runtime_architecture_memory_timeout(template: dict, cfn: dict) -> None:
    props = function(cfn)
    assert props["Handler"] == HANDLER
    assert props["Runtime"] == "python3.13"
    assert props["Architectures"] == ["arm64"]
    assert parameter_default(template, props["MemorySize"]) == 128
    assert isinstance(props["Timeout"], int)
    assert props["Timeout"] <= 900


def test_code_uri_is_the_src_directory(template: dict) -> None:
    props = template["Resources"][FUNCTION_ID]["Properties"]
    assert props["CodeUri"] == "src/"
    assert (ROOT / "src" / "requirements.txt").is_file()


def test_every_documented_environment_variable_is_declared(template: dict, cfn: dict) -> None:
    declared = function(cfn)["Environment"]["Variables"]
    assert set(DOCUMENTED_ENVIRONMENT) <= set(declared), set(DOCUMENTED_ENVIRONMENT) - set(declared)
    for name, expected in DOCUMENTED_ENVIRONMENT.items():
        value = declared[name]
        if isinstance(expected, str):
            # Either the literal or a parameter whose default is it; always a string.
            value = parameter_default(template, value)
            assert isinstance(value, str), f"{name} must be a string, got {value!r}"
        assert value == expected, name
    json.loads(parameter_default(template, declared["DEFAULT_MESSAGE"]))


def test_timeout_covers_connection_attempts_and_reply(template: dict, cfn: dict) -> None:
    props = function(cfn)
    env = props["Environment"]["Variables"]
    attempts = int(parameter_default(template, env["MAX_ATTEMPTS"]))
    open_timeout = float(parameter_default(template, env["OPEN_TIMEOUT_SECONDS"]))
    reply_timeout = float(parameter_default(template, env["REPLY_TIMEOUT_SECONDS"]))
    worst_case = attempts * open_timeout + reply_timeout
    # Strictly more: the secret fetch and the backoff between attempts need time too.
    assert props["Timeout"] > worst_case, (props["Timeout"], worst_case)


def test_handler_resolves_to_a_callable_under_src() -> None:
    module_name, _, attribute = HANDLER.rpartition(".")
    module = importlib.import_module(module_name)
    assert module.__file__ is not None
    assert (ROOT / "src").resolve() in Path(module.__file__).resolve().parents
    assert callable(getattr(module, attribute))


def test_logging_config_is_json_with_parameterised_level(template: dict, cfn: dict) -> None:
    logging_config = function(cfn)["LoggingConfig"]
    assert logging_config["LogFormat"] == "JSON"
    assert logging_config["ApplicationLogLevel"] == {"Ref": "LogLevel"}
    assert template["Parameters"]["LogLevel"]["Default"] == "INFO"
    assert logging_config["SystemLogLevel"] == "INFO"


def test_function_log_group_has_retention(cfn: dict) -> None:
    groups = resources_of_type(cfn, "AWS::Logs::LogGroup")
    function_groups = [
        g
        for g in groups.values()
        if g["Properties"].get("LogGroupName") == {"Fn::Sub": f"/aws/lambda/${{{FUNCTION_ID}}}"}
    ]
    assert len(function_groups) == 1
    assert "RetentionInDays" in function_groups[0]["Properties"]


def test_reserved_concurrency_is_optional(template: dict, cfn: dict) -> None:
    reserved = function(cfn)["ReservedConcurrentExecutions"]
    assert reserved == {
        "Fn::If": ["HasReservedConcurrency", {"Ref": "ReservedConcurrency"}, NO_VALUE]
    }
    assert template["Parameters"]["ReservedConcurrency"]["Default"] == ""
    assert cfn["Conditions"]["HasReservedConcurrency"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "ReservedConcurrency"}, ""]}]
    }


# --------------------------------------------------------------------------- IAM


def test_secret_read_is_scoped_to_exactly_the_secret_parameters(cfn: dict) -> None:
    """One statement per secret the configuration reads, on that parameter's ARN alone."""
    for conditions in condition_combinations(cfn):
        statements = role_statements(cfn, conditions)
        secret = [s for s in statements if "secretsmanager" in json.dumps(s["Action"])]
        expected = [
            [{"Ref": parameter}]
            for condition, parameter in (
                ("HasTokenSecret", "TokenSecretArn"),
                ("HasClientCertSecret", "ClientCertSecretArn"),
            )
            if conditions[condition]
        ]
        if conditions["HasTargetsSecretArns"]:
            expected.append([{"Fn::Split": [",", {"Ref": "TargetsSecretArns"}]}])
        if conditions["HasTargetsSecretPrefix"]:
            expected.append([TARGETS_SECRET_PREFIX])
        assert [as_list(s["Resource"]) for s in secret] == expected, (conditions, secret)
        for statement in secret:
            assert statement["Effect"] == "Allow"
            assert as_list(statement["Action"]) == ["secretsmanager:GetSecretValue"]


def test_kms_decrypt_only_with_a_customer_managed_key_and_a_secret(
    template: dict, cfn: dict
) -> None:
    assert template["Parameters"]["SecretKmsKeyArn"]["Default"] == ""
    assert cfn["Conditions"]["HasSecretKmsKey"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "SecretKmsKeyArn"}, ""]}]
    }
    assert cfn["Conditions"]["DecryptsSecretWithKmsKey"] == {
        "Fn::And": [
            {"Condition": "HasSecretKmsKey"},
            {
                "Fn::Or": [
                    {"Condition": "HasTokenSecret"},
                    {"Condition": "HasClientCertSecret"},
                    {"Condition": "HasTargetsSecretArns"},
                    {"Condition": "HasTargetsSecretPrefix"},
                ]
            },
        ]
    }
    for conditions in condition_combinations(cfn):
        kms = [s for s in role_statements(cfn, conditions) if "kms:" in json.dumps(s["Action"])]
        if not conditions["DecryptsSecretWithKmsKey"]:
            assert kms == []
            continue
        assert len(kms) == 1, kms
        assert as_list(kms[0]["Action"]) == ["kms:Decrypt"]
        assert as_list(kms[0]["Resource"]) == [{"Ref": "SecretKmsKeyArn"}]
        via = kms[0]["Condition"]["StringEquals"]["kms:ViaService"]
        assert "secretsmanager." in json.dumps(via)


TARGETS_SECRET_PREFIX = {
    "Fn::Sub": "arn:${AWS::Partition}:secretsmanager:${AWS::Region}:${AWS::AccountId}"
    ":secret:${TargetsSecretPrefix}*"
}


def test_the_targets_secret_prefix_is_never_a_bare_wildcard(template: dict) -> None:
    pattern = re.compile(template["Parameters"]["TargetsSecretPrefix"]["AllowedPattern"])
    assert pattern.fullmatch("")  # no prefix: no statement
    assert pattern.fullmatch("websocket-exchange/")
    for wildcard in ("*", "a*", "ab", "x/*"):
        assert not pattern.fullmatch(wildcard), wildcard
    arns = re.compile(template["Parameters"]["TargetsSecretArns"]["AllowedPattern"])
    assert not arns.fullmatch("arn:aws:secretsmanager:us-east-1:123456789012:secret:*")


def test_role_grants_nothing_else(cfn: dict) -> None:
    """Secret, key, the on-failure queue; managed: basic logging only (X-Ray is tested apart)."""
    allowed = {
        "secretsmanager:GetSecretValue": [
            [{"Ref": "TokenSecretArn"}],
            [{"Ref": "ClientCertSecretArn"}],
            [{"Fn::Split": [",", {"Ref": "TargetsSecretArns"}]}],
            [TARGETS_SECRET_PREFIX],
        ],
        "kms:Decrypt": [[{"Ref": "SecretKmsKeyArn"}]],
        "sqs:SendMessage": [[{"Fn::GetAtt": ["FailureQueue", "Arn"]}]],
        # sigv4 only: the $connect route (tests/template/test_credentials_template.py).
        "execute-api:Invoke": [
            [{"Ref": "ExecuteApiConnectArn"}],
            [{"Fn::Split": [",", {"Ref": "TargetsExecuteApiArns"}]}],
        ],
        # appsync-events with APPSYNC_AUTH iam only (tests/template/test_appsync_template.py).
        "appsync:EventConnect": [[{"Ref": "AppsyncApiArn"}]],
        "appsync:EventSubscribe": [[{"Fn::Sub": "${AppsyncApiArn}/channelNamespace/*"}]],
        "appsync:EventPublish": [[{"Fn::Sub": "${AppsyncApiArn}/channelNamespace/*"}]],
    }
    for conditions in condition_combinations(cfn):
        for statement in role_statements(cfn, conditions):
            assert statement["Effect"] == "Allow"
            assert "NotAction" not in statement and "NotResource" not in statement
            for action in as_list(statement["Action"]):
                assert "*" not in action, statement
                assert action in allowed, statement
                assert as_list(statement["Resource"]) in allowed[action], statement
    role_arn = function(cfn)["Role"]["Fn::GetAtt"][0]
    managed = cfn["Resources"][role_arn]["Properties"].get("ManagedPolicyArns", [])
    assert managed == ["arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"]


def test_xray_only_when_tracing_is_active(template: dict, cfn: dict, transform_with) -> None:
    assert template["Parameters"]["TracingMode"]["Default"] == "Disabled"
    assert "TracingConfig" not in function(cfn)

    traced = transform_with(TracingMode="Active")
    # SAM keeps the reference; CloudFormation resolves it to Active.
    assert function(traced)["TracingConfig"]["Mode"] in ("Active", {"Ref": "TracingMode"})
    role = traced["Resources"][function(traced)["Role"]["Fn::GetAtt"][0]]["Properties"]
    managed = role["ManagedPolicyArns"]
    assert any("xray" in arn.lower() for arn in managed), managed


# --------------------------------------------------------------------------- API


def test_api_has_no_unauthorized_route(cfn: dict) -> None:
    routes = resources_of_type(cfn, "AWS::ApiGatewayV2::Route")
    assert routes, "expected the POST /exchange route"
    for conditions in condition_combinations(cfn):
        for logical_id, route in routes.items():
            props = resolve_conditions(route["Properties"], conditions)
            assert props.get("AuthorizationType") in {"AWS_IAM", "JWT"}, (logical_id, conditions)
            if props["AuthorizationType"] == "JWT":
                assert props["AuthorizerId"] == {"Ref": "JwtAuthorizer"}
    # No other way in: no OpenAPI bodies with their own routes, no REST API, no function URL.
    for api in resources_of_type(cfn, "AWS::ApiGatewayV2::Api").values():
        assert "Body" not in api["Properties"] and "BodyS3Location" not in api["Properties"]
        assert "Target" not in api["Properties"], "quick-create APIs have an unauthorized route"
    assert not resources_of_type(cfn, "AWS::ApiGateway::RestApi")
    assert not resources_of_type(cfn, "AWS::Lambda::Url")


def test_exchange_route_is_post_exchange(cfn: dict) -> None:
    _, route = only_resource(cfn, "AWS::ApiGatewayV2::Route")
    assert route["Properties"]["RouteKey"] == "POST /exchange"
    _, integration = only_resource(cfn, "AWS::ApiGatewayV2::Integration")
    assert integration["Properties"]["IntegrationType"] == "AWS_PROXY"
    uri = integration["Properties"]["IntegrationUri"]["Fn::Sub"]
    assert uri.endswith(f"/functions/${{{FUNCTION_ID}.Arn}}/invocations"), uri
    assert integration["Properties"]["PayloadFormatVersion"] == "2.0"


def test_jwt_replaces_iam_only_when_an_issuer_is_given(template: dict, cfn: dict) -> None:
    assert template["Parameters"]["JwtIssuer"]["Default"] == ""
    assert cfn["Conditions"]["UseJwt"] == {"Fn::Not": [{"Fn::Equals": [{"Ref": "JwtIssuer"}, ""]}]}
    _, authorizer = only_resource(cfn, "AWS::ApiGatewayV2::Authorizer")
    assert authorizer["Condition"] == "UseJwt"
    assert authorizer["Properties"]["AuthorizerType"] == "JWT"
    assert authorizer["Properties"]["JwtConfiguration"] == {
        "Issuer": {"Ref": "JwtIssuer"},
        "Audience": [{"Ref": "JwtAudience"}],
    }
    _, route = only_resource(cfn, "AWS::ApiGatewayV2::Route")
    iam = resolve_conditions(route["Properties"], {"UseJwt": False})
    assert iam["AuthorizationType"] == "AWS_IAM" and "AuthorizerId" not in iam


# Functions CloudFormation accepts inside Rules (cfn-lint does not check this).
RULE_FUNCTIONS = {
    "Fn::And", "Fn::Contains", "Fn::EachMemberEquals", "Fn::EachMemberIn", "Fn::Equals",
    "Fn::If", "Fn::Not", "Fn::Or", "Fn::RefAll", "Fn::ValueOf", "Fn::ValueOfAll", "Ref",
}  # fmt: skip


def _functions_used(value: Any) -> set[str]:
    if isinstance(value, dict):
        found = {k for k in value if k == "Ref" or k.startswith("Fn::")}
        return found.union(*(_functions_used(v) for v in value.values()))
    if isinstance(value, list):
        return set().union(*(_functions_used(v) for v in value))
    return set()


def test_jwt_issuer_requires_an_audience(cfn: dict) -> None:
    rule = cfn["Rules"]["JwtNeedsAudience"]
    assert rule["RuleCondition"] == cfn["Conditions"]["UseJwt"]
    assert rule["Assertions"][0]["Assert"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "JwtAudience"}, ""]}]
    }
    for rule in cfn["Rules"].values():
        assert _functions_used(rule) <= RULE_FUNCTIONS, _functions_used(rule) - RULE_FUNCTIONS


def test_only_the_exchange_route_may_invoke_the_function(cfn: dict) -> None:
    permissions = [
        p["Properties"]
        for p in resources_of_type(cfn, "AWS::Lambda::Permission").values()
        if p["Properties"]["Principal"] == "apigateway.amazonaws.com"
    ]
    assert len(permissions) == 1
    source_arn = permissions[0]["SourceArn"]["Fn::Sub"]
    assert source_arn.endswith(":${ExchangeApi}/*/POST/exchange"), source_arn


# --------------------------------------------------------------------------- schedule


def test_schedule_has_dlq_retries_state_and_no_fixed_name(template: dict, cfn: dict) -> None:
    _, schedule = only_resource(cfn, "AWS::Scheduler::Schedule")
    props = schedule["Properties"]
    assert "Name" not in props, "OmitName: true lets two stacks coexist"
    assert props["ScheduleExpression"] == {"Ref": "ScheduleExpression"}
    assert template["Parameters"]["ScheduleExpression"]["Default"] == "rate(5 minutes)"
    assert props["State"] == {"Ref": "ScheduleState"}
    assert set(template["Parameters"]["ScheduleState"]["AllowedValues"]) == {"ENABLED", "DISABLED"}

    target = props["Target"]
    assert target["Arn"] == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}
    dlq_arn = target["DeadLetterConfig"]["Arn"]
    assert cfn["Resources"][dlq_arn["Fn::GetAtt"][0]]["Type"] == "AWS::SQS::Queue"
    retry = target["RetryPolicy"]
    assert 0 <= retry["MaximumRetryAttempts"] <= 5
    assert 60 <= retry["MaximumEventAgeInSeconds"] <= 3600


def test_schedule_input_is_a_direct_payload(template: dict, cfn: dict) -> None:
    _, schedule = only_resource(cfn, "AWS::Scheduler::Schedule")
    payload = json.loads(parameter_default(template, schedule["Properties"]["Target"]["Input"]))
    assert isinstance(payload, dict)
    assert set(payload) <= DIRECT_PAYLOAD_FIELDS, payload
    # Nothing of its own: the targets file (or DefaultMessage and DefaultExpect) decides.
    assert payload == {}


def test_schedule_role_may_only_invoke_the_function_and_use_the_dlq(cfn: dict) -> None:
    _, schedule = only_resource(cfn, "AWS::Scheduler::Schedule")
    role_id = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    role = cfn["Resources"][role_id]["Properties"]
    grants = {
        (action, json.dumps(statement["Resource"], sort_keys=True))
        for policy in role["Policies"]
        for statement in policy["PolicyDocument"]["Statement"]
        for action in as_list(statement["Action"])
    }
    dlq = schedule["Properties"]["Target"]["DeadLetterConfig"]["Arn"]
    assert grants == {
        ("lambda:InvokeFunction", json.dumps({"Fn::GetAtt": [FUNCTION_ID, "Arn"]})),
        ("sqs:SendMessage", json.dumps(dlq)),
    }


# --------------------------------------------------------------------------- failures


def test_async_invocations_have_bounded_retries_and_an_on_failure_queue(cfn: dict) -> None:
    _, config = only_resource(cfn, "AWS::Lambda::EventInvokeConfig")
    props = config["Properties"]
    assert props["FunctionName"] == {"Ref": FUNCTION_ID}
    assert 0 <= props["MaximumRetryAttempts"] <= 1
    assert 60 <= props["MaximumEventAgeInSeconds"] <= 900
    destination = props["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["FailureQueue", "Arn"]}
    assert cfn["Resources"]["FailureQueue"]["Type"] == "AWS::SQS::Queue"


def test_failure_queues_are_encrypted(cfn: dict) -> None:
    queues = resources_of_type(cfn, "AWS::SQS::Queue")
    assert {"FailureQueue", "ScheduleDeadLetterQueue"} <= set(queues)
    for queue in queues.values():
        props = queue["Properties"]
        assert props.get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in props


def _alarm_actions_are_optional(alarm: dict[str, Any]) -> None:
    for key in ("AlarmActions", "OKActions"):
        assert alarm[key] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], NO_VALUE]}


def test_alarm_on_the_exchange_failed_metric(cfn: dict) -> None:
    env = function(cfn)["Environment"]["Variables"]
    alarms = [
        a["Properties"]
        for a in resources_of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("MetricName") == "ExchangeFailed"
    ]
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["TreatMissingData"] == "notBreaching"
    _alarm_actions_are_optional(alarm)


def test_alarm_on_the_function_errors_metric(cfn: dict) -> None:
    alarms = [
        a["Properties"]
        for a in resources_of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if a["Properties"].get("Namespace") == "AWS/Lambda"
        and a["Properties"].get("MetricName") == "Errors"
    ]
    assert len(alarms) == 1
    assert alarms[0]["Dimensions"] == [{"Name": "FunctionName", "Value": {"Ref": FUNCTION_ID}}]
    _alarm_actions_are_optional(alarms[0])


def test_alarm_topic_is_optional(template: dict, cfn: dict) -> None:
    assert template["Parameters"]["AlarmTopicArn"]["Default"] == ""
    assert cfn["Conditions"]["HasAlarmTopic"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "AlarmTopicArn"}, ""]}]
    }
    for alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").values():
        _alarm_actions_are_optional(alarm["Properties"])


# --------------------------------------------------------------------------- outputs, config


def test_outputs(cfn: dict) -> None:
    outputs = cfn["Outputs"]
    assert outputs["FunctionArn"]["Value"] == {"Fn::GetAtt": [FUNCTION_ID, "Arn"]}
    assert outputs["ApiUrl"]["Value"] == {
        "Fn::Sub": "https://${ExchangeApi}.execute-api.${AWS::Region}.${AWS::URLSuffix}/exchange"
    }
    assert outputs["FailureQueueUrl"]["Value"] == {"Ref": "FailureQueue"}


@pytest.fixture(scope="module")
def samconfig() -> dict[str, Any]:
    with SAMCONFIG_PATH.open("rb") as fh:
        return tomllib.load(fh)


def test_samconfig(samconfig: dict[str, Any], template: dict) -> None:
    assert samconfig["version"] == 0.1
    default = samconfig["default"]
    assert default["global"]["parameters"]["stack_name"]
    assert default["build"]["parameters"]["cached"] is True
    assert default["build"]["parameters"]["parallel"] is True
    assert default["validate"]["parameters"]["lint"] is True
    deploy = default["deploy"]["parameters"]
    assert "CAPABILITY_IAM" in deploy["capabilities"]
    assert deploy["confirm_changeset"] is True
    assert deploy["resolve_s3"] is True
    assert default["local_invoke"]["parameters"]["env_vars"] == "events/env.json"


def test_samconfig_overrides_name_real_parameters_with_placeholders(
    samconfig: dict[str, Any], template: dict
) -> None:
    required = {k for k, v in template["Parameters"].items() if "Default" not in v}
    for command in ("deploy", "sync"):
        overrides = samconfig["default"][command]["parameters"]["parameter_overrides"]
        names = {item.split("=", 1)[0] for item in overrides.split()}
        assert required <= names, (command, required - names)
        assert names <= set(template["Parameters"]), names - set(template["Parameters"])
        # Placeholders must never look deployable (the secret ARN is checked by pattern).
        assert "REPLACE" in overrides or "example" in overrides
