"""Keeping the consent ledger caught up with consent.v1, and publishing consent changes.

:class:`LedgerFollower` reads consent.v1 in a consumer group of its own (named after the
ledger file, so it is assigned every partition), seeks each partition to the offset the
ledger stored, and applies what it reads with the new offsets in one transaction. The
ledger file, not the consumer group, is the only record of progress: nothing is
committed to the group, so a deleted ledger file is rebuilt from the start of the topic.

Input that is not a ConsentChange never stops the follower: undecodable messages are
dead-lettered by :class:`~hub.consume.AvroConsumer`, other record types and records that
break the model's rules are dead-lettered here. A tombstone (null value) erases the
consent named by its key.
"""

from __future__ import annotations

import hashlib
import os
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType

import structlog
from pydantic import ValidationError

from hub.bus.base import Bus, Consumer, Message, TopicPartition
from hub.consent.ledger import ConsentLedger
from hub.consent.model import ConsentErased, ConsentLedgerError
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.events import NAMESPACE, ConsentChange
from hub.serde import AvroSerde
from hub.topics import CONSENT

__all__ = ["LedgerFollower", "group_for", "publish_consent"]

log = structlog.get_logger(__name__)

_RECORD = f"{NAMESPACE}.ConsentChange"
_POLL_S = 0.5
_REJOIN_AFTER_S = 12.0
_JOIN_POLL_S = 0.2


def group_for(ledger_file: str | os.PathLike[str]) -> str:
    """The consumer group of one ledger file: ``consent-ledger-<hash of its absolute path>``."""
    digest = hashlib.sha256(str(Path(ledger_file).resolve()).encode()).hexdigest()
    return f"consent-ledger-{digest[:16]}"


def publish_consent(
    bus: Bus, serde: AvroSerde, change: ConsentChange, *, topic: str = CONSENT
) -> tuple[int, int]:
    """Produce ``change`` keyed by its consent id (the compacted topic keeps the latest
    change per consent); return its (partition, offset) once it is durable."""
    value = serde.encode_model(topic, change)
    placed = bus.produce_one(topic, value, key=change.consent_id.encode())
    log.info(
        "consent change published",
        consent_id=change.consent_id,
        action=change.action.value,
        event_id=change.event_id,
        partition=placed[0],
        offset=placed[1],
    )
    return placed


class _Tap(Consumer):
    """Sits between the bus consumer and AvroConsumer: drops what the ledger already has
    (a rebalance may rewind), sets tombstones aside and tracks the next offset per
    partition."""

    def __init__(self, inner: Consumer, topic: str) -> None:
        self.inner = inner
        self.topic = topic
        self.expected: dict[int, int] = {}
        self.stale: set[int] = set()
        self.tombstones: list[Message] = []
        self.raw = 0

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        out: list[Message] = []
        got = self.inner.poll(max_records, timeout)
        self.raw = len(got)
        for message in got:
            if message.topic != self.topic:
                continue
            if message.offset < self.expected.get(message.partition, 0):
                self.stale.add(message.partition)
                continue
            self.expected[message.partition] = message.offset + 1
            if message.value is None:
                self.tombstones.append(message)
            else:
                out.append(message)
        return out

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self.inner.commit(offsets)

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.inner.seek(tp, offset)

    def position(self, tp: TopicPartition) -> int:
        return self.inner.position(tp)

    def assignment(self) -> set[TopicPartition]:
        return self.inner.assignment()

    def close(self) -> None:
        self.inner.close()


