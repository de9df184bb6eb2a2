"""Scenarios: steps, placeholders, extraction and expect steps, without a socket."""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from ws_exchange import framing
from ws_exchange.checks import bounded_search as search
from ws_exchange.errors import (
    ConfigError,
    ExpectationFailed,
    InternalError,
    InvalidRequest,
    MessageTooLarge,
)
from ws_exchange.scenario import (
    AwaitCloseStep,
    CollectStep,
    ExpectStep,
    PingStep,
    ReceiveStep,
    SendStep,
    SleepStep,
    Step,
    check_expect,
    extract,
    parse_steps,
    reply_matches,
    static_wait_seconds,
    until_not_matched_message,
)
from ws_exchange.templates import builtins, compile_template, render

FIXED = {
    "uuid": lambda: "U",
    "timestamp": lambda: "T",
    "epoch_ms": lambda: 7,
    "request_id": lambda: "R",
}


def never() -> bool:
    return False


def invalid(steps: Any) -> str:
    """The message of the invalid_request that ``steps`` is."""
    with pytest.raises(InvalidRequest) as info:
        parse_steps(steps)
    assert info.value.type == "invalid_request"
    return info.value.message


def one(step: dict[str, Any]) -> Step:
    return parse_steps([step])[0]


def receive_then(*steps: dict[str, Any], names: tuple[str, ...] = ("sid",)) -> tuple[Step, ...]:
    """``steps`` after a receive step that extracts ``names``."""
    first = {"receive": {"count": 1}, "extract": {name: name for name in names}}
    return parse_steps([first, *steps])


def sent(step: Step, variables: dict[str, Any] | None = None) -> Any:
    assert isinstance(step, SendStep)
    return render(step.template, variables or {}, FIXED)


def nest(depth: int, leaf: Any = 0) -> Any:
    value = leaf
    for _ in range(depth):
        value = [value]
    return value


