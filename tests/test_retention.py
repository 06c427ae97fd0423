"""Retention (issue 10 item 6) with an injected clock: with the clock moved past retention
the data is gone from the stores and one processing record on audit.v1 says how much
went; a dry run deletes and records nothing. The store part runs on SQLite and on a
real PostgreSQL (``database_url``)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from hub.accounts import UserStore
from hub.accounts.attempts import LimitRule
from hub.app import HubProcess
from hub.cli import main
from hub.config import HubConfig, load_config
from hub.connect import Connection, connect
from hub.events import AlertUrgency, ProcessingRecord, TeamAlert
from hub.idempotency import IdempotencyStore
from hub.import_ledger import ImportLedger
from hub.inbox import InboxStore
from hub.retention import RETENTION_ACTIVITY, StoreRetention, audit_publisher, inbox_cutoffs
from hub.router import alert_id_for
from hub.settings import Settings
from hub.sources import SourceRegistry
from hub.store import open_database
from hub.topics import AUDIT, ensure_topics
from tests.bus_records import read_records

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
TEAM = "schuldhulp-centrum"
PASSWORD = "correct horse battery"


def make_alert(created: datetime, event_type: str = "debt-signal") -> TeamAlert:
    event_id = str(uuid.uuid4())
    return TeamAlert(
        alert_id=alert_id_for(event_id, TEAM), event_id=event_id, event_type=event_type,
        team_id=TEAM, municipality_code="GM9999", subject_ref="ps1-" + "c3" * 20,
        urgency=AlertUrgency.NORMAL, due_date=None, fields={"arrears_band": "500-1000"},
        prior_signals_180d=0, legal_basis="GDPR 6(1)(e)", created_at=created,
        trace_id=uuid.uuid4().hex, source="urn:nld:oin:00000009999999999000",
    )


def audit_records(conn: Connection) -> list[ProcessingRecord]:
    """The retention runs' processing records on audit.v1."""
    records = [ProcessingRecord.from_avro(r) for r in read_records(conn, AUDIT)]
    return [r for r in records if r.processing_activity_id == RETENTION_ACTIVITY]


@pytest.fixture
def config() -> HubConfig:
    return load_config(EXAMPLE)


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as conn:
        ensure_topics(conn.bus)
        yield conn


def fill(url: str, at: datetime) -> dict[str, Any]:
    """Something in every store, written at ``at`` where the store takes a clock (else
    now): an inbox alert with a note, a session, a sign-in attempt, an idempotency
    entry, an import run with one id, a revoked source."""
    inbox = InboxStore(url, clock=lambda: at)
    alert = make_alert(at)
    inbox.add(alert)
    inbox.add_note(alert.alert_id, "anna", "gebeld")
    inbox.add(make_alert(at, event_type="retired-type"))  # no policy any more
    users = UserStore(url)
    users.add("anna", PASSWORD, "member", [TEAM])
    users.sessions(idle_timeout=1800, max_age=28800, clock=at.timestamp).create("anna")
    users.attempts(at.timestamp).try_add([("account\0anna", LimitRule(5, 300))],
                                         at.timestamp())
    with IdempotencyStore(url) as idem:
        idem.begin("woonstichting", {"event:e-1": None})
    ledger = ImportLedger(url)
    run = ledger.start_run(ledger.source_id("urn:nld:oin:00000001234567890000"), "f.csv",
                           "debt-signal")
    ledger.record(1, run, [b"\x01" * 16])
    ledger.close()
    with SourceRegistry(url) as sources:
        sources.add("oud-systeem", "urn:nld:oin:00000001111111111000", ["debt-signal"])
        sources.revoke("oud-systeem")
    for store in (inbox, users):
        store.close()
    return {"alert": alert}


def test_the_policy_decides_per_event_type_and_cases_keep_their_longest(
    config: HubConfig,
) -> None:
    now = datetime(2026, 12, 1, tzinfo=UTC)
    before, others = inbox_cutoffs(config, now)
    assert before["debt-signal"] == now - timedelta(days=540)
    assert set(before) == set(config.policies) and others <= min(before.values())


