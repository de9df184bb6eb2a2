"""``AUTH_MODE=oauth2_client_credentials``: an access token from a token endpoint.

The handshake carries ``Authorization: <token_type> <access_token>``, the token obtained
from ``OAUTH2_TOKEN_URL`` with the client credentials grant (RFC 6749 section 4.4). The
secret (``TOKEN_SECRET_ID``) is JSON ``{"client_id": ..., "client_secret": ...}``; the
client authenticates per ``OAUTH2_CLIENT_AUTH`` (RFC 6749 section 2.3.1):
``client_secret_basic`` (the default: both form-urlencoded, then HTTP Basic) or
``client_secret_post`` (both in the body).

Cached: the access token, in this module, keyed by (token URL, client id, scope,
audience), until shortly before its ``expires_in``; dropped when the handshake is
refused (``refresh=True``). An ``expires_in`` that is not a positive finite number
never breaks the invocation: 0 or less means the token serves this invocation only and
is not cached; none, more than a day, or not a number means ``SECRET_MAX_AGE_SECONDS``.
A 429 or 503 answer is retryable; its ``Retry-After`` (seconds or an HTTP date) is
honoured once when the wait fits before the deadline: one more request after it.
An ``invalid_client`` answer reads the secret again once: the client secret may have
been rotated. Scrubbed: the access token, the header value, the client secret and the
token request's own Basic value. websockets drops ``Authorization`` on a cross-origin
redirect; the token request itself never follows redirects.

HTTP client: urllib3, already in the runtime as botocore's, so this mode costs no
dependency; an OAuth2 library would add its import time for the one POST and the
answer's five fields this module reads. The pure half (:func:`token_request`,
:func:`parse_answer`, :func:`cache_lifetime`) builds the request and judges the
answer; :func:`post` is the I/O edge.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote_plus, urlencode, urlsplit

import urllib3

from ..errors import ConfigError, SecretInvalid, TokenRequestFailed
from . import Handshake, Prepared, ReadSecret, header_problem, secret_object, setting
from ._base import HandshakeOnly

if TYPE_CHECKING:
    from ..deadline import Deadline

# The token request's own limit, further capped by the deadline. As the handshake's
# default open timeout: a token endpoint slower than that will not get faster.
TOKEN_REQUEST_TIMEOUT_SECONDS = 10.0
# An access token answer is a few fields; JWTs run to a few KiB. Anything larger is not
# a token endpoint's answer, and reading it all would cost memory for nothing.
MAX_ANSWER_BYTES = 64 * 1024
# A cached access token is renewed this long before its expires_in ends (at most a
# tenth of its life), so that it does not expire between the check and the handshake.
EXPIRY_MARGIN_SECONDS = 60.0
CLIENT_AUTH_METHODS = ("client_secret_basic", "client_secret_post")
# A longer expires_in is not believed: a token endpoint that means "forever" says so in
# its own way (a huge or missing value), and a day-old token is renewed regardless.
MAX_EXPIRES_IN_SECONDS = 86400.0
# Answers that say "come back later", and may say when (RFC 6585 section 4, RFC 9110
# section 15.6.4): the request is retried once after Retry-After if it fits.
RETRY_AFTER_STATUSES = frozenset({429, 503})
# A JSON integer longer than this is not a lifetime anyone means; Python would parse it
# exactly (up to 4300 digits, then fail), and a float of it overflows.
_MAX_INT_DIGITS = 20

# RFC 6749's error codes (sections 4.1.2.1 and 5.2) and what to tell the deployer. Any
# other `error` value is the server's own text and is never repeated.
_ERROR_ADVICE: dict[str, str] = {
    "invalid_request": "check OAUTH2_SCOPE, OAUTH2_AUDIENCE and OAUTH2_CLIENT_AUTH",
    "invalid_client": (
        "check client_id and client_secret in the secret, and OAUTH2_CLIENT_AUTH "
        "(client_secret_basic or client_secret_post)"
    ),
    "invalid_grant": "the provider refused the client credentials grant",
    "unauthorized_client": "allow the client credentials grant for this client at the provider",
    "unsupported_grant_type": "the endpoint does not offer the client credentials grant",
    "invalid_scope": "check OAUTH2_SCOPE",
    "access_denied": "the provider denied the request",
    "unsupported_response_type": "check OAUTH2_TOKEN_URL",
    "server_error": "the provider failed",
    "temporarily_unavailable": "the provider is overloaded or in maintenance",
}
# RFC 6749 appendix A: client-id and client-secret are *VSCHAR.
_VSCHAR = frozenset(chr(c) for c in range(0x20, 0x7F))
_WHAT = "The token secret (TOKEN_SECRET_ID)"


class TokenEndpointRefused(TokenRequestFailed):
    """Raised when the token endpoint answered an error; ``code`` is RFC 6749's or None."""

    def __init__(self, message: str, *, code: str | None, retryable: bool) -> None:
        super().__init__(message, retryable=retryable)
        self.code = code


