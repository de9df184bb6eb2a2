"""The function inside AWS's own runtime interface client (awslambdaric),
driven through a local Lambda Runtime API: Lambda's import, logging setup,
context, deadline and error serialisation, without Docker."""

from __future__ import annotations

import dataclasses
import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from local_stack import __main__ as cli
from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import FunctionSpec, load_function
from local_stack.runtime.ric import RuntimeInvoker
from local_stack.servers.websocket_server import LocalWebSocketServer, closed_port_uri

from .conftest import EVENTS, body, sample

SAMPLE_EVENTS = [path.name for path in cli.sample_events()]

# A stand-in function whose behaviour each event chooses, for what the real
# handler never does on purpose: hang, die, or report what Lambda gave it.
PROBE_MODULE = textwrap.dedent(
    """
    import os, time

    def handler(event, context):
        if "exit" in event:
            os._exit(event["exit"])
        time.sleep(event.get("sleep", 0))
        return {
            "pid": os.getpid(),
            "remaining_ms": context.get_remaining_time_in_millis(),
            "function_name": context.function_name,
            "environment": {
                name: os.environ.get(name)
                for name in ("AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_LOG_LEVEL", "_HANDLER",
                             "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "WEBSOCKET_URI")
            },
        }
    """
)


def json_lines(lines: list[str]) -> list[dict[str, Any]]:
    parsed = []
    for line in lines:
        try:
            document = json.loads(line)
        except ValueError:
            continue
        if isinstance(document, dict):
            parsed.append(document)
    return parsed


@pytest.fixture
def runtime(
    spec: FunctionSpec, function_env: dict[str, str], secrets_manager: LocalSecretsManager
) -> Iterator[RuntimeInvoker]:
    with RuntimeInvoker(spec, function_env, secrets_manager.environment) as invoker:
        yield invoker


@pytest.fixture
def probe_spec(spec: FunctionSpec, tmp_path: Path) -> FunctionSpec:
    """The template's function (its LoggingConfig and environment) with the
    probe as its code, and a 1 s timeout."""
    (tmp_path / "probe.py").write_text(PROBE_MODULE)
    return dataclasses.replace(spec, code_dir=tmp_path, handler="probe.handler", timeout=1)


def test_every_sample_event_succeeds_inside_the_runtime_client(runtime: RuntimeInvoker) -> None:
    assert len(SAMPLE_EVENTS) >= 4
    for name in SAMPLE_EVENTS:
        invocation = runtime.invoke(sample(name))

        assert invocation.outcome.kind == "response", (name, invocation.payload)
        if "httpMethod" in sample(name) or "requestContext" in sample(name):
            assert invocation.payload["statusCode"] == 200, name
            result = body(invocation.payload)
        else:
            result = invocation.payload
        assert result["ok"] is True, (name, result)
        # The context came from the Runtime API's headers, not from the invoker.
        assert result["request_id"] == invocation.outcome.request_id


def test_warm_invocations_reuse_one_runtime_process(
    runtime: RuntimeInvoker, secrets_manager: LocalSecretsManager
) -> None:
    calls_before = secrets_manager.get_secret_value_calls

    first = runtime.invoke({"message": {"action": "ping"}})
    second = runtime.invoke({"message": {"action": "ping"}})

    assert first.pid == second.pid
    summaries = [
        [
            line
            for line in json_lines(invocation.log_lines)
            if line.get("message") == "exchange succeeded"
        ]
        for invocation in (first, second)
    ]
    assert [[line["cold_start"] for line in lines] for lines in summaries] == [[True], [False]]
    assert secrets_manager.get_secret_value_calls - calls_before == 1


def test_lambda_environment_log_config_and_deadline_reach_the_handler(
    probe_spec: FunctionSpec, function_env: dict[str, str]
) -> None:
    with RuntimeInvoker(probe_spec, {**function_env, "AWS_LAMBDA_LOG_LEVEL": "TRACE"}) as runtime:
        result = runtime.invoke({}).payload

    assert result["environment"] == {
        "AWS_LAMBDA_LOG_FORMAT": "JSON",
        # The template's LoggingConfig, not a function variable: Lambda reserves the name.
        "AWS_LAMBDA_LOG_LEVEL": "INFO",
        "_HANDLER": "probe.handler",
        "LAMBDA_TASK_ROOT": str(probe_spec.code_dir),
        "AWS_LAMBDA_FUNCTION_NAME": "ExchangeFunction",
        "WEBSOCKET_URI": function_env["WEBSOCKET_URI"],
    }
    assert result["function_name"] == "ExchangeFunction"
    assert 0 < result["remaining_ms"] <= 1000


