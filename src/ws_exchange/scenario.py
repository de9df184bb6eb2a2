"""Scenarios: a conversation written as steps, with variables. Pure logic.

A direct payload may carry ``steps`` instead of ``message``/``messages``: an
ordered list of 1 to 1000 step objects, run in order over one connection. This
module validates them into typed steps before any I/O (:func:`parse_steps`),
reads variables out of a reply (:func:`extract`) and evaluates an ``expect``
step; a ``send`` value's placeholders are :mod:`.templates`' concern, and the
exchange does the waiting, sending and receiving.

Each step has exactly one action key: ``send``, ``receive``, ``collect``,
``await_close``, ``ping``, ``expect`` or ``sleep``. A ``receive`` step may also
carry ``extract``, ``{"<name>": "<JMESPath>"}``, evaluated on the last reply of
that step; each name becomes a variable for the steps after it.

Steps and templates are named tuples, not dataclasses: every invocation
imports this module (plain messages run as steps too), and fourteen dataclasses
cost ~7 ms of cold start against ~2 ms (cProfile of the import).

Expressions (``until``, ``extract``, ``expect``) are bounded by the deadline:
the interpreter asks a callable, every few nodes it visits, whether time is up.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Final, NamedTuple, TypeAlias

from . import framing
from .checks import (
    DEFAULT_MAX_REPLIES,
    MAX_EXPRESSION_CHARS,
    MAX_MAX_REPLIES,
    Expression,
    bounded_search,
    compile_expression,
    is_truthy,
    positive_seconds,
    shorten,
)
from .checks import (
    until_not_matched_message as checks_until_not_matched_message,
)
from .errors import (
    ExchangeError,
    ExpectationFailed,
    InvalidRequest,
    MessageTooLarge,
)
from .suggest import did_you_mean
from .templates import (
    BUILTIN_NAMES,
    NAME,
    NO_NAMES,
    Builtins,
    Template,
    compile_template,
    fill,
)

ACTIONS: Final = ("send", "receive", "collect", "await_close", "ping", "expect", "sleep")
MAX_STEPS = 1000
MAX_COUNT = 1000
# A wait past the longest Lambda timeout (15 minutes) could never complete.
MAX_TIMEOUT_SECONDS = 900.0
MAX_COLLECT_SECONDS = 900.0
# A collect step keeps at most this many replies: a window is not a flood.
COLLECT_MAX_REPLIES = 1000
MAX_SLEEP_SECONDS = 60.0
# More variables than this from one reply is a mistake, not a scenario.
MAX_EXTRACTS = 100

_RECEIVE_KEYS = ("count", "until", "max_replies", "timeout_seconds")
_AWAIT_CLOSE_KEYS = ("timeout_seconds",)
_STEP_KEYS = (*ACTIONS, "extract")
_ACTION_SET = frozenset(ACTIONS)
_STEP_KEY_SET = frozenset(_STEP_KEYS)


def _shown_key(key: Any) -> str:
    text = key if isinstance(key, str) else str(key)
    return json.dumps(shorten(text, 40))


# --- steps --------------------------------------------------------------------------------


class Extraction(NamedTuple):
    """One variable a ``receive`` step reads from its last reply."""

    name: str
    expression: Expression


class SendStep(NamedTuple):
    """Send a value, its placeholders filled in.

    ``outgoing`` is the message encoded at parse time when it has no
    placeholders (``None`` otherwise): sending it then costs what sending a
    plain message costs.
    """

    label: str
    template: Template
    outgoing: framing.Outgoing | None

    def prepare(
        self, variables: Mapping[str, Any], builtins: Builtins, timestamp_field: str
    ) -> framing.Outgoing:
        """The message to send now, placeholders filled in, checked and encoded.

        Raises:
            MessageTooLarge: the filled-in message is larger than the limit or
                nested too deeply.
            ExpectationFailed: it cannot be sent otherwise (a ``binary_base64``
                filled with a value that is not base64).

        Not ``invalid_request``: the request was valid and the connection is
        open; the variables, the server's data, made the message unsendable.
        """
        if self.outgoing is not None:
            return self.outgoing
        try:
            message, text = fill(self.template, variables, builtins)
            if text is not None:
                return framing.prepare_written(message, text, timestamp_field)
            return framing.prepare(message, timestamp_field)
        except framing.TooLarge as exc:
            raise MessageTooLarge(
                f"{self.label}.send, once its placeholders are filled in, {exc}."
            ) from None
        except ValueError as exc:
            raise ExpectationFailed(
                f"{self.label}.send, once its placeholders are filled in, {exc}."
            ) from None


class ReceiveStep(NamedTuple):
    """Collect ``count`` replies, or replies until one makes ``until`` truthy (at
    most ``max_replies``), or, with neither, until the protocol's operation is
    complete (GraphQL's ``complete``); then read ``extract`` from the last one.

    ``timeout`` is each reply's limit in seconds (``None``: the invocation's).
    With ``count``, ``max_replies`` is ``count``: the most replies the step
    ever collects, whichever way it was written.
    """

    label: str
    # Shadows tuple.count, which nothing here calls.
    count: int | None  # type: ignore[assignment]
    until: Expression | None
    max_replies: int
    timeout: float | None
    extract: tuple[Extraction, ...] = ()


class CollectStep(NamedTuple):
    """Keep whatever arrives for ``seconds`` (at most ``max_replies``); silence is fine."""

    label: str
    seconds: float
    max_replies: int = COLLECT_MAX_REPLIES


class AwaitCloseStep(NamedTuple):
    """Wait for the server to close the connection (``timeout`` in seconds;
    ``None``: the invocation's reply timeout)."""

    label: str
    timeout: float | None


class PingStep(NamedTuple):
    """Send a WebSocket ping and wait for its pong (within the reply timeout)."""

    label: str


class ExpectStep(NamedTuple):
    """Evaluate ``expression`` on the exchange so far; falsy stops the exchange."""

    label: str
    expression: Expression


class SleepStep(NamedTuple):
    """Wait ``seconds`` (never past the deadline)."""

    label: str
    seconds: float


Step: TypeAlias = (
    SendStep | ReceiveStep | CollectStep | AwaitCloseStep | PingStep | ExpectStep | SleepStep
)


def parse_steps(
    value: Any, *, error: type[ExchangeError] = InvalidRequest, where: str = "steps"
) -> tuple[Step, ...]:
    """Validate a ``steps`` list into typed steps, before any I/O.

    ``where`` names the list in messages (``steps[3].receive.count ...``).

    Raises:
        ExchangeError: ``error`` (:class:`InvalidRequest` for a payload): one
            sentence naming the step and the key at fault and, for a misspelt
            key or variable, the closest valid one.
    """
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_STEPS:
        raise error(
            f"{where} must be a list of 1 to {MAX_STEPS} step objects, such as "
            '[{"send": {"action": "ping"}}, {"receive": {"count": 1}}].'
        )
    known: set[str] = set()
    # Templates compiled so far, by their JSON text: a scenario often sends one
    # message many times (a poll with its session id), and the variables a
    # template may use only grow from one step to the next.
    compiled: dict[str | bytes, Template] = {}
    steps: list[Step] = []
    for index, raw in enumerate(value):
        step = _parse_step(raw, index, where, known, value, compiled, error)
        if isinstance(step, ReceiveStep):
            known.update(item.name for item in step.extract)
        steps.append(step)
    return tuple(steps)


def static_wait_seconds(steps: Iterable[Step]) -> float:
    """Seconds the steps wait whatever the server does: their ``sleep`` and ``collect``.

    For information only: a scenario whose waits outlast the time left still
    runs, and is cut at the deadline.
    """
    return math.fsum(step.seconds for step in steps if isinstance(step, SleepStep | CollectStep))


def _parse_step(
    raw: Any,
    index: int,
    where: str,
    known: Iterable[str],
    steps: list[Any],
    compiled: dict[str | bytes, Template],
    error: type[ExchangeError],
) -> Step:
    label = f"{where}[{index}]"
    if not isinstance(raw, dict):
        raise error(f"{label} must be an object with one action key: {', '.join(ACTIONS)}.")
    actions = [key for key in raw if key in _ACTION_SET]
    if len(actions) + ("extract" in raw) != len(raw):
        key = next(key for key in raw if key not in _STEP_KEY_SET)
        hint = did_you_mean(str(key), _STEP_KEYS)
        raise error(f"{label} has an unknown key, {_shown_key(key)}{hint}")
    if not actions:
        raise error(f"{label} has no action: a step has exactly one of {', '.join(ACTIONS)}.")
    if len(actions) > 1:
        first, second = sorted(actions, key=ACTIONS.index)[:2]
        raise error(
            f"{label} has both {first} and {second}: a step does exactly one thing; "
            "write one step for each."
        )
    action = actions[0]
    extract = raw.get("extract")
    if extract is not None and action != "receive":
        raise error(
            f"{label}.extract belongs beside receive: only a receive step has a reply to "
            "extract from."
        )
    item = raw[action]
    at = f"{label}.{action}"
    if action == "send":
        return _send(item, label, known, _later(steps, index, where), compiled, error)
    if action == "receive":
        return _receive(item, extract, label, error)
    if action == "collect":
        return CollectStep(label, positive_seconds(item, at, MAX_COLLECT_SECONDS, error))
    if action == "await_close":
        return AwaitCloseStep(label, _await_close(item, at, error))
    if action == "ping":
        if not isinstance(item, dict) or item:
            raise error(f"{at} must be {{}} (an empty object).")
        return PingStep(label)
    if action == "expect":
        return ExpectStep(label, _expression(item, at, error))
    return SleepStep(label, positive_seconds(item, at, MAX_SLEEP_SECONDS, error))


def _later(steps: Sequence[Any], index: int, where: str) -> Callable[[str], str | None]:
    """Which step after ``index`` extracts a name (for a clearer error), if any."""

    def extracted_later(name: str) -> str | None:
        for later in range(index + 1, len(steps)):
            raw = steps[later]
            extract = raw.get("extract") if isinstance(raw, dict) else None
            if isinstance(extract, dict) and name in extract:
                return f"{where}[{later}]"
        return None

    return extracted_later


def _send(
    value: Any,
    label: str,
    known: Iterable[str],
    extracted_later: Callable[[str], str | None],
    compiled: dict[str | bytes, Template],
    error: type[ExchangeError],
) -> SendStep:
    where = f"{label}.send"
    try:
        # First: compiling then walks a value known to nest at most 64 levels.
        # Not stamped yet: the plan puts the timestamp in TIMESTAMP_FIELD.
        outgoing = framing.prepare(value, timestamp_field="")
    except ValueError as exc:
        # A binary message's base64 may be a template ({"binary_base64": "{{data}}"}):
        # it is checked once filled in, or below once its escapes are read.
        if not _binary_template(value):
            raise error(f"{where} {exc}.") from None
        outgoing = None
    if outgoing is not None and not _may_hold_placeholders(outgoing.data):
        # Neither a placeholder nor an escape in any of its strings: it is sent as it is.
        return SendStep(label, Template(value, NO_NAMES), outgoing)
    # Objects and lists only: a string is sent as its own text, which may read
    # as an object's JSON (the string '{"a":1}' and the object {"a":1}).
    key = outgoing.data if outgoing is not None and isinstance(value, (dict, list)) else None
    template = None if key is None else compiled.get(key)
    if template is None:
        try:
            template = compile_template(value, known, extracted_later=extracted_later)
        except ValueError as exc:
            path, sentence = exc.args
            raise error(f"{where}{path} {sentence}") from None
    if template.names:
        if key is not None:
            compiled[key] = template
        return SendStep(label, template, None)
    if outgoing is None or template.root is not value:
        # Escapes changed the text: encode what will be sent.
        try:
            outgoing = framing.prepare(template.root, timestamp_field="")
        except ValueError as exc:
            raise error(f"{where} {exc}.") from None
    return SendStep(label, template, outgoing)


def _may_hold_placeholders(data: str | bytes) -> bool:
    """Whether a message encoded as ``data`` may hold a placeholder or an escape.

    Its JSON text holds ``{{`` exactly where one of its strings does (JSON's
    own braces are never side by side, an object's first key being a string);
    ``}}}}`` may also be nested objects closing, which compiling then tells
    apart. Base64 holds no brace. This spares the template walk for the
    messages that have none: parsing 1000 steps took ~8 ms with it.
    """
    return isinstance(data, str) and ("{{" in data or "}}}}" in data)


def _binary_template(value: Any) -> bool:
    if not framing.is_binary(value):
        return False
    text = value[framing.BINARY_FIELD]
    return isinstance(text, str) and "{{" in text


def _receive(value: Any, extract: Any, label: str, error: type[ExchangeError]) -> ReceiveStep:
    where = f"{label}.receive"
    if not isinstance(value, dict):
        raise error(f'{where} must be an object: {{"count": n}} or {{"until": "<JMESPath>"}}.')
    for key in value:
        if key not in _RECEIVE_KEYS:
            if key == "extract":
                raise error(
                    f"{where}.extract belongs beside receive, in the step itself: "
                    '{"receive": {...}, "extract": {...}}.'
                )
            hint = did_you_mean(str(key), _RECEIVE_KEYS)
            raise error(f"{where} has an unknown key, {_shown_key(key)}{hint}")
    count_value = value.get("count")
    until_value = value.get("until")
    if count_value is not None and until_value is not None:
        raise error(f"{where} may hold count or until, not both.")
    max_replies_value = value.get("max_replies")
    timeout_value = value.get("timeout_seconds")
    timeout = None
    if timeout_value is not None:
        timeout = positive_seconds(
            timeout_value, f"{where}.timeout_seconds", MAX_TIMEOUT_SECONDS, error
        )
    extractions = _extractions(extract, label, error)
    if count_value is not None:
        if max_replies_value is not None:
            raise error(
                f"{where}.max_replies applies only with until: count already says how many "
                "replies to collect."
            )
        count = _whole(count_value, f"{where}.count", MAX_COUNT, error)
        return ReceiveStep(label, count, None, count, timeout, extractions)
    # Neither: until the protocol says the operation is complete (checked against
    # PROTOCOL when the plan is made: only a protocol with operations has that).
    until = None if until_value is None else _expression(until_value, f"{where}.until", error)
    max_replies = DEFAULT_MAX_REPLIES
    if max_replies_value is not None:
        max_replies = _whole(max_replies_value, f"{where}.max_replies", MAX_MAX_REPLIES, error)
    return ReceiveStep(label, None, until, max_replies, timeout, extractions)


def _extractions(value: Any, label: str, error: type[ExchangeError]) -> tuple[Extraction, ...]:
    where = f"{label}.extract"
    if value is None:
        return ()
    if not isinstance(value, dict) or not 1 <= len(value) <= MAX_EXTRACTS:
        raise error(
            f"{where} must be an object of 1 to {MAX_EXTRACTS} variables, "
            '{"<name>": "<JMESPath>"}, such as {"session_id": "session.id"}.'
        )
    extractions = []
    for name, text in value.items():
        if not (isinstance(name, str) and NAME.fullmatch(name)):
            raise error(
                f"{where} has the name {_shown_key(name)}: a name is 1 to 64 letters, digits "
                "and underscores, not starting with a digit."
            )
        if name in BUILTIN_NAMES:
            raise error(
                f"{where}.{name} would hide the built-in {{{{{name}}}}}: choose another name."
            )
        extractions.append(Extraction(name, _expression(text, f"{where}.{name}", error)))
    return tuple(extractions)


def _await_close(value: Any, where: str, error: type[ExchangeError]) -> float | None:
    if not isinstance(value, dict):
        raise error(f'{where} must be an object: {{}} or {{"timeout_seconds": s}}.')
    for key in value:
        if key not in _AWAIT_CLOSE_KEYS:
            hint = did_you_mean(str(key), _AWAIT_CLOSE_KEYS)
            raise error(f"{where} has an unknown key, {_shown_key(key)}{hint}")
    timeout = value.get("timeout_seconds")
    if timeout is None:
        return None
    return positive_seconds(timeout, f"{where}.timeout_seconds", MAX_TIMEOUT_SECONDS, error)


def _expression(value: Any, where: str, error: type[ExchangeError]) -> Expression:
    if not isinstance(value, str) or not 1 <= len(value) <= MAX_EXPRESSION_CHARS:
        raise error(
            f"{where} must be a JMESPath expression of 1 to {MAX_EXPRESSION_CHARS} characters."
        )
    try:
        return compile_expression(value)
    except ValueError as exc:
        raise error(f"{where} {exc}.") from None


def _whole(value: Any, where: str, most: int, error: type[ExchangeError]) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
        raise error(f"{where} must be a whole number from 1 to {most}.")
    return value


# --- evaluation ---------------------------------------------------------------------------


def extract(
    step: ReceiveStep,
    reply: Any,
    deadline_check: Callable[[], bool],
    charge: Callable[[str, str], None] | None = None,
) -> dict[str, Any]:
    """The variables ``step`` reads from ``reply``, the last reply it collected.

    ``deadline_check()`` is true once the deadline has come. Each value is
    strict JSON (a result that is not, such as ``to_number('1e400')``, counts
    as no value). ``charge(name, text)`` is told each string or container
    value as compact JSON text, as soon as it is found: a projection or a sort
    of a large reply is a copy, which the memory budget must see before the
    next expression makes another.

    Raises:
        ExpectationFailed: an expression found nothing (null), could not be
            evaluated on this reply, or ran out of time; the message names the
            variable and the step.
    """
    found: dict[str, Any] = {}
    for item in step.extract:
        where = f"{step.label}.extract.{item.name}"
        shown = shorten(item.expression.text)
        value = _search(item.expression, reply, deadline_check, where)
        if value is None:
            raise ExpectationFailed(
                f"{where} found no value: `{shown}` gave null on the step's last reply."
            )
        text = _strict_text(value)
        if text is None:
            raise ExpectationFailed(
                f"{where} found no value JSON can hold: `{shown}` gave a number out of "
                "range or text that is not Unicode on the step's last reply."
            )
        if text and charge is not None:
            charge(item.name, text)
        found[item.name] = value
    return found


def _strict_text(value: Any) -> str | None:
    """``value`` as compact JSON text ("" for a number or a boolean); None when it is
    not strict JSON."""
    # Values from a reply are strict already; a function's result may not be
    # (avg over huge numbers, to_number('nan')).
    if isinstance(value, bool | int):
        return ""
    if isinstance(value, float):
        return "" if math.isfinite(value) else None
    try:
        text = framing.dumps(value)
        text.encode("utf-8")
    except (ValueError, TypeError, RecursionError):
        # UnicodeEncodeError (a lone surrogate) is a ValueError.
        return None
    return text


def reply_matches(step: ReceiveStep, reply: Any, deadline_check: Callable[[], bool]) -> bool:
    """Whether ``reply`` makes the step's ``until`` truthy (an evaluation error: no).

    Raises:
        ExpectationFailed: time ran out during the evaluation.
    """
    assert step.until is not None
    return is_truthy(_search(step.until, reply, deadline_check, f"{step.label}.receive.until"))


def check_expect(
    step: ExpectStep, document: Mapping[str, Any], deadline_check: Callable[[], bool]
) -> None:
    """Evaluate an ``expect`` step on ``document``, the exchange so far
    (``sent``, ``received``, ``subprotocol``, ``timings_ms``, ``connection``, ``vars``).

    Raises:
        ExpectationFailed: the expression is falsy, could not be evaluated, or ran
            out of time; the message names the step.
    """
    value = _search(step.expression, document, deadline_check, f"{step.label}.expect")
    if not is_truthy(value):
        shown = shorten(step.expression.text)
        raise ExpectationFailed(f"{step.label}: the expectation `{shown}` did not hold.")


def _search(
    expression: Expression, document: Any, deadline_check: Callable[[], bool], where: str
) -> Any:
    """``expression``'s value on ``document``; ``None`` when it cannot be evaluated
    on it (a jmespath type error, or a TypeError or RecursionError from odd data).

    Raises:
        ExpectationFailed: the deadline came during the evaluation (``where`` names
            the step and key).
    """
    try:
        return bounded_search(expression, document, deadline_check)
    except TimeoutError:
        raise ExpectationFailed(
            f"{where} ran out of time: the Lambda deadline came while "
            f"`{shorten(expression.text)}` was being evaluated."
        ) from None
    except Exception:
        return None


def from_messages(
    messages: Iterable[framing.Outgoing],
    *,
    expected_replies: int | None,
    until: Expression | None,
    max_replies: int,
    collect_seconds: float | None,
    defers_replies: Callable[[Any], bool] | None = None,
) -> tuple[Step, ...]:
    """The steps that ``message``/``messages`` and their reply checks stand for.

    Each message is sent, then its replies are collected (``expected_replies``
    of them, or until one matches ``until``, or with neither, until the
    protocol's operation is complete); ``collect_seconds`` keeps
    collecting after the last. A message for which ``defers_replies`` holds
    (an AppSync subscribe, whose events come from later publishes) is followed
    at once by the next message, if any. Their steps have no label: their
    messages speak of the request's own fields.
    """
    # The same replies after each message: one step, shared (steps never change).
    receive: ReceiveStep | None = None
    if until is not None or expected_replies is None:
        receive = ReceiveStep("", None, until, max_replies, None)
    elif expected_replies:
        receive = ReceiveStep("", expected_replies, None, expected_replies, None)
    steps: list[Step] = []
    messages = tuple(messages)
    for index, outgoing in enumerate(messages):
        steps.append(SendStep("", Template(outgoing.message, NO_NAMES), outgoing))
        if (
            defers_replies is not None
            and index < len(messages) - 1
            and defers_replies(outgoing.message)
        ):
            continue
        if receive is not None:
            steps.append(receive)
    if collect_seconds is not None:
        steps.append(CollectStep("", collect_seconds, max_replies))
    return tuple(steps)


def not_completed_message(step: ReceiveStep) -> str:
    """The ``expectation_failed`` sentence for an operation still open after ``max_replies``."""
    where = f"{step.label}: the" if step.label else "The"
    return (
        f"{where} operation was not complete within max_replies ({step.max_replies} "
        f"{'reply' if step.max_replies == 1 else 'replies'})."
    )


def until_not_matched_message(step: ReceiveStep) -> str:
    """The ``expectation_failed`` sentence for a step's ``until`` never matching."""
    if not step.label:
        return checks_until_not_matched_message(step.max_replies)
    replies = "reply" if step.max_replies == 1 else "replies"
    return (
        f"{step.label}: no reply matched until `{shorten(step.until.text if step.until else '')}` "
        f"within max_replies ({step.max_replies} {replies})."
    )
