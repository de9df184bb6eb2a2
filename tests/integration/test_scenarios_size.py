"""Scenario sizes: the longest scenario with a reply for every step stays within
Lambda's response limit and a 128 MB function, and messages built from variables
count against the result's budget like the replies they came from.

The long scenario runs the handler in a fresh child process that imports only
what Lambda would; the child reports its own peak RSS (VmHWM), as in
test_memory.py.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.servers.hostile_servers import ScriptedServer

from .conftest import Invoke, child_outcome, sample

LAMBDA_MEMORY_MIB = 128
RESPONSE_LIMIT_BYTES = 6_000_000
MIB = 1024 * 1024
PAIRS = 500
PAD = 4400

CHILD = """
import json, sys
from ws_exchange.handler import lambda_handler

class Context:
    aws_request_id = "scenario-size"
    function_name = "ExchangeFunction"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ExchangeFunction"
    def get_remaining_time_in_millis(self):
        return 60_000

with open(sys.argv[1]) as file:
    event = json.load(file)
result = lambda_handler(event, Context())
answer = json.dumps(result, allow_nan=False).encode("utf-8")
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("RESULT " + json.dumps({"error": result["error"], "received": len(result["received"]),
                              "sent": result["sent"][-3:], "sent_count": len(result["sent"]),
                              "answer_bytes": len(answer), "peak_kib": peak}))
