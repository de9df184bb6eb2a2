"""Credential modes: how credentials travel on the handshake.

The interface lives here; each ``AUTH_MODE`` value has a module of its own, imported on
first use only (:func:`load_mode`), so a ``bearer`` deployment never imports the
OAuth2 client, botocore's signer or JMESPath.

A mode is built from the environment by its module's ``from_environ`` (which raises
:class:`~ws_exchange.errors.ConfigError` naming the variable at fault), then, for each
connection attempt, :meth:`CredentialMode.prepare` turns the configured
:class:`Handshake` into the one that carries the credential, and
:meth:`CredentialMode.after_open` runs once the connection is open (only ``message``
acts there). Every string a mode puts on the wire that is a credential is listed in
:attr:`Prepared.credentials`, so that redaction learns each encoded form.

The *secret* is what Secrets Manager holds (:class:`SecretValue`); the *credential* is
what goes on the wire.

Besides the interface, this module holds the pure helpers every mode shares: the
cross-mode variable check (:func:`load_mode` runs it), the token found in a secret's text
(:func:`token_from_secret`), what a header can carry of it (:func:`header_token`), a
secret's JSON object (:func:`secret_object`), and the two
mode-independent handshake settings the core reads (:func:`parse_handshake_headers`,
:func:`parse_subprotocols`). Pure logic: nothing here does I/O.
"""

from __future__ import annotations

import importlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from ..errors import ConfigError, SecretInvalid

if TYPE_CHECKING:
    from websockets.asyncio.client import ClientConnection

    from ..deadline import Deadline

# AUTH_MODE value -> module under ws_exchange.credentials.
MODES: dict[str, str] = {
    "bearer": "bearer",
    "header": "header",
    "basic": "basic",
    "query": "query",
    "subprotocol": "subprotocol",
    "oauth2_client_credentials": "oauth2",
    "sigv4": "sigv4",
    "message": "message",
    "cookie": "cookie",
    "none": "none",
}


@dataclass(frozen=True, slots=True)
class SecretValue:
    """A secret's text and whether it came from its source just now (not a cache)."""

    text: str
    fresh: bool

    def __repr__(self) -> str:
        return f"SecretValue(text='***', fresh={self.fresh})"


# Reads the mode's configured secret: ``read_secret(refresh)``; ``refresh=True``
# bypasses the cache. Raises the ``secret_*`` errors; capped by the deadline.
ReadSecret = Callable[[bool], SecretValue]


@dataclass(frozen=True, slots=True)
class Handshake:
    """What the opening handshake carries, before and after a mode adds its credential."""

    uri: str
    headers: tuple[tuple[str, str], ...] = ()
    subprotocols: tuple[str, ...] = ()

    def __repr__(self) -> str:
        # Headers and subprotocols may carry credentials; the URI's query too.
        return f"Handshake(headers={len(self.headers)}, subprotocols={len(self.subprotocols)})"


@dataclass(frozen=True, slots=True)
class Prepared:
    """A handshake carrying its credential, and what redaction must learn from it."""

    handshake: Handshake
    # Every credential in it was obtained from its source just now: a 401/403 is final.
    fresh: bool
    # Every string put on the wire that is (or reveals) a credential, in each encoded form.
    credentials: tuple[str, ...] = ()
    # The raw token (or OAuth2 access token), for what carries it after the handshake:
    # an authentication message, a protocol preset's connection parameters.
    token: str | None = None

    def __repr__(self) -> str:
        return f"Prepared(fresh={self.fresh}, credentials={len(self.credentials)})"


class CredentialMode(Protocol):
    """One ``AUTH_MODE``: built by its module's ``from_environ``."""

    # Whether the mode reads TOKEN_SECRET_ID (``sigv4`` and ``none`` do not).
    needs_secret: ClassVar[bool]

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        """Return ``handshake`` with the credential on it.

        ``refresh=True`` after a 401/403 on a cached credential: obtain it again.
        """
        ...

    async def after_open(
        self,
        connection: ClientConnection,
        prepared: Prepared,
        deadline: Deadline,
        reply_timeout: float,
    ) -> None:
        """Run once the connection is open (authentication messages); usually nothing."""
        ...


