"""The batch import ledger: the event ids published per source and the import runs, in
the application database (:mod:`hub.store`; tables ``import_*``, migrations in branch
``imports``). A batch file import (:mod:`hub.batch_import`) skips what it finds here, so
importing the same rows again publishes nothing twice.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Connection, bindparam, text
from sqlalchemy.exc import SQLAlchemyError

from hub.errors import BatchFileError, ImportLedgerError, StoreUnavailable
from hub.state_layout import STORE_FILE
from hub.store import Database, open_database

__all__ = ["IMPORTS_FILE", "ImportLedger", "ImportLedgerError"]

#: file name of the import ledger inside the state directory: the application stores'
#: SQLite file (the embedded default; ``HUB_DATABASE_URL`` may name another database)
IMPORTS_FILE = STORE_FILE

_CHUNK = 900  # ids per SELECT ... IN (...), under any SQLite's variable limit
_KNOWN = text("SELECT event_id, run_id FROM import_published WHERE source_id = :source_id"
              " AND event_id IN :ids").bindparams(bindparam("ids", expanding=True))


def _now() -> str:
    return datetime.now(UTC).isoformat()


class ImportLedger:
    """Event ids published per source, and the runs, in ``database``: a
    :class:`~hub.store.Database` (shared), a database URL or a SQLite file path (tables
    ``import_*``, branch ``imports``)."""

    def __init__(self, database: Database | str | os.PathLike[str]) -> None:
        try:
            # 64 MiB cache on a SQLite file of its own: ids are random keys
            self._db = open_database(database, sqlite_cache_mb=64)
        except StoreUnavailable as exc:
            raise BatchFileError(f"cannot open the import ledger: {exc}; check"
                                 " --state-dir / HUB_STATE_DIR or HUB_DATABASE_URL") from None
        #: the SQLite file (None on PostgreSQL)
        self.path: Path | None = self._db.path

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        try:
            with self._db.transaction() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise ImportLedgerError(f"import ledger {self._db.url}: {type(exc).__name__}"
                                    ) from exc

    def source_id(self, urn: str) -> int:
        """The ledger's number for the source ``urn`` (added when new)."""
        with self._transaction() as conn:
            conn.execute(text("INSERT INTO import_sources (urn) VALUES (:urn)"
                              " ON CONFLICT (urn) DO NOTHING"), {"urn": urn})
            return int(conn.execute(text("SELECT source_id FROM import_sources"
                                         " WHERE urn = :urn"), {"urn": urn}).scalar_one())

    def start_run(self, source_id: int, file_name: str, event_type: str) -> int:
        """Record the start of an import; its run id."""
        with self._transaction() as conn:
            return int(conn.execute(text(
                "INSERT INTO import_runs (source_id, file_name, event_type, started_at)"
                " VALUES (:source_id, :file_name, :event_type, :now) RETURNING run_id"),
                {"source_id": source_id, "file_name": file_name, "event_type": event_type,
                 "now": _now()}).scalar_one())

    def finish_run(self, run_id: int, rows_read: int, published: int, rejected: int) -> None:
        with self._transaction() as conn:
            conn.execute(text(
                "UPDATE import_runs SET finished_at = :now, rows_read = :rows_read,"
                " published = :published, rejected = :rejected WHERE run_id = :run_id"),
                {"now": _now(), "rows_read": rows_read, "published": published,
                 "rejected": rejected, "run_id": run_id})

    def known(self, source_id: int, event_ids: Sequence[bytes]) -> dict[bytes, int]:
        """Which of ``event_ids`` were published for the source: id -> run id."""
        found: dict[bytes, int] = {}
        try:
            with self._db.read() as conn:
                for start in range(0, len(event_ids), _CHUNK):
                    chunk = list(event_ids[start:start + _CHUNK])
                    for event_id, run_id in conn.execute(
                            _KNOWN, {"source_id": source_id, "ids": chunk}):
                        found[bytes(event_id)] = int(run_id)
        except SQLAlchemyError as exc:
            raise ImportLedgerError(f"import ledger {self._db.url}: {type(exc).__name__}"
                                    ) from exc
        return found

    def record(self, source_id: int, run_id: int, event_ids: Sequence[bytes]) -> None:
        """Remember ``event_ids`` as published (call after the bus has them)."""
        if event_ids:
            with self._transaction() as conn:
                conn.execute(text(
                    "INSERT INTO import_published (source_id, event_id, run_id)"
                    " VALUES (:source_id, :event_id, :run_id)"
                    " ON CONFLICT (source_id, event_id) DO NOTHING"),
                    [{"source_id": source_id, "event_id": e, "run_id": run_id}
                     for e in event_ids])

    def purge(self, before: datetime) -> int:
        """Forget the runs started before ``before`` and the event ids they published (a
        file imported again publishes those rows anew); return how many ids went."""
        cutoff = {"cutoff": before.astimezone(UTC).isoformat()}
        old_runs = "SELECT run_id FROM import_runs WHERE started_at < :cutoff"
        with self._transaction() as conn:
            ids = conn.execute(text(f"DELETE FROM import_published WHERE run_id IN"
                                    f" ({old_runs})"), cutoff).rowcount
            conn.execute(text("DELETE FROM import_runs WHERE started_at < :cutoff"), cutoff)
        return int(ids)

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> ImportLedger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