"""


def run_child(
    secrets_manager: LocalSecretsManager,
    token: str,
    script: Any,
    event: Any,
    tmp_path: Path,
    **variables: str,
) -> dict[str, Any]:
    """Run the handler on ``event`` in a fresh process against ``script``."""
    path = tmp_path / "event.json"
    path.write_text(json.dumps(event))
    return child_outcome(CHILD, [str(path)], secrets_manager, token, script, **variables)


def two_replies_each(connection: ServerConnection) -> None:
    """Answer each message with two replies of about 4.5 kB, echoing its seq."""
    for _ in range(PAIRS):
        message = json.loads(connection.recv())
        for half in (0, 1):
            connection.send(json.dumps({"seq": message["seq"], "half": half, "pad": "p" * PAD}))


def test_a_thousand_steps_with_a_thousand_replies_fit_the_response_and_128_mb(
    secrets_manager: LocalSecretsManager, token: str, tmp_path: Path
) -> None:
    steps: list[dict[str, Any]] = [{"send": {"seq": 0}}]
    for n in range(PAIRS):
        if n:
            steps.append({"send": {"seq": "{{next}}", "after": "seq {{next}}"}})
        steps.append({"receive": {"count": 2}, "extract": {"next": "sum([seq, `1`])"}})
    assert len(steps) == 2 * PAIRS == 1000

    outcome = run_child(
        secrets_manager,
        token,
        two_replies_each,
        {"steps": steps, "expect": ["length(received) == `1000`"]},
        tmp_path,
        MAX_RESULT_BYTES=str(5 * MIB),
    )

    assert outcome["error"] is None, outcome
    assert outcome["received"] == 2 * PAIRS
    assert outcome["sent_count"] == PAIRS
    assert outcome["sent"][-1]["seq"] == PAIRS - 1, "each send carried the extracted seq"
    assert outcome["sent"][-1]["after"] == f"seq {PAIRS - 1}"
    assert 2 * PAIRS * PAD < outcome["answer_bytes"] < RESPONSE_LIMIT_BYTES
    assert outcome["peak_kib"] < LAMBDA_MEMORY_MIB * 1024, outcome


def big_then_listen(size: int, seen: list[str]) -> Any:
    def script(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(json.dumps({"big": "b" * size}))
        for frame in connection:
            seen.append(str(frame))

    return script


@pytest.mark.parametrize(
    ("copies_per_message", "limit"),
    [(1, 4 * MIB), (2, 300_000)],
    ids=["many-sends", "one-send-over-the-budget"],
)
def test_messages_built_from_variables_are_charged_to_the_result_budget(
    run: Invoke, copies_per_message: int, limit: int
) -> None:
    seen: list[str] = []
    size = 200_000
    message = {f"copy{n}": "{{big}}" for n in range(copies_per_message)}
    steps = [
        {"send": "go"},
        {"receive": {"count": 1}, "extract": {"big": "big"}},
        *[{"send": message} for _ in range(30)],
    ]
    with ScriptedServer(big_then_listen(size, seen)) as server:
        result = run({"steps": steps}, WEBSOCKET_URI=server.uri, MAX_RESULT_BYTES=str(limit))

    assert result["ok"] is False
    assert result["error"]["type"] == "message_too_large", result["error"]
    assert "MAX_RESULT_BYTES" in result["error"]["message"]
    answer = len(json.dumps(result).encode())
    assert answer < limit + 64 * 1024, "the answer stays within the budget, not beyond it"
    sent_big = len(result["sent"]) - 1
    assert sent_big < 30
    # The message that went over the budget was not sent either.
    assert len(seen) == sent_big


def test_extracting_from_the_costliest_replies_stays_within_128_mb(
    secrets_manager: LocalSecretsManager, token: str, tmp_path: Path
) -> None:
    integers = "[" + ",".join(["1000"] * (MIB // 5 - 1)) + "]"
    deep_text = "[" * (MIB // 4) + "]" * (MIB // 4)
    deep_objects = '{"a":' * 5000 + "1" + "}" * 5000
    frames = [integers, deep_text, deep_objects]
    assert all(len(frame) <= MIB for frame in frames)

    def send(connection: ServerConnection) -> None:
        for frame in frames:
            connection.recv()
            connection.send(frame)

    steps = [
        {"send": "integers"},
        {
            "receive": {"count": 1},
            "extract": {
                "count": "length(@)",
                "sorted": "sort(@)",
                "top": "max(@)",
            },
        },
        {"send": {"count": "{{count}}", "top": "{{top}}"}},
        {"receive": {"count": 1}, "extract": {"deep": "length(@)"}},
        {"send": {"deep": "{{deep}}"}},
        {"receive": {"count": 1}, "extract": {"leaf": "a.a.a.a"}},
        {"expect": "vars.count == `209714` && vars.deep == `524288` && vars.top == `1000`"},
    ]

    outcome = run_child(
        secrets_manager,
        token,
        send,
        {"steps": steps},
        tmp_path,
        MAX_RESULT_BYTES=str(5 * MIB),
    )

    assert outcome["error"] is None, outcome
    assert outcome["received"] == 3
    assert outcome["answer_bytes"] < RESPONSE_LIMIT_BYTES
    assert outcome["peak_kib"] < LAMBDA_MEMORY_MIB * 1024, outcome


def test_many_variables_copying_a_huge_reply_stay_within_128_mb(
    secrets_manager: LocalSecretsManager, token: str, tmp_path: Path
) -> None:
    integers = "[" + ",".join(["1000"] * (MIB // 5 - 1)) + "]"

    def send(connection: ServerConnection) -> None:
        for _ in range(3):
            connection.recv()
            connection.send(integers)

    # Each projection builds a new list of 200 000 references: 1.6 MB apiece.
    extract = {f"copy{n}": "[*]" for n in range(100)}
    steps: list[dict[str, Any]] = []
    for n in range(3):
        steps += [{"send": f"m{n}"}, {"receive": {"count": 1}, "extract": extract}]

    outcome = run_child(
        secrets_manager, token, send, {"steps": steps}, tmp_path, MAX_RESULT_BYTES=str(5 * MIB)
    )

    assert outcome["peak_kib"] < LAMBDA_MEMORY_MIB * 1024, outcome
    assert outcome["error"]["type"] == "message_too_large", outcome
    assert "variable copy" in outcome["error"]["message"]
    assert outcome["received"] == 1, "stopped at the first step's copies"


@pytest.mark.parametrize("distinct_names", [False, True], ids=["one-name", "new-names"])
def test_a_replaced_variable_gives_its_memory_back(run: Invoke, distinct_names: bool) -> None:
    # Each extraction multiplies a 50 kB reply eightfold: about 7 MB of estimated
    # memory, ten times. Under one name only the latest copy is held.
    reply = json.dumps([1000] * 10_000)
    steps: list[dict[str, Any]] = []
    for n in range(10):
        name = f"copy{n}" if distinct_names else "copy"
        steps += [
            {"send": f"m{n}"},
            {"receive": {"count": 1}, "extract": {name: "[*].[@, @, @, @, @, @, @, @]"}},
        ]

    def answer(connection: ServerConnection) -> None:
        for _ in range(10):
            connection.recv()
            connection.send(reply)

    with ScriptedServer(answer) as server:
        result = run({"steps": steps}, WEBSOCKET_URI=server.uri)

    if distinct_names:
        assert result["ok"] is False
        assert result["error"]["type"] == "message_too_large", result["error"]
        assert "variable copy" in result["error"]["message"]
        assert len(result["received"]) < 10
    else:
        assert result["ok"] is True, result["error"]
        assert len(result["received"]) == 10


def test_messages_built_from_variables_never_push_an_api_answer_past_6_mb(
    run: Invoke,
) -> None:
    # Quotes take two bytes in the result's JSON and four once it is an API body.
    quotes = '"' * 150_000
    steps: list[dict[str, Any]] = [
        {"send": "go"},
        {"receive": {"count": 1}, "extract": {"q": "@"}},
        *[{"send": "{{q}}"} for _ in range(30)],
    ]

    def answer(connection: ServerConnection) -> None:
        connection.recv()
        connection.send(json.dumps(quotes))

    event = {
        **sample("api-http.json"),
        "body": json.dumps({"steps": steps}),
        "isBase64Encoded": False,
    }
    with ScriptedServer(answer) as server:
        response = run(event, WEBSOCKET_URI=server.uri, MAX_RESULT_BYTES=str(5 * MIB))

    size = len(json.dumps(response, ensure_ascii=False).encode())
    assert size <= RESPONSE_LIMIT_BYTES, f"{size} bytes"
    result = json.loads(response["body"])
    assert result["error"]["type"] == "message_too_large", result["error"]
    assert response["statusCode"] == 502
    assert result["sent"][0] == "go", "the messages sent are dropped from the end"
