"""Configuration: parsed and validated from the environment, never from events.

Pure logic: :func:`load_config` takes a mapping (``os.environ`` in production)
and returns an immutable :class:`Config` or raises :class:`ConfigError` naming
the variable at fault. Nothing here runs at import time, so a bad variable is a
``config_error`` result rather than a crash while Lambda loads the module.
"""

from __future__ import annotations

import ipaddress
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from websockets.exceptions import InvalidURI
from websockets.uri import parse_uri

from . import tls
from .checks import Expression, parse_default_expect
from .credentials import (
    CredentialMode,
    Handshake,
    load_mode,
    parse_handshake_headers,
    parse_subprotocols,
)
from .errors import ConfigError
from .framing import DEFAULT_TIMESTAMP_FIELD, Outgoing, loads, prepare
from .protocols import Preset, load_preset
from .suggest import closest

# Lambda's own ceiling for one invocation: no wait may be configured past it.
MAX_SECONDS = 900.0
# A synchronous Lambda response is at most 6 MB, so a larger message could
# never be returned anyway.
MAX_MESSAGE_BYTES_LIMIT = 6 * 1024 * 1024
MAX_ATTEMPTS_LIMIT = 10
# Lambda answers at most 6 MB; the replies kept leave room for the rest of the result.
MAX_RESULT_BYTES_LIMIT = 5 * 1024 * 1024
MAX_EXPECTED_REPLIES = 100
# A field name, not a document: long enough for any naming convention.
MAX_TIMESTAMP_FIELD_CHARS = 64

# DEFAULT_MESSAGE when unset.
PING = {"action": "ping"}
_PING = prepare(PING)
_TRUE = frozenset({"true", "1", "yes", "on"})
_FALSE = frozenset({"false", "0", "no", "off", ""})


@dataclass(frozen=True, slots=True)
class Config:
    """Everything the deployer decides, validated."""

    websocket_uri: str
    endpoint: str
    # WEBSOCKET_URI's query values, decoded and as written: scrubbed like credentials.
    query_values: tuple[str, ...]
    mode: CredentialMode
    handshake: Handshake
    # PROTOCOL's preset; None for raw.
    preset: Preset | None = None
    token_secret_id: str | None = None
    client_cert_secret_id: str | None = None
    # CA_BUNDLE's file, an absolute path inside the package: trusted besides the system CAs.
    ca_bundle: str | None = None
    secrets_source: str = "sdk"
    open_timeout: float = 10.0
    reply_timeout: float = 10.0
    expected_replies: int = 1
    max_attempts: int = 3
    secret_max_age: int = 300
    # Where outgoing objects get their timestamp; empty: nowhere.
    timestamp_field: str = DEFAULT_TIMESTAMP_FIELD
    # DEFAULT_MESSAGE, checked and encoded for sending (stamped in timestamp_field).
    default_outgoing: Outgoing = _PING
    default_expect: tuple[Expression, ...] = ()
    allow_insecure: bool = False
    max_message_bytes: int = 1024 * 1024
    max_result_bytes: int = 4 * 1024 * 1024
    fail_on_error: bool = False

    @property
    def default_message(self) -> Any:
        """DEFAULT_MESSAGE, as configured."""
        return self.default_outgoing.message


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


