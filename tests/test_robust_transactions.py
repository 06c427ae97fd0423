"""One failed write never wedges a store: every SQLite store writes through
``hub.sqlite.write_transaction``, which rolls back whatever fails (the block or the
commit), so the next write works and the failed one left nothing behind."""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hub.accounts import UserStore
from hub.import_ledger import ImportLedger, ImportLedgerError
from hub.router_state import RouterState
from hub.sqlite import open_database, write_transaction

NOW = datetime(2024, 5, 14, 9, 30, tzinfo=UTC)
SUBJECT = "ps1-" + "ab" * 20
#: a lone surrogate: valid in a Python str, not encodable for SQLite, so the write fails
#: half-way through its transaction (after the statements before it ran)
UNWRITABLE = "\ud800"


def test_router_state_takes_the_next_batch_after_a_failed_one(tmp_path: Path) -> None:
    state = RouterState(tmp_path / "router")  # no changelog: each batch is written at once
    now = datetime.now(UTC)  # entries older than 400 days are not kept
    try:
        with pytest.raises(UnicodeEncodeError):  # fails on its second signal
            state.remember([("evt-1", SUBJECT, now), ("evt-2", UNWRITABLE, now)])
        assert state.handled(["evt-1", "evt-2"]) == set()  # nothing half-done
        state.remember([("evt-3", SUBJECT, now)])  # was: "cannot start a transaction ..."
        assert state.handled(["evt-1", "evt-3"]) == {"evt-3"}
        assert state.earlier_signals_many([(SUBJECT, "evt-4")], now + timedelta(1)) == [1]
    finally:
        state.close()


def test_user_store_keeps_working_after_a_failed_team_change(tmp_path: Path) -> None:
    users = UserStore(tmp_path / "users.db")
    try:
        users.add("anna", "a-long-password", "member", ["team-a"])
        with pytest.raises(UnicodeEncodeError):
            users.set_teams("anna", ["team-b", UNWRITABLE])
        user = users.get("anna")
        assert user is not None and user.teams == {"team-a"}  # the delete was rolled back
        users.set_teams("anna", ["team-b"])
        users.disable("anna")
        user = users.get("anna")
        assert user is not None and user.teams == {"team-b"} and user.disabled
    finally:
        users.close()


def test_import_ledger_keeps_working_after_a_failed_write(tmp_path: Path) -> None:
    ledger = ImportLedger(tmp_path / "imports.db")
    try:
        source = ledger.source_id("urn:nld:oin:00000001234567890000")
        run = ledger.start_run(source, "file.csv", "debt-signal")
        with pytest.raises(ImportLedgerError):  # NOT NULL: no file name
            ledger.start_run(source, None, "debt-signal")  # type: ignore[arg-type]
        ledger.record(source, run, [b"\x01" * 16])
        ledger.finish_run(run, 1, 1, 0)
        assert ledger.known(source, [b"\x01" * 16, b"\x02" * 16]) == {b"\x01" * 16: run}
    finally:
        ledger.close()


def test_a_failed_commit_is_rolled_back(tmp_path: Path) -> None:
    """A deferred constraint fails at COMMIT: the transaction still ends."""
    db = open_database(tmp_path / "x.db")
    lock = threading.Lock()
    db.execute("PRAGMA foreign_keys=ON")
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute("CREATE TABLE child (parent_id INTEGER REFERENCES parent (id)"
               " DEFERRABLE INITIALLY DEFERRED)")
    with pytest.raises(sqlite3.IntegrityError), write_transaction(db, lock) as tx:
        tx.execute("INSERT INTO child VALUES (1)")  # no parent 1: refused at COMMIT
    assert not db.in_transaction
    with write_transaction(db, lock) as tx:
        tx.execute("INSERT INTO parent VALUES (1)")
        tx.execute("INSERT INTO child VALUES (1)")
    assert db.execute("SELECT count(*) FROM child").fetchone() == (1,)
    db.close()