@dataclass(frozen=True, slots=True)
class Client:
    """The client credentials from the secret."""

    client_id: str
    client_secret: str

    def __repr__(self) -> str:
        return "Client(client_id=..., client_secret='***')"


@dataclass(frozen=True, slots=True)
class AccessToken:
    """An access token and what the endpoint said about it.

    ``expires_in`` is normalised: None when not said or not usable (the secret window
    applies), 0.0 for "do not reuse", else seconds in (0, a day].
    """

    value: str
    token_type: str
    expires_in: float | None

    def __repr__(self) -> str:
        return f"AccessToken(value='***', token_type={self.token_type!r})"


@dataclass(frozen=True, slots=True)
class Answer:
    """What the token endpoint answered: status, body, and its ``Retry-After`` header."""

    status: int
    body: bytes
    retry_after: str | None = None

    def __repr__(self) -> str:
        return f"Answer(status={self.status})"


@dataclass(frozen=True, slots=True)
class TokenRequest:
    """The POST to send: URL, form body and headers."""

    url: str
    body: str
    headers: tuple[tuple[str, str], ...]
    # Credentials the request carries (client secret, its Basic value), for redaction.
    credentials: tuple[str, ...]

    def __repr__(self) -> str:
        return "TokenRequest(...)"


@dataclass(frozen=True, slots=True)
class Settings:
    """The mode's validated variables."""

    token_url: str
    scope: str | None = None
    audience: str | None = None
    client_auth: str = "client_secret_basic"
    max_age_seconds: float = 300.0


# --- pure half --------------------------------------------------------------------------


def client_from_secret(text: str) -> Client:
    """The client credentials in the secret's text.

    Raises:
        SecretInvalid: not ``{"client_id", "client_secret"}`` of visible ASCII.
    """
    fields = secret_object(text, ("client_id", "client_secret"), what=_WHAT)
    if not set(fields["client_id"]) <= _VSCHAR or not set(fields["client_secret"]) <= _VSCHAR:
        raise SecretInvalid(
            f"{_WHAT}'s client_id and client_secret must be printable ASCII (RFC 6749 appendix A)."
        )
    return Client(fields["client_id"], fields["client_secret"])


