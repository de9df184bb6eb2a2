"""Command line of the local stack: ``python -m local_stack demo|invoke``."""

from __future__ import annotations

import argparse
import json
import secrets
import sys
from pathlib import Path
from typing import Any

from .invoker import ROOT, TEMPLATE, apply_env_vars, environment, invoke, load_function, read_json

EVENTS = ROOT / "events"
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
        with environment(secrets_manager.environment):
            for event_file in sorted(EVENTS.glob("*.json")):
                if event_file.name == "env.json":
                    continue
                outcome = invoke(spec, read_json(event_file), variables)
                results.append(_print_outcome(event_file.name, outcome))
    print(f"demo: {sum(results)} of {len(results)} sample events succeeded")
    return 0 if results and all(results) else 1


def invoke_one(template: Path, event: Path, env_vars: Path | None) -> int:
    """Invoke once against whatever endpoint and secret the env file names."""
    spec = load_function(template)
    variables = apply_env_vars(spec, read_json(env_vars) if env_vars else {})
    return 0 if _print_outcome(event.name, invoke(spec, read_json(event), variables)) else 1


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
