"""Reply checks: ``until``, ``max_replies``, ``collect_seconds``,
``expect`` and ``DEFAULT_EXPECT``. Pure logic.

Every expression is compiled here, once, when the payload or the configuration is
parsed, so a malformed one is rejected before any secret is read or any
connection opened. Compiling catches syntax only: jmespath looks functions up
when it evaluates them, so calls are also checked against its function table
(name and arity) here, and ``foo(@)`` is refused up front instead of failing on
every reply.

A jmespath error while evaluating (a function given the wrong type, say
``abs('x')``) means the check did not hold, exactly as a falsy result does,
because a monitor must report on the server's answer, not crash on it. The one
failure evaluation raises is running out of time: an expression over
server-sized data is stopped at the deadline (``at``) with ``expectation_failed``
saying so, because the answer must come back before Lambda ends the invocation.

The request parser imports this module; ``jmespath`` itself is already loaded by
Powertools' logger, so invocations without checks pay little for it.
``AUTH_MODE=message`` compiles and evaluates its ``AUTH_SUCCESS`` and
``AUTH_FAILURE`` here too.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import jmespath
from jmespath.exceptions import JMESPathError, ParseError
from jmespath.functions import Functions
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter

from .errors import ConfigError, ExchangeError, ExpectationFailed

CHECK_FIELDS = frozenset({"until", "max_replies", "collect_seconds", "expect"})
"""Payload fields this module validates, for the core's list of accepted fields."""

MAX_EXPRESSION_CHARS = 1000
MAX_EXPECTATIONS = 20
DEFAULT_MAX_REPLIES = 100
MAX_MAX_REPLIES = 1000
# A window past the longest Lambda timeout (15 minutes) could never complete.
MAX_COLLECT_SECONDS = 900.0
# Long enough to recognise an expression in a log line or an error, short
# enough that a 1000-character one does not swamp either.
SHOWN_EXPRESSION_CHARS = 200
# A function name in an error is an identifier the caller wrote; keep it short.
SHOWN_FUNCTION_CHARS = 40


@dataclass(frozen=True, slots=True)
class Expression:
    """A JMESPath expression: its source ``text`` and the ``compiled`` form."""

    text: str
    # Compared by text: ParsedResult has no equality of its own.
    compiled: ParsedResult = field(compare=False)

    def __repr__(self) -> str:
        return f"Expression({shorten(self.text)!r})"


@dataclass(frozen=True, slots=True)
class Checks:
    """The reply checks of one invocation.

    ``until`` ends each message's replies at the first reply that satisfies it,
    after at most ``max_replies`` replies; ``collect_seconds`` (``None``: no
    window) keeps collecting after the last message; ``expect`` is evaluated
    over the whole outcome, empty when the invocation carries none.
    """

    until: Expression | None = None
    max_replies: int = DEFAULT_MAX_REPLIES
    collect_seconds: float | None = None
    expect: tuple[Expression, ...] = ()


def parse_checks(payload: Mapping[str, Any], *, error: type[ExchangeError]) -> Checks | None:
    """The :class:`Checks` a direct payload asks for, or ``None`` when it asks for none.

    A field whose value is ``null`` counts as absent, as for the payload's other
    optional fields. ``max_replies`` bounds ``until`` and ``collect_seconds``; alone,
    it changes nothing.

    Raises:
        ExchangeError: ``error`` (the caller's type, :class:`InvalidRequest` for a
            payload) with one sentence naming the field at fault.
    """
    until_value = payload.get("until")
    max_replies_value = payload.get("max_replies")
    collect_value = payload.get("collect_seconds")
    expect_value = payload.get("expect")
    if all(v is None for v in (until_value, max_replies_value, collect_value, expect_value)):
        return None
    if until_value is not None and payload.get("expected_replies") is not None:
        raise error("A payload may carry until or expected_replies, not both.")
    until = None if until_value is None else _compile(until_value, "until", error)
    collect_seconds = None if collect_value is None else _collect_seconds(collect_value, error)
    max_replies = DEFAULT_MAX_REPLIES
    if max_replies_value is not None:
        max_replies = _max_replies(max_replies_value, error)
    expect = () if expect_value is None else _expect(expect_value, "expect", error)
    return Checks(
        until=until, max_replies=max_replies, collect_seconds=collect_seconds, expect=expect
    )


def parse_default_expect(raw: str | None) -> tuple[Expression, ...]:
    """The expectations of ``DEFAULT_EXPECT``: a JSON list, ``()`` when unset, empty or ``[]``.

    Raises:
        ConfigError: naming ``DEFAULT_EXPECT`` (and the item at fault).
    """
    if raw is None or not raw.strip():
        return ()
    try:
        value = json.loads(raw)
    except ValueError:
        raise ConfigError(
            "DEFAULT_EXPECT must be a JSON list of JMESPath expressions, such as "
            "[\"received[0].type == 'pong'\"]."
        ) from None
    if value == []:
        return ()
    return _expect(value, "DEFAULT_EXPECT", ConfigError)


