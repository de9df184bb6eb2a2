"""Command line of the local stack: ``python -m local_stack demo|invoke|serve``.

I/O at the edge: reads the template, events and env-vars files, starts the
local servers, prints what happened. A mistake in a file or an option is one
line on stderr and exit status 2; the function's own failure is exit status 1.

``secret`` (``make secret NAME=... VALUE=...``) stores a secret of your own in the
Secrets Manager of a running ``serve``, for an env-vars file's ``TOKEN_SECRET_ID``.

``demo`` (``make demo``) starts the local stack and every credential mode's
counterpart (:class:`~local_stack.credentials.stack.LocalCredentialStack`),
then runs, through the same runtime as Lambda's where it is installed:

1. every sample event in ``events/`` (the env-vars files ``env*.json`` aside),
   the synthetic-monitor examples included, against the bearer stack;
2. every scenario example in ``events/scenarios/``, each with the variables of
   its ``env-<name>.json`` pointed at the scenario server's port (``ws://``, or
   ``wss://`` with a certificate from a private CA the function trusts through
   ``SSL_CERT_FILE``);
3. every protocol preset example in ``events/protocols/`` (``PROTOCOL``
   ``graphql-transport-ws``, ``socketio``, ``appsync-events``), each with the variables
   of its ``env-<name>.json`` pointed at its counterpart's port and its credential
   stored as that file names it;
4. ``events/direct.json`` once per credential mode, each with the variables
   of its ``events/env-<mode>.json`` pointed at the counterpart's port, its
   secret stored as ``demo/<mode>``, and the counterpart's AWS credentials as
   the function's role credentials (what ``sigv4`` signs with);
5. a fleet: the bearer stack and every credential mode's endpoint, each as one
   target of a targets file (as ``local_stack/targets.json`` names them for
   ``make stack``), all run by one invocation, ``{"targets": "*"}``, concurrently.

Each answer is printed under a header (``--- direct.json: OK``,
``--- scenarios/login.json: OK``, ``--- protocols/graphql.json: OK``,
``--- AUTH_MODE=basic: OK``); the last line counts them all (``demo: 26 of 26
exchanges succeeded``), and the exit status is 1 if any failed. ``--raw`` prints
the function's log lines as CloudWatch gets them.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import secrets
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from local_stack.console import LineFilter, human_line, pretty
from local_stack.runtime.invoker import (
    EVENTS,
    ROOT,
    TEMPLATE,
    FunctionSpec,
    InputError,
    apply_env_vars,
    check_env_vars,
    check_parameter_overrides,
    environment,
    invoke,
    load_function,
    parse_parameter_overrides,
    read_json,
    read_template,
)
from local_stack.runtime.ric import RuntimeInvoker, awslambdaric_version

if TYPE_CHECKING:
    from local_stack.aws.secrets_manager import LocalSecretsManager
    from local_stack.credentials.stack import LocalCredentialStack
    from local_stack.protocols import ProtocolStack
    from local_stack.scenarios import ScenarioStack

DEMO_SECRET_NAME = "demo/websocket-token"
# What each credential mode sends in the demo: what `make invoke` sends by default.
DEMO_EVENT = EVENTS / "direct.json"
# What Secrets Manager accepts as a secret's name.
SECRET_NAME = re.compile(r"[A-Za-z0-9/_+=.@-]{1,512}")
# Exit statuses: the function answered with a failure / the command was misused.
FAILED = 1
USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, with its mistakes on one line instead of usage plus error."""

    def error(self, message: str) -> NoReturn:
        self.exit(USAGE, f"{self.prog}: {message} (see --help)\n")


def _print_outcome(name: str, outcome: Any, raw: bool = True) -> bool:
    """Print one invocation's answer; return whether it succeeded."""
    if isinstance(outcome, dict) and "statusCode" in outcome:
        ok = bool(outcome["statusCode"] == 200)
        shown = {**outcome, "body": json.loads(outcome["body"])}
    else:
        ok = isinstance(outcome, dict) and outcome.get("ok") is True
        shown = outcome
    print(f"--- {name}: {'OK' if ok else 'FAILED'}", flush=True)
    print(json.dumps(shown, indent=2) if raw else pretty(shown), flush=True)
    return ok


