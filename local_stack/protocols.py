"""The protocol preset examples in ``events/protocols/`` and what they run against, for
``make demo`` and ``make stack``: one counterpart per ``PROTOCOL`` preset, each a real
implementation of its protocol.

============================  ========================================================
example (``PROTOCOL``)        counterpart
============================  ========================================================
``graphql.json``              :class:`~local_stack.servers.graphql.GraphQLServer`
(``graphql-transport-ws``)    (Strawberry), bearer token in ``connection_init``
``socketio.json``             :class:`~local_stack.servers.socketio.SocketIOServer`
(``socketio``)                (python-socketio), token in the CONNECT auth payload
``appsync.json``              :class:`~local_stack.aws.appsync_events.LocalAppSyncEvents`
(``appsync-events``)          (the AppSync Events emulator), API key authorization
============================  ========================================================

Each example ``<name>.json`` has its env-vars file ``env-<name>.json`` beside it, naming
the counterpart's fixed port (:data:`PROTOCOL_PORTS`) and the secret that holds its
credential (:data:`SECRET_NAMES`); :meth:`ProtocolStack.env_vars` gives the same file
for the ports actually served. Every credential is random per stack:
:meth:`ProtocolStack.put_secrets` stores them in the local Secrets Manager, as the
credential modes' are.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from local_stack.aws.appsync_events import DEFAULT_HTTP_HOST, ApiKeyAuth, LocalAppSyncEvents
from local_stack.runtime.invoker import EVENTS, read_json
from local_stack.servers.graphql import GraphQLServer
from local_stack.servers.socketio import SocketIOServer

if TYPE_CHECKING:
    from local_stack.aws.secrets_manager import LocalSecretsManager

PROTOCOLS = EVENTS / "protocols"
# The examples, each named by the PROTOCOL its env-vars file sets.
PRESETS = {"graphql": "graphql-transport-ws", "socketio": "socketio", "appsync": "appsync-events"}
# After the scenario server's 8790 and 8791.
PROTOCOL_PORTS = {"graphql": 8792, "socketio": 8793, "appsync": 8794}
SECRET_NAMES = {
    "graphql": "demo/graphql-token",
    "socketio": "demo/socketio-token",
    "appsync": "demo/appsync-api-key",
}
# What the emulator takes for the API's HTTP domain, as env-appsync.json names it.
APPSYNC_HTTP_HOST = DEFAULT_HTTP_HOST


def protocol_events(folder: Path = PROTOCOLS) -> list[Path]:
    """The preset examples: every JSON file in ``folder`` but the env-vars files."""
    return [path for path in sorted(folder.glob("*.json")) if not path.name.startswith("env")]


def protocol_env_file(name: str, folder: Path = PROTOCOLS) -> Path:
    """``env-<name>.json`` in ``folder``: the env-vars file of the example ``<name>.json``."""
    return folder / f"env-{name}.json"


def protocol_label(event: Path) -> str:
    """How the demo names an example: its path under ``events/``."""
    return f"{event.parent.name}/{event.name}"


class ProtocolStack:
    """The three counterparts, started and stopped together, on free ports unless
    ``fixed_ports`` (those the env-vars files name)."""

    def __init__(self, *, fixed_ports: bool = False) -> None:
        ports = PROTOCOL_PORTS if fixed_ports else dict.fromkeys(PROTOCOL_PORTS, 0)
        self.graphql_token = secrets.token_urlsafe(32)
        self.socketio_token = secrets.token_urlsafe(32)
        # AppSync's API keys look like this; the shape does not matter to the emulator.
        self.api_key = "da2-" + secrets.token_urlsafe(20)
        self.graphql = GraphQLServer(self.graphql_token, port=ports["graphql"])
        self.socketio = SocketIOServer(self.socketio_token, port=ports["socketio"])
        self.appsync = LocalAppSyncEvents(
            ApiKeyAuth(self.api_key), http_host=APPSYNC_HTTP_HOST, port=ports["appsync"]
        )

    def start(self) -> ProtocolStack:
        started: list[Any] = []
        try:
            for server in (self.graphql, self.socketio, self.appsync):
                server.start()
                started.append(server)
        except BaseException:
            for server in reversed(started):
                server.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.appsync.stop()
        finally:
            try:
                self.socketio.stop()
            finally:
                self.graphql.stop()

    def __enter__(self) -> ProtocolStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def uri(self, name: str) -> str:
        """The counterpart's ``ws://127.0.0.1:<port>``, without a path."""
        if name == "appsync":
            parts = urlsplit(self.appsync.uri)
            return f"{parts.scheme}://{parts.netloc}"
        server = self.graphql if name == "graphql" else self.socketio
        return server.uri

    def secret(self, name: str) -> str:
        """The SecretString :data:`SECRET_NAMES` names for the example ``name``."""
        if name == "appsync":
            # What AppSync's console hands out, stored as it is.
            return self.api_key
        token = self.graphql_token if name == "graphql" else self.socketio_token
        return json.dumps({"token": token})

    def put_secrets(self, secrets_manager: LocalSecretsManager) -> None:
        """Store every counterpart's credential under the name its env-vars file gives."""
        for name, secret_name in SECRET_NAMES.items():
            secrets_manager.put_secret(secret_name, self.secret(name))

    def env_vars(self, name: str, folder: Path = PROTOCOLS) -> dict[str, Any]:
        """``folder/env-<name>.json`` with its ``WEBSOCKET_URI`` on the port served
        (path and query kept)."""
        document: dict[str, Any] = read_json(protocol_env_file(name, folder))
        variables = dict(document["ExchangeFunction"])
        uri = urlsplit(variables["WEBSOCKET_URI"])
        query = f"?{uri.query}" if uri.query else ""
        variables["WEBSOCKET_URI"] = self.uri(name) + uri.path + query
        return {**document, "ExchangeFunction": variables}

    def write_env_files(self, folder: Path) -> None:
        """Every example's env-vars file, for the ports served, into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for event in protocol_events():
            text = json.dumps(self.env_vars(event.stem), indent=2) + "\n"
            protocol_env_file(event.stem, folder).write_text(text)
