"""The consent ledger: consent.v1 materialised in a local SQLite file.

One row per consent id holds the consent's latest state in log order (a grant's
subject, purpose, recipient scope and validity, plus ``withdrawn_at`` once withdrawn);
an index on ``(subject_ref, purpose)`` makes :meth:`ConsentLedger.check` one B-tree
lookup whatever the number of consents, and SQLite's page cache keeps memory flat.

The ledger is idempotent on ``event_id`` (the schema's promise): every applied event id
is kept, so a change seen twice (a replay, a producer retry) is applied once, and a late
duplicate of an old grant can never undo a withdrawal. :meth:`ConsentLedger.apply_batch`
stores the changes and the consumed offsets in one transaction, so a restart resumes
exactly where the last transaction ended.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from types import TracebackType

from hub.consent.model import (
    STATUS_RANK,
    ConsentCheck,
    ConsentErased,
    ConsentLedgerError,
    ConsentRecord,
    ConsentStatus,
    aware,
    from_ms,
    iso_ms,
    ledger_path,
    to_ms,
)
from hub.events import ConsentAction, ConsentChange
from hub.sqlite import open_database, write_transaction

__all__ = ["ConsentLedger"]

_SCHEMA_VERSION = "2"
# a rowid table: new consents are appended, only the two indexes take random inserts.
# ``events`` lists every event id applied to the consent (idempotence); an erased
# consent (tombstone) keeps its id and events but loses subject, purpose and scope.
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS consents (
    consent_id TEXT PRIMARY KEY,
    subject_ref TEXT,
    purpose TEXT,
    recipient_scope TEXT NOT NULL,
    valid_from INTEGER NOT NULL,
    valid_until INTEGER,
    withdrawn_at INTEGER,
    source TEXT NOT NULL,
    recorded_at INTEGER NOT NULL,
    municipality_code TEXT,
    event_id TEXT NOT NULL,
    events TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS consents_by_subject ON consents (subject_ref, purpose);
CREATE TABLE IF NOT EXISTS offsets (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
"""
_COLUMNS = (
    "consent_id, subject_ref, purpose, recipient_scope, valid_from, valid_until,"
    " withdrawn_at, source, recorded_at, municipality_code, event_id"
)
_INSERT = f"INSERT INTO consents ({_COLUMNS}, events) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
# event ids are canonical UUIDs, so a plain substring test finds exactly the same id
_NEW_EVENT = (
    ", event_id = excluded.event_id, events = consents.events || ',' ||"
    " excluded.event_id WHERE instr(consents.events, excluded.event_id) = 0"
)
_GRANT = (
    f"{_INSERT} ON CONFLICT (consent_id) DO UPDATE SET"
    " subject_ref = excluded.subject_ref, purpose = excluded.purpose,"
    " recipient_scope = excluded.recipient_scope, valid_from = excluded.valid_from,"
    " valid_until = excluded.valid_until, withdrawn_at = NULL, source = excluded.source,"
    " recorded_at = excluded.recorded_at, municipality_code = excluded.municipality_code"
    + _NEW_EVENT
)
# a withdrawal keeps what was granted (scope, validity) and marks the moment; with no
# grant on record (compaction keeps only the latest change, or the consent was erased)
# the withdrawal itself is kept
_KEEP_UNLESS_ERASED = ", ".join(
    f"{c} = CASE WHEN consents.subject_ref IS NULL THEN excluded.{c} ELSE consents.{c} END"
    for c in (
        "subject_ref",
        "purpose",
        "recipient_scope",
        "valid_from",
        "valid_until",
        "source",
        "recorded_at",
        "municipality_code",
    )
)
_WITHDRAW = (
    f"{_INSERT} ON CONFLICT (consent_id) DO UPDATE SET {_KEEP_UNLESS_ERASED},"
    " withdrawn_at = CASE WHEN consents.subject_ref IS NULL THEN excluded.withdrawn_at"
    " ELSE coalesce(consents.withdrawn_at, excluded.withdrawn_at) END" + _NEW_EVENT
)
_ERASE = (
    "UPDATE consents SET subject_ref = NULL, purpose = NULL, recipient_scope = '[]',"
    " withdrawn_at = NULL, source = '', municipality_code = NULL"
    " WHERE consent_id = ? AND subject_ref IS NOT NULL"
)
_LOOKUP = (
    "SELECT consent_id, recipient_scope, valid_from, valid_until, withdrawn_at"
    " FROM consents WHERE subject_ref = ? AND purpose = ?"
)


