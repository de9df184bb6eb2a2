"""The local stack's command line as a user meets it: ``make demo``, ``make stack``,
``make invoke`` (``python -m local_stack demo|serve|invoke``).

Every mistake in a file or an option is one line on stderr and a non-zero
exit; ``serve`` runs as a real process, stopped by SIGINT as Ctrl-C does.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import boto3
import pytest

from local_stack import __main__ as cli
from local_stack.console import human_line, pretty
from local_stack.credentials.stack import ENDPOINTS
from local_stack.protocols import PROTOCOL_PORTS, protocol_env_file, protocol_events
from local_stack.runtime.invoker import (
    EVENTS,
    ROOT,
    FunctionSpec,
    apply_env_vars,
    parse_parameter_overrides,
)
from local_stack.scenarios import (
    CA_BUNDLE_FILE,
    SCENARIO_PORT,
    SCENARIO_TLS_PORT,
    scenario_env_file,
    scenario_events,
)
from local_stack.serve import (
    CREDENTIAL_PORTS,
    SECRETS_MANAGER_PORT,
    TOKEN_ENDPOINT_PORT,
    mode_env_file,
    read_stack_environment,
)

DIRECT = str(EVENTS / "direct.json")


def one_line_error(capsys: pytest.CaptureFixture[str]) -> str:
    """What the command wrote to stderr, which must be exactly one line."""
    lines = capsys.readouterr().err.splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


@pytest.fixture
def env_file(tmp_path: Path, function_env: dict[str, str]) -> Path:
    """An env-vars file naming the live local stack, in SAM's format."""
    return write(tmp_path / "env.json", json.dumps({"Parameters": function_env}))


# --- mistakes: one line, non-zero exit -------------------------------------------


def test_a_missing_event_file_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nope.json"

    assert cli.main(["invoke", "--event", str(missing)]) == cli.USAGE
    assert one_line_error(capsys) == f"python -m local_stack invoke: {missing}: no such file"


def test_a_malformed_event_file_says_where_the_json_breaks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = '{"message": {"action": "ping"},\n}'
    event = write(tmp_path / "event.json", text)
    # The parser's own reason and place (Python 3.13 names the trailing comma).
    with pytest.raises(json.JSONDecodeError) as parsed:
        json.loads(text)

    assert cli.main(["invoke", "--event", str(event)]) == cli.USAGE
    error = one_line_error(capsys)
    assert f"{event} is not valid JSON" in error
    assert parsed.value.msg in error
    assert f"(line {parsed.value.lineno}, column {parsed.value.colno})" in error


def test_a_malformed_env_vars_file_is_named_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(tmp_path / "env.json", '{"ExchangeFunction": {"WEBSOCKET_URI": }}')

    assert cli.main(["invoke", "--event", DIRECT, "--env-vars", str(env_vars)]) == cli.USAGE
    assert f"{env_vars} is not valid JSON" in one_line_error(capsys)


def test_an_env_vars_file_must_be_an_object_of_function_names(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(tmp_path / "env.json", '["WEBSOCKET_URI"]')

    assert cli.main(["invoke", "--event", DIRECT, "--env-vars", str(env_vars)]) == cli.USAGE
    assert "must be a JSON object of function names" in one_line_error(capsys)


def test_an_unknown_function_name_in_the_env_vars_file_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(tmp_path / "env.json", '{"ExchangeFunktion": {"MAX_ATTEMPTS": "1"}}')

    assert cli.main(["invoke", "--event", DIRECT, "--env-vars", str(env_vars)]) == cli.USAGE
    error = one_line_error(capsys)
    assert "'ExchangeFunktion'" in error
    assert "(ExchangeFunction)" in error


def test_a_variable_the_template_does_not_declare_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(tmp_path / "env.json", '{"ExchangeFunction": {"REPLY_TIMEOUT": "5"}}')

    assert cli.main(["invoke", "--event", DIRECT, "--env-vars", str(env_vars)]) == cli.USAGE
    error = one_line_error(capsys)
    assert "sets REPLY_TIMEOUT for ExchangeFunction" in error
    assert "does not declare" in error


def test_log_level_in_the_env_vars_file_points_at_the_log_level_parameter(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(tmp_path / "env.json", '{"Parameters": {"LOG_LEVEL": "DEBUG"}}')

    assert cli.main(["invoke", "--event", DIRECT, "--env-vars", str(env_vars)]) == cli.USAGE
    assert "--parameter-overrides LogLevel=DEBUG" in one_line_error(capsys)


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ("LogLevel", "'LogLevel' is not Name=Value"),
        ("LogLevl=DEBUG", "the template has no parameter 'LogLevl'"),
        ("LogLevel=VERBOSE", "LogLevel must be one of TRACE, DEBUG, INFO, WARN, ERROR, FATAL"),
        ("ParameterKey=LogLevel,Value=DEBUG", "is not ParameterKey=Name,ParameterValue=Value"),
        ("LogLevel='DEBUG", "No closing quotation"),
    ],
)
def test_a_bad_parameter_override_is_one_line(
    overrides: str, complaint: str, capsys: pytest.CaptureFixture[str]
) -> None:
    status = cli.main(["invoke", "--event", DIRECT, "--parameter-overrides", overrides])

    assert status == cli.USAGE
    assert complaint in one_line_error(capsys)


