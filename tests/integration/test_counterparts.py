"""Each credential counterpart of the local stack, met by a plain client
(websockets' own client, urllib3, botocore's signer) before the function
relies on it: the right credential is accepted, a wrong one refused."""

from __future__ import annotations

import base64
import datetime
import json
import logging
import os
import ssl
import tempfile
import time
from typing import Any
from urllib.parse import quote, urlencode

import pytest
import urllib3
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus
from websockets.sync.client import ClientConnection, connect

from local_stack.aws import sigv4 as spec
from local_stack.credentials import pki
from local_stack.credentials.oauth2_server import Fault, LocalTokenEndpoint
from local_stack.credentials.servers import K8S_CHANNEL, K8S_PREFIX, encode_subprotocol_token
from local_stack.credentials.sigv4_server import LocalAWSCredentials
from local_stack.credentials.stack import ENDPOINTS, LocalCredentialStack

pytest_plugins = ["tests.integration.conftest_counterparts"]

PING = json.dumps({"action": "ping"})
PONG = {"type": "pong"}
FORM = "application/x-www-form-urlencoded"


def ping(connection: ClientConnection) -> Any:
    connection.send(PING)
    return json.loads(connection.recv(timeout=5))


def answers_ping(uri: str, **options: Any) -> bool:
    with connect(uri, open_timeout=5, **options) as connection:
        return bool(ping(connection) == PONG)


