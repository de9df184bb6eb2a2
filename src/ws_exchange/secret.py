"""Secrets Manager through Powertools Parameters (``SECRETS_SOURCE=sdk``). I/O at the edge.

Powertools' :class:`SecretsProvider` caches each secret for ``SECRET_MAX_AGE_SECONDS``
across warm invocations, and ``force_fetch`` bypasses the cache after a server
rejected a possibly rotated credential. That cache is the only one.

Every read is capped by the invocation's deadline: the call to Secrets Manager runs
on a worker thread that is waited for at most ``timeout`` seconds. botocore's own
timeouts and retries cannot be changed per call on a shared client, and a client
per invocation would cost every warm invocation its creation; a worker that
outlives its wait finishes (or fails) on its own within botocore's bounded
timeouts below, and changes nothing but the cache.

Failures become the ``secret_*`` errors, whose messages never quote
the secret and point at the fix.
"""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3
import botocore.session
from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import (
    BotoCoreError,
    ConnectTimeoutError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ReadTimeoutError,
)
from botocore.loaders import Loader

from .credentials import SecretValue
from .errors import ConfigError, ExchangeError, SecretAccessDenied, SecretInvalid, SecretNotFound

# A worker abandoned by its deadline still ends within about 2 x (2 + 3) s.
_BOTOCORE_CONFIG = BotocoreConfig(
    connect_timeout=2,
    read_timeout=3,
    retries={"mode": "standard", "total_max_attempts": 2},
)

_NOT_FOUND = frozenset({"ResourceNotFoundException"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "IncompleteSignature",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
    }
)
# The secret exists but has no readable current value.
_UNUSABLE = frozenset({"InvalidRequestException", "DecryptionFailure"})


class _CountingSecretsProvider(SecretsProvider):
    """Powertools' provider, counting the calls that reach Secrets Manager and
    bounding each by the wait its caller allows."""

    def __init__(self, client: Any) -> None:
        super().__init__(boto3_client=client)
        self.fetches = 0
        self.timeout = 0.0
        # Room for reads abandoned at earlier deadlines, which finish on their own
        # within botocore's timeouts, beside the one this invocation needs.
        self._worker = ThreadPoolExecutor(max_workers=8, thread_name_prefix="secrets-manager")

    def _get(self, name: str, **sdk_options: Any) -> str | bytes:
        self.fetches += 1
        call = self._worker.submit(super()._get, name, **sdk_options)
        return call.result(timeout=self.timeout)


class _SecretsManagerModels(Loader):  # type: ignore[misc]  # botocore is untyped
    """botocore's model loader for a session that only builds a Secrets Manager client.

    Before it loads a model, botocore checks the service name against every
    service it has models for: ~900 directory listings and ~2,800 stats, twice.
    Skipping that scan took ~40 ms off a ~410 ms cold start (``make bench``:
    cold start ``sdk`` 0.86-1.00 x the naive handler over eight runs with it,
    0.93-1.11 over four without, where the target is 1.00). The models still
    come from botocore's own data.
    """

    def list_available_services(self, type_name: str) -> list[str]:
        return ["secretsmanager"]


def _botocore_session() -> Any:
    session = botocore.session.get_session()
    # The fast loader only where no other client will be built from the session:
    # credentials from the environment (always so in Lambda) and no profile, which
    # may assume a role through STS; and botocore's own models (no AWS_DATA_PATH).
    if (
        os.environ.get("AWS_ACCESS_KEY_ID")
        and session.get_config_variable("profile") is None
        and session.get_config_variable("data_path") is None
    ):
        session.register_component("data_loader", _SecretsManagerModels())
    return session


