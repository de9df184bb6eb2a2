"""An OAuth2 token endpoint on 127.0.0.1 for the client credentials grant
(RFC 6749 section 4.4): ``http.server`` in a background thread.

``POST /token`` with an ``application/x-www-form-urlencoded`` body
``grant_type=client_credentials`` (optional ``scope``, ``audience``) and the
client authenticated by one of (RFC 6749 section 2.3.1):

- ``client_secret_basic``: ``Authorization: Basic <base64 of id:secret>``, each
  half form-urlencoded first
- ``client_secret_post``: ``client_id`` and ``client_secret`` in the form

answers ``{"access_token", "token_type", "expires_in"}`` (``expires_in`` left
out when :attr:`expires_in` is None). The secret is compared in constant time.
Refusals are RFC 6749 section 5.2 answers:

==========================  ====  ===============================================
``error``                   HTTP  when
==========================  ====  ===============================================
``invalid_request``         400   not a form, a repeated parameter, two client
                                  authentication methods, no ``grant_type``
``invalid_client``          401   unknown client, wrong secret, no (or half an)
                                  authentication, or a method not in
                                  :attr:`client_auth_methods`; with
                                  ``WWW-Authenticate: Basic``
``unsupported_grant_type``  400   ``grant_type`` other than
                                  ``client_credentials``
``invalid_scope``           400   a scope outside :attr:`allowed_scopes`
==========================  ====  ===============================================

:attr:`fault` switches the endpoint into misbehaving (:class:`Fault`): HTTP 500,
503 or 429 (with ``Retry-After: <retry_after>`` when :attr:`retry_after` is set,
seconds or an HTTP date), hanging until :meth:`stop` (which it never delays), a
200 answer that is not JSON, a 200 JSON answer without ``access_token``, or
``invalid_client`` once and then normal service (a client secret being rotated).
:attr:`fault_times` limits any fault to that many requests, then normal service
(a rate limit that lifts).

:attr:`answer_expires_in` makes the answers say any ``expires_in`` (a huge
integer, 0, a negative number, a string) while the tokens issued still live for
:attr:`expires_in`: what a client does with an odd value is then seen from
whether it asks again.

Issued access tokens are kept with their expiry (:attr:`clock`, monotonic
seconds): :meth:`is_valid` is what a protected server asks; :meth:`revoke` and
:meth:`expire` end them early. :attr:`requests` counts every request to ``/token``;
:attr:`token_requests` records each one's non-secret parameters.
"""

from __future__ import annotations

import base64
import binascii
import enum
import hmac
import json
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus

from local_stack.background import BackgroundServer

TOKEN_PATH = "/token"
CLIENT_AUTH_METHODS = frozenset({"client_secret_basic", "client_secret_post"})
# A hung request gives up by itself after this long, should stop() never come.
HANG_LIMIT_SECONDS = 300.0
# answer_expires_in's "not set": None is a value an answer may carry (JSON null).
SAY_EXPIRES_IN = object()


class Fault(enum.StrEnum):
    """How the endpoint misbehaves; None on :attr:`LocalTokenEndpoint.fault` is normal service."""

    STATUS_500 = "status_500"
    STATUS_503 = "status_503"
    STATUS_429 = "status_429"
    HANG = "hang"
    NOT_JSON = "not_json"
    NO_ACCESS_TOKEN = "no_access_token"
    INVALID_CLIENT_ONCE = "invalid_client_once"


@dataclass(frozen=True)
class TokenRequest:
    """What one request to the endpoint asked for (never its secret)."""

    client_auth: str | None
    client_id: str | None
    grant_type: str | None
    scope: str | None
    audience: str | None
    content_type: str


