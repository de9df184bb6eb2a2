"""Opening the connection: credentials, the TLS context, retries. I/O at the edge.

:func:`open_connection` obtains the credential the mode needs (a secret read, a
token request or a signature), opens the connection (:mod:`.handshake`), lets
the mode act once it is open (an authentication message), and retries what a
retry can mend: a refused or dropped connection, a timeout or an HTTP 5xx, with
backoff capped by the deadline; a 401/403 on a cached credential once, after
obtaining it again.
"""

from __future__ import annotations

import asyncio
import logging
import ssl
import time

from websockets.asyncio.client import ClientConnection

from . import handshake, offload, tls
from .closing import close
from .config import Config
from .credentials import Prepared, SecretValue
from .deadline import Deadline, backoff_delay
from .errors import AuthRejected, ConnectFailed, ConnectTimeout, HandshakeFailed
from .plan import Plan, Progress, SecretStore
from .protocols.link import Link, PresetLink, RawLink
from .redaction import scrubber

log = logging.getLogger(__name__)


async def open_connection(
    plan: Plan, store: SecretStore, deadline: Deadline, progress: Progress
) -> Link:
    """Connect with the credential, retrying what can succeed on retry.

    A 401/403 (or a refused authentication message) on a credential that did not
    come from its source just now obtains it again and tries once more, outside
    the MAX_ATTEMPTS budget: the secret may have been rotated, a token revoked.
    """
    config = plan.config
    # A deployer may have put a key in WEBSOCKET_URI's query string itself.
    scrubber.remember_configured(config.query_values)
    started = time.perf_counter()
    try:
        prepared = await offload.call(
            _credentials, config, store, deadline, progress, refresh=False
        )
        context, context_fresh = await offload.call(
            _tls_context, config, store, deadline, progress, refresh=False
        )
        failures = 0
        while True:
            progress.attempts += 1
            try:
                connection = await handshake.attempt(
                    config, prepared.handshake, context, deadline, progress
                )
                link = _link(connection, plan, progress)
                try:
                    await config.mode.after_open(connection, prepared, deadline, plan.reply_timeout)
                    if isinstance(link, PresetLink):
                        await link.open(prepared, deadline, config.open_timeout)
                except BaseException:
                    await link.stop()
                    await close(connection, deadline, progress, draining=True)
                    raise
            except AuthRejected:
                if prepared.fresh and context_fresh:
                    raise
                log.warning("credential rejected; obtaining it again")
                prepared = await offload.call(
                    _credentials, config, store, deadline, progress, refresh=True
                )
                context, context_fresh = await offload.call(
                    _tls_context, config, store, deadline, progress, refresh=True
                )
                continue
            except (ConnectFailed, ConnectTimeout, HandshakeFailed) as error:
                failures += 1
                if not error.retryable or failures >= config.max_attempts:
                    raise
                delay = backoff_delay(failures)
                if delay >= deadline.remaining():
                    raise
                log.warning(
                    "connection attempt failed; retrying",
                    extra={"error_type": error.type, "attempt": progress.attempts},
                )
                await asyncio.sleep(delay)
                continue
            selected = connection.subprotocol
            # A subprotocol that carries a credential is never shown.
            progress.subprotocol = None if selected in prepared.credentials else selected
            return link
    finally:
        progress.connect_ms = _ms_since(started) - progress.secret_ms


def _link(connection: ClientConnection, plan: Plan, progress: Progress) -> Link:
    """The connection as the conversation will use it: as it is, or behind the preset."""
    preset = plan.config.preset
    if preset is None:
        return RawLink(connection, plan, progress)
    return PresetLink(connection, preset, plan, progress)


def _credentials(
    config: Config, store: SecretStore, deadline: Deadline, progress: Progress, *, refresh: bool
) -> Prepared:
    def read_secret(refresh: bool) -> SecretValue:
        assert config.token_secret_id is not None  # the mode needs a secret: config checked
        return store.get(
            config.token_secret_id,
            max_age=config.secret_max_age,
            refresh=refresh,
            timeout=deadline.remaining(),
        )

    started = time.perf_counter()
    try:
        prepared = config.mode.prepare(config.handshake, read_secret, deadline, refresh=refresh)
    finally:
        progress.secret_ms += _ms_since(started)
    scrubber.remember(prepared.credentials)
    return prepared


# The last client-certificate context per secret, rebuilt only when the secret is
# read again: parsing the PEM chain and loading the CA store cost milliseconds.
_client_contexts: dict[str, ssl.SSLContext] = {}


def _tls_context(
    config: Config, store: SecretStore, deadline: Deadline, progress: Progress, *, refresh: bool
) -> tuple[ssl.SSLContext | None, bool]:
    """The TLS context for ``wss://`` (with the client certificate when configured),
    and whether it was built from a secret read just now."""
    if not config.websocket_uri.startswith("wss:"):
        return None, True
    secret_id = config.client_cert_secret_id
    if secret_id is None:
        return tls.server_context(config.ca_bundle), True
    started = time.perf_counter()
    try:
        secret = store.get(
            secret_id, max_age=config.secret_max_age, refresh=refresh, timeout=deadline.remaining()
        )
        context = _client_contexts.get(secret_id)
        if secret.fresh or context is None:
            context = _client_contexts[secret_id] = tls.client_context(
                secret.text, ca_bundle=config.ca_bundle
            )
    finally:
        progress.secret_ms += _ms_since(started)
    return context, secret.fresh


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