class Clock:
    """``deadline_check`` whose deadline comes at its ``limit``-th question."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.asked = 0

    def __call__(self) -> bool:
        self.asked += 1
        return self.asked >= self.limit


# --- the list of steps --------------------------------------------------------------------


@pytest.mark.parametrize(
    "steps",
    [None, {}, "send", 1, [], [{"ping": {}}] * 1001],
    ids=["null", "object", "string", "number", "empty", "1001"],
)
def test_steps_must_be_a_list_of_1_to_1000(steps: Any) -> None:
    assert invalid(steps).startswith("steps must be a list of 1 to 1000 step objects")


def test_a_thousand_steps_are_accepted_in_order() -> None:
    steps = parse_steps([{"send": {"n": n}} for n in range(1000)])
    assert len(steps) == 1000
    assert [sent(step) for step in steps[:3]] == [{"n": 0}, {"n": 1}, {"n": 2}]
    assert steps[999].label == "steps[999]"


@pytest.mark.parametrize("step", [None, 1, "ping", ["send", 1]])
def test_a_step_must_be_an_object(step: Any) -> None:
    message = invalid([{"ping": {}}, step])
    assert message.startswith("steps[1] must be an object with one action key: send, receive")


def test_a_step_without_an_action_is_rejected() -> None:
    assert invalid([{}]) == (
        "steps[0] has no action: a step has exactly one of send, receive, collect, "
        "await_close, ping, expect, sleep."
    )


def test_an_extract_alone_is_not_an_action() -> None:
    assert invalid([{"extract": {"a": "a"}}]).startswith("steps[0] has no action")


def test_a_step_with_two_actions_is_rejected_naming_both() -> None:
    assert invalid([{"ping": {}}, {"send": 1, "sleep": 2}]) == (
        "steps[1] has both send and sleep: a step does exactly one thing; write one step for each."
    )


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("recieve", "receive"),
        ("sned", "send"),
        ("await-close", "await_close"),
        ("expects", "expect"),
        ("extracts", "extract"),
        ("sleeep", "sleep"),
    ],
)
def test_an_unknown_step_key_suggests_the_closest(key: str, suggestion: str) -> None:
    message = invalid([{"ping": {}}, {"ping": {}}, {key: 1}])
    assert message == f'steps[2] has an unknown key, "{key}"; did you mean {suggestion}?'


def test_an_unknown_step_key_with_nothing_close_ends_the_sentence() -> None:
    assert invalid([{"ping": {}, "uri": "wss://evil.example/"}]) == (
        'steps[0] has an unknown key, "uri".'
    )


def test_an_unknown_key_is_shown_short_and_escaped() -> None:
    message = invalid([{"x\ud800" + "y" * 500: 1}])
    assert "\ud800" not in message
    assert len(message) < 120
    message.encode("utf-8")


def test_the_error_type_and_the_list_name_are_the_callers() -> None:
    with pytest.raises(ConfigError) as info:
        parse_steps([{"sleep": 0}], error=ConfigError, where="targets[2].steps")
    assert info.value.message.startswith("targets[2].steps[0].sleep must be")


# --- send ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [{"action": "ping"}, "plain text", 42, 1.5, True, None, [1, "two"], {}, ""],
)
def test_send_takes_any_json_value_and_encodes_it_once(value: Any) -> None:
    step = one({"send": value})
    assert isinstance(step, SendStep)
    # Not stamped yet: the plan stamps it in TIMESTAMP_FIELD.
    assert step.outgoing == framing.prepare(value, timestamp_field="")
    assert step.prepare({}, FIXED, "timestamp") is step.outgoing
    assert sent(step) == value


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (nest(65), "is nested deeper than 64 levels"),
        ("x" * (1024 * 1024 + 1), "is larger than 1048576 bytes once encoded"),
        (float("nan"), "holds a value JSON cannot represent"),
        ({"a": float("inf")}, "holds a value JSON cannot represent"),
        ("\ud800", "cannot be sent as UTF-8 text (it holds a lone surrogate)"),
    ],
    ids=["deep", "large", "nan", "inf", "surrogate"],
)
def test_a_send_value_that_cannot_be_sent_names_the_step(value: Any, reason: str) -> None:
    assert invalid([{"ping": {}}, {"send": value}]) == f"steps[1].send {reason}."


def test_a_send_value_nested_64_deep_with_a_placeholder_is_accepted() -> None:
    (step,) = parse_steps([{"send": nest(63, "{{uuid}}")}])
    assert sent(step) == nest(63, "U")


# --- placeholders -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{{{{", "{{"),
        ("}}}}", "}}"),
        ("{{{{sid}}}}", "{{sid}}"),
        ("{{{{uuid}}}}", "{{uuid}}"),
        ("a {{{{ b }}}} c", "a {{ b }} c"),
        ("{", "{"),
        ("}", "}"),
        ("}}", "}}"),
        ("{a{b}}", "{a{b}}"),
        ("{x}", "{x}"),
        ("{{{{{{{{", "{{{{"),
        ("{{{{{", "{{{"),
    ],
)
def test_escapes_write_literal_braces(text: str, expected: str) -> None:
    step = one({"send": {"t": text}})
    assert isinstance(step, SendStep)
    assert step.template.names == frozenset()
    assert sent(step) == {"t": expected}
    # Encoded once, as sent: the escapes already applied.
    assert step.outgoing == framing.prepare({"t": expected}, timestamp_field="")


@pytest.mark.parametrize(
    "value",
    [1, 2.5, -0.0, 10**30, True, False, "text", "", [1, {"a": None}], {"k": [1, 2]}, {}],
)
def test_a_string_that_is_one_placeholder_keeps_the_type(value: Any) -> None:
    steps = receive_then({"send": {"v": "{{sid}}", "list": ["{{sid}}"]}})
    result = sent(steps[1], {"sid": value})
    assert result == {"v": value, "list": [value]}
    assert type(result["v"]) is type(value)


@pytest.mark.parametrize(
    ("value", "text"),
    [
        ("abc", "abc"),
        ("", ""),
        ('é ✓ "q"', 'é ✓ "q"'),
        (42, "42"),
        (2.5, "2.5"),
        (True, "true"),
        (False, "false"),
        ([1, "a", None], '[1,"a",null]'),
        ({"a": 1, "b": "é"}, '{"a":1,"b":"é"}'),
    ],
)
def test_a_placeholder_inside_text_inserts_the_value_as_text(value: Any, text: str) -> None:
    steps = receive_then({"send": "id={{sid}};"})
    assert sent(steps[1], {"sid": value}) == f"id={text};"


def test_placeholders_fill_every_string_at_any_depth_but_never_keys() -> None:
    steps = receive_then(
        {
            "send": {
                "{{sid}}": "{{sid}}",
                "list": [["{{sid}}", "x{{sid}}y"], {"deep": {"er": "{{sid}}{{sid}}"}}],
                "n": 1,
            }
        }
    )
    assert sent(steps[1], {"sid": "S"}) == {
        "{{sid}}": "S",
        "list": [["S", "xSy"], {"deep": {"er": "SS"}}],
        "n": 1,
    }


def test_a_brace_next_to_a_placeholder_is_literal() -> None:
    steps = receive_then({"send": ["{{{sid}}}", "{{{{{{sid}}", "{{{{{{{sid}}}}}}}", "{{sid}}}}}}"]})
    assert sent(steps[1], {"sid": "S"}) == ["{S}", "{{S", "{{{S}}}", "S}}"]


def test_escapes_beside_a_placeholder_are_applied() -> None:
    steps = receive_then({"send": {"a": "{{{{", "b": ["}}}}", "{{sid}}"], "c": {"d": "{{{{x"}}})
    assert sent(steps[1], {"sid": 1}) == {"a": "{{", "b": ["}}", 1], "c": {"d": "{{x"}}


def test_static_parts_are_shared_not_rebuilt() -> None:
    static = {"big": list(range(100)), "nested": {"a": "b"}}
    steps = receive_then({"send": {"static": static, "dynamic": "{{sid}}"}})
    step = steps[1]
    assert isinstance(step, SendStep)
    assert step.outgoing is None
    first = sent(step, {"sid": 1})
    second = sent(step, {"sid": 2})
    assert first["static"] is second["static"]
    assert first["dynamic"] == 1 and second["dynamic"] == 2


def test_a_value_without_placeholders_is_rendered_as_itself() -> None:
    value = {"a": [1, {"b": "c"}]}
    template = compile_template(value)
    assert template.names == frozenset()
    assert render(template, {}, FIXED) is value


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("{{ sid }}", "{{ sid }}"),
        ("{{sid", "{{sid"),
        ("{{}}", "{{}}"),
        ("{{1x}}", "{{1x}}"),
        ("{{a-b}}", "{{a-b}}"),
        ("{{é}}", "{{é}}"),
        ("{{{", "{{{"),
        ("{{" + "a" * 65 + "}}", "{{" + "a" * 21 + "…"),
        ("ok }} then {{ bad", "{{ bad"),
    ],
)
def test_a_malformed_placeholder_is_rejected_with_the_escape_hint(text: str, shown: str) -> None:
    message = invalid([{"send": {"a": [text]}}])
    at = text.index("{{")
    assert message == (
        f"steps[0].send.a[0] has `{shown}` at offset {at}, which is not a placeholder: a "
        "placeholder is {{name}}, the name made of letters, digits and underscores (not "
        "starting with a digit, at most 64 characters); write {{{{ for a literal {{."
    )


def test_a_64_character_name_is_a_name() -> None:
    name = "a" * 64
    steps = parse_steps(
        [{"receive": {"count": 1}, "extract": {name: "x"}}, {"send": f"{{{{{name}}}}}"}]
    )
    assert sent(steps[1], {name: 5}) == 5


def test_an_unknown_variable_is_rejected_naming_the_step_the_path_and_the_closest_name() -> None:
    message = invalid(
        [
            {"receive": {"count": 1}, "extract": {"session_id": "session.id"}},
            {"ping": {}},
            {"send": {"a b": [{"c": "x {{sesion_id}}"}]}},
        ]
    )
    assert message == (
        'steps[2].send["a b"][0].c uses {{sesion_id}}, but no earlier step extracts sesion_id '
        "and it is not a built-in name (uuid, timestamp, epoch_ms, request_id); did you mean "
        "{{session_id}}?"
    )


def test_a_misspelt_built_in_is_suggested() -> None:
    assert invalid([{"send": "{{uid}}"}]).endswith("did you mean {{uuid}}?")


def test_an_unknown_variable_with_nothing_close_ends_the_sentence() -> None:
    assert invalid([{"send": "{{zzzzzz}}"}]).endswith("(uuid, timestamp, epoch_ms, request_id).")


def test_a_variable_extracted_only_later_says_which_step_extracts_it() -> None:
    message = invalid(
        [
            {"send": "{{sid}}"},
            {"ping": {}},
            {"receive": {"count": 1}, "extract": {"sid": "id"}},
        ]
    )
    assert message == (
        "steps[0].send uses {{sid}}, which only a later step (steps[2]) extracts: a variable "
        "exists once the step that extracts it has run."
    )


def test_a_variable_is_known_to_every_later_step_and_may_be_extracted_again() -> None:
    steps = parse_steps(
        [
            {"receive": {"count": 1}, "extract": {"a": "a"}},
            {"send": "{{a}}"},
            {"receive": {"until": "b"}, "extract": {"a": "b", "b": "b"}},
            {"send": ["{{a}}", "{{b}}"]},
            {"sleep": 1},
            {"send": "{{a}}-{{b}}"},
        ]
    )
    assert [type(step) for step in steps] == [
        ReceiveStep,
        SendStep,
        ReceiveStep,
        SendStep,
        SleepStep,
        SendStep,
    ]
    assert sent(steps[5], {"a": 1, "b": "x"}) == "1-x"


def test_built_ins_are_known_from_the_first_step() -> None:
    (step,) = parse_steps(
        [{"send": ["{{uuid}}", "{{timestamp}}", "{{epoch_ms}}", "{{request_id}}"]}]
    )
    assert sent(step) == ["U", "T", 7, "R"]


def test_built_ins_are_fresh_at_each_use() -> None:
    (step,) = parse_steps([{"send": {"a": "{{uuid}}", "b": "{{uuid}}", "c": "x{{uuid}}"}}])
    assert isinstance(step, SendStep)
    values = render(step.template, {}, builtins("req-1"))
    ids = [values["a"], values["b"], values["c"][1:]]
    assert len(set(ids)) == 3
    for text in ids:
        parsed = uuid.UUID(text)
        assert parsed.version == 4 and str(parsed) == text
    assert render(step.template, {}, builtins("req-1"))["a"] not in ids


def test_built_in_timestamp_epoch_ms_and_request_id() -> None:
    (step,) = parse_steps(
        [{"send": {"t": "{{timestamp}}", "ms": "{{epoch_ms}}", "id": "{{request_id}}"}}]
    )
    assert isinstance(step, SendStep)
    before = time.time() * 1000
    values = render(step.template, {}, builtins("c6af9ac6-7b61"))
    after = time.time() * 1000
    assert values["id"] == "c6af9ac6-7b61"
    assert type(values["ms"]) is int and before - 1 <= values["ms"] <= after + 1
    # The same format as a message's own timestamp: ISO 8601, UTC, microseconds.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00", values["t"])
    moment = datetime.fromisoformat(values["t"])
    assert moment.tzinfo is not None and moment.utcoffset() == UTC.utcoffset(None)
    assert abs(moment.timestamp() * 1000 - values["ms"]) < 1000


def test_render_without_a_variable_is_an_internal_error_not_a_key_error() -> None:
    steps = receive_then({"send": "{{sid}}"})
    step = steps[1]
    assert isinstance(step, SendStep)
    with pytest.raises(InternalError) as info:
        render(step.template, {}, FIXED)
    assert "{{sid}}" in info.value.message


def test_a_filled_in_message_is_stamped_and_encoded_like_any_message() -> None:
    steps = receive_then({"send": {"action": "subscribe", "session": "{{sid}}"}})
    step = steps[1]
    assert isinstance(step, SendStep)
    outgoing = step.prepare({"sid": "abc"}, FIXED, "timestamp")
    assert outgoing == framing.prepare({"action": "subscribe", "session": "abc"})
    timestamp = "2026-01-01T00:00:00.000000+00:00"
    message, frame = outgoing.sent_at(timestamp), outgoing.frame_at(timestamp)
    assert (
        json.loads(frame)
        == message
        == {
            "action": "subscribe",
            "session": "abc",
            "timestamp": "2026-01-01T00:00:00.000000+00:00",
        }
    )


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("x" * (1024 * 1024), "is larger than 1048576 bytes once encoded"),
        (nest(64), "is nested deeper than 64 levels"),
    ],
    ids=["large", "deep"],
)
def test_a_message_that_cannot_be_sent_once_filled_in_names_the_step(
    value: Any, reason: str
) -> None:
    steps = receive_then({"ping": {}}, {"send": ["{{sid}}"]})
    step = steps[2]
    assert isinstance(step, SendStep)
    with pytest.raises(MessageTooLarge) as info:
        step.prepare({"sid": value}, FIXED, "timestamp")
    assert info.value.message == f"steps[2].send, once its placeholders are filled in, {reason}."


def test_a_message_sent_at_several_steps_is_each_steps_own() -> None:
    message = {"action": "poll", "sid": "{{sid}}", "n": "{{n}}"}
    steps = parse_steps(
        [
            {"receive": {"count": 1}, "extract": {"sid": "sid", "n": "n"}},
            {"send": message},
            {"receive": {"count": 1}, "extract": {"sid": "next"}},
            {"send": dict(message)},
        ]
    )
    first, second = steps[1], steps[3]
    assert isinstance(first, SendStep) and isinstance(second, SendStep)
    assert (first.label, second.label) == ("steps[1]", "steps[3]")
    assert sent(first, {"sid": "a", "n": 1}) == {"action": "poll", "sid": "a", "n": 1}
    assert sent(second, {"sid": "b", "n": [2]}) == {"action": "poll", "sid": "b", "n": [2]}
    with pytest.raises(MessageTooLarge) as info:
        second.prepare({"sid": "x" * (1024 * 1024), "n": 1}, FIXED, "timestamp")
    assert info.value.message.startswith("steps[3].send, once its placeholders are filled in")


def test_each_built_in_is_computed_once_for_the_message_and_its_frame() -> None:
    counter = iter(range(1, 100))
    fresh = {**FIXED, "epoch_ms": lambda: next(counter)}
    (step,) = parse_steps([{"send": {"a": "{{epoch_ms}}", "b": ["x{{epoch_ms}}"]}}])
    assert isinstance(step, SendStep)
    outgoing = step.prepare({}, fresh, "")
    assert outgoing.message == {"a": 1, "b": ["x2"]}
    assert outgoing.data == '{"a":1,"b":["x2"]}'


@pytest.mark.parametrize(
    ("value", "variables"),
    [
        ({"\ue000": "{{sid}}"}, {"sid": "s"}),  # the character placeholders are marked with
        ({"a": "\ue0000\ue000{{sid}}"}, {"sid": "s"}),
        ({"a": "{{sid}}"}, {"sid": {"deep": [1, {"b": None}]}}),  # an object: encoded whole
        ({"a": 'q"\\{{sid}}\n'}, {"sid": 'v"\\\u2028\x01'}),  # escapes either side
        (["{{sid}}", "{{sid}}{{sid}}"], {"sid": 1.5}),
        ("text {{sid}}", {"sid": "s"}),  # a string is sent as it is
        ({"binary_base64": "{{sid}}"}, {"sid": "AAE="}),
    ],
)
def test_a_filled_in_message_is_framed_as_its_value(value: Any, variables: Any) -> None:
    steps = receive_then({"send": value})
    step = steps[1]
    assert isinstance(step, SendStep)
    outgoing = step.prepare(variables, FIXED, "timestamp")
    assert outgoing == framing.prepare(render(step.template, variables, FIXED), "timestamp")


@pytest.mark.parametrize("text_first", [True, False])
def test_a_string_that_reads_as_an_objects_json_is_still_a_string(text_first: bool) -> None:
    text, value = '{"k":"{{a}}"}', {"k": "{{a}}"}
    sends = [{"send": text}, {"send": value}] if text_first else [{"send": value}, {"send": text}]
    steps = receive_then(*sends, names=("a",))
    by_kind = {type(sent(step, {"a": "x"})): step for step in steps[1:]}
    as_text, as_object = by_kind[str], by_kind[dict]
    assert isinstance(as_text, SendStep) and isinstance(as_object, SendStep)
    variables = {"a": 'say "hi"'}
    assert as_text.prepare(variables, FIXED, "timestamp").frame_at("T") == '{"k":"say "hi""}'
    assert as_object.prepare(variables, FIXED, "timestamp").frame_at("T") == (
        '{"k":"say \\"hi\\"","timestamp":"T"}'
    )


@pytest.mark.parametrize("value", [{"a": "{{n}}"}, {"a": "x{{n}}"}, ["{{n}}", "{{n}}"]])
def test_a_number_too_long_to_write_is_a_message_that_cannot_be_sent(value: Any) -> None:
    # An integer of more than 4300 digits has no text in Python (sum(@) over a reply).
    steps = receive_then({"send": value}, names=("n",))
    step = steps[1]
    assert isinstance(step, SendStep)
    with pytest.raises(ExpectationFailed) as info:
        step.prepare({"n": 10**4400}, FIXED, "timestamp")
    assert info.value.message == (
        "steps[1].send, once its placeholders are filled in, holds a value JSON cannot represent."
    )


def test_the_same_message_before_its_variable_is_extracted_is_still_refused() -> None:
    message = invalid(
        [
            {"receive": {"count": 1}, "extract": {"a": "a"}},
            {"send": {"x": "{{a}}"}},
            {"send": {"x": "{{b}}"}},
            {"receive": {"count": 1}, "extract": {"b": "b"}},
            {"send": {"x": "{{b}}"}},
        ]
    )
    assert message.startswith("steps[2].send.x uses {{b}}, which only a later step (steps[3])")


# --- receive ------------------------------------------------------------------------------


def test_receive_count() -> None:
    step = one({"receive": {"count": 3}})
    assert step == ReceiveStep("steps[0]", 3, None, 3, None, ())


def test_receive_until_with_defaults() -> None:
    step = one({"receive": {"until": "type == 'ack'"}})
    assert isinstance(step, ReceiveStep)
    assert step.count is None
    assert step.until is not None and step.until.text == "type == 'ack'"
    assert step.max_replies == 100
    assert step.timeout is None


def test_receive_until_with_max_replies_and_timeout() -> None:
    step = one({"receive": {"until": "ok", "max_replies": 1000, "timeout_seconds": 2}})
    assert isinstance(step, ReceiveStep)
    assert (step.max_replies, step.timeout) == (1000, 2.0)
    assert type(step.timeout) is float


def test_null_optional_receive_keys_count_as_absent() -> None:
    step = one({"receive": {"until": "ok", "max_replies": None, "timeout_seconds": None}})
    assert isinstance(step, ReceiveStep)
    assert (step.max_replies, step.timeout) == (100, None)


def test_receive_without_count_or_until_waits_for_the_operation_to_complete() -> None:
    step = one({"receive": {"count": None}})
    assert isinstance(step, ReceiveStep)
    assert (step.count, step.until, step.max_replies) == (None, None, 100)


@pytest.mark.parametrize("count", [0, -1, 1001, True, False, 1.0, "1", [1]])
def test_receive_count_bounds(count: Any) -> None:
    receive = {"count": count}
    assert invalid([{"ping": {}}, {"ping": {}}, {"ping": {}}, {"receive": receive}]) == (
        "steps[3].receive.count must be a whole number from 1 to 1000."
    )


@pytest.mark.parametrize("count", [1, 1000])
def test_receive_count_limits_accepted(count: int) -> None:
    step = one({"receive": {"count": count}})
    assert isinstance(step, ReceiveStep) and step.count == count


def test_receive_with_both_count_and_until_is_rejected() -> None:
    assert invalid([{"receive": {"count": 1, "until": "a"}}]) == (
        "steps[0].receive may hold count or until, not both."
    )


def test_receive_max_replies_only_with_until() -> None:
    assert invalid([{"receive": {"count": 1, "max_replies": 3}}]) == (
        "steps[0].receive.max_replies applies only with until: count already says how many "
        "replies to collect."
    )


@pytest.mark.parametrize("value", [0, 1001, True, 2.0, "5"])
def test_receive_max_replies_bounds(value: Any) -> None:
    assert invalid([{"receive": {"until": "a", "max_replies": value}}]) == (
        "steps[0].receive.max_replies must be a whole number from 1 to 1000."
    )


@pytest.mark.parametrize(
    "value", [0, 0.0, -1, 900.001, float("inf"), float("nan"), 10**400, True, "5", [5]]
)
def test_receive_timeout_bounds(value: Any) -> None:
    assert invalid([{"receive": {"count": 1, "timeout_seconds": value}}]) == (
        "steps[0].receive.timeout_seconds must be a number of seconds greater than 0 and at "
        "most 900."
    )


@pytest.mark.parametrize(
    ("until", "reason"),
    [
        ("", "must be a JMESPath expression of 1 to 1000 characters"),
        ("a" * 1001, "must be a JMESPath expression of 1 to 1000 characters"),
        (5, "must be a JMESPath expression of 1 to 1000 characters"),
        ("foo(", "is not a valid JMESPath expression (the error is at offset 4)"),
        ("nope(@)", "calls an unknown JMESPath function, nope()"),
        ("(" * 499 + "a" + ")" * 499, "nests too deeply to be a JMESPath expression"),
    ],
)
def test_receive_until_must_compile(until: Any, reason: str) -> None:
    assert invalid([{"receive": {"until": until}}]) == f"steps[0].receive.until {reason}."


@pytest.mark.parametrize(
    ("key", "suggestion"),
    [
        ("cuont", "; did you mean count?"),
        ("timeout", "; did you mean timeout_seconds?"),
        ("max_reply", "; did you mean max_replies?"),
        ("zzz", "."),
    ],
)
def test_an_unknown_receive_key_suggests_the_closest(key: str, suggestion: str) -> None:
    message = invalid([{"receive": {"count": 1, key: 1}}])
    assert message == f'steps[0].receive has an unknown key, "{key}"{suggestion}'


def test_extract_inside_receive_says_where_it_belongs() -> None:
    assert invalid([{"receive": {"count": 1, "extract": {"a": "a"}}}]) == (
        "steps[0].receive.extract belongs beside receive, in the step itself: "
        '{"receive": {...}, "extract": {...}}.'
    )


@pytest.mark.parametrize("value", [None, 1, "count", [{"count": 1}]])
def test_receive_must_be_an_object(value: Any) -> None:
    assert invalid([{"receive": value}]) == (
        'steps[0].receive must be an object: {"count": n} or {"until": "<JMESPath>"}.'
    )


# --- extract (parsing) --------------------------------------------------------------------


def test_extract_names_and_expressions() -> None:
    step = one({"receive": {"count": 1}, "extract": {"a": "x.y", "_B9": "z[0]"}})
    assert isinstance(step, ReceiveStep)
    assert [(item.name, item.expression.text) for item in step.extract] == [
        ("a", "x.y"),
        ("_B9", "z[0]"),
    ]


def test_a_null_extract_counts_as_absent() -> None:
    step = one({"receive": {"count": 1}, "extract": None})
    assert isinstance(step, ReceiveStep) and step.extract == ()


@pytest.mark.parametrize("name", ["", "1a", "a-b", "a b", "é", "a" * 65, "a\n"])
def test_extract_names_are_identifiers_of_at_most_64_characters(name: str) -> None:
    message = invalid([{"receive": {"count": 1}, "extract": {name: "a"}}])
    assert message.startswith("steps[0].extract has the name ")
    assert message.endswith(
        ": a name is 1 to 64 letters, digits and underscores, not starting with a digit."
    )


def test_an_extract_name_that_is_not_text_is_refused_not_a_crash() -> None:
    assert invalid([{"receive": {"count": 1}, "extract": {1: "a"}}]).startswith(
        'steps[0].extract has the name "1"'
    )


@pytest.mark.parametrize("name", ["uuid", "timestamp", "epoch_ms", "request_id"])
def test_extract_cannot_hide_a_built_in(name: str) -> None:
    assert invalid([{"receive": {"count": 1}, "extract": {name: "a"}}]) == (
        f"steps[0].extract.{name} would hide the built-in {{{{{name}}}}}: choose another name."
    )


@pytest.mark.parametrize("value", [{}, [], "a", 1, {f"v{n}": "a" for n in range(101)}], ids=str)
def test_extract_must_be_an_object_of_1_to_100_variables(value: Any) -> None:
    assert invalid([{"receive": {"count": 1}, "extract": value}]).startswith(
        "steps[0].extract must be an object of 1 to 100 variables"
    )


def test_extract_expressions_must_compile_naming_the_variable() -> None:
    assert invalid([{"receive": {"count": 1}, "extract": {"ok": "a", "sid": "a.["}}]).startswith(
        "steps[0].extract.sid is not a valid JMESPath expression"
    )


@pytest.mark.parametrize("action", ["send", "collect", "expect", "ping", "sleep"])
def test_extract_only_beside_receive(action: str) -> None:
    value = {"send": 1, "collect": 1, "expect": "a", "ping": {}, "sleep": 1}[action]
    assert invalid([{action: value, "extract": {"a": "a"}}]) == (
        "steps[0].extract belongs beside receive: only a receive step has a reply to extract from."
    )


# --- collect, await_close, ping, expect, sleep ----------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [(0.001, 0.001), (5, 5.0), (900, 900.0)])
def test_collect_seconds(value: float, seconds: float) -> None:
    step = one({"collect": value})
    assert step == CollectStep("steps[0]", seconds, 1000)
    assert isinstance(step, CollectStep) and type(step.seconds) is float


@pytest.mark.parametrize(
    "value", [0, -1, 900.5, float("inf"), float("nan"), 10**400, True, None, "1", {}]
)
def test_collect_bounds(value: Any) -> None:
    assert invalid([{"collect": value}]) == (
        "steps[0].collect must be a number of seconds greater than 0 and at most 900."
    )


@pytest.mark.parametrize(("value", "seconds"), [(0.001, 0.001), (1, 1.0), (60, 60.0)])
def test_sleep_seconds(value: float, seconds: float) -> None:
    assert one({"sleep": value}) == SleepStep("steps[0]", seconds)


@pytest.mark.parametrize("value", [0, -0.5, 60.001, 61, float("nan"), True, None, "1"])
def test_sleep_bounds(value: Any) -> None:
    assert invalid([{"sleep": value}]) == (
        "steps[0].sleep must be a number of seconds greater than 0 and at most 60."
    )


@pytest.mark.parametrize(
    ("value", "timeout"),
    [({}, None), ({"timeout_seconds": None}, None), ({"timeout_seconds": 3}, 3.0)],
)
def test_await_close(value: dict[str, Any], timeout: float | None) -> None:
    assert one({"await_close": value}) == AwaitCloseStep("steps[0]", timeout)


@pytest.mark.parametrize("value", [0, -1, 901, float("nan"), "3", True])
def test_await_close_timeout_bounds(value: Any) -> None:
    assert invalid([{"await_close": {"timeout_seconds": value}}]) == (
        "steps[0].await_close.timeout_seconds must be a number of seconds greater than 0 and "
        "at most 900."
    )


def test_await_close_unknown_key_suggests_the_closest() -> None:
    assert invalid([{"await_close": {"timout_seconds": 3}}]) == (
        'steps[0].await_close has an unknown key, "timout_seconds"; did you mean timeout_seconds?'
    )


@pytest.mark.parametrize("value", [None, 3, [], "close"])
def test_await_close_must_be_an_object(value: Any) -> None:
    assert invalid([{"await_close": value}]) == (
        'steps[0].await_close must be an object: {} or {"timeout_seconds": s}.'
    )


def test_ping() -> None:
    assert one({"ping": {}}) == PingStep("steps[0]")


@pytest.mark.parametrize("value", [None, [], "", 0, False, {"timeout_seconds": 1}])
def test_ping_must_be_an_empty_object(value: Any) -> None:
    assert invalid([{"ping": value}]) == "steps[0].ping must be {} (an empty object)."


def test_expect_step() -> None:
    step = one({"expect": "vars.sid != null"})
    assert isinstance(step, ExpectStep) and step.expression.text == "vars.sid != null"


@pytest.mark.parametrize("value", [None, 1, "", ["a"], "a" * 1001])
def test_expect_step_must_be_an_expression(value: Any) -> None:
    assert invalid([{"expect": value}]) == (
        "steps[0].expect must be a JMESPath expression of 1 to 1000 characters."
    )


def test_expect_step_must_compile() -> None:
    assert invalid([{"expect": "length(@, @)"}]) == (
        "steps[0].expect calls length() with 2 arguments instead of 1."
    )


# --- static waits -------------------------------------------------------------------------


def test_static_waits_are_the_sleeps_and_collects() -> None:
    steps = parse_steps(
        [
            {"sleep": 1.5},
            {"receive": {"count": 1, "timeout_seconds": 100}},
            {"collect": 2},
            {"await_close": {"timeout_seconds": 50}},
            {"sleep": 0.25},
            {"ping": {}},
        ]
    )
    assert static_wait_seconds(steps) == 3.75


def test_static_waits_past_any_deadline_are_still_a_valid_scenario() -> None:
    steps = parse_steps([{"collect": 900}] * 20)
    assert static_wait_seconds(steps) == 18000.0


def test_no_static_waits_is_zero() -> None:
    assert static_wait_seconds(parse_steps([{"send": 1}])) == 0


# --- extract (evaluation) -----------------------------------------------------------------


def extracting(**expressions: str) -> ReceiveStep:
    step = parse_steps([{"ping": {}}, {"receive": {"count": 1}, "extract": expressions}])[1]
    assert isinstance(step, ReceiveStep)
    return step


def test_extract_reads_each_variable_with_its_type() -> None:
    step = extracting(sid="session.id", n="count", tags="tags", first="tags[0]", obj="@")
    reply = {"session": {"id": "abc"}, "count": 3, "tags": ["a", "b"]}
    assert extract(step, reply, never) == {
        "sid": "abc",
        "n": 3,
        "tags": ["a", "b"],
        "first": "a",
        "obj": reply,
    }


@pytest.mark.parametrize("value", [False, 0, "", [], {}])
def test_extract_keeps_falsy_values_that_are_not_null(value: Any) -> None:
    assert extract(extracting(v="v"), {"v": value}, never) == {"v": value}


@pytest.mark.parametrize(
    "reply", [{"session": {}}, {"session": {"id": None}}, "text", 42, None, [1, 2]]
)
def test_extract_null_fails_naming_the_variable_and_the_step(reply: Any) -> None:
    step = extracting(ok="`1`", sid="session.id")
    with pytest.raises(ExpectationFailed) as info:
        extract(step, reply, never)
    assert info.value.message == (
        "steps[1].extract.sid found no value: `session.id` gave null on the step's last reply."
    )
    assert info.value.type == "expectation_failed" and not info.value.retryable


@pytest.mark.parametrize(
    ("expression", "reply"),
    [
        ("abs(v)", {"v": "text"}),
        ("sort(v)", {"v": [1, "a"]}),
        ("max_by(v, &a)", {"v": [{"a": 1}, {"a": "x"}]}),
        ("length(v)", {"v": 5}),
    ],
)
def test_an_expression_that_cannot_be_evaluated_on_the_reply_finds_no_value(
    expression: str, reply: Any
) -> None:
    with pytest.raises(ExpectationFailed) as info:
        extract(extracting(v=expression), reply, never)
    assert info.value.message.startswith("steps[1].extract.v found no value")


@pytest.mark.parametrize(
    ("expression", "reply"),
    [
        ("to_number(v)", {"v": "nan"}),
        ("to_number(v)", {"v": "1e400"}),
        ("[to_number(v)]", {"v": "-inf"}),
        ("avg(v)", {"v": [1e308, 1e308]}),
        ("sum(v)", {"v": [1e308, 1e308]}),
    ],
)
def test_a_value_json_cannot_hold_is_no_value(expression: str, reply: Any) -> None:
    with pytest.raises(ExpectationFailed) as info:
        extract(extracting(v=expression), reply, never)
    assert info.value.message.startswith("steps[1].extract.v found no value JSON can hold")


def test_a_lone_surrogate_is_no_value() -> None:
    with pytest.raises(ExpectationFailed) as info:
        extract(extracting(v="v"), {"v": ["ok", "\ud800"]}, never)
    assert "found no value JSON can hold" in info.value.message


def hostile_replies() -> list[Any]:
    deep = framing.decode("[" * 900 + "]" * 900)
    return [
        deep,
        framing.decode('{"v": 1e400}'),  # kept as its text
        framing.decode('"\\ud800"'),  # kept as its text
        framing.decode(b"\x00\xff"),
        list(range(100_000)),
        {"v": "x" * 1_000_000},
    ]


@pytest.mark.parametrize("expression", ["v", "[0][0][0]", "to_string(@)", "sort(@)", "@.*"])
@pytest.mark.parametrize("index", range(6))
def test_hostile_replies_raise_only_typed_errors(expression: str, index: int) -> None:
    reply = hostile_replies()[index]
    try:
        values = extract(extracting(v=expression), reply, never)
    except ExpectationFailed as exc:
        assert exc.message.startswith("steps[1].extract.v ")
        return
    json.dumps(values, allow_nan=False, ensure_ascii=False).encode("utf-8")


def test_extract_stops_when_the_deadline_comes() -> None:
    clock = Clock(limit=3)
    reply = [{"a": n} for n in range(200_000)]
    with pytest.raises(ExpectationFailed) as info:
        extract(extracting(v="[*].a"), reply, clock)
    assert info.value.message == (
        "steps[1].extract.v ran out of time: the Lambda deadline came while `[*].a` was being "
        "evaluated."
    )
    # Stopped at the question that said time was up, not at the end of the projection.
    assert clock.asked == 3


def test_extract_asks_the_deadline_before_it_starts() -> None:
    clock = Clock(limit=1)
    with pytest.raises(ExpectationFailed, match="ran out of time"):
        extract(extracting(v="a"), {"a": 1}, clock)


def test_expressions_with_expression_arguments_are_bounded_too() -> None:
    clock = Clock(limit=2)
    reply = [{"a": n % 7} for n in range(100_000)]
    with pytest.raises(ExpectationFailed, match="ran out of time"):
        extract(extracting(v="sort_by(@, &a)"), reply, clock)
    assert clock.asked == 2


def test_search_gives_the_same_answers_as_jmespath() -> None:
    from ws_exchange.checks import compile_expression

    reply = {"a": [{"b": n, "c": str(n)} for n in range(2000)], "d": {"e": None}}
    for text in ["a[*].b", "a[?b > `1990`].c", "length(a)", "d.e", "sort_by(a, &c)[0]", "@"]:
        expression = compile_expression(text)
        assert search(expression, reply, never) == expression.compiled.search(reply)


# --- until and expect steps ---------------------------------------------------------------


def until_step(text: str) -> ReceiveStep:
    step = one({"receive": {"until": text, "max_replies": 1}})
    assert isinstance(step, ReceiveStep)
    return step


@pytest.mark.parametrize(
    ("reply", "matched"),
    [
        ({"type": "ack"}, True),
        ({"type": "nack"}, False),
        ("text", False),
        (None, False),
    ],
)
def test_reply_matches(reply: Any, matched: bool) -> None:
    assert reply_matches(until_step("type == 'ack'"), reply, never) is matched


def test_reply_matches_is_false_on_an_evaluation_error() -> None:
    assert reply_matches(until_step("abs(v)"), {"v": "x"}, never) is False


def test_reply_matches_uses_jmespath_truthiness() -> None:
    step = until_step("v")
    assert reply_matches(step, {"v": 0}, never) is True
    assert reply_matches(step, {"v": []}, never) is False


def test_reply_matches_out_of_time_names_the_step() -> None:
    with pytest.raises(ExpectationFailed) as info:
        reply_matches(until_step("[*].a"), [{"a": 1}] * 10_000, Clock(limit=2))
    assert info.value.message.startswith("steps[0].receive.until ran out of time")


def test_until_not_matched_message_names_the_step() -> None:
    step = parse_steps([{"ping": {}}, {"receive": {"until": "type == 'x'", "max_replies": 5}}])[1]
    assert isinstance(step, ReceiveStep)
    assert until_not_matched_message(step) == (
        "steps[1]: no reply matched until `type == 'x'` within max_replies (5 replies)."
    )


DOCUMENT = {
    "sent": [{"action": "login"}],
    "received": [{"type": "welcome", "session": "abc"}],
    "subprotocol": None,
    "timings_ms": {"ping": 12.5},
    "connection": {"close": {"code": 4000, "reason": "bye", "initiated_by": "server"}},
    "vars": {"sid": "abc"},
}


def expect_step(text: str) -> ExpectStep:
    step = parse_steps([{"ping": {}}, {"ping": {}}, {"expect": text}])[2]
    assert isinstance(step, ExpectStep)
    return step


@pytest.mark.parametrize(
    "text",
    [
        "vars.sid == received[0].session",
        "timings_ms.ping < `500`",
        "connection.close.code == `4000`",
        "subprotocol == null",
        "sent[0].action",
    ],
)
def test_an_expect_step_that_holds_passes(text: str) -> None:
    check_expect(expect_step(text), DOCUMENT, never)


@pytest.mark.parametrize(
    "text", ["vars.sid == 'other'", "vars.missing", "abs(vars.sid)", "received[5]"]
)
def test_an_expect_step_that_does_not_hold_names_the_step(text: str) -> None:
    with pytest.raises(ExpectationFailed) as info:
        check_expect(expect_step(text), DOCUMENT, never)
    assert info.value.message == f"steps[2]: the expectation `{text}` did not hold."


def test_an_expect_step_out_of_time_says_so() -> None:
    document = {**DOCUMENT, "received": list(range(50_000))}
    with pytest.raises(ExpectationFailed) as info:
        check_expect(expect_step("received[*].to_string(@)"), document, Clock(limit=2))
    assert info.value.message.startswith("steps[2].expect ran out of time")


# --- the helpers a caller needs -----------------------------------------------------------


def test_builtins_hold_exactly_the_four_names() -> None:
    made: dict[str, Callable[[], Any]] = builtins("r")
    assert set(made) == {"uuid", "timestamp", "epoch_ms", "request_id"}


# --- the documentation's examples -------------------------------------------------------

DOCS = Path(__file__).resolve().parents[2] / "docs" / "scenarios.md"


def documented_json() -> list[Any]:
    blocks = re.findall(r"```json\n(.*?)```", DOCS.read_text(encoding="utf-8"), re.DOTALL)
    return [json.loads(block) for block in blocks]


def test_every_documented_scenario_and_step_is_valid() -> None:
    from ws_exchange.triggers import parse_payload

    payloads = [value for value in documented_json() if "steps" in value]
    steps = [value for value in documented_json() if set(value) & {"send", "receive"}]
    assert len(payloads) >= 7 and len(steps) >= 2
    for payload in payloads:
        request = parse_payload(payload)
        assert request.steps is not None
    for step in steps:
        parse_steps([step])


# --- binary messages with placeholders ----------------------------------------------------


def test_a_binary_messages_base64_may_be_a_placeholder() -> None:
    step = receive_then({"send": {"binary_base64": "{{sid}}"}})[1]
    assert isinstance(step, SendStep)
    assert step.outgoing is None

    outgoing = step.prepare({"sid": "aGVsbG8="}, FIXED, "timestamp")

    assert outgoing.data == b"hello"


@pytest.mark.parametrize(
    "text",
    ["{{{{", "aGVs{{{{bG8=", "not base64"],
)
def test_a_binary_message_without_placeholders_is_still_checked_before_any_io(text: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        parse_steps([{"send": {"binary_base64": text}}])
    assert "steps[0].send" in info.value.message
    assert "base64" in info.value.message


def test_a_binary_placeholder_filled_with_text_that_is_not_base64_is_expectation_failed() -> None:
    step = receive_then({"send": {"binary_base64": "{{sid}}"}})[1]
    assert isinstance(step, SendStep)
    with pytest.raises(ExpectationFailed) as info:
        step.prepare({"sid": "not base64!"}, FIXED, "timestamp")
    assert info.value.message.startswith("steps[1].send, once its placeholders are filled in")
