"""The token: read from Secrets Manager through Powertools Parameters, cached.

I/O at the edge. Powertools caches the raw secret for ``SECRET_MAX_AGE_SECONDS``
across warm invocations; :meth:`TokenSource.get` with ``refresh=True`` bypasses
the cache after the server rejected a possibly rotated token. Failures become
the contract's ``secret_*`` errors, whose messages never quote the secret.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aws_lambda_powertools.utilities.parameters import SecretsProvider
from aws_lambda_powertools.utilities.parameters.exceptions import GetParameterError
from botocore.config import Config as BotocoreConfig
from botocore.exceptions import BotoCoreError, NoRegionError

from .config import Config
from .errors import ConfigError, SecretAccessDenied, SecretInvalid, SecretNotFound

# Bounded so that a slow Secrets Manager cannot use up the whole invocation;
# botocore's defaults are 60 s each with up to 5 attempts.
_BOTOCORE_CONFIG = BotocoreConfig(
    connect_timeout=3,
    read_timeout=5,
    retries={"mode": "standard", "total_max_attempts": 2},
)

_NOT_FOUND = frozenset({"ResourceNotFoundException"})
_DENIED = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidSignatureException",
        "ExpiredTokenException",
        "KMSAccessDeniedException",
    }
)
# The secret exists but has no readable current value.
_UNUSABLE = frozenset({"InvalidRequestException", "DecryptionFailure"})


@dataclass(frozen=True, slots=True)
class Token:
    """A token and whether it came straight from Secrets Manager just now."""

    value: str
    fresh: bool

    def __repr__(self) -> str:
        return f"Token(value='***', fresh={self.fresh})"


class _CountingSecretsProvider(SecretsProvider):
    """Powertools' provider, counting the calls that reach Secrets Manager."""

    def __init__(self) -> None:
        super().__init__(boto_config=_BOTOCORE_CONFIG)
        self.fetches = 0

    def _get(self, name: str, **sdk_options: Any) -> str | bytes:
        self.fetches += 1
        return super()._get(name, **sdk_options)


class TokenSource:
    """Reads the bearer token named by the configuration.

    One instance lives for the life of the execution environment, so its cache
    and its boto3 client are shared by warm invocations.
    """

    def __init__(self) -> None:
        self._provider: _CountingSecretsProvider | None = None
        # The token last extracted, keyed by the cached raw value (by
        # identity) and the field: a warm invocation skips the JSON decode.
        self._parsed: tuple[str | bytes | None, str, str] | None = None

    @property
    def fetches(self) -> int:
        """How many times Secrets Manager itself was called."""
        return 0 if self._provider is None else self._provider.fetches

    def get(self, config: Config, *, refresh: bool = False) -> Token:
        """Return the token, from the cache unless ``refresh`` or expired."""
        if self._provider is None:
            # Created on first use so that the boto3 client is built inside an
            # invocation, where a failure becomes a result, not an init error.
            try:
                self._provider = _CountingSecretsProvider()
            except NoRegionError:
                raise ConfigError("AWS_REGION is not set.") from None
            except BotoCoreError:
                raise SecretAccessDenied(
                    "The Secrets Manager client could not be created.", retryable=True
                ) from None
        before = self._provider.fetches
        try:
            raw = self._provider.get(
                config.token_secret_id,
                max_age=config.secret_max_age,
                force_fetch=refresh,
            )
        except GetParameterError as exc:
            raise _secret_error(exc) from None
        secret = raw if isinstance(raw, str | bytes) else None
        parsed = self._parsed
        if parsed is not None and parsed[0] is secret and parsed[1] == config.token_secret_field:
            token = parsed[2]
        else:
            token = extract_token(secret, config.token_secret_field)
            self._parsed = (secret, config.token_secret_field, token)
        return Token(token, fresh=self._provider.fetches != before)

    def clear(self) -> None:
        """Forget every cached value (tests and credential rotation drills)."""
        self._parsed = None
        if self._provider is not None:
            self._provider.clear_cache()  # type: ignore[no-untyped-call]


def extract_token(raw: str | bytes | None, field: str) -> str:
    """Find the token in a secret's value. Pure; never quotes the value.

    A SecretString holding a JSON object yields its ``field``; any other
    SecretString (or SecretBinary in UTF-8) is the token itself. Surrounding
    whitespace is dropped, as a secret written from a file often ends in a
    newline. The token must be visible ASCII, the only safe header content.
    """
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise SecretInvalid("The secret's binary value is not UTF-8 text.") from None
    if not isinstance(raw, str):
        raise SecretInvalid("The secret has no value.")
    text = raw.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except RecursionError:
            raise SecretInvalid("The secret's JSON is nested too deeply.") from None
        except ValueError:
            document = None
        if isinstance(document, dict):
            if field not in document:
                raise SecretInvalid(f"The secret's JSON object has no field {field!r}.")
            value = document[field]
            if not isinstance(value, str):
                raise SecretInvalid(f"The secret's field {field!r} is not a string.")
            text = value.strip()
    if not text:
        raise SecretInvalid("The secret's token is empty.")
    if not all("!" <= c <= "~" for c in text):
        raise SecretInvalid("The secret's token has characters an HTTP header cannot carry.")
    return text


def _secret_error(exc: GetParameterError) -> Exception:
    # Powertools wraps every failure in GetParameterError; the botocore error
    # it replaced is the implicit context.
    cause = exc.__context__
    code = ""
    response = getattr(cause, "response", None)
    if isinstance(response, dict):
        code = str(response.get("Error", {}).get("Code", ""))
    if code in _NOT_FOUND:
        return SecretNotFound("The configured secret does not exist.")
    if code in _DENIED:
        return SecretAccessDenied("Access to the configured secret was denied.")
    if code in _UNUSABLE:
        return SecretInvalid("The configured secret has no readable current value.")
    if code:
        return SecretAccessDenied(f"Secrets Manager refused the request ({code}).", retryable=True)
    return SecretAccessDenied("Secrets Manager could not be reached.", retryable=True)