# What TOKEN_SECRET_ID must hold, per mode that reads it (docs/credentials.md's table).
SECRET_SHAPES: dict[str, str] = {
    "bearer": "the token",
    "header": "the token",
    "basic": 'JSON {"username": ..., "password": ...}',
    "query": "the token",
    "subprotocol": "the token",
    "oauth2_client_credentials": 'JSON {"client_id": ..., "client_secret": ...}',
    "message": "the token",
    "cookie": "the token",
}

# Each mode-specific variable and the modes it belongs to. Set in any other mode, it is a
# contradiction: the deployer meant another mode, or left a setting behind that does nothing.
# TOKEN_SECRET_ID (and its field) are not here: the function ignores them where no
# secret is read, so that switching to ``sigv4`` or ``none`` needs no other change.
_TOKEN_MODES = frozenset({"bearer", "header", "query", "subprotocol", "message", "cookie"})
MODE_VARIABLES: dict[str, frozenset[str]] = {
    "AUTH_SCHEME": frozenset({"bearer"}),
    "AUTH_HEADER": frozenset({"header"}),
    "AUTH_COOKIE": frozenset({"cookie"}),
    "AUTH_QUERY_PARAM": frozenset({"query"}),
    "AUTH_SUBPROTOCOL_PREFIX": frozenset({"subprotocol"}),
    "AUTH_SUBPROTOCOL_ENCODING": frozenset({"subprotocol"}),
    "OAUTH2_TOKEN_URL": frozenset({"oauth2_client_credentials"}),
    "OAUTH2_SCOPE": frozenset({"oauth2_client_credentials"}),
    "OAUTH2_AUDIENCE": frozenset({"oauth2_client_credentials"}),
    "OAUTH2_CLIENT_AUTH": frozenset({"oauth2_client_credentials"}),
    "AUTH_MESSAGE": frozenset({"message"}),
    "AUTH_SUCCESS": frozenset({"message"}),
    "AUTH_FAILURE": frozenset({"message"}),
    "SIGV4_SERVICE": frozenset({"sigv4"}),
    "SIGV4_REGION": frozenset({"sigv4"}),
    # basic and oauth2 secrets have fixed field names; sigv4 and none ignore the secret.
    "TOKEN_SECRET_FIELD": _TOKEN_MODES | {"sigv4", "none"},
}


def setting(environ: Mapping[str, str], name: str) -> str | None:
    """The variable's value stripped, or None when unset or blank.

    Blank counts as unset: CloudFormation cannot leave a variable out conditionally
    without ``Fn::If`` on every one, so templates pass empty strings for "not set".
    """
    value = environ.get(name)
    if value is None:
        return None
    value = value.strip()
    return value or None


_REGION = re.compile(r"[a-z0-9-]+")


def signing_region(environ: Mapping[str, str], in_host: str | None, missing: str) -> str:
    """The region SigV4 signs for: ``SIGV4_REGION``, else ``in_host`` (the region the
    endpoint's host names, if it does), else ``AWS_REGION``. Pure.

    Raises:
        ConfigError: ``SIGV4_REGION`` is malformed, or no region is found (``missing``).
    """
    region = setting(environ, "SIGV4_REGION")
    if region is not None:
        if not _REGION.fullmatch(region):
            raise ConfigError("SIGV4_REGION must be an AWS region name such as eu-west-1.")
        return region
    if in_host is not None:
        return in_host
    region = setting(environ, "AWS_REGION")
    if region is not None and _REGION.fullmatch(region):
        return region
    raise ConfigError(missing)


def mode_name(environ: Mapping[str, str]) -> str:
    """The configured ``AUTH_MODE`` value; :class:`ConfigError` if unknown."""
    name = setting(environ, "AUTH_MODE") or "bearer"
    if name not in MODES:
        raise ConfigError(f"AUTH_MODE must be one of: {', '.join(MODES)}.")
    return name


