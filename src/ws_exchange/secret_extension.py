"""Secrets read through the AWS Parameters and Secrets Lambda Extension.

Used when ``SECRETS_SOURCE=extension``.

The extension is a layer that runs beside the function and answers
``GET http://127.0.0.1:2773/secretsmanager/get?secretId=<id>`` (the port from
``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT``) with the JSON of Secrets Manager's
``GetSecretValue``, once the request carries ``X-Aws-Parameters-Secrets-Token:
$AWS_SESSION_TOKEN``. Reading it needs only :mod:`http.client`, so this path
never imports boto3 or botocore: that import and the client it builds are most
of what the ``sdk`` source adds to a cold start.

Powertools' ``BaseProvider`` cannot be reused: importing anything under
``aws_lambda_powertools.utilities.parameters`` runs that package's
``__init__``, which imports boto3 (checked on 3.37.0). :class:`ExtensionSecretStore`
copies its interface and caching rules instead (``get(name, max_age,
force_fetch)``: a value is served from the store until ``max_age`` seconds have
passed, never stored when ``max_age <= 0``, fetched again on ``force_fetch``).
The extension keeps a cache of its own unless
``PARAMETERS_SECRETS_EXTENSION_CACHE_ENABLED=false`` (the template sets it), in
which case a forced refresh would return the same stale value.

The pure halves (the request path, the port, reading the body, classifying a
failure) are module functions; :meth:`ExtensionSecretStore._request` is the
only I/O. Failures are the ``secret_*`` errors; their messages never
quote the secret, the response body or the session token.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import http.client
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from .credentials import SecretValue
from .errors import ConfigError, ExchangeError, SecretAccessDenied, SecretInvalid, SecretNotFound

DEFAULT_PORT = 2773
PORT_VARIABLE = "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT"
TOKEN_HEADER = "X-Aws-Parameters-Secrets-Token"  # noqa: S105 - a header name
SESSION_TOKEN_VARIABLE = "AWS_SESSION_TOKEN"  # noqa: S105 - a variable name
HOST = "127.0.0.1"
# Secrets Manager holds at most 64 KiB per secret; base64 and the JSON around it
# stay well under this. Anything larger is not an answer from the extension.
MAX_RESPONSE_BYTES = 1024 * 1024

# Error codes Secrets Manager (and so the extension, which passes them on) answers.
_NOT_FOUND = ("ResourceNotFoundException",)
_UNUSABLE = ("DecryptionFailure", "InvalidRequestException")
_TRANSIENT = ("ThrottlingException", "InternalServiceError", "InternalFailure")
_DENIED = (
    "AccessDeniedException",
    "AccessDenied",
    "KMSAccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "ExpiredTokenException",
)


def request_path(secret_id: str) -> str:
    """The extension's path for ``secret_id`` (a name or an ARN), fully percent-encoded."""
    return f"/secretsmanager/get?secretId={quote(secret_id, safe='')}"


def extension_port(environ: Mapping[str, str]) -> int:
    """The extension's port: ``PARAMETERS_SECRETS_EXTENSION_HTTP_PORT`` or 2773.

    Raises:
        ConfigError: the variable is set but is not a port number.
    """
    text = (environ.get(PORT_VARIABLE) or "").strip()
    if not text:
        return DEFAULT_PORT
    if not text.isdigit() or not 1 <= int(text) <= 65535:
        raise ConfigError(f"{PORT_VARIABLE} must be a port number between 1 and 65535.")
    return int(text)


