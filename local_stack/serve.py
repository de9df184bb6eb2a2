"""``python -m local_stack serve`` (``make stack``): the local stack, in the foreground.

I/O at the edge. Serves what an env-vars file (``events/env.json`` by default)
names, so that ``make invoke`` in another terminal succeeds with that same
file: the WebSocket server on the port of its ``WEBSOCKET_URI``, moto's
Secrets Manager on a fixed port with the secret ``TOKEN_SECRET_ID`` holding a
fresh random token.

Alongside, every credential mode's counterpart
(:class:`~local_stack.credentials.stack.LocalCredentialStack`) listens on a
fixed port, :data:`CREDENTIAL_PORTS` (8766-8777) and the OAuth2 token endpoint
on :data:`TOKEN_ENDPOINT_PORT` (8778), with each mode's fresh secret stored as
``demo/<mode>`` (the client certificate for mutual TLS as
``demo/client-certificate``), so that each ``events/env-<mode>.json`` works::

    make stack                                  # first terminal
    make invoke ENV=events/env-basic.json       # second terminal, any mode

The scenario server (:class:`~local_stack.scenarios.ScenarioStack`) listens on
:data:`~local_stack.scenarios.SCENARIO_PORT` (8790, ``ws://``) and
:data:`~local_stack.scenarios.SCENARIO_TLS_PORT` (8791, ``wss://``, a certificate
that expires in a few days), for the examples in ``events/scenarios/``::

    make invoke EVENT=events/scenarios/login.json ENV=events/scenarios/env-login.json

A server for each protocol preset (:class:`~local_stack.protocols.ProtocolStack`)
listens on :data:`~local_stack.protocols.PROTOCOL_PORTS` (8792 GraphQL, 8793 Socket.IO,
8794 AppSync Events), each credential fresh and stored as its env-vars file in
``events/protocols/`` names it, for the examples there::

    make invoke EVENT=events/protocols/graphql.json ENV=events/protocols/env-graphql.json

``--free-ports`` serves them on free ports instead (a second stack beside a first one,
and the tests), and ``--mode-env-dir DIR`` writes each mode's env-vars file for the
ports actually served into ``DIR``, each scenario's into ``DIR/scenarios`` and each
protocol example's into ``DIR/protocols``.

The function reaches Secrets Manager through boto3's
``AWS_ENDPOINT_URL_SECRETS_MANAGER``, a host setting rather than a function
variable, so it goes into a small file (``.local-stack/aws.json``) that
``invoke --aws-env`` reads for as long as this process runs; the AWS
credentials the ``sigv4`` counterpart verifies go there too, as the
function's role credentials (moto accepts any), and ``SSL_CERT_FILE``, naming a
file beside it with the system's CAs and the scenario server's private CA, so that
the function trusts the ``wss://`` scenario server as a machine trusts a CA installed
on it. Ctrl-C (or SIGTERM) stops the servers and removes both files.
"""

from __future__ import annotations

import argparse
import errno
import json
import os
import secrets
import signal
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_stack.credentials.stack import ENDPOINTS, LocalCredentialStack
from local_stack.protocols import (
    PROTOCOL_PORTS,
    ProtocolStack,
    protocol_env_file,
    protocol_events,
    protocol_label,
)
from local_stack.runtime.invoker import (
    EVENTS,
    ROOT,
    InputError,
    apply_env_vars,
    check_env_vars,
    load_function,
    read_json,
    read_template,
)
from local_stack.scenarios import (
    CA_BUNDLE_FILE,
    SCENARIO_PORT,
    SCENARIO_TLS_PORT,
    ScenarioStack,
    scenario_env_file,
    scenario_events,
    scenario_label,
    write_ca_bundle,
)

