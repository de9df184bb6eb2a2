"""Command line of the local stack: ``python -m local_stack demo|invoke``."""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .invoker import (
    EVENTS,
    TEMPLATE,
    FunctionSpec,
    apply_env_vars,
    environment,
    invoke,
    load_function,
    read_json,
)
from .runtime import RuntimeInvoker, awslambdaric_version

DEMO_SECRET_NAME = "demo/websocket-token"


def _print_outcome(name: str, outcome: Any) -> bool:
    """Print one invocation's answer; return whether it succeeded."""
    if isinstance(outcome, dict) and "statusCode" in outcome:
        ok = bool(outcome["statusCode"] == 200)
        shown = {**outcome, "body": json.loads(outcome["body"])}
    else:
        ok = isinstance(outcome, dict) and outcome.get("ok") is True
        shown = outcome
    print(f"--- {name}: {'OK' if ok else 'FAILED'}", flush=True)
    print(json.dumps(shown, indent=2), flush=True)
    return ok


@contextmanager
def _invoker(
    spec: FunctionSpec, variables: Mapping[str, str], process_environment: Mapping[str, str]
) -> Iterator[Callable[[Any], Any]]:
    """``event -> outcome``: inside AWS's runtime client where it is installed
    (a Linux-only wheel), else in this process."""
    version = awslambdaric_version()
    if version is None:
        print("runtime: in-process (awslambdaric not installed)", flush=True)
        with environment(process_environment):
            yield lambda event: invoke(spec, event, variables)
        return
    print(f"runtime: awslambdaric {version} (the AWS Lambda runtime interface client)", flush=True)
    with RuntimeInvoker(spec, variables, process_environment) as runtime:

        def run(event: Any) -> Any:
            invocation = runtime.invoke(event)
            for line in invocation.log_lines:
                # The runtime's text-format errors join their lines with "\r" for CloudWatch.
                print(line.replace("\r", "\n"), flush=True)
            return invocation.payload

        yield run


def demo(template: Path) -> int:
    """Start the local stack and run every sample event through the handler."""
    from .secrets_manager import LocalSecretsManager
    from .websocket_server import LocalWebSocketServer

    token = secrets.token_urlsafe(32)
    spec = load_function(template)
    base = apply_env_vars(spec, read_json(EVENTS / "env.json"))
    with LocalSecretsManager() as secrets_manager, LocalWebSocketServer(token) as server:
        secret_arn = secrets_manager.put_secret(DEMO_SECRET_NAME, json.dumps({"token": token}))
        variables = {
            **base,
            "WEBSOCKET_URI": server.uri + "/v1",
            "TOKEN_SECRET_ID": secret_arn,
            "ALLOW_INSECURE_WEBSOCKET": "true",
        }
        print(
            f"local stack: Secrets Manager {secrets_manager.endpoint_url}, WebSocket {server.uri}"
        )
        results = []
        with _invoker(spec, variables, secrets_manager.environment) as run:
            for event_file in sorted(EVENTS.glob("*.json")):
                if event_file.name == "env.json":
                    continue
                results.append(_print_outcome(event_file.name, run(read_json(event_file))))
    print(f"demo: {sum(results)} of {len(results)} sample events succeeded")
    return 0 if results and all(results) else 1


def invoke_one(template: Path, event: Path, env_vars: Path | None) -> int:
    """Invoke once against whatever endpoint and secret the env file names."""
    spec = load_function(template)
    variables = apply_env_vars(spec, read_json(env_vars) if env_vars else {})
    # What the host's AWS SDK would use (profile, credentials, endpoints), as
    # ``sam local invoke`` passes them on; the runtime's own variables stay Lambda's.
    host = {
        name: value
        for name, value in os.environ.items()
        if (name.startswith("AWS_") and not name.startswith("AWS_LAMBDA_")) or name == "HOME"
    }
    with _invoker(spec, variables, host) as run:
        return 0 if _print_outcome(event.name, run(read_json(event))) else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m local_stack")
    parser.add_argument("--template", type=Path, default=TEMPLATE)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", help="run every sample event against the local stack")
    one = commands.add_parser("invoke", help="invoke once with an event and an env-vars file")
    one.add_argument("--event", type=Path, required=True)
    one.add_argument("--env-vars", type=Path)
    args = parser.parse_args(argv)
    if args.command == "demo":
        return demo(args.template)
    return invoke_one(args.template, args.event, args.env_vars)


if __name__ == "__main__":
    sys.exit(main())
