"""Every error type, produced by real parts on 127.0.0.1."""

from __future__ import annotations

import json
import uuid

import pytest

from local_stack.aws.secrets_manager import LocalSecretsManager
from local_stack.servers.websocket_server import (
    OVERSIZED_BYTES,
    LocalWebSocketServer,
    SilentListener,
    closed_port_uri,
)
from ws_exchange.errors import ExchangeError

from .conftest import Invoke, body, sample


def assert_error(result: dict, error_type: str, *, retryable: bool) -> dict:
    assert result["ok"] is False, result
    assert result["error"]["type"] == error_type, result["error"]
    assert result["error"]["retryable"] is retryable
    assert result["error"]["message"].endswith("."), "one human sentence"
    return result


# --- configuration and request ----------------------------------------------


def test_missing_uri_is_config_error(run: Invoke, server) -> None:
    result = run({}, WEBSOCKET_URI="")

    assert_error(result, "config_error", retryable=False)
    assert "WEBSOCKET_URI" in result["error"]["message"]
    assert result["endpoint"] is None
    assert server.handshakes == []


def test_insecure_uri_needs_the_explicit_opt_in(run: Invoke, server) -> None:
    result = run({}, ALLOW_INSECURE_WEBSOCKET="false")

    assert_error(result, "config_error", retryable=False)
    assert "wss://" in result["error"]["message"]
    assert server.handshakes == []


def test_non_numeric_timeout_is_config_error(run: Invoke) -> None:
    result = run({}, OPEN_TIMEOUT_SECONDS="ten")

    assert_error(result, "config_error", retryable=False)
    assert "OPEN_TIMEOUT_SECONDS" in result["error"]["message"]


@pytest.mark.parametrize("field", ["uri", "endpoint", "headers", "secret", "token"])
def test_caller_cannot_choose_where_the_token_goes(
    run: Invoke, server, secrets_manager: LocalSecretsManager, field: str
) -> None:
    calls = secrets_manager.get_secret_value_calls

    result = run({"message": "x", field: "wss://attacker.example/"})

    assert_error(result, "invalid_request", retryable=False)
    assert "attacker" not in result["error"]["message"]
    assert server.handshakes == []
    assert secrets_manager.get_secret_value_calls == calls


def test_non_object_event_is_invalid_request(run: Invoke) -> None:
    assert_error(run(["not", "an", "object"]), "invalid_request", retryable=False)


# --- the secret ---------------------------------------------------------------


def test_unknown_secret_is_secret_not_found(run: Invoke) -> None:
    result = run({}, TOKEN_SECRET_ID=f"missing/{uuid.uuid4()}")

    assert_error(result, "secret_not_found", retryable=False)
    assert result["attempts"] == 0


def test_denied_secret_is_secret_access_denied(
    run: Invoke, secrets_manager: LocalSecretsManager, token: str
) -> None:
    name = f"denied/{uuid.uuid4()}"
    secrets_manager.put_secret(name, json.dumps({"token": token}))
    secrets_manager.deny(name)

    assert_error(run({}, TOKEN_SECRET_ID=name), "secret_access_denied", retryable=False)


@pytest.mark.parametrize(
    "value",
    [json.dumps({"other": "x"}), json.dumps({"token": ""}), "   ", b"\xff\xfe\x00"],
    ids=["missing-field", "empty-token", "blank", "undecodable-binary"],
)
def test_unusable_secret_is_secret_invalid(
    run: Invoke, secrets_manager: LocalSecretsManager, value: str | bytes
) -> None:
    name = f"invalid/{uuid.uuid4()}"
    secrets_manager.put_secret(name, value)

    assert_error(run({}, TOKEN_SECRET_ID=name), "secret_invalid", retryable=False)


def test_plain_string_secret_is_the_token(
    run: Invoke, secrets_manager: LocalSecretsManager, server, token: str
) -> None:
    name = f"plain/{uuid.uuid4()}"
    secrets_manager.put_secret(name, token + "\n")

    assert run({}, TOKEN_SECRET_ID=name)["ok"] is True


def test_custom_secret_field(
    run: Invoke, secrets_manager: LocalSecretsManager, server, token: str
) -> None:
    name = f"field/{uuid.uuid4()}"
    secrets_manager.put_secret(name, json.dumps({"api_token": token, "token": "wrong"}))

    assert run({}, TOKEN_SECRET_ID=name, TOKEN_SECRET_FIELD="api_token")["ok"] is True


# --- the secret cache and rotation ----------------------------------------------


def test_token_is_cached_across_warm_invocations(
    run: Invoke, secrets_manager: LocalSecretsManager, server
) -> None:
    calls = secrets_manager.get_secret_value_calls

    results = [run({}) for _ in range(5)]

    assert all(r["ok"] for r in results)
    assert secrets_manager.get_secret_value_calls - calls == 1


