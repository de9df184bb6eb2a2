"""Logs, metrics and token secrecy, read from everything a real process writes.

The handler runs in a child process (through the same invoker as ``make demo``)
so that stdout and stderr are captured whole, exactly as Lambda would ship
them to CloudWatch.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.runtime.invoker import ROOT
from local_stack.servers.hostile_servers import ScriptedServer
from local_stack.servers.websocket_server import closed_port_uri

SCRIPT = textwrap.dedent(
    """
    import json, logging, sys, traceback
    from local_stack.runtime.invoker import invoke, load_function

    if {root_debug}:
        # A deployer's root logger at DEBUG, as Lambda's AWS_LAMBDA_LOG_LEVEL sets up.
        logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)
    spec = load_function()
    for event, variables in json.load(sys.stdin):
        try:
            print("RESULT " + json.dumps(invoke(spec, event, variables)), flush=True)
        except Exception as exc:
            print("RAISED " + str(exc), flush=True)
            traceback.print_exc()
    """
)


def run_child(
    runs: list[tuple[Any, dict[str, str]]],
    secrets_manager: LocalSecretsManager,
    *,
    root_debug: bool = False,
    **env: str,
) -> tuple[list[Any], str]:
    """Run invocations in a fresh process; return results and all output."""
    child_env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("PYTEST")},
        **secrets_manager.environment,
        "PYTHONPATH": f"{ROOT / 'src'}{os.pathsep}{ROOT}",
        **env,
    }
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(root_debug=root_debug)],
        input=json.dumps(runs),
        capture_output=True,
        text=True,
        env=child_env,
        cwd=ROOT,
        timeout=60,
        check=True,
    )
    results = [
        json.loads(line[7:]) if line.startswith("RESULT ") else line[7:]
        for line in done.stdout.splitlines()
        if line.startswith(("RESULT ", "RAISED "))
    ]
    return results, done.stdout + done.stderr


def json_lines(output: str) -> list[dict[str, Any]]:
    lines = []
    for line in output.splitlines():
        if line.startswith("{"):
            try:
                lines.append(json.loads(line))
            except ValueError:
                continue
    return lines


@pytest.fixture
def failing_runs(function_env: dict[str, str], server) -> list[tuple[Any, dict[str, str]]]:
    return [
        ({"message": {"action": "ping"}}, function_env),
        (
            {},
            {
                **function_env,
                "WEBSOCKET_URI": server.uri + "/silent",
                "REPLY_TIMEOUT_SECONDS": "0.1",
            },
        ),
        ({}, {**function_env, "WEBSOCKET_URI": server.uri + "/status-404"}),
        (
            {},
            {
                **function_env,
                "WEBSOCKET_URI": closed_port_uri(),
                "MAX_ATTEMPTS": "1",
                "FAIL_ON_ERROR": "true",
            },
        ),
    ]


@pytest.mark.parametrize(
    ("knobs", "root_debug"),
    [
        ({"POWERTOOLS_LOG_LEVEL": "DEBUG"}, False),
        ({"LOG_LEVEL": "DEBUG"}, False),
        ({"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_FORMAT": "JSON"}, True),
        ({"POWERTOOLS_LOG_LEVEL": "DEBUG"}, True),
    ],
    ids=["powertools", "log_level", "lambda-root", "all"],
)
def test_token_never_written_at_debug(
    failing_runs, secrets_manager, token: str, knobs: dict[str, str], root_debug: bool
) -> None:
    runs = [
        (event, {**{k: v for k, v in env.items() if not k.endswith("LOG_LEVEL")}, **knobs})
        for event, env in failing_runs
    ]

    results, output = run_child(runs, secrets_manager, root_debug=root_debug)

    assert results[0]["ok"] is True
    assert [r["error"]["type"] for r in results[1:3]] == ["reply_timeout", "handshake_failed"]
    assert results[3].startswith("connect_failed: ")
    assert token not in output
    assert token not in json.dumps(results)
    # DEBUG output did appear: this is not secrecy by silence.
    assert '"level":"DEBUG"' in output or "DEBUG:" in output
    assert "Authorization: [redacted]" in output
    if root_debug:
        assert "GetSecretValue" in output


def test_one_summary_line_per_invocation_with_error_type(failing_runs, secrets_manager) -> None:
    _, output = run_child(failing_runs, secrets_manager)

    summaries = [
        line for line in json_lines(output) if line.get("message", "").startswith("exchange ")
    ]
    assert [(s["level"], s["ok"], s.get("error_type")) for s in summaries] == [
        ("INFO", True, None),
        ("ERROR", False, "reply_timeout"),
        ("ERROR", False, "handshake_failed"),
        ("ERROR", False, "connect_failed"),
    ]
    assert all(s["endpoint"].startswith("ws://127.0.0.1:") for s in summaries)
    assert all(
        {"secret", "connect", "exchange", "total"} <= set(s["timings_ms"]) for s in summaries
    )
    phases = {"dns", "tcp", "tls", "handshake", "first_reply", "close", "ping"}
    assert all(
        set(s["timings_ms"]) - {"secret", "connect", "exchange", "total"} <= phases
        for s in summaries
    )


def test_api_request_id_is_the_correlation_id(function_env, secrets_manager, server) -> None:
    event = json.loads((ROOT / "events" / "api-http.json").read_text())

    _, output = run_child([(event, function_env)], secrets_manager)

    summary = next(
        line for line in json_lines(output) if line.get("message") == "exchange succeeded"
    )
    assert summary["correlation_id"] == event["requestContext"]["requestId"]


def test_metrics_count_success_failure_by_type_and_cold_start(
    failing_runs, secrets_manager
) -> None:
    _, output = run_child(failing_runs, secrets_manager)

    documents = [line for line in json_lines(output) if "_aws" in line]
    names = [
        metric["Name"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
    assert names.count("ColdStart") == 1
    assert names.count("ExchangeSucceeded") == 1
    assert names.count("ExchangeFailed") == 3
    assert sorted(d["ErrorType"] for d in documents if "ErrorType" in d) == [
        "connect_failed",
        "handshake_failed",
        "reply_timeout",
    ]
    assert names.count("ConnectLatency") == 4
    assert all(
        d["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "WebSocketExchange" for d in documents
    )


def test_a_key_in_the_uris_query_string_never_reaches_the_debug_logs(
    function_env, secrets_manager, server
) -> None:
    key = "qs-key-Zk93hQ"
    variables = {**function_env, "WEBSOCKET_URI": f"{server.uri}/v1?api_key={key}&v=2"}
    knobs = {"LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}

    results, output = run_child([({}, {**variables, **knobs})], secrets_manager, root_debug=True)

    assert results[0]["ok"] is True, results
    assert "GET /v1?api_key=[redacted]" in output, "the request line is logged, scrubbed"
    assert key not in output
    assert key not in json.dumps(results)


def test_a_failed_expectation_is_counted_and_summarised(
    function_env, secrets_manager, server
) -> None:
    runs = [
        (
            {"message": {"action": "ping"}, "expect": ["received[0].type == 'x'", "`true`"]},
            function_env,
        ),
        ({"message": {"action": "ping"}, "expect": ["received[0].type == 'pong'"]}, function_env),
    ]

    results, output = run_child(runs, secrets_manager)

    assert [r["ok"] for r in results] == [False, True]
    documents = [line for line in json_lines(output) if "_aws" in line]
    names = [
        metric["Name"]
        for document in documents
        for directive in document["_aws"]["CloudWatchMetrics"]
        for metric in directive["Metrics"]
    ]
    assert names.count("ExpectationFailed") == 1
    summaries = [
        line for line in json_lines(output) if line.get("message", "").startswith("exchange ")
    ]
    assert [(s["checks_passed"], s["checks_failed"]) for s in summaries] == [(1, 1), (1, 0)]


@pytest.fixture
def scripted() -> Iterator[ScriptedServer]:
    with ScriptedServer() as server:
        yield server


def pieces_of(credential: str, length: int = 6) -> list[str]:
    """Every piece of ``credential`` of ``length`` characters."""
    return [credential[i : i + length] for i in range(len(credential) - length + 1)]


def test_no_piece_of_a_token_in_fragmented_or_elided_frames_at_debug(
    function_env, secrets_manager, scripted: ScriptedServer, token: str
) -> None:
    note = json.dumps({"note": f"your token is {token}"})
    cut = note.index(token) + len(token) // 2
    # websockets logs the first 48 characters of a long payload: 6 of them the token's.
    long = {"n": "x" * 34 + token + "y" * 400}

    def leak_in_frames(connection: ServerConnection) -> None:
        connection.recv()
        connection.send([note[:cut], note[cut:]])  # one message in two fragments
        connection.send(json.dumps(long))

    scripted.script = leak_in_frames
    variables = {
        **function_env,
        "WEBSOCKET_URI": scripted.uri,
        "EXPECTED_REPLIES": "2",
        "POWERTOOLS_LOG_LEVEL": "DEBUG",
    }

    results, output = run_child([({}, variables)], secrets_manager)

    assert results[0]["ok"] is True, results
    assert results[0]["received"] == [
        {"note": "your token is [redacted]"},
        {"n": "x" * 34 + "[redacted]" + "y" * 400},
    ]
    assert [piece for piece in pieces_of(token) if piece in output] == []
    frames = [line["message"] for line in json_lines(output) if "bytes" in line.get("message", "")]
    assert "< TEXT [redacted] [" in "\n".join(frames), "frames are logged, without payload"
    assert any(line.endswith(", continued]") for line in frames)


@pytest.mark.parametrize("key", ["a", "admin"])
def test_a_short_key_is_redacted_where_whole_and_corrupts_nothing_else(
    function_env, secrets_manager, scripted: ScriptedServer, key: str
) -> None:
    def answer(connection: ServerConnection) -> None:
        assert connection.request is not None
        connection.recv()
        connection.send(json.dumps({"type": "echo", "role": "admin", "message": "exchange"}))
        connection.send(json.dumps(connection.request.headers["X-API-Key"]))

    scripted.script = answer
    event = {"expect": ["received[0].role == 'admin'", "received[0].message == 'exchange'"]}
    runs = []
    # The key twice, then another short key: one warning for each key.
    for each in (key, key, key.upper()):
        secret = json.dumps({"token": each})
        variables = {
            **function_env,
            "WEBSOCKET_URI": scripted.uri,
            "TOKEN_SECRET_ID": secrets_manager.put_secret(f"test/{uuid.uuid4()}", secret),
            "AUTH_MODE": "header",
            "AUTH_HEADER": "X-API-Key",
            "EXPECTED_REPLIES": "2",
            "POWERTOOLS_LOG_LEVEL": "DEBUG",
        }
        runs.append((event, variables))

    results, output = run_child(runs, secrets_manager)

    for result in results:
        assert result["ok"] is True, result
        assert result["received"] == [
            {"type": "echo", "role": "admin", "message": "exchange"},
            "[redacted]",
        ]
    lines = json_lines(output)
    summaries = [line["message"] for line in lines if line.get("checks_passed") is not None]
    assert summaries == ["exchange succeeded"] * 3
    headers = [line["message"] for line in lines if "X-API-Key" in line.get("message", "")]
    assert headers == ["> X-API-Key: [redacted]"] * 3
    short = [line for line in lines if "shorter than 8 characters" in line.get("message", "")]
    assert [line["level"] for line in short] == ["WARNING"] * 2, "one warning per key"
    # The same words for either key: the warning cannot show it.
    assert short[0]["message"] == short[1]["message"]