# A variable left at its documented default says nothing about the mode: a template
# declares every variable with its default, whatever the mode.
MODE_VARIABLE_DEFAULTS: dict[str, str] = {
    "AUTH_SCHEME": "Bearer",
    "AUTH_QUERY_PARAM": "access_token",
    "AUTH_SUBPROTOCOL_ENCODING": "raw",
    "OAUTH2_CLIENT_AUTH": "client_secret_basic",
    "SIGV4_SERVICE": "execute-api",
    "TOKEN_SECRET_FIELD": "token",
}


def check_mode_variables(environ: Mapping[str, str], name: str) -> None:
    """Raise :class:`ConfigError` naming the first variable of another mode set here
    (to something other than its default)."""
    for variable, modes in MODE_VARIABLES.items():
        value = setting(environ, variable)
        if (
            value is not None
            and value != MODE_VARIABLE_DEFAULTS.get(variable)
            and name not in modes
        ):
            owners = ", ".join(sorted(modes))
            raise ConfigError(
                f"{variable} is set but AUTH_MODE is {name}; it applies only to "
                f"AUTH_MODE {owners}: remove it or change AUTH_MODE."
            )


def load_mode(environ: Mapping[str, str], *, uri: str, allow_insecure: bool) -> CredentialMode:
    """The configured mode, its module imported now.

    Pure apart from the import: reads ``environ`` only, so the core calls it while
    validating the configuration, before any I/O.

    Raises:
        ConfigError: ``AUTH_MODE`` unknown, a variable of another mode set, or one of
            the mode's own variables (``TOKEN_SECRET_ID`` included) missing or invalid.
    """
    name = mode_name(environ)
    check_mode_variables(environ, name)
    module: Any = importlib.import_module(f"{__name__}.{MODES[name]}")
    mode: CredentialMode = module.from_environ(environ, uri=uri, allow_insecure=allow_insecure)
    if mode.needs_secret and setting(environ, "TOKEN_SECRET_ID") is None:
        raise ConfigError(
            f"TOKEN_SECRET_ID is required with AUTH_MODE {name}: the Secrets Manager "
            f"secret holding {SECRET_SHAPES[name]}."
        )
    return mode


# --- the secret's text -------------------------------------------------------------------


def token_field(environ: Mapping[str, str]) -> str:
    """``TOKEN_SECRET_FIELD`` (default ``token``)."""
    return setting(environ, "TOKEN_SECRET_FIELD") or "token"


def token_from_secret(text: str, field: str) -> str:
    """The token a secret's text holds. Pure; messages never quote the value.

    A JSON object yields its ``field``; any other text is the token itself. Surrounding
    whitespace is dropped, as a secret written from a file often ends in a newline.
    Which characters the token may hold depends on what carries it, so each mode checks
    that (:func:`header_token`, for those that send it raw in a header).

    Raises:
        SecretInvalid: no such field, not a string, empty, or not Unicode text.
    """
    stripped = text.strip()
    if stripped.startswith("{"):
        try:
            document = json.loads(stripped)
        except RecursionError:
            raise SecretInvalid("The secret's JSON is nested too deeply.") from None
        except ValueError:
            document = None
        if isinstance(document, dict):
            if field not in document:
                raise SecretInvalid(
                    f"The secret's JSON object has no field {field!r} (TOKEN_SECRET_FIELD)."
                )
            value = document[field]
            if not isinstance(value, str):
                raise SecretInvalid(f"The secret's field {field!r} is not a string.")
            stripped = value.strip()
    if not stripped:
        raise SecretInvalid("The secret's token is empty.")
    if _SURROGATE.search(stripped):
        # A JSON escape such as "\ud800" alone: no carrier can encode it.
        raise SecretInvalid("The secret's token is not valid Unicode text.")
    return stripped


