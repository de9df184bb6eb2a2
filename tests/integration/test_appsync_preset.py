"""PROTOCOL=appsync-events against the local AppSync Events counterpart, through
the real handler: API key, token and IAM authorization (the counterpart verifies
IAM signatures with its own hashlib/hmac SigV4, not botocore), the end-to-end
recipe, and every misbehaviour the counterpart offers."""

from __future__ import annotations

import base64
import json
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from websockets.sync.client import connect

from local_stack.aws.appsync_events import (
    ApiKeyAuth,
    Behaviour,
    IamAuth,
    LocalAppSyncEvents,
    Moment,
    TokenAuth,
)
from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.aws.sigv4 import SigningCredentials
from ws_exchange.credentials import sigv4

from .conftest import Invoke
from .test_observability import run_child

HTTP_HOST = "example123example123example1.appsync-api.eu-west-1.amazonaws.com"
REGION = "eu-west-1"
ACCESS_KEY = "AKIDAPPSYNCEXAMPLE"
SECRET_KEY = "appsync/secret+key/EXAMPLE0123456789"
SESSION_TOKEN = "appsync-session-token//EXAMPLE0123456789="
CHANNEL = "/default/canary"
CLOSE_CODES = (4400, 4401, 4403, 4409, 4429)
MOMENTS: tuple[Moment, ...] = ("open", "connection_init", "ack", "subscribe", "publish")

SUBSCRIBE = {"subscribe": CHANNEL}


def publish(*events: Any, channel: str = CHANNEL) -> dict[str, Any]:
    return {"publish": {"channel": channel, "events": list(events)}}


# The end-to-end recipe of docs/protocols/appsync-events.md, as written there.
RECIPE = {
    "steps": [
        {"send": {"subscribe": "/default/canary"}},
        {
            "send": {
                "publish": {
                    "channel": "/default/canary",
                    "events": [{"probe": "{{uuid}}", "at": "{{epoch_ms}}"}],
                }
            }
        },
        {"receive": {"until": "probe != null", "max_replies": 10}},
        {"expect": "contains(sent[1].events[0], received[-1].probe)"},
    ],
    "expect": ["timings_ms.first_reply < `2000`"],
}