def test_zero_max_age_fetches_every_time(
    run: Invoke, secrets_manager: LocalSecretsManager, server
) -> None:
    calls = secrets_manager.get_secret_value_calls

    for _ in range(3):
        assert run({}, SECRET_MAX_AGE_SECONDS="0")["ok"] is True

    assert secrets_manager.get_secret_value_calls - calls == 3


def test_rotated_token_is_fetched_again_after_401(
    run: Invoke, secrets_manager: LocalSecretsManager, server, secret_id: str
) -> None:
    assert run({})["ok"] is True  # caches the current token
    server.token = "rotated-token"
    secrets_manager.put_secret(secret_id, json.dumps({"token": "rotated-token"}))
    calls = secrets_manager.get_secret_value_calls

    result = run({})

    assert result["ok"] is True, result
    assert result["attempts"] == 2
    assert secrets_manager.get_secret_value_calls - calls == 1
    assert server.handshakes[-1]["Authorization"] == "Bearer rotated-token"


def test_second_rejection_is_auth_rejected(
    run: Invoke, secrets_manager: LocalSecretsManager, server
) -> None:
    assert run({})["ok"] is True
    server.token = "a-token-nobody-has"

    result = run({})

    assert_error(result, "auth_rejected", retryable=False)
    assert result["attempts"] == 2


def test_fresh_token_rejected_is_not_fetched_again(
    run: Invoke, secrets_manager: LocalSecretsManager, server
) -> None:
    server.token = "a-token-nobody-has"
    calls = secrets_manager.get_secret_value_calls

    result = run({})

    assert_error(result, "auth_rejected", retryable=False)
    assert result["attempts"] == 1
    assert secrets_manager.get_secret_value_calls - calls == 1


# --- connection faults ------------------------------------------------------------


def test_refused_connection_is_retried_then_connect_failed(run: Invoke) -> None:
    uri = closed_port_uri()
    result = run({}, WEBSOCKET_URI=uri, MAX_ATTEMPTS="3")

    assert_error(result, "connect_failed", retryable=True)
    assert result["attempts"] == 3
    # In the deployer's words: where, and the likely cause; not asyncio's text.
    port = uri.rsplit(":", 1)[1].split("/")[0]
    message = result["error"]["message"]
    assert f"127.0.0.1 port {port}" in message
    assert "server is running" in message
    assert "Connect call failed" not in message


def test_an_unresolvable_host_is_named_in_the_message(run: Invoke) -> None:
    result = run({}, WEBSOCKET_URI="ws://no-such-host.invalid:8080/v1", MAX_ATTEMPTS="1")

    assert_error(result, "connect_failed", retryable=True)
    assert "no-such-host.invalid could not be resolved" in result["error"]["message"]
    assert "Errno" not in result["error"]["message"]


def test_silent_server_is_connect_timeout(run: Invoke) -> None:
    with SilentListener() as listener:
        result = run({}, WEBSOCKET_URI=listener.uri, OPEN_TIMEOUT_SECONDS="0.2", MAX_ATTEMPTS="2")

    assert_error(result, "connect_timeout", retryable=True)
    assert result["attempts"] == 2


def test_http_500_on_handshake_is_retried(run: Invoke, server) -> None:
    result = run({}, WEBSOCKET_URI=server.uri + "/status-500", MAX_ATTEMPTS="2")

    assert_error(result, "handshake_failed", retryable=True)
    assert result["attempts"] == 2
    assert "500" in result["error"]["message"]


def test_http_404_on_handshake_is_not_retried(run: Invoke, server) -> None:
    result = run({}, WEBSOCKET_URI=server.uri + "/status-404", MAX_ATTEMPTS="3")

    assert_error(result, "handshake_failed", retryable=False)
    assert result["attempts"] == 1


# --- exchange faults --------------------------------------------------------------


def test_silent_reply_is_reply_timeout(run: Invoke, server) -> None:
    result = run(
        {"message": "hello"}, WEBSOCKET_URI=server.uri + "/silent", REPLY_TIMEOUT_SECONDS="0.2"
    )

    assert_error(result, "reply_timeout", retryable=True)
    assert result["sent"] == ["hello"]
    assert result["received"] == []


def test_received_keeps_what_arrived_before_the_failure(run: Invoke, server) -> None:
    result = run(
        {"message": {"action": "ping"}, "expected_replies": 2, "reply_timeout_seconds": 0.2}
    )

    assert_error(result, "reply_timeout", retryable=True)
    assert result["received"] == [{"type": "pong"}]


def test_server_close_1011_is_connection_closed(run: Invoke, server) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=server.uri + "/close-1011")

    assert_error(result, "connection_closed", retryable=True)
    assert "1011" in result["error"]["message"]


def test_dropped_connection_is_connection_closed(run: Invoke, server) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=server.uri + "/drop")

    assert_error(result, "connection_closed", retryable=True)


