"""Reply checks: parsing, compiling and evaluating JMESPath."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from ws_exchange.checks import (
    CHECK_FIELDS,
    DEFAULT_MAX_REPLIES,
    MAX_COLLECT_SECONDS,
    MAX_EXPECTATIONS,
    MAX_EXPRESSION_CHARS,
    MAX_MAX_REPLIES,
    SHOWN_EXPRESSION_CHARS,
    Checks,
    Expression,
    compile_expression,
    evaluate,
    expectation_failed_message,
    is_truthy,
    matches,
    parse_checks,
    parse_default_expect,
    until_not_matched_message,
)
from ws_exchange.errors import ConfigError, ExchangeError, InvalidRequest

EVENTS = Path(__file__).resolve().parents[2] / "events"


def checks_of(payload: dict[str, Any]) -> Checks:
    checks = parse_checks(payload, error=InvalidRequest)
    assert checks is not None
    return checks


def rejected(payload: dict[str, Any], error: type[ExchangeError] = InvalidRequest) -> str:
    with pytest.raises(error) as info:
        parse_checks(payload, error=error)
    assert type(info.value) is error
    return info.value.message


def expression(text: str) -> Expression:
    return compile_expression(text)


# A realistic outcome: a subscription acknowledged with its id, two updates, a snapshot.
DOCUMENT: dict[str, Any] = {
    "sent": [
        {"action": "subscribe", "channel": "prices", "id": "req-7", "timestamp": "2026-11-24T04"}
    ],
    "received": [
        {"type": "subscribed", "channel": "prices", "id": "req-7"},
        {"type": "update", "channel": "prices", "seq": 1, "price": 0},
        {"type": "update", "channel": "prices", "seq": 2, "price": 101.5},
        {"type": "snapshot", "channel": "prices", "prices": [100.25, 101.5]},
    ],
    "subprotocol": None,
    "timings_ms": {"secret": 0.02, "connect": 41.7, "exchange": 12.3, "total": 55.1},
}


# --- parse_checks: which fields, and what is absent -------------------------------------


def test_check_fields_are_the_four_payload_fields_of_section_9() -> None:
    assert frozenset({"until", "max_replies", "collect_seconds", "expect"}) == CHECK_FIELDS


@pytest.mark.parametrize(
    "payload",
    [
        {},
        {"message": {"action": "ping"}, "expected_replies": 2},
        {"until": None, "max_replies": None, "collect_seconds": None, "expect": None},
    ],
)
def test_a_payload_without_checks_has_none(payload: dict[str, Any]) -> None:
    assert parse_checks(payload, error=InvalidRequest) is None


def test_until_alone_gets_the_default_max_replies_and_nothing_else() -> None:
    checks = checks_of({"until": "type == 'snapshot'"})
    assert checks.until is not None
    assert checks.until.text == "type == 'snapshot'"
    assert checks.max_replies == DEFAULT_MAX_REPLIES == 100
    assert checks.collect_seconds is None
    assert checks.expect == ()


def test_every_field_is_parsed_together() -> None:
    checks = checks_of(
        {
            "until": "id == 'req-7'",
            "max_replies": 1000,
            "collect_seconds": 2.5,
            "expect": ["length(received) > `0`", "timings_ms.total < `1000`"],
        }
    )
    assert checks.until == expression("id == 'req-7'")
    assert checks.max_replies == 1000
    assert checks.collect_seconds == 2.5
    texts = [e.text for e in checks.expect]
    assert texts == ["length(received) > `0`", "timings_ms.total < `1000`"]


def test_collect_seconds_alone_is_a_window_without_until() -> None:
    checks = checks_of({"collect_seconds": 3})
    assert checks.until is None
    assert checks.collect_seconds == 3.0
    assert isinstance(checks.collect_seconds, float)


def test_expect_alone_keeps_the_reply_count_of_expected_replies() -> None:
    checks = checks_of({"expected_replies": 2, "expect": ["received[1].type == 'update'"]})
    assert checks.until is None
    assert checks.collect_seconds is None
    assert len(checks.expect) == 1


def test_until_with_expected_replies_is_refused() -> None:
    message = rejected({"until": "type == 'pong'", "expected_replies": 1})
    assert "until" in message
    assert "expected_replies" in message


def test_max_replies_alone_is_accepted_and_bounds_nothing_else() -> None:
    parsed = parse_checks({"max_replies": 5}, error=InvalidRequest)
    assert parsed is not None
    assert (parsed.max_replies, parsed.until, parsed.collect_seconds) == (5, None, None)


def test_the_callers_error_type_is_raised() -> None:
    class Custom(ExchangeError):
        type = "custom"

    assert "until" in rejected({"until": 3}, Custom)


# --- parse_checks: limits -------------------------------------------------------------


@pytest.mark.parametrize("value", [0, -1, MAX_MAX_REPLIES + 1, 1.0, 2.5, "10", True, False, []])
def test_max_replies_outside_1_to_1000_or_not_an_integer_is_refused(value: Any) -> None:
    message = rejected({"until": "a", "max_replies": value})
    assert message.startswith("max_replies ")
    assert "1000" in message


@pytest.mark.parametrize("value", [1, MAX_MAX_REPLIES])
def test_max_replies_bounds_are_inclusive(value: int) -> None:
    assert checks_of({"until": "a", "max_replies": value}).max_replies == value


@pytest.mark.parametrize(
    "value",
    [0, 0.0, -0.5, MAX_COLLECT_SECONDS + 0.001, math.inf, math.nan, 10**400, "5", True, {}],
)
def test_collect_seconds_must_be_positive_finite_and_at_most_900(value: Any) -> None:
    message = rejected({"collect_seconds": value})
    assert message.startswith("collect_seconds ")
    assert "900" in message


@pytest.mark.parametrize("value", [0.001, 1, MAX_COLLECT_SECONDS])
def test_collect_seconds_within_bounds_is_accepted(value: float) -> None:
    assert checks_of({"collect_seconds": value}).collect_seconds == float(value)


@pytest.mark.parametrize("value", ["", "a" * (MAX_EXPRESSION_CHARS + 1), 3, ["a"], {"a": 1}, True])
def test_until_must_be_a_string_of_1_to_1000_characters(value: Any) -> None:
    message = rejected({"until": value})
    assert message.startswith("until must be")
    assert str(MAX_EXPRESSION_CHARS) in message


def test_an_expression_of_exactly_1000_characters_is_accepted() -> None:
    text = "a" * MAX_EXPRESSION_CHARS
    assert checks_of({"until": text}).until == expression(text)


@pytest.mark.parametrize("value", [[], "received", {"a": "b"}, ["a"] * (MAX_EXPECTATIONS + 1)])
def test_expect_must_be_a_list_of_1_to_20_expressions(value: Any) -> None:
    message = rejected({"expect": value})
    assert message.startswith("expect must be a list")
    assert str(MAX_EXPECTATIONS) in message


def test_twenty_expectations_are_accepted() -> None:
    assert len(checks_of({"expect": ["a"] * MAX_EXPECTATIONS}).expect) == MAX_EXPECTATIONS


@pytest.mark.parametrize("item", ["", 7, None, ["a"], "b" * (MAX_EXPRESSION_CHARS + 1)])
def test_an_expectation_that_is_not_a_short_string_is_named_by_index(item: Any) -> None:
    message = rejected({"expect": ["a", item]})
    assert message.startswith("expect[1] must be")


# --- malformed expressions ------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "foo.",  # incomplete
        "a ==",  # incomplete comparison
        "foo bar",  # two expressions
        "`{bad",  # unterminated literal
        "'open",  # unterminated raw string
        "foo[?",  # unterminated filter
        "-",  # not a token
        "a[0]a[0]",
    ],
)
def test_a_malformed_until_is_refused_with_its_position(text: str) -> None:
    message = rejected({"until": text})
    assert message.startswith("until is not a valid JMESPath expression (the error is at offset ")
    assert message.endswith(").")


@pytest.mark.parametrize(
    "text", ["received[0].count == 2", "a == -2", "length(received) > 1.5", "received[?n > 0]"]
)
def test_a_bare_number_gets_the_backticks_it_needs(text: str) -> None:
    message = rejected({"until": text})
    assert message.startswith("until is not a valid JMESPath expression")
    assert "backticks" in message
    assert "`2`" in message


def test_other_malformed_expressions_get_no_backtick_hint() -> None:
    assert "backticks" not in rejected({"until": "a =="})


def test_a_bare_number_in_default_expect_gets_the_hint_too() -> None:
    with pytest.raises(ConfigError) as info:
        parse_default_expect('["length(received) == 1"]')
    assert info.value.message.startswith("DEFAULT_EXPECT[0] is not a valid JMESPath expression")
    assert "backticks" in info.value.message


def test_a_malformed_expectation_is_named_by_its_index() -> None:
    message = rejected({"expect": ["received", "received[0].type ==", "sent"]})
    assert message.startswith("expect[1] is not a valid JMESPath expression")


def test_an_error_never_repeats_a_long_malformed_expression() -> None:
    text = "a." + "b" * 900 + " ="
    message = rejected({"until": text})
    assert "b" * 50 not in message
    assert len(message) < 200


@pytest.mark.parametrize("opening", ["(", "[", "!", "{a: "])
def test_an_expression_nested_beyond_the_parsers_reach_is_refused(opening: str) -> None:
    text = (opening * MAX_EXPRESSION_CHARS)[: MAX_EXPRESSION_CHARS - 1] + "a"
    message = rejected({"until": text})
    assert message.startswith("until ")
    assert len(message) < 200


def test_an_unknown_function_is_refused_before_any_evaluation() -> None:
    # jmespath.compile accepts it: the function table is consulted only when evaluating.
    message = rejected({"expect": ["length(received) > `0`", "contains_key(received, 'x')"]})
    assert message == "expect[1] calls an unknown JMESPath function, contains_key()."


def test_a_long_unknown_function_name_is_shortened() -> None:
    message = rejected({"until": "f" * 500 + "(@)"})
    assert "f" * 100 not in message


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("length(@, @)", "until calls length() with 2 arguments instead of 1."),
        ("max_by(@)", "until calls max_by() with 1 argument instead of 2."),
        ("not_null()", "until calls not_null() with 0 arguments instead of at least 1."),
        ("a || sort(keys(@, @))", "until calls keys() with 2 arguments instead of 1."),
        ("[?starts_with(type)]", "until calls starts_with() with 1 argument instead of 2."),
    ],
)
def test_a_function_called_with_the_wrong_number_of_arguments_is_refused(
    text: str, sentence: str
) -> None:
    assert rejected({"until": text}) == sentence


@pytest.mark.parametrize(
    "text",
    [
        "not_null(a, b, c)",
        "merge(@, `{}`)",
        "sort_by(received, &seq)",
        "length(received[?type == 'update']) >= `2`",
        "received[-1].prices | max(@) > `100`",
        "{t: type, s: seq}.t",
        "`[1, 2]` == `[1, 2]`",
    ],
)
def test_well_formed_expressions_with_functions_are_accepted(text: str) -> None:
    assert checks_of({"until": text}).until == expression(text)


# --- DEFAULT_EXPECT -------------------------------------------------------------------


@pytest.mark.parametrize("raw", [None, "", "   ", "[]", " [ ] \n"])
def test_unset_or_empty_default_expect_has_no_expectations(raw: str | None) -> None:
    assert parse_default_expect(raw) == ()


def test_default_expect_is_a_json_list_of_expressions() -> None:
    parsed = parse_default_expect('["received[0].type == \'pong\'", "timings_ms.total < `5000`"]')
    assert [e.text for e in parsed] == ["received[0].type == 'pong'", "timings_ms.total < `5000`"]


@pytest.mark.parametrize(
    ("raw", "start"),
    [
        ("received[0]", "DEFAULT_EXPECT must be a JSON list"),
        ('"received"', "DEFAULT_EXPECT must be a list of 1 to 20"),
        ('{"a": "b"}', "DEFAULT_EXPECT must be a list of 1 to 20"),
        (json.dumps(["a"] * 21), "DEFAULT_EXPECT must be a list of 1 to 20"),
        ('["a", 5]', "DEFAULT_EXPECT[1] must be a JMESPath expression"),
        ('["received[0].type =="]', "DEFAULT_EXPECT[0] is not a valid JMESPath expression"),
        ('["nope(@)"]', "DEFAULT_EXPECT[0] calls an unknown JMESPath function, nope()."),
    ],
)
def test_a_bad_default_expect_is_a_config_error_naming_the_variable(raw: str, start: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_default_expect(raw)
    assert info.value.type == "config_error"
    assert info.value.message.startswith(start)


# --- truthiness -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "truthy"),
    [
        (None, False),
        (False, False),
        ("", False),
        ([], False),
        ({}, False),
        (True, True),
        (0, True),  # unlike Python
        (0.0, True),
        (-1, True),
        ("false", True),
        (" ", True),
        ([None], True),
        ([False], True),
        ({"a": None}, True),
    ],
)
def test_truthiness_is_jmespaths_not_pythons(value: Any, truthy: bool) -> None:
    assert is_truthy(value) is truthy
    # jmespath's own not-expression agrees.
    assert matches(expression("!@"), value) is not truthy


@pytest.mark.parametrize(
    ("text", "reply", "expected"),
    [
        ("type == 'pong'", {"type": "pong"}, True),
        ("type == 'pong'", {"type": "echo"}, False),
        ("seq", {"seq": 0}, True),  # 0 is truthy
        ("missing", {"seq": 1}, False),
        ("items", {"items": []}, False),
        ("id == 'req-7'", {"type": "ack", "id": "req-7"}, True),
        ("@ == 'plain text'", "plain text", True),
        ("type", "plain text", False),  # a field of a string is null
        ("binary_base64", {"binary_base64": "AAE="}, True),
        ("[?type == 'x']", [{"type": "y"}], False),
    ],
)
def test_matches_evaluates_on_one_reply(text: str, reply: Any, expected: bool) -> None:
    assert matches(expression(text), reply) is expected


@pytest.mark.parametrize(
    ("text", "reply"),
    [
        ("abs(@)", "not a number"),
        ("sort_by(@, &a)", [{"a": 1}, {"a": "x"}]),
        ("length(@)", 5),
        ("max(@)", [1, "a"]),
        ("to_number(@) > `1`", {"a": 1}),
        ("starts_with(type, 'p')", {"type": 5}),
    ],
)
def test_an_evaluation_error_is_a_failed_match_not_an_exception(text: str, reply: Any) -> None:
    assert matches(expression(text), reply) is False


def test_a_recursion_error_while_matching_is_a_failed_match() -> None:
    def deep(depth: int) -> Any:
        value: Any = "leaf"
        for _ in range(depth):
            value = [value]
        return value

    # Two equal but distinct lists: Python's == recurses through both and gives up.
    reply = {"a": deep(200_000), "b": deep(200_000)}
    with pytest.raises(RecursionError):
        _ = reply["a"] == reply["b"]
    assert matches(expression("a == b"), reply) is False


# --- evaluate -------------------------------------------------------------------------


def test_evaluate_reports_every_expectation_and_none_failed_when_all_hold() -> None:
    expect = checks_of(
        {
            "expect": [
                "received[0].type == 'subscribed'",
                "received[0].id == sent[0].id",
                "length(received[?type == 'update']) == `2`",
                "received[-1].type == 'snapshot'",
                "max(received[-1].prices) > `100`",
                "timings_ms.total < `1000`",
                "subprotocol == null",
                "received[1].price",  # 0 is truthy
            ]
        }
    ).expect
    checks, failed = evaluate(expect, DOCUMENT)
    assert failed is None
    assert checks == [{"expect": e.text, "passed": True} for e in expect]


def test_evaluate_names_the_first_failure_and_still_evaluates_the_rest() -> None:
    expect = checks_of(
        {
            "expect": [
                "received[0].type == 'subscribed'",
                "timings_ms.connect < `10`",
                "received[5]",
                "length(received) == `4`",
            ]
        }
    ).expect
    checks, failed = evaluate(expect, DOCUMENT)
    assert failed == "timings_ms.connect < `10`"
    assert [c["passed"] for c in checks] == [True, False, False, True]
    assert [c["expect"] for c in checks] == [e.text for e in expect]
    json.dumps(checks, allow_nan=False)


def test_evaluate_counts_an_evaluation_error_as_failed() -> None:
    expect = (expression("abs(received[0].type) > `0`"), expression("sent"))
    checks, failed = evaluate(expect, DOCUMENT)
    assert failed == "abs(received[0].type) > `0`"
    assert checks == [
        {"expect": "abs(received[0].type) > `0`", "passed": False},
        {"expect": "sent", "passed": True},
    ]


def test_evaluate_with_no_expectations_has_no_checks() -> None:
    assert evaluate((), DOCUMENT) == ([], None)


def test_evaluate_on_an_empty_outcome_fails_without_raising() -> None:
    empty = {"sent": [], "received": [], "subprotocol": None, "timings_ms": {}}
    expect = (expression("received[0].type == 'pong'"), expression("max(received) > `1`"))
    checks, failed = evaluate(expect, empty)
    assert failed == "received[0].type == 'pong'"
    assert [c["passed"] for c in checks] == [False, False]


# --- messages -------------------------------------------------------------------------


def test_the_failed_expectation_sentence_names_the_expression() -> None:
    message = expectation_failed_message("received[0].type == 'pong'")
    assert message == "The expectation `received[0].type == 'pong'` did not hold."


def test_a_long_failed_expectation_is_shortened_to_one_line() -> None:
    text = "received[0].type == 'pong' &&\n  " + " || ".join(["a"] * 400)
    message = expectation_failed_message(text)
    assert "\n" not in message
    assert message.endswith("…` did not hold.")
    assert len(message) <= len("The expectation `` did not hold.") + SHOWN_EXPRESSION_CHARS


@pytest.mark.parametrize(
    ("max_replies", "sentence"),
    [
        (100, "No reply matched until within max_replies (100 replies)."),
        (1, "No reply matched until within max_replies (1 reply)."),
    ],
)
def test_the_until_sentence_gives_max_replies(max_replies: int, sentence: str) -> None:
    assert until_not_matched_message(max_replies) == sentence


def test_an_expressions_repr_shows_its_text_only() -> None:
    assert repr(expression("type == 'pong'")) == "Expression(\"type == 'pong'\")"


def test_checks_are_frozen() -> None:
    checks = checks_of({"until": "a"})
    with pytest.raises(AttributeError):
        checks.max_replies = 5  # type: ignore[misc]


# --- the sample events ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "where"),
    [("monitor-scheduler-input.json", "input"), ("monitor-api.json", "body")],
)
def test_the_monitor_samples_carry_valid_until_and_expect(name: str, where: str) -> None:
    event = json.loads((EVENTS / name).read_text(encoding="utf-8"))
    payload = event if where == "input" else json.loads(event[where])
    checks = checks_of(payload)
    assert checks.until is not None
    assert checks.expect


# --- evaluation bounded by the deadline ----------------------------------------------

_HEAVY = {"received": [{"values": list(range(1000))} for _ in range(500)]}
_FILTER = "length(received[*].values[?@ > `500`][]) > `0`"


def test_an_expression_over_server_sized_data_stops_at_the_deadline() -> None:
    import time

    expect = tuple(expression(_FILTER) for _ in range(10))
    started = time.monotonic()

    with pytest.raises(ExchangeError) as caught:
        evaluate(expect, _HEAVY, started + 0.2)

    assert caught.value.type == "expectation_failed"
    assert "ran out of time" in caught.value.message
    assert _FILTER in caught.value.message
    assert time.monotonic() - started < 1.0


def test_an_expression_with_time_left_is_evaluated_as_without_a_deadline() -> None:
    import time

    checks, failed = evaluate((expression(_FILTER),), _HEAVY, time.monotonic() + 60)

    assert checks == [{"expect": _FILTER, "passed": True}]
    assert failed is None


def test_until_stops_at_the_deadline_too() -> None:
    import time

    with pytest.raises(ExchangeError, match="ran out of time"):
        matches(expression("length(received[*].values[*]) > `0`"), _HEAVY, time.monotonic())
