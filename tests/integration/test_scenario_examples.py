"""The scenario examples in events/scenarios/ run through the function, as ``make demo``
runs them: against the scenario server on ``ws://`` and on ``wss://`` (a certificate
from a private CA, expiring in a few days, trusted through ``SSL_CERT_FILE``)."""

from __future__ import annotations

import datetime
import json
import re
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import __main__ as cli
from local_stack.runtime.invoker import FunctionSpec, apply_env_vars, read_json
from local_stack.scenarios import (
    SCENARIO_PORT,
    SCENARIO_TLS_PORT,
    SCENARIOS,
    ScenarioStack,
    scenario_env_file,
    scenario_events,
    write_ca_bundle,
)
from local_stack.servers.scenario import ScenarioServer

from .conftest import Invoke

NAMES = [event.stem for event in scenario_events()]


@pytest.fixture(scope="module")
def scenario_stack() -> Iterator[ScenarioStack]:
    with ScenarioStack() as stack:
        yield stack


@pytest.fixture(scope="module")
def ca_bundle(scenario_stack: ScenarioStack, tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("scenario-ca")
    return write_ca_bundle(folder / "ca.pem", scenario_stack.ca_pem)


def test_the_examples_are_the_ones_the_demo_runs() -> None:
    assert NAMES == ["cert", "close", "echo", "login"]
    assert all(path.parent == SCENARIOS for path in scenario_events())


def test_every_example_succeeds_through_the_runtime_client(
    spec: FunctionSpec,
    scenario_stack: ScenarioStack,
    ca_bundle: Path,
    capfd: pytest.CaptureFixture[str],
) -> None:
    results = cli.demo_scenarios(spec, scenario_stack, ca_bundle)

    output = capfd.readouterr().out
    assert results == [True] * len(NAMES), output
    headers = [line for line in output.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- scenarios/{name}.json: OK" for name in NAMES]
    # Each example reached the server it names, and the login flow handed out a session.
    assert scenario_stack.plain.sessions
    assert scenario_stack.secure.messages
    assert '"initiated_by": "server"' in output
    assert '"issuer": "CN=local-stack test CA"' in output


def test_the_certificate_example_sees_the_days_left_the_server_was_given(
    spec: FunctionSpec, scenario_stack: ScenarioStack, ca_bundle: Path
) -> None:
    variables = apply_env_vars(spec, scenario_stack.env_vars("cert"))

    with cli._invoker(spec, variables, {"SSL_CERT_FILE": str(ca_bundle)}, raw=True) as run:
        result = run(read_json(SCENARIOS / "cert.json"))

    assert result["ok"] is True, result["error"]
    not_after = scenario_stack.secure.certificate_not_after
    assert not_after is not None
    left = not_after - datetime.datetime.now(datetime.UTC)
    assert result["connection"]["tls"]["certificate"]["days_left"] == left.days
    assert result["timings_ms"]["tls"] > 0


def test_without_the_stacks_ca_the_certificate_example_is_refused(
    spec: FunctionSpec, scenario_stack: ScenarioStack
) -> None:
    variables = apply_env_vars(spec, scenario_stack.env_vars("cert"))

    with cli._invoker(spec, variables, {}, raw=True) as run:
        result = run(read_json(SCENARIOS / "cert.json"))

    assert result["ok"] is False
    assert result["error"]["type"] == "handshake_failed"


def test_the_ca_bundle_keeps_the_systems_authorities_and_adds_the_stacks(
    scenario_stack: ScenarioStack, ca_bundle: Path
) -> None:
    text = ca_bundle.read_text()
    assert text.endswith(scenario_stack.ca_pem)
    context = ssl.create_default_context(cafile=str(ca_bundle))
    subjects = [dict(rdn[0] for rdn in ca["subject"]) for ca in context.get_ca_certs()]
    assert {"commonName": "local-stack test CA"} in subjects
    system = ssl.get_default_verify_paths().cafile
    if system:
        assert len(subjects) > 1, "the system's CAs are kept"


def test_an_expect_step_after_await_close_sees_the_servers_close(run: Invoke) -> None:
    with ScenarioServer() as server:
        result = run(
            {
                "steps": [
                    {"send": {"action": "goodbye"}},
                    {"await_close": {"timeout_seconds": 5}},
                    {"expect": "connection.close.code == `4000`"},
                    {"expect": "connection.close.initiated_by == 'server'"},
                ]
            },
            WEBSOCKET_URI=f"{server.uri}/close-after?code=4000&reason=bye",
            AUTH_MODE="none",
            TOKEN_SECRET_ID="",
        )

    assert result["ok"] is True, result["error"]
    assert result["connection"]["close"] == {
        "code": 4000,
        "reason": "bye",
        "initiated_by": "server",
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_env_file_names_the_fixed_port_for_its_scheme(name: str) -> None:
    variables = json.loads(scenario_env_file(name).read_text())["ExchangeFunction"]
    port = SCENARIO_TLS_PORT if variables["WEBSOCKET_URI"].startswith("wss:") else SCENARIO_PORT

    assert re.match(rf"wss?://127\.0\.0\.1:{port}/", variables["WEBSOCKET_URI"])


def test_the_env_files_served_keep_everything_but_the_port(scenario_stack: ScenarioStack) -> None:
    for name in NAMES:
        written: dict[str, Any] = scenario_stack.env_vars(name)
        original = json.loads(scenario_env_file(name).read_text())
        port = re.compile(r"127\.0\.0\.1:\d+")
        assert port.sub("P", json.dumps(written)) == port.sub("P", json.dumps(original))
        assert written != original
