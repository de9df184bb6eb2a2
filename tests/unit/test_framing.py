"""Message framing."""

from __future__ import annotations

import base64
import copy
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from ws_exchange.framing import (
    MAX_OUTGOING_BYTES,
    decode,
    encode,
    kept_size,
    now,
    prepare,
    stamp,
)

FIXED = datetime(2026, 11, 24, 4, 0, 0, 123456, tzinfo=UTC)


# --- stamp -------------------------------------------------------------------


def test_object_gains_an_iso8601_utc_timestamp() -> None:
    stamped = stamp({"action": "ping"})
    assert set(stamped) == {"action", "timestamp"}
    assert stamped["action"] == "ping"
    moment = datetime.fromisoformat(stamped["timestamp"])
    assert moment.tzinfo is not None
    assert moment.utcoffset() == timedelta(0)
    assert stamped["timestamp"].endswith("+00:00")


def test_timestamp_is_the_current_time() -> None:
    before = datetime.now(UTC)
    moment = datetime.fromisoformat(stamp({})["timestamp"])
    after = datetime.now(UTC)
    assert before <= moment <= after


def test_stamp_uses_the_given_moment() -> None:
    assert stamp({"a": 1}, now=FIXED) == {"a": 1, "timestamp": "2026-11-24T04:00:00.123456+00:00"}


@pytest.mark.parametrize("existing", ["2020-01-01T00:00:00Z", None, 0, "", {"nested": True}])
def test_existing_timestamp_is_not_overwritten(existing: Any) -> None:
    message = {"action": "ping", "timestamp": existing}
    assert stamp(message, now=FIXED) == {"action": "ping", "timestamp": existing}


@pytest.mark.parametrize("message", [{"action": "ping"}, {"a": {"b": [1, 2]}}, {}])
def test_original_object_is_not_mutated(message: dict[str, Any]) -> None:
    before = copy.deepcopy(message)
    stamped = stamp(message, now=FIXED)
    assert message == before
    assert stamped is not message
    assert "timestamp" not in message


@pytest.mark.parametrize(
    "message",
    ["plain text", '{"action": "ping"}', "", 0, 42, 1.5, True, False, None, [1, 2], [{"a": 1}]],
    ids=repr,
)
def test_non_objects_are_not_stamped(message: Any) -> None:
    before = copy.deepcopy(message)
    assert stamp(message, now=FIXED) == before
    assert type(stamp(message, now=FIXED)) is type(before)


def test_nested_objects_are_not_stamped() -> None:
    stamped = stamp({"inner": {"x": 1}}, now=FIXED)
    assert stamped["inner"] == {"x": 1}


# --- encode ---------------------------------------------------------------------


@pytest.mark.parametrize("text", ["plain text", '{"action": "ping"}', "", "  spaced  ", "café ☕"])
def test_string_is_sent_unchanged(text: str) -> None:
    assert encode(text) == text


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        (42, "42"),
        (-1.5, "-1.5"),
        (0, "0"),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        ([1, "two", None], '[1,"two",null]'),
        ([], "[]"),
    ],
)
def test_other_values_are_sent_as_json_text(message: Any, expected: str) -> None:
    assert encode(message) == expected


@pytest.mark.parametrize(
    "message",
    [{"action": "ping"}, {"a": [1, {"b": None}], "note": "café ☕"}, {}],
)
def test_object_is_sent_as_json_text(message: dict[str, Any]) -> None:
    text = encode(message)
    assert isinstance(text, str)
    assert json.loads(text) == message


def test_stamped_object_round_trips_with_its_timestamp() -> None:
    stamped = stamp({"action": "subscribe", "channel": "prices"}, now=FIXED)
    assert json.loads(encode(stamped)) == {
        "action": "subscribe",
        "channel": "prices",
        "timestamp": "2026-11-24T04:00:00.123456+00:00",
    }


def test_non_ascii_is_kept_as_utf8_text_not_escaped() -> None:
    assert encode({"note": "café"}) == '{"note":"café"}'


@pytest.mark.parametrize("value", [float("nan"), float("inf"), {"x": float("-inf")}], ids=repr)
def test_non_json_numbers_are_never_put_on_the_wire(value: Any) -> None:
    with pytest.raises(ValueError):
        encode(value)