def is_truthy(value: Any) -> bool:
    """JMESPath's truthiness: false, null and empty strings, lists and objects are false.

    Unlike Python's, ``0`` is true (JMESPath specification, "Or Expressions").
    """
    if value is None or value is False:
        return False
    if isinstance(value, str | list | dict | tuple):
        return len(value) > 0
    return True


class _OutOfTime(Exception):
    """The deadline came while an expression was being evaluated."""


class _BoundedInterpreter(TreeInterpreter):  # type: ignore[misc]  # jmespath is untyped
    """jmespath's own interpreter, asking ``out_of_time`` every few nodes it visits.

    Every node of an expression, and every element a projection, filter or
    ``sort_by`` walks, is one ``visit``, so a projection or a sort over a huge
    reply is bounded; a single built-in over one value (``sort``,
    ``to_string``) is not divisible, but a reply's size is bounded by
    ``MAX_MESSAGE_BYTES``.
    """

    def __init__(self, out_of_time: Callable[[], bool]) -> None:
        super().__init__()
        self._out_of_time = out_of_time
        self._visits = 0

    def visit(self, node: Any, *args: Any, **kwargs: Any) -> Any:
        self._visits += 1
        if not self._visits % _VISITS_PER_CHECK and self._out_of_time():
            raise _OutOfTime
        # Visitor.visit's own dispatch, inlined: calling it through super()
        # doubled the cost of a projection over 200,000 items.
        method = self._method_cache.get(node["type"])
        if method is None:
            method = getattr(self, f"visit_{node['type']}", self.default_visit)
            self._method_cache[node["type"]] = method
        return method(node, *args, **kwargs)


# How often (in nodes visited) an evaluation asks whether time is up: a visit
# costs about 0.6 microseconds (a projection over 200,000 items), so the
# deadline is overshot by well under 1 ms.
_VISITS_PER_CHECK = 256


def bounded_search(expression: Expression, value: Any, out_of_time: Callable[[], bool]) -> Any:
    """``expression`` evaluated on ``value``, stopping once ``out_of_time()`` is true.

    Raises:
        TimeoutError: time ran out during the evaluation.
        Exception: whatever jmespath (or Python under it) raised: the caller
            decides what a failed evaluation means.
    """
    if out_of_time():
        raise TimeoutError
    try:
        return _BoundedInterpreter(out_of_time).visit(expression.compiled.parsed, value)
    except _OutOfTime:
        raise TimeoutError from None


def deadline_check(at: float) -> Callable[[], bool]:
    """Whether the deadline ``at`` (:func:`time.monotonic`) has come."""
    return lambda: time.monotonic() >= at


def search(expression: Expression, value: Any, at: float | None = None) -> Any:
    """``expression`` evaluated on ``value``, stopped at ``at`` (:func:`time.monotonic`).

    Raises:
        ExpectationFailed: the deadline came first.
        Exception: whatever jmespath raises on data it cannot evaluate.
    """
    if at is None:
        return expression.compiled.search(value)
    try:
        return bounded_search(expression, value, deadline_check(at))
    except TimeoutError:
        raise ExpectationFailed(out_of_time_message(expression.text)) from None


def matches(expression: Expression, reply: Any, at: float | None = None) -> bool:
    """Whether ``expression`` is truthy on ``reply``; an evaluation error is ``False``.

    Raises:
        ExpectationFailed: the deadline ``at`` came first.
    """
    try:
        return is_truthy(search(expression, reply, at))
    except ExpectationFailed:
        raise
    except Exception:
        # A check that cannot be evaluated did not hold. JMESPathTypeError is
        # the usual error; the interpreter can also raise plain TypeError or
        # RecursionError on odd data, and none may escape into the exchange.
        return False


