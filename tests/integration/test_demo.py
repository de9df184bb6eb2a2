"""``make demo`` (``python -m local_stack demo``): every sample event, every scenario
and protocol preset example, then one exchange per credential mode against its local
counterpart, each under its own header, and a last line that counts them all."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest

from local_stack import __main__ as cli
from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.credentials.oauth2_server import Fault
from local_stack.credentials.stack import ENDPOINTS, LocalCredentialStack
from local_stack.protocols import protocol_events, protocol_label
from local_stack.runtime.invoker import ROOT, FunctionSpec
from local_stack.scenarios import scenario_events, scenario_label
from local_stack.serve import mode_label
from ws_exchange.credentials import oauth2, sigv4

pytest_plugins = ["tests.integration.conftest_counterparts"]

# Installs aside, the whole demo takes about 10 s on a quiet machine.
DEMO_TIMEOUT_SECONDS = 120


def credential_forms(stack: LocalCredentialStack) -> list[str]:
    """Every credential the demo handles, as the secrets and the servers hold them
    (user names and client ids are not secret)."""
    public = {stack.basic.username, stack.token_endpoint.client_id}
    forms = [
        value
        for name in ENDPOINTS
        for value in json.loads(stack.secret(name) or "{}").values()
        if isinstance(value, str) and value not in public
    ]
    forms += list(stack.token_endpoint.issued)
    aws = stack.aws_environment
    forms += [aws["AWS_SECRET_ACCESS_KEY"], aws["AWS_SESSION_TOKEN"]]
    forms.append(stack.pki.client_key_pem.splitlines()[1])
    return forms


@pytest.fixture
def fresh_function_state(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """For the in-process runtime: no access token or AWS session left by
    another test's function (the demo's own runs start from a new process)."""
    oauth2.clear_cache()
    monkeypatch.setattr(sigv4, "_session", None)
    yield
    oauth2.clear_cache()


def test_every_credential_mode_succeeds_through_the_runtime_client(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    credential_stack: LocalCredentialStack,
    capfd: pytest.CaptureFixture[str],
) -> None:
    results = cli.demo_credential_modes(spec, secrets_manager, credential_stack)

    output = capfd.readouterr().out
    assert results == [True] * len(ENDPOINTS), output
    headers = [line for line in output.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- {mode_label(name)}: OK" for name in ENDPOINTS]
    for name in ENDPOINTS:
        assert credential_stack.endpoint(name).handshakes, f"{name}'s counterpart saw no handshake"
    assert credential_stack.token_endpoint.requests == 1
    # The selected subprotocol is in the result, so the result really is printed.
    assert '"subprotocol": "v4.channel.k8s.io"' in output
    assert '"endpoint": "wss://127.0.0.1:' in output
    for form in credential_forms(credential_stack):
        assert form not in output, "a credential reached the demo's output"


def test_every_credential_mode_succeeds_in_process_without_the_runtime_client(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    credential_stack: LocalCredentialStack,
    fresh_function_state: None,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "awslambdaric_version", lambda: None)

    results = cli.demo_credential_modes(spec, secrets_manager, credential_stack, raw=True)

    output = capfd.readouterr().out
    assert results == [True] * len(ENDPOINTS), output
    assert f"--- {mode_label('sigv4')}: OK" in output
    assert credential_stack.sigv4.accepted == 1


def test_a_mode_that_fails_is_shown_as_failed_and_the_others_still_run(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    credential_stack: LocalCredentialStack,
    capfd: pytest.CaptureFixture[str],
) -> None:
    credential_stack.token_endpoint.fault = Fault.NOT_JSON

    results = cli.demo_credential_modes(spec, secrets_manager, credential_stack)

    output = capfd.readouterr().out
    failed = ENDPOINTS.index("oauth2_client_credentials")
    assert results == [index != failed for index in range(len(ENDPOINTS))], output
    assert "--- AUTH_MODE=oauth2_client_credentials: FAILED" in output
    assert '"type": "token_request_failed"' in output
    assert f"--- {mode_label(ENDPOINTS[-1])}: OK" in output


def test_the_demo_runs_every_endpoint_as_one_fleet(
    spec: FunctionSpec,
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    credential_stack: LocalCredentialStack,
    fresh_function_state: None,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(cli, "awslambdaric_version", lambda: None)
    from local_stack.serve import put_mode_secrets

    put_mode_secrets(credential_stack, secrets_manager)

    ok = cli.demo_fleet(spec, function_env, secrets_manager, credential_stack, raw=True)

    output = capfd.readouterr().out
    assert ok, output
    assert f"--- fleet ({len(ENDPOINTS) + 1} targets): OK" in output
    assert f'"total": {len(ENDPOINTS) + 1}' in output
    for name in ENDPOINTS:
        assert credential_stack.endpoint(name).handshakes, f"{name}'s counterpart saw no handshake"
    for form in credential_forms(credential_stack):
        assert form not in output, "a credential reached the demo's output"


def test_make_demo_runs_every_sample_event_scenario_protocol_and_mode_and_counts_them_all() -> None:
    demo = subprocess.run(
        [sys.executable, "-m", "local_stack", "demo"],
        cwd=ROOT, capture_output=True, text=True, timeout=DEMO_TIMEOUT_SECONDS, check=False,
    )  # fmt: skip

    output = demo.stdout + demo.stderr
    assert demo.returncode == 0, output
    events = [path.name for path in cli.sample_events()]
    assert "monitor-scheduler-input.json" in events
    assert "monitor-api.json" in events
    assert not any(name.startswith("env") for name in events)
    scenarios = [scenario_label(path) for path in scenario_events()]
    assert "scenarios/login.json" in scenarios
    assert not any(name.startswith("scenarios/env") for name in scenarios)
    protocols = [protocol_label(path) for path in protocol_events()]
    assert protocols == [f"protocols/{name}.json" for name in ("appsync", "graphql", "socketio")]
    headers = [line for line in demo.stdout.splitlines() if line.startswith("--- ")]
    assert headers == [f"--- {name}: OK" for name in events + scenarios + protocols] + [
        f"--- {mode_label(name)}: OK" for name in ENDPOINTS
    ] + [f"--- fleet ({len(ENDPOINTS) + 1} targets): OK"]
    total = len(events) + len(scenarios) + len(protocols) + len(ENDPOINTS) + 1
    assert demo.stdout.splitlines()[-1] == f"demo: {total} of {total} exchanges succeeded"
    # The monitor example's expectations were evaluated, not just its exchange.
    assert '{"expect": "received[-1].id == sent[0].id", "passed": true}' in demo.stdout
    # The README's count is the demo's.
    readme = (ROOT / "README.md").read_text()
    assert f"`demo: {total} of {total} exchanges succeeded`" in readme