def test_stamp_with_non_utc_now_keeps_its_offset() -> None:
    # The caller chooses ``now``; production passes none and gets UTC (tested above).
    other = datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=2)))
    assert stamp({}, now=other)["timestamp"] == "2026-01-01T00:00:00.000000+02:00"


# --- decode -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        ('{"type": "pong"}', {"type": "pong"}),
        ('{"a":[1,2,{"b":null}]}', {"a": [1, 2, {"b": None}]}),
        ("[1, 2]", [1, 2]),
        ('"quoted"', "quoted"),
        ("42", 42),
        ("-1.5", -1.5),
        ("true", True),
        ("null", None),
        (' {"padded": true} \n', {"padded": True}),
    ],
)
def test_json_text_is_decoded(frame: str, expected: Any) -> None:
    decoded = decode(frame)
    assert decoded == expected
    assert type(decoded) is type(expected)


@pytest.mark.parametrize(
    "frame",
    [
        "pong",
        "",
        "   ",
        "{not json}",
        '{"truncated": ',
        "NaN",
        "Infinity",
        "-Infinity",
        '{"price": NaN}',
        "[1, Infinity]",
        "1" * 5000,  # more digits than Python's int parsing allows
        "café ☕",
    ],
    ids=lambda f: f[:20],
)
def test_other_text_is_kept_as_the_string(frame: str) -> None:
    decoded = decode(frame)
    assert decoded == frame
    assert isinstance(decoded, str)


@pytest.mark.parametrize("frame", ["NaN", '{"price": NaN}', "Infinity"])
def test_non_json_constants_keep_the_result_valid_json(frame: str) -> None:
    json.dumps({"received": [decode(frame)]}, allow_nan=False)


@pytest.mark.parametrize(
    "frame",
    [b"\x00\x01\xff\xfe", b"", b'{"type": "pong"}', bytes(range(256)), bytearray(b"\x10\x20")],
    ids=["binary", "empty", "json-bytes", "all-bytes", "bytearray"],
)
def test_binary_frame_is_base64(frame: bytes) -> None:
    decoded = decode(frame)
    assert set(decoded) == {"binary_base64"}
    assert isinstance(decoded["binary_base64"], str)
    assert base64.b64decode(decoded["binary_base64"], validate=True) == bytes(frame)


def test_binary_frame_known_value() -> None:
    assert decode(b"\x00\xff") == {"binary_base64": "AP8="}


def test_decoded_binary_is_json_serialisable() -> None:
    assert json.loads(json.dumps(decode(b"\x80\x81"))) == {"binary_base64": "gIE="}


def test_reply_too_deep_to_decode_is_kept_as_its_text() -> None:
    frame = "[" * 100_000 + "]" * 100_000

    assert decode(frame) == frame


# --- prepare: encoded once, stamped when sent -----------------------------------


@pytest.mark.parametrize(
    "message",
    [
        {"action": "ping"},
        {},
        {"a": [1, {"b": None}], "note": "café ☕", "n": 1.5e300},
        {"timestamp": "kept", "x": 1},
        "plain text",
        "",
        42,
        None,
        [1, {"a": "b"}],
        {'quote"d': "line\nbreak"},
    ],
    ids=repr,
)
def test_prepared_frame_is_the_stamped_message_encoded(message: Any) -> None:
    timestamp = now()
    outgoing = prepare(message)
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert sent == stamp(message, timestamp=timestamp)
    assert frame == encode(stamp(message, timestamp=timestamp))


@pytest.mark.parametrize(
    "message",
    [{"action": "ping"}, {}, {"note": "café ☕"}, "text", [1, 2], {"timestamp": 1}],
    ids=repr,
)
def test_prepared_size_is_the_frames_utf8_bytes(message: Any) -> None:
    outgoing = prepare(message)
    assert outgoing.size == len(outgoing.frame_at(now()).encode("utf-8"))


def test_now_is_a_fixed_width_utc_timestamp() -> None:
    moment = datetime.fromisoformat(now())
    assert moment.utcoffset() == timedelta(0)
    assert len(now()) == len(datetime(2000, 1, 1, tzinfo=UTC).isoformat(timespec="microseconds"))


