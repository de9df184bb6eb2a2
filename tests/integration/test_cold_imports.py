"""What a fresh interpreter imports on the ``extension`` secrets path: never boto3.

Each check runs in a child process, since this test process has long imported
boto3 for the local stack.
"""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

from local_stack.aws.secrets_extension import LocalSecretsExtension
from local_stack.aws.secrets_manager import LocalSecretsManager

SRC = Path(__file__).resolve().parents[2] / "src"

READ_THROUGH_THE_EXTENSION = """
import json, os, sys
from ws_exchange.secret_extension import ExtensionSecretStore
value = ExtensionSecretStore().get(
    os.environ["SECRET_NAME"], max_age=300, refresh=False, timeout=5.0
)
print(json.dumps({
    "text": value.text,
    "fresh": value.fresh,
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in ("boto3", "botocore")),
}))
"""


def test_reading_a_secret_through_the_extension_never_imports_boto3_or_botocore(
    secrets_manager: LocalSecretsManager,
) -> None:
    name = secrets_manager.put_secret(f"cold/{uuid.uuid4()}", "cold-token")
    with LocalSecretsExtension(secrets_manager.endpoint_url, secrets.token_urlsafe(16)) as ext:
        child = subprocess.run(
            [sys.executable, "-c", READ_THROUGH_THE_EXTENSION],
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(SRC),
                "SECRET_NAME": name,
                **ext.environment,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        calls = ext.calls

    assert child.returncode == 0, child.stderr
    outcome = json.loads(child.stdout)
    assert (outcome["text"], outcome["fresh"]) == ("cold-token", True)
    assert outcome["modules"] == []
    assert calls == 1


THE_HANDLER_THROUGH_THE_EXTENSION = """
import json, sys
from ws_exchange.handler import lambda_handler

class Context:
    aws_request_id = "cold-request"
    function_name = "ExchangeFunction"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:ExchangeFunction"
    def get_remaining_time_in_millis(self):
        return 10_000

result = lambda_handler({"message": {"action": "ping"}}, Context())
print("RESULT " + json.dumps({
    "ok": result["ok"],
    "received": result["received"],
    "modules": sorted(
        m for m in sys.modules
        if m.split(".")[0] in ("boto3", "botocore", "urllib3") or m == "botocore.auth"
    ),
}))
"""


def test_the_handler_on_the_extension_path_never_imports_the_sdk(
    secrets_manager: LocalSecretsManager, ws_server, token: str
) -> None:
    name = secrets_manager.put_secret(f"cold/{uuid.uuid4()}", json.dumps({"token": token}))
    with LocalSecretsExtension(secrets_manager.endpoint_url, secrets.token_urlsafe(16)) as ext:
        child = subprocess.run(
            [sys.executable, "-c", THE_HANDLER_THROUGH_THE_EXTENSION],
            env={
                "PATH": os.environ.get("PATH", ""),
                "PYTHONPATH": str(SRC),
                "WEBSOCKET_URI": ws_server.uri + "/v1",
                "ALLOW_INSECURE_WEBSOCKET": "true",
                "TOKEN_SECRET_ID": name,
                "SECRETS_SOURCE": "extension",
                "AWS_REGION": "us-east-1",
                **ext.environment,
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    assert child.returncode == 0, child.stderr
    line = next(line for line in child.stdout.splitlines() if line.startswith("RESULT "))
    outcome = json.loads(line[7:])
    assert outcome["ok"] is True, child.stdout
    assert outcome["received"] == [{"type": "pong"}]
    # Powertools' own package __init__ imports the bare botocore package (its
    # user-agent hook, ~1 ms); no client, session, signer or HTTP pool follows.
    assert [m for m in outcome["modules"] if m != "botocore"] == []