def token_request(settings: Settings, client: Client) -> TokenRequest:
    """The client credentials grant request (RFC 6749 section 4.4.2). Pure."""
    form: list[tuple[str, str]] = [("grant_type", "client_credentials")]
    if settings.scope is not None:
        form.append(("scope", settings.scope))
    if settings.audience is not None:
        form.append(("audience", settings.audience))
    headers: list[tuple[str, str]] = [
        ("Content-Type", "application/x-www-form-urlencoded"),
        ("Accept", "application/json"),
    ]
    credentials: list[str] = [client.client_secret]
    if settings.client_auth == "client_secret_post":
        form += [("client_id", client.client_id), ("client_secret", client.client_secret)]
        encoded_secret = quote_plus(client.client_secret)
        if encoded_secret != client.client_secret:
            credentials.append(encoded_secret)
    else:
        # RFC 6749 section 2.3.1: each part form-urlencoded before Basic's base64.
        pair = f"{quote_plus(client.client_id)}:{quote_plus(client.client_secret)}"
        encoded = base64.b64encode(pair.encode("ascii")).decode("ascii")
        headers.append(("Authorization", f"Basic {encoded}"))
        credentials += [encoded, f"Basic {encoded}"]
    return TokenRequest(settings.token_url, urlencode(form), tuple(headers), tuple(credentials))


def parse_answer(status: int, body: bytes) -> AccessToken:
    """The access token in the endpoint's answer. Pure; never quotes the body.

    Raises:
        TokenEndpointRefused: an error answer (retryable for 5xx only), a body that is
            not a JSON object, or no usable ``access_token`` (not retryable).
    """
    try:
        document: Any = json.loads(body.decode("utf-8"), parse_int=_bounded_int)
    except (ValueError, RecursionError):
        document = None
    error = document.get("error") if isinstance(document, dict) else None
    if not 200 <= status < 300 or error is not None:
        code = error if isinstance(error, str) and error in _ERROR_ADVICE else None
        if code is not None:
            message = f"The token endpoint answered {code} (HTTP {status}): {_ERROR_ADVICE[code]}."
        elif status == 429:
            message = "The token endpoint is limiting requests (HTTP 429); try again later."
        elif 300 <= status < 400:
            message = (
                f"The token endpoint answered with a redirect (HTTP {status}); "
                "OAUTH2_TOKEN_URL must be the endpoint itself."
            )
        else:
            message = f"The token endpoint refused the request (HTTP {status})."
        raise TokenEndpointRefused(message, code=code, retryable=status >= 500 or status == 429)
    if not isinstance(document, dict):
        raise TokenEndpointRefused(
            "The token endpoint's answer is not a JSON object.", code=None, retryable=False
        )
    value = document.get("access_token")
    if not isinstance(value, str) or not value:
        raise TokenEndpointRefused(
            "The token endpoint's answer has no access_token.", code=None, retryable=False
        )
    problem = header_problem(value)
    if problem is not None:
        raise TokenEndpointRefused(
            f"The token endpoint's access_token has {problem}, which an HTTP header cannot carry.",
            code=None,
            retryable=False,
        )
    # RFC 6749 section 5.1 requires token_type; a provider that leaves it out issues
    # bearer tokens in practice.
    token_type = document.get("token_type", "Bearer")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise TokenEndpointRefused(
            "The token endpoint issued a token that is not a Bearer token; only Bearer "
            "tokens (RFC 6750) can be sent on the handshake.",
            code=None,
            retryable=False,
        )
    return AccessToken(value, "Bearer", _expires_in(document.get("expires_in")))


def _bounded_int(text: str) -> int | float:
    if len(text.lstrip("-")) <= _MAX_INT_DIGITS:
        return int(text)
    return -math.inf if text.startswith("-") else math.inf


def _expires_in(raw: Any) -> float | None:
    """``expires_in`` normalised (see :class:`AccessToken`). Pure; never raises."""
    # Some providers send it as a string of digits.
    if isinstance(raw, str):
        try:
            raw = float(raw)
        except ValueError:
            return None
    if isinstance(raw, bool) or not isinstance(raw, int | float) or raw != raw:  # NaN
        return None
    if raw <= 0:
        return 0.0
    if raw > MAX_EXPIRES_IN_SECONDS:
        return None
    return float(raw)


