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

from local_stack.secrets_extension import LocalSecretsExtension
from local_stack.secrets_manager import LocalSecretsManager

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
