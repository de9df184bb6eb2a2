"""Trigger recognition and request validation."""

from __future__ import annotations

import base64
import copy
import json
from pathlib import Path
from typing import Any

import pytest

from ws_exchange.errors import InvalidRequest
from ws_exchange.framing import MAX_OUTGOING_BYTES, Outgoing, prepare
from ws_exchange.triggers import (
    MAX_BODY_BYTES,
    MAX_MESSAGES,
    Request,
    Trigger,
    parse_payload,
    parse_request,
    recognise,
    stamped,
)


def prepared(*messages: Any) -> tuple[Outgoing, ...]:
    """The messages as a request carries them: checked and encoded for sending,
    their timestamp's field (a setting) not chosen yet."""
    return tuple(prepare(message, timestamp_field="") for message in messages)


EVENTS = Path(__file__).resolve().parents[2] / "events"


def load_event(name: str) -> Any:
    return json.loads((EVENTS / name).read_text(encoding="utf-8"))


def invalid(event: Any, trigger: Trigger | None = None) -> InvalidRequest:
    with pytest.raises(InvalidRequest) as info:
        parse_request(event, recognise(event) if trigger is None else trigger)
    assert info.value.type == "invalid_request"
    return info.value


def nest(depth: int, leaf: Any = 0, *, as_object: bool = False) -> Any:
    """``depth`` containers around ``leaf``."""
    value = leaf
    for _ in range(depth):
        value = {"k": value} if as_object else [value]
    return value


def api_event(sample: str, body: str | None, *, b64: bool = False) -> dict[str, Any]:
    event = load_event(sample)
    event["body"] = body
    event["isBase64Encoded"] = b64
    return event


API_SAMPLES = ["api-http.json", "api-rest.json"]


# --- recognise -------------------------------------------------------------


@pytest.mark.parametrize(
    ("sample", "trigger"),
    [
        ("scheduled.json", Trigger.SCHEDULE),
        ("direct.json", Trigger.DIRECT),
        ("api-http.json", Trigger.HTTP_API),
        ("api-rest.json", Trigger.REST_API),
    ],
)
def test_recognise_sample_events(sample: str, trigger: Trigger) -> None:
    assert recognise(load_event(sample)) is trigger


EC2_STATE_CHANGE = {
    "version": "0",
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "detail-type": "EC2 Instance State-change Notification",
    "source": "aws.ec2",
    "account": "123456789012",
    "time": "2026-11-24T04:00:00Z",
    "region": "us-east-1",
    "resources": [],
    "detail": {"instance-id": "i-0123", "state": "running"},
}


@pytest.mark.parametrize(
    "event",
    [
        [],
        [{"message": "x"}],
        "a string",
        "",
        None,
        42,
        {},
        EC2_STATE_CHANGE,
        {**EC2_STATE_CHANGE, "source": "aws.events"},
        {"source": "my.app", "detail-type": "Scheduled Event", "detail": {}},
        {"source": "aws.events", "detail-type": "scheduled event", "detail": {}},
        {"version": "2.0", "body": "{}"},
        {"version": "2.0", "requestContext": "not a mapping"},
        {"httpMethod": "POST", "body": "{}"},
        {"version": "1.0", "requestContext": {}},
    ],
)
def test_recognise_other_shapes_as_direct(event: Any) -> None:
    assert recognise(event) is Trigger.DIRECT


def test_recognise_function_url_shape_as_http_api() -> None:
    event = {"version": "2.0", "rawPath": "/", "requestContext": {"http": {"method": "POST"}}}
    assert recognise(event) is Trigger.HTTP_API


def test_recognise_rest_api_with_version_field() -> None:
    assert recognise({"version": "1.0", "httpMethod": "GET", "requestContext": {}}) is (
        Trigger.REST_API
    )