def secret_text(body: bytes) -> str:
    """The secret's value in a ``GetSecretValue`` answer: ``SecretString``, or
    ``SecretBinary`` decoded from base64 as UTF-8 text.

    Raises:
        SecretInvalid: neither field holds usable text.
        SecretAccessDenied: the body is not a JSON object (retryable: the
            extension answered something else than Secrets Manager's document).
    """
    try:
        document = json.loads(body)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, dict):
        raise SecretAccessDenied(
            "The Parameters and Secrets extension answered with something that is not "
            "Secrets Manager's JSON document.",
            retryable=True,
        )
    string = document.get("SecretString")
    if isinstance(string, str):
        return string
    binary = document.get("SecretBinary")
    if isinstance(binary, str):
        try:
            return base64.b64decode(binary, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            raise SecretInvalid("The secret's binary value is not UTF-8 text.") from None
    raise SecretInvalid("The secret has neither a SecretString nor a SecretBinary value.")


def classify_failure(status: int, body: bytes) -> ExchangeError:
    """The error for an answer other than 200. Pure; never quotes ``body``.

    The extension passes Secrets Manager's error code on in its body; the code
    decides when it is known, the status otherwise: 404 is a missing secret,
    401 a wrong token header, 400 and 403 a refusal (not retryable: the role or
    the key policy must change), anything else (5xx) retryable.
    """
    text = body[:4096].decode("utf-8", errors="replace")
    if status == 404 or any(code in text for code in _NOT_FOUND):
        return SecretNotFound("The configured secret does not exist.")
    if any(code in text for code in _UNUSABLE):
        return SecretInvalid("The configured secret has no readable current value.")
    if any(code in text for code in _TRANSIENT):
        return SecretAccessDenied(
            "Secrets Manager is busy or failing behind the Parameters and Secrets extension.",
            retryable=True,
        )
    if status == 401:
        return SecretAccessDenied(
            f"The Parameters and Secrets extension refused the request's {TOKEN_HEADER} "
            f"header; it must be the function's {SESSION_TOKEN_VARIABLE}."
        )
    if status in (400, 403) or any(code in text for code in _DENIED):
        return SecretAccessDenied(
            "Access to the configured secret was denied; the function's role needs "
            "secretsmanager:GetSecretValue on it (and kms:Decrypt for a customer-managed key)."
        )
    return SecretAccessDenied(
        f"The Parameters and Secrets extension failed (HTTP {status}).", retryable=True
    )


@dataclass(frozen=True, slots=True)
class _Entry:
    text: str
    expires_at: float


class ExtensionSecretStore:
    """Secret values by secret id, read through the extension and cached.

    One instance lives for the life of the execution environment, so that its
    store is shared by warm invocations. ``environ`` is read at each fetch
    (port and session token); ``clock`` is monotonic seconds.
    """

    def __init__(
        self,
        environ: Mapping[str, str] | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._environ = os.environ if environ is None else environ
        self._clock = clock
        self._store: dict[str, _Entry] = {}
        #: Calls that reached the extension (a request was sent to it).
        self.fetches = 0

    def get(self, secret_id: str, *, max_age: float, refresh: bool, timeout: float) -> SecretValue:
        """The secret's text: from the store while it is younger than ``max_age``
        seconds, else (or with ``refresh``) from the extension, in at most
        ``timeout`` seconds.

        Raises:
            SecretNotFound, SecretAccessDenied, SecretInvalid: the
                secret errors; ``timeout <= 0`` raises a retryable SecretAccessDenied
                before any I/O.
            ConfigError: the extension's port variable is invalid.
        """
        entry = self._store.get(secret_id)
        if not refresh and entry is not None and entry.expires_at >= self._clock():
            return SecretValue(entry.text, fresh=False)
        text = self._request(secret_id, timeout)
        if max_age > 0:
            self._store[secret_id] = _Entry(text, self._clock() + max_age)
        return SecretValue(text, fresh=True)

    def clear(self) -> None:
        """Forget every stored value."""
        self._store.clear()

    def _request(self, secret_id: str, timeout: float) -> str:
        """One GET to the extension, finished (or abandoned) within ``timeout`` seconds."""
        port = extension_port(self._environ)
        if timeout <= 0:
            raise SecretAccessDenied(
                "No time was left before the invocation's deadline to read the secret.",
                retryable=True,
            )
        session_token = self._environ.get(SESSION_TOKEN_VARIABLE, "")
        if not session_token:
            raise SecretAccessDenied(
                f"{SESSION_TOKEN_VARIABLE} is not set, and the Parameters and Secrets "
                f"extension answers only requests carrying it in {TOKEN_HEADER}."
            )
        unanswered = SecretAccessDenied(
            f"The Parameters and Secrets extension did not answer on {HOST}:{port} within "
            f"{timeout:.3g} s; is its layer attached (and {PORT_VARIABLE} right)?",
            retryable=True,
        )
        connection = http.client.HTTPConnection(HOST, port, timeout=timeout)
        # The socket timeout bounds each step, not their sum; the watchdog shuts
        # the socket at the deadline, whatever the other end does with it.
        expired = threading.Event()

        def expire() -> None:
            expired.set()
            sock = connection.sock
            if sock is not None:
                # shutdown, not close: it wakes a recv blocked in the other thread.
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)

        watchdog = threading.Timer(timeout, expire)
        watchdog.daemon = True
        watchdog.start()
        try:
            connection.connect()
            try:
                connection.putrequest("GET", request_path(secret_id), skip_accept_encoding=True)
                connection.putheader(TOKEN_HEADER, session_token)
                connection.endheaders()
            except ValueError:
                # http.client refuses a header value with CR/LF; never quote it.
                raise SecretAccessDenied(
                    f"{SESSION_TOKEN_VARIABLE} cannot be sent as an HTTP header value."
                ) from None
            self.fetches += 1
            response = connection.getresponse()
            body = response.read(MAX_RESPONSE_BYTES + 1)
            status = response.status
        except ExchangeError:
            raise
        except ConnectionRefusedError:
            raise SecretAccessDenied(
                f"Nothing listens on {HOST}:{port} for the Parameters and Secrets extension; "
                f"is its layer attached (and {PORT_VARIABLE} right)?",
                retryable=True,
            ) from None
        except (OSError, http.client.HTTPException):
            raise unanswered from None
        finally:
            watchdog.cancel()
            connection.close()
        if expired.is_set():
            raise unanswered
        if status != 200:
            raise classify_failure(status, body)
        if len(body) > MAX_RESPONSE_BYTES:
            raise SecretInvalid("The secret's value is larger than Secrets Manager allows.")
        return secret_text(body)
