"""oauth2_client_credentials: the request built, the answer judged, the token cached.

No network: the mode's ``send`` is replaced by a scripted token endpoint, and time by
a fake clock. The real POST is exercised against the local token endpoint by the
integration tests.
"""

from __future__ import annotations

import base64
import datetime
import email.utils
import json
import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl

import pytest
import urllib3

from ws_exchange.credentials import Handshake
from ws_exchange.credentials.oauth2 import (
    AccessToken,
    Answer,
    Client,
    OAuth2ClientCredentials,
    Settings,
    TokenRequest,
    cache_lifetime,
    clear_cache,
    client_from_secret,
    parse_answer,
    post,
    retry_delay,
    settings,
    token_request,
    transport_error,
)
from ws_exchange.errors import ConfigError, SecretInvalid, TokenRequestFailed

from ._support import URI, Secrets, deadline, mode

TOKEN_URL = "https://idp.example.com/oauth2/token"
CLIENT = '{"client_id": "my app", "client_secret": "s3cr:t+/="}'


@pytest.fixture(autouse=True)
def _empty_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class Endpoint:
    """A scripted token endpoint: answers in order (``(status, body)`` or
    ``(status, body, retry_after)``), records each request."""

    def __init__(self, *answers: tuple[Any, ...]) -> None:
        self.answers = list(answers)
        self.requests: list[TokenRequest] = []
        self.timeouts: list[float] = []

    def __call__(self, request: TokenRequest, timeout: float) -> Answer:
        self.requests.append(request)
        self.timeouts.append(timeout)
        status, body, *retry_after = self.answers.pop(0)
        encoded = body if isinstance(body, bytes) else json.dumps(body).encode()
        return Answer(status, encoded, *retry_after)