@pytest.fixture(autouse=True)
def new_execution_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No AWS session left by another test: each resolves its own credentials."""
    monkeypatch.setattr(sigv4, "_session", None)


@pytest.fixture
def api_key() -> str:
    return "da2-" + secrets.token_urlsafe(20)


@pytest.fixture
def key_secret(secrets_manager: LocalSecretsManager, api_key: str) -> str:
    return secrets_manager.put_secret(f"test/appsync/{uuid.uuid4()}", api_key)


@pytest.fixture
def appsync(api_key: str) -> Iterator[LocalAppSyncEvents]:
    with LocalAppSyncEvents(ApiKeyAuth(api_key), http_host=HTTP_HOST) as server:
        yield server


def settings(
    server: LocalAppSyncEvents, secret_id: str | None = None, **more: str
) -> dict[str, str]:
    variables = {
        "WEBSOCKET_URI": server.uri,
        "PROTOCOL": "appsync-events",
        "APPSYNC_HTTP_HOST": HTTP_HOST,
        "REPLY_TIMEOUT_SECONDS": "2",
        "OPEN_TIMEOUT_SECONDS": "2",
    }
    if secret_id is not None:
        variables["TOKEN_SECRET_ID"] = secret_id
    return {**variables, **more}


def sent_authorizations(server: LocalAppSyncEvents) -> list[Any]:
    return [
        json.loads(frame).get("authorization")
        for frame in server.messages
        if isinstance(frame, str) and json.loads(frame).get("type") in ("subscribe", "publish")
    ]


# --- the three kinds of authorization --------------------------------------------------


def test_api_key_subscribe_publish_and_the_event_comes_back(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str, api_key: str
) -> None:
    event = {"price": 1.5, "symbol": "é/€"}
    result = run(
        {"messages": [SUBSCRIBE, publish(event)], "expected_replies": 1},
        **settings(appsync, key_secret),
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == [event]
    assert result["subprotocol"] == "aws-appsync-event-ws"
    subscribe, published = result["sent"]
    assert subscribe["type"] == "subscribe"
    assert subscribe["channel"] == CHANNEL
    assert subscribe["authorization"] == "[redacted]"
    assert "timestamp" not in subscribe
    assert published["events"] == [json.dumps(event, ensure_ascii=False, separators=(",", ":"))]
    assert published["authorization"] == "[redacted]"
    assert [verdict.ok for verdict in appsync.verdicts] == [True, True, True]
    assert sent_authorizations(appsync) == [{"host": HTTP_HOST, "x-api-key": api_key}] * 2
    assert api_key not in json.dumps(result)


def test_token_authorization_sends_the_token_as_authorization(
    run: Invoke, secrets_manager: LocalSecretsManager
) -> None:
    token = "eyJ" + secrets.token_urlsafe(30)
    secret_id = secrets_manager.put_secret(f"test/{uuid.uuid4()}", json.dumps({"jwt": token}))
    with LocalAppSyncEvents(TokenAuth(token), http_host=HTTP_HOST) as server:
        result = run(
            {"messages": [SUBSCRIBE, publish("hello")]},
            **settings(server, secret_id, APPSYNC_AUTH="token", TOKEN_SECRET_FIELD="jwt"),
        )
        authorizations = sent_authorizations(server)

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["hello"]
    assert authorizations == [{"host": HTTP_HOST, "Authorization": token}] * 2
    assert token not in json.dumps(result)


@pytest.fixture
def iam_server() -> Iterator[LocalAppSyncEvents]:
    credentials = SigningCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    with LocalAppSyncEvents(IamAuth(credentials, region=REGION), http_host=HTTP_HOST) as server:
        yield server


AWS_ENVIRONMENT = {
    "AWS_ACCESS_KEY_ID": ACCESS_KEY,
    "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
    "AWS_SESSION_TOKEN": SESSION_TOKEN,
}


def test_iam_signs_the_connection_and_each_message_as_aws_clients_do(
    run: Invoke, iam_server: LocalAppSyncEvents
) -> None:
    events = [{"n": 1, "text": 'ü/"q"'}, [1, 2]]
    result = run(
        {"messages": [SUBSCRIBE, publish(*events)], "expected_replies": 2},
        **settings(iam_server, APPSYNC_AUTH="iam", **AWS_ENVIRONMENT),
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == events
    # The connection, the subscribe and the publish, each verified on its own body.
    assert [verdict.ok for verdict in iam_server.verdicts] == [True, True, True]
    output = json.dumps(result)
    assert SECRET_KEY not in output
    assert SESSION_TOKEN not in output
    signatures = [a["Authorization"].rpartition("=")[2] for a in sent_authorizations(iam_server)]
    assert len(set(signatures)) == 2
    assert not any(signature in output for signature in signatures)


def test_iam_region_comes_from_the_api_host_when_not_configured(
    run: Invoke, iam_server: LocalAppSyncEvents
) -> None:
    result = run(
        {"message": SUBSCRIBE, "expected_replies": 0},
        **settings(iam_server, APPSYNC_AUTH="iam", AWS_REGION="us-west-2", **AWS_ENVIRONMENT),
    )

    assert result["ok"] is True, result["error"]


def test_iam_signed_for_another_region_is_auth_rejected(
    run: Invoke, iam_server: LocalAppSyncEvents
) -> None:
    result = run(
        {"message": SUBSCRIBE, "expected_replies": 0},
        **settings(iam_server, APPSYNC_AUTH="iam", SIGV4_REGION="us-west-2", **AWS_ENVIRONMENT),
    )

    assert result["error"]["type"] == "auth_rejected"
    assert "UnauthorizedException" in result["error"]["message"]
    # Signed just now: no second attempt.
    assert len(iam_server.verdicts) == 1


def test_iam_without_aws_credentials_is_a_config_error(
    run: Invoke, iam_server: LocalAppSyncEvents, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")

    result = run({"message": SUBSCRIBE}, **settings(iam_server, APPSYNC_AUTH="iam"))

    assert result["error"]["type"] == "config_error"
    assert "No AWS credentials" in result["error"]["message"]
    assert iam_server.messages == []


# --- the end-to-end recipe --------------------------------------------------------------


def test_the_end_to_end_recipe_finds_its_own_event_and_its_latency(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    result = run(RECIPE, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    probe = result["received"][-1]["probe"]
    assert uuid.UUID(probe)
    assert probe in result["sent"][1]["events"][0]
    assert isinstance(result["received"][-1]["at"], int)
    assert result["checks"] == [{"expect": "timings_ms.first_reply < `2000`", "passed": True}]
    assert result["timings_ms"]["first_reply"] > 0


def test_the_recipe_fails_when_the_event_never_comes_back(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    recipe = json.loads(json.dumps(RECIPE).replace('"/default/canary"}', '"/default/other"}', 1))

    result = run(recipe, **settings(appsync, key_secret, REPLY_TIMEOUT_SECONDS="0.5"))

    assert result["error"]["type"] == "reply_timeout"
    assert len(result["sent"]) == 2


def test_a_subscription_alone_waits_for_events_others_publish(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str, api_key: str
) -> None:
    def publish_later() -> None:
        header = (
            base64.urlsafe_b64encode(json.dumps({"host": HTTP_HOST, "x-api-key": api_key}).encode())
            .decode()
            .rstrip("=")
        )
        with connect(appsync.uri, subprotocols=["aws-appsync-event-ws", "header-" + header]) as ws:
            ws.send('{"type": "connection_init"}')
            ws.recv(timeout=2)
            time.sleep(0.3)
            ws.send(
                json.dumps(
                    {
                        "type": "publish",
                        "id": "p",
                        "channel": CHANNEL,
                        "events": ['"from elsewhere"'],
                        "authorization": {"host": HTTP_HOST, "x-api-key": api_key},
                    }
                )
            )
            ws.recv(timeout=2)

    publisher = threading.Thread(target=publish_later)
    publisher.start()
    result = run({"message": SUBSCRIBE}, **settings(appsync, key_secret))
    publisher.join()

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["from elsewhere"]


def test_a_publish_without_a_subscription_needs_no_replies(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    result = run(
        {"message": publish({"a": 1}, {"b": 2}), "expected_replies": 0},
        **settings(appsync, key_secret),
    )

    assert result["ok"] is True, result["error"]
    assert result["received"] == []


def test_open_subscriptions_are_unsubscribed_before_the_close(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    result = run({"message": SUBSCRIBE, "expected_replies": 0}, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    kinds = [json.loads(frame)["type"] for frame in appsync.messages]
    assert kinds == ["connection_init", "subscribe", "unsubscribe"]
    subscribe, unsubscribe = (json.loads(frame) for frame in appsync.messages[1:])
    assert unsubscribe["id"] == subscribe["id"]


# --- refusals ------------------------------------------------------------------------------


def test_a_wrong_api_key_is_auth_rejected_after_one_fresh_read(
    run: Invoke, appsync: LocalAppSyncEvents, secrets_manager: LocalSecretsManager
) -> None:
    secret_id = secrets_manager.put_secret(f"test/{uuid.uuid4()}", "da2-wrong-key-0123456789")

    result = run({"message": SUBSCRIBE}, **settings(appsync, secret_id))

    assert result["error"]["type"] == "auth_rejected"
    assert "UnauthorizedException" in result["error"]["message"]
    assert result["error"]["retryable"] is False
    assert result["attempts"] == 1
    assert [verdict.ok for verdict in appsync.verdicts] == [False]


def test_a_rotated_key_is_read_again_after_the_refusal(
    run: Invoke, appsync: LocalAppSyncEvents, secrets_manager: LocalSecretsManager, api_key: str
) -> None:
    secret_id = secrets_manager.put_secret(f"test/{uuid.uuid4()}", "da2-old-key-0123456789")
    first = run({"message": SUBSCRIBE, "expected_replies": 0}, **settings(appsync, secret_id))
    secrets_manager.put_secret(secret_id, api_key)

    second = run({"message": SUBSCRIBE, "expected_replies": 0}, **settings(appsync, secret_id))

    assert first["error"]["type"] == "auth_rejected"
    assert second["ok"] is True, second["error"]
    # The cached old key, refused; then the new one read again.
    assert [verdict.ok for verdict in appsync.verdicts] == [False, False, True, True]


@pytest.mark.parametrize(
    ("error_type", "message", "expected"),
    [
        ("UnauthorizedException", SUBSCRIBE, "auth_rejected"),
        ("BadRequestException", SUBSCRIBE, "invalid_request"),
        ("UnauthorizedException", publish(1), "auth_rejected"),
        ("BadRequestException", publish(1), "invalid_request"),
        ("ServiceUnavailableException", SUBSCRIBE, "expectation_failed"),
    ],
)
def test_subscribe_and_publish_errors_are_typed_and_never_retried(
    run: Invoke,
    appsync: LocalAppSyncEvents,
    key_secret: str,
    error_type: str,
    message: Any,
    expected: str,
) -> None:
    appsync.reset(Behaviour(subscribe_error=error_type, publish_error=error_type))

    result = run({"message": message}, **settings(appsync, key_secret))

    assert result["error"]["type"] == expected
    assert error_type in result["error"]["message"]
    assert result["error"]["retryable"] is False
    assert result["attempts"] == 1


@pytest.mark.parametrize(
    ("message", "words"),
    [
        ({"action": "ping"}, "is not an AppSync Events operation"),
        ({"subscribe": "/default/a", "publish": {}}, "is not an AppSync Events operation"),
        ({"subscribe": ["/default/a"]}, "not a channel path"),
        ({"subscribe": "/a/b/c/d/e/f"}, "1 to 5 segments"),
        ({"subscribe": "/default/bad segment"}, "letters, digits or hyphens"),
        (publish(), "1 to 5 JSON values"),
        (publish(*range(6)), "1 to 5 JSON values"),
        (publish(1, channel="/default/*"), "wildcard"),
        ({"publish": {"channel": CHANNEL, "events": [1], "id": "x"}}, 'has "id"'),
        ({"publish": {"events": [1]}}, 'no "channel"'),
        ("text", "is not an AppSync Events operation"),
    ],
)
def test_a_message_the_protocol_cannot_send_is_invalid_request_before_any_io(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str, message: Any, words: str
) -> None:
    result = run({"message": message}, **settings(appsync, key_secret))

    assert result["error"]["type"] == "invalid_request"
    assert words in result["error"]["message"]
    assert result["attempts"] == 0
    assert appsync.messages == []


def test_a_channel_built_from_variables_is_checked_when_sent(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    result = run(
        {"steps": [{"send": {"subscribe": "/default/{{timestamp}}"}}]},
        **settings(appsync, key_secret),
    )

    assert result["error"]["type"] == "invalid_request"
    assert "A message built from variables" in result["error"]["message"]


# --- misbehaviour -----------------------------------------------------------------------------


def test_no_ack_is_connect_timeout_in_time(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    appsync.reset(Behaviour(ack="never"))
    started = time.monotonic()

    result = run(
        {"message": SUBSCRIBE},
        **settings(appsync, key_secret, OPEN_TIMEOUT_SECONDS="0.3", MAX_ATTEMPTS="2"),
    )

    assert result["error"]["type"] == "connect_timeout"
    assert "connection_init" in result["error"]["message"]
    assert result["attempts"] == 2
    assert time.monotonic() - started < 5


def test_a_second_ack_changes_nothing(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    appsync.reset(Behaviour(ack="twice"))

    result = run({"messages": [SUBSCRIBE, publish(7)]}, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [7]


def test_keep_alives_are_never_replies_and_never_answers(
    run: Invoke, api_key: str, key_secret: str
) -> None:
    with LocalAppSyncEvents(
        ApiKeyAuth(api_key), http_host=HTTP_HOST, keepalive_seconds=0.02
    ) as server:
        result = run(
            {
                "steps": [
                    {"send": SUBSCRIBE},
                    {"sleep": 0.3},
                    {"send": publish(1)},
                    {"receive": {"count": 1}},
                    {"collect": 0.2},
                ]
            },
            **settings(server, key_secret),
        )

    assert result["ok"] is True, result["error"]
    assert result["received"] == [1]


def test_keep_alives_without_answers_are_reply_timeout(
    run: Invoke, api_key: str, key_secret: str
) -> None:
    with LocalAppSyncEvents(
        ApiKeyAuth(api_key),
        http_host=HTTP_HOST,
        keepalive_seconds=0.02,
        behaviour=Behaviour(keepalive_only=True),
    ) as server:
        result = run(
            {"message": SUBSCRIBE}, **settings(server, key_secret, REPLY_TIMEOUT_SECONDS="0.5")
        )

    assert result["error"]["type"] == "reply_timeout"
    assert "subscribe" in result["error"]["message"]
    assert result["received"] == []


def test_keep_alives_without_events_are_reply_timeout_for_the_receive(
    run: Invoke, api_key: str, key_secret: str
) -> None:
    with LocalAppSyncEvents(
        ApiKeyAuth(api_key), http_host=HTTP_HOST, keepalive_seconds=0.02
    ) as server:
        result = run(
            {"steps": [{"send": SUBSCRIBE}, {"receive": {"count": 1, "timeout_seconds": 0.5}}]},
            **settings(server, key_secret),
        )

    assert result["error"]["type"] == "reply_timeout"
    assert result["error"]["message"] == "steps[1]: no reply arrived within 0.5 s."
    assert result["received"] == []


def test_silence_past_connection_timeout_is_connection_closed(
    run: Invoke, api_key: str, key_secret: str
) -> None:
    with LocalAppSyncEvents(
        ApiKeyAuth(api_key), http_host=HTTP_HOST, keepalive_seconds=None, connection_timeout_ms=300
    ) as server:
        started = time.monotonic()
        result = run(
            {"steps": [{"send": SUBSCRIBE}, {"receive": {"count": 1, "timeout_seconds": 5}}]},
            **settings(server, key_secret),
        )
        elapsed = time.monotonic() - started

    assert result["error"]["type"] == "connection_closed"
    assert "connectionTimeoutMs" in result["error"]["message"]
    assert elapsed < 3


def test_keep_alives_within_connection_timeout_keep_the_connection(
    run: Invoke, api_key: str, key_secret: str
) -> None:
    with LocalAppSyncEvents(
        ApiKeyAuth(api_key), http_host=HTTP_HOST, keepalive_seconds=0.05, connection_timeout_ms=300
    ) as server:
        result = run(
            {
                "steps": [
                    {"send": SUBSCRIBE},
                    {"collect": 0.8},
                    {"send": publish("late")},
                    {"receive": {"count": 1}},
                ]
            },
            **settings(server, key_secret),
        )

    assert result["ok"] is True, result["error"]
    assert result["received"] == ["late"]


def test_a_ping_flood_is_answered_and_the_exchange_goes_on(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    appsync.reset(Behaviour(ping_flood=300))

    result = run({"messages": [SUBSCRIBE, publish(1)]}, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [1]
    assert all(pong.wait(2) for pong in appsync.pongs)


def test_publish_success_before_the_data_still_gives_the_event(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str
) -> None:
    appsync.reset(Behaviour(data_before_publish_success=False))

    result = run({"messages": [SUBSCRIBE, publish(1)]}, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [1]


def expected_close(code: int) -> str:
    """What a close means, whatever the moment: 4401/4403 refuse the credential."""
    return "auth_rejected" if code in (4401, 4403) else "connection_closed"


@pytest.mark.parametrize("code", CLOSE_CODES)
@pytest.mark.parametrize("moment", MOMENTS)
def test_a_close_at_any_moment_is_typed_in_time(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str, code: int, moment: Moment
) -> None:
    appsync.reset(Behaviour(close_code=code, close_at=moment))
    started = time.monotonic()

    result = run({"messages": [SUBSCRIBE, publish(1)]}, **settings(appsync, key_secret))

    assert result["error"]["type"] == expected_close(code)
    assert str(code) in result["error"]["message"]
    assert result["connection"]["close"]["code"] == code
    assert time.monotonic() - started < 3


def test_echoed_connection_params_are_redacted(
    run: Invoke, appsync: LocalAppSyncEvents, key_secret: str, api_key: str
) -> None:
    appsync.reset(Behaviour(echo_connection_params=True))

    result = run({"message": SUBSCRIBE}, **settings(appsync, key_secret))

    assert result["ok"] is True, result["error"]
    assert result["received"] == [{"host": HTTP_HOST, "x-api-key": "[redacted]"}]
    assert api_key not in json.dumps(result)


def test_echoed_iam_signature_and_session_token_are_redacted(
    run: Invoke, iam_server: LocalAppSyncEvents
) -> None:
    iam_server.reset(Behaviour(echo_connection_params=True))

    result = run(
        {"message": SUBSCRIBE}, **settings(iam_server, APPSYNC_AUTH="iam", **AWS_ENVIRONMENT)
    )

    assert result["ok"] is True, result["error"]
    echoed = result["received"][0]
    assert echoed["Authorization"] == "[redacted]"
    assert echoed["X-Amz-Security-Token"] == "[redacted]"
    assert echoed["host"] == HTTP_HOST


# --- configuration --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"APPSYNC_AUTH": "cognito"}, "APPSYNC_AUTH"),
        ({"AUTH_MODE": "header", "AUTH_HEADER": "x-api-key"}, "AUTH_MODE"),
        ({"AUTH_SCHEME": "Token"}, "AUTH_SCHEME"),
        ({"SIGV4_REGION": "eu-west-1"}, "SIGV4_REGION"),
        ({"APPSYNC_HTTP_HOST": ""}, "APPSYNC_HTTP_HOST"),
        ({"APPSYNC_HTTP_HOST": "https://api.example.com/event"}, "APPSYNC_HTTP_HOST"),
        ({"TOKEN_SECRET_ID": ""}, "TOKEN_SECRET_ID"),
        ({"PROTOCOL": "graphql-transport-ws"}, "APPSYNC"),
    ],
)
def test_contradicting_or_missing_settings_are_config_errors_naming_them(
    run: Invoke,
    appsync: LocalAppSyncEvents,
    key_secret: str,
    variables: dict[str, str],
    named: str,
) -> None:
    result = run({"message": SUBSCRIBE}, **{**settings(appsync, key_secret), **variables})

    assert result["error"]["type"] == "config_error"
    assert named in result["error"]["message"]
    assert appsync.messages == []


def test_iam_ignores_a_token_secret_as_sigv4_does(
    run: Invoke, iam_server: LocalAppSyncEvents
) -> None:
    result = run(
        {"message": SUBSCRIBE, "expected_replies": 0},
        **settings(
            iam_server,
            "arn:aws:secretsmanager:us-east-1:1:secret:x",
            APPSYNC_AUTH="iam",
            **AWS_ENVIRONMENT,
        ),
    )

    assert result["ok"] is True, result["error"]
    assert result["timings_ms"]["secret"] < 1000


# --- nothing secret in DEBUG logs ----------------------------------------------------------


class Recording(LocalAppSyncEvents):
    """The counterpart, also keeping every ``header-`` subprotocol it was offered."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.offered: list[str] = []

    def _open_session(self, connection: Any) -> Any:
        headers = self._offered(connection.request.headers)
        self.offered += [item for item in headers if item.startswith("header-")]
        return super()._open_session(connection)