class ConsentLedger:
    """Consent state per consent id in ``path`` (created if missing).

    Safe to share between threads of one process. One ledger file belongs to one bus:
    to rebuild it (or point the hub at another bus), delete the file.
    """

    def __init__(self, path: str | os.PathLike[str], *, cache_mb: int = 32) -> None:
        self.path = Path(path)
        self._lock = threading.RLock()
        try:
            # NORMAL in WAL mode: a crash loses at most the last transactions, never
            # consistency; offsets roll back with the changes, so they are read again
            self._db = open_database(self.path, synchronous="NORMAL", cache_mb=cache_mb)
            with self._write() as db:
                for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    db.execute(stmt)
                db.execute(
                    "INSERT OR IGNORE INTO meta VALUES ('schema_version', ?)", (_SCHEMA_VERSION,)
                )
                (version,) = db.execute(
                    "SELECT value FROM meta WHERE key = 'schema_version'"
                ).fetchone()
        except sqlite3.Error as exc:
            raise ConsentLedgerError(
                f"cannot open consent ledger {self.path}: {exc}; delete the file to rebuild"
                " it from consent.v1"
            ) from exc
        if version != _SCHEMA_VERSION:
            self.close()
            raise ConsentLedgerError(
                f"consent ledger {self.path} has layout version {version}, this hub reads"
                f" {_SCHEMA_VERSION}; delete the file to rebuild it from consent.v1"
            )

    @classmethod
    def read_only(cls, path: str | os.PathLike[str]) -> ConsentLedger:
        """Open an existing ledger file for :meth:`check` and reading only: nothing is
        created or written (``signalhub explain``). Raises ConsentLedgerError when the
        file is missing, unreadable or of another layout version."""
        ledger = cls.__new__(cls)
        ledger.path = Path(path)
        ledger._lock = threading.RLock()
        if not ledger.path.is_file():
            raise ConsentLedgerError(f"no consent ledger at {ledger.path}")
        try:
            ledger._db = sqlite3.connect(f"{ledger.path.resolve().as_uri()}?mode=ro", uri=True,
                                         check_same_thread=False)
            row = ledger._db.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        except sqlite3.Error as exc:
            raise ConsentLedgerError(f"cannot read consent ledger {ledger.path}: {exc}"
                                     ) from exc
        if row is None or row[0] != _SCHEMA_VERSION:
            ledger.close()
            raise ConsentLedgerError(
                f"consent ledger {ledger.path} has layout version {row and row[0]}, this hub"
                f" reads {_SCHEMA_VERSION}")
        return ledger

    @classmethod
    def in_state_dir(cls, state_dir: str | os.PathLike[str]) -> ConsentLedger:
        """Open ``<state_dir>/consent-ledger.db``."""
        return cls(ledger_path(state_dir))

    # -- plumbing ----------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        with write_transaction(self._db, self._lock) as db:
            yield db

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> ConsentLedger:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------

    def apply(self, change: ConsentChange | ConsentErased) -> bool:
        """Apply one change; False when its event id was applied before (a no-op)."""
        return self.apply_batch([change], {}) == 1

    def apply_batch(
        self,
        changes: Iterable[ConsentChange | ConsentErased],
        offsets: Mapping[tuple[str, int], int],
    ) -> int:
        """Apply ``changes`` in order and store ``offsets`` ((topic, partition) -> next
        offset to read) in the same transaction; return how many changes took effect
        (not: a change whose event id was applied before, a tombstone for a consent
        the ledger does not hold).

        Stored offsets never move backwards.
        """
        try:
            with self._write() as db:
                before = db.total_changes
                for statement, rows in _runs(changes):
                    db.executemany(statement, rows)
                applied = db.total_changes - before
                db.executemany(
                    "INSERT INTO offsets (topic, partition, next_offset) VALUES (?, ?, ?)"
                    " ON CONFLICT (topic, partition) DO UPDATE SET"
                    " next_offset = max(next_offset, excluded.next_offset)",
                    [(t, p, o) for (t, p), o in offsets.items()],
                )
        except sqlite3.Error as exc:
            raise ConsentLedgerError(f"cannot write consent ledger {self.path}: {exc}") from exc
        return applied

    # -- reading -----------------------------------------------------------------------

    def offsets(self) -> dict[tuple[str, int], int]:
        """The next offset to read per (topic, partition), as last stored."""
        with self._lock:
            rows = self._db.execute("SELECT topic, partition, next_offset FROM offsets")
            return {(str(t), int(p)): int(o) for t, p, o in rows}

    def count(self) -> int:
        """Number of consents in the ledger (withdrawn ones included)."""
        with self._lock:
            (n,) = self._db.execute(
                "SELECT count(*) FROM consents WHERE subject_ref IS NOT NULL"
            ).fetchone()
        return int(n)

    def get(self, consent_id: str) -> ConsentRecord | None:
        """The consent with this id, or None."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_COLUMNS} FROM consents WHERE consent_id = ? AND subject_ref IS NOT NULL",
                (consent_id,),
            ).fetchone()
        return _record(row) if row else None

    def consents_of(self, subject_ref: str) -> list[ConsentRecord]:
        """Every consent of one pseudonym, by purpose and start of validity."""
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_COLUMNS} FROM consents WHERE subject_ref = ?"
                " ORDER BY purpose, valid_from, consent_id",
                (subject_ref,),
            ).fetchall()
        return [_record(r) for r in rows]

    def check(
        self,
        subject_ref: str,
        purpose: str,
        recipient_team_id: str,
        municipality_code: str | None,
        at: datetime,
    ) -> ConsentCheck:
        """May a signal about ``subject_ref`` go to ``recipient_team_id`` (of
        ``municipality_code``) for ``purpose`` at ``at``?

        A consent covers the recipient when its scope names the team id or the
        municipality code. A withdrawn consent never covers anyone again (a withdrawal
        takes effect at once). If one consent is VALID, that wins; otherwise the most
        informative status is reported: WITHDRAWN > EXPIRED > NOT_YET_VALID >
        OUT_OF_SCOPE > MISSING.
        """
        now = to_ms(aware(at))
        with self._lock:
            rows = self._db.execute(_LOOKUP, (subject_ref, purpose)).fetchall()
        if not rows:
            return ConsentCheck(
                ConsentStatus.MISSING, None, "no consent on record for this subject and purpose"
            )
        best_key = (-1, 0)
        best: tuple[ConsentStatus, _Row] | None = None
        for row in rows:
            status, order = _judge(row, recipient_team_id, municipality_code, now)
            key = (STATUS_RANK[status], order)
            if key > best_key:
                best_key, best = key, (status, row)
        assert best is not None
        status, row = best
        if status is ConsentStatus.OUT_OF_SCOPE:
            detail = (
                f"{len(rows)} consent(s) for this purpose, none naming team"
                f" {recipient_team_id} or municipality {municipality_code or '-'}"
            )
        else:
            detail = _detail(status, row)
        return ConsentCheck(status, row[0], detail)


#: consent_id, recipient_scope, valid_from, valid_until, withdrawn_at (``_LOOKUP``)
_Row = tuple[str, str, int, int | None, int | None]


def _judge(row: _Row, team: str, municipality: str | None, now: int) -> tuple[ConsentStatus, int]:
    """One consent's status for this recipient at ``now``, with a tie-break order
    (higher wins among consents of the same status)."""
    _, scope, valid_from, valid_until, withdrawn_at = row
    if withdrawn_at is not None:  # the latest withdrawal is reported
        return ConsentStatus.WITHDRAWN, withdrawn_at
    names = json.loads(scope)
    if team not in names and (municipality is None or municipality not in names):
        return ConsentStatus.OUT_OF_SCOPE, 0
    if now < valid_from:  # the one that starts first is reported
        return ConsentStatus.NOT_YET_VALID, -valid_from
    if valid_until is not None and now >= valid_until:  # the latest to expire
        return ConsentStatus.EXPIRED, valid_until
    # the consent that stays valid longest is reported
    return ConsentStatus.VALID, valid_until if valid_until is not None else 2**62


def _detail(status: ConsentStatus, row: _Row) -> str:
    """What the check found, in words: ids and times only, no personal data."""
    consent_id, _, valid_from, valid_until, withdrawn_at = row
    if status is ConsentStatus.WITHDRAWN and withdrawn_at is not None:
        return f"consent {consent_id} withdrawn at {iso_ms(withdrawn_at)}"
    if status is ConsentStatus.NOT_YET_VALID:
        return f"consent {consent_id} valid from {iso_ms(valid_from)}"
    if status is ConsentStatus.EXPIRED and valid_until is not None:
        return f"consent {consent_id} expired at {iso_ms(valid_until)}"
    until = "until withdrawn" if valid_until is None else f"until {iso_ms(valid_until)}"
    return f"consent {consent_id} valid {until}"


def _runs(
    changes: Iterable[ConsentChange | ConsentErased],
) -> Iterator[tuple[str, list[tuple[object, ...]]]]:
    """Consecutive changes of one kind as (statement, rows), in log order."""
    statement: str | None = None
    rows: list[tuple[object, ...]] = []
    for change in changes:
        kind: str
        row: tuple[object, ...]
        if isinstance(change, ConsentErased):
            kind, row = _ERASE, (change.consent_id,)
        else:
            kind, row = _row(change)
        if kind != statement and rows:
            assert statement is not None
            yield statement, rows
            rows = []
        statement = kind
        rows.append(row)
    if rows and statement is not None:
        yield statement, rows


def _row(change: ConsentChange) -> tuple[str, tuple[object, ...]]:
    scope = json.dumps(list(change.recipient_scope), separators=(",", ":"))
    until = to_ms(change.valid_until) if change.valid_until is not None else None
    recorded = to_ms(change.recorded_at)
    withdrawn = None if change.action is ConsentAction.GRANTED else recorded
    return (
        _GRANT if withdrawn is None else _WITHDRAW,
        (
            change.consent_id,
            change.subject_ref,
            change.purpose,
            scope,
            to_ms(change.valid_from),
            until,
            withdrawn,
            change.source,
            recorded,
            change.municipality_code,
            change.event_id,
            change.event_id,
        ),
    )


def _record(row: Sequence[object]) -> ConsentRecord:
    (
        consent_id,
        subject_ref,
        purpose,
        scope,
        valid_from,
        valid_until,
        withdrawn_at,
        source,
        recorded_at,
        municipality_code,
        event_id,
    ) = row
    assert isinstance(valid_from, int) and isinstance(recorded_at, int)
    return ConsentRecord(
        consent_id=str(consent_id),
        subject_ref=str(subject_ref),
        purpose=str(purpose),
        recipient_scope=tuple(json.loads(str(scope))),
        valid_from=from_ms(valid_from),
        valid_until=from_ms(valid_until) if isinstance(valid_until, int) else None,
        withdrawn_at=from_ms(withdrawn_at) if isinstance(withdrawn_at, int) else None,
        source=str(source),
        recorded_at=from_ms(recorded_at),
        municipality_code=str(municipality_code) if municipality_code is not None else None,
        event_id=str(event_id),
    )