# Every variable the configuration (credential modes included) reads: it is a
# pure function of their values. A variable read but not listed reads as unset,
# so its tests fail until it is listed.
VARIABLES = (
    "WEBSOCKET_URI",
    "AUTH_MODE",
    "TOKEN_SECRET_ID",
    "TOKEN_SECRET_FIELD",
    "AUTH_SCHEME",
    "AUTH_HEADER",
    "AUTH_COOKIE",
    "AUTH_QUERY_PARAM",
    "AUTH_SUBPROTOCOL_PREFIX",
    "AUTH_SUBPROTOCOL_ENCODING",
    "OAUTH2_TOKEN_URL",
    "OAUTH2_SCOPE",
    "OAUTH2_AUDIENCE",
    "OAUTH2_CLIENT_AUTH",
    "AUTH_MESSAGE",
    "AUTH_SUCCESS",
    "AUTH_FAILURE",
    "SIGV4_SERVICE",
    "SIGV4_REGION",
    "CLIENT_CERT_SECRET_ID",
    "PROTOCOL",
    "GRAPHQL_CONNECTION_PARAMS",
    "APPSYNC_AUTH",
    "APPSYNC_HTTP_HOST",
    "SOCKETIO_AUTH",
    "TIMESTAMP_FIELD",
    "CA_BUNDLE",
    "LAMBDA_TASK_ROOT",
    "HANDSHAKE_HEADERS",
    "SUBPROTOCOLS",
    "OPEN_TIMEOUT_SECONDS",
    "REPLY_TIMEOUT_SECONDS",
    "EXPECTED_REPLIES",
    "MAX_ATTEMPTS",
    "SECRETS_SOURCE",
    "SECRET_MAX_AGE_SECONDS",
    "DEFAULT_MESSAGE",
    "DEFAULT_EXPECT",
    "ALLOW_INSECURE_WEBSOCKET",
    "MAX_MESSAGE_BYTES",
    "MAX_RESULT_BYTES",
    "FAIL_ON_ERROR",
    "AWS_REGION",
    "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    "AWS_ENDPOINT_URL",
)
_KNOWN = frozenset(VARIABLES)
_VARIABLE_WORD = re.compile(r"\b[A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+\b")

# Parsing costs about 250 us of a warm invocation, measured in place: a fifth
# of what the warm target of `make bench` allows above the raw library (1.48x
# measured without this, 1.25x allowed). Lambda's environment does not change
# within an execution environment: the last configuration is reused while the
# variables' values are the same.
_last: tuple[tuple[str | None, ...], Config] | None = None


def load_config(environ: Mapping[str, str]) -> Config:
    """Build a :class:`Config` from ``environ`` or raise :class:`ConfigError`."""
    global _last
    values = tuple(map(environ.get, VARIABLES))
    if _last is not None and _last[0] == values:
        return _last[1]
    listed = {
        name: value for name, value in zip(VARIABLES, values, strict=True) if value is not None
    }
    try:
        config = _parse(listed)
    except ConfigError as error:
        hint = _misspelt_variable(error.message, listed, environ)
        if hint is None:
            raise
        raise ConfigError(f"{error.message} {hint}") from None
    _last = (values, config)
    return config


# Stricter than for payload fields: Lambda's environment holds dozens of names
# of its own (AWS_*, LAMBDA_*, _HANDLER), none of which should be offered.
_VARIABLE_CUTOFF = 0.8


def _misspelt_variable(
    message: str, listed: Mapping[str, str], environ: Mapping[str, str]
) -> str | None:
    """A hint for ``message``, when it names a variable that is unset while a
    close name this function never reads is set: "X is set: did you mean Y?"."""
    unknown = [name for name in environ if name not in _KNOWN]
    if not unknown:
        return None
    for name in _VARIABLE_WORD.findall(message):
        if name not in _KNOWN or listed.get(name, "").strip():
            continue
        present = closest(name, unknown, cutoff=_VARIABLE_CUTOFF)
        if present is not None:
            return f"{present} is set: did you mean {name}?"
    return None


