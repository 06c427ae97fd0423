"""The router's local state: which events it has handled (idempotency on event_id) and
when each person had earlier signals (the "earlier signals in the last 180 days" count).

One SQLite file per router state directory. Written after the outputs of a batch are
durably on the bus and before the input offsets are committed, so a crash in between
replays the batch and the deterministic alert ids let recipients drop the duplicates.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path

from hub.sqlite import open_database, write_transaction

__all__ = ["RouterState"]

_TABLES = (
    "CREATE TABLE IF NOT EXISTS handled (event_id TEXT PRIMARY KEY, at REAL NOT NULL)"
    " WITHOUT ROWID",
    "CREATE TABLE IF NOT EXISTS history (subject_ref TEXT NOT NULL, at REAL NOT NULL,"
    " event_id TEXT NOT NULL, PRIMARY KEY (subject_ref, event_id)) WITHOUT ROWID",
)


class RouterState:
    def __init__(self, path: Path, history_days: int = 180) -> None:
        self.history_days = history_days
        self._lock = threading.Lock()
        self._db = open_database(path, synchronous="NORMAL")
        with write_transaction(self._db, self._lock) as db:
            for stmt in _TABLES:
                db.execute(stmt)

    def handled(self, event_ids: Iterable[str]) -> set[str]:
        """Those of ``event_ids`` that were handled before."""
        ids = list(event_ids)
        found: set[str] = set()
        with self._lock:
            for start in range(0, len(ids), 500):
                chunk = ids[start : start + 500]
                marks = ",".join("?" * len(chunk))
                found.update(
                    r[0]
                    for r in self._db.execute(
                        f"SELECT event_id FROM handled WHERE event_id IN ({marks})", chunk
                    )
                )
        return found

    def earlier_signals(self, subject_ref: str, now: datetime, event_id: str) -> int:
        since = (now - timedelta(days=self.history_days)).timestamp()
        with self._lock:
            (count,) = self._db.execute(
                "SELECT COUNT(*) FROM history WHERE subject_ref = ? AND at >= ? AND event_id != ?",
                (subject_ref, since, event_id),
            ).fetchone()
        return int(count)

    def earlier_signals_many(
        self, signals: Sequence[tuple[str, str]], now: datetime
    ) -> list[int]:
        """:meth:`earlier_signals` for each (subject_ref, event_id) of ``signals``, in one
        query per 500 subjects. Counts what is remembered, like :meth:`earlier_signals`:
        signals of the same batch are remembered only after it, so they do not count."""
        since = (now - timedelta(days=self.history_days)).timestamp()
        subjects = list(dict.fromkeys(s for s, _ in signals))
        seen: dict[str, set[str]] = {}
        with self._lock:
            for start in range(0, len(subjects), 500):
                chunk = subjects[start : start + 500]
                marks = ",".join("?" * len(chunk))
                for subject, event_id in self._db.execute(
                    "SELECT subject_ref, event_id FROM history"
                    f" WHERE subject_ref IN ({marks}) AND at >= ?",
                    (*chunk, since),
                ):
                    seen.setdefault(subject, set()).add(event_id)
        counts = []
        for subject, event_id in signals:
            ids = seen.get(subject)
            counts.append(0 if not ids else len(ids) - (event_id in ids))
        return counts

    def remember(self, done: list[tuple[str, str | None, datetime]]) -> None:
        """Mark (event_id, subject_ref, at) as handled, in one transaction."""
        with write_transaction(self._db, self._lock) as db:
            db.executemany(
                "INSERT OR IGNORE INTO handled VALUES (?, ?)",
                [(e, at.timestamp()) for e, _, at in done],
            )
            db.executemany(
                "INSERT OR IGNORE INTO history VALUES (?, ?, ?)",
                [(s, at.timestamp(), e) for e, s, at in done if s],
            )

    def prune(self, now: datetime, keep_handled_days: int = 400) -> None:
        """Forget history older than the window and handled ids older than a year+."""
        with write_transaction(self._db, self._lock) as db:
            db.execute(
                "DELETE FROM history WHERE at < ?",
                ((now - timedelta(days=self.history_days)).timestamp(),),
            )
            db.execute(
                "DELETE FROM handled WHERE at < ?",
                ((now - timedelta(days=keep_handled_days)).timestamp(),),
            )

    def close(self) -> None:
        with self._lock:
            self._db.close()
