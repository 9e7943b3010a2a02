"""Interleaved A/B measurement: a ratio of two operations that survives a noisy machine.

Timing A's runs in one block and B's in another lets a burst of load from another process land
on one side only. Here the runs alternate, A B B A A B ..., after ``warmup`` untimed runs of
each, and every pair gives its own ratio A/B: a slowdown that lasts longer than one pair moves
both of its members and cancels out. The summary is the median of the per-pair ratios with its
interquartile range (the spread), beside each side's median for context. The order inside a
pair alternates so that neither side always runs first (right after the other has warmed or
cooled the caches).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile), interpolated between data points (inclusive
    method: the quartiles of [1, 2, 3] are 1.5, 2, 2.5); one value is all three."""
    if not values:
        raise ValueError("quartiles of no values: measure at least one pair")
    if len(values) == 1:
        return (values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (q1, median, q3)


@dataclass(frozen=True)
class Paired:
    """Measurements of A and B taken in alternation; ``a[i]`` and ``b[i]`` form pair ``i``."""

    a: tuple[float, ...]
    b: tuple[float, ...]
    unit: str = "s"

    def __post_init__(self) -> None:
        if len(self.a) != len(self.b) or not self.a:
            raise ValueError(f"need the same number (>0) of A and B values, got {len(self.a)} "
                             f"and {len(self.b)}")

    @property
    def ratios(self) -> tuple[float, ...]:
        """A/B for each pair (inf where B measured 0)."""
        return tuple(x / y if y else float("inf") for x, y in zip(self.a, self.b, strict=True))

    @property
    def ratio(self) -> float:
        """The median of the per-pair ratios: the figure to quote."""
        return quartiles(self.ratios)[1]

    @property
    def spread(self) -> tuple[float, float]:
        """Interquartile range of the per-pair ratios (first and third quartile)."""
        q1, _, q3 = quartiles(self.ratios)
        return (q1, q3)

    @property
    def a_median(self) -> float:
        return statistics.median(self.a)

    @property
    def b_median(self) -> float:
        return statistics.median(self.b)

    @property
    def pairs(self) -> int:
        return len(self.a)

    def spread_text(self) -> str:
        q1, q3 = self.spread
        return f"{q1:.3f}–{q3:.3f}"


def rotate(fns: Sequence[Callable[[], float]], rounds: int, *, warmup: int = 1
           ) -> list[tuple[float, ...]]:
    """Call each of ``fns`` once per round, the starting one moving along each round (A B C,
    B C A, C A B, ...), after ``warmup`` untimed rounds; each call returns its own measurement.
    Returns one tuple of values per function, in round order."""
    if rounds < 1:
        raise ValueError(f"rounds (pairs) must be at least 1, got {rounds}")
    if warmup < 0:
        raise ValueError(f"warmup must be 0 or more, got {warmup}")
    if not fns:
        raise ValueError("nothing to measure: give at least one function")
    for _ in range(warmup):
        for fn in fns:
            fn()
    values: list[list[float]] = [[] for _ in fns]
    for index in range(rounds):
        for offset in range(len(fns)):
            which = (index + offset) % len(fns)
            values[which].append(float(fns[which]()))
    return [tuple(v) for v in values]


def interleave_values(a: Callable[[], float], b: Callable[[], float], pairs: int, *,
                      warmup: int = 1, unit: str = "s") -> Paired:
    """Alternate calls of ``a`` and ``b``, each returning its own measurement (seconds it timed
    itself, tokens/s, bytes...), ``warmup`` untimed calls of each first; A first in even
    pairs, B first in odd ones."""
    a_values, b_values = rotate([a, b], pairs, warmup=warmup)
    return Paired(a_values, b_values, unit)


def timed(fn: Callable[[], object], timer: Callable[[], float] = time.perf_counter,
          before: Callable[[], object] | None = None) -> Callable[[], float]:
    """``fn`` made to return how long it took by ``timer``. Its result is dropped before the
    next call; ``before`` (untimed) runs first, e.g. ``gc.collect`` so that every call starts
    with the previous call's objects freed, whichever side made them."""
    def run() -> float:
        if before is not None:
            before()
        start = timer()
        fn()
        return timer() - start
    return run


def interleave(a: Callable[[], object], b: Callable[[], object], pairs: int, *, warmup: int = 1,
               timer: Callable[[], float] = time.perf_counter,
               before: Callable[[], object] | None = None) -> Paired:
    """Time ``a`` against ``b`` in alternation: seconds per call, A/B per pair; ``before``
    runs untimed ahead of every call."""
    return interleave_values(timed(a, timer, before), timed(b, timer, before), pairs,
                             warmup=warmup)


__all__ = ["Paired", "interleave", "interleave_values", "quartiles", "rotate", "timed"]