def test_a_missing_option_is_one_line_not_a_usage_block(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["invoke"])

    assert exit_.value.code == cli.USAGE
    assert "the following arguments are required: --event/-e" in one_line_error(capsys)


def test_serve_on_a_port_in_use_is_one_line_and_exit_status_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env_vars = write(
            tmp_path / "env.json",
            json.dumps(
                {
                    "ExchangeFunction": {
                        "WEBSOCKET_URI": f"ws://127.0.0.1:{port}/v1",
                        "TOKEN_SECRET_ID": "demo/websocket-token",
                    }
                }
            ),
        )

        status = cli.main(
            ["serve", "--env-vars", str(env_vars), "--secrets-manager-port", "0",
             "--aws-env", str(tmp_path / "aws.json")]
        )  # fmt: skip

    assert status == 1
    assert f"port {port} on 127.0.0.1" in one_line_error(capsys)
    assert not (tmp_path / "aws.json").exists()


def test_serve_refuses_an_endpoint_it_cannot_be(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    env_vars = write(
        tmp_path / "env.json",
        json.dumps({"ExchangeFunction": {"WEBSOCKET_URI": "wss://stream.example.com/v1"}}),
    )

    assert cli.main(["serve", "--env-vars", str(env_vars)]) == cli.USAGE
    assert "must be ws://127.0.0.1:<port>/..." in one_line_error(capsys)


# --- SAM's conventions ---------------------------------------------------------


def test_parameter_overrides_take_both_of_sams_forms() -> None:
    overrides = parse_parameter_overrides(
        "LogLevel=DEBUG ParameterKey=ScheduleState,ParameterValue=DISABLED "
        'ScheduleExpression="rate(1 hour)"'
    )

    assert overrides == {
        "LogLevel": "DEBUG",
        "ScheduleState": "DISABLED",
        "ScheduleExpression": "rate(1 hour)",
    }


def test_function_key_overrides_the_parameters_key_which_overrides_the_template(
    spec: FunctionSpec,
) -> None:
    variables = apply_env_vars(
        spec,
        {
            "Parameters": {"MAX_ATTEMPTS": "5", "OPEN_TIMEOUT_SECONDS": "7"},
            "ExchangeFunction": {"MAX_ATTEMPTS": "2"},
        },
    )

    assert variables["MAX_ATTEMPTS"] == "2"
    assert variables["OPEN_TIMEOUT_SECONDS"] == "7"
    assert variables["REPLY_TIMEOUT_SECONDS"] == spec.environment["REPLY_TIMEOUT_SECONDS"]


def test_log_level_parameter_override_shows_debug_lines(
    env_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = ["invoke", "--event", DIRECT, "--env-vars", str(env_file)]

    assert cli.main(argv) == 0
    quiet = capfd.readouterr().out
    assert cli.main([*argv, "--parameter-overrides", "LogLevel=DEBUG"]) == 0
    verbose = capfd.readouterr().out

    assert not any(line.startswith("DEBUG") for line in quiet.splitlines()), quiet
    # websockets' handshake, through the function's own logger.
    assert "DEBUG   = connection is OPEN" in verbose, verbose


# --- readable output -------------------------------------------------------------


def test_invoke_prints_one_short_line_per_log_record_and_raw_json_with_raw(
    env_file: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    argv = ["invoke", "--event", DIRECT, "--env-vars", str(env_file)]

    assert cli.main(argv) == 0
    human = capfd.readouterr().out
    assert cli.main([*argv, "--raw"]) == 0
    raw = capfd.readouterr().out

    assert "INFO    exchange succeeded  ok=true trigger=direct" in human, human
    assert "METRIC  ExchangeSucceeded=1" in human, human
    assert "Found credentials" not in human
    assert '"message":"exchange succeeded"' not in human
    assert '"message":"exchange succeeded"' in raw
    assert '"_aws":' in raw
    assert "--- direct.json: OK" in human
    assert "--- direct.json: OK" in raw


def test_a_record_becomes_level_message_and_its_own_fields() -> None:
    record = {
        "level": "ERROR",
        "location": "record:70",
        "message": "exchange failed",
        "timestamp": "2026-11-25 13:36:01,086+0000",
        "service": "websocket-exchange",
        "cold_start": False,
        "function_request_id": "550968c8",
        "error_type": "connect_failed",
        "retryable": True,
        "timings_ms": {"secret": 1.5, "total": 3.25},
        "exception": "Traceback (most recent call last):\n  File x\nOSError: refused",
    }

    assert human_line(json.dumps(record)) == (
        "ERROR   exchange failed  error_type=connect_failed retryable=true "
        "timings_ms=secret:1.5,total:3.25\n"
        "        Traceback (most recent call last):\n"
        "          File x\n"
        "        OSError: refused"
    )


def test_botocore_credential_notes_are_dropped_and_other_lines_pass_unchanged() -> None:
    found = {"level": "INFO", "logger": "botocore.credentials", "message": "Found credentials"}
    warning = {"level": "WARNING", "logger": "botocore.credentials", "message": "expired"}

    assert human_line(json.dumps(found)) is None
    assert human_line(json.dumps(warning)) == "WARNING botocore.credentials: expired"
    assert human_line("START of something") == "START of something"
    assert human_line('{"not": "a record"}') == '{"not": "a record"}'


def test_an_emf_document_becomes_one_metric_line() -> None:
    emf = {
        "_aws": {
            "Timestamp": 1,
            "CloudWatchMetrics": [
                {
                    "Namespace": "WebSocketExchange",
                    "Dimensions": [["service", "ErrorType"]],
                    "Metrics": [{"Name": "ExchangeFailedByType", "Unit": "Count"}],
                }
            ],
        },
        "service": "websocket-exchange",
        "ErrorType": "reply_timeout",
        "ExchangeFailedByType": [1.0],
    }

    assert human_line(json.dumps(emf)) == (
        "METRIC  ExchangeFailedByType=1  (ErrorType=reply_timeout)"
    )


def test_pretty_keeps_small_objects_on_one_line() -> None:
    result: dict[str, Any] = {"ok": True, "received": [{"type": "pong"}], "error": None}

    assert pretty(result, width=30) == (
        '{\n  "ok": true,\n  "received": [{"type": "pong"}],\n  "error": null\n}'
    )
    assert json.loads(pretty(result, width=30)) == result


# --- make stack + make invoke ------------------------------------------------------


@pytest.fixture
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def stack(tmp_path: Path, free_port: int) -> Iterator[tuple[subprocess.Popen[str], Path, Path]]:
    """``serve`` as a process of its own, up once it says it is ready."""
    env_vars = write(
        tmp_path / "env.json",
        json.dumps(
            {
                "ExchangeFunction": {
                    "WEBSOCKET_URI": f"ws://127.0.0.1:{free_port}/v1",
                    "TOKEN_SECRET_ID": "demo/websocket-token",
                    "ALLOW_INSECURE_WEBSOCKET": "true",
                    "REPLY_TIMEOUT_SECONDS": "5",
                }
            }
        ),
    )
    aws_env = tmp_path / "stack" / "aws.json"
    # Free ports throughout, so that a `make stack` running meanwhile changes nothing.
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "serve", "--env-vars", str(env_vars),
         "--secrets-manager-port", "0", "--aws-env", str(aws_env), "--free-ports"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("ready:"):
            break
    assert banner and banner[-1].startswith("ready:"), "".join(banner)
    try:
        yield process, env_vars, aws_env
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_invoke_in_a_second_terminal_succeeds_against_serve_and_ctrl_c_stops_it(
    stack: tuple[subprocess.Popen[str], Path, Path],
) -> None:
    process, env_vars, aws_env = stack
    # A fresh shell: none of the test session's endpoints or credentials.
    clean = {name: value for name, value in os.environ.items() if not name.startswith("AWS_")}

    invoked = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", "--event", DIRECT,
         "--env-vars", str(env_vars), "--aws-env", str(aws_env)],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    process.send_signal(signal.SIGINT)
    rest, _ = process.communicate(timeout=10)

    assert invoked.returncode == 0, invoked.stdout + invoked.stderr
    assert "--- direct.json: OK" in invoked.stdout
    assert '{"type": "subscribed", "channel": "prices"}' in invoked.stdout
    assert process.returncode == 0, rest
    assert rest.strip().endswith("local stack stopped")
    assert not aws_env.exists()
    assert not (aws_env.parent / CA_BUNDLE_FILE).exists()


def test_invoke_says_to_start_the_stack_when_the_env_file_names_it_but_none_runs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    cli._local_stack_hint({"WEBSOCKET_URI": "ws://127.0.0.1:8765/v1"}, {"HOME": "/root"})
    cli._local_stack_hint(
        {"WEBSOCKET_URI": "ws://127.0.0.1:8765/v1"},
        {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "http://127.0.0.1:4566"},
    )
    cli._local_stack_hint({"WEBSOCKET_URI": "wss://stream.example.com/v1"}, {})

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert "start `make stack` in another terminal first" in lines[0]


def test_a_stack_file_left_by_a_stopped_stack_is_ignored(tmp_path: Path) -> None:
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    stale = write(
        tmp_path / "aws.json",
        json.dumps({"pid": gone.pid, "environment": {"AWS_ENDPOINT_URL_SECRETS_MANAGER": "x"}}),
    )
    live = write(
        tmp_path / "live.json",
        json.dumps({"pid": os.getpid(), "environment": {"AWS_REGION": "us-east-1"}}),
    )

    assert read_stack_environment(stale) is None
    assert read_stack_environment(live) == {"AWS_REGION": "us-east-1"}


# --- make stack + make invoke ENV=events/env-<mode>.json -----------------------------


@pytest.fixture(scope="module")
def mode_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """``serve`` as a process of its own, every port free (a `make stack` may be running
    on the fixed ones), writing each mode's env-vars file for the ports it took; yields
    the file ``invoke --aws-env`` reads and the folder of env files. Stopped with
    SIGINT, as Ctrl-C does."""
    folder = tmp_path_factory.mktemp("mode-stack")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        bearer_port = probe.getsockname()[1]
    env_vars = write(
        folder / "env.json",
        json.dumps(
            {
                "ExchangeFunction": {
                    "WEBSOCKET_URI": f"ws://127.0.0.1:{bearer_port}/v1",
                    "TOKEN_SECRET_ID": "demo/websocket-token",
                }
            }
        ),
    )
    aws_env = folder / "aws.json"
    env_folder = folder / "modes"
    process = subprocess.Popen(
        [sys.executable, "-m", "local_stack", "serve", "--env-vars", str(env_vars),
         "--secrets-manager-port", "0", "--aws-env", str(aws_env), "--free-ports",
         "--mode-env-dir", str(env_folder)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    assert process.stdout is not None
    banner = []
    for line in process.stdout:
        banner.append(line)
        if line.startswith("ready:"):
            break
    try:
        if not (banner and banner[-1].startswith("ready:")):
            process.wait(timeout=10)
            status = process.returncode
            pytest.fail(f"serve did not start (exit status {status}): {''.join(banner)}")
        yield aws_env, env_folder
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.communicate()


_PORT = re.compile(r"127\.0\.0\.1:\d+")


@pytest.mark.parametrize("name", ENDPOINTS)
def test_invoke_with_a_modes_env_file_succeeds_against_serve(
    name: str, mode_stack: tuple[Path, Path]
) -> None:
    aws_env, env_folder = mode_stack
    env_file = mode_env_file(name, env_folder)
    # What serve wrote is events/env-<mode>.json but for the ports it took.
    written = env_file.read_text()
    assert _PORT.sub("PORT", written) == _PORT.sub("PORT", mode_env_file(name).read_text())
    uri = json.loads(written)["ExchangeFunction"]["WEBSOCKET_URI"]
    assert uri != json.loads(mode_env_file(name).read_text())["ExchangeFunction"]["WEBSOCKET_URI"]
    # A fresh shell: none of the test session's endpoints or credentials.
    clean = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}

    invoked = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", "--event", DIRECT,
         "--env-vars", str(env_file), "--aws-env", str(aws_env)],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    output = invoked.stdout + invoked.stderr
    assert invoked.returncode == 0, output
    assert "--- direct.json: OK" in invoked.stdout
    assert '{"type": "subscribed", "channel": "prices"}' in invoked.stdout
    assert f'"endpoint": "{uri}"' in invoked.stdout


def test_every_credential_mode_has_an_env_file_on_its_fixed_port() -> None:
    for name in ENDPOINTS:
        variables = json.loads(mode_env_file(name).read_text())["ExchangeFunction"]

        assert variables["WEBSOCKET_URI"].endswith(f"://127.0.0.1:{CREDENTIAL_PORTS[name]}/v1")
        if name == "oauth2_client_credentials":
            assert variables["OAUTH2_TOKEN_URL"].startswith(
                f"http://127.0.0.1:{TOKEN_ENDPOINT_PORT}/"
            )
    assert sorted(EVENTS.glob("env-*.json")) == sorted(mode_env_file(name) for name in ENDPOINTS)


def test_no_two_servers_of_make_stack_share_a_port() -> None:
    bearer = urlsplit(
        json.loads((EVENTS / "env.json").read_text())["ExchangeFunction"]["WEBSOCKET_URI"]
    )
    ports = [
        bearer.port,
        SECRETS_MANAGER_PORT,
        *CREDENTIAL_PORTS.values(),
        TOKEN_ENDPOINT_PORT,
        SCENARIO_PORT,
        SCENARIO_TLS_PORT,
        *PROTOCOL_PORTS.values(),
    ]

    assert len(set(ports)) == len(ports), sorted(ports)


# --- make stack + make invoke EVENT=events/scenarios/<name>.json ---------------------


@pytest.mark.parametrize("event", scenario_events(), ids=lambda path: path.stem)
def test_invoke_with_a_scenario_example_succeeds_against_serve(
    event: Path, mode_stack: tuple[Path, Path]
) -> None:
    aws_env, env_folder = mode_stack
    env_file = scenario_env_file(event.stem, env_folder / "scenarios")
    # What serve wrote is events/scenarios/env-<name>.json but for the port it took.
    written = env_file.read_text()
    assert _PORT.sub("PORT", written) == _PORT.sub(
        "PORT", scenario_env_file(event.stem).read_text()
    )
    uri = json.loads(written)["ExchangeFunction"]["WEBSOCKET_URI"]
    # A fresh shell: none of the test session's endpoints, credentials or CAs.
    clean = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("AWS_") and key != "SSL_CERT_FILE"
    }

    invoked = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", "--event", str(event),
         "--env-vars", str(env_file), "--aws-env", str(aws_env)],
        cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    output = invoked.stdout + invoked.stderr
    assert invoked.returncode == 0, output
    assert f"--- {event.name}: OK" in invoked.stdout
    assert f'"endpoint": "{uri.partition("?")[0]}"' in invoked.stdout