@pytest.mark.parametrize(
    ("trigger", "is_api"),
    [
        (Trigger.DIRECT, False),
        (Trigger.SCHEDULE, False),
        (Trigger.HTTP_API, True),
        (Trigger.REST_API, True),
    ],
)
def test_is_api(trigger: Trigger, is_api: bool) -> None:
    assert trigger.is_api is is_api


# --- parse_request on the sample events ----------------------------------------


@pytest.mark.parametrize(
    ("sample", "expected"),
    [
        ("scheduled.json", Request()),
        (
            "direct.json",
            Request(
                messages=prepared({"action": "subscribe", "channel": "prices"}),
                expected_replies=2,
                reply_timeout=5.0,
            ),
        ),
        (
            "api-http.json",
            Request(
                messages=prepared({"action": "ping"}, {"action": "subscribe", "channel": "prices"}),
                expected_replies=1,
            ),
        ),
        ("api-rest.json", Request(messages=prepared("hello over REST"))),
    ],
)
def test_parse_request_sample_events(sample: str, expected: Request) -> None:
    event = load_event(sample)
    before = copy.deepcopy(event)
    assert parse_request(event, recognise(event)) == expected
    assert event == before


def test_http_sample_body_really_is_base64() -> None:
    event = load_event("api-http.json")
    assert event["isBase64Encoded"] is True
    decoded = json.loads(base64.b64decode(event["body"], validate=True))
    assert parse_request(event, Trigger.HTTP_API) == parse_payload(decoded)


def test_reply_timeout_is_a_float() -> None:
    request = parse_request(load_event("direct.json"), Trigger.DIRECT)
    assert type(request.reply_timeout) is float


# --- direct payload: message / messages ------------------------------------------


@pytest.mark.parametrize(
    "message",
    [{"action": "ping"}, "plain text", 42, 1.5, True, None, [1, "two", {"three": 3}], {}, ""],
)
def test_message_takes_any_json_value(message: Any) -> None:
    assert parse_payload({"message": message}) == Request(messages=prepared(message))


def test_empty_payload_means_defaults() -> None:
    assert parse_payload({}) == Request()


@pytest.mark.parametrize("count", [1, 2, MAX_MESSAGES])
def test_messages_list_in_order(count: int) -> None:
    listed = [{"n": n} for n in range(count)]
    assert parse_payload({"messages": listed}).messages == prepared(*listed)


def test_message_and_messages_together_rejected() -> None:
    error = invalid({"message": "a", "messages": ["b"]})
    assert "message" in error.message
    assert "messages" in error.message


@pytest.mark.parametrize(
    "messages",
    [
        [],
        ["x"] * (MAX_MESSAGES + 1),
        "not a list",
        {"action": "ping"},
        None,
        42,
    ],
    ids=["empty", "1001", "string", "object", "null", "number"],
)
def test_messages_must_be_a_list_of_1_to_1000(messages: Any) -> None:
    assert "messages" in invalid({"messages": messages}).message


# --- direct payload: unknown fields -------------------------------------------------


SMUGGLED = {
    "uri": "wss://evil.example.net/steal",
    "endpoint": "wss://evil.example.org/steal",
    "websocket_uri": "wss://evil.example.com/steal",
    "headers": {"Authorization": "Bearer leaked-header-value"},
    "token": "leaked-token-value",
    "secret_id": "arn:aws:secretsmanager:us-east-1:1:secret:other-secret",
}


@pytest.mark.parametrize(("field", "value"), list(SMUGGLED.items()), ids=list(SMUGGLED))
@pytest.mark.parametrize("with_message", [False, True])
def test_unknown_field_rejected_naming_it_without_its_value(
    field: str, value: Any, with_message: bool
) -> None:
    payload = {field: value, **({"message": "hi"} if with_message else {})}
    error = invalid(payload)
    assert field in error.message
    for text in (error.message, str(error)):
        assert "evil" not in text
        assert "leaked" not in text
        assert "other-secret" not in text


def test_all_smuggled_fields_together_rejected_without_values() -> None:
    error = invalid(dict(SMUGGLED))
    assert "evil" not in error.message
    assert "leaked" not in error.message


