"""Time budgets: every wait is capped by the Lambda deadline."""

from __future__ import annotations

import itertools
import random
from types import SimpleNamespace

import pytest

from ws_exchange import deadline as deadline_module
from ws_exchange.deadline import (
    BACKOFF_BASE_SECONDS,
    BACKOFF_CAP_SECONDS,
    SAFETY_MARGIN_SECONDS,
    Deadline,
    backoff_delay,
)


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    fake = FakeClock()
    monkeypatch.setattr(deadline_module, "time", SimpleNamespace(monotonic=fake.monotonic))
    return fake


class FakeContext:
    def __init__(self, remaining_ms: int) -> None:
        self.remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self.remaining_ms


def test_the_deadline_comes_the_safety_margin_before_lambdas(clock: FakeClock) -> None:
    deadline = Deadline.from_context(FakeContext(remaining_ms=3000))

    assert deadline.remaining() == pytest.approx(3.0 - SAFETY_MARGIN_SECONDS)
    clock.advance(3.0 - SAFETY_MARGIN_SECONDS)
    assert deadline.remaining() == 0.0
    assert deadline.cap(10.0) == 0.0


# --- Deadline ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("seconds", "expected"), [(10.0, 9.5), (0.75, 0.25), (900.0, 899.5), (0.5, 0.0), (0.1, 0.0)]
)
def test_remaining_is_seconds_minus_margin(
    clock: FakeClock, seconds: float, expected: float
) -> None:
    assert Deadline(seconds).remaining() == pytest.approx(expected)


def test_custom_margin(clock: FakeClock) -> None:
    assert Deadline(10.0, margin=2.0).remaining() == pytest.approx(8.0)
    assert Deadline(10.0, margin=0.0).remaining() == pytest.approx(10.0)


@pytest.mark.parametrize("elapsed", [0.0, 1.0, 9.0, 9.5, 9.6, 100.0])
def test_remaining_decreases_with_time_and_never_goes_negative(
    clock: FakeClock, elapsed: float
) -> None:
    deadline = Deadline(10.0)
    clock.advance(elapsed)
    assert deadline.remaining() == pytest.approx(max(0.0, 9.5 - elapsed))
    assert deadline.remaining() >= 0.0


@pytest.mark.parametrize("seconds", [-5.0, 0.0, 0.2])
def test_already_past_deadline_has_nothing_left(clock: FakeClock, seconds: float) -> None:
    deadline = Deadline(seconds)
    assert deadline.remaining() == 0.0
    assert deadline.cap(10.0) == 0.0


@pytest.mark.parametrize(
    ("elapsed", "wanted", "expected"),
    [
        (0.0, 5.0, 5.0),  # plenty of time: unchanged
        (0.0, 9.5, 9.5),
        (0.0, 30.0, 9.5),  # capped by what is left
        (4.0, 10.0, 5.5),
        (9.0, 1.0, 0.5),
        (9.5, 1.0, 0.0),  # nothing left
        (20.0, 1.0, 0.0),
    ],
)
def test_cap_never_exceeds_remaining(
    clock: FakeClock, elapsed: float, wanted: float, expected: float
) -> None:
    deadline = Deadline(10.0)
    clock.advance(elapsed)
    capped = deadline.cap(wanted)
    assert capped == pytest.approx(expected)
    assert capped <= deadline.remaining()
    assert capped <= wanted


@pytest.mark.parametrize(
    ("remaining_ms", "expected"),
    [(30_000, 29.5), (900_000, 899.5), (3_000, 2.5), (400, 0.0), (0, 0.0)],
)
def test_from_context_uses_remaining_time_minus_margin(
    clock: FakeClock, remaining_ms: int, expected: float
) -> None:
    assert Deadline.from_context(FakeContext(remaining_ms)).remaining() == pytest.approx(expected)


def test_from_context_reads_the_context_when_created(clock: FakeClock) -> None:
    context = FakeContext(10_000)
    deadline = Deadline.from_context(context)
    context.remaining_ms = 1  # later calls to the context do not matter
    clock.advance(2.0)
    assert deadline.remaining() == pytest.approx(7.5)


def test_from_context_none_is_fifteen_minutes(clock: FakeClock) -> None:
    assert Deadline.from_context(None).remaining() == pytest.approx(900.0 - SAFETY_MARGIN_SECONDS)


def test_real_clock_remaining_is_bounded_by_the_budget() -> None:
    # Real monotonic clock: the budget can only shrink, never grow.
    deadline = Deadline(60.0)
    first = deadline.remaining()
    assert 0.0 < first <= 60.0 - SAFETY_MARGIN_SECONDS
    assert deadline.remaining() <= first
    assert deadline.cap(1000.0) <= first
    assert deadline.cap(0.001) == 0.001


# --- backoff_delay ------------------------------------------------------------------


def ceiling(failures: int) -> float:
    return min(BACKOFF_CAP_SECONDS, BACKOFF_BASE_SECONDS * 2 ** (failures - 1))


@pytest.mark.parametrize("failures", range(1, 11))
def test_backoff_within_full_jitter_bounds(failures: int) -> None:
    rng = random.Random(failures)
    draws = [backoff_delay(failures, rng) for _ in range(200)]
    assert all(0.0 <= d <= ceiling(failures) for d in draws)
    # jitter: the draws spread over the range rather than repeating one value
    assert len(set(draws)) > 150
    assert max(draws) > 0.8 * ceiling(failures)
    assert min(draws) < 0.2 * ceiling(failures)


def test_backoff_is_reproducible_with_a_seeded_rng() -> None:
    first = [backoff_delay(n, random.Random(42)) for n in range(1, 11)]
    second = [backoff_delay(n, random.Random(42)) for n in range(1, 11)]
    assert first == second


class UpperBound(random.Random):
    """Always draws the top of the range: exposes the ceiling."""

    def uniform(self, a: float, b: float) -> float:
        return b


def test_backoff_ceiling_doubles_then_caps() -> None:
    ceilings = [backoff_delay(n, UpperBound()) for n in range(1, 11)]
    assert ceilings == pytest.approx([0.2, 0.4, 0.8, 1.6, 3.2, 5.0, 5.0, 5.0, 5.0, 5.0])
    assert all(a <= b for a, b in itertools.pairwise(ceilings))
    assert max(ceilings) == BACKOFF_CAP_SECONDS


@pytest.mark.parametrize("failures", [0, -1])
def test_backoff_before_any_failure_uses_the_base(failures: int) -> None:
    assert backoff_delay(failures, UpperBound()) == pytest.approx(BACKOFF_BASE_SECONDS)


def test_backoff_without_rng_uses_module_random() -> None:
    assert all(0.0 <= backoff_delay(3) <= ceiling(3) for _ in range(50))


def test_from_context_limit_shortens_but_never_lengthens() -> None:
    class Context:
        def __init__(self, ms: int) -> None:
            self.ms = ms

        def get_remaining_time_in_millis(self) -> int:
            return self.ms

    shortened = Deadline.from_context(Context(60_000), limit=29.0)
    unchanged = Deadline.from_context(Context(10_000), limit=29.0)

    assert shortened.remaining() <= 29.0 - SAFETY_MARGIN_SECONDS
    assert shortened.remaining() > 28.0
    assert unchanged.remaining() <= 10.0 - SAFETY_MARGIN_SECONDS
