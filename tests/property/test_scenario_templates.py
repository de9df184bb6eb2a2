"""Properties of scenarios: placeholders fill in exactly what was written, and any
``steps`` value is either valid or an ``invalid_request``, never anything else.

The oracle builds each template from parts (literal text, placeholders) with its
own escaping, a plain ``str.replace``, and computes the expected value from the
parts directly; it never parses a template.
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ws_exchange import framing
from ws_exchange.errors import ExchangeError, InvalidRequest
from ws_exchange.scenario import SendStep, parse_steps
from ws_exchange.templates import compile_template, render

from .conftest import JSONISH, PROPERTY_SETTINGS

NAMES = ["a", "sid", "_x9", "Z" * 64]
FIXED = {
    "uuid": lambda: "U",
    "timestamp": lambda: "T",
    "epoch_ms": lambda: 7,
    "request_id": lambda: "R",
}
# Text rich in what the grammar reacts to: braces, name characters, spaces.
BRACY = st.text(st.sampled_from("{}{}ab_1 é\n"), max_size=24)
VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**20), max_value=10**20),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=3),
)


def literal(text: str) -> str:
    """``text`` written so that it reads as itself: each ``{{`` and ``}}`` doubled."""
    return text.replace("{{", "{{{{").replace("}}", "}}}}")


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else framing.dumps(value)


Part = tuple[str, str]  # ("text", literal) or ("name", variable name)
PARTS = st.lists(
    st.one_of(
        st.tuples(st.just("text"), BRACY),
        st.tuples(st.just("name"), st.sampled_from(NAMES)),
    ),
    max_size=6,
)


@PROPERTY_SETTINGS
@given(text=BRACY)
def test_any_text_written_with_doubled_braces_reads_as_itself(text: str) -> None:
    template = compile_template({"t": literal(text)})
    assert template.names == frozenset()
    assert render(template, {}, FIXED) == {"t": text}


@PROPERTY_SETTINGS
@given(parts=PARTS, values=st.lists(VALUES, min_size=len(NAMES), max_size=len(NAMES)))
def test_placeholders_fill_in_exactly_what_was_written(
    parts: list[Part], values: list[Any]
) -> None:
    variables = dict(zip(NAMES, values, strict=True))
    written = "".join(
        literal(piece) if kind == "text" else f"{{{{{piece}}}}}" for kind, piece in parts
    )
    template = compile_template([written], NAMES)
    rendered = render(template, variables, FIXED)
    written_pieces = [(kind, piece) for kind, piece in parts if kind == "name" or piece]
    if len(written_pieces) == 1 and written_pieces[0][0] == "name":
        # Exactly one placeholder and nothing else: the value, with its type.
        name = written_pieces[0][1]
        assert rendered == [variables[name]]
        assert type(rendered[0]) is type(variables[name])
        return
    expected = "".join(
        piece if kind == "text" else as_text(variables[piece]) for kind, piece in parts
    )
    assert rendered == [expected]
    assert template.names == {piece for kind, piece in parts if kind == "name"}


# Text that JSON escapes, and the character the compiled text marks placeholders with.
ESCAPY = st.text(st.sampled_from('{}ab"\\\n\x00\U0001f600'), max_size=8) | st.sampled_from(
    ["\ue000", "a\ue0000\ue000", "\ud800"]
)
# Mostly strings and numbers, as variables mostly are; now and then a container.
SEND_VALUES = st.one_of(
    ESCAPY,
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    ESCAPY,
    VALUES,
    st.lists(st.one_of(st.integers(), ESCAPY), max_size=3),
)
# Parts with at least one placeholder among them.
FILLED_PARTS = st.builds(
    lambda before, name, after: [*before, ("name", name), *after],
    PARTS,
    st.sampled_from(NAMES),
    PARTS,
)
NESTED_PARTS = st.recursive(
    st.one_of(FILLED_PARTS, FILLED_PARTS, FILLED_PARTS, PARTS, st.integers(), ESCAPY.map(literal)),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(ESCAPY, children, max_size=3)
    ),
    max_leaves=6,
)


def written_value(node: Any) -> Any:
    """A send value from parts: each list of parts becomes one string."""
    if isinstance(node, list) and all(isinstance(item, tuple) for item in node):
        return "".join(
            literal(piece) if kind == "text" else f"{{{{{piece}}}}}" for kind, piece in node
        )
    if isinstance(node, list):
        return [written_value(item) for item in node]
    if isinstance(node, dict):
        return {key: written_value(item) for key, item in node.items()}
    return node


@settings(PROPERTY_SETTINGS, max_examples=400)
@given(
    shape=NESTED_PARTS,
    values=st.lists(SEND_VALUES, min_size=len(NAMES), max_size=len(NAMES)),
)
def test_a_filled_in_message_is_sent_as_its_value_encoded(shape: Any, values: list[Any]) -> None:
    # However the message is written (its template's own text cut where the
    # values go, or the value encoded whole), the frame is the filled-in
    # value's JSON text; the oracle is the encoder over the rendered value.
    value = written_value({"m": shape})
    variables = dict(zip(NAMES, values, strict=True))
    try:
        steps = parse_steps(
            [{"receive": {"count": 1}, "extract": dict.fromkeys(NAMES, "x")}, {"send": value}]
        )
    except InvalidRequest:
        return
    step = steps[1]
    assert isinstance(step, SendStep)
    expected = render(step.template, variables, FIXED)
    try:
        encoded = framing.dumps(expected)
        encoded.encode("utf-8")
    except ValueError:
        with pytest.raises(ExchangeError):
            step.prepare(variables, FIXED, "")
        return
    outgoing = step.prepare(variables, FIXED, "")
    assert outgoing.message == expected
    assert outgoing.data == encoded
    assert outgoing.size == len(encoded.encode("utf-8"))


@PROPERTY_SETTINGS
@given(text=BRACY)
def test_any_text_compiles_or_is_refused_with_a_sentence(text: str) -> None:
    try:
        template = compile_template(text, NAMES)
    except ValueError as exc:
        path, sentence = exc.args
        assert path == ""
        assert sentence.startswith(("has `{{", "uses {{"))
        assert "{{" in text
        return
    variables = dict.fromkeys(NAMES, "v")
    rendered = render(template, variables, FIXED)
    if "{{" not in text and "}}}}" not in text:
        assert rendered == text


@PROPERTY_SETTINGS
@given(value=JSONISH)
def test_a_value_without_braces_is_sent_as_it_is(value: Any) -> None:
    def braces(item: Any) -> bool:
        if isinstance(item, str):
            return "{" in item or "}" in item
        if isinstance(item, list):
            return any(braces(child) for child in item)
        if isinstance(item, dict):
            return any(braces(child) for child in item.values())
        return False

    try:
        outgoing = framing.prepare(value, timestamp_field="")
    except ValueError:
        return
    if braces(value):
        return
    (step,) = parse_steps([{"send": value}])
    assert isinstance(step, SendStep)
    assert step.outgoing == outgoing
    assert render(step.template, {}, FIXED) is value


BRACY_VALUES = st.recursive(
    st.one_of(BRACY, st.integers()),
    lambda children: st.one_of(
        st.lists(children, max_size=3), st.dictionaries(BRACY, children, max_size=3)
    ),
    max_leaves=8,
)


@PROPERTY_SETTINGS
@given(value=BRACY_VALUES)
def test_a_value_without_placeholders_is_sent_as_its_escapes_read(value: Any) -> None:
    # Braces in keys and in text, nested objects closing side by side: whichever
    # way the step is parsed, what is sent is the value with its escapes read.
    try:
        template = compile_template(value)
    except ValueError:
        return
    if template.names:
        return
    (step,) = parse_steps([{"send": value}])
    assert isinstance(step, SendStep)
    assert step.outgoing == framing.prepare(template.root, timestamp_field="")
    assert render(step.template, {}, FIXED) == template.root


STEP_KEYS = st.sampled_from(
    ["send", "receive", "collect", "await_close", "ping", "expect", "sleep", "extract", "x"]
)
INNER_KEYS = st.sampled_from(["count", "until", "max_replies", "timeout_seconds", "extract", "y"])
LEAVES = st.one_of(
    JSONISH,
    st.sampled_from([0, 1, 5, 61, 901, 1000, 1001, -1, 0.5, "a", "type == 'x'", "{{a}}", "a.["]),
)
STEP_VALUES = st.one_of(
    LEAVES,
    st.dictionaries(INNER_KEYS, LEAVES, max_size=3),
    st.dictionaries(st.sampled_from([*NAMES, "1x", "uuid"]), LEAVES, max_size=2),
)
STEPS = st.one_of(
    LEAVES,
    st.lists(
        st.one_of(LEAVES, st.dictionaries(STEP_KEYS, STEP_VALUES, min_size=1, max_size=2)),
        min_size=1,
        max_size=5,
    ),
)


@PROPERTY_SETTINGS
@given(steps=STEPS)
def test_any_steps_value_is_valid_or_an_invalid_request_naming_the_steps(steps: Any) -> None:
    try:
        parsed = parse_steps(steps)
    except InvalidRequest as exc:
        assert exc.message.startswith("steps")
        exc.message.encode("utf-8")
        return
    assert len(parsed) == len(steps)
    assert [step.label for step in parsed] == [f"steps[{n}]" for n in range(len(steps))]
