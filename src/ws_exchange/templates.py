"""Placeholders in an outgoing message: compiled once, filled in at each send. Pure logic.

:func:`compile_template` reads a scenario's ``send`` value, before any I/O;
:func:`render` fills it in with the variables earlier steps extracted and the
built-in names.

In a ``send`` value every string, at any depth, is a template (object keys are
not: they are sent as written). The rule, read left to right, each match taking
the leftmost place it can:

* ``{{{{`` is a literal ``{{`` and ``}}}}`` a literal ``}}``;
* ``{{name}}``, with ``name`` matching ``[A-Za-z_][A-Za-z0-9_]{0,63}``, is a
  placeholder;
* any other ``{{`` is an error (``{{ name }}``, ``{{name``, ``{{1x}}``,
  ``{{}}``), whose message says to write ``{{{{`` for a literal ``{{``;
* anything else, a single brace or a ``}}`` on its own included, is literal
  text. So ``{{{id}}}`` is ``{`` + the value of ``id`` + ``}``.

Leftmost matching lets a literal brace stand right beside a placeholder, and
leaves text without ``{{`` or ``}}}}`` (JSON held in a string, most GraphQL)
untouched. Four closing braces stand for two even where no placeholder is near:
that is what the escape means, so a compact GraphQL query ending in ``}}}}``
must double them.

A string that is exactly one placeholder is replaced by the variable's value
with its JSON type (a number stays a number, an object an object); within a
longer string, a string value is inserted as is and any other value as compact
JSON text. The built-in names ``uuid``, ``timestamp``, ``epoch_ms`` and
``request_id`` are computed afresh at each use (two ``{{uuid}}`` are two
different UUIDs). Every other name must be extracted by an earlier step; this
is checked when the steps are parsed, so a misspelt name is an error before any
secret is read.

Each ``send`` value is compiled once, when parsed: a value without
placeholders is encoded for sending right then, and sending it costs what
sending a plain message costs; a value with placeholders keeps its static parts
as they are and only rebuilds the path to each placeholder.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Final, NamedTuple, TypeAlias

from . import framing
from .checks import shorten
from .errors import InternalError
from .suggest import did_you_mean

BUILTIN_NAMES: Final = frozenset({"uuid", "timestamp", "epoch_ms", "request_id"})
NAME_PATTERN: Final = r"[A-Za-z_][A-Za-z0-9_]{0,63}"
# A variable's name.
NAME: Final = re.compile(NAME_PATTERN)
_WHOLE = re.compile(r"\{\{(" + NAME_PATTERN + r")\}\}")
_TOKEN = re.compile(r"\{\{\{\{|\}\}\}\}|\{\{(" + NAME_PATTERN + r")\}\}")
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SHOWN_NAME_CHARS = 64


class _Whole(NamedTuple):
    """A string that is exactly one placeholder: the value, with its type."""

    name: str
    builtin: bool


class _Text(NamedTuple):
    """A string with placeholders in it: literal text and placeholders, in order."""

    parts: tuple[str | _Whole, ...]


class _List(NamedTuple):
    items: tuple[Any, ...]


class _Object(NamedTuple):
    items: tuple[tuple[str, Any], ...]


_NODES = frozenset({_Whole, _Text, _List, _Object})


# The names of a template without placeholders.
NO_NAMES: Final[frozenset[str]] = frozenset()


class Template(NamedTuple):
    """A ``send`` value compiled for :func:`render`.

    ``root`` is the value itself where it holds no placeholder (escapes already
    applied), shared by every rendering and never modified; ``names`` every
    name its placeholders use (empty: the value is sent as it is);
    ``placeholders`` each placeholder in the order it is written.
    """

    root: Any
    names: frozenset[str]
    placeholders: tuple[_Whole, ...] = ()
    # The value's JSON text, cut where its placeholders go (None: the value is
    # encoded whole once filled in).
    text: _Cut | None = None


class _Cut(NamedTuple):
    """A template's compact JSON text around its placeholders.

    ``pieces`` has one more item than the template has placeholders; between
    two, placeholder ``i`` goes: its value's JSON text where ``alone[i]`` (the
    whole string was the placeholder), else its text, escaped as in a string.
    """

    pieces: tuple[str, ...]
    alone: tuple[bool, ...]


Builtins: TypeAlias = Mapping[str, Callable[[], Any]]


def builtins(request_id: str) -> dict[str, Callable[[], Any]]:
    """The built-in placeholders of one invocation, each computed afresh at each use."""
    return {
        "uuid": _uuid,
        "timestamp": framing.now,
        "epoch_ms": _epoch_ms,
        "request_id": lambda: request_id,
    }


def _uuid() -> str:
    # Imported on first use: most invocations never need a UUID.
    import uuid

    return str(uuid.uuid4())


def _epoch_ms() -> int:
    return time.time_ns() // 1_000_000


def render(template: Template, variables: Mapping[str, Any], builtins: Builtins) -> Any:
    """The value ``template`` stands for, its placeholders filled in.

    ``variables`` holds what earlier steps extracted; ``builtins`` is
    :func:`builtins` of the invocation.

    Raises:
        InternalError: a placeholder names a variable ``variables`` lacks (parsing
            rules that out: this is a bug in the caller).
    """
    if not template.names:
        return template.root
    return _render(template.root, iter(_values(template, variables, builtins)))


def fill(
    template: Template, variables: Mapping[str, Any], builtins: Builtins
) -> tuple[Any, str | None]:
    """The value ``template`` stands for and, where it can be written without
    encoding the whole value again, its compact JSON text (else ``None``).

    The text is the template's own, cut at compile time, with each value's JSON
    put in its place: a message built from variables is written as it is sent,
    between a reply and the next message, and encoding it whole took ~2 us more
    (scenario row of ``make bench``). A value that is an object or a list is
    encoded whole, for its nesting to be checked.

    Raises:
        InternalError: as :func:`render`.
        ValueError: a value inside a longer string has no text (an integer of
            more than 4300 digits).
    """
    if not template.names:
        return template.root, None
    values = _values(template, variables, builtins)
    value = _render(template.root, iter(values))
    cut = template.text
    if cut is None:
        return value, None
    written = [cut.pieces[0]]
    for filled, alone, piece in zip(values, cut.alone, cut.pieces[1:], strict=True):
        if not alone:
            written.append(framing.dumps(_text(filled))[1:-1])
        elif isinstance(filled, (dict, list)):
            return value, None
        else:
            try:
                written.append(framing.dumps(filled))
            except ValueError:
                # Encoded whole instead, for the error to say what is wrong.
                return value, None
        written.append(piece)
    return value, "".join(written)


def _render(node: Any, values: Iterator[Any]) -> Any:
    """``node`` with each placeholder, in the order written, replaced by the next of ``values``."""
    kind = type(node)
    if kind is _Whole:
        return next(values)
    if kind is _Text:
        return "".join(part if type(part) is str else _text(next(values)) for part in node.parts)
    if kind is _List:
        return [_render(item, values) for item in node.items]
    if kind is _Object:
        return {key: _render(item, values) for key, item in node.items}
    return node


def _values(template: Template, variables: Mapping[str, Any], builtins: Builtins) -> list[Any]:
    """Each placeholder's value, in the order written (a built-in computed once for each)."""
    return [_value(placeholder, variables, builtins) for placeholder in template.placeholders]


