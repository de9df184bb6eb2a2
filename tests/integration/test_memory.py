"""Peak memory stays within a 128 MB function whatever a server sends.

The handler runs in a fresh child process that imports only what Lambda would
(the handler, boto3), against a scripted server sending the costliest JSON there
is per byte: containers and tiny values, at the size limits. The child reports
its own peak RSS (VmHWM).
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from websockets.sync.server import ServerConnection

from local_stack.aws.secrets_manager import LocalSecretsManager

from .conftest import child_outcome

LAMBDA_MEMORY_MIB = 128

CHILD = """
import json, sys
from ws_exchange.handler import lambda_handler

class Context:
    aws_request_id = "memory"
    function_name = "ExchangeFunction"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ExchangeFunction"
    def get_remaining_time_in_millis(self):
        return 30_000

result = lambda_handler({"messages": ["go"] * int(sys.argv[1]), "expected_replies": 1}, Context())
json.dumps(result, allow_nan=False).encode("utf-8")
peak = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM:"))
print("RESULT " + json.dumps({"error": result["error"], "kept": len(result["received"]),
                              "peak_kib": peak}))
"""

MIB = 1024 * 1024
FLOODS = {
    # 1 MiB frames: empty lists, empty objects, small integers, one-letter strings.
    "empty-lists": "[" + ",".join(["[]"] * (MIB // 3 - 1)) + "]",
    "empty-objects": "[" + ",".join(["{}"] * (MIB // 3 - 1)) + "]",
    "integers": "[" + ",".join(["1000"] * (MIB // 5 - 1)) + "]",
    "strings": "[" + ",".join(['"ab"'] * (MIB // 5 - 1)) + "]",
}
ORDINARY = json.dumps(
    [{"type": "update", "channel": "prices", "seq": n, "price": 123.45} for n in range(16_000)],
    separators=(",", ":"),
)


def run_child(
    secrets_manager: LocalSecretsManager, token: str, script: Any, *, messages: int
) -> dict[str, Any]:
    """Run the handler in a fresh process against ``script``; its outcome and peak RSS."""
    return child_outcome(
        CHILD, [str(messages)], secrets_manager, token, script, MAX_RESULT_BYTES=str(5 * MIB)
    )


@pytest.mark.parametrize("flood", sorted(FLOODS))
def test_the_costliest_replies_stay_within_128_mb(
    secrets_manager: LocalSecretsManager, token: str, flood: str
) -> None:
    frame = FLOODS[flood]
    assert len(frame) <= MIB

    def send(connection: ServerConnection) -> None:
        for _ in range(8):
            connection.recv()
            connection.send(frame)

    outcome = run_child(secrets_manager, token, send, messages=8)
    assert outcome["peak_kib"] < LAMBDA_MEMORY_MIB * 1024, outcome


def test_four_mib_of_ordinary_replies_are_kept_within_128_mb(
    secrets_manager: LocalSecretsManager, token: str
) -> None:
    assert 0.9 * MIB < len(ORDINARY) <= MIB

    def send(connection: ServerConnection) -> None:
        for _ in range(8):
            connection.recv()
            connection.send(ORDINARY)

    outcome = run_child(secrets_manager, token, send, messages=4)
    assert outcome["error"] is None, outcome
    assert outcome["kept"] == 4
    assert outcome["peak_kib"] < LAMBDA_MEMORY_MIB * 1024, outcome
