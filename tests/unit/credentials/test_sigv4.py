"""sigv4: the handshake GET signed by botocore, verified by recomputing the signature
from the specification (local_stack's verifier: hashlib and hmac, no botocore)."""

from __future__ import annotations

import datetime
import logging
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import pytest
from botocore.credentials import Credentials
from botocore.exceptions import CredentialRetrievalError

from local_stack.credentials.sigv4_server import LocalAWSCredentials, verify
from ws_exchange.credentials import Handshake
from ws_exchange.credentials.sigv4 import SigV4, canonical_query, http_url, region_for
from ws_exchange.errors import ConfigError, SecretAccessDenied

from ._support import deadline, mode

URI = "wss://abc123.execute-api.eu-west-1.amazonaws.com/production?stage=1"
KEY = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "SeSsIoNtOkEn")
FIXED = datetime.datetime(2026, 11, 25, 4, 0, 0, tzinfo=datetime.UTC)


def signed(credentials: Any = KEY, handshake: Handshake | None = None, **kw: Any):  # type: ignore[no-untyped-def]
    signer = SigV4(region="eu-west-1", credentials=lambda: credentials, **kw)
    with mock.patch("botocore.auth.get_current_datetime", return_value=FIXED):
        return signer.prepare(
            handshake or Handshake(URI, (("Origin", "https://app"),)),
            None,
            deadline(),
            refresh=False,
        )  # type: ignore[arg-type]


def verifies(uri: str, headers: dict[str, str]) -> bool:
    """What API Gateway does: rebuild the canonical request from what was sent."""
    parts = urlsplit(uri)
    target = parts.path + (f"?{parts.query}" if parts.query else "")
    verdict = verify(
        "GET",
        target,
        [("Host", parts.netloc), *headers.items()],
        credentials=LocalAWSCredentials(KEY.access_key, KEY.secret_key, KEY.token),
        region="eu-west-1",
        now=FIXED,
    )
    return verdict.ok


def test_the_signature_verifies_for_the_request_websockets_will_send() -> None:
    prepared = signed()
    headers = dict(prepared.handshake.headers)
    assert headers["Origin"] == "https://app"
    assert headers["X-Amz-Date"] == "20261125T040000Z"
    assert headers["X-Amz-Security-Token"] == "SeSsIoNtOkEn"
    authorization = headers["Authorization"]
    assert authorization.startswith(
        "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20261125/eu-west-1/execute-api/aws4_request, "
        "SignedHeaders=host;origin;x-amz-date;x-amz-security-token, Signature="
    )
    assert verifies(prepared.handshake.uri, headers)
    # A tampered signed header no longer verifies: the check above can fail.
    assert not verifies(prepared.handshake.uri, {**headers, "Origin": "https://evil"})


def test_the_query_is_sent_and_signed_in_one_canonical_percent_encoded_form() -> None:
    written = "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod?symbols=BTC,ETH&since=2024-01-01T00:00:00Z"
    prepared = signed(handshake=Handshake(written))

    assert prepared.handshake.uri == (
        "wss://abc123.execute-api.eu-west-1.amazonaws.com/prod"
        "?since=2024-01-01T00%3A00%3A00Z&symbols=BTC%2CETH"
    )
    assert verifies(prepared.handshake.uri, dict(prepared.handshake.headers))
    # The server canonicalises whatever spelling arrives: the written form verifies too.
    assert verifies(written, dict(prepared.handshake.headers))


@pytest.mark.parametrize(
    ("query", "canonical"),
    [
        ("b=2&a=1", "a=1&b=2"),
        ("a=2&a=1", "a=1&a=2"),
        ("a=x%2cy", "a=x%2Cy"),
        ("a=%7Euser.name_-", "a=~user.name_-"),
        ("q=a b+c", "q=a%20b%2Bc"),
        ("flag&x=", "flag=&x="),
        ("name=%C3%A9t%C3%A9", "name=%C3%A9t%C3%A9"),
        ("name=été", "name=%C3%A9t%C3%A9"),
        ("raw=%FF", "raw=%FF"),
    ],
)
def test_canonical_query_decodes_then_encodes_rfc_3986_and_sorts(
    query: str, canonical: str
) -> None:
    assert canonical_query(query) == canonical