@pytest.mark.parametrize(
    ("field", "known"),
    [
        ("expected_reply", "expected_replies"),
        ("mesage", "message"),
        ("reply_timeout", "reply_timeout_seconds"),
        ("max_reply", "max_replies"),
        ("Expect", "expect"),
    ],
)
def test_a_misspelt_field_is_refused_with_the_closest_known_one(field: str, known: str) -> None:
    error = invalid({field: 2})
    assert f"{field} (did you mean {known}?)" in error.message


def test_each_misspelt_field_gets_its_own_suggestion_and_others_none() -> None:
    message = invalid({"uri": "wss://evil.example.net/", "expected_reply": 2}).message
    assert "expected_reply (did you mean expected_replies?)" in message
    assert "uri," in message or message.endswith("uri.")
    assert "uri (did you mean" not in message
    assert "evil" not in message


def test_a_field_nothing_resembles_gets_no_suggestion() -> None:
    assert "did you mean" not in invalid({"endpoint": "wss://evil.example.net/"}).message


@pytest.mark.parametrize("sample", API_SAMPLES)
def test_unknown_field_in_api_body_rejected(sample: str) -> None:
    body = json.dumps({"message": "hi", "uri": "wss://evil.example.net/"})
    error = invalid(api_event(sample, body))
    assert "uri" in error.message
    assert "evil" not in error.message


# --- direct payload: expected_replies and reply_timeout_seconds ---------------------


@pytest.mark.parametrize("value", [0, 1, 50, 100])
def test_expected_replies_bounds_accepted(value: int) -> None:
    assert parse_payload({"expected_replies": value}).expected_replies == value


@pytest.mark.parametrize("value", [-1, 101, 10**6, True, False, 1.0, 2.5, "1", [1], {"n": 1}])
def test_expected_replies_rejected(value: Any) -> None:
    assert "expected_replies" in invalid({"expected_replies": value}).message


def test_null_override_means_configured_value() -> None:
    request = parse_payload({"expected_replies": None, "reply_timeout_seconds": None})
    assert request == Request()


@pytest.mark.parametrize(
    ("value", "expected"), [(0.001, 0.001), (5, 5.0), (2.5, 2.5), (900, 900.0)]
)
def test_reply_timeout_accepted(value: float, expected: float) -> None:
    assert parse_payload({"reply_timeout_seconds": value}).reply_timeout == expected


@pytest.mark.parametrize(
    "value",
    [
        0,
        0.0,
        -1,
        -0.5,
        900.001,
        901,
        float("inf"),
        float("-inf"),
        float("nan"),
        True,
        False,
        "5",
        [5],
    ],
)
def test_reply_timeout_rejected(value: Any) -> None:
    assert "reply_timeout_seconds" in invalid({"reply_timeout_seconds": value}).message


def test_huge_integer_reply_timeout_is_invalid_request() -> None:
    payload = json.loads('{"reply_timeout_seconds": 1' + "0" * 400 + "}")
    assert "reply_timeout_seconds" in invalid(payload).message


# --- direct payload: what JSON cannot carry ------------------------------------------


@pytest.mark.parametrize(
    "payload",
    [
        {"message": float("nan")},
        {"message": float("inf")},
        {"message": {"price": float("-inf")}},
        {"message": {"a": [1, {"b": float("nan")}]}},
        {"messages": [1, 2, [float("inf")]]},
    ],
)
def test_nan_and_infinity_inside_a_message_rejected(payload: dict[str, Any]) -> None:
    invalid(payload)


@pytest.mark.parametrize("message", [{1, 2}, b"bytes", object(), [complex(1, 2)]], ids=repr)
def test_non_json_python_values_rejected(message: Any) -> None:
    invalid({"message": message})


@pytest.mark.parametrize("as_object", [False, True], ids=["lists", "objects"])
def test_nesting_of_64_accepted(as_object: bool) -> None:
    message = nest(64, as_object=as_object)
    assert parse_payload({"message": message}).messages == prepared(message)