def evaluate(
    expect: Iterable[Expression], document: Mapping[str, Any], at: float | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Evaluate every expectation on ``document``, stopped at the deadline ``at``.

    ``document`` is ``{"sent", "received", "subprotocol", "timings_ms"}``.
    Returns the result's ``checks`` (``{"expect": text, "passed": bool}`` for
    each expectation, in order) and the text of the first that failed, or
    ``None`` when all passed.
    """
    checks: list[dict[str, Any]] = []
    first_failed: str | None = None
    for expression in expect:
        passed = matches(expression, document, at)
        checks.append({"expect": expression.text, "passed": passed})
        if not passed and first_failed is None:
            first_failed = expression.text
    return checks, first_failed


def expectation_failed_message(text: str) -> str:
    """The ``expectation_failed`` sentence for the first expectation that did not hold."""
    return f"The expectation `{shorten(text)}` did not hold."


def out_of_time_message(text: str) -> str:
    """The ``expectation_failed`` sentence for an expression stopped by the deadline."""
    return (
        f"Evaluating `{shorten(text)}` ran out of time before the Lambda deadline; "
        "check fewer or smaller replies, or give the function more time."
    )


def until_not_matched_message(max_replies: int) -> str:
    """The ``expectation_failed`` sentence for ``until`` never matching."""
    replies = "reply" if max_replies == 1 else "replies"
    return f"No reply matched until within max_replies ({max_replies} {replies})."


def shorten(text: str, limit: int = SHOWN_EXPRESSION_CHARS) -> str:
    """``text`` on one line, cut to ``limit`` characters (with an ellipsis) for messages."""
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"


def compile_expression(text: str) -> Expression:
    """Compile ``text`` and check its function calls.

    Raises:
        ValueError: with a sentence fragment saying what is wrong (no expression text).
    """
    try:
        compiled = jmespath.compile(text)
    except ParseError as exc:
        # LexerError, IncompleteExpressionError and ParseError all carry the
        # position; their own text repeats the whole expression, so it is not used.
        where = exc.lex_position
        at = f" (the error is at offset {where})" if isinstance(where, int) else ""
        # `a == 2` is the commonest mistake: JMESPath has no bare number literals.
        if str(getattr(exc, "token_type", "")).lower() == "number":
            at += "; a number is a literal there and goes in backticks, e.g. a == `2`"
        raise ValueError(f"is not a valid JMESPath expression{at}") from None
    except JMESPathError:
        raise ValueError("is not a valid JMESPath expression") from None
    except RecursionError:
        # jmespath's parser recurses once per nesting level: a few hundred
        # "(" or "[" within the 1000 characters exhaust Python's stack.
        raise ValueError("nests too deeply to be a JMESPath expression") from None
    _check_functions(compiled.parsed)
    return Expression(text, compiled)


def _check_functions(tree: Mapping[str, Any]) -> None:
    # The tree's depth is bounded by the expression's 1000 characters, but an
    # explicit stack keeps the walk clear of the recursion limit regardless.
    table: Mapping[str, Mapping[str, Any]] = Functions.FUNCTION_TABLE
    stack: list[Any] = [tree]
    while stack:
        node = stack.pop()
        if not isinstance(node, Mapping):
            continue
        children: Sequence[Any] = node.get("children") or ()
        if node.get("type") == "function_expression":
            name = str(node.get("value"))
            shown = shorten(name, SHOWN_FUNCTION_CHARS)
            spec = table.get(name)
            if spec is None:
                raise ValueError(f"calls an unknown JMESPath function, {shown}()")
            signature = spec["signature"]
            variadic = bool(signature) and bool(signature[-1].get("variadic"))
            if (len(children) < len(signature)) if variadic else (len(children) != len(signature)):
                least = "at least " if variadic else ""
                given = "1 argument" if len(children) == 1 else f"{len(children)} arguments"
                raise ValueError(f"calls {shown}() with {given} instead of {least}{len(signature)}")
        stack.extend(children)


def _compile(value: Any, name: str, error: type[ExchangeError]) -> Expression:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EXPRESSION_CHARS:
        raise error(
            f"{name} must be a JMESPath expression of 1 to {MAX_EXPRESSION_CHARS} characters."
        )
    try:
        return compile_expression(value)
    except ValueError as exc:
        raise error(f"{name} {exc}.") from None


def _expect(value: Any, name: str, error: type[ExchangeError]) -> tuple[Expression, ...]:
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_EXPECTATIONS:
        raise error(f"{name} must be a list of 1 to {MAX_EXPECTATIONS} JMESPath expressions.")
    return tuple(_compile(item, f"{name}[{index}]", error) for index, item in enumerate(value))


def _max_replies(value: Any, error: type[ExchangeError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_MAX_REPLIES:
        raise error(f"max_replies must be a whole number from 1 to {MAX_MAX_REPLIES}.")
    return value


def _collect_seconds(value: Any, error: type[ExchangeError]) -> float:
    return positive_seconds(value, "collect_seconds", MAX_COLLECT_SECONDS, error)


def positive_seconds(value: Any, where: str, most: float, error: type[ExchangeError]) -> float:
    """``value`` as seconds in (0, ``most``]; ``error`` naming ``where`` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        seconds = math.nan
    else:
        try:
            seconds = float(value)
        except OverflowError:
            # An integer beyond a float's range (JSON allows any length).
            seconds = math.inf
    if not (math.isfinite(seconds) and 0 < seconds <= most):
        raise error(f"{where} must be a number of seconds greater than 0 and at most {most:g}.")
    return seconds