def cache_lifetime(expires_in: float | None, max_age_seconds: float) -> float:
    """How long an access token is reused: shortly before it expires; 0 (not cached)
    when ``expires_in`` is 0. Pure."""
    if expires_in is None:
        return max_age_seconds
    if expires_in <= 0:
        return 0.0
    return expires_in - min(EXPIRY_MARGIN_SECONDS, expires_in / 10)


def retry_delay(retry_after: str | None, now: datetime.datetime) -> float | None:
    """Seconds a ``Retry-After`` value asks to wait (RFC 9110 section 10.2.3): a number
    of seconds or an HTTP date (past: 0); None when absent or malformed. Pure."""
    if retry_after is None:
        return None
    value = retry_after.strip()
    if value.isascii() and value.isdigit():
        return float(int(value)) if len(value) <= _MAX_INT_DIGITS else math.inf
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:  # RFC 9110 dates are GMT; "-0000" parses as naive
        when = when.replace(tzinfo=datetime.UTC)
    return max(0.0, (when - now).total_seconds())


# --- I/O half ---------------------------------------------------------------------------

# One pool for the life of the execution environment: warm invocations that need a new
# token reuse the TLS connection.
_POOL = urllib3.PoolManager(num_pools=4, maxsize=1)
# Access tokens by (token URL, client id, scope, audience): (token, monotonic expiry).
_TOKENS: dict[tuple[str, str, str | None, str | None], tuple[AccessToken, float]] = {}

Send = Callable[[TokenRequest, float], Answer]


def _utc_now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def post(request: TokenRequest, timeout: float) -> Answer:
    """POST ``request``; the answer, returned within ``timeout`` seconds.

    urllib3's timeouts bound each connect and each read, not the whole exchange: a
    server that trickles bytes could outlast them. The request therefore runs in a
    thread that this call waits for at most ``timeout``; a thread left behind ends at
    its own socket timeouts.

    Raises:
        TokenEndpointRefused: the endpoint could not be reached, did not answer in time,
            or answered with more than :data:`MAX_ANSWER_BYTES`.
    """
    outcome: list[Answer | BaseException] = []

    def run() -> None:
        try:
            outcome.append(_post(request, timeout))
        except BaseException as exc:  # handed to the caller's thread
            outcome.append(exc)

    worker = threading.Thread(target=run, name="oauth2-token-request", daemon=True)
    worker.start()
    worker.join(timeout)
    if not outcome:
        raise TokenEndpointRefused(
            f"The token endpoint did not answer within {timeout:g} s.", code=None, retryable=True
        )
    result = outcome[0]
    if isinstance(result, BaseException):
        raise result
    return result


def _post(request: TokenRequest, timeout: float) -> Answer:
    try:
        response = _POOL.request(
            "POST",
            request.url,
            body=request.body.encode("ascii"),
            headers=dict(request.headers),
            timeout=urllib3.Timeout(total=timeout),
            retries=False,
            redirect=False,
            preload_content=False,
        )
        try:
            body = response.read(MAX_ANSWER_BYTES + 1)
        except BaseException:
            response.close()
            raise
    except (urllib3.exceptions.HTTPError, OSError) as exc:
        raise transport_error(exc, timeout) from None
    if len(body) > MAX_ANSWER_BYTES:
        response.close()
        raise TokenEndpointRefused(
            f"The token endpoint's answer is larger than {MAX_ANSWER_BYTES} bytes.",
            code=None,
            retryable=False,
        )
    # Read to its end (a short read is the end): the connection can serve the next request.
    response.release_conn()
    return Answer(response.status, body, response.headers.get("Retry-After"))


