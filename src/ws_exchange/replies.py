"""Keeping a reply: scrubbed of credentials, within the result's size and memory budgets.

A server decides how much it sends; the function decides how much it keeps.
Each reply is charged to two budgets before it is kept: the bytes it takes in
the result (``MAX_RESULT_BYTES``, within Lambda's 6 MB response) and an
estimate of the memory its decoded form takes (a 128 MB function must survive
any server).
"""

from __future__ import annotations

from typing import Any

from . import framing
from .errors import MessageTooLarge
from .plan import Plan, Progress
from .redaction import scrubber

# plan.MEMORY_BUDGET_BYTES: Python objects take far more memory than the JSON
# text they decode from: an empty list is 3 bytes of text and 64 bytes of
# memory, and ordinary replies take about 10 times their text. Replies are also
# charged an estimate of their decoded size (64 bytes per value), so that no
# server can exhaust a 128 MB function within MAX_RESULT_BYTES. Measured peaks
# (tests/integration/test_memory.py): 4 MiB of ordinary replies fit; the
# costliest floods stop below 100 MiB of RSS.
_BYTES_PER_VALUE = 64


def keep(frame: str | bytes, plan: Plan, progress: Progress, *, later: bool = False) -> Any:
    """Keep a received frame in ``progress``: scrubbed of credentials, within the
    result's size and memory budgets; return the reply as kept.

    With ``later`` (nothing reads this reply before the next message is sent),
    a frame that can change nothing by waiting is charged to the memory budget
    and held unkept (``None`` is returned) until :func:`keep_held`: whatever it
    decodes to and whatever is scrubbed from it, it fits the result's budget.
    The conversation sends its next message first and keeps this reply while
    the server reads: decoding, scrubbing and counting took ~7 us of the ~14 us
    between a reply and the next message (1000-message batch on loopback).
    """
    charge_memory(frame, progress)
    if later and progress.received_bytes + _most_kept(frame) <= plan.result_budget:
        assert progress.unkept is None
        progress.unkept = frame
        return None
    return _keep_charged(frame, plan, progress)


def keep_held(plan: Plan, progress: Progress) -> None:
    """Keep the reply :func:`keep` held, if any (before anything reads ``received``)."""
    frame = progress.unkept
    if frame is not None:
        progress.unkept = None
        _keep_charged(frame, plan, progress)


def _most_kept(frame: str | bytes) -> int:
    """The most bytes ``frame`` can take in the result, however it is kept.

    Text: no character takes more than 6 bytes as compact JSON (a control
    character kept in a string is ``\\u0001``; a number written back longer,
    1e15 as 1000000000000000.0, takes at most 4.5 a character; a credential is
    replaced by ``[redacted]``, 10 characters, only where it has at least 8 or
    is the whole value); binary: base64 in ``{"binary_base64": ...}`` (36 bytes
    for a one-byte frame that is a one-character credential, ``[redacted]``).
    """
    if isinstance(frame, bytes):
        return 2 * len(frame) + 40
    return 6 * len(frame) + 32


def _keep_charged(frame: str | bytes, plan: Plan, progress: Progress) -> Any:
    if isinstance(frame, bytes):
        frame = scrubber.scrub_frame(frame)
    decoded = framing.decode(frame)
    reply = scrubber.scrub_reply(frame, decoded)
    _charge_result(framing.kept_size(frame, decoded, reply), plan, progress)
    progress.received.append(reply)
    return reply


def keep_value(value: Any, plan: Plan, progress: Progress) -> Any:
    """Keep a reply a protocol preset took out of a frame (already charged to memory)."""
    reply = scrubber.scrub_value(value)
    _charge_result(len(framing.dumps(reply).encode("utf-8")), plan, progress)
    progress.received.append(reply)
    return reply


def charge_memory(frame: str | bytes, progress: Progress) -> None:
    """Charge an arriving frame to the memory budget."""
    progress.memory_estimate += _memory_estimate(frame)
    if progress.memory_estimate > progress.memory_budget:
        raise MessageTooLarge(
            "The replies would need more memory than the function can spare; "
            "ask the server for less, or over several invocations."
        )


def _charge_result(size: int, plan: Plan, progress: Progress) -> None:
    if progress.received_bytes + size > plan.result_budget:
        raise MessageTooLarge(
            f"The replies exceed the {plan.result_budget} bytes a result may keep "
            "(MAX_RESULT_BYTES, within Lambda's 6 MB response limit)."
        )
    progress.received_bytes += size


def charge_sent(size: int, plan: Plan, progress: Progress) -> None:
    """Charge a message built from variables to the result's budget.

    The result echoes it in ``sent``, where escapes and the runtime's
    separators can make it up to half again as large.
    """
    charge = size * 3 // 2
    held = progress.unkept
    if held is not None and (
        progress.received_bytes + _most_kept(held) + charge > plan.result_budget
    ):
        # Either may not fit: the reply first, as it came first.
        keep_held(plan, progress)
    progress.received_bytes += charge
    if progress.received_bytes > plan.result_budget:
        raise MessageTooLarge(
            f"The messages sent and the replies exceed the {plan.result_budget} bytes a "
            "result may keep (MAX_RESULT_BYTES, within Lambda's 6 MB response limit)."
        )


def _memory_estimate(frame: str | bytes) -> int:
    if isinstance(frame, bytes):
        return len(frame) * 2
    values = frame.count(",") + frame.count(":") + frame.count("[") + frame.count("{")
    return len(frame) + values * _BYTES_PER_VALUE


def charge_variable(name: str, text: str, progress: Progress) -> None:
    """Charge a value a scenario extracted (``text``, its compact JSON) to the
    memory budget, in place of what the variable held before.

    A variable may be a copy of a reply (``sort(@)``, a projection), built by
    the expression: a hundred of them over a 1 MiB reply took 420 MB. Estimated
    as a reply of that text is, which overstates a list of references to values
    the reply already holds, and is close for new objects.
    """
    estimate = _memory_estimate(text)
    progress.memory_estimate += estimate - progress.variable_memory.get(name, 0)
    progress.variable_memory[name] = estimate
    if progress.memory_estimate > progress.memory_budget:
        raise MessageTooLarge(
            f"The variable {name} would take more memory than the function can spare, "
            "with the replies and the other variables; extract parts of large replies, "
            "not copies of them."
        )
