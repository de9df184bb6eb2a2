"""The scenario examples in ``events/scenarios/`` and what they run against: the
scenario server (:mod:`local_stack.servers.scenario`) on ``ws://`` and on ``wss://``
with a certificate that expires in a few days, for ``make demo`` and ``make stack``.

Each example ``<name>.json`` has its env-vars file ``env-<name>.json`` beside it,
naming the server's fixed port for its scheme (:data:`SCENARIO_PORT`,
:data:`SCENARIO_TLS_PORT`) and the path it talks to; :meth:`ScenarioStack.env_vars`
gives the same file for the ports actually served.

The ``wss://`` server's certificate comes from a private CA made for each stack. The
function trusts it the way a machine trusts a CA it has installed: :func:`write_ca_bundle`
writes the system's CAs plus this one to a file, and the invocations run with
``SSL_CERT_FILE`` naming it (a host setting, like the local Secrets Manager's endpoint).
``CA_BUNDLE``, the deployed function's way, names a file packaged under ``src/``, where
a CA made for one local run does not belong.
"""

from __future__ import annotations

import json
import os
import ssl
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from local_stack.runtime.invoker import EVENTS, read_json
from local_stack.servers.scenario import (
    DEFAULT_CERTIFICATE_DAYS,
    ScenarioServer,
    tls_scenario_server,
)

SCENARIOS = EVENTS / "scenarios"
# Clear of the credential modes' ports (8765 up, one more for each mode) and of the
# OAuth2 token endpoint after them.
SCENARIO_PORT = 8790
SCENARIO_TLS_PORT = 8791
CA_BUNDLE_FILE = "scenario-ca.pem"


def scenario_events(folder: Path = SCENARIOS) -> list[Path]:
    """The scenario examples: every JSON file in ``folder`` but the env-vars files."""
    return [path for path in sorted(folder.glob("*.json")) if not path.name.startswith("env")]


def scenario_env_file(name: str, folder: Path = SCENARIOS) -> Path:
    """``env-<name>.json`` in ``folder``: the env-vars file of the example ``<name>.json``."""
    return folder / f"env-{name}.json"


def scenario_label(event: Path) -> str:
    """How the demo names an example: its path under ``events/``."""
    return f"{event.parent.name}/{event.name}"


def write_ca_bundle(path: Path, ca_pem: str) -> Path:
    """Write the system's CA certificates and ``ca_pem`` to ``path`` (for ``SSL_CERT_FILE``,
    which replaces the system's file: its CAs stay trusted, the local one is added)."""
    defaults = ssl.get_default_verify_paths()
    system = ""
    for candidate in (defaults.cafile, defaults.openssl_cafile):
        if candidate and os.path.isfile(candidate):
            system = Path(candidate).read_text(encoding="ascii", errors="ignore")
            break
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(system.rstrip("\n") + ("\n" if system else "") + ca_pem)
    return path.resolve()


class ScenarioStack:
    """The scenario server on ``ws://`` and on ``wss://``, started and stopped together,
    on free ports unless ``fixed_ports`` (those the env-vars files name)."""

    def __init__(
        self, *, fixed_ports: bool = False, days_left: float = DEFAULT_CERTIFICATE_DAYS
    ) -> None:
        self.plain = ScenarioServer(port=SCENARIO_PORT if fixed_ports else 0)
        self.secure = tls_scenario_server(days_left, port=SCENARIO_TLS_PORT if fixed_ports else 0)
        assert self.secure.pki is not None
        self.ca_pem = self.secure.pki.ca_pem

    def start(self) -> ScenarioStack:
        self.plain.start()
        try:
            self.secure.start()
        except BaseException:
            self.plain.stop()
            raise
        return self

    def stop(self) -> None:
        try:
            self.secure.stop()
        finally:
            self.plain.stop()

    def __enter__(self) -> ScenarioStack:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def env_vars(self, name: str, folder: Path = SCENARIOS) -> dict[str, Any]:
        """``folder/env-<name>.json`` with its ``WEBSOCKET_URI`` on the port served
        for its scheme (path and query kept)."""
        document: dict[str, Any] = read_json(scenario_env_file(name, folder))
        variables = dict(document["ExchangeFunction"])
        uri = urlsplit(variables["WEBSOCKET_URI"])
        server = self.secure if uri.scheme == "wss" else self.plain
        variables["WEBSOCKET_URI"] = server.uri + uri.path + (f"?{uri.query}" if uri.query else "")
        return {**document, "ExchangeFunction": variables}

    def write_env_files(self, folder: Path) -> None:
        """Every example's env-vars file, for the ports served, into ``folder``."""
        folder.mkdir(parents=True, exist_ok=True)
        for event in scenario_events():
            text = json.dumps(self.env_vars(event.stem), indent=2) + "\n"
            scenario_env_file(event.stem, folder).write_text(text)