# --- make stack + make invoke EVENT=events/protocols/<name>.json ---------------------


@pytest.mark.parametrize("event", protocol_events(), ids=lambda path: path.stem)
def test_invoke_with_a_protocol_example_succeeds_against_serve(
    event: Path, mode_stack: tuple[Path, Path]
) -> None:
    aws_env, env_folder = mode_stack
    env_file = protocol_env_file(event.stem, env_folder / "protocols")
    # What serve wrote is events/protocols/env-<name>.json but for the port it took.
    written = env_file.read_text()
    original = protocol_env_file(event.stem).read_text()
    assert _PORT.sub("PORT", written) == _PORT.sub("PORT", original)
    uri = json.loads(written)["ExchangeFunction"]["WEBSOCKET_URI"]
    assert uri != json.loads(original)["ExchangeFunction"]["WEBSOCKET_URI"]

    invoked = subprocess.run(
        [sys.executable, "-m", "local_stack", "invoke", "--event", str(event),
         "--env-vars", str(env_file), "--aws-env", str(aws_env)],
        cwd=ROOT, env=_clean_shell(), capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip

    output = invoked.stdout + invoked.stderr
    assert invoked.returncode == 0, output
    assert f"--- {event.name}: OK" in invoked.stdout
    assert f'"endpoint": "{uri}"' in invoked.stdout


# --- make secret, make invoke PARAMS=... ------------------------------------------


def _make(*arguments: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``make`` in the repository, with this interpreter and without the venv step."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("make is not installed")
    return subprocess.run(
        [make, "--no-print-directory", *arguments, f"PY={sys.executable}", "STAMP="],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def _clean_shell() -> dict[str, str]:
    """A fresh shell: none of the test session's endpoints or credentials."""
    return {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}


def test_make_secret_stores_the_value_unchanged_in_the_running_stack(
    mode_stack: tuple[Path, Path],
) -> None:
    aws_env, _ = mode_stack
    value = """{"token": "it's a $HOME \\"quoted\\" `value`; & | \\\\ ok"}"""

    made = _make(
        "secret", f"STACK_AWS_ENV={aws_env}", "NAME=my/own-token", f"VALUE={value}",
        env=_clean_shell(),
    )  # fmt: skip

    assert made.returncode == 0, made.stdout + made.stderr
    assert "my/own-token" in made.stdout
    assert "$HOME" not in made.stdout + made.stderr, "the value is never printed"
    stack = read_stack_environment(aws_env)
    assert stack is not None
    client = boto3.client(
        "secretsmanager",
        endpoint_url=stack["AWS_ENDPOINT_URL_SECRETS_MANAGER"],
        region_name=stack["AWS_REGION"],
        aws_access_key_id=stack["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=stack["AWS_SECRET_ACCESS_KEY"],
    )
    assert client.get_secret_value(SecretId="my/own-token")["SecretString"] == value

    # Again: a new current value, not an error.
    again = _make(
        "secret", f"STACK_AWS_ENV={aws_env}", "NAME=my/own-token", "VALUE=second",
        env=_clean_shell(),
    )  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert client.get_secret_value(SecretId="my/own-token")["SecretString"] == "second"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["NAME=my/token"], "VALUE="),
        (["VALUE=abc"], "NAME="),
        (["NAME=my token", "VALUE=abc"], "secret name"),
    ],
)
def test_make_secret_without_a_name_or_value_says_what_it_needs(
    tmp_path: Path, arguments: list[str], says: str
) -> None:
    live = write(
        tmp_path / "aws.json",
        json.dumps({"pid": os.getpid(), "environment": {"AWS_REGION": "us-east-1"}}),
    )
    made = _make("secret", f"STACK_AWS_ENV={live}", *arguments, env=_clean_shell())

    assert made.returncode == 2
    # One line from us, then make's own "*** [Makefile:...] Error 2".
    line, made_says = made.stderr.splitlines()
    assert says in line and "Error 2" in made_says


def test_make_secret_without_a_running_stack_says_to_start_it(tmp_path: Path) -> None:
    made = _make(
        "secret", f"STACK_AWS_ENV={tmp_path / 'none.json'}", "NAME=my/token", "VALUE=abc",
        env=_clean_shell(),
    )  # fmt: skip

    assert made.returncode == 2
    line, _ = made.stderr.splitlines()
    assert "make stack" in line


def test_make_invoke_passes_params_with_quotes_unchanged(
    mode_stack: tuple[Path, Path], tmp_path: Path
) -> None:
    # The message mode's success expression compares with a quoted string: without its
    # quotes it compares two fields, never matches, and the run ends in a reply timeout.
    aws_env, env_folder = mode_stack
    variables = json.loads(mode_env_file("message", env_folder).read_text())["ExchangeFunction"]
    success, failure = variables.pop("AUTH_SUCCESS"), variables.pop("AUTH_FAILURE")
    assert "'" in success
    variables["REPLY_TIMEOUT_SECONDS"] = "2"
    env_file = write(tmp_path / "env.json", json.dumps({"ExchangeFunction": variables}))
    params = f'AuthSuccess="{success}" AuthFailure="{failure}" LogLevel=INFO'

    made = _make(
        "invoke", f"STACK_AWS_ENV={aws_env}", f"EVENT={DIRECT}", f"ENV={env_file}",
        f"PARAMS={params}", env=_clean_shell(),
    )  # fmt: skip

    assert made.returncode == 0, made.stdout + made.stderr
    assert "--- direct.json: OK" in made.stdout
    assert f"AuthSuccess: {success}" in made.stdout


def test_invoke_refuses_an_unset_parameter_overrides_variable(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("NO_SUCH_PARAMS", raising=False)
    status = cli.main(["invoke", "--event", DIRECT, "--parameter-overrides-env", "NO_SUCH_PARAMS"])

    assert status == cli.USAGE
    assert "NO_SUCH_PARAMS" in one_line_error(capsys)


def test_make_secret_ignores_a_name_from_the_shell(tmp_path: Path) -> None:
    # WSL exports NAME (the host name): it must not become the secret's name.
    live = write(
        tmp_path / "aws.json",
        json.dumps({"pid": os.getpid(), "environment": {"AWS_REGION": "us-east-1"}}),
    )
    made = _make(
        "secret", f"STACK_AWS_ENV={live}", "VALUE=abc", env={**_clean_shell(), "NAME": "host"}
    )

    assert made.returncode == 2
    assert "NAME=" in made.stderr.splitlines()[0]
