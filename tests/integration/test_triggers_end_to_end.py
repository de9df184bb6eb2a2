"""Every documented trigger through the real handler and the local stack."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from .conftest import Invoke, body, eventually, sample


def test_scheduled_event_sends_the_default_message(run: Invoke, server) -> None:
    result = run(sample("scheduled.json"))

    assert result["ok"] is True, result
    assert [{k: v for k, v in m.items() if k != "timestamp"} for m in result["sent"]] == [
        {"action": "ping"}
    ]
    assert result["received"] == [{"type": "pong"}]
    assert result["attempts"] == 1
    assert result["error"] is None


def test_scheduled_event_detail_messages_replace_the_default(run: Invoke, server) -> None:
    event = sample("scheduled.json")
    event["detail"] = {"messages": ["first", {"n": 2}]}

    result = run(event)

    assert result["ok"] is True, result
    assert [m for m in server.messages] == ["first", result_text(result["sent"][1])]
    assert result["received"] == [
        {"type": "echo", "message": "first"},
        {"type": "echo", "message": result["sent"][1]},
    ]


def result_text(message: dict) -> str:
    return json.dumps(message, separators=(",", ":"), ensure_ascii=False)


def test_direct_payload_overrides_expected_replies(run: Invoke, server) -> None:
    result = run(sample("direct.json"))

    assert result["ok"] is True, result
    assert result["received"] == [
        {"type": "subscribed", "channel": "prices"},
        {"type": "update", "channel": "prices", "seq": 1},
    ]
    sent = result["sent"][0]
    assert sent["action"] == "subscribe"
    assert datetime.fromisoformat(sent["timestamp"]).utcoffset().total_seconds() == 0


def test_empty_direct_event_sends_default_message_from_configuration(run: Invoke, server) -> None:
    result = run({}, DEFAULT_MESSAGE='{"action": "custom"}')

    assert result["ok"] is True, result
    assert result["sent"][0]["action"] == "custom"
    assert result["received"] == [{"type": "echo", "message": result["sent"][0]}]


def test_http_api_event_answers_with_a_proxy_response(run: Invoke, server) -> None:
    response = run(sample("api-http.json"))

    assert response["statusCode"] == 200
    assert response["headers"] == {"Content-Type": "application/json"}
    result = body(response)
    assert result["ok"] is True
    assert result["received"] == [
        {"type": "pong"},
        {"type": "subscribed", "channel": "prices"},
    ]


def test_rest_api_event_answers_with_a_proxy_response(run: Invoke, server) -> None:
    response = run(sample("api-rest.json"))

    assert response["statusCode"] == 200
    result = body(response)
    assert result["sent"] == ["hello over REST"]
    assert server.messages == ["hello over REST"]
    assert result["received"] == [{"type": "echo", "message": "hello over REST"}]


def test_api_invalid_body_is_400_and_opens_nothing(run: Invoke, server, secrets_manager) -> None:
    event = sample("api-http.json")
    event["body"] = base64.b64encode(b'{"uri": "wss://attacker.example"}').decode()
    calls = secrets_manager.get_secret_value_calls

    response = run(event)

    assert response["statusCode"] == 400
    assert body(response)["error"]["type"] == "invalid_request"
    assert server.handshakes == []
    assert secrets_manager.get_secret_value_calls == calls


def test_handshake_carries_the_bearer_token(run: Invoke, server, token: str) -> None:
    run({"message": "x"})

    assert [h["Authorization"] for h in server.handshakes] == [f"Bearer {token}"]


def test_auth_scheme_comes_from_configuration(run: Invoke, server, token: str) -> None:
    server.scheme = "Token"

    result = run({"message": "x"}, AUTH_SCHEME="Token")

    assert result["ok"] is True, result
    assert server.handshakes[-1]["Authorization"] == f"Token {token}"


def test_endpoint_in_result_has_no_query_string(run: Invoke, server) -> None:
    result = run({"message": "x"}, WEBSOCKET_URI=server.uri + "/v1?api_key=abc")

    assert result["ok"] is True, result
    assert result["endpoint"] == server.uri + "/v1"


def test_messages_are_sent_in_order_over_one_connection(run: Invoke, server) -> None:
    messages = [{"seq": i} for i in range(20)]

    result = run({"messages": messages})

    assert result["ok"] is True, result
    assert len(server.handshakes) == 1
    assert [json.loads(m)["seq"] for m in server.messages] == list(range(20))
    assert [r["message"]["seq"] for r in result["received"]] == list(range(20))


def test_fire_and_forget_waits_for_no_reply(run: Invoke, server) -> None:
    result = run(
        {"messages": [1, 2, 3], "expected_replies": 0}, WEBSOCKET_URI=server.uri + "/silent"
    )

    assert result["ok"] is True, result
    assert result["received"] == []
    # The server's handler thread may still be reading what the close overtook.
    assert eventually(lambda: server.messages == ["1", "2", "3"])


def test_request_id_comes_from_the_lambda_context(run: Invoke, server, monkeypatch) -> None:
    import uuid

    known = uuid.UUID("c6af9ac6-7b61-11e6-9a41-93e812345678")
    monkeypatch.setattr(uuid, "uuid4", lambda: known)

    result = run({})

    assert result["request_id"] == str(known)


def test_timestamp_field_names_the_field_the_server_receives(run: Invoke, server) -> None:
    result = run({"messages": [{"action": "x"}, {"sentAt": "mine"}]}, TIMESTAMP_FIELD="sentAt")

    assert result["ok"] is True, result
    first, second = (json.loads(frame) for frame in server.messages)
    assert set(first) == {"action", "sentAt"}
    assert datetime.fromisoformat(first["sentAt"]).utcoffset().total_seconds() == 0
    assert second == {"sentAt": "mine"}
    assert result["sent"] == [first, second]


def test_an_empty_timestamp_field_sends_objects_as_written(run: Invoke, server) -> None:
    result = run({"message": {"action": "x"}}, TIMESTAMP_FIELD="")

    assert result["ok"] is True, result
    assert server.messages == ['{"action":"x"}']
    assert result["sent"] == [{"action": "x"}]


def test_a_binary_message_goes_out_as_a_binary_frame(run: Invoke, server) -> None:
    data = b"\x00\x01 binary \xff"
    message = {"binary_base64": base64.b64encode(data).decode("ascii")}

    result = run({"message": message})

    assert result["ok"] is True, result
    assert server.messages == [data]
    assert result["sent"] == [message]


def test_a_binary_message_with_invalid_base64_opens_no_connection(run: Invoke, server) -> None:
    result = run({"message": {"binary_base64": "not base64!"}})

    assert result["error"]["type"] == "invalid_request"
    assert "base64" in result["error"]["message"]
    assert server.handshakes == []


def runtime_size(result: dict) -> int:
    """Bytes of a result as the Lambda runtime serialises it (its default separators)."""
    return len(json.dumps(result, ensure_ascii=False, allow_nan=False).encode("utf-8"))


def test_a_message_that_sent_shows_six_times_larger_is_counted_as_shown(
    run: Invoke, server
) -> None:
    # 1,000,000 bytes on the wire, 6,000,002 in the result: each control character
    # is shown as \u0001. The result must never pass Lambda's 6 MB response limit.
    result = run({"message": "\x01" * 1_000_000, "expected_replies": 0})

    assert runtime_size(result) <= 6_000_000
    assert result["error"]["type"] == "invalid_request", result["error"]
    assert server.handshakes == []