def _raw_line(line: str) -> str:
    # The runtime's text-format errors join their lines with "\r" for CloudWatch.
    return line.replace("\r", "\n")


@contextmanager
def _invoker(
    spec: FunctionSpec,
    variables: Mapping[str, str],
    process_environment: Mapping[str, str],
    raw: bool,
    announce: bool = True,
) -> Iterator[Callable[[Any], Any]]:
    """``event -> outcome``: inside AWS's runtime client where it is installed
    (a Linux-only wheel), else in this process; ``announce`` says which."""
    shown = _raw_line if raw else human_line
    # What Lambda derives from LoggingConfig (the LogLevel parameter) for the runtime.
    logging_environment = {"AWS_LAMBDA_LOG_LEVEL": spec.log_level} if spec.log_level else {}
    version = awslambdaric_version()
    if version is None:
        if announce:
            print("runtime: in-process (awslambdaric not installed)", flush=True)
        with environment({**process_environment, **logging_environment}):

            def run_here(event: Any) -> Any:
                # The handler's loggers write to sys.stdout as they are created
                # (on the first import), so the filter has to be in place then.
                real_stdout = sys.stdout
                sys.stdout = LineFilter(real_stdout, shown)
                try:
                    return invoke(spec, event, variables)
                finally:
                    sys.stdout = real_stdout

            yield run_here
        return
    if announce:
        print(
            f"runtime: awslambdaric {version} (the AWS Lambda runtime interface client)", flush=True
        )
    with RuntimeInvoker(spec, variables, process_environment) as runtime:

        def run(event: Any) -> Any:
            invocation = runtime.invoke(event)
            for line in invocation.log_lines:
                text = shown(line)
                if text is not None:
                    print(text, flush=True)
            return invocation.payload

        yield run


def _quiet_local_servers() -> None:
    # werkzeug logs every request moto serves; the function's output says more.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)


def sample_events() -> list[Path]:
    """The sample events in ``events/``: every JSON file but the env-vars files."""
    return [path for path in sorted(EVENTS.glob("*.json")) if not path.name.startswith("env")]


def demo_credential_modes(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    stack: LocalCredentialStack,
    raw: bool = False,
) -> list[bool]:
    """Run ``events/direct.json`` once per endpoint of ``stack``, each as its
    ``events/env-<mode>.json`` would (ports aside), printing each answer under
    ``--- AUTH_MODE=<mode>: OK|FAILED``; returns whether each succeeded."""
    from local_stack.credentials.stack import ENDPOINTS
    from local_stack.serve import mode_env_vars, mode_label, put_mode_secrets

    put_mode_secrets(stack, secrets_manager)
    # The stack's AWS credentials play the function's role credentials, for
    # every mode as in Lambda: sigv4 signs with them; moto accepts any.
    process_environment = {**secrets_manager.environment, **stack.aws_environment}
    event = read_json(DEMO_EVENT)
    print(
        f"\ncredential modes: {DEMO_EVENT.name} once per AUTH_MODE, each against its local "
        "counterpart (`make stack` + `make invoke ENV=events/env-<mode>.json` does the same)",
        flush=True,
    )
    results = []
    for name in ENDPOINTS:
        variables = apply_env_vars(spec, mode_env_vars(stack, name))
        # Each mode is a function of its own: a fresh runtime, as a new deployment gets.
        with _invoker(spec, variables, process_environment, raw, announce=False) as run:
            results.append(_print_outcome(mode_label(name), run(event), raw))
    return results


def demo_scenarios(
    spec: FunctionSpec, scenarios: ScenarioStack, ca_bundle: Path, raw: bool = False
) -> list[bool]:
    """Run each example in ``events/scenarios/`` against ``scenarios``, with the
    variables of its ``env-<name>.json`` (ports aside) and the stack's CA trusted
    through ``SSL_CERT_FILE`` (``ca_bundle``), printing each answer under
    ``--- scenarios/<name>.json: OK|FAILED``; returns whether each succeeded."""
    from local_stack.scenarios import scenario_events, scenario_label

    events = scenario_events()
    print(
        "\nscenarios: each example in events/scenarios/ against the scenario server "
        "(`make stack` + `make invoke EVENT=events/scenarios/<name>.json "
        "ENV=events/scenarios/env-<name>.json` does the same)",
        flush=True,
    )
    results = []
    for event_file in events:
        variables = apply_env_vars(spec, scenarios.env_vars(event_file.stem))
        # Each example names its own endpoint: a function of its own, a fresh runtime.
        trust = {"SSL_CERT_FILE": str(ca_bundle)}
        with _invoker(spec, variables, trust, raw, announce=False) as run:
            outcome = run(read_json(event_file))
        results.append(_print_outcome(scenario_label(event_file), outcome, raw))
    return results


