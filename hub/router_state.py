"""The router's state, partitioned like its input: per person, the signals it handled
(event id and time), which answer both "was this event handled before?" and "how many
earlier signals did this person have in the last ``history_days``?".

One SQLite file per input partition under the state directory (``p<N>.db``, 0600), and
every change also on a compacted changelog topic (``changelog.<group>.v1``, as many
partitions as the signal topics): its record for a person is keyed by the pseudonym,
written to the changelog partition equal to the input partition and holds the person's
whole list (so compaction keeps what matters). Each file stores, beside the data, the
changelog offset it is complete up to.

- :meth:`RouterState.assign` restores a partition before it is processed: from the
  stored changelog offset to the changelog's end (a warm restart reads only the tail; a
  new machine reads the compacted partition);
- :meth:`RouterState.revoke` drops a partition (the file stays, for a warm restart);
- :meth:`RouterState.remember` stages a batch's changes and returns their changelog
  records, to be produced with the batch's outputs and offsets in one transaction;
  :meth:`RouterState.flush` writes them to the files after that commit, with the
  changelog offsets (a crash in between is repaired by the next restore), and
  :meth:`RouterState.abandon` forgets them when the commit failed.
"""

from __future__ import annotations

import json
import math
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from hub.bus.base import Bus, Record, TopicPartition, TopicSpec
from hub.bus.partitioning import partition_for_key
from hub.errors import BusUnavailable
from hub.sqlite import open_database, write_transaction
from hub.state_layout import partition_state_file
from hub.topics import changelog_topic

__all__ = ["RouterState", "changelog_topic"]

log = structlog.get_logger(__name__)

