"""Offline checks of the alarms on what the connection showed and on failed checks:
the certificate-expiry alarm (CertificateDaysLeft below CertificateExpiryDays) and
the ExpectationFailed alarm.

Each alarm must name a metric exactly as the function emits it: the namespace, the
dimensions and the metric name are read from the embedded-metric document the
function's own observability code writes, not from the template."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from ws_exchange import observability
from ws_exchange.errors import ExpectationFailed
from ws_exchange.triggers import Trigger

from ._cfn import NO_VALUE, parameter_default, resources_of_type


def alarms_on(cfn: dict[str, Any], metric: str) -> list[dict[str, Any]]:
    return [
        alarm["Properties"]
        for alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").values()
        if alarm["Properties"].get("MetricName") == metric
    ]


def result(days_left: int | None) -> dict[str, Any]:
    """A result as the function builds it, over TLS when ``days_left`` is given."""
    tls = None
    if days_left is not None:
        tls = {
            "version": "TLSv1.3",
            "cipher": "TLS_AES_128_GCM_SHA256",
            "certificate": {
                "subject": "CN=stream.example.com",
                "issuer": "CN=Example CA",
                "not_after": "2027-01-01T00:00:00+00:00",
                "days_left": days_left,
            },
        }
    return {
        "ok": True,
        "endpoint": "wss://stream.example.com/v1",
        "attempts": 1,
        "checks": [],
        "sent": [{"action": "ping"}],
        "received": [{"type": "pong"}],
        "connection": {"status": 101, "headers": {}, "tls": tls, "close": None},
        "timings_ms": {"secret": 0.1, "connect": 10.0, "exchange": 2.0, "total": 13.0},
    }


@pytest.fixture
def emitted() -> Iterator[list[dict[str, Any]]]:
    """The embedded-metric documents the function writes, one per :func:`record` call
    flushed through :func:`flush`."""
    documents: list[dict[str, Any]] = []
    observability.metrics.clear_metrics()
    yield documents
    observability.metrics.clear_metrics()


def flush(documents: list[dict[str, Any]]) -> None:
    documents.append(observability.metrics.serialize_metric_set())
    observability.metrics.clear_metrics()


def metric_identity(document: dict[str, Any], metric: str) -> tuple[str, list[dict[str, str]]]:
    """The namespace and the dimensions (name and value) ``metric`` is emitted with."""
    (directive,) = [
        d
        for d in document["_aws"]["CloudWatchMetrics"]
        if any(m["Name"] == metric for m in d["Metrics"])
    ]
    (names,) = directive["Dimensions"]
    return directive["Namespace"], [{"Name": name, "Value": document[name]} for name in names]


def assert_same_dimensions(
    cfn: dict[str, Any], alarm: dict[str, Any], emitted: list[dict[str, str]]
) -> None:
    """The alarm's dimensions are the emitted ones, the service being the deployed
    function's POWERTOOLS_SERVICE_NAME (the test process has its own)."""
    variables = cfn["Resources"]["ExchangeFunction"]["Properties"]["Environment"]["Variables"]
    assert [d["Name"] for d in alarm["Dimensions"]] == [d["Name"] for d in emitted]
    service = next(d for d in alarm["Dimensions"] if d["Name"] == "service")
    assert service["Value"] == variables["POWERTOOLS_SERVICE_NAME"]


def test_certificate_days_left_is_emitted_only_over_tls(emitted: list[dict[str, Any]]) -> None:
    observability.record(result(days_left=9), None, Trigger.SCHEDULE)
    flush(emitted)
    observability.record(result(days_left=None), None, Trigger.SCHEDULE)
    flush(emitted)

    over_tls, plain = emitted
    assert over_tls["CertificateDaysLeft"] in (9, [9])
    assert "CertificateDaysLeft" not in plain


def test_the_certificate_alarm_watches_the_metric_as_the_function_emits_it(
    cfn: dict[str, Any], emitted: list[dict[str, Any]]
) -> None:
    observability.record(result(days_left=30), None, Trigger.SCHEDULE)
    flush(emitted)

    (alarm,) = alarms_on(cfn, "CertificateDaysLeft")
    namespace, dimensions = metric_identity(emitted[0], "CertificateDaysLeft")
    assert alarm["Namespace"] == namespace
    assert_same_dimensions(cfn, alarm, dimensions)


def test_the_expectation_alarm_watches_the_metric_as_the_function_emits_it(
    cfn: dict[str, Any], emitted: list[dict[str, Any]]
) -> None:
    failed = {**result(days_left=None), "ok": False}
    observability.record(failed, ExpectationFailed("a check did not hold."), Trigger.SCHEDULE)
    flush(emitted)

    (alarm,) = alarms_on(cfn, "ExpectationFailed")
    namespace, dimensions = metric_identity(emitted[0], "ExpectationFailed")
    assert alarm["Namespace"] == namespace
    assert_same_dimensions(cfn, alarm, dimensions)


def test_the_certificate_alarm_fires_when_the_fewest_days_left_fall_below_the_parameter(
    template: dict[str, Any], cfn: dict[str, Any]
) -> None:
    (alarm,) = alarms_on(cfn, "CertificateDaysLeft")

    assert alarm["Statistic"] == "Minimum"
    assert alarm["ComparisonOperator"] == "LessThanThreshold"
    assert alarm["Threshold"] == {"Ref": "CertificateExpiryDays"}
    assert parameter_default(template, alarm["Threshold"]) == 14
    parameter = template["Parameters"]["CertificateExpiryDays"]
    assert parameter["Type"] == "Number"
    assert parameter["MinValue"] >= 1


def test_the_certificate_alarm_keeps_its_state_when_a_datapoint_is_missing(
    cfn: dict[str, Any],
) -> None:
    (alarm,) = alarms_on(cfn, "CertificateDaysLeft")

    # A gap (no run, a failed connection) neither raises the alarm nor clears it.
    assert alarm["TreatMissingData"] == "ignore"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1
    assert alarm["Period"] >= 3600


def test_the_expectation_alarm_treats_a_missing_datapoint_as_no_failure(
    cfn: dict[str, Any],
) -> None:
    (alarm,) = alarms_on(cfn, "ExpectationFailed")

    assert alarm["TreatMissingData"] == "notBreaching"
    assert alarm["EvaluationPeriods"] == alarm["DatapointsToAlarm"] == 1


def test_only_the_heartbeat_treats_missing_data_as_breaching(cfn: dict[str, Any]) -> None:
    breaching = [
        name
        for name, alarm in resources_of_type(cfn, "AWS::CloudWatch::Alarm").items()
        if alarm["Properties"]["TreatMissingData"] == "breaching"
    ]
    # Silence is what the heartbeat watches for; for every other alarm it is no news.
    assert breaching == ["HeartbeatAlarm"]


def test_the_certificate_alarm_notifies_the_optional_topic(cfn: dict[str, Any]) -> None:
    (alarm,) = alarms_on(cfn, "CertificateDaysLeft")
    for key in ("AlarmActions", "OKActions"):
        assert alarm[key] == {"Fn::If": ["HasAlarmTopic", [{"Ref": "AlarmTopicArn"}], NO_VALUE]}


def test_the_certificate_threshold_can_be_overridden(transform_with: Any) -> None:
    cfn = transform_with(CertificateExpiryDays=30)

    (alarm,) = alarms_on(cfn, "CertificateDaysLeft")
    assert alarm["Threshold"] == {"Ref": "CertificateExpiryDays"}
    assert "CertificateExpiryDays" in cfn["Parameters"]