def test_with_the_clock_past_retention_every_store_is_emptied_and_one_record_says_so(
    database_url: str, config: HubConfig, bus: Connection,
) -> None:
    now = datetime.now(UTC)
    fill(database_url, now)
    db = open_database(database_url)
    stores = StoreRetention(db, config, Settings())
    try:
        soon = stores.run(now=now + timedelta(days=1), publish=audit_publisher(bus))
        assert soon.counts["inbox_alerts"] == 0 and soon.counts["revoked_sources"] == 0
        # the sign-in window is minutes, a session lasts at most hours
        assert soon.counts["login_attempts"] == 1 and soon.counts["web_sessions"] == 1
        late = now + timedelta(days=600)  # past every retention of the configuration
        dry = stores.run(now=late, dry_run=True)
        assert dry.record is None
        assert dry.counts == {"inbox_alerts": 2, "inbox_notes": 1, "web_sessions": 0,
                              "login_attempts": 0, "idempotency_entries": 1,
                              "import_ledger_ids": 1, "revoked_sources": 1}
        assert stores.inbox.count(TEAM) == 2  # the dry run deleted nothing
        gone = stores.run(now=late, publish=audit_publisher(bus))
        assert gone.counts == dry.counts
        assert stores.inbox.count(TEAM) == 0 and stores.sources.list() == []
        assert stores.run(now=late).total == 0  # not published: no record
    finally:
        stores.close()
        db.close()
    records = sorted(audit_records(bus), key=lambda r: r.start_time)  # 3 partitions
    assert len(records) == 2  # the two real runs that published; the dry run wrote none
    last = records[-1]
    assert last.name == "retention-run" and last.reason_code == "RETENTION_APPLIED"
    assert last.counts == dry.counts and last.data_subject_id is None
    assert last.reason_detail is not None and "idempotency: 30 days" in last.reason_detail


def test_the_command_shows_what_would_go_then_deletes_it(tmp_path: Path) -> None:
    state, bus = tmp_path / "state", f"embedded:{tmp_path / 'hub.db'}"
    long_ago = datetime.now(UTC) - timedelta(days=600)
    fill(f"sqlite:///{state / 'store.db'}", long_ago)
    runner = CliRunner()
    args = ["retention", "run", "--config", str(EXAMPLE), "--state-dir", str(state),
            "--bus", bus]
    dry = runner.invoke(main, [*args, "--dry-run"])
    assert dry.exit_code == 0, dry.output
    assert "inbox_alerts\t2" in dry.output and "inbox_notes\t1" in dry.output
    assert "would delete" in dry.output and "audit.v1" not in dry.output
    real = runner.invoke(main, args)
    assert real.exit_code == 0, real.output
    assert "inbox_alerts\t2" in real.output and "processing record written" in real.output
    again = runner.invoke(main, [*args, "--dry-run", "--json"])
    assert '"inbox_alerts": 0' in again.output
    with connect(Settings(bus=bus)) as conn:
        records = audit_records(conn)
    assert [r.counts and r.counts["inbox_alerts"] for r in records] == [2]


def test_the_main_job_runs_retention_once_per_interval(tmp_path: Path, config: HubConfig
                                                       ) -> None:
    settings = Settings(bus=f"embedded:{tmp_path / 'hub.db'}", state_dir=tmp_path / "state")
    store = f"sqlite:///{tmp_path / 'state' / 'store.db'}"
    fill(store, datetime.now(UTC) - timedelta(days=600))
    runs = []
    for restart in (False, True):  # a restart within the interval makes no second run
        process = HubProcess(settings, config, port=0, web_port=None)
        process.start()
        try:
            assert process.retention is not None
            deadline = time.monotonic() + (2 if restart else 20)
            while not process.retention.runs and time.monotonic() < deadline:
                time.sleep(0.1)
        finally:
            process.stop()
        runs.append([r.counts["inbox_alerts"] for r in process.retention.runs])
    assert runs == [[2], []]
    inbox = InboxStore(store)
    try:
        assert inbox.count(TEAM) == 0
    finally:
        inbox.close()