_TABLES = (
    "CREATE TABLE IF NOT EXISTS entries (subject_ref TEXT NOT NULL, event_id TEXT NOT NULL,"
    " at REAL NOT NULL, PRIMARY KEY (subject_ref, event_id)) WITHOUT ROWID",
    "CREATE INDEX IF NOT EXISTS entries_by_event ON entries (event_id)",
    "CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)
_RESTORE_TIMEOUT_S = 120.0

Entries = dict[str, float]  # event id -> time (epoch seconds)


class _Partition:
    """One partition's file: entries per person and the changelog offset it holds."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.db = open_database(path, synchronous="NORMAL")
        with write_transaction(self.db, self.lock) as db:
            for stmt in _TABLES:
                db.execute(stmt)

    def query(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        with self.lock:
            return self.db.execute(sql, params).fetchall()

    def offset(self) -> int:
        rows = self.query("SELECT value FROM meta WHERE name = 'changelog_offset'", ())
        return int(rows[0][0]) if rows else 0  # type: ignore[call-overload]

    def entries(self, subject: str) -> Entries:
        return self.entries_many([subject]).get(subject, {})

    def entries_many(self, subjects: Sequence[str]) -> dict[str, Entries]:
        """The entries of each of ``subjects`` that has any (one query per 500)."""
        found: dict[str, Entries] = {}
        for start in range(0, len(subjects), 500):
            chunk = subjects[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for subject, e, a in self.query(
                f"SELECT subject_ref, event_id, at FROM entries WHERE subject_ref IN ({marks})",
                chunk,
            ):
                found.setdefault(str(subject), {})[str(e)] = float(a)  # type: ignore[arg-type]
        return found

    def write(self, people: Mapping[str, Entries | None], offset: int | None,
              wipe: bool = False) -> None:
        with write_transaction(self.db, self.lock) as db:
            if wipe:
                db.execute("DELETE FROM entries")
            if people:
                db.executemany("DELETE FROM entries WHERE subject_ref = ?",
                               [(subject,) for subject in people])
                db.executemany("INSERT INTO entries VALUES (?, ?, ?)", [
                    (subject, e, a)
                    for subject, entries in people.items() if entries
                    for e, a in entries.items()
                ])
            if offset is not None:
                db.execute(
                    "INSERT INTO meta VALUES ('changelog_offset', ?) ON CONFLICT (name)"
                    " DO UPDATE SET value = excluded.value",
                    (offset,),
                )

    def close(self) -> None:
        with self.lock:
            self.db.close()


class RouterState:
    """The partitions of the router's state this member owns (see the module docstring).

    Without a ``bus`` (``signalhub explain``, tests of the evaluator) it owns every
    partition it is asked about and has no changelog.
    """

    def __init__(
        self,
        directory: Path,
        history_days: int = 180,
        *,
        bus: Bus | None = None,
        topic: str | None = None,
        partitions: int = 3,
        keep_handled_days: int = 400,
    ) -> None:
        self.directory = directory
        self.history_days = history_days
        self.keep_handled_days = keep_handled_days
        self.bus = bus
        self.topic = topic
        self.partitions = partitions
        self.owned: dict[int, _Partition] = {}
        self._staged: dict[int, dict[str, Entries]] = {}
        #: entries read from the files in this batch, by partition and person (see
        #: :meth:`earlier_signals_many`; forgotten whenever the files may change)
        self._read: dict[int, dict[str, Entries]] = {}
        #: seconds each restore took and records it read, by partition (last restore)
        self.restored: dict[int, tuple[float, int]] = {}
        if bus is None or topic is None:
            self.assign(range(partitions))

    def ensure_topic(self) -> None:
        if self.bus is not None and self.topic is not None:
            self.bus.create_topic(TopicSpec(self.topic, self.partitions, "compact"))

    # -- assignment -------------------------------------------------------------------

    def assign(self, partitions: Iterable[int]) -> None:
        """Own ``partitions``: each one not owned yet is restored from the changelog."""
        self._read.clear()
        for p in sorted(set(partitions) - set(self.owned)):
            store = _Partition(partition_state_file(self.directory, p))
            if self.bus is not None and self.topic is not None:
                self._restore(p, store)
            self.owned[p] = store

    def revoke(self, partitions: Iterable[int]) -> None:
        """Drop ``partitions`` (their files stay for a later warm restore)."""
        self._read.clear()
        for p in set(partitions) & set(self.owned):
            self._staged.pop(p, None)
            self.owned.pop(p).close()

    def _restore(self, p: int, store: _Partition) -> None:
        assert self.bus is not None and self.topic is not None
        started = time.monotonic()
        end = self.bus.end_offsets(self.topic)[p]
        offset = store.offset()
        wipe = offset > end  # another bus, or a recreated changelog: start over
        if wipe:
            log.warning("router state ahead of its changelog: rebuilt", partition=p,
                        stored=offset, changelog_end=end)
            offset = 0
            store.write({}, 0, wipe=True)
        read = 0
        if offset < end:
            tp = TopicPartition(self.topic, p)
            reader = self.bus.reader([tp])
            try:
                reader.seek(tp, offset)
                deadline = time.monotonic() + _RESTORE_TIMEOUT_S
                while reader.position(tp) < end:
                    if time.monotonic() > deadline:
                        raise BusUnavailable(
                            f"restoring {self.topic}[{p}] did not reach offset {end}"
                            f" within {_RESTORE_TIMEOUT_S:.0f}s"
                        )
                    people: dict[str, Entries | None] = {}
                    for m in reader.poll(5000, 0.5):
                        if m.key is not None and m.offset < end:
                            try:
                                people[m.key.decode()] = _decode(m.value)
                            except ValueError:
                                log.error("unreadable router changelog record skipped",
                                          partition=p, offset=m.offset)
                            read += 1
                    store.write(people, min(reader.position(tp), end))
            finally:
                reader.close()
        store.write({}, end)
        seconds = time.monotonic() - started
        self.restored[p] = (seconds, read)
        log.info("router state restored", partition=p, records=read,
                 from_offset=offset, to_offset=end, seconds=round(seconds, 3))

    # -- reading (the evaluator's view) ---------------------------------------------------

    def _query_all(self, sql: str, params: Sequence[object]) -> list[tuple[object, ...]]:
        return [row for store in self.owned.values() for row in store.query(sql, params)]

    def handled(self, event_ids: Iterable[str]) -> set[str]:
        """Those of ``event_ids`` that were handled before."""
        ids = list(event_ids)
        found: set[str] = set()
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join("?" * len(chunk))
            found.update(str(r[0]) for r in self._query_all(
                f"SELECT event_id FROM entries WHERE event_id IN ({marks})", chunk))
        return found

    def earlier_signals(self, subject_ref: str, now: datetime, event_id: str) -> int:
        return self.earlier_signals_many([(subject_ref, event_id)], now)[0]

    def earlier_signals_many(
        self, signals: Sequence[tuple[str, str]], now: datetime
    ) -> list[int]:
        """For each (subject_ref, event_id): the person's remembered signals within
        ``history_days`` before ``now``, not counting that event itself. What is not
        remembered yet (the batch being processed) is the evaluator's to add."""
        since = (now - timedelta(days=self.history_days)).timestamp()
        subjects = list(dict.fromkeys(s for s, _ in signals))
        seen: dict[str, set[str]] = {}
        for p, store in self.owned.items():
            # every entry of these people, kept for remember() in this batch (the files
            # change only once the batch is flushed)
            read = self._read.setdefault(p, {})
            found = store.entries_many([s for s in subjects if s not in read])
            for subject in subjects:
                entries = read.get(subject)
                if entries is None:
                    entries = read[subject] = found.get(subject, {})
                for event_id, at in entries.items():
                    if at >= since:
                        seen.setdefault(subject, set()).add(event_id)
        counts = []
        for subject, event_id in signals:
            ids = seen.get(subject)
            counts.append(0 if not ids else len(ids) - (event_id in ids))
        return counts

    # -- changing -------------------------------------------------------------------------

    def remember(
        self,
        done: list[tuple[str, str | None, datetime]],
        partition_of: Mapping[str, int] | None = None,
    ) -> list[Record]:
        """Stage (event_id, subject_ref, at) as handled; return the changelog records
        (one per person: the whole list) to produce with the batch. ``partition_of``
        maps event ids to their input partition (default: the partition of the key).
        Without a changelog the change is written at once."""
        now = time.time()
        keep_since = now - self.keep_handled_days * 86_400
        staging = {p: dict(people) for p, people in self._staged.items()}  # all or nothing
        changes: list[tuple[int, str, str, float]] = []
        missing: dict[int, dict[str, None]] = {}  # partition -> people not staged yet
        for event_id, subject, at in done:
            key = subject or f"~{event_id}"
            p = (partition_of or {}).get(event_id)
            if p is None:
                p = partition_for_key(key.encode(), self.partitions)
            if p not in self.owned:
                log.warning("state change for a partition not owned: dropped", partition=p)
                continue
            changes.append((p, key, event_id, at.timestamp()))
            if key not in staging.get(p, {}):
                missing.setdefault(p, {})[key] = None
        for p, keys in missing.items():  # one query per partition, not one per person
            read = self._read.get(p, {})
            stored = self.owned[p].entries_many([k for k in keys if k not in read])
            staged = staging.setdefault(p, {})
            for key in keys:
                entries = read.get(key)
                staged[key] = dict(stored.get(key, {}) if entries is None else entries)
        self._read.clear()
        for p, key, event_id, at_s in changes:
            staging[p][key][event_id] = at_s
        self._staged = staging
        records = []
        for p, people in self._staged.items():
            for key, entries in people.items():
                for e in [e for e, a in entries.items() if a < keep_since]:
                    del entries[e]
                records.append(Record(self.topic or "", _encode(entries), key.encode(),
                                      partition=p))
        if self.topic is None:
            self.flush([])
            return []
        return records

    def flush(self, placed: Sequence[tuple[int, int]]) -> None:
        """After the commit: write the staged changes, with the changelog offsets their
        records got (``placed``: (partition, offset) of each returned record)."""
        ends: dict[int, int] = {}
        for partition, offset in placed:
            ends[partition] = max(ends.get(partition, 0), offset + 1)
        staged, self._staged = self._staged, {}  # a failed write is not tried again
        self._read.clear()
        for p, people in staged.items():
            store = self.owned.get(p)
            if store is not None:
                store.write(dict(people), ends.get(p))

    def abandon(self) -> None:
        """The commit failed: forget the staged changes."""
        self._staged.clear()
        self._read.clear()

    def close(self) -> None:
        self.revoke(list(self.owned))


#: event ids json.dumps writes as they are (no escapes): what the router's ids are
_PLAIN_ID = re.compile(r"[0-9A-Za-z~_.:-]*")


def _encode(entries: Entries) -> bytes | None:
    """``{"signals":[[event id, time],...]}`` sorted, as ``json.dumps`` writes it (built
    directly for plain ids and finite times, the router's case)."""
    if not entries:
        return None  # a tombstone: compaction forgets the person
    items = sorted(entries.items())
    plain, finite = _PLAIN_ID.fullmatch, math.isfinite
    parts = []
    for e, a in items:
        if type(a) is not float or not finite(a) or not plain(e):
            return json.dumps({"signals": items}, separators=(",", ":")).encode()
        parts.append(f'["{e}",{a!r}]')
    return ('{"signals":[' + ",".join(parts) + "]}").encode()


def _decode(value: bytes | None) -> Entries | None:
    if value is None:
        return None
    try:
        return {str(e): float(a) for e, a in json.loads(value)["signals"]}
    except (KeyError, TypeError) as exc:
        raise ValueError(f"unreadable router changelog record: {exc}") from exc