class _Refusal(Exception):
    def __init__(self, status: HTTPStatus, error: str, description: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.description = description


class LocalTokenEndpoint:
    """The endpoint, serving in a background thread until :meth:`stop`, on
    ``port`` of 127.0.0.1 (a free one unless given)."""

    def __init__(
        self,
        client_id: str,
        client_secret: str,
        *,
        expires_in: int | None = 3600,
        token_type: str = "Bearer",  # noqa: S107 - a token type, not a token
        allowed_scopes: frozenset[str] | None = None,
        client_auth_methods: frozenset[str] = CLIENT_AUTH_METHODS,
        clock: Callable[[], float] = time.monotonic,
        port: int = 0,
    ) -> None:
        self.port = port
        self.client_id = client_id
        self.client_secret = client_secret
        self.expires_in = expires_in
        self.token_type = token_type
        self.allowed_scopes = allowed_scopes
        self.client_auth_methods = client_auth_methods
        self.clock = clock
        self._settings = (
            client_secret,
            expires_in,
            token_type,
            allowed_scopes,
            client_auth_methods,
        )
        self.fault: Fault | None = None
        self.fault_times: int | None = None
        self.retry_after: str | None = None
        self.answer_expires_in: Any = SAY_EXPIRES_IN
        self.requests = 0
        self.token_requests: list[TokenRequest] = []
        # access token -> monotonic expiry (None: no expiry)
        self.issued: dict[str, float | None] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._background: BackgroundServer | None = None

    @property
    def url(self) -> str:
        """Base URL, ``http://127.0.0.1:<port>``."""
        assert self._server is not None, "start() first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    @property
    def token_url(self) -> str:
        """The token endpoint, ``http://127.0.0.1:<port>/token``."""
        return self.url + TOKEN_PATH

    def start(self) -> LocalTokenEndpoint:
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self.port), _Handler)
        self._server.endpoint = self
        self._background = BackgroundServer(self._server, "local-token-endpoint")
        return self

    def stop(self) -> None:
        # Release hung requests first, or their threads outlive the server.
        self._stopping.set()
        if self._background is not None:
            self._background.stop()
            self._background = None

    def __enter__(self) -> LocalTokenEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def is_valid(self, access_token: str) -> bool:
        """Whether ``access_token`` was issued here and is neither expired nor revoked."""
        now = self.clock()
        presented = access_token.encode()
        with self._lock:
            issued = list(self.issued.items())
        valid = False
        # Every comparison runs, so the time taken does not tell which token matched.
        for candidate, expiry in issued:
            if hmac.compare_digest(presented, candidate.encode()):
                valid = expiry is None or now < expiry
        return valid

    def revoke(self, access_token: str | None = None) -> None:
        """Revoke one issued access token, or all of them."""
        with self._lock:
            if access_token is None:
                self.issued.clear()
            else:
                self.issued.pop(access_token, None)

    def expire(self) -> None:
        """Make every issued access token expired now (no waiting for the clock)."""
        now = self.clock()
        with self._lock:
            for token in self.issued:
                self.issued[token] = now

    @property
    def valid_tokens(self) -> list[str]:
        """The access tokens that :meth:`is_valid` accepts now."""
        with self._lock:
            tokens = list(self.issued)
        return [token for token in tokens if self.is_valid(token)]

    def reset(self) -> None:
        """Back to the constructor's settings and normal service, no requests
        counted, no tokens issued."""
        with self._lock:
            (
                self.client_secret,
                self.expires_in,
                self.token_type,
                self.allowed_scopes,
                self.client_auth_methods,
            ) = self._settings
            self.fault = None
            self.fault_times = None
            self.retry_after = None
            self.answer_expires_in = SAY_EXPIRES_IN
            self.requests = 0
            self.token_requests.clear()
            self.issued.clear()

    # Called from the request threads.

    def _answer(self, headers: Any, body: bytes) -> tuple[HTTPStatus, dict[str, str], bytes]:
        with self._lock:
            self.requests += 1
            fault = self.fault
            if fault is Fault.INVALID_CLIENT_ONCE:
                self.fault = None
            if fault is not None and self.fault_times is not None:
                self.fault_times -= 1
                if self.fault_times <= 0:
                    self.fault, self.fault_times = None, None
            retry_after = {} if self.retry_after is None else {"Retry-After": self.retry_after}
        if fault is Fault.HANG:
            self._stopping.wait(HANG_LIMIT_SECONDS)
            return HTTPStatus.SERVICE_UNAVAILABLE, {}, b""
        if fault is Fault.STATUS_500:
            return HTTPStatus.INTERNAL_SERVER_ERROR, _TEXT, b"Internal Server Error\n"
        if fault is Fault.STATUS_503:
            return HTTPStatus.SERVICE_UNAVAILABLE, {**_TEXT, **retry_after}, b"Unavailable\n"
        if fault is Fault.STATUS_429:
            return HTTPStatus.TOO_MANY_REQUESTS, {**_TEXT, **retry_after}, b"Slow down\n"
        try:
            if fault is Fault.INVALID_CLIENT_ONCE:
                raise _invalid_client("client authentication failed")
            granted = self._grant(headers, body)
        except _Refusal as refusal:
            answer = {"error": refusal.error, "error_description": refusal.description}
            extra = {"WWW-Authenticate": 'Basic realm="token"'}
            if refusal.status != HTTPStatus.UNAUTHORIZED:
                extra = {}
            return refusal.status, {**_JSON, **extra}, json.dumps(answer).encode()
        if fault is Fault.NOT_JSON:
            return HTTPStatus.OK, _TEXT, b"<html>not a token</html>\n"
        if fault is Fault.NO_ACCESS_TOKEN:
            del granted["access_token"]
        return HTTPStatus.OK, _JSON, json.dumps(granted).encode()

    def _grant(self, headers: Any, body: bytes) -> dict[str, Any]:
        content_type = headers.get("Content-Type", "")
        if content_type.split(";")[0].strip().lower() != "application/x-www-form-urlencoded":
            self._record(None, None, {}, content_type)
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, "invalid_request", "expected a form-encoded body"
            )
        try:
            form = parse_qs(body.decode(), keep_blank_values=True, strict_parsing=bool(body))
        except (UnicodeDecodeError, ValueError) as error:
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, "invalid_request", "malformed form body"
            ) from error
        method, client_id, secret = _client_credentials(headers, form)
        self._record(method, client_id, form, content_type)
        if any(len(values) > 1 for values in form.values()):
            raise _Refusal(HTTPStatus.BAD_REQUEST, "invalid_request", "repeated parameter")
        if method is None:
            raise _invalid_client("no client authentication")
        if method not in self.client_auth_methods:
            raise _invalid_client(f"{method} is not accepted")
        if client_id is None or secret is None:
            raise _invalid_client("client_id or client_secret is missing")
        right_id = hmac.compare_digest(client_id.encode(), self.client_id.encode())
        right_secret = hmac.compare_digest(secret.encode(), self.client_secret.encode())
        if not (right_id and right_secret):
            raise _invalid_client("client authentication failed")
        grant_type = _first(form, "grant_type")
        if grant_type is None:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "invalid_request", "grant_type is missing")
        if grant_type != "client_credentials":
            raise _Refusal(
                HTTPStatus.BAD_REQUEST, "unsupported_grant_type", "only client_credentials"
            )
        scope = _first(form, "scope")
        allowed = self.allowed_scopes
        if scope is not None and allowed is not None and not set(scope.split()) <= allowed:
            raise _Refusal(HTTPStatus.BAD_REQUEST, "invalid_scope", "scope not allowed")
        access_token = secrets.token_urlsafe(32)
        expires_in = self.expires_in
        with self._lock:
            self.issued[access_token] = (
                None if expires_in is None else self.clock() + float(expires_in)
            )
        granted: dict[str, Any] = {"access_token": access_token, "token_type": self.token_type}
        if self.answer_expires_in is not SAY_EXPIRES_IN:
            granted["expires_in"] = self.answer_expires_in
        elif expires_in is not None:
            granted["expires_in"] = expires_in
        if scope:
            granted["scope"] = scope
        return granted

    def _record(
        self,
        method: str | None,
        client_id: str | None,
        form: dict[str, list[str]],
        content_type: str,
    ) -> None:
        with self._lock:
            self.token_requests.append(
                TokenRequest(
                    client_auth=method,
                    client_id=client_id,
                    grant_type=_first(form, "grant_type"),
                    scope=_first(form, "scope"),
                    audience=_first(form, "audience"),
                    content_type=content_type,
                )
            )