@pytest.mark.parametrize(
    "nanoseconds",
    [
        0,
        999_999_999,
        1_796_428_799_999_999_999,  # the last microsecond of 2026-12-04 (UTC)
        1_796_428_800_000_000_000,  # midnight: the second's text changes with the date
        1_796_428_800_000_001_000,
        1_796_428_801_000_999_999,
        2_000_000_000_123_456_789,
    ],
)
def test_now_is_the_clocks_microsecond_in_iso_8601(
    nanoseconds: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Oracle: the epoch plus whole microseconds, written by datetime itself.
    expected = (
        datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=nanoseconds // 1000)
    ).isoformat(timespec="microseconds")
    monkeypatch.setattr("ws_exchange.framing.time.time_ns", lambda: nanoseconds)
    assert now() == expected
    # Again within the same second, and after a step back of the clock.
    assert now() == expected
    monkeypatch.setattr("ws_exchange.framing.time.time_ns", lambda: nanoseconds + 1_000_000_000)
    later = now()
    monkeypatch.setattr("ws_exchange.framing.time.time_ns", lambda: nanoseconds)
    assert now() == expected
    assert later > expected


def test_prepare_refuses_a_frame_over_the_limit_counting_the_timestamp() -> None:
    # Fits without its timestamp, not with it.
    overhead = len(encode({"x": "", "timestamp": now()}))
    message = {"x": "a" * (MAX_OUTGOING_BYTES - overhead + 1)}
    assert len(encode(message).encode("utf-8")) <= MAX_OUTGOING_BYTES
    with pytest.raises(ValueError, match="larger than"):
        prepare(message)


@pytest.mark.parametrize("message", ["\ud800", {"k": "\udfff"}], ids=repr)
def test_prepare_refuses_lone_surrogates(message: Any) -> None:
    with pytest.raises(ValueError, match="UTF-8"):
        prepare(message)


# --- the timestamp's field (TIMESTAMP_FIELD) ---------------------------------------


@pytest.mark.parametrize("field", ["sentAt", "ts", "é", 'a"b', "x\ty", "timestamp"], ids=repr)
@pytest.mark.parametrize("message", [{"action": "ping"}, {}, {"note": "café ☕"}], ids=repr)
def test_the_timestamp_goes_in_the_configured_field(field: str, message: Any) -> None:
    timestamp = now()
    outgoing = prepare(message, timestamp_field=field)
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert sent == {**message, field: timestamp}
    assert json.loads(frame) == sent
    assert list(json.loads(frame)) == [*message, field]
    assert outgoing.size == len(frame.encode("utf-8"))


def test_an_empty_field_adds_nothing() -> None:
    outgoing = prepare({"action": "ping"}, timestamp_field="")
    timestamp = now()
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert sent == {"action": "ping"}
    assert frame == '{"action":"ping"}'
    assert outgoing.size == len(frame)


def test_an_object_that_has_the_configured_field_keeps_its_own_value() -> None:
    outgoing = prepare({"sentAt": 1, "timestamp": 2}, timestamp_field="sentAt")
    timestamp = now()
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert sent == {"sentAt": 1, "timestamp": 2}
    assert json.loads(frame) == {"sentAt": 1, "timestamp": 2}


def test_the_default_field_is_timestamp() -> None:
    sent = prepare({"a": 1}).sent_at("T")
    assert sent == {"a": 1, "timestamp": "T"}


def test_the_field_can_be_chosen_after_the_message_is_checked() -> None:
    # A request is checked before the configuration is read.
    timestamp = now()
    unstamped = prepare({"a": 1}, timestamp_field="")
    stamped = unstamped.stamped_with("sentAt")
    assert stamped == prepare({"a": 1}, timestamp_field="sentAt")
    assert stamped.sent_at(timestamp) == {"a": 1, "sentAt": timestamp}
    assert stamped.stamped_with("") == unstamped
    assert stamped.stamped_with("sentAt").size == stamped.size


def test_a_long_field_can_take_a_message_past_the_limit() -> None:
    field = "f" * 64
    message = {"x": "a" * (MAX_OUTGOING_BYTES - len(encode({"x": "", "timestamp": now()})))}
    fits = prepare(message, timestamp_field="")
    assert fits.stamped_with("timestamp").size == MAX_OUTGOING_BYTES
    with pytest.raises(ValueError, match="larger than"):
        fits.stamped_with(field)


# --- binary messages out -------------------------------------------------------------


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


@pytest.mark.parametrize("data", [b"\x00\xff\x10binary", b"", bytes(range(256))], ids=repr)
@pytest.mark.parametrize("field", ["timestamp", "sentAt", ""])
def test_a_binary_base64_object_is_sent_as_those_bytes_unstamped(data: bytes, field: str) -> None:
    message = {"binary_base64": b64(data)}
    outgoing = prepare(message, timestamp_field=field)
    timestamp = now()
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert frame == data
    assert type(frame) is bytes
    assert sent == message
    assert outgoing.size == len(data)


def test_a_binary_message_round_trips_as_a_binary_reply_is_shown() -> None:
    data = "snowman ☃".encode()
    outgoing = prepare(decode(data))
    timestamp = now()
    sent, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert frame == data
    assert sent == decode(data)


@pytest.mark.parametrize(
    "value", ["not base64!", "AAA", "QUJD\n", "QUJD====", "QU JD", "ÀÀÀÀ"], ids=repr
)
def test_invalid_base64_is_refused(value: str) -> None:
    with pytest.raises(ValueError, match="base64"):
        prepare({"binary_base64": value})


@pytest.mark.parametrize("value", [5, None, ["AAAA"], {"a": "b"}, True], ids=repr)
def test_binary_base64_that_is_not_a_string_is_refused(value: Any) -> None:
    with pytest.raises(ValueError, match="binary_base64"):
        prepare({"binary_base64": value})


def test_an_object_with_binary_base64_and_other_fields_is_ordinary_json() -> None:
    outgoing = prepare({"binary_base64": "AAAA", "n": 1})
    sent, frame = outgoing.sent_at("T"), outgoing.frame_at("T")
    assert sent == {"binary_base64": "AAAA", "n": 1, "timestamp": "T"}
    assert isinstance(frame, str)


def test_a_binary_message_over_the_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="larger than"):
        prepare({"binary_base64": b64(bytes(MAX_OUTGOING_BYTES + 1))})
    assert prepare({"binary_base64": b64(bytes(MAX_OUTGOING_BYTES))}).size == MAX_OUTGOING_BYTES