def _value(placeholder: _Whole, variables: Mapping[str, Any], builtins: Builtins) -> Any:
    try:
        if placeholder.builtin:
            return builtins[placeholder.name]()
        return variables[placeholder.name]
    except KeyError:
        raise InternalError(
            f"The placeholder {{{{{placeholder.name}}}}} had no value when its step ran."
        ) from None


def _text(value: Any) -> str:
    if isinstance(value, str):
        return value
    try:
        return framing.dumps(value)
    except ValueError:
        # An integer of more than 4300 digits (a sum over a server's data) has no text.
        raise ValueError("holds a value JSON cannot represent") from None


def compile_template(
    value: Any,
    known: Iterable[str] = (),
    *,
    extracted_later: Callable[[str], str | None] | None = None,
) -> Template:
    """Compile a ``send`` value whose placeholders may name ``known`` variables.

    ``extracted_later`` tells, for an unknown name, which later step extracts
    it (``None``: none), for the error to say so.

    Raises:
        ValueError: ``args`` is ``(path, sentence)``: where in the value (``""``
            for the value itself, ``.a[0]`` below it) and what is wrong.
    """
    scope = _Scope(frozenset(known), extracted_later or _nowhere)
    root = _compile(value, scope)
    found: list[tuple[_Whole, bool]] = []
    _placeholders(root, found)
    if not found:
        return Template(root, NO_NAMES)
    placeholders = tuple(placeholder for placeholder, _ in found)
    text = None
    # An object or a list, sent as its JSON text (a string is sent as it is, and
    # a binary message as its bytes).
    if type(root) in (_Object, _List) and not framing.is_binary(value):
        text = _cut(root, tuple(alone for _, alone in found))
    names = frozenset(placeholder.name for placeholder in placeholders)
    return Template(root, names, placeholders, text)


def _placeholders(node: Any, found: list[tuple[_Whole, bool]]) -> None:
    """Each placeholder under ``node`` in the order written, and whether it is a
    whole string."""
    kind = type(node)
    if kind is _Whole:
        found.append((node, True))
    elif kind is _Text:
        found.extend((part, False) for part in node.parts if type(part) is _Whole)
    elif kind is _List:
        for item in node.items:
            _placeholders(item, found)
    elif kind is _Object:
        for _, item in node.items:
            _placeholders(item, found)


# Marks where placeholders go, in a private-use character JSON writes as it is.
_MARK = "\ue000"