@pytest.mark.parametrize(
    ("code", "handler", "error_type", "message"),
    [
        (
            "raise ImportError('no such thing')\n",
            "broken.lambda_handler",
            "Runtime.ImportModuleError",
            "Unable to import module 'broken': no such thing",
        ),
        (
            "def other_handler(event, context):\n    return {}\n",
            "broken.lambda_handler",
            "Runtime.HandlerNotFound",
            "Handler 'lambda_handler' missing on module 'broken'",
        ),
    ],
    ids=["import-error", "missing-handler"],
)
def test_handler_that_cannot_load_is_an_init_error(
    probe_spec: FunctionSpec,
    function_env: dict[str, str],
    code: str,
    handler: str,
    error_type: str,
    message: str,
) -> None:
    (probe_spec.code_dir / "broken.py").write_text(code)
    broken = dataclasses.replace(probe_spec, handler=handler)

    with RuntimeInvoker(broken, function_env) as runtime:
        first = runtime.invoke({})
        second = runtime.invoke({})

    assert first.outcome.kind == "init_error"
    assert first.payload["errorType"] == error_type
    assert first.payload["errorMessage"] == message
    assert any(message in line for line in first.log_lines)
    # The runtime exits after an init error; the next invocation initialises again.
    assert second.outcome.kind == "init_error"
    assert second.pid != first.pid


def test_fail_on_error_comes_back_as_the_runtime_error_payload(
    spec: FunctionSpec, function_env: dict[str, str], secrets_manager: LocalSecretsManager
) -> None:
    variables = {
        **function_env,
        "WEBSOCKET_URI": closed_port_uri(),
        "MAX_ATTEMPTS": "1",
        "FAIL_ON_ERROR": "true",
    }
    with RuntimeInvoker(spec, variables, secrets_manager.environment) as runtime:
        first = runtime.invoke({"message": {"action": "ping"}})
        second = runtime.invoke({"message": {"action": "ping"}})

    assert first.outcome.kind == "error"
    assert first.payload["errorType"] == "ConnectFailed"
    assert first.payload["errorMessage"].startswith("connect_failed: ")
    assert first.payload["requestId"] == first.outcome.request_id
    assert first.payload["stackTrace"]
    # A raised error is not a crash: the same runtime serves the next event.
    assert second.outcome.kind == "error"
    assert second.pid == first.pid


def test_json_debug_logs_never_carry_the_token(
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    server: LocalWebSocketServer,
    token: str,
) -> None:
    # LogLevel is the template's ApplicationLogLevel: DEBUG puts awslambdaric's
    # handler on the root logger at DEBUG, so botocore's DEBUG lines go out too.
    debug_spec = load_function(parameter_overrides={"LogLevel": "DEBUG"})
    with RuntimeInvoker(debug_spec, function_env, secrets_manager.environment) as runtime:
        accepted = runtime.invoke({"message": {"action": "ping"}})
        # The server stops accepting the token: a rejected handshake, then a
        # refetch and a second one, all logged at DEBUG with their headers.
        server.token = "rotated-" + token[:8]
        rejected = runtime.invoke({"message": {"action": "ping"}})
        output = runtime.output

    assert accepted.payload["ok"] is True
    assert rejected.payload["error"]["type"] == "auth_rejected"
    assert token not in output
    lines = json_lines(output.splitlines())
    assert any(
        line.get("level") == "DEBUG"
        and line.get("logger", "").startswith("botocore")
        and "GetSecretValue" in line["message"]
        for line in lines
    )
    assert sum(line.get("message") == "> Authorization: [redacted]" for line in lines) >= 3


@pytest.mark.parametrize(
    ("event", "error_type", "message"),
    [
        ({"sleep": 30}, "Sandbox.Timedout", "Task timed out after 1.00 seconds"),
        ({"exit": 3}, "Runtime.ExitError", "Runtime exited with error: exit status 3"),
    ],
    ids=["timeout", "exit"],
)
def test_runtime_that_times_out_or_dies_is_replaced(
    probe_spec: FunctionSpec,
    function_env: dict[str, str],
    event: dict[str, Any],
    error_type: str,
    message: str,
) -> None:
    with RuntimeInvoker(probe_spec, function_env) as runtime:
        failed = runtime.invoke(event)
        after = runtime.invoke({})

    assert failed.outcome.kind == "error"
    assert failed.payload == {
        "errorType": error_type,
        "errorMessage": f"RequestId: {failed.outcome.request_id} Error: {message}",
    }
    assert after.outcome.kind == "response"
    assert after.payload["pid"] != failed.pid


@pytest.mark.parametrize("installed", [True, False], ids=["awslambdaric", "in-process"])
def test_invoke_command_says_which_runtime_it_used(
    installed: bool,
    function_env: dict[str, str],
    secrets_manager: LocalSecretsManager,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str],
) -> None:
    if not installed:
        monkeypatch.setattr(cli, "awslambdaric_version", lambda: None)
    env_vars = tmp_path / "env.json"
    env_vars.write_text(json.dumps({"Parameters": function_env}))

    status = cli.main(
        ["invoke", "--raw", "--event", str(EVENTS / "direct.json"), "--env-vars", str(env_vars)]
    )

    output = capfd.readouterr().out
    assert status == 0, output
    assert "--- direct.json: OK" in output
    expected = (
        "runtime: awslambdaric 4.2.2 (the AWS Lambda runtime interface client)"
        if installed
        else "runtime: in-process (awslambdaric not installed)"
    )
    assert output.splitlines()[0] == expected
    if installed:
        # The runtime's log lines are relayed before the result, as the in-process
        # handler writes them (a stream this test cannot capture once imported).
        assert output.index('"message":"exchange succeeded"') < output.index("--- direct.json")