# --- kept_size: what a reply takes in the result ------------------------------------


def encoded_size(value: Any) -> int:
    """The reply's bytes as the result holds it, computed without framing's encoder."""
    return len(json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))


def test_a_float_python_writes_back_longer_is_counted_as_written_back() -> None:
    # No exponent in the frame, yet 12345678901234567.5 comes back as 1.2345678901234568e+16.
    frame = "[" + ",".join(["12345678901234567.5"] * 1000) + "]"
    decoded = decode(frame)
    assert len(frame) == 20_001
    assert kept_size(frame, decoded, decoded) == encoded_size(decoded) == 23_001


@pytest.mark.parametrize(
    "frame",
    ["[1e15]", "[1E2]", '{"n":123456789012345678.5}', "-12345678901234567.5", "[1.5e-7]"],
)
def test_numbers_that_grow_when_written_back_are_counted_exactly(frame: str) -> None:
    decoded = decode(frame)
    assert encoded_size(decoded) > len(frame)
    assert kept_size(frame, decoded, decoded) == encoded_size(decoded)


@pytest.mark.parametrize(
    "frame",
    ['{"type":"pong"}', "[1,2.5,null,true]", '{"note":"café ☕","n":-3}', "[]", '"text"'],
)
def test_compact_json_is_counted_as_its_frame(frame: str) -> None:
    decoded = decode(frame)
    assert kept_size(frame, decoded, decoded) == len(frame.encode("utf-8")) == encoded_size(decoded)


@pytest.mark.parametrize(
    "frame",
    ['{"type": "pong"}', "[ 1 ,\n 2 ]", '"caf\\u00e9"', '{"a":1,"a":22}', "[-0]", "[1.50]"],
)
def test_a_frame_that_shrinks_when_written_back_is_never_undercounted(frame: str) -> None:
    decoded = decode(frame)
    assert kept_size(frame, decoded, decoded) >= encoded_size(decoded)


@pytest.mark.parametrize(
    "frame", ["plain text", 'say "hi"\n', "NaN", b"\x00\xffbinary", "[1e400]"], ids=repr
)
def test_text_and_binary_kept_as_they_are_shown_are_counted_exactly(frame: str | bytes) -> None:
    decoded = decode(frame)
    assert kept_size(frame, decoded, decoded) == encoded_size(decoded)


def test_a_scrubbed_reply_is_counted_as_kept() -> None:
    frame = '{"token":"s3cr3t-value-that-is-long"}'
    reply = {"token": "[redacted]"}
    assert kept_size(frame, decode(frame), reply) == encoded_size(reply)