class LedgerFollower:
    """Brings a :class:`ConsentLedger` up to date with consent.v1 on ``bus``.

    Keeps one consumer open between calls (joining a Kafka group takes a while); call
    :meth:`close` when done. One follower per ledger file: a second one in another
    process would share the group's partitions and never get them all.

    ``max_records`` is the size of one poll; up to ``max_batch`` changes are applied in
    one ledger transaction (large transactions make a rebuild of a big ledger much
    faster: each one rewrites the index pages it touches once).
    """

    def __init__(
        self,
        bus: Bus,
        serde: AvroSerde,
        ledger: ConsentLedger,
        *,
        topic: str = CONSENT,
        dead_letters: DeadLetterWriter | None = None,
        stage: str = "consent-ledger",
        max_records: int = 2000,
        max_batch: int = 20_000,
    ) -> None:
        self.bus = bus
        self.serde = serde
        self.ledger = ledger
        self.topic = topic
        self.group = group_for(ledger.path)
        self.stage = stage
        self.max_records = max_records
        self.max_batch = max_batch
        self.dead_letters = dead_letters or DeadLetterWriter(bus, serde)
        self._tap: _Tap | None = None
        self._reader: AvroConsumer | None = None

    def __enter__(self) -> LedgerFollower:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Leave the consumer group (nothing to commit: the ledger holds the offsets)."""
        if self._reader is not None:
            self._reader.close()
        self._reader = self._tap = None

    def lag(self) -> dict[int, int]:
        """Messages on each partition the ledger has not read yet (one cheap look)."""
        stored = self._stored()
        return {p: end - stored.get(p, 0) for p, end in self.bus.end_offsets(self.topic).items()}

    def _stored(self) -> dict[int, int]:
        return {p: o for (t, p), o in self.ledger.offsets().items() if t == self.topic}

    def catch_up(self, timeout: float = 30.0) -> int:
        """Apply everything on the topic up to its end offsets as they are now; return
        how many changes were new to the ledger.

        Cheap when nothing is new (the end offsets are compared with the stored ones,
        no poll). Messages produced meanwhile may be applied too if they arrive in the
        same poll. Raises :class:`ConsentLedgerError` when the ledger is ahead of the
        topic (another bus, or a recreated topic: delete the ledger file) or when the
        end offsets are not reached within ``timeout`` seconds; what was applied so far
        stays applied.
        """
        deadline = time.monotonic() + timeout
        ends = self.bus.end_offsets(self.topic)
        stored = self._stored()
        ahead = sorted(p for p, o in stored.items() if o > ends.get(p, -1))
        if ahead:
            raise ConsentLedgerError(
                f"consent ledger {self.ledger.path} has read further on {self.topic}"
                f" partition(s) {ahead} than the topic holds: it belongs to another bus or"
                " the topic was recreated; delete the file to rebuild it"
            )
        targets = {p: end for p, end in ends.items() if end > stored.get(p, 0)}
        if not targets:
            return 0
        started = time.monotonic()
        tap, reader = self._open()
        tap.expected = {p: stored.get(p, 0) for p in ends}
        tap.stale.clear()
        self._assign(tap, set(ends), deadline, force_seek=True)
        applied = dead = 0
        pending: list[ConsentChange | ConsentErased] = []

        def flush() -> None:
            # changes and the offsets they were read up to, in one transaction
            nonlocal applied
            offsets = {(self.topic, p): o for p, o in tap.expected.items()}
            applied += self.ledger.apply_batch(pending, offsets)
            pending.clear()

        while behind := {p for p, end in targets.items() if tap.expected[p] < end}:
            if time.monotonic() >= deadline:
                flush()
                raise ConsentLedgerError(
                    f"consent ledger did not catch up with {self.topic} within {timeout}s"
                    f" ({sum(targets[p] - tap.expected[p] for p in behind)} message(s)"
                    f" behind on partition(s) {sorted(behind)})"
                )
            self._assign(tap, set(ends), deadline)
            before = reader.dead_lettered
            events = reader.poll(self.max_records, min(_POLL_S, deadline - time.monotonic()))
            dead += reader.dead_lettered - before
            changes, rejected = self._changes(events, tap)
            dead += rejected
            pending.extend(changes)
            if (
                tap.raw == 0
                and self.bus.kind == "embedded"
                and set(ends) <= {tp.partition for tp in tap.assignment()}
            ):
                # an empty embedded poll is definitive: the rest was compacted away
                for p in behind:
                    tap.expected[p] = targets[p]
            if len(pending) >= self.max_batch:
                flush()
            for p in tap.stale:
                tap.seek(TopicPartition(self.topic, p), tap.expected[p])
            tap.stale.clear()
        flush()
        log.info(
            "consent ledger caught up",
            topic=self.topic,
            applied=applied,
            dead_lettered=dead,
            seconds=round(time.monotonic() - started, 3),
        )
        return applied

    def _open(self) -> tuple[_Tap, AvroConsumer]:
        if self._tap is None or self._reader is None:
            inner = self.bus.consumer(self.group, [self.topic], auto_offset_reset="earliest")
            self._tap = _Tap(inner, self.topic)
            self._reader = AvroConsumer(self._tap, self.serde, self.dead_letters, stage=self.stage)
        return self._tap, self._reader

    def _assign(
        self, tap: _Tap, partitions: set[int], deadline: float, *, force_seek: bool = False
    ) -> None:
        """Wait until every partition is assigned (on Kafka the assignment arrives with
        a poll), then seek each to the ledger's offset if anything may have moved."""
        want = {TopicPartition(self.topic, p) for p in partitions}
        joining_since = time.monotonic()
        while not want <= tap.assignment():
            if time.monotonic() >= deadline:
                raise ConsentLedgerError(
                    f"consumer group {self.group} was not given every partition of"
                    f" {self.topic} in time (the broker may be slow, or another process"
                    " follows this ledger file)"
                )
            if time.monotonic() - joining_since > _REJOIN_AFTER_S:
                # kafka-python can miss an assignment it was sent; a new member joins
                # afresh (the follower commits nothing, so nothing is lost)
                log.warning("consent follower rejoins its group", group=self.group)
                tap.inner.close()
                tap.inner = self.bus.consumer(self.group, [self.topic],
                                              auto_offset_reset="earliest")
                joining_since = time.monotonic()
            # joins the group; what it returns is read again after the seek below
            tap.inner.poll(1, min(_JOIN_POLL_S, max(0.0, deadline - time.monotonic())))
            force_seek = True
        if force_seek:
            for tp in want:
                tap.seek(tp, tap.expected[tp.partition])

    def _changes(
        self, events: list[Event], tap: _Tap
    ) -> tuple[list[ConsentChange | ConsentErased], int]:
        """Events and tombstones as ledger changes in log order; dead-letters the rest."""
        placed: list[tuple[int, int, ConsentChange | ConsentErased]] = []
        rejected = 0
        for event in events:
            m = event.message
            if event.record_name != _RECORD:
                self.dead_letters.send(
                    m,
                    ValueError(f"{event.record_name} is not a ConsentChange"),
                    stage=self.stage,
                    reason="UNKNOWN_EVENT_TYPE",
                )
                log.warning(
                    "dead letter",
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    error="UNKNOWN_EVENT_TYPE",
                )
                rejected += 1
                continue
            try:
                change = ConsentChange.from_avro(event.record)
            except ValidationError as exc:
                # the message names fields and rules only (no input values)
                errors = "; ".join(
                    f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()
                )
                self.dead_letters.send(
                    m, ValueError(errors), stage=self.stage, reason="VALIDATION_FAILED"
                )
                log.warning(
                    "dead letter",
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                    error="VALIDATION_FAILED",
                )
                rejected += 1
                continue
            placed.append((m.partition, m.offset, change))
        for m in tap.tombstones:
            if m.key is None:
                log.warning(
                    "tombstone without key ignored",
                    topic=m.topic,
                    partition=m.partition,
                    offset=m.offset,
                )
                continue
            placed.append((m.partition, m.offset, ConsentErased(m.key.decode("utf-8", "replace"))))
        tap.tombstones.clear()
        placed.sort(key=lambda item: (item[0], item[1]))
        return [change for _, _, change in placed], rejected