def _cut(root: Any, alone: tuple[bool, ...]) -> _Cut | None:
    """The JSON text of ``root`` cut where its placeholders go; ``None`` if its own
    text holds the character that marks them."""
    marks = [f"{_MARK}{index}{_MARK}" for index in range(len(alone))]
    text = framing.dumps(_render(root, iter(marks)))
    if text.count(_MARK) != 2 * len(marks):
        return None
    pieces = []
    start = 0
    for mark, whole in zip(marks, alone, strict=True):
        # Written in order: a string that is the mark alone is in quotes.
        mark = f'"{mark}"' if whole else mark
        at = text.index(mark, start)
        pieces.append(text[start:at])
        start = at + len(mark)
    pieces.append(text[start:])
    return _Cut(tuple(pieces), alone)


def _nowhere(name: str) -> None:
    return None


class _Scope(NamedTuple):
    """The variables a template may use, and how to explain one it may not."""

    known: frozenset[str]
    extracted_later: Callable[[str], str | None]

    def unknown(self, name: str) -> str:
        later = self.extracted_later(name)
        if later is not None:
            return (
                f"uses {{{{{name}}}}}, which only a later step ({later}) extracts: a "
                "variable exists once the step that extracts it has run."
            )
        hint = did_you_mean(name, sorted(self.known | BUILTIN_NAMES), "{{", "}}")
        return (
            f"uses {{{{{name}}}}}, but no earlier step extracts {name} and it is not a "
            f"built-in name (uuid, timestamp, epoch_ms, request_id){hint}"
        )


def _compile(value: Any, scope: _Scope) -> Any:
    # Recursion is bounded: the value was checked to nest at most 64 levels.
    # Where a fault is (``.a[0]``) is worked out only when there is one, on the way out.
    if isinstance(value, str):
        return _compile_string(value, scope)
    if isinstance(value, list):
        items = []
        for index, item in enumerate(value):
            try:
                items.append(_compile(item, scope))
            except ValueError as exc:
                raise ValueError(f"[{index}]{exc.args[0]}", exc.args[1]) from None
        if all(item is original for item, original in zip(items, value, strict=True)):
            return value
        if not any(type(item) in _NODES for item in items):
            return items  # escapes changed some text: still a plain value
        return _List(tuple(items))
    if isinstance(value, dict):
        pairs = []
        for key, item in value.items():
            try:
                pairs.append((key, _compile(item, scope)))
            except ValueError as exc:
                raise ValueError(_key_path(key) + exc.args[0], exc.args[1]) from None
        if all(item is value[key] for key, item in pairs):
            return value
        if not any(type(item) in _NODES for _, item in pairs):
            return dict(pairs)
        return _Object(tuple(pairs))
    return value


def _compile_string(text: str, scope: _Scope) -> Any:
    if "{{" not in text and "}}}}" not in text:
        return text
    whole = _WHOLE.fullmatch(text)
    if whole is not None:
        # The commonest template, {{name}} alone: ~1 us of the ~2 us the rule below takes.
        return _placeholder(whole.group(1), scope)
    parts: list[str | _Whole] = []
    literal: list[str] = []
    position = 0
    for match in _TOKEN.finditer(text):
        _literal_text(text, position, match.start(), literal)
        position = match.end()
        name = match.group(1)
        if name is None:
            # An escape: {{{{ or }}}} stands for two braces.
            literal.append(match.group(0)[:2])
            continue
        placeholder = _placeholder(name, scope)
        if literal:
            parts.append("".join(literal))
            literal.clear()
        parts.append(placeholder)
    _literal_text(text, position, len(text), literal)
    if literal:
        parts.append("".join(literal))
    if not parts:
        return ""
    if len(parts) == 1:
        # A placeholder alone keeps its value's type; literal text alone is a string.
        return parts[0]
    return _Text(tuple(parts))


def _placeholder(name: str, scope: _Scope) -> _Whole:
    builtin = name in BUILTIN_NAMES
    if not builtin and name not in scope.known:
        raise ValueError("", scope.unknown(name))
    return _Whole(name, builtin)


def _literal_text(text: str, start: int, end: int, literal: list[str]) -> None:
    segment = text[start:end]
    brace = segment.find("{{")
    if brace >= 0:
        at = start + brace
        shown = shorten(text[at : at + 25], 24)
        raise ValueError(
            "",
            f"has `{shown}` at offset {at}, which is not a placeholder: a placeholder is "
            "{{name}}, the name made of letters, digits and underscores (not starting with "
            "a digit, at most 64 characters); write {{{{ for a literal {{.",
        )
    if segment:
        literal.append(segment)


def _key_path(key: Any) -> str:
    key = str(key)
    if _PLAIN_KEY.fullmatch(key) and len(key) <= _SHOWN_NAME_CHARS:
        return f".{key}"
    return f"[{json.dumps(shorten(key, 40))}]"