def _parse(environ: Mapping[str, str]) -> Config:
    allow_insecure = _boolean(environ, "ALLOW_INSECURE_WEBSOCKET", False)
    uri = _websocket_uri(environ, allow_insecure)
    preset = load_preset(environ, uri=uri)
    # The mode checks its own variables, TOKEN_SECRET_ID included when it needs one;
    # a preset with a way of its own to carry credentials (AppSync) replaces it.
    mode = (preset.credential_mode() if preset is not None else None) or load_mode(
        environ, uri=uri, allow_insecure=allow_insecure
    )
    handshake = Handshake(
        uri, headers=parse_handshake_headers(environ), subprotocols=parse_subprotocols(environ)
    )
    if preset is not None:
        handshake = preset.connect_parameters(handshake)
    secret_id = environ.get("TOKEN_SECRET_ID", "").strip() if mode.needs_secret else None
    client_cert_secret_id = environ.get("CLIENT_CERT_SECRET_ID", "").strip() or None
    if client_cert_secret_id and not uri.startswith("wss:"):
        raise ConfigError("CLIENT_CERT_SECRET_ID (mutual TLS) needs a wss:// WEBSOCKET_URI.")
    ca_bundle = _ca_bundle(environ, uri)
    secrets_source = _choice(environ, "SECRETS_SOURCE", ("sdk", "extension"))
    if (secret_id or client_cert_secret_id) and secrets_source == "sdk":
        _check_endpoint_override(environ)
    timestamp_field = _timestamp_field(environ)
    default_outgoing = _default_message(environ, timestamp_field)
    # Lambda's response is at most 6 MB; the result must fit with room for the rest.
    max_result_bytes = _integer(
        environ, "MAX_RESULT_BYTES", 4 * 1024 * 1024, 1, MAX_RESULT_BYTES_LIMIT
    )
    return Config(
        websocket_uri=uri,
        endpoint=public_endpoint(uri),
        query_values=_query_values(uri),
        mode=mode,
        handshake=handshake,
        preset=preset,
        token_secret_id=secret_id,
        client_cert_secret_id=client_cert_secret_id,
        ca_bundle=ca_bundle,
        secrets_source=secrets_source,
        open_timeout=_seconds(environ, "OPEN_TIMEOUT_SECONDS", 10.0),
        reply_timeout=_seconds(environ, "REPLY_TIMEOUT_SECONDS", 10.0),
        expected_replies=_integer(environ, "EXPECTED_REPLIES", 1, 0, MAX_EXPECTED_REPLIES),
        max_attempts=_integer(environ, "MAX_ATTEMPTS", 3, 1, MAX_ATTEMPTS_LIMIT),
        secret_max_age=_integer(environ, "SECRET_MAX_AGE_SECONDS", 300, 0, 86400),
        timestamp_field=timestamp_field,
        default_outgoing=default_outgoing,
        default_expect=parse_default_expect(environ.get("DEFAULT_EXPECT")),
        allow_insecure=allow_insecure,
        max_message_bytes=_integer(
            environ, "MAX_MESSAGE_BYTES", 1024 * 1024, 1, MAX_MESSAGE_BYTES_LIMIT
        ),
        max_result_bytes=max_result_bytes,
        fail_on_error=_boolean(environ, "FAIL_ON_ERROR", False),
    )


def _websocket_uri(environ: Mapping[str, str], allow_insecure: bool) -> str:
    uri = environ.get("WEBSOCKET_URI", "").strip()
    if not uri:
        raise ConfigError("WEBSOCKET_URI is required: the wss:// endpoint to connect to.")
    if any(c.isspace() or ord(c) < 0x20 or c == "\x7f" for c in uri):
        raise ConfigError("WEBSOCKET_URI must not contain whitespace or control characters.")
    try:
        parts = urlsplit(uri)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError("WEBSOCKET_URI is not a valid URI.") from None
    # The scheme is case-insensitive (RFC 3986): WSS:// is wss://, written as
    # websockets and the TLS decision expect it.
    uri = parts.scheme + uri[len(parts.scheme) :]
    if parts.scheme == "ws":
        if not allow_insecure:
            raise ConfigError(
                "WEBSOCKET_URI must use wss://; ws:// needs ALLOW_INSECURE_WEBSOCKET=true."
            )
    elif parts.scheme != "wss":
        raise ConfigError("WEBSOCKET_URI must be a wss:// URI.")
    if not parts.hostname:
        raise ConfigError("WEBSOCKET_URI has no host.")
    if "@" in parts.netloc:
        # websockets would turn userinfo into a second Authorization header.
        raise ConfigError("WEBSOCKET_URI must not contain credentials; use the secret.")
    if parts.fragment or "#" in uri:
        raise ConfigError("WEBSOCKET_URI must not contain a fragment.")
    _check_host(parts.hostname)
    try:
        parse_uri(uri)
    except InvalidURI:
        raise ConfigError("WEBSOCKET_URI is not a valid WebSocket URI.") from None
    return uri


