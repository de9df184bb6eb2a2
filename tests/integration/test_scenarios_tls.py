"""What the connection showed over wss://: the scenario server's certificate,
which expires in a chosen number of days, seen by expectations and steps."""

from __future__ import annotations

import datetime
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack.servers.scenario import ScenarioServer, tls_scenario_server

from .conftest import Invoke

EXPIRES_SOON_DAYS = 3
EXPIRES_LATER_DAYS = 30
SOON = "connection.tls.certificate.days_left > `14`"


@pytest.fixture(scope="module")
def soon(token: str) -> Iterator[ScenarioServer]:
    with tls_scenario_server(EXPIRES_SOON_DAYS, token=token) as server:
        yield server


@pytest.fixture(scope="module")
def later(token: str) -> Iterator[ScenarioServer]:
    with tls_scenario_server(EXPIRES_LATER_DAYS, token=token) as server:
        yield server


@pytest.fixture
def over_tls(run: Invoke, tmp_path: Path) -> Any:
    """``over_tls(server, event)``: run an event on ``/echo`` over wss://, the
    server's CA in the package's CA_BUNDLE."""

    def _run(server: ScenarioServer, event: Any) -> Any:
        assert server.pki is not None
        (tmp_path / "ca.pem").write_text(server.pki.ca_pem)
        server.messages.clear()
        return run(
            event,
            WEBSOCKET_URI=server.uri + "/echo",
            ALLOW_INSECURE_WEBSOCKET="false",
            CA_BUNDLE="ca.pem",
            LAMBDA_TASK_ROOT=str(tmp_path),
        )

    return _run


def days_until(moment: datetime.datetime | None) -> int:
    assert moment is not None
    return (moment - datetime.datetime.now(datetime.UTC)).days


@pytest.mark.parametrize("days", [EXPIRES_SOON_DAYS, EXPIRES_LATER_DAYS])
def test_the_certificate_shows_when_it_expires(
    over_tls: Any, soon: ScenarioServer, later: ScenarioServer, days: int
) -> None:
    server = soon if days == EXPIRES_SOON_DAYS else later

    result = over_tls(
        server,
        {
            "steps": [
                {"send": "probe"},
                {"receive": {"count": 1}},
                {"expect": "connection.tls.certificate.days_left >= `0`"},
                {"ping": {}},
            ]
        },
    )

    assert result["ok"] is True, result["error"]
    tls = result["connection"]["tls"]
    assert tls["version"] in ("TLSv1.2", "TLSv1.3")
    assert tls["cipher"]
    certificate = tls["certificate"]
    assert datetime.datetime.fromisoformat(certificate["not_after"]) == (
        server.certificate_not_after
    )
    assert certificate["days_left"] == days_until(server.certificate_not_after)
    assert days - 1 <= certificate["days_left"] <= days
    assert "127.0.0.1" in certificate["subject"]
    assert certificate["issuer"] != certificate["subject"], "issued by the local CA"
    assert result["timings_ms"]["tls"] > 0
    assert server.messages == ["probe"]


def test_a_certificate_expiring_within_14_days_fails_the_expectation(
    over_tls: Any, soon: ScenarioServer
) -> None:
    result = over_tls(soon, {"steps": [{"ping": {}}], "expect": [SOON]})

    assert result["ok"] is False
    assert result["error"]["type"] == "expectation_failed", result["error"]
    assert SOON in result["error"]["message"]
    assert result["checks"] == [{"expect": SOON, "passed": False}]
    assert result["connection"]["tls"]["certificate"]["days_left"] < 14


def test_a_certificate_with_a_month_left_passes_it(over_tls: Any, later: ScenarioServer) -> None:
    result = over_tls(later, {"steps": [{"ping": {}}], "expect": [SOON]})

    assert result["ok"] is True, result["error"]
    assert result["checks"] == [{"expect": SOON, "passed": True}]


def test_an_expect_step_on_the_certificate_stops_the_scenario(
    over_tls: Any, soon: ScenarioServer
) -> None:
    result = over_tls(soon, {"steps": [{"expect": SOON}, {"send": "not sent"}]})

    assert result["error"]["type"] == "expectation_failed", result["error"]
    assert "steps[0]" in result["error"]["message"]
    assert soon.messages == []
    assert result["sent"] == []