class Sleeps(list[float]):
    """A ``sleep`` that records the delays instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


NOW = datetime.datetime(2026, 12, 5, 12, 0, 0, tzinfo=datetime.UTC)


def ok(token: str = "at-1", **extra: Any) -> tuple[int, Any]:  # noqa: S107
    return 200, {"access_token": token, "token_type": "bearer", **extra}


def oauth2(
    endpoint: Endpoint,
    clock: FakeClock | None = None,
    sleeps: Sleeps | None = None,
    **environ: str,
) -> OAuth2ClientCredentials:
    base = settings({"OAUTH2_TOKEN_URL": TOKEN_URL, **environ}, allow_insecure=False)
    return OAuth2ClientCredentials(
        base,
        send=endpoint,
        clock=clock or FakeClock(),
        wall_clock=lambda: NOW,
        sleep=sleeps if sleeps is not None else Sleeps(),
    )


# --- the request ------------------------------------------------------------------------------


def test_client_secret_basic_form_urlencodes_id_and_secret_before_base64() -> None:
    request = token_request(Settings(TOKEN_URL), client_from_secret(CLIENT))
    assert request.url == TOKEN_URL
    assert dict(parse_qsl(request.body)) == {"grant_type": "client_credentials"}
    headers = dict(request.headers)
    assert headers["Content-Type"] == "application/x-www-form-urlencoded"
    # RFC 6749 section 2.3.1: "my app" -> "my+app", "s3cr:t+/=" -> "s3cr%3At%2B%2F%3D".
    decoded = base64.b64decode(headers["Authorization"].removeprefix("Basic ")).decode()
    assert decoded == "my+app:s3cr%3At%2B%2F%3D"
    assert "s3cr:t+/=" in request.credentials
    assert headers["Authorization"] in request.credentials


def test_client_secret_post_puts_the_client_in_the_body_with_scope_and_audience() -> None:
    config = Settings(TOKEN_URL, "read write", "https://api", "client_secret_post")
    request = token_request(config, Client("my app", "s3cr:t"))
    assert dict(parse_qsl(request.body)) == {
        "grant_type": "client_credentials",
        "scope": "read write",
        "audience": "https://api",
        "client_id": "my app",
        "client_secret": "s3cr:t",
    }
    assert "Authorization" not in dict(request.headers)
    assert set(request.credentials) == {"s3cr:t", "s3cr%3At"}


@pytest.mark.parametrize(
    "secret",
    [
        "sEkReT",
        '{"client_id": "a"}',
        '{"client_id": "a", "client_secret": ""}',
        '{"client_id": "a", "client_secret": "sEkReT\\u00e9"}',
    ],
)
def test_a_secret_that_is_not_client_credentials_is_secret_invalid(secret: str) -> None:
    with pytest.raises(SecretInvalid) as info:
        client_from_secret(secret)
    assert "sEkReT" not in str(info.value)


def test_client_repr_hides_the_secret() -> None:
    assert "sEkReT" not in repr(Client("id", "sEkReT"))
    assert "sEkReT" not in repr(AccessToken("sEkReT", "Bearer", 1.0))
    assert "sEkReT" not in repr(token_request(Settings(TOKEN_URL), Client("id", "sEkReT")))


# --- settings ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("environ", "allow_insecure", "variable"),
    [
        ({}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "http://idp/token"}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "ftp://idp/token"}, True, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "https:///token"}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "https://u:p@idp/token"}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "https://idp:99999/token"}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": "https://idp/token#x"}, False, "OAUTH2_TOKEN_URL"),
        ({"OAUTH2_TOKEN_URL": TOKEN_URL, "OAUTH2_SCOPE": 'a "b"'}, False, "OAUTH2_SCOPE"),
        ({"OAUTH2_TOKEN_URL": TOKEN_URL, "OAUTH2_AUDIENCE": "a\x00"}, False, "OAUTH2_AUDIENCE"),
        (
            {"OAUTH2_TOKEN_URL": TOKEN_URL, "OAUTH2_CLIENT_AUTH": "basic"},
            False,
            "OAUTH2_CLIENT_AUTH",
        ),
        (
            {"OAUTH2_TOKEN_URL": TOKEN_URL, "SECRET_MAX_AGE_SECONDS": "5m"},
            False,
            "SECRET_MAX_AGE_SECONDS",
        ),
    ],
)
def test_invalid_settings_name_their_variable(
    environ: dict[str, str], allow_insecure: bool, variable: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings(environ, allow_insecure=allow_insecure)
    assert info.value.message.startswith(variable)


def test_http_token_url_is_allowed_only_with_allow_insecure() -> None:
    assert settings({"OAUTH2_TOKEN_URL": "http://127.0.0.1:8080/t"}, allow_insecure=True).token_url
    loaded = mode(
        {
            "AUTH_MODE": "oauth2_client_credentials",
            "TOKEN_SECRET_ID": "s",
            "OAUTH2_TOKEN_URL": "http://127.0.0.1:8080/t",
        },
        allow_insecure=True,
    )
    assert loaded.needs_secret


def test_scope_whitespace_is_normalised() -> None:
    assert (
        settings(
            {"OAUTH2_TOKEN_URL": TOKEN_URL, "OAUTH2_SCOPE": " a  b\tc "}, allow_insecure=False
        ).scope
        == "a b c"
    )


# --- the answer -----------------------------------------------------------------------------


def test_a_bearer_answer_gives_the_token_normalised_type_and_lifetime() -> None:
    token = parse_answer(200, b'{"access_token": "at", "token_type": "bearer", "expires_in": 3600}')
    assert (token.value, token.token_type, token.expires_in) == ("at", "Bearer", 3600.0)
    assert parse_answer(200, b'{"access_token": "at", "expires_in": "60"}').expires_in == 60.0
    assert parse_answer(200, b'{"access_token": "at", "token_type": "Bearer"}').expires_in is None


@pytest.mark.parametrize(
    ("raw", "expires_in"),
    [
        # Not a number, or more than a day: the secret window applies.
        ("true", None),
        ('"soon"', None),
        ("null", None),
        ('"NaN"', None),
        ("NaN", None),
        ("1e400", None),
        ("Infinity", None),
        ("1" + "0" * 400, None),
        ("1" + "0" * 5000, None),
        ('"1e400"', None),
        ("86401", None),
        ("[3600]", None),
        # 0 or less: this invocation only.
        ("0", 0.0),
        ("-5", 0.0),
        ('"-5"', 0.0),
        ("-1" + "0" * 400, 0.0),
        ("-Infinity", 0.0),
        ("0.0", 0.0),
        # A positive finite number of at most a day: as said.
        ("86400", 86400.0),
        ("0.5", 0.5),
        ('"60"', 60.0),
    ],
)
def test_expires_in_is_normalised_and_never_breaks_the_answer(
    raw: str, expires_in: float | None
) -> None:
    body = b'{"access_token": "at", "expires_in": ' + raw.encode() + b"}"
    assert parse_answer(200, body).expires_in == expires_in


RFC_6749_CODES = [
    "invalid_request",
    "invalid_client",
    "invalid_grant",
    "unauthorized_client",
    "unsupported_grant_type",
    "invalid_scope",
]


@pytest.mark.parametrize("code", RFC_6749_CODES)
@pytest.mark.parametrize("status", [400, 401])
def test_each_rfc_6749_error_is_named_and_not_retryable(code: str, status: int) -> None:
    body = json.dumps(
        {"error": code, "error_description": "sEkReT detail", "error_uri": "https://sEkReT"}
    ).encode()
    with pytest.raises(TokenRequestFailed) as info:
        parse_answer(status, body)
    error = info.value
    assert error.type == "token_request_failed"
    assert code in error.message and str(status) in error.message
    assert error.retryable is False
    assert error.code == code
    assert "sEkReT" not in str(error)


def test_invalid_scope_points_at_oauth2_scope_and_invalid_client_at_the_secret() -> None:
    with pytest.raises(TokenRequestFailed, match="OAUTH2_SCOPE"):
        parse_answer(400, b'{"error": "invalid_scope"}')
    with pytest.raises(TokenRequestFailed, match="client_secret"):
        parse_answer(401, b'{"error": "invalid_client"}')


def test_an_error_code_outside_rfc_6749_is_never_repeated() -> None:
    with pytest.raises(TokenRequestFailed) as info:
        parse_answer(400, b'{"error": "sEkReT_code"}')
    assert "sEkReT" not in str(info.value)
    assert info.value.code is None
    assert "400" in info.value.message


@pytest.mark.parametrize(
    ("status", "body", "retryable"),
    [
        (500, b"<html>sEkReT</html>", True),
        (503, b'{"error": "temporarily_unavailable"}', True),
        (502, b"", True),
        (404, b"sEkReT", False),
        (429, b"", True),
        (302, b"", False),
        (200, b"<html>sEkReT</html>", False),
        (200, b"[1, 2]", False),
        (200, b'{"token": "sEkReT"}', False),
        (200, b'{"access_token": ""}', False),
        (200, b'{"access_token": 42}', False),
        (200, b'{"access_token": "sEkReT\\ntwo"}', False),
        (200, b'{"access_token": "sEkReT", "token_type": "mac"}', False),
        (200, b'{"access_token": "sEkReT", "token_type": "DPoP"}', False),
        (200, b'{"access_token": "sEkReT", "token_type": null}', False),
        (200, b'{"error": "invalid_grant"}', False),
        (200, b"\xff\xfe", False),
    ],
)
def test_failures_are_classified_as_documented(status: int, body: bytes, retryable: bool) -> None:
    with pytest.raises(TokenRequestFailed) as info:
        parse_answer(status, body)
    assert info.value.retryable is retryable
    assert "sEkReT" not in str(info.value)


def test_a_redirect_points_at_the_token_url() -> None:
    with pytest.raises(TokenRequestFailed, match="OAUTH2_TOKEN_URL"):
        parse_answer(301, b"")


@pytest.mark.parametrize(
    ("exc", "retryable", "says"),
    [
        (urllib3.exceptions.ReadTimeoutError(None, "/t", "sEkReT"), True, "within 7 s"),
        (urllib3.exceptions.ConnectTimeoutError("sEkReT"), True, "within 7 s"),
        (urllib3.exceptions.NewConnectionError(None, "sEkReT"), True, "reached"),
        (urllib3.exceptions.NameResolutionError("h", None, OSError("sEkReT")), True, "reached"),
        (urllib3.exceptions.ProtocolError("sEkReT"), True, "failed"),
        (
            urllib3.exceptions.MaxRetryError(
                None, "/t", urllib3.exceptions.NewConnectionError(None, "x")
            ),
            True,
            "reached",
        ),
        (ConnectionResetError("sEkReT"), True, "failed"),
        (urllib3.exceptions.SSLError("sEkReT"), False, "TLS"),
    ],
)
def test_transport_failures_are_retryable_except_tls(
    exc: BaseException, retryable: bool, says: str
) -> None:
    error = transport_error(exc, 7.0)
    assert error.retryable is retryable
    assert says in error.message
    assert "sEkReT" not in str(error)


def test_lifetime_ends_shortly_before_expires_in_or_is_the_secret_window() -> None:
    assert cache_lifetime(3600, 300) == 3540
    assert cache_lifetime(30, 300) == 27
    assert cache_lifetime(None, 300) == 300
    assert cache_lifetime(None, 0) == 0
    assert cache_lifetime(0.0, 300) == 0


# --- the flow: cache, refresh, invalid_client -----------------------------------------------------


def prepare(mode_: OAuth2ClientCredentials, secrets: Secrets, *, refresh: bool = False):  # type: ignore[no-untyped-def]
    return mode_.prepare(Handshake(URI, (("Origin", "o"),)), secrets, deadline(), refresh=refresh)


def test_the_access_token_goes_in_authorization_and_every_form_is_a_credential() -> None:
    endpoint = Endpoint(ok("at-1", expires_in=3600))
    prepared = prepare(oauth2(endpoint), Secrets(CLIENT))
    assert prepared.handshake.headers == (("Origin", "o"), ("Authorization", "Bearer at-1"))
    assert prepared.fresh is True
    assert {"at-1", "Bearer at-1", "s3cr:t+/="} <= set(prepared.credentials)
    assert 0 < endpoint.timeouts[0] <= 10.0


def test_the_token_is_reused_until_shortly_before_it_expires() -> None:
    clock = FakeClock()
    endpoint = Endpoint(ok("at-1", expires_in=600), ok("at-2", expires_in=600))
    mode_ = oauth2(endpoint, clock)
    secrets = Secrets(CLIENT)
    assert prepare(mode_, secrets).fresh is True
    clock.now += 539
    second = prepare(mode_, secrets)
    assert (second.fresh, second.handshake.headers[-1][1]) == (False, "Bearer at-1")
    clock.now += 2  # 541 s: inside the last 60 s
    third = prepare(mode_, secrets)
    assert (third.fresh, third.handshake.headers[-1][1]) == (True, "Bearer at-2")
    assert len(endpoint.requests) == 2


def test_without_expires_in_the_token_lives_for_the_secret_window() -> None:
    clock = FakeClock()
    endpoint = Endpoint(ok("at-1"), ok("at-2"))
    mode_ = oauth2(endpoint, clock, SECRET_MAX_AGE_SECONDS="120")
    secrets = Secrets(CLIENT)
    prepare(mode_, secrets)
    clock.now += 119
    assert prepare(mode_, secrets).fresh is False
    clock.now += 2
    assert prepare(mode_, secrets).handshake.headers[-1][1] == "Bearer at-2"


@pytest.mark.parametrize("expires_in", [0, -30, "0"])
def test_an_expires_in_of_0_or_less_serves_this_invocation_only(expires_in: Any) -> None:
    endpoint = Endpoint(ok("at-1", expires_in=expires_in), ok("at-2", expires_in=expires_in))
    mode_ = oauth2(endpoint)
    secrets = Secrets(CLIENT)
    assert prepare(mode_, secrets).handshake.headers[-1][1] == "Bearer at-1"
    second = prepare(mode_, secrets)
    assert (second.fresh, second.handshake.headers[-1][1]) == (True, "Bearer at-2")
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize("raw", [b"1" + b"0" * 400, b"1e400", b'"forever"', b"90000"])
def test_a_huge_or_unusable_expires_in_lives_for_the_secret_window(raw: bytes) -> None:
    clock = FakeClock()
    body = b'{"access_token": "at-1", "token_type": "Bearer", "expires_in": ' + raw + b"}"
    endpoint = Endpoint((200, body), ok("at-2"))
    mode_ = oauth2(endpoint, clock, SECRET_MAX_AGE_SECONDS="120")
    secrets = Secrets(CLIENT)
    assert prepare(mode_, secrets).handshake.headers[-1][1] == "Bearer at-1"
    clock.now += 119
    assert prepare(mode_, secrets).fresh is False
    clock.now += 2
    assert prepare(mode_, secrets).handshake.headers[-1][1] == "Bearer at-2"


def test_a_zero_secret_window_caches_nothing() -> None:
    endpoint = Endpoint(ok("at-1"), ok("at-2"))
    mode_ = oauth2(endpoint, SECRET_MAX_AGE_SECONDS="0")
    secrets = Secrets(CLIENT)
    prepare(mode_, secrets)
    assert prepare(mode_, secrets).fresh is True


def test_refresh_drops_the_cached_token_and_requests_a_new_one() -> None:
    endpoint = Endpoint(ok("at-1", expires_in=3600), ok("at-2", expires_in=3600))
    mode_ = oauth2(endpoint)
    secrets = Secrets(CLIENT)
    prepare(mode_, secrets)
    refreshed = prepare(mode_, secrets, refresh=True)
    assert (refreshed.fresh, refreshed.handshake.headers[-1][1]) == (True, "Bearer at-2")
    assert prepare(mode_, secrets).handshake.headers[-1][1] == "Bearer at-2"


def test_tokens_are_cached_per_client_scope_and_audience() -> None:
    endpoint = Endpoint(ok("at-1", expires_in=3600), ok("at-2", expires_in=3600))
    prepare(oauth2(endpoint), Secrets(CLIENT))
    other_scope = prepare(oauth2(endpoint, OAUTH2_SCOPE="admin"), Secrets(CLIENT))
    assert other_scope.handshake.headers[-1][1] == "Bearer at-2"


def test_invalid_client_with_a_cached_secret_reads_it_again_once_and_retries() -> None:
    rotated = '{"client_id": "my app", "client_secret": "rotated"}'
    endpoint = Endpoint((401, {"error": "invalid_client"}), ok("at-1"))
    secrets = Secrets(CLIENT, rotated, cached=True)
    prepared = prepare(oauth2(endpoint), secrets)
    assert secrets.calls == [False, True]
    assert prepared.fresh is True
    assert "rotated" in prepared.credentials
    assert len(endpoint.requests) == 2


def test_invalid_client_with_a_fresh_secret_is_final() -> None:
    endpoint = Endpoint((401, {"error": "invalid_client"}))
    secrets = Secrets(CLIENT)
    with pytest.raises(TokenRequestFailed, match="invalid_client"):
        prepare(oauth2(endpoint), secrets)
    assert secrets.calls == [False]


def test_invalid_client_twice_is_final_after_one_reread() -> None:
    endpoint = Endpoint((401, {"error": "invalid_client"}), (401, {"error": "invalid_client"}))
    secrets = Secrets(CLIENT, CLIENT, cached=True)
    with pytest.raises(TokenRequestFailed, match="invalid_client"):
        prepare(oauth2(endpoint), secrets)
    assert secrets.calls == [False, True]


@pytest.mark.parametrize("code", ["invalid_scope", "invalid_grant", "unauthorized_client"])
def test_other_errors_do_not_read_the_secret_again(code: str) -> None:
    endpoint = Endpoint((400, {"error": code}))
    secrets = Secrets(CLIENT, CLIENT, cached=True)
    with pytest.raises(TokenRequestFailed):
        prepare(oauth2(endpoint), secrets)
    assert secrets.calls == [False]


# --- 429 and 503: retryable, Retry-After honoured once -----------------------------------------


@pytest.mark.parametrize(
    ("value", "delay"),
    [
        ("120", 120.0),
        (" 0 ", 0.0),
        ("Sat, 05 Dec 2026 12:00:30 GMT", 30.0),
        ("Sat, 05 Dec 2026 11:59:00 GMT", 0.0),
        ("Saturday, 05-Dec-26 12:01:00 GMT", 60.0),
        ("Sat Dec  5 12:00:10 2026", 10.0),
        ("9" * 40, float("inf")),
        (None, None),
        ("", None),
        ("soon", None),
        ("-5", None),
        ("1.5", None),
        ("٣", None),
    ],
)
def test_retry_after_is_seconds_or_an_http_date(value: str | None, delay: float | None) -> None:
    assert retry_delay(value, NOW) == delay


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_that_fits_is_honoured_once(status: int) -> None:
    sleeps = Sleeps()
    endpoint = Endpoint((status, b"", "2"), ok("at-1"))
    prepared = prepare(oauth2(endpoint, sleeps=sleeps), Secrets(CLIENT))
    assert prepared.handshake.headers[-1][1] == "Bearer at-1"
    assert sleeps == [2.0]
    assert len(endpoint.requests) == 2


def test_an_http_date_retry_after_is_waited_for_until_that_date() -> None:
    sleeps = Sleeps()
    later = email.utils.format_datetime(NOW + datetime.timedelta(seconds=7), usegmt=True)
    endpoint = Endpoint((503, b"", later), ok("at-1"))
    prepare(oauth2(endpoint, sleeps=sleeps), Secrets(CLIENT))
    assert sleeps == [7.0]


@pytest.mark.parametrize("status", [429, 503])
def test_a_second_refusal_after_the_wait_is_final_and_retryable(status: int) -> None:
    sleeps = Sleeps()
    endpoint = Endpoint((status, b"", "1"), (status, b"", "1"), ok("at-1"))
    with pytest.raises(TokenRequestFailed, match=f"HTTP {status}") as info:
        prepare(oauth2(endpoint, sleeps=sleeps), Secrets(CLIENT))
    assert info.value.retryable is True
    assert sleeps == [1.0]
    assert len(endpoint.requests) == 2


@pytest.mark.parametrize("status", [429, 503])
def test_a_retry_after_past_the_deadline_is_not_waited_for(status: int) -> None:
    sleeps = Sleeps()
    endpoint = Endpoint((status, b"", "120"), ok("at-1"))
    mode_ = oauth2(endpoint, sleeps=sleeps)
    with pytest.raises(TokenRequestFailed, match="120 s") as info:
        mode_.prepare(Handshake(URI), Secrets(CLIENT), deadline(60.0), refresh=False)
    assert info.value.retryable is True
    assert sleeps == []
    assert len(endpoint.requests) == 1


@pytest.mark.parametrize(("status", "retry_after"), [(429, None), (503, None), (500, "1")])
def test_without_a_usable_retry_after_there_is_no_wait(status: int, retry_after: Any) -> None:
    sleeps = Sleeps()
    endpoint = Endpoint((status, b"", retry_after), ok("at-1"))
    with pytest.raises(TokenRequestFailed) as info:
        prepare(oauth2(endpoint, sleeps=sleeps), Secrets(CLIENT))
    assert info.value.retryable is True
    assert sleeps == []


def test_a_failed_request_caches_nothing() -> None:
    endpoint = Endpoint((503, b""), ok("at-1", expires_in=3600))
    mode_ = oauth2(endpoint)
    with pytest.raises(TokenRequestFailed):
        prepare(mode_, Secrets(CLIENT))
    assert prepare(mode_, Secrets(CLIENT)).handshake.headers[-1][1] == "Bearer at-1"


def test_the_request_is_capped_by_the_deadline_and_not_made_without_time() -> None:
    endpoint = Endpoint(ok())
    mode_ = oauth2(endpoint)
    mode_.prepare(Handshake(URI), Secrets(CLIENT), deadline(3.0), refresh=False)
    assert 2.5 < endpoint.timeouts[0] <= 3.0
    clear_cache()
    with pytest.raises(TokenRequestFailed, match="deadline") as info:
        mode_.prepare(Handshake(URI), Secrets(CLIENT), deadline(0.0), refresh=False)
    assert info.value.retryable is True
    assert len(endpoint.requests) == 1


# --- the I/O edge, against a loopback server ---------------------------------------------------


@pytest.fixture
def loopback() -> Iterator[tuple[str, threading.Event]]:
    """A token endpoint on 127.0.0.1: /token answers, /stall never does until released."""
    release = threading.Event()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if self.path == "/stall":
                self.send_response(200)
                self.send_header("Content-Length", "100")
                self.end_headers()
                self.wfile.write(b"{")
                self.wfile.flush()
                release.wait(30)
                return
            answer = json.dumps(
                {"access_token": "at", "auth": self.headers["Authorization"], "form": body.decode()}
            ).encode()
            self.send_response(200)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}", release
    release.set()
    server.shutdown()
    server.server_close()


def test_post_sends_the_request_and_returns_the_answer(
    loopback: tuple[str, threading.Event],
) -> None:
    base, _ = loopback
    answered = post(token_request(Settings(f"{base}/token"), Client("id", "sec")), 5.0)
    answer = json.loads(answered.body)
    assert answered.status == 200
    assert answered.retry_after is None
    assert answer["auth"] == "Basic " + base64.b64encode(b"id:sec").decode()
    assert answer["form"] == "grant_type=client_credentials"


def test_post_returns_at_its_timeout_when_the_answer_never_completes(
    loopback: tuple[str, threading.Event],
) -> None:
    base, _ = loopback
    started = time.monotonic()
    with pytest.raises(TokenRequestFailed, match=r"within 0\.5 s") as info:
        post(token_request(Settings(f"{base}/stall"), Client("id", "sec")), 0.5)
    assert time.monotonic() - started < 2.0
    assert info.value.retryable is True


def test_post_to_a_closed_port_is_retryable() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(TokenRequestFailed, match="reached") as info:
        post(token_request(Settings(f"http://127.0.0.1:{port}/t"), Client("id", "sec")), 2.0)
    assert info.value.retryable is True