def _query_values(uri: str) -> tuple[str, ...]:
    query = urlsplit(uri).query
    decoded = [value for _, value in parse_qsl(query)]
    return (*decoded, *(part.partition("=")[2] for part in query.split("&")))


def _check_host(host: str) -> None:
    if ":" in host:  # an IPv6 literal
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ConfigError("WEBSOCKET_URI has an invalid IPv6 address.") from None
        return
    try:
        # What the resolver will do with it: labels of 1 to 63 characters.
        encoded = host.encode("idna")
    except UnicodeError:
        raise ConfigError(
            "WEBSOCKET_URI has an invalid host name (each label 1 to 63 characters)."
        ) from None
    if len(encoded) > 253:
        raise ConfigError("WEBSOCKET_URI has a host name longer than 253 characters.")


def _ca_bundle(environ: Mapping[str, str], uri: str) -> str | None:
    value = environ.get("CA_BUNDLE", "").strip()
    if not value:
        return None
    if not uri.startswith("wss:"):
        raise ConfigError("CA_BUNDLE (certificates to trust) needs a wss:// WEBSOCKET_URI.")
    path = tls.ca_bundle_path(value, environ.get("LAMBDA_TASK_ROOT", "").strip() or None)
    # Loaded now, once per path: a bad file is a config_error before any secret is read.
    tls.server_context(path)
    return path


def _check_endpoint_override(environ: Mapping[str, str]) -> None:
    for name in ("AWS_ENDPOINT_URL_SECRETS_MANAGER", "AWS_ENDPOINT_URL"):
        value = environ.get(name, "").strip()
        if not value:
            continue
        try:
            parts = urlsplit(value)
            parts.port  # noqa: B018 - raises ValueError on a malformed port
        except ValueError:
            parts = None
        if parts is None or parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"{name} must be an http:// or https:// URL with a host.")


def _timestamp_field(environ: Mapping[str, str]) -> str:
    # Unlike other variables, empty is a value of its own (no timestamp) and
    # spaces are not trimmed: a key " ts" is more likely a typo than meant.
    field = environ.get("TIMESTAMP_FIELD", DEFAULT_TIMESTAMP_FIELD)
    if len(field) > MAX_TIMESTAMP_FIELD_CHARS:
        raise ConfigError(
            f"TIMESTAMP_FIELD must be at most {MAX_TIMESTAMP_FIELD_CHARS} characters "
            "(empty: no timestamp is added)."
        )
    if field != field.strip():
        raise ConfigError(
            "TIMESTAMP_FIELD must not start or end with whitespace (empty: no timestamp is added)."
        )
    if any(ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 for c in field):
        raise ConfigError("TIMESTAMP_FIELD must not contain control characters.")
    try:
        field.encode("utf-8")
    except UnicodeEncodeError:
        raise ConfigError("TIMESTAMP_FIELD is not valid UTF-8 text.") from None
    return field


def _default_message(environ: Mapping[str, str], timestamp_field: str) -> Outgoing:
    raw = environ.get("DEFAULT_MESSAGE")
    if raw is None or not raw.strip():
        message: Any = PING
    else:
        try:
            message = loads(raw)
        except ValueError:
            raise ConfigError("DEFAULT_MESSAGE must be valid JSON.") from None
    try:
        return prepare(message, timestamp_field)
    except ValueError as exc:
        raise ConfigError(f"DEFAULT_MESSAGE {exc}.") from None


def _choice(environ: Mapping[str, str], name: str, choices: tuple[str, ...]) -> str:
    value = (environ.get(name) or choices[0]).strip().lower()
    if value not in choices:
        raise ConfigError(f"{name} must be one of: {', '.join(choices)}.")
    return value


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
