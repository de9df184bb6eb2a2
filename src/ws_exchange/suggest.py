"""The closest known name to a mistyped one, for error messages. Pure logic.

An unknown payload field or a missing environment variable is most often a typo
of a name this function knows (``expected_reply``, ``AUTH_HEADERS``); naming the
likely one in the error is the fix. Names only: values never appear.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence

# difflib's own default: close enough to catch a dropped or doubled letter, a
# plural or a truncated suffix, far enough to leave unrelated names alone.
DEFAULT_CUTOFF = 0.6


def closest(word: str, known: Iterable[str], *, cutoff: float = DEFAULT_CUTOFF) -> str | None:
    """The name in ``known`` most like ``word`` (case ignored), or ``None``.

    ``cutoff`` is difflib's similarity ratio (0 to 1) a match must reach.
    """
    by_upper = {name.upper(): name for name in known}
    matches = difflib.get_close_matches(word.upper(), by_upper, n=1, cutoff=cutoff)
    return by_upper[matches[0]] if matches else None


def did_you_mean(word: str, choices: Sequence[str], before: str = "", after: str = "") -> str:
    """The end of a sentence: ``; did you mean <choice>?`` for a choice close to
    ``word`` (case counts), written between ``before`` and ``after``; else a period."""
    close = difflib.get_close_matches(word, choices, n=1, cutoff=DEFAULT_CUTOFF)
    return f"; did you mean {before}{close[0]}{after}?" if close else "."