def demo_protocols(
    spec: FunctionSpec,
    secrets_manager: LocalSecretsManager,
    protocols: ProtocolStack,
    raw: bool = False,
) -> list[bool]:
    """Run each example in ``events/protocols/`` against its counterpart in
    ``protocols``, with the variables of its ``env-<name>.json`` (ports aside) and its
    credential stored as that file names it, printing each answer under
    ``--- protocols/<name>.json: OK|FAILED``; returns whether each succeeded."""
    from local_stack.protocols import protocol_events, protocol_label

    protocols.put_secrets(secrets_manager)
    print(
        "\nprotocols: each example in events/protocols/ against a server of its PROTOCOL "
        "(`make stack` + `make invoke EVENT=events/protocols/<name>.json "
        "ENV=events/protocols/env-<name>.json` does the same)",
        flush=True,
    )
    results = []
    for event_file in protocol_events():
        variables = apply_env_vars(spec, protocols.env_vars(event_file.stem))
        # Each example names its own endpoint: a function of its own, a fresh runtime.
        with _invoker(spec, variables, secrets_manager.environment, raw, announce=False) as run:
            outcome = run(read_json(event_file))
        results.append(_print_outcome(protocol_label(event_file), outcome, raw))
    return results


def demo_fleet(
    spec: FunctionSpec,
    variables: Mapping[str, str],
    secrets_manager: LocalSecretsManager,
    stack: LocalCredentialStack,
    raw: bool = False,
) -> bool:
    """Run every endpoint of the demo as one fleet invocation (the secrets are stored)."""
    import tempfile

    from local_stack.credentials.stack import ENDPOINTS
    from local_stack.serve import mode_env_vars

    entries = [
        {
            "name": "stack",
            "group": "stack",
            "websocket_uri": variables["WEBSOCKET_URI"],
            "token_secret_id": variables["TOKEN_SECRET_ID"],
        }
    ]
    for name in ENDPOINTS:
        settings = mode_env_vars(stack, name)["ExchangeFunction"]
        entries.append(
            {
                "name": name.replace("_", "-"),
                "group": "credentials",
                **{variable.lower(): value for variable, value in settings.items()},
            }
        )
    print(
        f"\nfleet: {len(entries)} targets in one invocation, at once "
        "(`make stack` + `make invoke ENV=events/fleet/env-local.json "
        "EVENT=events/fleet/all.json` does the same)",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "targets.json"
        path.write_text(json.dumps({"targets": entries}))
        fleet = {**variables, "TARGETS_FILE": str(path), "ALLOW_INSECURE_WEBSOCKET": "true"}
        process_environment = {**secrets_manager.environment, **stack.aws_environment}
        with _invoker(spec, fleet, process_environment, raw, announce=False) as run:
            return _print_outcome(f"fleet ({len(entries)} targets)", run({"targets": "*"}), raw)


def demo(template: Path, raw: bool) -> int:
    """Start the local stack and every counterpart, run every sample event, every
    scenario and protocol example, one exchange per credential mode, then the fleet."""
    from local_stack.aws.secrets_manager import LocalSecretsManager
    from local_stack.credentials.stack import LocalCredentialStack
    from local_stack.protocols import ProtocolStack
    from local_stack.scenarios import CA_BUNDLE_FILE, ScenarioStack, write_ca_bundle
    from local_stack.servers.websocket_server import LocalWebSocketServer

    _quiet_local_servers()
    token = secrets.token_urlsafe(32)
    spec = load_function(template)
    base = apply_env_vars(spec, read_json(EVENTS / "env.json"))
    with (
        LocalSecretsManager() as secrets_manager,
        LocalWebSocketServer(token) as server,
        LocalCredentialStack() as credential_stack,
        ScenarioStack() as scenarios,
        ProtocolStack() as protocols,
        tempfile.TemporaryDirectory(prefix="local-stack-") as folder,
    ):
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
        with _invoker(spec, variables, secrets_manager.environment, raw) as run:
            for event_file in sample_events():
                results.append(_print_outcome(event_file.name, run(read_json(event_file)), raw))
        ca_bundle = write_ca_bundle(Path(folder) / CA_BUNDLE_FILE, scenarios.ca_pem)
        results += demo_scenarios(spec, scenarios, ca_bundle, raw)
        results += demo_protocols(spec, secrets_manager, protocols, raw)
        results += demo_credential_modes(spec, secrets_manager, credential_stack, raw)
        results.append(demo_fleet(spec, variables, secrets_manager, credential_stack, raw))
    print(f"demo: {sum(results)} of {len(results)} exchanges succeeded", flush=True)
    return 0 if results and all(results) else FAILED


def host_environment(aws_env: Path | None) -> dict[str, str]:
    """What the host's AWS SDK would use (profile, credentials, endpoints), as
    ``sam local invoke`` passes them on, then a running ``serve``'s endpoint;
    the runtime's own variables stay Lambda's."""
    host = {
        name: value
        for name, value in os.environ.items()
        if (name.startswith("AWS_") and not name.startswith("AWS_LAMBDA_")) or name == "HOME"
    }
    if aws_env is not None:
        from local_stack.serve import read_stack_environment

        stack = read_stack_environment(aws_env)
        if stack is None:
            print(f"note: ignoring {aws_env}: the local stack that wrote it has stopped")
        else:
            print(f"local stack: Secrets Manager {stack['AWS_ENDPOINT_URL_SECRETS_MANAGER']}")
            host.update(stack)
    return host


def _local_stack_hint(variables: Mapping[str, str], host: Mapping[str, str]) -> None:
    """Say so when the env file names the local stack's address but no stack is
    reachable the way ``make stack`` makes it (the usual first-run surprise)."""
    uri = variables.get("WEBSOCKET_URI", "")
    local = ("ws://127.0.0.1:", "ws://localhost:", "wss://127.0.0.1:", "wss://localhost:")
    if uri.startswith(local) and not host.get("AWS_ENDPOINT_URL_SECRETS_MANAGER"):
        print(
            f"note: WEBSOCKET_URI is {uri}, on this machine, but no local Secrets Manager "
            "is configured: start `make stack` in another terminal first"
        )


def invoke_one(
    template: Path,
    event: Path,
    env_vars: Path | None,
    parameter_overrides: str | None = None,
    aws_env: Path | None = None,
    raw: bool = False,
) -> int:
    """Invoke once against whatever endpoint and secret the env file names."""
    document = read_template(template)
    overrides = parse_parameter_overrides(parameter_overrides or "")
    check_parameter_overrides(document, overrides)
    for name, value in overrides.items():
        print(f"parameter {name}: {value}", flush=True)
    spec = load_function(template, parameter_overrides=overrides)
    payload = read_json(event)
    env_document = read_json(env_vars) if env_vars else {}
    if env_vars:
        check_env_vars(document, spec, env_document, env_vars)
    variables = apply_env_vars(spec, env_document)
    host = host_environment(aws_env)
    _local_stack_hint(variables, host)
    with _invoker(spec, variables, host, raw) as run:
        return 0 if _print_outcome(event.name, run(payload), raw) else FAILED


def put_stack_secret(aws_env: Path, name: str, value: str) -> int:
    """Store ``value`` as the secret ``name`` in the Secrets Manager of the ``serve``
    that wrote ``aws_env``; the value is never printed."""
    if not SECRET_NAME.fullmatch(name):
        raise InputError(
            f"{name!r} is not a secret name: 1 to 512 letters, digits and /_+=.@- "
            "(e.g. my/websocket-token)"
        )
    if not value:
        raise InputError("the secret's value is empty")
    from local_stack.serve import read_stack_environment

    stack = read_stack_environment(aws_env) if aws_env.is_file() else None
    if stack is None:
        raise InputError("no local stack is running: start `make stack` in another terminal first")
    import boto3

    from local_stack.aws.secrets_manager import put_secret

    endpoint = stack["AWS_ENDPOINT_URL_SECRETS_MANAGER"]
    client = boto3.client(
        "secretsmanager",
        endpoint_url=endpoint,
        region_name=stack.get("AWS_REGION", "us-east-1"),
        aws_access_key_id=stack.get("AWS_ACCESS_KEY_ID", "testing"),
        aws_secret_access_key=stack.get("AWS_SECRET_ACCESS_KEY", "testing"),
        aws_session_token=stack.get("AWS_SESSION_TOKEN"),
    )
    put_secret(client, name, value)
    print(
        f"stored secret {name!r} ({len(value)} characters) in the local Secrets Manager at "
        f'{endpoint}; name it in your env-vars file: "TOKEN_SECRET_ID": "{name}"',
        flush=True,
    )
    return 0


def _read_text(path: Path) -> str:
    try:
        return path.read_text()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def _from_environment(variable: str, what: str) -> str:
    value = os.environ.get(variable)
    if value is None:
        raise InputError(f"{what}: the environment variable {variable} is not set")
    return value


def main(argv: list[str] | None = None) -> int:
    parser = _Parser(prog="python -m local_stack", description=__doc__.splitlines()[0])
    parser.add_argument("--template", type=Path, default=TEMPLATE, help="the SAM template")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    raw_help = "print the function's log lines as raw JSON, exactly as CloudWatch receives them"
    shown = commands.add_parser(
        "demo",
        help="run every sample event, every scenario and protocol example, then one "
        "exchange per credential mode, against the local stack",
    )
    shown.add_argument("--raw", action="store_true", help=raw_help)
    one = commands.add_parser("invoke", help="invoke once with an event and an env-vars file")
    one.add_argument("--event", "-e", type=Path, required=True, help="the event (JSON file)")
    one.add_argument(
        "--env-vars", "-n", type=Path, help="SAM's env-vars file: Parameters and per-function keys"
    )
    one.add_argument(
        "--parameter-overrides",
        metavar="'Name=Value ...'",
        help="template parameters, in SAM's syntax (e.g. 'LogLevel=DEBUG')",
    )
    one.add_argument(
        "--parameter-overrides-env",
        metavar="VARIABLE",
        help="read --parameter-overrides from this environment variable instead, as "
        "`make invoke PARAMS=...` does: quotes reach the parser unchanged",
    )
    one.add_argument(
        "--aws-env",
        type=Path,
        help="the file a running `serve` writes: reach its Secrets Manager",
    )
    one.add_argument("--raw", action="store_true", help=raw_help)
    stored = commands.add_parser(
        "secret", help="store a secret of your own in a running `serve`'s Secrets Manager"
    )
    stored.add_argument("--name", required=True, help="the secret's name (TOKEN_SECRET_ID)")
    value = stored.add_mutually_exclusive_group(required=True)
    value.add_argument(
        "--value-env",
        metavar="VARIABLE",
        help="take the SecretString from this environment variable (kept out of `ps`)",
    )
    value.add_argument("--value-file", type=Path, help="take the SecretString from this file")
    stored.add_argument(
        "--aws-env",
        type=Path,
        default=ROOT / ".local-stack" / "aws.json",
        help="the file a running `serve` writes (default: .local-stack/aws.json)",
    )
    serve = commands.add_parser(
        "serve",
        help="run the local stack in the foreground, as events/env.json and "
        "events/env-<mode>.json name it",
    )
    from local_stack.serve import add_arguments

    add_arguments(serve)
    args = parser.parse_args(argv)
    try:
        if args.command == "demo":
            return demo(args.template, args.raw)
        if args.command == "serve":
            from local_stack.serve import serve as run_stack

            return run_stack(args)
        if args.command == "secret":
            if args.value_env is not None:
                secret_value = _from_environment(args.value_env, "--value-env")
            else:
                secret_value = _read_text(args.value_file)
            return put_stack_secret(args.aws_env, args.name, secret_value)
        overrides = args.parameter_overrides
        if args.parameter_overrides_env is not None:
            overrides = _from_environment(args.parameter_overrides_env, "--parameter-overrides-env")
        return invoke_one(
            args.template,
            args.event,
            args.env_vars,
            overrides,
            args.aws_env,
            args.raw,
        )
    except InputError as exc:
        print(f"{parser.prog} {args.command}: {exc}", file=sys.stderr)
        return USAGE


if __name__ == "__main__":
    sys.exit(main())
