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

:func:`run_retention` runs every step and returns the counts per kind;
:class:`StoreRetention` holds the steps over the application database's stores (a dry
run runs them inside :func:`hub.store.rollback_only`: the stores' own deletes, counted
and rolled back); a run that deleted (not a dry run) writes one ``ProcessingRecord`` to
``audit.v1`` (``name`` ``retention-run``, reason ``RETENTION_APPLIED``, the counts in
``counts``, and the cutoffs in ``reason_detail``). :class:`RetentionJob` runs it in a
thread of ``signalhub run`` every ``HUB_RETENTION_INTERVAL_HOURS`` (checked every few
minutes against the last run's start in the database, so restarts do not skip a run
and several instances make one run per interval between them); ``signalhub
retention run [--dry-run]`` runs it once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
import structlog

from hub.accounts import UserStore
from hub.audit import new_trace_id, processing_record
from hub.config import HubConfig
from hub.connect import Connection
from hub.events import DecisionOutcome, ProcessingRecord
from hub.idempotency import IdempotencyStore
from hub.import_ledger import ImportLedger
from hub.inbox import InboxStore
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.store import Database, rollback_only
from hub.topics import AUDIT

__all__ = [
    "RETENTION_ACTIVITY",
    "RetentionJob",
    "RetentionRun",
    "RetentionStep",
    "StoreRetention",
    "audit_publisher",
    "inbox_cutoffs",
    "run_retention",
]

log = structlog.get_logger(__name__)

#: the activity under which retention runs are logged
RETENTION_ACTIVITY = "urn:signalhub:processing-activity:retention"

#: when the last run started (seconds since the epoch), one row for every instance
_RUNS = sa.Table("retention_runs", sa.MetaData(),
                 sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
                 sa.Column("last_started", sa.Double, nullable=False))

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
        )
        if publish is not None:
            publish(record)
        log.info("retention run", deleted=counts)
    return RetentionRun(started, dry_run, counts, tuple(s.name for s in steps), record)


def audit_publisher(conn: Connection) -> Callable[[ProcessingRecord], None]:
    """Writes a processing record to ``audit.v1`` on ``conn`` (keyed by nothing: a run
    concerns no one person)."""
    def publish(record: ProcessingRecord) -> None:
        conn.bus.produce_one(AUDIT, conn.serde.encode_model(AUDIT, record), None)

    return publish


class StoreRetention:
    """The retention steps over the stores of one application database (see the
    module docstring for what goes when); the stores share ``database``."""

    def __init__(self, database: Database, config: HubConfig, settings: Settings) -> None:
        self.config, self.settings = config, settings
        self.database = database
        self.inbox = InboxStore(database)
        self.users = UserStore(database)
        self.sources = SourceRegistry(database)
        self.idempotency = IdempotencyStore(database)
        self.ledger = ImportLedger(database)

    def steps(self) -> list[RetentionStep]:
        s, web = self.settings, self.settings.web
        sessions = self.users.sessions(idle_timeout=web.session_idle_timeout,
                                       max_age=web.session_max_age)
        attempts = self.users.attempts()
        window = max(web.login_window, 60.0)
        return [
            RetentionStep("inbox", self._inbox, "inbox: the policy's retention_days"),
            RetentionStep("web-sessions", lambda now, dry: {
                "web_sessions": sessions.purge(now.timestamp())}, "sessions: once ended"),
            RetentionStep("login-attempts", lambda now, dry: {
                "login_attempts": attempts.purge(now.timestamp() - window)},
                f"sign-in attempts: after {window:g} s"),
            RetentionStep("idempotency", lambda now, dry: {
                "idempotency_entries": self.idempotency.purge(
                    now - timedelta(days=s.idempotency_retention_days))},
                f"idempotency: {s.idempotency_retention_days:g} days"),
            RetentionStep("import-ledger", lambda now, dry: {
                "import_ledger_ids": self.ledger.purge(
                    now - timedelta(days=s.import_ledger_retention_days))},
                f"import ledger: {s.import_ledger_retention_days:g} days"),
            RetentionStep("sources", lambda now, dry: {
                "revoked_sources": self.sources.purge(
                    now - timedelta(days=s.revoked_source_retention_days))},
                f"revoked sources: {s.revoked_source_retention_days:g} days"),
        ]

    def _inbox(self, now: datetime, dry_run: bool) -> Mapping[str, int]:
        before, others = inbox_cutoffs(self.config, now)
        return self.inbox.purge(before, others=others)

    def run(self, *, now: datetime | None = None, dry_run: bool = False,
            publish: Callable[[ProcessingRecord], None] | None = None) -> RetentionRun:
        """One run over every store; a dry run deletes nothing and publishes nothing."""
        if dry_run:
            with rollback_only():
                return run_retention(self.steps(), now=now, dry_run=True)
        self.claim_due(0.0, now)  # a run by hand counts as the interval's run
        return run_retention(self.steps(), now=now, publish=publish)

    def claim_due(self, interval: float, now: datetime | None = None) -> bool:
        """True (and the run is this caller's) when the last run, by any instance on this
        database, started at least ``interval`` seconds ago; one caller wins."""
        at = (now or datetime.now(UTC)).timestamp()
        with self.database.transaction() as conn:
            return bool(conn.execute(sa.update(_RUNS).where(
                _RUNS.c.id == 1, _RUNS.c.last_started <= at - interval)
                .values(last_started=at)).rowcount)

    def run_if_due(self, interval: float,
                   publish: Callable[[ProcessingRecord], None] | None = None
                   ) -> RetentionRun | None:
        """A run when one is due (:meth:`claim_due`), else None."""
        if not self.claim_due(interval):
            return None
        return self.run(publish=publish)

    def close(self) -> None:
        for store in (self.inbox, self.users, self.sources, self.idempotency, self.ledger):
            store.close()


@dataclass
class RetentionJob:
    """Calls ``run`` at start and then every ``check`` seconds until ``stop`` is set;
    ``run`` decides whether a run is due (:meth:`StoreRetention.run_if_due`: once per
    interval across restarts and instances). A failed run is logged; the next check
    tries again."""

    run: Callable[[], RetentionRun | None]
    check: float
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
                done = self.run()
                if done is not None:
                    self.runs = [*self.runs[-9:], done]
            except Exception as exc:  # the hub goes on; the next check tries again
                log.warning("retention run failed", error=f"{type(exc).__name__}: {exc}")
            if self.stop.wait(self.check):
                return

    def join(self, timeout: float | None = None) -> None:
        if self._thread is not None:
            self._thread.join(timeout)
