"""The appsync-events preset's pure half: settings, the authorization subprotocol,
the signed bodies, message translation and the meaning of AppSync's errors."""

from __future__ import annotations

import base64
import datetime
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.credentials import Credentials

from local_stack.aws.sigv4 import SigningCredentials, verify
from ws_exchange import framing, scenario
from ws_exchange.credentials import Handshake, Prepared, SecretValue
from ws_exchange.deadline import Deadline
from ws_exchange.errors import (
    AuthRejected,
    ConfigError,
    ExpectationFailed,
    HandshakeFailed,
    InvalidRequest,
)
from ws_exchange.protocols import appsync_auth
from ws_exchange.protocols.appsync_events import (
    check_message,
    connection_timeout_seconds,
    decode_event,
    from_environ,
    http_host,
    operation_of,
    refusal,
)

REALTIME = (
    "wss://abcdefghijklmnopqrstuvwxyz.appsync-realtime-api.eu-west-1.amazonaws.com/event/realtime"
)
HTTP = "abcdefghijklmnopqrstuvwxyz.appsync-api.eu-west-1.amazonaws.com"


def unpadded_base64url_json(subprotocol: str) -> Any:
    """Decode a header- subprotocol as AppSync does: base64url, padding restored."""
    assert subprotocol.startswith("header-")
    encoded = subprotocol[len("header-") :]
    assert "=" not in encoded
    return json.loads(base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4)))


# --- hosts and settings -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (REALTIME, HTTP),
        (
            "wss://ID.APPSYNC-REALTIME-API.us-east-1.amazonaws.com/event/realtime",
            "id.appsync-api.us-east-1.amazonaws.com",
        ),
        (
            "wss://x.appsync-realtime-api.cn-north-1.amazonaws.com.cn/event/realtime",
            "x.appsync-api.cn-north-1.amazonaws.com.cn",
        ),
    ],
)
def test_the_http_host_is_derived_from_the_realtime_host(uri: str, expected: str) -> None:
    assert http_host({}, uri) == expected


def test_appsync_http_host_wins_for_a_custom_domain() -> None:
    assert http_host({"APPSYNC_HTTP_HOST": "Events.Example.com"}, REALTIME) == "events.example.com"


@pytest.mark.parametrize(
    ("environ", "uri"),
    [
        ({}, "wss://events.example.com/event/realtime"),
        ({}, "wss://x.appsync-api.eu-west-1.amazonaws.com/event/realtime"),
        ({"APPSYNC_HTTP_HOST": "https://events.example.com"}, REALTIME),
        ({"APPSYNC_HTTP_HOST": "events.example.com/event"}, REALTIME),
        ({"APPSYNC_HTTP_HOST": "bad host"}, REALTIME),
    ],
)
def test_no_usable_http_host_is_a_config_error_naming_appsync_http_host(
    environ: dict[str, str], uri: str
) -> None:
    with pytest.raises(ConfigError, match="APPSYNC_HTTP_HOST"):
        http_host(environ, uri)


def test_api_key_is_the_default_and_needs_a_secret() -> None:
    with pytest.raises(ConfigError, match="TOKEN_SECRET_ID is required with APPSYNC_AUTH api_key"):
        from_environ({}, uri=REALTIME)
    preset = from_environ({"TOKEN_SECRET_ID": "s"}, uri=REALTIME)
    assert preset.credential_mode().needs_secret is True  # type: ignore[union-attr]


def test_iam_needs_no_secret_and_signs_for_the_hosts_region() -> None:
    preset = from_environ({"APPSYNC_AUTH": "iam", "AWS_REGION": "us-east-1"}, uri=REALTIME)
    mode = preset.credential_mode()
    assert mode is not None
    assert mode.needs_secret is False
    assert mode.authorizer.region == "eu-west-1"  # type: ignore[attr-defined]