# LocalStack's well-known edge port, so tools already pointed at a local AWS
# endpoint find this one too.
SECRETS_MANAGER_PORT = 4566
STACK_ENVIRONMENT = ROOT / ".local-stack" / "aws.json"
_LOOPBACK = {"127.0.0.1", "localhost"}
# The ports events/env-<mode>.json name: next to the bearer stack's 8765.
CREDENTIAL_PORTS = {name: 8766 + index for index, name in enumerate(ENDPOINTS)}
TOKEN_ENDPOINT_PORT = 8766 + len(ENDPOINTS)
CLIENT_CERT_SECRET_NAME = "demo/client-certificate"
# Every variable a mode's env file sets besides its own settings, as events/env.json does.
_COMMON_VARIABLES = {"REPLY_TIMEOUT_SECONDS": "5"}


def mode_label(name: str) -> str:
    """How the demo and ``serve`` name an endpoint of the credential stack."""
    return {
        "subprotocol_raw": "AUTH_MODE=subprotocol (raw token)",
        "mtls": "AUTH_MODE=none + mutual TLS",
    }.get(name, f"AUTH_MODE={name}")


def mode_env_file(name: str, folder: Path = EVENTS) -> Path:
    """``events/env-<name>.json`` (or in ``folder``): the env-vars file for one endpoint."""
    return folder / f"env-{name}.json"


def mode_secret_name(name: str) -> str:
    return f"demo/{name}"


def mode_env_vars(stack: LocalCredentialStack, name: str) -> dict[str, dict[str, str]]:
    """The env-vars document (SAM's format) that reaches ``stack``'s endpoint
    ``name`` with the secrets :func:`put_mode_secrets` stores: what
    ``events/env-<name>.json`` holds for a stack on the fixed ports."""
    variables = {**stack.settings(name), **_COMMON_VARIABLES}
    if stack.secret(name) is not None:
        variables["TOKEN_SECRET_ID"] = mode_secret_name(name)
    if name == "mtls":
        variables["CLIENT_CERT_SECRET_ID"] = CLIENT_CERT_SECRET_NAME
    return {"ExchangeFunction": variables}


def put_mode_secrets(stack: LocalCredentialStack, secrets_manager: Any) -> None:
    """Store every endpoint's secret under the names :func:`mode_env_vars` gives."""
    for name in ENDPOINTS:
        secret = stack.secret(name)
        if secret is not None:
            secrets_manager.put_secret(mode_secret_name(name), secret)
    secrets_manager.put_secret(CLIENT_CERT_SECRET_NAME, stack.client_certificate_secret())


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--env-vars",
        "-n",
        type=Path,
        default=EVENTS / "env.json",
        help="the env-vars file to serve: its WEBSOCKET_URI port and TOKEN_SECRET_ID "
        "(default: events/env.json)",
    )
    parser.add_argument(
        "--secrets-manager-port",
        type=int,
        default=SECRETS_MANAGER_PORT,
        help=f"port of Secrets Manager on 127.0.0.1 (default: {SECRETS_MANAGER_PORT})",
    )
    parser.add_argument(
        "--aws-env",
        type=Path,
        default=STACK_ENVIRONMENT,
        help="where to write the endpoint for `invoke --aws-env` (default: .local-stack/aws.json)",
    )
    parser.add_argument(
        "--free-ports",
        action="store_true",
        help=f"serve the credential modes and the OAuth2 token endpoint on free ports instead "
        f"of {min(CREDENTIAL_PORTS.values())}-{TOKEN_ENDPOINT_PORT}, and the scenario and "
        "protocol servers too (the env-vars files in events/ then reach nothing: see "
        "--mode-env-dir); for a second stack, or tests",
    )
    parser.add_argument(
        "--mode-env-dir",
        type=Path,
        default=None,
        help="write each mode's env-vars file (env-<mode>.json) there, each scenario's "
        "(env-<name>.json) into its scenarios/ folder and each protocol example's into its "
        "protocols/ folder, for the ports served",
    )