def test_no_key_token_signature_or_auth_subprotocol_in_debug_logs(
    secrets_manager: LocalSecretsManager,
    function_env: dict[str, str],
    api_key: str,
    key_secret: str,
) -> None:
    token = "eyJ" + secrets.token_urlsafe(30)
    token_secret = secrets_manager.put_secret(f"test/{uuid.uuid4()}", token)
    debug = {"POWERTOOLS_LOG_LEVEL": "DEBUG", "ALLOW_INSECURE_WEBSOCKET": "true"}
    base = {k: v for k, v in function_env.items() if not k.endswith("LOG_LEVEL")}
    credentials = SigningCredentials(ACCESS_KEY, SECRET_KEY, SESSION_TOKEN)
    echo = Behaviour(echo_connection_params=True)
    with (
        Recording(ApiKeyAuth(api_key), http_host=HTTP_HOST, behaviour=echo) as keyed,
        Recording(TokenAuth(token), http_host=HTTP_HOST, behaviour=echo) as tokened,
        Recording(
            IamAuth(credentials, region=REGION), http_host=HTTP_HOST, behaviour=echo
        ) as signed,
    ):
        runs = [
            (RECIPE, {**base, **settings(keyed, key_secret), **debug}),
            (
                {"messages": [SUBSCRIBE, publish(1)], "expected_replies": 1},
                {**base, **settings(tokened, token_secret, APPSYNC_AUTH="token"), **debug},
            ),
            (
                {"messages": [SUBSCRIBE, publish(1)], "expected_replies": 1},
                {**base, **settings(signed, APPSYNC_AUTH="iam"), **AWS_ENVIRONMENT, **debug},
            ),
        ]
        results, output = run_child(runs, secrets_manager, root_debug=True)
        offered = [*keyed.offered, *tokened.offered, *signed.offered]
        signatures = [a["Authorization"].rpartition("=")[2] for a in sent_authorizations(signed)]

    assert [result["ok"] for result in results] == [True, True, True], results
    assert '"level":"DEBUG"' in output or "DEBUG:" in output
    assert len(signatures) == 2
    assert len(offered) == 3
    everything = output + json.dumps(results)
    for form in [api_key, token, SECRET_KEY, SESSION_TOKEN, *signatures, *offered]:
        assert form not in everything
    for result in results:
        assert "header-" not in json.dumps(result["connection"]["headers"])