def header_problem(text: str) -> str | None:
    """What in ``text`` an HTTP header value cannot carry, or None. Pure; never quotes it.

    Control characters (C0, DEL, C1): a line break would end the header, and the others
    are refused or mangled by servers and proxies. Beyond ISO-8859-1: header bytes are
    that encoding (RFC 9110 obs-text), so the character has no byte to be sent as.
    """
    if _CONTROL.search(text):
        return "a control character (such as a line break or a tab)"
    if any(ord(c) > 0xFF for c in text):
        return "a character outside ISO-8859-1"
    return None


def header_token(token: str, *, cookie: bool = False) -> str:
    """``token``, checked for a mode that sends it raw in a header. Pure.

    Only what the carrier cannot hold is refused (a space, a quote or ``=`` travel
    fine): see :func:`header_problem`; in a cookie value (``cookie=True``) also ``;``
    and ``,``, which end a cookie in the ``Cookie`` header.

    Raises:
        SecretInvalid: naming what is wrong, never quoting the token.
    """
    problem = header_problem(token)
    if problem is not None:
        raise SecretInvalid(
            f"The secret's token has {problem}, which an HTTP header cannot carry; "
            "store the token without it."
        )
    if cookie and (";" in token or "," in token):
        raise SecretInvalid(
            "The secret's token has a ';' or ',', which a cookie value cannot carry; "
            "store the token without it."
        )
    return token


def secret_object(
    text: str, required: tuple[str, ...], optional: tuple[str, ...] = (), *, what: str
) -> dict[str, str]:
    """The string fields of a secret holding a JSON object. Pure; never quotes values.

    ``what`` names the secret in messages (e.g. "The token secret"). Every ``required``
    field must be a non-empty string; ``optional`` ones a string when present.

    Raises:
        SecretInvalid: not a JSON object, or a field missing, empty or not a string.
    """
    try:
        document = json.loads(text)
    except RecursionError:
        raise SecretInvalid(f"{what} is nested too deeply.") from None
    except ValueError:
        document = None
    if not isinstance(document, dict):
        shape = ", ".join(f'"{name}": ...' for name in required)
        raise SecretInvalid(f"{what} must be a JSON object {{{shape}}}.")
    fields: dict[str, str] = {}
    for name in (*required, *optional):
        if name not in document:
            if name in required:
                raise SecretInvalid(f"{what} has no field {name!r}.")
            continue
        value = document[name]
        if not isinstance(value, str):
            raise SecretInvalid(f"{what}'s field {name!r} is not a string.")
        if name in required and not value:
            raise SecretInvalid(f"{what}'s field {name!r} is empty.")
        fields[name] = value
    return fields


def read_token(read_secret: ReadSecret, field: str, *, refresh: bool) -> tuple[str, bool]:
    """The token from the configured secret and whether it was fetched just now."""
    secret = read_secret(refresh)
    return token_from_secret(secret.text, field), secret.fresh


# --- handshake settings every mode shares ---------------------------------------------------

# RFC 9110 section 5.6.2: token = 1*tchar.
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SURROGATE = re.compile(r"[\ud800-\udfff]")
# RFC 9110 section 5.5 field-value without obs-text: visible ASCII, inner spaces and tabs.
_FIELD_VALUE = re.compile(r"(?:[!-~](?:[ \t!-~]*[!-~])?)?")
# Headers no configuration may set: credentials go through AUTH_MODE and the secret only
# (Cookie may carry a session: only AUTH_MODE cookie writes it, from the secret),
# and websockets writes the handshake's own (Host, Upgrade, Connection, Sec-WebSocket-*).
_RESERVED_HEADERS = frozenset(
    {
        "authorization",
        "proxy-authorization",
        "cookie",
        "host",
        "connection",
        "upgrade",
        "content-length",
        "transfer-encoding",
        "te",
        "trailer",
        "keep-alive",
        "proxy-connection",
    }
)
# Set by botocore's signer in sigv4 mode: a second copy would break the signature.
_SIGV4_HEADERS = frozenset({"x-amz-date", "x-amz-security-token", "x-amz-content-sha256"})


