"""Offline checks of the template's reply-check wiring: DefaultExpect and its alarm.

The parameter feeds ``DEFAULT_EXPECT``, whose default and documented example the
function's own parser accepts; the ``ExpectationFailed`` metric the function emits
has an alarm in the function's namespace and service dimension.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from ws_exchange.checks import parse_default_expect

from ._cfn import NO_VALUE, parameter_default, resources_of_type

FUNCTION_ID = "ExchangeFunction"
# Lambda's limit for all of a function's environment variables together.
LAMBDA_ENVIRONMENT_BYTES = 4096


def environment(cfn: dict[str, Any]) -> dict[str, Any]:
    variables: dict[str, Any] = cfn["Resources"][FUNCTION_ID]["Properties"]["Environment"][
        "Variables"
    ]
    return variables


def expectation_alarms(cfn: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == "ExpectationFailed"
    ]


def test_default_expect_comes_from_the_default_expect_parameter(cfn: dict[str, Any]) -> None:
    assert environment(cfn)["DEFAULT_EXPECT"] == {"Ref": "DefaultExpect"}


def test_the_default_checks_nothing_and_the_function_accepts_it(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    default = parameter_default(template, environment(cfn)["DEFAULT_EXPECT"])
    assert default == "[]"
    assert parse_default_expect(default) == ()


def test_the_documented_example_is_accepted_by_the_function(template: dict[str, Any]) -> None:
    description = " ".join(template["Parameters"]["DefaultExpect"]["Description"].split())
    example = re.search(r"e\.g\. (\[.*?\])\. ", description)
    assert example is not None, description
    expectations = parse_default_expect(example.group(1))
    assert len(expectations) == 2


@pytest.mark.parametrize(
    ("value", "allowed"),
    [
        ("[]", True),
        ("[\"received[0].type == 'pong'\"]", True),
        ('[\n  "sent",\n  "received"\n]', True),
        ("received[0]", False),
        ('{"a": "b"}', False),
        ("", False),
    ],
)
def test_the_parameter_pattern_admits_json_lists_only(
    template: dict[str, Any], value: str, allowed: bool
) -> None:
    # CloudFormation matches the whole value with a Java regex; this pattern
    # means the same in Python.
    pattern = template["Parameters"]["DefaultExpect"]["AllowedPattern"]
    assert (re.fullmatch(pattern, value) is not None) is allowed


def test_the_parameter_leaves_room_for_the_other_variables(template: dict[str, Any]) -> None:
    parameter = template["Parameters"]["DefaultExpect"]
    assert parameter["Type"] == "String"
    assert 0 < parameter["MaxLength"] <= LAMBDA_ENVIRONMENT_BYTES // 2


def test_one_alarm_watches_the_expectation_failed_metric(cfn: dict[str, Any]) -> None:
    env = environment(cfn)
    alarms = expectation_alarms(cfn)
    assert len(alarms) == 1
    alarm = alarms[0]
    assert alarm["Namespace"] == env["POWERTOOLS_METRICS_NAMESPACE"]
    assert alarm["Dimensions"] == [{"Name": "service", "Value": env["POWERTOOLS_SERVICE_NAME"]}]
    assert alarm["Statistic"] == "Sum"
    assert alarm["Threshold"] == 1
    assert alarm["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert alarm["EvaluationPeriods"] == 1
    # No datapoint means no expectation failed, not an unknown state.
    assert alarm["TreatMissingData"] == "notBreaching"


def test_the_expectation_alarm_notifies_the_optional_topic(cfn: dict[str, Any]) -> None:
    (alarm,) = expectation_alarms(cfn)
    for key in ("AlarmActions", "OKActions"):
        assert alarm[key] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], NO_VALUE]}


def test_the_expectation_alarm_is_named_in_the_template(template: dict[str, Any]) -> None:
    resource = template["Resources"]["ExpectationFailedAlarm"]
    assert resource["Type"] == "AWS::CloudWatch::Alarm"
    assert resource["Properties"]["MetricName"] == "ExpectationFailed"