_JSON = {"Content-Type": "application/json;charset=UTF-8"}
_TEXT = {"Content-Type": "text/plain; charset=utf-8"}


def _invalid_client(description: str) -> _Refusal:
    return _Refusal(HTTPStatus.UNAUTHORIZED, "invalid_client", description)


def _first(form: dict[str, list[str]], name: str) -> str | None:
    values = form.get(name)
    return values[0] if values else None


def _client_credentials(
    headers: Any, form: dict[str, list[str]]
) -> tuple[str | None, str | None, str | None]:
    """(method, client_id, client_secret) as presented; method None when the
    client did not authenticate."""
    authorization = headers.get("Authorization")
    in_form = "client_secret" in form
    if authorization is not None and in_form:
        raise _Refusal(
            HTTPStatus.BAD_REQUEST, "invalid_request", "more than one authentication method"
        )
    if authorization is not None:
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise _invalid_client("unsupported authentication scheme")
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError) as error:
            raise _invalid_client("malformed Basic credentials") from error
        user, colon, password = decoded.partition(":")
        if not colon:
            raise _invalid_client("malformed Basic credentials")
        # RFC 6749 section 2.3.1: both halves are form-urlencoded before joining.
        return "client_secret_basic", unquote_plus(user), unquote_plus(password)
    if in_form:
        return "client_secret_post", _first(form, "client_id"), _first(form, "client_secret")
    return None, _first(form, "client_id"), None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    endpoint: LocalTokenEndpoint

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gave up (timeout) leaves a broken pipe: nothing to report.
        pass


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length)
        if self.path.split("?")[0] != TOKEN_PATH:
            self._send(HTTPStatus.NOT_FOUND, _TEXT, b"Not Found\n")
            return
        status, headers, payload = self.server.endpoint._answer(self.headers, body)
        if self.server.endpoint._stopping.is_set():
            # Hung until stop(): hang up instead of answering or waiting for more.
            self.close_connection = True
            return
        self._send(status, headers, payload)

    def do_GET(self) -> None:
        self._send(HTTPStatus.METHOD_NOT_ALLOWED, {**_TEXT, "Allow": "POST"}, b"POST only\n")

    def _send(self, status: HTTPStatus, headers: dict[str, str], payload: bytes) -> None:
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        # RFC 6749 section 5.1: token answers must not be cached.
        self.send_header("Cache-Control", "no-store")
        self.send_header("Pragma", "no-cache")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        pass