def serve(args: argparse.Namespace) -> int:
    """Run the stack until Ctrl-C; 0 after a clean stop, 1 if it cannot start."""
    from local_stack.aws.secrets_manager import LocalSecretsManager
    from local_stack.servers.websocket_server import LocalWebSocketServer

    document = read_template(args.template)
    spec = load_function(args.template)
    args.env_vars, args.aws_env = Path(_shown(args.env_vars)), Path(_shown(args.aws_env))
    env_document = read_json(args.env_vars)
    check_env_vars(document, spec, env_document, args.env_vars)
    variables = apply_env_vars(spec, env_document)
    websocket_port = _websocket_port(variables.get("WEBSOCKET_URI", ""), args.env_vars)
    secret_name = _secret_name(variables.get("TOKEN_SECRET_ID", ""), args.env_vars)

    credential_ports = {} if args.free_ports else CREDENTIAL_PORTS
    token_endpoint_port = 0 if args.free_ports else TOKEN_ENDPOINT_PORT
    fixed_ports = [
        (websocket_port, f"the WebSocket server ({args.env_vars} names it in WEBSOCKET_URI)"),
        (args.secrets_manager_port, "Secrets Manager (--secrets-manager-port)"),
        *(
            (port, f"the {mode_label(name)} counterpart ({_shown(mode_env_file(name))})")
            for name, port in credential_ports.items()
        ),
        (
            token_endpoint_port,
            f"the OAuth2 token endpoint ({_shown(mode_env_file('oauth2_client_credentials'))})",
        ),
        *(
            []
            if args.free_ports
            else [
                (SCENARIO_PORT, "the scenario server (events/scenarios/env-*.json)"),
                (SCENARIO_TLS_PORT, "the wss:// scenario server (events/scenarios/env-cert.json)"),
                *(
                    (port, f"the {name} server (events/protocols/env-{name}.json)")
                    for name, port in PROTOCOL_PORTS.items()
                ),
            ]
        ),
    ]
    for port, what in fixed_ports:
        if port and not _port_is_free(port):
            return _port_in_use(port, what)

    import logging

    # werkzeug logs every request moto serves; a quiet terminal reads better.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    token = secrets.token_urlsafe(32)
    scheme = variables.get("AUTH_SCHEME") or "Bearer"
    field = variables.get("TOKEN_SECRET_FIELD") or "token"
    stopping = threading.Event()
    try:
        secrets_manager = LocalSecretsManager(port=args.secrets_manager_port).start()
    except (OSError, SystemExit):
        # werkzeug reports a busy port itself and exits; the probe above makes
        # this the rare race with another program.
        return _port_in_use(args.secrets_manager_port, "Secrets Manager")
    try:
        try:
            server = LocalWebSocketServer(token, scheme=scheme, port=websocket_port).start()
        except OSError as exc:
            if exc.errno != errno.EADDRINUSE:
                raise
            return _port_in_use(websocket_port, "the WebSocket server")
        try:
            credential_stack = LocalCredentialStack(
                ports=credential_ports, token_endpoint_port=token_endpoint_port
            ).start()
        except OSError as exc:
            server.stop()
            if exc.errno != errno.EADDRINUSE:
                raise
            first, last = min(CREDENTIAL_PORTS.values()), TOKEN_ENDPOINT_PORT
            return _port_in_use(first, f"the credential modes (ports {first}-{last})")
        try:
            scenarios = ScenarioStack(fixed_ports=not args.free_ports).start()
        except OSError as exc:
            credential_stack.stop()
            server.stop()
            if exc.errno != errno.EADDRINUSE:
                raise
            return _port_in_use(SCENARIO_PORT, "the scenario servers")
        try:
            protocols = ProtocolStack(fixed_ports=not args.free_ports).start()
        except BaseException as exc:
            # Whatever stopped it (a busy port, a server that did not start in time),
            # the servers already running must not outlive this process's exit.
            scenarios.stop()
            credential_stack.stop()
            server.stop()
            if not (isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE):
                raise
            first, last = min(PROTOCOL_PORTS.values()), max(PROTOCOL_PORTS.values())
            return _port_in_use(first, f"the protocol servers (ports {first}-{last})")
        ca_bundle = args.aws_env.parent / CA_BUNDLE_FILE
        try:
            secrets_manager.put_secret(secret_name, json.dumps({field: token}))
            put_mode_secrets(credential_stack, secrets_manager)
            protocols.put_secrets(secrets_manager)
            trusted = write_ca_bundle(ca_bundle, scenarios.ca_pem)
            _write_stack_environment(
                args.aws_env,
                {
                    **secrets_manager.environment,
                    **credential_stack.aws_environment,
                    "SSL_CERT_FILE": str(trusted),
                },
            )
            env_folder = EVENTS
            if args.mode_env_dir is not None:
                env_folder = args.mode_env_dir
                _write_mode_env_files(credential_stack, env_folder)
                scenarios.write_env_files(env_folder / "scenarios")
                protocols.write_env_files(env_folder / "protocols")
            _announce(args, server.uri, secrets_manager.endpoint_url, secret_name, env_document)
            _announce_modes(credential_stack, args.aws_env, env_folder)
            _announce_scenarios(scenarios, ca_bundle, env_folder / "scenarios")
            _announce_protocols(protocols, env_folder / "protocols")
            print(
                "ready: run `make invoke` (or `make invoke ENV=events/env-<mode>.json`, or "
                "`make invoke EVENT=events/<scenarios|protocols>/<name>.json "
                "ENV=events/<scenarios|protocols>/env-<name>.json`) in another terminal; "
                "Ctrl-C stops the stack",
                flush=True,
            )
            # Both signals end the wait the same way; SIGINT explicitly, because
            # a shell starting us in the background has it ignored.
            previous = {
                number: signal.signal(number, lambda *_: stopping.set())
                for number in (signal.SIGINT, signal.SIGTERM)
            }
            try:
                stopping.wait()
            finally:
                for number, handler in previous.items():
                    signal.signal(number, handler)
        finally:
            _remove_stack_environment(args.aws_env)
            ca_bundle.unlink(missing_ok=True)
            protocols.stop()
            scenarios.stop()
            credential_stack.stop()
            server.stop()
    finally:
        secrets_manager.stop()
    print("\nlocal stack stopped", flush=True)
    return 0


