"""The extension reader against the local extension emulator in front of moto."""

from __future__ import annotations

import json
import secrets
import socket
import threading
import time
import uuid
from collections.abc import Iterator

import pytest

from local_stack.aws.secrets_extension import LocalSecretsExtension
from local_stack.aws.secrets_manager import LocalSecretsManager
from ws_exchange.errors import SecretAccessDenied, SecretNotFound
from ws_exchange.secret_extension import ExtensionSecretStore


@pytest.fixture(scope="module")
def session_token() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture(scope="module")
def extension(
    secrets_manager: LocalSecretsManager, session_token: str
) -> Iterator[LocalSecretsExtension]:
    with LocalSecretsExtension(secrets_manager.endpoint_url, session_token) as emulator:
        yield emulator


@pytest.fixture
def store(extension: LocalSecretsExtension) -> ExtensionSecretStore:
    return ExtensionSecretStore(
        {
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
            "AWS_SESSION_TOKEN": extension.session_token,
        }
    )


@pytest.fixture
def secret(secrets_manager: LocalSecretsManager) -> tuple[str, str]:
    """A secret of its own (name, value) for each test."""
    value = json.dumps({"token": secrets.token_urlsafe(16)})
    return secrets_manager.put_secret(f"ext/{uuid.uuid4()}", value), value


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_secret_is_read_through_the_extension(
    store: ExtensionSecretStore,
    extension: LocalSecretsExtension,
    secrets_manager: LocalSecretsManager,
    secret: tuple[str, str],
) -> None:
    calls, upstream = extension.calls, secrets_manager.get_secret_value_calls

    value = store.get(secret[0], max_age=300, refresh=False, timeout=5.0)

    assert (value.text, value.fresh) == (secret[1], True)
    assert store.fetches == 1
    assert extension.calls == calls + 1
    assert secrets_manager.get_secret_value_calls == upstream + 1


def test_a_name_with_slashes_and_an_arn_both_resolve(
    store: ExtensionSecretStore, secrets_manager: LocalSecretsManager
) -> None:
    name = f"team/{uuid.uuid4()}/token+1"
    arn = secrets_manager.put_secret(name, "plain-token")

    assert store.get(name, max_age=0, refresh=False, timeout=5.0).text == "plain-token"
    assert store.get(arn, max_age=0, refresh=False, timeout=5.0).text == "plain-token"


def test_binary_secret_arrives_as_text(
    store: ExtensionSecretStore, secrets_manager: LocalSecretsManager
) -> None:
    name = secrets_manager.put_secret(f"ext/{uuid.uuid4()}", b"binary-token")

    assert store.get(name, max_age=0, refresh=False, timeout=5.0).text == "binary-token"


def test_cache_window_serves_a_rotated_secret_only_after_refresh(
    store: ExtensionSecretStore,
    extension: LocalSecretsExtension,
    secrets_manager: LocalSecretsManager,
    secret: tuple[str, str],
) -> None:
    name, old = secret
    store.get(name, max_age=300, refresh=False, timeout=5.0)
    secrets_manager.put_secret(name, "rotated")
    calls = extension.calls

    cached = store.get(name, max_age=300, refresh=False, timeout=5.0)
    refreshed = store.get(name, max_age=300, refresh=True, timeout=5.0)

    assert (cached.text, cached.fresh) == (old, False)
    assert (refreshed.text, refreshed.fresh) == ("rotated", True)
    assert extension.calls == calls + 1
    assert store.fetches == 2


def test_missing_secret_is_secret_not_found(store: ExtensionSecretStore) -> None:
    with pytest.raises(SecretNotFound) as caught:
        store.get(f"missing/{uuid.uuid4()}", max_age=300, refresh=False, timeout=5.0)

    assert caught.value.retryable is False


def test_denied_secret_is_access_denied_and_not_retryable(
    store: ExtensionSecretStore, secrets_manager: LocalSecretsManager, secret: tuple[str, str]
) -> None:
    secrets_manager.deny(secret[0])

    with pytest.raises(SecretAccessDenied) as caught:
        store.get(secret[0], max_age=300, refresh=False, timeout=5.0)

    assert caught.value.retryable is False


def test_wrong_token_header_is_refused_before_secrets_manager_is_asked(
    extension: LocalSecretsExtension,
    secrets_manager: LocalSecretsManager,
    secret: tuple[str, str],
) -> None:
    store = ExtensionSecretStore(
        {
            "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(extension.port),
            "AWS_SESSION_TOKEN": "not-the-session-token",
        }
    )
    upstream = secrets_manager.get_secret_value_calls

    with pytest.raises(SecretAccessDenied, match="X-Aws-Parameters-Secrets-Token") as caught:
        store.get(secret[0], max_age=300, refresh=False, timeout=5.0)

    assert caught.value.retryable is False
    assert "not-the-session-token" not in str(caught.value)
    assert secrets_manager.get_secret_value_calls == upstream


def test_nothing_listening_is_retryable_and_says_to_attach_the_layer(
    secret: tuple[str, str],
) -> None:
    store = ExtensionSecretStore(
        {"PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(free_port()), "AWS_SESSION_TOKEN": "t"}
    )

    with pytest.raises(SecretAccessDenied, match="layer attached") as caught:
        store.get(secret[0], max_age=300, refresh=False, timeout=0.5)

    assert caught.value.retryable is True
    assert store.fetches == 0


def test_an_extension_that_never_answers_is_abandoned_at_the_timeout() -> None:
    # Accepted by the kernel's backlog, never read: the request goes out, no answer comes.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        store = ExtensionSecretStore(
            {
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(listener.getsockname()[1]),
                "AWS_SESSION_TOKEN": "t",
            }
        )
        started = time.monotonic()
        with pytest.raises(SecretAccessDenied, match=r"did not answer .* within 0\.3 s") as caught:
            store.get("any", max_age=300, refresh=False, timeout=0.3)
        elapsed = time.monotonic() - started

    assert caught.value.retryable is True
    assert 0.25 <= elapsed < 1.0


def test_an_extension_that_trickles_is_abandoned_at_the_timeout() -> None:
    # Each byte arrives within the socket timeout; only the overall bound stops it.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(4)
        store = ExtensionSecretStore(
            {
                "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT": str(listener.getsockname()[1]),
                "AWS_SESSION_TOKEN": "t",
            }
        )
        stop = threading.Event()

        def trickle() -> None:
            connection, _ = listener.accept()
            with connection:
                connection.recv(4096)
                connection.sendall(b"HTTP/1.1 200 OK\r\n")
                while not stop.wait(0.05):
                    try:
                        connection.sendall(b"X-Slow: 1\r\n")
                    except OSError:
                        return

        thread = threading.Thread(target=trickle, daemon=True)
        thread.start()
        started = time.monotonic()
        try:
            with pytest.raises(SecretAccessDenied, match="did not answer") as caught:
                store.get("any", max_age=300, refresh=False, timeout=0.4)
            elapsed = time.monotonic() - started
        finally:
            stop.set()
            thread.join(timeout=5)

    assert caught.value.retryable is True
    assert elapsed < 1.0