def test_oversized_reply_is_message_too_large(run: Invoke, server) -> None:
    result = run(
        {"message": "x"}, WEBSOCKET_URI=server.uri + "/oversized", MAX_MESSAGE_BYTES="1024"
    )

    assert_error(result, "message_too_large", retryable=False)
    assert "1024" in result["error"]["message"]


def test_reply_within_max_message_bytes_is_accepted(run: Invoke, server) -> None:
    result = run(
        {"message": "x"},
        WEBSOCKET_URI=server.uri + "/oversized",
        MAX_MESSAGE_BYTES=str(OVERSIZED_BYTES),
    )

    assert result["ok"] is True, result
    assert result["received"] == ["x" * OVERSIZED_BYTES]


def test_binary_reply_is_base64(run: Invoke, server) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=server.uri + "/binary")

    assert result["ok"] is True, result
    assert result["received"] == [{"binary_base64": "AAFiaW5hcnn/"}]


def test_non_json_text_reply_is_a_string(run: Invoke, server) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=server.uri + "/text")

    assert result["received"] == ["plain text, not JSON"]


def test_redirect_to_another_origin_is_not_followed(run: Invoke, server, token: str) -> None:
    with LocalWebSocketServer(token) as elsewhere:
        server.redirect_to = elsewhere.uri + "/v1"

        result = run({}, WEBSOCKET_URI=server.uri + "/redirect")

        assert elsewhere.handshakes == [], "credentials went to another origin"
    assert_error(result, "handshake_failed", retryable=False)
    assert "another origin" in result["error"]["message"]


# --- the deadline -----------------------------------------------------------------


def test_waits_are_cut_short_by_the_lambda_deadline(spec, function_env, server) -> None:
    from local_stack.runtime.invoker import invoke

    short = type(spec)(**{**spec.__dict__, "timeout": 2})
    variables = {
        **function_env,
        "WEBSOCKET_URI": server.uri + "/silent",
        "REPLY_TIMEOUT_SECONDS": "600",
    }

    result = invoke(short, {"message": "x"}, variables)

    assert_error(result, "reply_timeout", retryable=True)
    # 2 s function timeout minus the safety margin leaves at most 1.5 s to wait.
    waited = float(result["error"]["message"].split("deadline (")[1].split(" s")[0])
    assert 0 < waited <= 1.5


# --- FAIL_ON_ERROR and API status codes -------------------------------------------


def test_fail_on_error_raises_naming_the_type(run: Invoke) -> None:
    with pytest.raises(ExchangeError, match=r"^connect_failed: "):
        run({}, WEBSOCKET_URI=closed_port_uri(), MAX_ATTEMPTS="1", FAIL_ON_ERROR="true")


def test_fail_on_error_applies_to_config_errors_too(run: Invoke) -> None:
    with pytest.raises(ExchangeError, match=r"^config_error: "):
        run({}, WEBSOCKET_URI="", FAIL_ON_ERROR="true")


def test_fail_on_error_leaves_api_answers_alone(run: Invoke) -> None:
    response = run(
        sample("api-rest.json"),
        WEBSOCKET_URI=closed_port_uri(),
        MAX_ATTEMPTS="1",
        FAIL_ON_ERROR="true",
    )

    assert response["statusCode"] == 502
    assert body(response)["error"]["type"] == "connect_failed"


@pytest.mark.parametrize(
    ("overrides", "status", "error_type"),
    [
        ({"WEBSOCKET_URI": ""}, 500, "config_error"),
        ({"TOKEN_SECRET_ID": "missing/secret"}, 500, "secret_not_found"),
        ({"WEBSOCKET_URI": "{uri}/status-404"}, 502, "handshake_failed"),
        ({"WEBSOCKET_URI": "{uri}/silent", "REPLY_TIMEOUT_SECONDS": "0.1"}, 504, "reply_timeout"),
    ],
)
def test_api_status_codes(run: Invoke, server, overrides, status, error_type) -> None:
    overrides = {k: v.format(uri=server.uri) for k, v in overrides.items()}

    response = run(sample("api-http.json"), **overrides)

    assert response["statusCode"] == status
    assert body(response)["error"]["type"] == error_type


def test_api_waits_end_before_api_gateway_gives_up(run: Invoke, server, monkeypatch) -> None:
    from ws_exchange import service

    # 29 s in production; shortened so the test does not wait that long.
    monkeypatch.setattr(service, "API_TIMEOUT_SECONDS", 1.0)

    response = run(
        sample("api-rest.json"),
        WEBSOCKET_URI=server.uri + "/silent",
        REPLY_TIMEOUT_SECONDS="600",
    )

    assert response["statusCode"] == 504
    message = body(response)["error"]["message"]
    waited = float(message.split("deadline (")[1].split(" s")[0])
    assert 0 < waited <= 0.5