def refusal_status(uri: str, **options: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        connect(uri, open_timeout=5, **options).close()
    return refused.value.response.status_code


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.fixture(scope="module")
def http() -> urllib3.PoolManager:
    return urllib3.PoolManager(timeout=urllib3.Timeout(total=5), retries=False)


def token_request(
    http: urllib3.PoolManager,
    endpoint: LocalTokenEndpoint,
    form: dict[str, str] | None = None,
    *,
    auth: str | None = None,
    timeout: float = 5,
) -> urllib3.BaseHTTPResponse:
    headers = {"Content-Type": FORM}
    if auth is not None:
        headers["Authorization"] = auth
    return http.request(
        "POST",
        endpoint.token_url,
        body=urlencode(form or {"grant_type": "client_credentials"}),
        headers=headers,
        timeout=timeout,
    )


def secret_basic(endpoint: LocalTokenEndpoint, secret: str | None = None) -> str:
    """RFC 6749 section 2.3.1: each half form-urlencoded, then Basic."""
    return basic(
        quote(endpoint.client_id, safe=""), quote(secret or endpoint.client_secret, safe="")
    )


def access_token(http: urllib3.PoolManager, endpoint: LocalTokenEndpoint) -> str:
    response = token_request(http, endpoint, auth=secret_basic(endpoint))
    assert response.status == 200
    return str(response.json()["access_token"])


# The stack as a whole


def test_every_endpoint_has_a_uri_and_settings_naming_its_mode(credential_stack) -> None:
    for name in ENDPOINTS:
        settings = credential_stack.settings(name)
        assert settings["WEBSOCKET_URI"] == credential_stack.uri(name)
        assert settings["AUTH_MODE"] in {
            "bearer", "header", "basic", "query", "subprotocol",
            "oauth2_client_credentials", "sigv4", "message", "none", "cookie",
        }  # fmt: skip
    assert credential_stack.uri("mtls").startswith("wss://127.0.0.1:")
    assert credential_stack.uri("basic").startswith("ws://127.0.0.1:")


def test_rotation_changes_what_the_server_accepts_and_reset_restores_it(
    credential_stack,
) -> None:
    original = json.loads(credential_stack.secret("header"))["token"]
    rotated = json.loads(credential_stack.rotate("header"))["token"]
    uri = credential_stack.uri("header")

    assert rotated != original
    assert refusal_status(uri, additional_headers={"X-API-Key": original}) == 401
    assert answers_ping(uri, additional_headers={"X-API-Key": rotated})
    credential_stack.reset()
    assert answers_ping(uri, additional_headers={"X-API-Key": original})


def test_secrets_have_the_documented_shape_for_each_mode(credential_stack) -> None:
    basic_secret = json.loads(credential_stack.secret("basic"))
    oauth2_secret = json.loads(credential_stack.secret("oauth2_client_credentials"))

    assert basic_secret == {
        "username": credential_stack.basic.username,
        "password": credential_stack.basic.password,
    }
    assert oauth2_secret == {
        "client_id": credential_stack.token_endpoint.client_id,
        "client_secret": credential_stack.token_endpoint.client_secret,
    }
    assert json.loads(credential_stack.secret("query")) == {"token": credential_stack.query.key}
    assert [credential_stack.secret(name) for name in ("sigv4", "none", "mtls")] == [None] * 3


def test_servers_keep_credentials_out_of_debug_logs(credential_stack, caplog) -> None:
    server = credential_stack.basic
    caplog.set_level(logging.DEBUG)

    assert answers_ping(
        credential_stack.uri("basic"),
        additional_headers={"Authorization": basic(server.username, server.password)},
    )
    # The plain client logs its own headers at DEBUG; only the servers' side counts.
    server_side = [r for r in caplog.records if r.name != "websockets.client"]
    assert server.password not in "\n".join(r.getMessage() for r in server_side)
    assert not [r for r in server_side if r.name.startswith(("local_stack", "websockets"))]


def test_stack_stops_every_server() -> None:
    with LocalCredentialStack() as stack:
        uri = stack.uri("none")
        token_url = stack.token_endpoint.token_url
    with pytest.raises(OSError):
        connect(uri, open_timeout=2)
    with pytest.raises(urllib3.exceptions.HTTPError):
        urllib3.request("POST", token_url, timeout=2, retries=False)


# OAuth2 token endpoint


def test_client_secret_basic_gets_a_bearer_token_with_its_expiry(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    granted = response.json()
    assert response.status == 200
    assert response.headers["Cache-Control"] == "no-store"
    assert granted["token_type"] == "Bearer"
    assert granted["expires_in"] == 3600
    assert endpoint.is_valid(granted["access_token"])
    assert endpoint.token_requests[-1].client_auth == "client_secret_basic"


def test_client_secret_post_gets_a_token(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    response = token_request(
        http,
        endpoint,
        {
            "grant_type": "client_credentials",
            "client_id": endpoint.client_id,
            "client_secret": endpoint.client_secret,
            "scope": "read write",
            "audience": "https://api.example",
        },
    )

    assert response.status == 200
    assert endpoint.is_valid(response.json()["access_token"])
    recorded = endpoint.token_requests[-1]
    assert (recorded.client_auth, recorded.scope, recorded.audience) == (
        "client_secret_post",
        "read write",
        "https://api.example",
    )


def test_basic_credentials_are_form_urlencoded_before_base64(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.client_secret = "s3cret:with+plus and/slash%"

    encoded = token_request(http, endpoint, auth=secret_basic(endpoint))
    unencoded = token_request(
        http, endpoint, auth=basic(endpoint.client_id, endpoint.client_secret)
    )

    assert encoded.status == 200
    assert unencoded.status == 401


def test_wrong_client_secret_is_invalid_client_with_www_authenticate(
    credential_stack, http
) -> None:
    endpoint = credential_stack.token_endpoint
    response = token_request(http, endpoint, auth=secret_basic(endpoint, "wrong"))

    assert response.status == 401
    assert response.json()["error"] == "invalid_client"
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    assert endpoint.valid_tokens == []


@pytest.mark.parametrize(
    ("form", "auth", "status", "error"),
    [
        ({"grant_type": "password"}, True, 400, "unsupported_grant_type"),
        ({"scope": "x"}, True, 400, "invalid_request"),
        ({"grant_type": "client_credentials", "scope": "admin"}, True, 400, "invalid_scope"),
        ({"grant_type": "client_credentials"}, False, 401, "invalid_client"),
        ({"grant_type": "client_credentials", "client_secret": "s"}, False, 401, "invalid_client"),
        (
            {"grant_type": "client_credentials", "client_id": "c", "client_secret": "s"},
            True,
            400,
            "invalid_request",
        ),
    ],
    ids=["grant", "no-grant", "scope", "no-client-auth", "no-client-id", "two-auth-methods"],
)
def test_rfc_6749_error_answers(credential_stack, http, form, auth, status, error) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.allowed_scopes = frozenset({"read", "write"})
    response = token_request(http, endpoint, form, auth=secret_basic(endpoint) if auth else None)

    assert response.status == status
    assert response.json()["error"] == error


def test_a_client_auth_method_the_endpoint_does_not_accept_is_invalid_client(
    credential_stack, http
) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.client_auth_methods = frozenset({"client_secret_post"})
    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert response.status == 401
    assert response.json()["error"] == "invalid_client"


def test_expires_in_is_omitted_when_unset(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.expires_in = None
    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert "expires_in" not in response.json()
    assert endpoint.is_valid(response.json()["access_token"])


@pytest.mark.parametrize(
    ("fault", "status"),
    [(Fault.STATUS_500, 500), (Fault.STATUS_503, 503), (Fault.STATUS_429, 429)],
)
def test_server_error_faults(credential_stack, http, fault, status) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault = fault

    assert token_request(http, endpoint, auth=secret_basic(endpoint)).status == status
    assert endpoint.valid_tokens == []


@pytest.mark.parametrize(("fault", "status"), [(Fault.STATUS_503, 503), (Fault.STATUS_429, 429)])
def test_a_fault_can_say_retry_after_and_lift_after_some_requests(
    credential_stack, http, fault, status
) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault, endpoint.fault_times, endpoint.retry_after = fault, 2, "7"

    first, second, third = (
        token_request(http, endpoint, auth=secret_basic(endpoint)) for _ in range(3)
    )

    assert (first.status, first.headers["Retry-After"]) == (status, "7")
    assert second.status == status
    assert third.status == 200
    assert endpoint.fault is None


@pytest.mark.parametrize("says", [10**400, 0, -5, "soon", None])
def test_the_answer_can_say_any_expires_in_while_the_token_lives_on(
    credential_stack, http, says
) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.answer_expires_in = says

    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert b'"expires_in": ' + json.dumps(says).encode() in response.data
    assert endpoint.is_valid(response.json()["access_token"])


def test_not_json_fault_answers_200_with_a_body_that_is_not_json(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault = Fault.NOT_JSON
    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert response.status == 200
    with pytest.raises(ValueError):
        json.loads(response.data)


def test_no_access_token_fault_answers_json_without_it(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault = Fault.NO_ACCESS_TOKEN
    response = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert response.status == 200
    assert "access_token" not in response.json()
    assert response.json()["token_type"] == "Bearer"


def test_invalid_client_once_then_normal_service(credential_stack, http) -> None:
    endpoint = credential_stack.token_endpoint
    endpoint.fault = Fault.INVALID_CLIENT_ONCE

    first = token_request(http, endpoint, auth=secret_basic(endpoint))
    second = token_request(http, endpoint, auth=secret_basic(endpoint))

    assert (first.status, first.json()["error"]) == (401, "invalid_client")
    assert second.status == 200
    assert endpoint.requests == 2


def test_hang_fault_times_the_client_out_and_does_not_delay_stop(http) -> None:
    endpoint = LocalTokenEndpoint("client", "secret").start()
    endpoint.fault = Fault.HANG
    try:
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            token_request(http, endpoint, auth=secret_basic(endpoint), timeout=0.3)
    finally:
        started = time.monotonic()
        endpoint.stop()
    assert time.monotonic() - started < 2
    assert endpoint.requests == 1


def test_revoked_and_expired_tokens_are_no_longer_valid(http) -> None:
    now = [1000.0]
    with LocalTokenEndpoint("client", "secret", expires_in=60, clock=lambda: now[0]) as endpoint:
        first, second, third = (access_token(http, endpoint) for _ in range(3))
        endpoint.revoke(first)
        now[0] += 59
        assert not endpoint.is_valid(first)
        assert endpoint.is_valid(second)
        now[0] += 1
        assert not endpoint.is_valid(third)
        assert endpoint.valid_tokens == []


# WebSocket endpoints


def test_basic_accepts_the_right_pair_and_refuses_others(credential_stack) -> None:
    server, uri = credential_stack.basic, credential_stack.uri("basic")
    right = basic(server.username, server.password)

    assert answers_ping(uri, additional_headers={"Authorization": right})
    assert (
        refusal_status(uri, additional_headers={"Authorization": basic("x", server.password)})
        == 401
    )
    assert (
        refusal_status(uri, additional_headers={"Authorization": basic(server.username, "x")})
        == 401
    )
    assert refusal_status(uri) == 401
    assert server.outcomes == [True, False, False, False]
    assert server.messages == [PING]


def test_api_key_header_is_matched_by_name_case_insensitively(credential_stack) -> None:
    server, uri = credential_stack.header, credential_stack.uri("header")

    assert answers_ping(uri, additional_headers={"x-api-key": server.key})
    assert refusal_status(uri, additional_headers={"X-API-Key": server.key + "x"}) == 401
    assert refusal_status(uri, additional_headers={"Authorization": server.key}) == 401


def test_session_cookie_is_found_among_other_cookies(credential_stack) -> None:
    server, uri = credential_stack.cookie, credential_stack.uri("cookie")
    name = server.cookie

    assert answers_ping(uri, additional_headers={"Cookie": f"{name}={server.token}"})
    assert answers_ping(uri, additional_headers={"Cookie": f"theme=dark; {name}={server.token}"})
    assert refusal_status(uri, additional_headers={"Cookie": f"{name}={server.token}x"}) == 401
    assert refusal_status(uri, additional_headers={"Cookie": f"other={server.token}"}) == 401
    twice = f"{name}={server.token}; {name}={server.token}"
    assert refusal_status(uri, additional_headers={"Cookie": twice}) == 401
    assert refusal_status(uri, additional_headers={"Authorization": server.token}) == 401
    assert server.outcomes == [True, True, False, False, False, False]


def test_query_key_is_url_decoded(credential_stack) -> None:
    server, uri = credential_stack.query, credential_stack.uri("query")
    server.key = "k+e/y=&?%"

    assert answers_ping(f"{uri}?{server.param}={quote(server.key, safe='')}&other=1")
    assert refusal_status(f"{uri}?{server.param}={server.key[:3]}") == 401
    assert refusal_status(f"{uri}?access_token={quote(server.key, safe='')}") == 401


def test_kubernetes_subprotocol_token_is_accepted_and_never_selected(credential_stack) -> None:
    server, uri = credential_stack.subprotocol, credential_stack.uri("subprotocol")
    carrier = K8S_PREFIX + encode_subprotocol_token(server.token, "base64url")

    with connect(uri, subprotocols=[K8S_CHANNEL, carrier], open_timeout=5) as connection:
        assert connection.subprotocol == K8S_CHANNEL
        assert ping(connection) == PONG
    assert "=" not in carrier
    wrong = K8S_PREFIX + encode_subprotocol_token(server.token + "x", "base64url")
    assert refusal_status(uri, subprotocols=[K8S_CHANNEL, wrong]) == 401
    raw = K8S_PREFIX + server.token
    assert refusal_status(uri, subprotocols=[K8S_CHANNEL, raw]) == 401


def test_raw_prefix_subprotocol_token_is_accepted(credential_stack) -> None:
    server, uri = credential_stack.subprotocol_raw, credential_stack.uri("subprotocol_raw")
    channel = server.subprotocols[0]

    with connect(uri, subprotocols=[channel, server.prefix + server.token]) as connection:
        assert connection.subprotocol == channel
        assert ping(connection) == PONG
    assert refusal_status(uri, subprotocols=[channel, server.prefix + "wrong"]) == 401


def test_oauth2_protected_endpoint_wants_a_live_issued_access_token(credential_stack, http) -> None:
    uri, endpoint = (
        credential_stack.uri("oauth2_client_credentials"),
        credential_stack.token_endpoint,
    )
    issued = access_token(http, endpoint)

    assert answers_ping(uri, additional_headers={"Authorization": f"Bearer {issued}"})
    assert answers_ping(uri, additional_headers={"Authorization": f"bearer {issued}"})
    assert refusal_status(uri, additional_headers={"Authorization": "Bearer made-up"}) == 401
    endpoint.expire()
    assert refusal_status(uri, additional_headers={"Authorization": f"Bearer {issued}"}) == 401
    renewed = access_token(http, endpoint)
    endpoint.revoke(renewed)
    assert refusal_status(uri, additional_headers={"Authorization": f"Bearer {renewed}"}) == 401


def test_auth_message_endpoint_greets_then_accepts_the_right_token(credential_stack) -> None:
    server, uri = credential_stack.message, credential_stack.uri("message")

    with connect(uri, open_timeout=5) as connection:
        assert json.loads(connection.recv(timeout=5))["type"] == "auth_required"
        connection.send(json.dumps({"type": "auth", "access_token": server.token}))
        assert json.loads(connection.recv(timeout=5))["type"] == "auth_ok"
        assert ping(connection) == PONG
    assert server.auth_outcomes == [True]
    assert server.messages == [PING]


def test_auth_message_endpoint_answers_auth_invalid_and_closes(credential_stack) -> None:
    server, uri = credential_stack.message, credential_stack.uri("message")

    with connect(uri, open_timeout=5) as connection:
        connection.recv(timeout=5)
        connection.send(json.dumps({"type": "auth", "access_token": "wrong"}))
        refusal = json.loads(connection.recv(timeout=5))
        with pytest.raises(ConnectionClosed):
            connection.recv(timeout=5)
    assert refusal["type"] == "auth_invalid"
    assert refusal["message"]
    assert server.auth_outcomes == [False]
    assert server.messages == []


@pytest.mark.parametrize("encrypted", [False, True], ids=["plain-key", "encrypted-key"])
def test_mtls_accepts_a_client_certificate_from_its_ca(credential_stack, encrypted) -> None:
    context = credential_stack.pki.client_context(encrypted=encrypted)

    assert answers_ping(credential_stack.uri("mtls"), ssl=context)
    assert len(credential_stack.mtls.handshakes) == 1


@pytest.mark.parametrize("certificate", ["untrusted", "none"])
def test_mtls_refuses_an_untrusted_or_missing_client_certificate(
    credential_stack, certificate
) -> None:
    if certificate == "untrusted":
        context = credential_stack.pki.client_context(trusted=False)
    else:
        context = ssl.create_default_context(cadata=credential_stack.pki.ca_bundle)

    # TLS 1.3 checks the client's certificate after the client's side of the
    # TLS handshake: the refusal surfaces during the WebSocket handshake or read.
    with (
        pytest.raises((OSError, InvalidHandshake, ConnectionClosed)),
        connect(credential_stack.uri("mtls"), ssl=context, open_timeout=5) as connection,
    ):
        ping(connection)
    assert credential_stack.mtls.handshakes == []


def test_client_certificate_secret_has_the_documented_shape(credential_stack) -> None:
    secret = json.loads(credential_stack.client_certificate_secret(encrypted=True))
    context = ssl.create_default_context(cadata=secret["ca_bundle"])
    pki.load_cert_chain(context, secret["certificate"], secret["private_key"], secret["passphrase"])

    assert set(secret) == {"certificate", "private_key", "passphrase", "ca_bundle"}
    assert "ENCRYPTED" in secret["private_key"]
    assert answers_ping(credential_stack.uri("mtls"), ssl=context)


def test_without_memfd_keys_pass_through_a_temporary_directory_that_is_removed(
    credential_stack, monkeypatch, tmp_path
) -> None:
    monkeypatch.delattr(os, "memfd_create", raising=False)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    context = credential_stack.pki.client_context(encrypted=True)

    assert answers_ping(credential_stack.uri("mtls"), ssl=context)
    assert list(tmp_path.iterdir()) == []


# SigV4


def signed_headers(
    url: str, credentials: LocalAWSCredentials, region: str, service: str = "execute-api"
) -> dict[str, str]:
    request = AWSRequest(method="GET", url=url)
    SigV4Auth(
        Credentials(credentials.access_key, credentials.secret_key, credentials.session_token),
        service,
        region,
    ).add_auth(request)
    return dict(request.headers.items())


def https_form(uri: str) -> str:
    return "https://" + uri.split("://", 1)[1]


def test_the_verifier_reproduces_aws_s_published_example_signature() -> None:
    # The IAM ListUsers example of AWS's Signature Version 4 documentation: an oracle
    # that owes nothing to botocore or to this repository.
    headers = {
        "content-type": "application/x-www-form-urlencoded; charset=utf-8",
        "host": "iam.amazonaws.com",
        "x-amz-date": "20150830T123600Z",
    }
    canonical = spec.canonical_request(
        "GET", "/", "Version=2010-05-08&Action=ListUsers", headers, sorted(headers), b""
    )
    key = spec.signing_key(
        "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20150830", "us-east-1", "iam"
    )
    to_sign = spec.string_to_sign(
        "20150830T123600Z", "20150830/us-east-1/iam/aws4_request", canonical
    )

    assert canonical.splitlines()[:3] == ["GET", "/", "Action=ListUsers&Version=2010-05-08"]
    assert to_sign.endswith("f536975d06c0309214f805bb90ccff089219ecd68b2577efef23edd43b7e1a59")
    assert (
        spec.signature(key, to_sign)
        == "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7"
    )


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        (
            "symbols=BTC,ETH&since=2024-01-01T00:00:00Z",
            "since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH",
        ),
        (
            "since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH",
            "since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH",
        ),
        ("b=2&a=1&a=0", "a=0&a=1&b=2"),
        ("x=%7e&flag", "flag=&x=~"),
    ],
)
def test_the_verifier_canonicalises_any_spelling_of_a_query(query: str, canonical: str) -> None:
    assert spec.canonical_query(query) == canonical


def test_sigv4_verifies_a_query_in_its_canonical_percent_encoded_form(credential_stack) -> None:
    server, base = credential_stack.sigv4, credential_stack.uri("sigv4")
    written = base + "?symbols=BTC,ETH&since=2024-01-01T00:00:00Z"
    canonical = base + "?since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH"
    over_canonical = signed_headers(https_form(canonical), server.credentials, server.region)
    over_written = signed_headers(https_form(written), server.credentials, server.region)

    # API Gateway canonicalises what it receives, whichever spelling was sent...
    assert answers_ping(canonical, additional_headers=over_canonical)
    assert answers_ping(written, additional_headers=over_canonical)
    # ...so a signature over the query as written (unencoded) does not hold.
    assert refusal_status(written, additional_headers=over_written) == 403
    assert server.verdicts[-1].reason == "signature does not match"


def test_sigv4_signed_handshake_is_accepted(credential_stack) -> None:
    server, uri = credential_stack.sigv4, credential_stack.uri("sigv4") + "?stage=dev&b=1"
    headers = signed_headers(https_form(uri), server.credentials, server.region)

    assert set(headers) == {"X-Amz-Date", "X-Amz-Security-Token", "Authorization"}
    assert answers_ping(uri, additional_headers=headers)
    assert [verdict.ok for verdict in server.verdicts] == [True]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"secret_key": "wrong"}, "signature does not match"),
        ({"access_key": "AKIAOTHER"}, "unknown access key"),
        ({"session_token": "other"}, "session token missing, unsigned or wrong"),
        ({"session_token": None}, "session token missing, unsigned or wrong"),
        ({"region": "us-west-2"}, "credential scope names another day, region or service"),
    ],
    ids=["secret", "access-key", "token", "no-token", "region"],
)
def test_sigv4_refuses_a_signature_for_other_credentials_with_403(
    credential_stack, change, reason
) -> None:
    server, uri = credential_stack.sigv4, credential_stack.uri("sigv4")
    region = change.pop("region", server.region)
    fields = {
        "access_key": server.credentials.access_key,
        "secret_key": server.credentials.secret_key,
        "session_token": server.credentials.session_token,
        **change,
    }
    headers = signed_headers(https_form(uri), LocalAWSCredentials(**fields), region)

    assert refusal_status(uri, additional_headers=headers) == 403
    assert server.verdicts[-1].reason == reason


def test_sigv4_refuses_a_signature_for_another_path(credential_stack) -> None:
    server, uri = credential_stack.sigv4, credential_stack.uri("sigv4")
    headers = signed_headers(https_form(uri) + "/other", server.credentials, server.region)

    assert refusal_status(uri, additional_headers=headers) == 403
    assert server.verdicts[-1].reason == "signature does not match"


def test_sigv4_refuses_a_date_more_than_five_minutes_away(credential_stack) -> None:
    server, uri = credential_stack.sigv4, credential_stack.uri("sigv4")
    headers = signed_headers(https_form(uri), server.credentials, server.region)
    server.clock = lambda: datetime.datetime.now(datetime.UTC) + datetime.timedelta(minutes=6)

    assert refusal_status(uri, additional_headers=headers) == 403
    assert server.verdicts[-1].reason == "X-Amz-Date is more than 5 minutes from now"


def test_sigv4_refuses_an_unsigned_handshake(credential_stack) -> None:
    assert refusal_status(credential_stack.uri("sigv4")) == 403
    assert credential_stack.sigv4.verdicts[-1].reason == "no single Authorization header"


def test_signing_the_wss_or_the_https_form_of_a_url_gives_one_signature(
    credential_stack, monkeypatch
) -> None:
    server, uri = credential_stack.sigv4, credential_stack.uri("sigv4") + "?x=1"
    fixed = datetime.datetime.now(datetime.UTC).replace(microsecond=0, tzinfo=None)
    monkeypatch.setattr("botocore.auth.get_current_datetime", lambda: fixed)
    wss = "wss://" + uri.split("://", 1)[1]

    over_https = signed_headers(https_form(uri), server.credentials, server.region)
    over_wss = signed_headers(wss, server.credentials, server.region)

    assert over_https["Authorization"] == over_wss["Authorization"]
    assert answers_ping(uri, additional_headers=over_wss)