def read_stack_environment(path: Path) -> dict[str, str] | None:
    """The host variables a running ``serve`` wrote to ``path``, or None when
    the process that wrote them is gone."""
    document: Any = read_json(path)
    if not (
        isinstance(document, dict)
        and isinstance(document.get("pid"), int)
        and isinstance(document.get("environment"), dict)
    ):
        raise InputError(f"{path} was not written by `python -m local_stack serve`")
    if not _is_running(document["pid"]):
        return None
    return {str(name): str(value) for name, value in document["environment"].items()}


def _shown(path: Path) -> str:
    """``path`` as the user would type it: relative to the working directory when inside it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def _websocket_port(uri: str, source: Path) -> int:
    parts = urlsplit(uri)
    try:
        port = parts.port
    except ValueError:
        port = None
    if parts.scheme != "ws" or parts.hostname not in _LOOPBACK or not port:
        raise InputError(
            f"WEBSOCKET_URI in {source} must be ws://127.0.0.1:<port>/... for the local "
            f"stack, not {uri!r}"
        )
    return port


def _secret_name(secret_id: str, source: Path) -> str:
    if not secret_id or secret_id.startswith("arn:"):
        raise InputError(
            f"TOKEN_SECRET_ID in {source} must be a secret name for the local stack "
            f"(e.g. demo/websocket-token), not {secret_id!r}"
        )
    return secret_id


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        # As the servers bind: a port in TIME_WAIT is free, a listening one is not.
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_in_use(port: int, what: str) -> int:
    print(
        f"serve: port {port} on 127.0.0.1, for {what}, is in use (is `make stack` "
        "already running?)",
        file=sys.stderr,
        flush=True,
    )
    return 1


def _write_stack_environment(path: Path, environment: dict[str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    # The folder ignores itself, as .pytest_cache does: nothing in it is for git.
    (path.parent / ".gitignore").write_text("*\n")
    text = json.dumps({"pid": os.getpid(), "environment": environment}, indent=2) + "\n"
    # It holds the stack's AWS credentials (random, local): readable by this user only.
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)


def _remove_stack_environment(path: Path) -> None:
    try:
        if json.loads(path.read_text()).get("pid") == os.getpid():
            path.unlink()
    except (OSError, ValueError):
        pass


def _is_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _announce(
    args: argparse.Namespace,
    websocket_uri: str,
    secrets_manager_url: str,
    secret_name: str,
    env_document: Any,
) -> None:
    lines = [
        f"local stack, serving {args.env_vars}:",
        f"  WebSocket        {websocket_uri}  (bearer token checked; any path answers "
        "ping and subscribe)",
        f"  Secrets Manager  {secrets_manager_url}  secret {secret_name!r} holds a fresh "
        "random token",
        f"  wrote {args.aws_env}: `make invoke` reads it to reach this Secrets Manager "
        "(and to trust the scenario server's CA)",
        "",
        f"the env-vars file ({args.env_vars}):",
        json.dumps(env_document, indent=2),
        "",
    ]
    print("\n".join(lines), flush=True)


def _write_mode_env_files(stack: LocalCredentialStack, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in ENDPOINTS:
        text = json.dumps(mode_env_vars(stack, name), indent=2) + "\n"
        mode_env_file(name, folder).write_text(text)


def _announce_modes(stack: LocalCredentialStack, aws_env: Path, env_folder: Path) -> None:
    lines = ["every credential mode, for `make invoke ENV=<env file>`:"]
    for name in ENDPOINTS:
        if name == "sigv4":
            secret = f"signed with the AWS credentials in {aws_env}"
        elif name == "mtls":
            secret = f"client certificate in secret {CLIENT_CERT_SECRET_NAME}"
        elif stack.secret(name) is None:
            secret = "no secret"
        else:
            secret = f"secret {mode_secret_name(name)}"
        env_file = _shown(mode_env_file(name, env_folder))
        lines.append(f"  {env_file:<42} {stack.uri(name):<24} {mode_label(name)}, {secret}")
    lines += [f"  {'(the OAuth2 token endpoint)':<42} {stack.token_endpoint.token_url}", ""]
    print("\n".join(lines), flush=True)


def _announce_scenarios(scenarios: ScenarioStack, ca_bundle: Path, folder: Path) -> None:
    lines = [
        "the scenario examples, for `make invoke EVENT=<event> ENV=<env file>`:",
        f"  {'(the scenario server)':<42} {scenarios.plain.uri}",
        f"  {'(the same over TLS)':<42} {scenarios.secure.uri}  its certificate expires "
        f"{scenarios.secure.certificate_not_after:%Y-%m-%d %H:%M} UTC; its CA is trusted "
        f"through SSL_CERT_FILE={_shown(ca_bundle)}",
    ]
    for event in scenario_events():
        env_file = _shown(scenario_env_file(event.stem, folder))
        lines.append(f"  {'events/' + scenario_label(event):<42} ENV={env_file}")
    print("\n".join([*lines, ""]), flush=True)


def _announce_protocols(protocols: ProtocolStack, folder: Path) -> None:
    lines = [
        "the protocol preset examples, for `make invoke EVENT=<event> ENV=<env file>`:",
        f"  {'(graphql-transport-ws, Strawberry)':<42} {protocols.graphql.endpoint}",
        f"  {'(socketio, python-socketio)':<42} {protocols.socketio.uri}",
        f"  {'(appsync-events, the emulator)':<42} {protocols.appsync.uri}  "
        f"API key; HTTP host {protocols.appsync.http_host}",
    ]
    for event in protocol_events():
        env_file = _shown(protocol_env_file(event.stem, folder))
        lines.append(f"  {'events/' + protocol_label(event):<42} ENV={env_file}")
    print("\n".join([*lines, ""]), flush=True)