@pytest.mark.parametrize("depth", [65, 100, 100_000])
@pytest.mark.parametrize("as_object", [False, True], ids=["lists", "objects"])
def test_nesting_over_64_rejected(depth: int, as_object: bool) -> None:
    error = invalid({"message": nest(depth, as_object=as_object)})
    assert "64" in error.message


def test_nesting_over_64_rejected_inside_messages_list() -> None:
    invalid({"messages": ["fine", nest(65)]})


@pytest.mark.parametrize("leaf", [[], {}], ids=["empty-list", "empty-object"])
def test_65_nested_containers_rejected_even_with_an_empty_innermost(leaf: Any) -> None:
    invalid({"message": nest(64, leaf)})


# --- non-object events and details ---------------------------------------------------


@pytest.mark.parametrize("event", [[], [{"message": "x"}], "text", None, 42, True])
def test_direct_event_must_be_an_object(event: Any) -> None:
    assert "event" in invalid(event, Trigger.DIRECT).message


def test_non_scheduled_eventbridge_event_is_invalid_request() -> None:
    error = invalid(EC2_STATE_CHANGE)
    assert "detail" in error.message


# --- scheduled events ---------------------------------------------------------------


def scheduled(detail: Any = ..., **extra: Any) -> dict[str, Any]:
    event = load_event("scheduled.json")
    if detail is ...:
        del event["detail"]
    else:
        event["detail"] = detail
    event.update(extra)
    return event


@pytest.mark.parametrize(
    ("detail", "expected"),
    [
        (..., Request()),
        (None, Request()),
        ({}, Request()),
        ({"message": {"action": "refresh"}}, Request(messages=prepared({"action": "refresh"}))),
        ({"messages": ["a", {"b": 1}]}, Request(messages=prepared("a", {"b": 1}))),
        (
            {"message": "x", "expected_replies": 0, "reply_timeout_seconds": 1.5},
            Request(messages=prepared("x"), expected_replies=0, reply_timeout=1.5),
        ),
    ],
    ids=["no-detail", "null-detail", "empty", "message", "messages", "overrides"],
)
def test_scheduled_event(detail: Any, expected: Request) -> None:
    event = scheduled(detail)
    assert recognise(event) is Trigger.SCHEDULE
    assert parse_request(event, Trigger.SCHEDULE) == expected


@pytest.mark.parametrize(
    "detail",
    [
        {"uri": "wss://evil.example.net/"},
        {"message": "x", "headers": {"X": "evil"}},
        {"message": "a", "messages": ["b"]},
        {"messages": []},
        {"expected_replies": 101},
    ],
)
def test_scheduled_event_invalid_detail(detail: Any) -> None:
    error = invalid(scheduled(detail))
    assert "evil" not in error.message


@pytest.mark.parametrize("detail", [..., {}, None])
def test_scheduled_event_without_a_detail_sends_the_default(detail: Any) -> None:
    assert parse_request(scheduled(detail), Trigger.SCHEDULE) == Request()


@pytest.mark.parametrize(
    "detail", ["a string", "", ["message"], [], 42, 0, 1.5, True, False], ids=repr
)
def test_scheduled_detail_that_is_not_an_object_is_invalid_request(detail: Any) -> None:
    error = invalid(scheduled(detail))
    assert "detail" in error.message
    assert "object" in error.message


def test_scheduled_unknown_detail_field_is_named() -> None:
    assert "channel" in invalid(scheduled({"channel": "prices"})).message


# --- API Gateway bodies -----------------------------------------------------------------