def test_signature_authorization_and_session_token_are_credentials() -> None:
    prepared = signed()
    authorization = dict(prepared.handshake.headers)["Authorization"]
    assert set(prepared.credentials) == {
        authorization.rpartition("Signature=")[2],
        authorization,
        "SeSsIoNtOkEn",
    }
    assert prepared.fresh is True


def test_long_term_keys_add_no_session_token() -> None:
    prepared = signed(Credentials("AKIDEXAMPLE", "secret"))
    names = [name for name, _ in prepared.handshake.headers]
    assert "X-Amz-Security-Token" not in names
    assert len(prepared.credentials) == 2


def test_ws_uris_are_signed_as_http_and_wss_as_https() -> None:
    assert http_url("wss://h.example.com/a?b=c") == "https://h.example.com/a?b=c"
    assert http_url("ws://127.0.0.1:8080/") == "http://127.0.0.1:8080/"


def test_no_credentials_is_a_config_error_that_says_so() -> None:
    with pytest.raises(ConfigError, match="No AWS credentials were found"):
        signed(None)


def test_credentials_that_cannot_be_refreshed_are_retryable() -> None:
    def failing() -> Any:
        raise CredentialRetrievalError(provider="container-role", error_msg="sEkReT")

    with pytest.raises(SecretAccessDenied) as info:
        SigV4(region="eu-west-1", credentials=failing).prepare(
            Handshake(URI),
            None,
            deadline(),
            refresh=False,  # type: ignore[arg-type]
        )
    assert info.value.retryable is True
    assert "sEkReT" not in str(info.value)


def test_botocore_debug_lines_with_the_signature_are_dropped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="botocore.auth"):
        prepared = signed()
    logged = "\n".join(record.getMessage() for record in caplog.records)
    for credential in prepared.credentials:
        assert credential not in logged


@pytest.mark.parametrize(
    ("environ", "uri", "region"),
    [
        ({}, "wss://abc.execute-api.us-east-2.amazonaws.com/p", "us-east-2"),
        (
            {"AWS_REGION": "eu-west-1"},
            "wss://abc.execute-api.us-east-2.amazonaws.com/p",
            "us-east-2",
        ),
        (
            {"SIGV4_REGION": "ap-south-1"},
            "wss://abc.execute-api.us-east-2.amazonaws.com/p",
            "ap-south-1",
        ),
        ({"AWS_REGION": "eu-west-1"}, "wss://ws.example.com/", "eu-west-1"),
        ({}, "wss://abc.execute-api.cn-north-1.amazonaws.com.cn/p", "cn-north-1"),
    ],
)
def test_the_region_comes_from_sigv4_region_then_the_host_then_aws_region(
    environ: dict[str, str], uri: str, region: str
) -> None:
    assert region_for(environ, uri) == region


@pytest.mark.parametrize(
    ("environ", "variable"),
    [
        ({}, "SIGV4_REGION"),
        ({"SIGV4_REGION": "EU West"}, "SIGV4_REGION"),
        ({"SIGV4_REGION": "eu-west-1", "SIGV4_SERVICE": "Execute API"}, "SIGV4_SERVICE"),
    ],
)
def test_invalid_settings_name_their_variable(environ: dict[str, str], variable: str) -> None:
    with pytest.raises(ConfigError) as info:
        mode({"AUTH_MODE": "sigv4", **environ}, uri="wss://ws.example.com/")
    assert info.value.message.startswith(variable)


def test_service_defaults_to_execute_api() -> None:
    loaded = mode({"AUTH_MODE": "sigv4"}, uri=URI)
    assert isinstance(loaded, SigV4)
    assert (loaded.service, loaded.region) == ("execute-api", "eu-west-1")
    assert "credentials" not in repr(loaded)
