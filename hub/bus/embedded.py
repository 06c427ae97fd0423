"""The embedded bus: a durable, partitioned log in one SQLite file (WAL mode).

Layout: ``topics`` (name, partitions, cleanup policy, retention), ``messages`` (one row
per record, primary key topic/partition/offset), ``partition_ends`` (the next offset of
each partition, so offsets never repeat even after compaction), ``group_offsets``
(committed offsets per consumer group) and ``group_members`` (live consumers, for
sharing partitions between processes).

Several processes on one machine may open the same file: writes take SQLite's write
lock (``BEGIN IMMEDIATE``); readers never block writers (WAL). Consumers of one group
split the partitions between them: each member heartbeats in ``group_members`` and
takes the partitions whose number modulo the number of live members equals its rank
(co-partitioned: partition p of every topic goes to the same member).
A member that stops heartbeating for ``session_timeout`` seconds is dropped and its
partitions move to the others, starting at the group's committed offsets (so
uncommitted work is redelivered, as in Kafka).
"""

from __future__ import annotations

import functools
import json
import os
import random
import sqlite3
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal

from hub.bus.base import Bus, Consumer, Headers, Message, Record, TopicPartition, TopicSpec
from hub.bus.partitioning import partition_for_key
from hub.errors import BusError, BusUnavailable, CommitFailed, TopicNotFound
from hub.sqlite import open_database, write_transaction