def is_token(text: str) -> bool:
    """Whether ``text`` is an RFC 9110 token (header names, subprotocols, schemes)."""
    return _TOKEN.fullmatch(text) is not None


def is_reserved_header(name: str) -> bool:
    """Whether ``name`` is a header only websockets or a credential mode may write."""
    lower = name.lower()
    return lower in _RESERVED_HEADERS or lower.startswith("sec-websocket-")


class _Pairs(list[tuple[str, Any]]):
    """A JSON object's members in order (a JSON array decodes to a plain list)."""


def parse_handshake_headers(environ: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    """``HANDSHAKE_HEADERS``: extra, non-secret headers, in the order written. Pure.

    A JSON object of strings: names are RFC 9110 tokens, values field values (visible
    ASCII, inner spaces), each name at most once whatever its case. Never a header
    that carries credentials or that websockets writes itself, nor ``AUTH_HEADER``.

    Raises:
        ConfigError: naming ``HANDSHAKE_HEADERS`` and the header at fault.
    """
    raw = setting(environ, "HANDSHAKE_HEADERS")
    if raw is None:
        return ()

    try:
        # Pairs, not a dict: a name written twice must be an error, not the last one.
        document = json.loads(raw, object_pairs_hook=_Pairs)
    except (ValueError, RecursionError):
        document = None
    if not isinstance(document, _Pairs):
        raise ConfigError("HANDSHAKE_HEADERS must be a JSON object of header names to values.")
    auth_header = (setting(environ, "AUTH_HEADER") or "").lower()
    sigv4 = setting(environ, "AUTH_MODE") == "sigv4"
    seen: set[str] = set()
    headers: list[tuple[str, str]] = []
    for name, value in document:
        if not isinstance(value, str):
            raise ConfigError(f"HANDSHAKE_HEADERS: the value of {name!r} must be a string.")
        if not is_token(name):
            raise ConfigError(f"HANDSHAKE_HEADERS: {name!r} is not a valid header name.")
        lower = name.lower()
        if is_reserved_header(name):
            raise ConfigError(
                f"HANDSHAKE_HEADERS must not set {name}: credentials come from AUTH_MODE "
                "and the secret, and websockets writes the handshake's own headers."
            )
        if lower == auth_header:
            raise ConfigError(f"HANDSHAKE_HEADERS must not set {name}: it is AUTH_HEADER.")
        if sigv4 and lower in _SIGV4_HEADERS:
            raise ConfigError(f"HANDSHAKE_HEADERS must not set {name}: the SigV4 signer writes it.")
        if lower in seen:
            raise ConfigError(f"HANDSHAKE_HEADERS names {name} more than once.")
        if not _FIELD_VALUE.fullmatch(value):
            raise ConfigError(
                f"HANDSHAKE_HEADERS: the value of {name} must be visible ASCII, with "
                "spaces only inside."
            )
        seen.add(lower)
        headers.append((name, value))
    return tuple(headers)


def parse_subprotocols(environ: Mapping[str, str]) -> tuple[str, ...]:
    """``SUBPROTOCOLS``: comma-separated RFC 9110 tokens, in order of preference. Pure.

    Raises:
        ConfigError: naming ``SUBPROTOCOLS``: an empty entry, a duplicate, or one that
            is not a token.
    """
    raw = setting(environ, "SUBPROTOCOLS")
    if raw is None:
        return ()
    subprotocols: list[str] = []
    for item in raw.split(","):
        subprotocol = item.strip(" \t")
        if not subprotocol:
            raise ConfigError("SUBPROTOCOLS has an empty entry; separate names by single commas.")
        if not is_token(subprotocol):
            raise ConfigError(
                f"SUBPROTOCOLS: {subprotocol!r} is not a valid subprotocol name (RFC 9110 token)."
            )
        if subprotocol in subprotocols:
            raise ConfigError(f"SUBPROTOCOLS names {subprotocol} more than once.")
        subprotocols.append(subprotocol)
    return tuple(subprotocols)
