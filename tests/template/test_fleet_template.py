"""The fleet in the template: alarms that do not flap, a heartbeat, a dashboard per target."""

from __future__ import annotations

import json
import re
from typing import Any

from ._cfn import PSEUDO_PARAMETERS, evaluate, evaluate_conditions, parameter_values

STACK = PSEUDO_PARAMETERS["AWS::StackName"]


def resource(cfn: dict[str, Any], name: str) -> dict[str, Any]:
    return dict(cfn["Resources"][name]["Properties"])


def resolved(template: dict[str, Any], cfn: dict[str, Any], value: Any) -> Any:
    values = parameter_values(template)
    return evaluate(value, values, evaluate_conditions(cfn, values))


def test_the_failure_alarm_needs_m_of_n_periods_and_watches_this_stack_only(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    values = parameter_values(template)
    alarm = resolved(template, cfn, resource(cfn, "ExchangeFailedAlarm"))
    assert alarm["MetricName"] == "ExchangeFailed"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": STACK}]
    assert (alarm["DatapointsToAlarm"], alarm["EvaluationPeriods"]) == (2, 3)
    assert alarm["Period"] == values["AlarmPeriodSeconds"]
    # One click from the alarm to which target failed.
    assert f"dashboards:name={STACK}" in alarm["AlarmDescription"]


def test_the_function_names_its_metrics_after_the_stack(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    function = next(
        r["Properties"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"
    )
    variables = resolved(template, cfn, function["Environment"]["Variables"])
    assert variables["POWERTOOLS_SERVICE_NAME"] == STACK


def test_the_heartbeat_fires_when_no_run_completes(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    alarm = resolved(template, cfn, resource(cfn, "HeartbeatAlarm"))
    assert alarm["MetricName"] == "RunsCompleted"
    assert alarm["Dimensions"] == [{"Name": "service", "Value": STACK}]
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == 1
    assert alarm["TreatMissingData"] == "breaching"
    # Longer than the default schedule's interval (5 minutes), or it would flap.
    assert alarm["Period"] > 300


def dashboard_body(template: dict[str, Any], cfn: dict[str, Any]) -> dict[str, Any]:
    body = resource(cfn, "FleetDashboard")["DashboardBody"]["Fn::Sub"]
    values = {**parameter_values(template), **PSEUDO_PARAMETERS}
    text = re.sub(
        r"\$\{([^}]+)\}",
        lambda match: str(values.get(match.group(1), f"arn:{match.group(1)}")),
        body,
    )
    return dict(json.loads(text))


def test_the_dashboard_shows_each_target_and_each_error_type(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    widgets = dashboard_body(template, cfn)["widgets"]
    expressions = [
        metric[0]["expression"]
        for widget in widgets
        if widget["type"] == "metric"
        for metric in widget["properties"]["metrics"]
        if isinstance(metric[0], dict)
    ]
    per_target = {
        re.search(r'MetricName="(\w+)"', e).group(1)  # type: ignore[union-attr]
        for e in expressions
        if "service,target}" in e
    }
    assert {"ExchangeOk", "ExchangeLatency", "CertificateDaysLeft"} <= per_target
    assert any("ErrorType" in e and "ExchangeFailedByType" in e for e in expressions)
    assert all(f'service=\\"{STACK}\\"' in e or f'service="{STACK}"' in e for e in expressions)