__all__ = ["EmbeddedBus", "EmbeddedConsumer", "EmbeddedReader", "partition_for_key"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS topics (
    name TEXT PRIMARY KEY,
    partitions INTEGER NOT NULL,
    cleanup_policy TEXT NOT NULL,
    retention_ms INTEGER,
    config TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS partition_ends (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS messages (
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    offset INTEGER NOT NULL,
    key BLOB,
    value BLOB,
    headers BLOB,
    ts INTEGER NOT NULL,
    compacted INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_by_key ON messages (topic, partition, key, offset)
    WHERE compacted = 1;
CREATE TABLE IF NOT EXISTS group_offsets (
    group_id TEXT NOT NULL,
    topic TEXT NOT NULL,
    partition INTEGER NOT NULL,
    next_offset INTEGER NOT NULL,
    PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_state (
    group_id TEXT PRIMARY KEY,
    generation INTEGER NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_members (
    group_id TEXT NOT NULL,
    member_id TEXT NOT NULL,
    topics TEXT NOT NULL,
    last_seen REAL NOT NULL,
    PRIMARY KEY (group_id, member_id)
) WITHOUT ROWID;
"""

#: a compacted topic is compacted once this many records were produced to it, and at
#: least as many as half the records it held after the previous pass (a dirty ratio,
#: as Kafka's ``min.cleanable.dirty.ratio``), so compaction costs O(1) per record.
_COMPACT_MIN_DIRTY = 5_000
#: the first pause of a poll that found nothing (doubling up to ``poll_interval``)
_FIRST_PAUSE_S = 0.002
_COMPACT_DIRTY_RATIO = 0.5


_U32 = struct.Struct(">I")


@functools.lru_cache(maxsize=1024)
def _header_name(name: str) -> bytes:
    """A header name with its length prefix (the names repeat: CloudEvents attributes)."""
    raw = name.encode()
    return _U32.pack(len(raw)) + raw


def encode_headers(headers: Headers) -> bytes | None:
    if not headers:
        return None
    pack = _U32.pack
    name_of = _header_name
    parts = [pack(len(headers))]
    for name, value in headers:
        parts += (name_of(name), pack(len(value)), value)
    return b"".join(parts)


def decode_headers(blob: bytes | None) -> tuple[tuple[str, bytes], ...]:
    if not blob:
        return ()
    (count,) = struct.unpack_from(">I", blob, 0)
    pos = 4
    out = []
    for _ in range(count):
        (n,) = struct.unpack_from(">I", blob, pos)
        name = blob[pos + 4 : pos + 4 + n].decode()
        pos += 4 + n
        (m,) = struct.unpack_from(">I", blob, pos)
        out.append((name, bytes(blob[pos + 4 : pos + 4 + m])))
        pos += 4 + m
    return tuple(out)


class EmbeddedBus(Bus):
    """A SQLite-backed log; the single-machine default.

    ``synchronous`` is SQLite's ``PRAGMA synchronous``: ``FULL`` survives power loss,
    ``NORMAL`` survives a crash of the process (the default in WAL mode is safe for
    that) and is faster.
    """

    kind = "embedded"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        synchronous: Literal["FULL", "NORMAL", "OFF"] = "FULL",
        session_timeout: float = 10.0,
        poll_interval: float = 0.05,
    ) -> None:
        self.path = Path(path)
        self.session_timeout = session_timeout
        self.poll_interval = poll_interval
        self._lock = threading.RLock()
        self._partitions: dict[str, int] = {}
        self._produced_since_compact: dict[str, int] = {}
        self._compact_threshold: dict[str, int] = {}
        self._compacted: dict[str, bool] = {}
        try:
            self._db = open_database(self.path, synchronous=synchronous)
            with self._write() as db:
                for stmt in filter(None, (s.strip() for s in _SCHEMA.split(";"))):
                    db.execute(stmt)
        except sqlite3.Error as exc:
            raise BusUnavailable(f"cannot open embedded bus at {self.path}: {exc}") from exc

    # -- plumbing ---------------------------------------------------------------------

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction holding SQLite's write lock."""
        with write_transaction(self._db, self._lock, lambda why: BusError(
                f"embedded bus is locked or unavailable: {why}")) as db:
            yield db

    def _read(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as exc:
                raise BusError(f"embedded bus read failed: {exc}") from exc

    # -- topics -----------------------------------------------------------------------

    def create_topic(self, spec: TopicSpec) -> None:
        config = dict(spec.config)
        with self._write() as db:
            db.execute(
                "INSERT OR IGNORE INTO topics (name, partitions, cleanup_policy, retention_ms,"
                " config) VALUES (?, ?, ?, ?, ?)",
                (spec.name, spec.partitions, spec.cleanup_policy, spec.retention_ms,
                 json.dumps(config, sort_keys=True)),
            )
            db.executemany(
                "INSERT OR IGNORE INTO partition_ends (topic, partition, next_offset)"
                " VALUES (?, ?, 0)",
                [(spec.name, p) for p in range(spec.partitions)],
            )

    def list_topics(self) -> set[str]:
        return {str(r[0]) for r in self._read("SELECT name FROM topics")}

    def partitions_for(self, topic: str) -> int:
        cached = self._partitions.get(topic)
        if cached is not None:
            return cached
        rows = self._read("SELECT partitions FROM topics WHERE name = ?", (topic,))
        if not rows:
            raise TopicNotFound(f"topic {topic!r} does not exist; create it first")
        count = int(rows[0][0])
        self._partitions[topic] = count
        return count

    def _is_compacted(self, topic: str) -> bool:
        if topic not in self._compacted:
            self._compacted[topic] = self.topic_spec(topic).cleanup_policy == "compact"
        return self._compacted[topic]

    def topic_spec(self, topic: str) -> TopicSpec:
        rows = self._read(
            "SELECT partitions, cleanup_policy, retention_ms, config FROM topics WHERE name = ?",
            (topic,),
        )
        if not rows:
            raise TopicNotFound(f"topic {topic!r} does not exist; create it first")
        parts, policy, retention, config = rows[0]
        return TopicSpec(
            topic, int(parts), policy, retention,
            json.loads(str(config)),
        )

    def alter_topic(self, topic: str, config: Mapping[str, str]) -> None:
        spec = self.topic_spec(topic)  # raises TopicNotFound
        changes = dict(config)
        retention = changes.pop("retention.ms", None)
        policy = changes.pop("cleanup.policy", spec.cleanup_policy)
        with self._write() as db:
            db.execute(
                "UPDATE topics SET cleanup_policy = ?, retention_ms = ?, config = ? WHERE name = ?",
                (policy, spec.retention_ms if retention is None else int(retention),
                 json.dumps({**spec.config, **changes}, sort_keys=True), topic),
            )
        self._compacted.pop(topic, None)

    # -- produce ----------------------------------------------------------------------

    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        batch = list(records)
        if not batch:
            return []
        with self._write() as db:
            result = self._append(db, batch)
        self._maybe_compact({r.topic for r in batch}, len(batch))
        return result

    def _append(self, db: sqlite3.Connection, batch: list[Record]) -> list[tuple[int, int]]:
        """Append ``batch`` inside the caller's write transaction."""
        now = int(time.time() * 1000)
        result: list[tuple[int, int]] = []
        rows = []
        ends: dict[tuple[str, int], int] = {}
        topics: dict[str, tuple[int, int]] = {}  # topic -> (partitions, compacted), once
        for record in batch:
            topic = record.topic
            known = topics.get(topic)
            if known is None:
                known = topics[topic] = (self.partitions_for(topic),
                                         int(self._is_compacted(topic)))
            count, compacted = known
            partition = record.partition
            if partition is None:
                partition = partition_for_key(record.key, count)
            elif not 0 <= partition < count:
                raise BusError(f"{topic} has no partition {partition}")
            tp = (topic, partition)
            offset = ends.get(tp)
            if offset is None:
                offset = db.execute(
                    "SELECT next_offset FROM partition_ends WHERE topic = ? AND partition = ?",
                    tp,
                ).fetchone()[0]
            ends[tp] = offset + 1
            headers = record.headers
            rows.append((topic, partition, offset, record.key, record.value,
                         encode_headers(headers) if headers else None, now, compacted))
            result.append((partition, offset))
        db.executemany("INSERT INTO messages VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "UPDATE partition_ends SET next_offset = ? WHERE topic = ? AND partition = ?",
            [(end, t, p) for (t, p), end in ends.items()],
        )
        return result

    def _commit_with(
        self, consumer: EmbeddedConsumer, records: Sequence[Record],
        offsets: Mapping[TopicPartition, int],
    ) -> list[tuple[int, int]]:
        """Records and the group's offsets in one SQLite transaction, refused (nothing
        written) when the group's membership no longer gives ``consumer`` a partition."""
        batch = list(records)
        with self._write() as db:
            rows = db.execute(
                "SELECT member_id FROM group_members WHERE group_id = ? ORDER BY member_id",
                (consumer.group,),
            ).fetchall()
            members = [str(r[0]) for r in rows]
            owned = set(consumer._share(members)) if consumer.member_id in members else set()
            lost = set(offsets) - owned
            if lost:
                raise CommitFailed(
                    f"group {consumer.group} rebalanced: {len(lost)} partition(s) of this"
                    " batch belong to another member now; nothing was produced or committed"
                )
            result = self._append(db, batch)
            self._commit_in(db, consumer.group, offsets)
        self._maybe_compact({r.topic for r in batch}, len(batch))
        return result

    def _maybe_compact(self, topics: set[str], count: int) -> None:
        """Compact / expire a topic once enough has been written since the last pass."""
        for topic in topics:
            done = self._produced_since_compact.get(topic, 0) + count
            if done >= self._compact_threshold.get(topic, _COMPACT_MIN_DIRTY):
                self._produced_since_compact[topic] = 0
                remaining = self._clean(topic)
                self._compact_threshold[topic] = max(
                    _COMPACT_MIN_DIRTY, int(remaining * _COMPACT_DIRTY_RATIO)
                )
            else:
                self._produced_since_compact[topic] = done

    # -- maintenance ------------------------------------------------------------------

    def compact(self, topic: str) -> None:
        """Keep only the newest record per key (compacted topics) and drop records past
        the topic's retention. Also runs by itself as records are produced."""
        self._clean(topic)

    def _clean(self, topic: str) -> int:
        """Compact and expire ``topic``; return how many records it still holds."""
        spec = self.topic_spec(topic)
        if spec.cleanup_policy != "compact" and spec.retention_ms is None:
            return 0
        now_ms = int(time.time() * 1000)
        with self._write() as db:
            if spec.cleanup_policy == "compact":
                db.execute(
                    "DELETE FROM messages WHERE topic = ? AND compacted = 1 AND key IS NOT NULL"
                    # without INDEXED BY the planner walks the partition by primary
                    # key for every row (quadratic: 1.2 s for 6,000 records)
                    " AND offset < (SELECT MAX(m2.offset) FROM messages m2"
                    " INDEXED BY messages_by_key"
                    " WHERE m2.compacted = 1 AND m2.topic = messages.topic"
                    " AND m2.partition = messages.partition AND m2.key = messages.key)",
                    (topic,),
                )
                tombstone_ms = int(spec.config.get("delete.retention.ms", 86_400_000))
                db.execute(
                    "DELETE FROM messages WHERE topic = ? AND value IS NULL AND ts < ?",
                    (topic, now_ms - tombstone_ms),
                )
            if spec.retention_ms is not None and spec.retention_ms >= 0:
                for partition in range(spec.partitions):
                    self._expire(db, topic, partition, now_ms - spec.retention_ms)
            (remaining,) = db.execute(
                "SELECT COUNT(*) FROM messages WHERE topic = ?", (topic,)
            ).fetchone()
        return int(remaining)

    @staticmethod
    def _expire(db: sqlite3.Connection, topic: str, partition: int, cutoff_ms: int) -> None:
        """Delete the partition's records older than ``cutoff_ms`` (a prefix of the log)."""
        first_kept = db.execute(
            "SELECT offset FROM messages WHERE topic = ? AND partition = ? AND ts >= ?"
            " ORDER BY offset LIMIT 1",
            (topic, partition, cutoff_ms),
        ).fetchone()
        if first_kept is None:
            db.execute("DELETE FROM messages WHERE topic = ? AND partition = ?", (topic, partition))
        else:
            db.execute(
                "DELETE FROM messages WHERE topic = ? AND partition = ? AND offset < ?",
                (topic, partition, first_kept[0]),
            )

    # -- offsets ----------------------------------------------------------------------

    def end_offsets(self, topic: str) -> dict[int, int]:
        self.partitions_for(topic)
        rows = self._read(
            "SELECT partition, next_offset FROM partition_ends WHERE topic = ?", (topic,)
        )
        return {int(p): int(o) for p, o in rows}

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        parts = self.partitions_for(topic)
        rows = self._read(
            "SELECT partition, next_offset FROM group_offsets WHERE group_id = ? AND topic = ?",
            (group, topic),
        )
        found = {int(p): int(o) for p, o in rows}
        return {p: found.get(p) for p in range(parts)}

    def _commit(self, group: str, offsets: Mapping[TopicPartition, int]) -> None:
        with self._write() as db:
            self._commit_in(db, group, offsets)

    @staticmethod
    def _commit_in(
        db: sqlite3.Connection, group: str, offsets: Mapping[TopicPartition, int]
    ) -> None:
        db.executemany(
            "INSERT INTO group_offsets (group_id, topic, partition, next_offset)"
            " VALUES (?, ?, ?, ?) ON CONFLICT (group_id, topic, partition)"
            " DO UPDATE SET next_offset = excluded.next_offset",
            [(group, tp.topic, tp.partition, off) for tp, off in offsets.items()],
        )

    def _first_offset(self, tp: TopicPartition) -> int:
        rows = self._read(
            "SELECT MIN(offset) FROM messages WHERE topic = ? AND partition = ?",
            (tp.topic, tp.partition),
        )
        if rows and rows[0][0] is not None:
            return int(rows[0][0])
        return self.end_offsets(tp.topic)[tp.partition]

    def _fetch(self, tp: TopicPartition, offset: int, limit: int) -> list[Message]:
        rows = self._read(
            "SELECT offset, key, value, headers, ts FROM messages"
            " WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?",
            (tp.topic, tp.partition, offset, limit),
        )
        return [
            Message(tp.topic, tp.partition, o, k, v, decode_headers(h), ts)
            for o, k, v, h, ts in rows
        ]

    # -- membership -------------------------------------------------------------------

    def _heartbeat(self, group: str, member: str, topics: Sequence[str]) -> tuple[list[str], int]:
        """Record that ``member`` is alive; return the live members (sorted) and the
        group's generation, which changes whenever a member joins or leaves."""
        now = time.time()
        with self._write() as db:
            joined = db.execute(
                "INSERT OR IGNORE INTO group_members (group_id, member_id, topics, last_seen)"
                " VALUES (?, ?, ?, ?)",
                (group, member, json.dumps(sorted(topics)), now),
            ).rowcount
            db.execute(
                "UPDATE group_members SET last_seen = ? WHERE group_id = ? AND member_id = ?",
                (now, group, member),
            )
            expired = db.execute(
                "DELETE FROM group_members WHERE group_id = ? AND last_seen < ?",
                (group, now - self.session_timeout),
            ).rowcount
            if joined or expired:
                self._bump_generation(db, group)
            rows = db.execute(
                "SELECT member_id FROM group_members WHERE group_id = ? ORDER BY member_id",
                (group,),
            ).fetchall()
        return [str(r[0]) for r in rows], self._generation(group)

    @staticmethod
    def _bump_generation(db: sqlite3.Connection, group: str) -> None:
        db.execute(
            "INSERT INTO group_state (group_id, generation) VALUES (?, 1)"
            " ON CONFLICT (group_id) DO UPDATE SET generation = generation + 1",
            (group,),
        )

    def _generation(self, group: str) -> int:
        rows = self._read("SELECT generation FROM group_state WHERE group_id = ?", (group,))
        return int(rows[0][0]) if rows else 0

    def _leave(self, group: str, member: str) -> None:
        with self._write() as db:
            left = db.execute(
                "DELETE FROM group_members WHERE group_id = ? AND member_id = ?", (group, member)
            ).rowcount
            if left:
                self._bump_generation(db, group)

    # -- consumers --------------------------------------------------------------------

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        transactional_id: str | None = None,
    ) -> EmbeddedConsumer:
        # every commit_with is one SQLite transaction: no transactional id needed
        for topic in topics:
            self.partitions_for(topic)
        return EmbeddedConsumer(self, group, list(topics), auto_offset_reset)

    def reader(self, partitions: Iterable[TopicPartition]) -> EmbeddedReader:
        return EmbeddedReader(self, set(partitions))

    def close(self) -> None:
        with self._lock:
            try:
                self._db.close()
            except sqlite3.Error:  # pragma: no cover - closing twice is harmless
                pass


class EmbeddedConsumer(Consumer):
    """One member of a consumer group on the embedded bus."""

    def __init__(
        self,
        bus: EmbeddedBus,
        group: str,
        topics: list[str],
        auto_offset_reset: Literal["earliest", "latest"],
    ) -> None:
        self._bus = bus
        self.group = group
        self.topics = topics
        self.member_id = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
        self._reset = auto_offset_reset
        self._positions: dict[TopicPartition, int] = {}
        self._revoked: set[TopicPartition] = set()
        self._members: list[str] = []
        self._generation = -1
        self._last_heartbeat = 0.0
        self._closed = False
        self._rebalance()

    def _all_partitions(self) -> list[TopicPartition]:
        return [
            TopicPartition(t, p)
            for t in sorted(self.topics)
            for p in range(self._bus.partitions_for(t))
        ]

    def _rebalance(self) -> None:
        members, self._generation = self._bus._heartbeat(self.group, self.member_id, self.topics)
        self._last_heartbeat = time.monotonic()
        if members == self._members and self._positions:
            return
        self._members = members
        mine = self._share(members)
        self._revoked.update(tp for tp in self._positions if tp not in mine)
        keep = {tp: pos for tp, pos in self._positions.items() if tp in mine}
        for tp in mine:
            if tp not in keep:
                keep[tp] = self._start_offset(tp)
        self._positions = keep

    def _share(self, members: list[str]) -> list[TopicPartition]:
        """This member's partitions among ``members`` (sorted): partition ``p`` of every
        topic goes to member ``p mod n``, so that the same partition number of each topic
        is read by one member (co-partitioned, like Kafka's range assignor: the state of
        a partition, e.g. a person's history, is then in one place)."""
        if not members:
            return []
        rank = members.index(self.member_id) if self.member_id in members else 0
        return [tp for tp in self._all_partitions() if tp.partition % len(members) == rank]

    def _start_offset(self, tp: TopicPartition) -> int:
        committed = self._bus.committed(self.group, tp.topic).get(tp.partition)
        if committed is not None:
            return max(committed, self._bus._first_offset(tp))
        if self._reset == "latest":
            return self._bus.end_offsets(tp.topic)[tp.partition]
        return self._bus._first_offset(tp)

    def _heartbeat_due(self) -> bool:
        """Time to heartbeat, or the group changed since the last look (a cheap read)."""
        if time.monotonic() - self._last_heartbeat > self._bus.session_timeout / 5:
            return True
        return self._bus._generation(self.group) != self._generation

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        if self._closed:
            raise BusError("consumer is closed")
        deadline = time.monotonic() + timeout
        # an empty log is looked at again after 2 ms, then 4, 8 ... up to poll_interval:
        # records that come while the consumer keeps up are read within a few ms, and
        # an idle consumer still costs one look per poll_interval
        pause = _FIRST_PAUSE_S
        while True:
            if self._heartbeat_due():
                self._rebalance()
            out: list[Message] = []
            parts = list(self._positions)
            random.shuffle(parts)
            for tp in parts:
                if len(out) >= max_records:
                    break
                got = self._bus._fetch(tp, self._positions[tp], max_records - len(out))
                if not got:
                    continue
                self._positions[tp] = got[-1].offset + 1
                out.extend(got)
            if out or time.monotonic() >= deadline:
                return out
            pause = min(pause, self._bus.poll_interval)
            time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
            pause *= 2

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        if offsets is None:
            offsets = dict(self._positions)
        if offsets:
            self._bus._commit(self.group, offsets)

    def commit_with(
        self, records: Sequence[Record], offsets: Mapping[TopicPartition, int]
    ) -> list[tuple[int, int]]:
        if self._closed:
            raise BusError("consumer is closed")
        return self._bus._commit_with(self, records, offsets)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        if tp not in self._positions:
            raise BusError(f"{tp.topic}[{tp.partition}] is not assigned to this consumer")
        self._positions[tp] = offset

    def position(self, tp: TopicPartition) -> int:
        return self._positions[tp]

    def assignment(self) -> set[TopicPartition]:
        if self._heartbeat_due():
            self._rebalance()
        return set(self._positions)

    def take_revoked(self) -> set[TopicPartition]:
        taken, self._revoked = self._revoked, set()
        return taken

    def close(self) -> None:
        if not self._closed:
            self._closed = True
            try:
                self._bus._leave(self.group, self.member_id)
            except BusError:  # pragma: no cover - the bus may already be closed
                pass


class EmbeddedReader(Consumer):
    """Partitions read by hand, outside any group (state restore); commits nothing."""

    def __init__(self, bus: EmbeddedBus, partitions: set[TopicPartition]) -> None:
        self._bus = bus
        self._positions = {tp: bus._first_offset(tp) for tp in partitions}

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        out: list[Message] = []
        for tp in sorted(self._positions, key=lambda t: (t.topic, t.partition)):
            got = self._bus._fetch(tp, self._positions[tp], max_records - len(out))
            if got:
                self._positions[tp] = got[-1].offset + 1
                out.extend(got)
            if len(out) >= max_records:
                break
        if not out:
            # nothing stored past the position: it is the end (compaction leaves gaps)
            for tp in self._positions:
                end = self._bus.end_offsets(tp.topic)[tp.partition]
                self._positions[tp] = max(self._positions[tp], end)
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        raise BusError("a reader outside any group commits nothing")

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self._positions[tp] = offset

    def position(self, tp: TopicPartition) -> int:
        return self._positions[tp]

    def assignment(self) -> set[TopicPartition]:
        return set(self._positions)

    def close(self) -> None:
        self._positions.clear()