def test_iam_on_a_custom_domain_signs_for_sigv4_region_else_aws_region() -> None:
    custom = {"APPSYNC_AUTH": "iam", "APPSYNC_HTTP_HOST": "events.example.com"}
    uri = "wss://events.example.com/event/realtime"
    chosen = from_environ({**custom, "SIGV4_REGION": "ap-south-1"}, uri=uri)
    fallback = from_environ({**custom, "AWS_REGION": "sa-east-1"}, uri=uri)
    assert chosen.credential_mode().authorizer.region == "ap-south-1"  # type: ignore[union-attr]
    assert fallback.credential_mode().authorizer.region == "sa-east-1"  # type: ignore[union-attr]
    with pytest.raises(ConfigError, match="SIGV4_REGION"):
        from_environ(custom, uri=uri)


@pytest.mark.parametrize(
    ("environ", "named"),
    [
        ({"APPSYNC_AUTH": "oidc"}, "APPSYNC_AUTH"),
        ({"AUTH_MODE": "sigv4"}, "AUTH_MODE"),
        ({"AUTH_MODE": "none"}, "AUTH_MODE"),
        ({"AUTH_HEADER": "x-api-key"}, "AUTH_HEADER"),
        ({"SIGV4_SERVICE": "appsync"}, "SIGV4_SERVICE"),
        ({"SIGV4_REGION": "eu-west-1"}, "SIGV4_REGION"),
    ],
)
def test_settings_the_preset_would_ignore_are_config_errors(
    environ: dict[str, str], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        from_environ({"TOKEN_SECRET_ID": "s", **environ}, uri=REALTIME)


def test_a_template_declaring_every_variable_at_its_default_is_accepted() -> None:
    defaults = {
        "AUTH_MODE": "bearer",
        "AUTH_SCHEME": "Bearer",
        "AUTH_QUERY_PARAM": "access_token",
        "AUTH_SUBPROTOCOL_ENCODING": "raw",
        "OAUTH2_CLIENT_AUTH": "client_secret_basic",
        "SIGV4_SERVICE": "execute-api",
        "SIGV4_REGION": "",
        "AUTH_HEADER": "",
        "TOKEN_SECRET_FIELD": "key",
    }
    preset = from_environ({**defaults, "TOKEN_SECRET_ID": "s"}, uri=REALTIME)
    assert preset.credential_mode().field == "key"  # type: ignore[union-attr]


def test_the_handshake_offers_the_event_subprotocol_first() -> None:
    preset = from_environ({"TOKEN_SECRET_ID": "s"}, uri=REALTIME)
    handshake = preset.connect_parameters(
        Handshake(REALTIME, (), ("other", "aws-appsync-event-ws"))
    )
    assert handshake.subprotocols == ("aws-appsync-event-ws", "other")


# --- the authorization subprotocol -----------------------------------------------------------


def test_the_header_subprotocol_is_unpadded_base64url_of_the_object() -> None:
    # Lengths 1..3 of the key cover every padding length.
    for key in ("da2-k", "da2-ke", "da2-key", "da2-?>~ü"):
        subprotocol = appsync_auth.header_subprotocol({"host": HTTP, "x-api-key": key})
        assert unpadded_base64url_json(subprotocol) == {"host": HTTP, "x-api-key": key}
        assert set(subprotocol[7:]) <= set(
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
        )


def test_a_secret_backed_mode_adds_the_subprotocol_and_lists_every_credential_form() -> None:
    mode = from_environ(
        {"TOKEN_SECRET_ID": "s", "APPSYNC_AUTH": "token"}, uri=REALTIME
    ).credential_mode()
    assert mode is not None
    handshake = Handshake(REALTIME, (), ("aws-appsync-event-ws",))
    prepared = mode.prepare(
        handshake, lambda refresh: SecretValue("  eyJ.tok.en \n", True), Deadline(5), refresh=False
    )
    first, header = prepared.handshake.subprotocols
    assert first == "aws-appsync-event-ws"
    assert unpadded_base64url_json(header) == {"host": HTTP, "Authorization": "eyJ.tok.en"}
    assert set(prepared.credentials) == {"eyJ.tok.en", header}
    assert prepared.token == "eyJ.tok.en"
    assert prepared.fresh is True
    assert prepared.handshake.headers == ()


# --- IAM signatures, checked by the spec-based verifier ---------------------------------------

CREDENTIALS = SigningCredentials("AKIDUNIT", "unit/secret+key", "unit-session-token")


def verdict_for(authorization: dict[str, str], body: bytes) -> Any:
    return verify(
        "POST",
        "/event",
        authorization,
        body,
        credentials=CREDENTIALS,
        region="eu-west-1",
        service="appsync",
        now=datetime.datetime.now(datetime.UTC),
    )


def test_iam_connection_is_signed_over_an_empty_object() -> None:
    authorizer = appsync_auth.IamAuthorizer(
        HTTP,
        "eu-west-1",
        credentials=lambda: Credentials("AKIDUNIT", "unit/secret+key", "unit-session-token"),
    )
    prepared = appsync_auth.IamAuth(authorizer).prepare(
        Handshake(REALTIME, (), ("aws-appsync-event-ws",)),
        lambda refresh: pytest.fail("iam reads no secret"),
        Deadline(5),
        refresh=False,
    )
    authorization = unpadded_base64url_json(prepared.handshake.subprotocols[1])

    assert verdict_for(authorization, b"{}").ok
    assert not verdict_for(authorization, b"{ }").ok
    assert authorization["host"] == HTTP
    assert authorization["content-encoding"] == "amz-1.0"
    assert authorization["X-Amz-Security-Token"] == "unit-session-token"
    signature = authorization["Authorization"].rpartition("Signature=")[2]
    assert {signature, authorization["Authorization"], "unit-session-token"} <= set(
        prepared.credentials
    )
    assert prepared.fresh is True


@pytest.mark.parametrize(
    "message",
    [
        {"subscribe": "/default/ü-room/*"},
        {"publish": {"channel": "default/room", "events": [{"q": '"/\\\n€'}, [1, 2.5], "x"]}},
    ],
)
def test_each_message_is_signed_over_its_compact_json_body(message: dict[str, Any]) -> None:
    authorizer = appsync_auth.IamAuthorizer(
        HTTP,
        "eu-west-1",
        credentials=lambda: Credentials("AKIDUNIT", "unit/secret+key", "unit-session-token"),
    )
    operation = operation_of(message)
    authorization, credentials = authorizer.authorize(
        Prepared(Handshake(REALTIME), True), operation.body
    )
    frame = operation.frame("id-1", authorization)
    # The body as the counterpart rebuilds it from the frame, the way JSON.stringify would.
    rebuilt = {
        "channel": frame["channel"],
        **({"events": frame["events"]} if "events" in frame else {}),
    }
    body = json.dumps(rebuilt, separators=(",", ":"), ensure_ascii=False).encode()

    assert verdict_for(frame["authorization"], body).ok
    assert authorization["Authorization"] in credentials


# --- messages -----------------------------------------------------------------------------------


def test_a_publish_sends_each_event_as_its_json_text() -> None:
    operation = operation_of({"publish": {"channel": "/d/a", "events": [{"é": 1}, "s", None]}})
    frame = operation.frame("i", {"host": HTTP})

    assert frame == {
        "type": "publish",
        "id": "i",
        "channel": "/d/a",
        "events": ['{"é":1}', '"s"', "null"],
        "authorization": {"host": HTTP},
    }
    assert [json.loads(event) for event in frame["events"]] == [{"é": 1}, "s", None]


def test_a_subscribe_frame_has_no_events() -> None:
    frame = operation_of({"subscribe": "/d/*"}).frame("i", {"host": HTTP})
    assert frame == {
        "type": "subscribe",
        "id": "i",
        "channel": "/d/*",
        "authorization": {"host": HTTP},
    }


@pytest.mark.parametrize(
    "message",
    [
        {"subscribe": "/default/a"},
        {"subscribe": "default/a/b/c/d"},
        {"subscribe": "/default/*"},
        {"publish": {"channel": "/default/a", "events": [1, 2, 3, 4, 5]}},
    ],
)
def test_valid_operations_pass_the_check(message: Any) -> None:
    check_message(message)


@pytest.mark.parametrize(
    "message",
    [
        {"subscribe": "/*"},
        {"subscribe": "/default/*/a"},
        {"subscribe": ""},
        {"subscribe": "/" + "a" * 51},
        {"publish": {"channel": "/d/a", "events": "x"}},
        {"publish": "x"},
        {"unsubscribe": "x"},
        [{"subscribe": "/d/a"}],
    ],
)
def test_invalid_operations_are_refused(message: Any) -> None:
    with pytest.raises(ValueError):
        check_message(message)


@pytest.mark.parametrize(
    ("event", "decoded"),
    [
        ('{"a":1}', {"a": 1}),
        ('"x"', "x"),
        ("not json", "not json"),
        ({"a": 1}, {"a": 1}),
        ("NaN", "NaN"),
    ],
)
def test_a_data_event_is_decoded_from_its_json_text(event: Any, decoded: Any) -> None:
    assert decode_event(event) == decoded


@pytest.mark.parametrize(
    ("ack", "seconds"),
    [
        ({"connectionTimeoutMs": 1500}, 1.5),
        ({}, 300.0),
        ({"connectionTimeoutMs": 0}, 300.0),
        ({"connectionTimeoutMs": -5}, 300.0),
        ({"connectionTimeoutMs": "1000"}, 300.0),
        ({"connectionTimeoutMs": True}, 300.0),
        (None, 300.0),
    ],
)
def test_the_connection_timeout_comes_from_the_ack(ack: Any, seconds: float) -> None:
    assert connection_timeout_seconds(ack) == seconds


def test_the_defaults_of_plain_messages_defer_a_subscribes_replies() -> None:
    preset = from_environ({"TOKEN_SECRET_ID": "s"}, uri=REALTIME)
    messages = [framing.prepare({"subscribe": "/d/a"}), framing.prepare({"publish": {}})]
    steps = scenario.from_messages(
        messages,
        expected_replies=1,
        until=None,
        max_replies=100,
        collect_seconds=None,
        defers_replies=preset.defers_replies,
    )
    assert [type(step).__name__ for step in steps] == ["SendStep", "SendStep", "ReceiveStep"]
    alone = scenario.from_messages(
        messages[:1],
        expected_replies=1,
        until=None,
        max_replies=100,
        collect_seconds=None,
        defers_replies=preset.defers_replies,
    )
    assert [type(step).__name__ for step in alone] == ["SendStep", "ReceiveStep"]


# --- errors ---------------------------------------------------------------------------


def errors(error_type: str | None = None, code: int | None = None, message: str = "m") -> Any:
    item: dict[str, Any] = {"message": message}
    if error_type is not None:
        item["errorType"] = error_type
    if code is not None:
        item["errorCode"] = code
    return [item]


@pytest.mark.parametrize(
    ("operation", "found", "expected"),
    [
        ("connection", errors("UnauthorizedException", 401), AuthRejected),
        ("connection", errors(code=403), AuthRejected),
        ("connection", errors("BadRequestException", 400), HandshakeFailed),
        ("subscribe", errors("UnauthorizedException"), AuthRejected),
        ("subscribe", errors("BadRequestException"), InvalidRequest),
        ("publish", errors("BadRequestException"), InvalidRequest),
        ("publish", errors("InternalFailureException"), ExpectationFailed),
        ("", errors("BadRequestException"), ExpectationFailed),
        ("subscribe", "not a list", ExpectationFailed),
    ],
)
def test_appsync_errors_mean_what_they_say(operation: str, found: Any, expected: type) -> None:
    error = refusal(operation, found)
    assert type(error) is expected
    assert error.retryable is False


def test_an_error_message_names_the_type_not_an_odd_one() -> None:
    error = refusal("subscribe", errors("Bad Type<script>", message="x" * 500))
    assert "<script>" not in error.message
    assert len(error.message) < 300


def test_an_api_key_preset_never_imports_botocore() -> None:
    script = (
        "import sys\n"
        "from ws_exchange.credentials import Handshake, SecretValue\n"
        "from ws_exchange.deadline import Deadline\n"
        "from ws_exchange.protocols.appsync_events import from_environ\n"
        f"mode = from_environ({{'TOKEN_SECRET_ID': 's'}}, uri={REALTIME!r}).credential_mode()\n"
        "read = lambda refresh: SecretValue('k', True)\n"
        "mode.prepare(Handshake('x'), read, Deadline(5), refresh=False)\n"
        "print(sorted(m for m in sys.modules if m.startswith(('botocore', 'boto3'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2] / "src")},
    )
    assert done.stdout.strip() == "[]"
