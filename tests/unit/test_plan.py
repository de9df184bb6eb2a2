"""What one invocation does: the request's messages under the configuration's TIMESTAMP_FIELD."""

from __future__ import annotations

import json

import pytest

from ws_exchange.config import load_config
from ws_exchange.errors import InvalidRequest
from ws_exchange.framing import MAX_OUTGOING_BYTES, Outgoing, now
from ws_exchange.plan import Plan
from ws_exchange.scenario import SendStep
from ws_exchange.service import make_plan
from ws_exchange.triggers import parse_payload

BASE = {"WEBSOCKET_URI": "wss://stream.example.com/v1", "TOKEN_SECRET_ID": "prod/ws-token"}


def messages(plan: Plan) -> list[Outgoing]:
    """The ready-made messages of the plan's send steps, in order."""
    return [step.outgoing for step in plan.steps if isinstance(step, SendStep) and step.outgoing]


@pytest.mark.parametrize(
    ("setting", "expected"),
    [
        ({}, {"a": 1, "timestamp": "T"}),
        ({"TIMESTAMP_FIELD": "sentAt"}, {"a": 1, "sentAt": "T"}),
        ({"TIMESTAMP_FIELD": ""}, {"a": 1}),
    ],
)
def test_request_messages_are_stamped_in_the_configured_field(
    setting: dict[str, str], expected: dict[str, object]
) -> None:
    plan = make_plan(load_config({**BASE, **setting}), parse_payload({"message": {"a": 1}}))
    (outgoing,) = messages(plan)
    timestamp = now()
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert sent == {k: timestamp if v == "T" else v for k, v in expected.items()}
    assert plan.sent_bytes == len(frame.encode("utf-8"))


def test_the_default_message_is_stamped_in_the_configured_field() -> None:
    plan = make_plan(load_config({**BASE, "TIMESTAMP_FIELD": "ts"}), parse_payload({}))
    assert [m.sent_at("T") for m in messages(plan)] == [{"action": "ping", "ts": "T"}]


def test_a_message_only_the_configured_field_takes_past_the_limit_is_invalid_request() -> None:
    request = parse_payload({"message": {"x": "a" * (MAX_OUTGOING_BYTES - 100)}})
    make_plan(load_config(BASE), request)
    with pytest.raises(InvalidRequest, match="larger than"):
        make_plan(load_config({**BASE, "TIMESTAMP_FIELD": "t" * 64}), request)


def test_binary_messages_are_limited_by_their_bytes_and_counted_as_sent_shows_them() -> None:
    message = {"binary_base64": "AAECAw=="}
    plan = make_plan(load_config(BASE), parse_payload({"message": message}))
    assert messages(plan)[0].size == 4
    assert messages(plan)[0].sent_at("T") == message
    assert messages(plan)[0].frame_at("T") == b"\x00\x01\x02\x03"
    assert plan.sent_bytes == len('{"binary_base64":"AAECAw=="}')


@pytest.mark.parametrize("text", ["plain", 'say "hi"', "\x01\x02", "café"], ids=repr)
def test_string_messages_are_counted_as_sent_shows_them(text: str) -> None:
    plan = make_plan(load_config(BASE), parse_payload({"message": text}))
    assert messages(plan)[0].sent_at("T") == text
    assert messages(plan)[0].frame_at("T") == text
    assert plan.sent_bytes == len(json.dumps(text, ensure_ascii=False).encode("utf-8"))


def test_replies_beyond_the_progress_memory_budget_are_message_too_large() -> None:
    # A fleet gives each target its share of the function's memory budget.
    from ws_exchange.errors import MessageTooLarge
    from ws_exchange.plan import Progress
    from ws_exchange.replies import keep

    plan = make_plan(load_config(BASE), parse_payload({}))
    small = Progress(memory_budget=1000)
    with pytest.raises(MessageTooLarge, match="memory"):
        keep("[" + "1," * 100 + "1]", plan, small)
    assert keep("[" + "1," * 100 + "1]", plan, Progress()) == [1] * 101