class SdkSecretStore:
    """Reads secrets with boto3; one instance per execution environment."""

    def __init__(self) -> None:
        self._provider: _CountingSecretsProvider | None = None
        # A fleet's targets read their secrets on threads of their own: one client for all.
        self._creating = threading.Lock()

    @property
    def fetches(self) -> int:
        """How many times Secrets Manager itself was called."""
        return 0 if self._provider is None else self._provider.fetches

    def get(self, secret_id: str, *, max_age: float, refresh: bool, timeout: float) -> SecretValue:
        """The secret's text, from the cache unless ``refresh`` or expired.

        Raises:
            SecretNotFound, SecretAccessDenied, SecretInvalid: as their names say.
            ConfigError: no AWS region, or an invalid endpoint override.
        """
        if timeout <= 0:
            raise SecretAccessDenied(
                "No time was left before the Lambda deadline to read the secret.", retryable=True
            )
        provider = self._provider
        if provider is None:
            with self._creating:
                provider = self._provider or self._create_provider()
        provider.timeout = timeout
        before = provider.fetches
        try:
            raw = provider.get(secret_id, max_age=int(max_age), force_fetch=refresh)
        except GetParameterError as exc:
            # Powertools wraps every failure in GetParameterError(str(exc)),
            # copying library text; the original is the implicit context.
            raise _secret_error(exc.__context__, secret_id, timeout) from None
        return SecretValue(_text(raw), fresh=provider.fetches != before)

    def _create_provider(self) -> _CountingSecretsProvider:
        # Created on first use, inside an invocation, so that a failure becomes a result.
        # Lambda sets AWS_REGION; botocore reads only AWS_DEFAULT_REGION.
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
        try:
            client = boto3.session.Session(botocore_session=_botocore_session()).client(
                "secretsmanager", region_name=region, config=_BOTOCORE_CONFIG
            )
        except NoRegionError:
            raise ConfigError(
                "No AWS region is set: set AWS_REGION (Lambda sets it for you)."
            ) from None
        except ValueError:
            raise ConfigError(
                "AWS_ENDPOINT_URL_SECRETS_MANAGER is not a valid URL (e.g. http://127.0.0.1:4566)."
            ) from None
        except BotoCoreError:
            raise SecretAccessDenied(
                "The Secrets Manager client could not be created.", retryable=True
            ) from None
        self._provider = _CountingSecretsProvider(client)
        return self._provider

    def clear(self) -> None:
        """Forget every cached value (tests and credential rotation drills)."""
        if self._provider is not None:
            self._provider.clear_cache()  # type: ignore[no-untyped-call]


def _text(raw: Any) -> str:
    if isinstance(raw, bytes):
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretInvalid("The secret's binary value is not UTF-8 text.") from None
    if not isinstance(raw, str):
        raise SecretInvalid("The secret has no value.")
    return raw


def _secret_error(cause: BaseException | None, secret_id: str, timeout: float) -> ExchangeError:
    if isinstance(cause, TimeoutError | ConnectTimeoutError | ReadTimeoutError):
        return SecretAccessDenied(
            f"Secrets Manager did not answer within {timeout:.3g} s.", retryable=True
        )
    if isinstance(cause, NoCredentialsError | PartialCredentialsError):
        return SecretAccessDenied(
            "No AWS credentials were found to read the secret: check the function's role "
            "(or AWS_PROFILE / AWS_ACCESS_KEY_ID when running locally)."
        )
    code = ""
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if code in _NOT_FOUND:
        return SecretNotFound(f"The secret {secret_id!r} does not exist in Secrets Manager.")
    if code in _DENIED:
        return SecretAccessDenied(
            f"Access to the secret {secret_id!r} was denied: the function's role needs "
            "secretsmanager:GetSecretValue on it (and kms:Decrypt on its key)."
        )
    if code in _UNUSABLE:
        return SecretInvalid(f"The secret {secret_id!r} has no readable current value.")
    if code:
        return SecretAccessDenied(f"Secrets Manager refused the request ({code}).", retryable=True)
    return SecretAccessDenied("Secrets Manager could not be reached.", retryable=True)
