"""Configuration: parsed and validated from the environment, never from events.

Pure logic: :func:`load_config` takes a mapping (``os.environ`` in production)
and returns an immutable :class:`Config` or raises :class:`ConfigError` naming
the variable at fault. Nothing here runs at import time, so a bad variable is a
``config_error`` result rather than a crash while Lambda loads the module.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from .errors import ConfigError
from .framing import loads

# Lambda's own ceiling for one invocation: no wait may be configured past it.
MAX_SECONDS = 900.0
# A synchronous Lambda response is at most 6 MB, so a larger message could
# never be returned anyway.
MAX_MESSAGE_BYTES_LIMIT = 6 * 1024 * 1024
MAX_ATTEMPTS_LIMIT = 10
MAX_EXPECTED_REPLIES = 100

_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})
# RFC 9110 token: what may stand before the credentials in Authorization.
_AUTH_SCHEME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the deployer decides, validated."""

    websocket_uri: str
    endpoint: str
    token_secret_id: str
    token_secret_field: str = "token"  # noqa: S105 - a field name, not a secret
    auth_scheme: str = "Bearer"
    open_timeout: float = 10.0
    reply_timeout: float = 10.0
    expected_replies: int = 1
    max_attempts: int = 3
    secret_max_age: int = 300
    default_message: Any = None
    allow_insecure: bool = False
    max_message_bytes: int = 1024 * 1024
    fail_on_error: bool = False


def public_endpoint(uri: str) -> str:
    """Return ``uri`` without userinfo, query string or fragment.

    This is the only form of the endpoint that reaches results and logs: a query
    string may carry an API key, userinfo a password.
    """
    parts = urlsplit(uri)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


# Every variable load_config reads: the configuration is a pure function of
# their values.
_VARIABLES = (
    "WEBSOCKET_URI",
    "TOKEN_SECRET_ID",
    "TOKEN_SECRET_FIELD",
    "AUTH_SCHEME",
    "OPEN_TIMEOUT_SECONDS",
    "REPLY_TIMEOUT_SECONDS",
    "EXPECTED_REPLIES",
    "MAX_ATTEMPTS",
    "SECRET_MAX_AGE_SECONDS",
    "DEFAULT_MESSAGE",
    "ALLOW_INSECURE_WEBSOCKET",
    "MAX_MESSAGE_BYTES",
    "FAIL_ON_ERROR",
)
# The last valid configuration and the values it was built from. Warm
# invocations see the same environment, so parsing it again (URI split, JSON
# decode, a regex) would be work for nothing on every call.
_last: tuple[tuple[str | None, ...], Config] | None = None


def load_config(environ: Mapping[str, str]) -> Config:
    """Build a :class:`Config` from ``environ`` or raise :class:`ConfigError`."""
    global _last
    values = tuple(map(environ.get, _VARIABLES))
    last = _last
    if last is not None and last[0] == values:
        return last[1]
    # Parsed from the listed variables alone, so the list is the one place
    # that says what the configuration depends on: a variable read but not
    # listed would read as unset, and its tests would say so.
    config = _parse({name: v for name, v in zip(_VARIABLES, values, strict=True) if v is not None})
    _last = (values, config)
    return config


def _parse(environ: Mapping[str, str]) -> Config:
    allow_insecure = _boolean(environ, "ALLOW_INSECURE_WEBSOCKET", False)
    uri = _websocket_uri(environ, allow_insecure)
    secret_id = environ.get("TOKEN_SECRET_ID", "").strip()
    if not secret_id:
        raise ConfigError(
            "TOKEN_SECRET_ID is required: the Secrets Manager secret holding the token."
        )
    field = environ.get("TOKEN_SECRET_FIELD", "token").strip()
    if not field:
        raise ConfigError("TOKEN_SECRET_FIELD must not be empty.")
    scheme = environ.get("AUTH_SCHEME", "Bearer").strip()
    if not _AUTH_SCHEME.fullmatch(scheme):
        raise ConfigError("AUTH_SCHEME must be a single word such as Bearer.")
    return Config(
        websocket_uri=uri,
        endpoint=public_endpoint(uri),
        token_secret_id=secret_id,
        token_secret_field=field,
        auth_scheme=scheme,
        open_timeout=_seconds(environ, "OPEN_TIMEOUT_SECONDS", 10.0),
        reply_timeout=_seconds(environ, "REPLY_TIMEOUT_SECONDS", 10.0),
        expected_replies=_integer(environ, "EXPECTED_REPLIES", 1, 0, MAX_EXPECTED_REPLIES),
        max_attempts=_integer(environ, "MAX_ATTEMPTS", 3, 1, MAX_ATTEMPTS_LIMIT),
        secret_max_age=_integer(environ, "SECRET_MAX_AGE_SECONDS", 300, 0, 86400),
        default_message=_default_message(environ),
        allow_insecure=allow_insecure,
        max_message_bytes=_integer(
            environ, "MAX_MESSAGE_BYTES", 1024 * 1024, 1, MAX_MESSAGE_BYTES_LIMIT
        ),
        fail_on_error=_boolean(environ, "FAIL_ON_ERROR", False),
    )


def _websocket_uri(environ: Mapping[str, str], allow_insecure: bool) -> str:
    uri = environ.get("WEBSOCKET_URI", "").strip()
    if not uri:
        raise ConfigError("WEBSOCKET_URI is required: the wss:// endpoint to connect to.")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError("WEBSOCKET_URI is not a valid URI.") from None
    if parts.scheme == "ws":
        if not allow_insecure:
            raise ConfigError(
                "WEBSOCKET_URI must use wss://; ws:// needs ALLOW_INSECURE_WEBSOCKET=true."
            )
    elif parts.scheme != "wss":
        raise ConfigError("WEBSOCKET_URI must be a wss:// URI.")
    if not parts.hostname:
        raise ConfigError("WEBSOCKET_URI has no host.")
    if parts.username is not None or parts.password is not None:
        # websockets would turn userinfo into a second Authorization header.
        raise ConfigError("WEBSOCKET_URI must not contain credentials; use the secret.")
    if parts.fragment:
        raise ConfigError("WEBSOCKET_URI must not contain a fragment.")
    if any(c.isspace() for c in uri):
        raise ConfigError("WEBSOCKET_URI must not contain whitespace.")
    return uri


def _default_message(environ: Mapping[str, str]) -> Any:
    raw = environ.get("DEFAULT_MESSAGE")
    if raw is None or not raw.strip():
        return {"action": "ping"}
    try:
        return loads(raw)
    except ValueError:
        raise ConfigError("DEFAULT_MESSAGE must be valid JSON.") from None


def _boolean(environ: Mapping[str, str], name: str, default: bool) -> bool:
    raw = environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"{name} must be true or false.")


def _integer(
    environ: Mapping[str, str], name: str, default: int, minimum: int, maximum: int
) -> int:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = int(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a whole number.") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}.")
    return value


def _seconds(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = environ.get(name)
    if raw is None or not raw.strip():
        return default
    try:
        value = float(raw.strip())
    except ValueError:
        raise ConfigError(f"{name} must be a number of seconds.") from None
    if not (math.isfinite(value) and 0 < value <= MAX_SECONDS):
        raise ConfigError(f"{name} must be greater than 0 and at most {MAX_SECONDS:g}.")
    return value


def wants_fail_on_error(environ: Mapping[str, str]) -> bool:
    """FAIL_ON_ERROR on its own, for when the rest of the configuration is invalid."""
    try:
        return _boolean(environ, "FAIL_ON_ERROR", False)
    except ConfigError:
        return False