def b64(text: str) -> str:
    return base64.b64encode(text.encode("utf-8")).decode("ascii")


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize("b64_encoded", [False, True], ids=["plain", "base64"])
def test_api_body_plain_and_base64(sample: str, b64_encoded: bool) -> None:
    payload = {"message": {"action": "ping", "note": "café ☕"}, "expected_replies": 3}
    text = json.dumps(payload, ensure_ascii=False)
    event = api_event(sample, b64(text) if b64_encoded else text, b64=b64_encoded)
    assert parse_request(event, recognise(event)) == Request(
        messages=prepared({"action": "ping", "note": "café ☕"}), expected_replies=3
    )


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize(
    ("body", "b64_encoded"),
    [(None, False), ("", False), ("  \n", False), ("", True), (b64("  "), True)],
)
def test_api_empty_body_means_defaults(sample: str, body: str | None, b64_encoded: bool) -> None:
    event = api_event(sample, body, b64=b64_encoded)
    assert parse_request(event, recognise(event)) == Request()


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize(
    "body",
    ["not json", "{", "{'message': 'x'}", '{"message": NaN}', "[" * 100_000],
    ids=["text", "truncated", "python-repr", "nan", "deep"],
)
def test_api_non_json_body_rejected(sample: str, body: str) -> None:
    assert "JSON" in invalid(api_event(sample, body)).message


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize("body", ['[{"message": "x"}]', '"text"', "42", "null", "true"])
def test_api_json_body_that_is_not_an_object_rejected(sample: str, body: str) -> None:
    assert "body" in invalid(api_event(sample, body)).message


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize(
    "body",
    ["abc", "eyJtZXNzYWdlIjogIngifQ", base64.b64encode(b"\xff\xfe\xfd").decode("ascii")],
    ids=["bad-padding", "missing-padding", "not-utf8"],
)
def test_api_invalid_base64_rejected(sample: str, body: str) -> None:
    assert "base64" in invalid(api_event(sample, body, b64=True)).message


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize(
    "body",
    ["!!!!", "%%%", "$" + b64('{"message": "x"}') + "$"],
    ids=["bangs", "percents", "valid-with-garbage"],
)
def test_api_non_alphabet_base64_rejected(sample: str, body: str) -> None:
    invalid(api_event(sample, body, b64=True))


def padded_body(size: int) -> str:
    """A valid JSON payload of exactly ``size`` ASCII characters."""
    skeleton = '{"message": ""}'
    return '{"message": "' + "a" * (size - len(skeleton)) + '"}'


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize("b64_encoded", [False, True], ids=["plain", "base64"])
def test_api_body_of_exactly_1_mib_accepted(sample: str, b64_encoded: bool) -> None:
    text = padded_body(MAX_BODY_BYTES)
    assert len(text.encode("utf-8")) == MAX_BODY_BYTES
    event = api_event(sample, b64(text) if b64_encoded else text, b64=b64_encoded)
    request = parse_request(event, recognise(event))
    assert request.messages is not None
    assert len(request.messages[0].message) == MAX_BODY_BYTES - len('{"message": ""}')


@pytest.mark.parametrize("sample", API_SAMPLES)
@pytest.mark.parametrize("b64_encoded", [False, True], ids=["plain", "base64"])
@pytest.mark.parametrize("size", [MAX_BODY_BYTES + 1, 2 * MAX_BODY_BYTES])
def test_api_body_over_1_mib_rejected(sample: str, b64_encoded: bool, size: int) -> None:
    text = padded_body(size)
    event = api_event(sample, b64(text) if b64_encoded else text, b64=b64_encoded)
    assert str(MAX_BODY_BYTES) in invalid(event).message


@pytest.mark.parametrize("sample", API_SAMPLES)
def test_api_multibyte_body_over_1_mib_rejected(sample: str) -> None:
    text = json.dumps({"message": "é" * 600_000}, ensure_ascii=False)
    assert len(text.encode("utf-8")) > MAX_BODY_BYTES
    invalid(api_event(sample, text))


