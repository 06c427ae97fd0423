"""Retention: deleting what the hub recorded once its time is up, with one processing
record per run.

What goes, and when (``now`` from the caller's clock):

- **inbox alerts with their notes**: received more than the policy's ``retention_days``
  ago (per event type the longest of its rule and cases, so no case keeps an alert for
  less than its own rule says; an event type no longer configured: the longest
  retention of the configuration);
- **web sessions** that ended (revoked, idle or past their lifetime) and **sign-in
  attempts** older than the sign-in window: they count for nothing any more;
- the **technical stores** (ingest idempotency, the import ledger): after
  ``HUB_IDEMPOTENCY_RETENTION_DAYS`` and ``HUB_IMPORT_LEDGER_RETENTION_DAYS``.

:func:`run_retention` runs every step (``dry_run``: only counts) and returns the counts
per kind; a run that deleted (not a dry run) writes one ``ProcessingRecord`` to
``audit.v1`` (``name`` ``retention-run``, reason ``RETENTION_APPLIED``, the counts in
``counts``, and the cutoffs in ``reason_detail``). :class:`RetentionJob` runs it in a
thread of ``signalhub run`` every ``HUB_RETENTION_INTERVAL_HOURS``; ``signalhub
retention run [--dry-run]`` runs it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import structlog

from hub.audit import new_trace_id, processing_record
from hub.config import HubConfig
from hub.events import DecisionOutcome, ProcessingRecord

__all__ = [
    "RETENTION_ACTIVITY",
    "RetentionJob",
    "RetentionRun",
    "RetentionStep",
    "inbox_cutoffs",
    "run_retention",
]

log = structlog.get_logger(__name__)

#: the activity under which retention runs are logged
RETENTION_ACTIVITY = "urn:signalhub:processing-activity:retention"

#: one step: (now, dry_run) -> deleted (or, dry: would delete) per kind
Purge = Callable[[datetime, bool], Mapping[str, int]]


@dataclass(frozen=True, slots=True)
class RetentionStep:
    """One store's part of a run; ``describe`` says what it deletes (for the record)."""

    name: str
    purge: Purge
    describe: str = ""


@dataclass(frozen=True, slots=True)
class RetentionRun:
    """What a run deleted (or, dry, would delete) per kind, and when it ran."""

    now: datetime
    dry_run: bool
    counts: dict[str, int]
    steps: tuple[str, ...] = ()
    record: ProcessingRecord | None = None

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def inbox_cutoffs(config: HubConfig, now: datetime) -> tuple[dict[str, datetime], datetime]:
    """Per event type the time before which inbox alerts go, and the cutoff for alerts of
    event types the configuration no longer has."""
    days: dict[str, int] = {}
    for event_type, policy in config.policies.items():
        rules = [policy.default, *(policy.merge_case(v) for v in policy.cases)]
        days[event_type] = max(rule.retention_days for rule in rules)
    longest = max(days.values(), default=540)
    return ({t: now - timedelta(days=d) for t, d in days.items()},
            now - timedelta(days=longest))


def run_retention(steps: list[RetentionStep], *, now: datetime | None = None,
                  dry_run: bool = False,
                  publish: Callable[[ProcessingRecord], None] | None = None) -> RetentionRun:
    """Run every step (see the module docstring); a run that is not dry hands its
    processing record to ``publish`` (also when nothing went: the run happened)."""
    started = now or datetime.now(UTC)
    counts: dict[str, int] = {}
    for step in steps:
        for kind, n in step.purge(started, dry_run).items():
            counts[kind] = counts.get(kind, 0) + int(n)
    record = None
    if not dry_run:
        record = processing_record(
            trace_id=new_trace_id(), name="retention-run", started=started,
            outcome=DecisionOutcome.RECORDED, reason_code="RETENTION_APPLIED",
            reason_detail="; ".join(s.describe for s in steps if s.describe)[:2000] or None,
            activity=RETENTION_ACTIVITY, counts=dict(sorted(counts.items())),
        )  # fmt: skip
        if publish is not None:
            publish(record)
        log.info("retention run", deleted=counts)
    return RetentionRun(started, dry_run, counts, tuple(s.name for s in steps), record)


@dataclass
class RetentionJob:
    """Runs ``run`` at start and then every ``interval`` seconds until ``stop`` is set
    (a failed run is logged; the next one comes at its time)."""

    run: Callable[[], RetentionRun]
    interval: float
    stop: threading.Event
    #: the latest runs (at most ten, the newest last)
    runs: list[RetentionRun] = field(default_factory=list)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="retention", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self.stop.is_set():
            try:
                self.runs = [*self.runs[-9:], self.run()]
            except Exception as exc:  # the hub goes on; the next run tries again
                log.warning("retention run failed", error=f"{type(exc).__name__}: {exc}")
            if self.stop.wait(self.interval):
                return

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
