"""The benchmark harness: paired measurements, medians, CPU pinning and the report.

Every measurement is a *pair*: the hub's code path and a baseline doing the same work
with the raw library, both run in the same process on the same machine in the same run.
A pair is warmed up once, then run ``repeats`` times, interleaving hub and baseline (the
order flips every repeat, so neither side always runs on a warmer machine); the median
of each side is reported. Nothing here asserts on timing: a target that is not reached
is reported as ``MISS``, never raised.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Generic, Literal, TypeVar

__all__ = [
    "BenchError",
    "Pair",
    "Result",
    "Target",
    "drain",
    "format_table",
    "measure",
    "pinned_to_one_core",
    "results_json",
    "text_table",
    "timed_rate",
]

F = TypeVar("F")


class BenchError(RuntimeError):
    """A measurement could not be completed (not a slow result: a broken run)."""


@dataclass(frozen=True, slots=True)
class Target:
    """What the issue asks for: an absolute rate, or a fraction of the baseline's rate."""

    kind: Literal["rate", "ratio"]
    value: float
    #: what the baseline is called in the table (a ratio target's reference)
    baseline: str = "raw"

    def describe(self) -> str:
        if self.kind == "rate":
            return f">= {self.value:,.0f}/s"
        return f">= {self.value:.0%} of {self.baseline}"

    def met(self, rate: float, ratio: float) -> bool:
        return (rate if self.kind == "rate" else ratio) >= self.value


@dataclass(frozen=True, slots=True)
class Result:
    """The outcome of one pair: medians of both sides and every individual run."""

    backend: str
    operation: str
    events: int
    target: Target
    runs: list[float]
    baseline_runs: list[float]
    note: str = ""

    @property
    def rate(self) -> float:
        return statistics.median(self.runs)

    @property
    def baseline_rate(self) -> float:
        return statistics.median(self.baseline_runs)

    @property
    def ratio(self) -> float:
        return self.rate / self.baseline_rate if self.baseline_rate else 0.0

    @property
    def passed(self) -> bool:
        return self.target.met(self.rate, self.ratio)

    def as_dict(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "operation": self.operation,
            "events": self.events,
            "events_per_s": round(self.rate, 1),
            "baseline_events_per_s": round(self.baseline_rate, 1),
            "ratio": round(self.ratio, 4),
            "target": self.target.describe(),
            "target_kind": self.target.kind,
            "target_value": self.target.value,
            "result": "PASS" if self.passed else "MISS",
            "runs_events_per_s": [round(r, 1) for r in self.runs],
            "baseline_runs_events_per_s": [round(r, 1) for r in self.baseline_runs],
            "note": self.note,
        }


@dataclass(slots=True)
class Pair(Generic[F]):
    """Hub side and baseline side of one measurement.

    ``prepare(events)`` builds untimed input shared by both sides (records to send, or a
    filled topic to read); ``hub`` and ``baseline`` each take it and return events/s,
    timing only their own hot loop. ``cleanup`` releases what ``prepare`` made.
    """

    backend: str
    operation: str
    target: Target
    prepare: Callable[[int], F]
    hub: Callable[[F], float]
    baseline: Callable[[F], float]
    cleanup: Callable[[F], None] = field(default=lambda _: None)
    note: str = ""


def _one_round(pair: Pair[F], events: int, hub_first: bool) -> tuple[float, float]:
    fixture = pair.prepare(events)
    try:
        rates: dict[bool, float] = {}
        for is_hub in (hub_first, not hub_first):
            gc.collect()
            rates[is_hub] = (pair.hub if is_hub else pair.baseline)(fixture)
        return rates[True], rates[False]
    finally:
        pair.cleanup(fixture)


def measure(pair: Pair[F], events: int, warmup_events: int, repeats: int) -> Result:
    """Warm both sides up once, then run ``repeats`` interleaved rounds; medians win."""
    _one_round(pair, warmup_events, hub_first=True)
    runs: list[float] = []
    baseline_runs: list[float] = []
    for i in range(repeats):
        hub_rate, base_rate = _one_round(pair, events, hub_first=i % 2 == 0)
        runs.append(hub_rate)
        baseline_runs.append(base_rate)
    return Result(
        pair.backend, pair.operation, events, pair.target, runs, baseline_runs, pair.note
    )


def timed_rate(events: int, loop: Callable[[], None]) -> float:
    """Run ``loop`` once and return ``events`` per second of its wall-clock time."""
    started = time.perf_counter()
    loop()
    elapsed = time.perf_counter() - started
    return events / elapsed if elapsed > 0 else float("inf")


def drain(step: Callable[[], int], events: int, limit_s: float) -> float:
    """Call ``step`` (one poll and commit; returns records read) until ``events`` are read.

    The clock starts when the first records arrive, so joining a consumer group (which
    is the broker's rebalance protocol, not throughput) is excluded on both sides; the
    records of that first poll are not counted.
    """
    give_up = time.monotonic() + limit_s
    seen = 0
    while seen == 0:
        seen += step()
        _check_deadline(give_up, seen, events)
    first, started = seen, time.perf_counter()
    while seen < events:
        seen += step()
        _check_deadline(give_up, seen, events)
    elapsed = time.perf_counter() - started
    if seen == first:
        raise BenchError("the first poll returned every event: use more --events")
    return (seen - first) / elapsed


def _check_deadline(give_up: float, seen: int, events: int) -> None:
    if time.monotonic() > give_up:
        raise BenchError(f"consumer read only {seen} of {events} events before giving up")


@contextmanager
def pinned_to_one_core() -> Iterator[str]:
    """Pin this process to one CPU while inside; yields a sentence saying what happened."""
    setter = getattr(os, "sched_setaffinity", None)
    getter = getattr(os, "sched_getaffinity", None)
    if setter is None or getter is None:
        yield "not pinned (os.sched_setaffinity is not available on this platform)"
        return
    allowed: set[int] = getter(0)
    cpu = max(allowed)
    setter(0, {cpu})
    try:
        yield f"pinned to CPU {cpu} with os.sched_setaffinity (of {len(allowed)} allowed)"
    finally:
        setter(0, allowed)


def _row(result: Result) -> list[str]:
    return [
        result.backend,
        result.operation,
        f"{result.events:,}",
        f"{result.rate:,.0f}",
        f"{result.baseline_rate:,.0f}",
        f"{result.ratio:.2f}",
        result.target.describe(),
        "PASS" if result.passed else "MISS",
    ]


_HEADER = ["backend", "operation", "events", "events/s", "baseline events/s", "ratio",
           "target", "result"]
_RIGHT = {2, 3, 4, 5}


def format_table(results: list[Result]) -> str:
    """A fixed-width text table, one line per result."""
    return text_table(_HEADER, [_row(r) for r in results], _RIGHT)


def text_table(header: list[str], body: list[list[str]], right: set[int]) -> str:
    """``header``, a rule and ``body`` in fixed-width columns; columns in ``right`` are
    right-aligned (the layout of :func:`format_table`, for other benchmarks' tables)."""
    rows = [header, *body]
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]

    def line(row: list[str]) -> str:
        cells = (
            cell.rjust(w) if i in right else cell.ljust(w)
            for i, (cell, w) in enumerate(zip(row, widths, strict=True))
        )
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(rows[0]), rule, *(line(r) for r in rows[1:])])


def results_json(results: list[Result], environment: dict[str, Any]) -> str:
    """Machine-readable results: the environment plus one object per result."""
    return json.dumps(
        {"environment": environment, "results": [r.as_dict() for r in results]}, indent=2
    )