@pytest.mark.parametrize(
    "message",
    [
        "x" * (1024 * 1024 + 1),
        {"k": "x" * (1024 * 1024)},
        {"x" * (1024 * 1024): 1},
        ["x" * 1024] * 1024,
        # Counted as sent: escapes and long numbers take more than their characters.
        ["\n" * 1024] * 512,
        [10**300] * 4000,
        "é" * (512 * 1024 + 1),
    ],
    ids=["string", "value", "key", "list", "escapes", "numbers", "multibyte"],
)
def test_message_over_one_mib_rejected(message: object) -> None:
    with pytest.raises(InvalidRequest, match="larger than"):
        parse_payload({"message": message})


def test_message_just_under_one_mib_accepted() -> None:
    request = parse_payload({"message": "x" * (1024 * 1024 - 10)})

    assert request.messages is not None
    assert len(request.messages[0].message) == 1024 * 1024 - 10


# --- direct payload: steps -------------------------------------------------------------

STEPS = [
    {"send": {"action": "login"}},
    {"receive": {"until": "type == 'welcome'"}, "extract": {"sid": "session"}},
    {"send": {"action": "subscribe", "session": "{{sid}}"}},
    {"receive": {"count": 1}},
]


def test_steps_are_parsed_into_the_request() -> None:
    from ws_exchange.scenario import parse_steps

    request = parse_payload({"steps": STEPS})
    assert request == Request(steps=parse_steps(STEPS))
    assert request.messages is None


def test_steps_keep_expect_and_reply_timeout() -> None:
    request = parse_payload(
        {"steps": STEPS, "expect": ["vars.sid != null"], "reply_timeout_seconds": 3}
    )
    assert request.steps is not None and len(request.steps) == 4
    assert request.reply_timeout == 3.0
    assert request.checks is not None
    assert [item.text for item in request.checks.expect] == ["vars.sid != null"]
    assert request.checks.until is None and request.checks.collect_seconds is None


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("message", {"action": "ping"}),
        ("message", None),
        ("messages", ["a"]),
        ("until", "type == 'x'"),
        ("expected_replies", 1),
        ("max_replies", 5),
        ("collect_seconds", 1),
    ],
)
def test_steps_cannot_be_combined_with_message_or_reply_counts(field: str, value: Any) -> None:
    error = invalid({"steps": STEPS, field: value})
    assert error.message.startswith(f"The event carries steps and {field}: steps say what to send")
    assert "expect and reply_timeout_seconds still apply" in error.message


@pytest.mark.parametrize("field", ["until", "expected_replies", "max_replies", "collect_seconds"])
def test_a_null_reply_field_beside_steps_counts_as_absent(field: str) -> None:
    assert parse_payload({"steps": STEPS, field: None}).steps is not None


def test_every_clashing_field_is_named() -> None:
    message = invalid({"steps": STEPS, "messages": ["a"], "collect_seconds": 2}).message
    assert message.startswith("The event carries steps and messages, collect_seconds:")


def test_an_invalid_step_is_an_invalid_request_naming_it() -> None:
    steps = [*STEPS, {"receive": {"count": 0}}]
    assert invalid({"steps": steps}).message == (
        "steps[4].receive.count must be a whole number from 1 to 1000."
    )


@pytest.mark.parametrize("steps", [None, [], {"send": 1}, "send"])
def test_steps_must_be_a_list_of_steps(steps: Any) -> None:
    assert invalid({"steps": steps}).message.startswith("steps must be a list of 1 to 1000")


def test_steps_in_a_scheduled_detail() -> None:
    event = {**load_event("scheduled.json"), "detail": {"steps": STEPS}}
    request = parse_request(event, Trigger.SCHEDULE)
    assert request.steps is not None and len(request.steps) == 4


@pytest.mark.parametrize("sample", API_SAMPLES)
def test_steps_in_an_api_body(sample: str) -> None:
    event = api_event(sample, json.dumps({"steps": STEPS, "expect": ["length(received) > `0`"]}))
    request = parse_request(event, recognise(event))
    assert request.steps is not None and len(request.steps) == 4


def test_steps_beside_an_unknown_field_name_the_field() -> None:
    assert "uri" in invalid({"steps": STEPS, "uri": "wss://evil.example.net/"}).message