def transport_error(exc: BaseException, timeout: float) -> TokenEndpointRefused:
    """The error type for a urllib3 failure. Pure; never copies the library's text."""
    if isinstance(exc, urllib3.exceptions.MaxRetryError) and exc.reason is not None:
        exc = exc.reason
    # NewConnectionError subclasses ConnectTimeoutError (urllib3 2.x, for compatibility):
    # test it first, or a refused connection would read as a timeout.
    if isinstance(exc, urllib3.exceptions.NewConnectionError):
        return TokenEndpointRefused(
            "The token endpoint could not be reached.", code=None, retryable=True
        )
    if isinstance(exc, urllib3.exceptions.TimeoutError):
        return TokenEndpointRefused(
            f"The token endpoint did not answer within {timeout:g} s.", code=None, retryable=True
        )
    if isinstance(exc, urllib3.exceptions.SSLError):
        return TokenEndpointRefused(
            "The TLS handshake with the token endpoint failed (is its certificate trusted?).",
            code=None,
            retryable=False,
        )
    return TokenEndpointRefused(
        "The connection to the token endpoint failed.", code=None, retryable=True
    )


@dataclass(frozen=True, slots=True)
class OAuth2ClientCredentials(HandshakeOnly):
    """An access token from the token endpoint in ``Authorization``."""

    needs_secret: ClassVar[bool] = True
    settings: Settings
    send: Send = field(default=post, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    # The wall clock reads HTTP dates in Retry-After; sleep waits for it.
    wall_clock: Callable[[], datetime.datetime] = field(default=_utc_now, repr=False)
    sleep: Callable[[float], None] = field(default=time.sleep, repr=False)

    def prepare(
        self, handshake: Handshake, read_secret: ReadSecret, deadline: Deadline, *, refresh: bool
    ) -> Prepared:
        """The handshake with an access token: cached, or requested now.

        Raises:
            SecretInvalid: the secret is not the client credentials.
            TokenRequestFailed: no usable access token (retryable as documented).
        """
        secret = read_secret(False)
        client = client_from_secret(secret.text)
        key = self._key(client)
        if refresh:
            _TOKENS.pop(key, None)
        else:
            cached = _TOKENS.get(key)
            if cached is not None and self.clock() < cached[1]:
                return self._prepared(handshake, cached[0], client, fresh=False)
        try:
            token = self._request(client, deadline)
        except TokenEndpointRefused as exc:
            if exc.code != "invalid_client" or secret.fresh:
                raise
            # The client secret may have been rotated since it was cached.
            client = client_from_secret(read_secret(True).text)
            key = self._key(client)
            token = self._request(client, deadline)
        lifetime = cache_lifetime(token.expires_in, self.settings.max_age_seconds)
        if lifetime > 0:
            _TOKENS[key] = (token, self.clock() + lifetime)
        return self._prepared(handshake, token, client, fresh=True)

    def _key(self, client: Client) -> tuple[str, str, str | None, str | None]:
        s = self.settings
        return (s.token_url, client.client_id, s.scope, s.audience)

    def _request(self, client: Client, deadline: Deadline) -> AccessToken:
        answer = self._send(client, deadline)
        delay = self._retry_delay(answer, deadline)
        if delay is not None:
            # Blocks, as the request itself does: prepare() is synchronous.
            self.sleep(delay)
            answer = self._send(client, deadline)
        return parse_answer(answer.status, answer.body)

    def _send(self, client: Client, deadline: Deadline) -> Answer:
        timeout = deadline.cap(TOKEN_REQUEST_TIMEOUT_SECONDS)
        if timeout <= 0:
            raise TokenEndpointRefused(
                "No time was left before the Lambda deadline to request an access token.",
                code=None,
                retryable=True,
            )
        return self.send(token_request(self.settings, client), timeout)

    def _retry_delay(self, answer: Answer, deadline: Deadline) -> float | None:
        """How long to wait before the one retry, or None for no retry.

        Raises:
            TokenEndpointRefused: the wait asked for does not fit before the deadline.
        """
        if answer.status not in RETRY_AFTER_STATUSES:
            return None
        delay = retry_delay(answer.retry_after, self.wall_clock())
        if delay is not None and delay >= deadline.remaining():
            raise TokenEndpointRefused(
                f"The token endpoint is unavailable (HTTP {answer.status}) and asked to "
                f"retry after {delay:g} s, more than the time left before the Lambda "
                "deadline.",
                code=None,
                retryable=True,
            )
        return delay

    def _prepared(
        self, handshake: Handshake, token: AccessToken, client: Client, *, fresh: bool
    ) -> Prepared:
        value = f"{token.token_type} {token.value}"
        request = token_request(self.settings, client)
        return Prepared(
            replace(handshake, headers=(*handshake.headers, ("Authorization", value))),
            fresh=fresh,
            credentials=(token.value, value, *request.credentials),
            token=token.value,
        )


def clear_cache() -> None:
    """Forget every cached access token (tests, rotation drills)."""
    _TOKENS.clear()


def from_environ(
    environ: Mapping[str, str], *, uri: str, allow_insecure: bool
) -> OAuth2ClientCredentials:
    """The mode from the ``OAUTH2_*`` variables and ``SECRET_MAX_AGE_SECONDS``.

    Raises:
        ConfigError: naming the variable missing or invalid.
    """
    return OAuth2ClientCredentials(settings(environ, allow_insecure=allow_insecure))


def settings(environ: Mapping[str, str], *, allow_insecure: bool) -> Settings:
    """The validated ``OAUTH2_*`` settings. Pure."""
    url = setting(environ, "OAUTH2_TOKEN_URL")
    if url is None:
        raise ConfigError(
            "OAUTH2_TOKEN_URL is required with AUTH_MODE oauth2_client_credentials: "
            "the provider's token endpoint."
        )
    try:
        parts = urlsplit(url)
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError:
        raise ConfigError("OAUTH2_TOKEN_URL is not a valid URL.") from None
    if parts.scheme == "http":
        if not allow_insecure:
            raise ConfigError(
                "OAUTH2_TOKEN_URL must use https://; http:// needs ALLOW_INSECURE_WEBSOCKET=true."
            )
    elif parts.scheme != "https":
        raise ConfigError("OAUTH2_TOKEN_URL must be an https:// URL.")
    if not parts.hostname:
        raise ConfigError("OAUTH2_TOKEN_URL has no host.")
    if parts.username is not None or parts.password is not None:
        raise ConfigError("OAUTH2_TOKEN_URL must not contain credentials; use the secret.")
    if parts.fragment or any(not "!" <= c <= "~" for c in url):
        raise ConfigError("OAUTH2_TOKEN_URL must be a plain URL: no fragment, no spaces.")
    scope = setting(environ, "OAUTH2_SCOPE")
    if scope is not None:
        # RFC 6749 section 3.3: scope-token = 1*( %x21 / %x23-5B / %x5D-7E ).
        words = scope.split()
        if any(c in '"\\' or not "!" <= c <= "~" for word in words for c in word):
            raise ConfigError(
                'OAUTH2_SCOPE must be space-separated scopes of printable ASCII, without " or \\.'
            )
        scope = " ".join(words)
    audience = setting(environ, "OAUTH2_AUDIENCE")
    if audience is not None and any(not " " <= c <= "~" for c in audience):
        raise ConfigError("OAUTH2_AUDIENCE must be printable ASCII.")
    client_auth = setting(environ, "OAUTH2_CLIENT_AUTH") or "client_secret_basic"
    if client_auth not in CLIENT_AUTH_METHODS:
        raise ConfigError("OAUTH2_CLIENT_AUTH must be client_secret_basic or client_secret_post.")
    raw_age = setting(environ, "SECRET_MAX_AGE_SECONDS") or "300"
    try:
        max_age = int(raw_age)
    except ValueError:
        raise ConfigError("SECRET_MAX_AGE_SECONDS must be a whole number.") from None
    if not 0 <= max_age <= 86400:
        raise ConfigError("SECRET_MAX_AGE_SECONDS must be between 0 and 86400.")
    return Settings(url, scope, audience, client_auth, float(max_age))