# --- binary messages and the timestamp's field -------------------------------------


def test_a_binary_message_with_invalid_base64_is_invalid_request() -> None:
    error = invalid({"message": {"binary_base64": "not base64!"}})
    assert error.message == (
        "The message has a binary_base64 that is not valid base64 (standard alphabet, padded)."
    )


def test_a_binary_message_in_a_list_is_named_by_its_index() -> None:
    error = invalid({"messages": ["a", {"binary_base64": 5}]})
    assert error.message.startswith("Message 1 has a binary_base64 that is not a string")


def test_a_valid_binary_message_is_carried_as_its_bytes() -> None:
    request = parse_payload({"message": {"binary_base64": "AP8="}})
    assert request.messages is not None
    assert request.messages[0].sent_at("T") == {"binary_base64": "AP8="}
    assert request.messages[0].frame_at("T") == b"\x00\xff"


def test_request_messages_get_their_timestamp_field_from_the_configuration() -> None:
    request = parse_payload({"messages": [{"a": 1}, "text", {"sentAt": 0}]})
    assert request.messages is not None
    sent = [m.sent_at("T") for m in stamped(request.messages, "sentAt")]
    assert sent == [{"a": 1, "sentAt": "T"}, "text", {"sentAt": 0}]
    assert [m.sent_at("T") for m in stamped(request.messages, "")] == [
        {"a": 1},
        "text",
        {"sentAt": 0},
    ]


@pytest.mark.parametrize(("count", "which"), [(1, "The message"), (2, "Message 1")])
def test_a_message_the_timestamp_takes_past_the_limit_is_invalid_request(
    count: int, which: str
) -> None:
    fits = {"x": "a" * (MAX_OUTGOING_BYTES - 100)}
    request = parse_payload({"messages": ["a", fits][-count:]})
    assert request.messages is not None
    stamped(request.messages, "timestamp")
    with pytest.raises(InvalidRequest) as info:
        stamped(request.messages, "t" * 64)
    assert info.value.message == f"{which} is larger than {MAX_OUTGOING_BYTES} bytes once encoded."


def test_scheduled_samples_carry_an_empty_detail_as_eventbridge_sends_them() -> None:
    # A schedule rule's event always has "detail": {}; a payload for a scheduled run
    # comes as a Scheduler or rule Input instead, which is a direct payload.
    scheduled = [
        path.name
        for path in sorted(EVENTS.glob("*.json"))
        if json.loads(path.read_text()).get("detail-type") == "Scheduled Event"
    ]
    assert scheduled
    for name in scheduled:
        assert load_event(name)["detail"] == {}, name


# --- naming targets ------------------------------------------------------------


def test_the_four_ways_to_name_targets() -> None:
    from ws_exchange.triggers import Selection

    assert parse_payload({"target": "a"}).selection == Selection(names=("a",), single=True)
    assert parse_payload({"targets": ["a", "b"]}).selection == Selection(names=("a", "b"))
    assert parse_payload({"targets": "*"}).selection == Selection()
    assert parse_payload({"group": "eu"}).selection == Selection(group="eu")
    assert parse_payload({}).selection is None


@pytest.mark.parametrize(
    "payload",
    [
        {"target": "a", "group": "b"},
        {"targets": []},
        {"targets": "all"},
        {"targets": ["a", "a"]},
        {"target": "Not A Name"},
        {"group": 3},
    ],
)
def test_a_bad_selection_is_invalid(payload: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequest):
        parse_payload(payload)


def test_a_target_may_be_named_with_overrides_that_are_validated_too() -> None:
    request = parse_payload({"target": "a", "message": {"x": 1}, "expect": ["ok"]})
    assert request.fields == {"message": {"x": 1}, "expect": ["ok"]}
    with pytest.raises(InvalidRequest, match="expected_replies"):
        parse_payload({"target": "a", "expected_replies": -1})
