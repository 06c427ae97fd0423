"""Keeping the consent ledger caught up with consent.v1, and publishing consent changes.

:class:`LedgerFollower` is a processor on the stream loop (hub/stream, docs/stream.md)
in its ``own_offsets`` mode: it reads consent.v1 in a consumer group of its own (named
after the ledger file, so it is assigned every partition), the loop seeks each assigned
partition to the offset the ledger stored, and the follower applies what it reads with
the new offsets in one ledger transaction. The ledger file, not the consumer group, is
the only record of progress: nothing is committed to the group, so a deleted ledger
file is rebuilt from the start of the topic.

Input that is not a ConsentChange never stops the follower: undecodable messages are
dead-lettered by the loop's one rule, other record types and records that break the
model's rules are dead-lettered here (they go out with the batch). A tombstone (null
value) erases the consent named by its key.
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

from hub.bus.base import Bus, Record, TopicPartition
from hub.consent.ledger import ConsentLedger
from hub.consent.model import ConsentErased, ConsentLedgerError
from hub.consume import TOMBSTONE, Event
from hub.deadletters import DeadLetterWriter
from hub.events import NAMESPACE, ConsentChange
from hub.serde import AvroSerde
from hub.stream import Outcome, StreamLoop
from hub.topics import CONSENT
from hub.values import field_errors, problem_text

__all__ = ["LedgerFollower", "group_for", "publish_consent"]

log = structlog.get_logger(__name__)

_RECORD = f"{NAMESPACE}.ConsentChange"
_POLL_S = 0.5
_REJOIN_AFTER_S = 12.0


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
        self._loop: StreamLoop | None = None
        #: next offset per partition: what the ledger has plus what waits in ``_pending``
        self._expected: dict[int, int] = {}
        self._pending: list[ConsentChange | ConsentErased] = []
        self._stale: set[int] = set()
        self._sought = False
        self._applied = 0

    def __enter__(self) -> LedgerFollower:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Leave the consumer group (nothing to commit: the ledger holds the offsets)."""
        if self._loop is not None:
            self._loop.close()
        self._loop = None

    @property
    def loop(self) -> StreamLoop:
        """The stream loop this follower runs on (own offsets, tombstones read)."""
        if self._loop is None:
            self._loop = StreamLoop(
                self.bus, self.serde, self.group, [self.topic], self, name=self.stage,
                guarantee="at-least-once", own_offsets=True, tombstones=True,
                batch_size=self.max_records, dead_letters=self.dead_letters,
                decode_stage=self.stage,
            )
        return self._loop

    def lag(self) -> dict[int, int]:
        """Messages on each partition the ledger has not read yet (one cheap look)."""
        stored = self._stored()
        return {p: end - stored.get(p, 0) for p, end in self.bus.end_offsets(self.topic).items()}

    def _stored(self) -> dict[int, int]:
        return {p: o for (t, p), o in self.ledger.offsets().items() if t == self.topic}

    # -- the processor --------------------------------------------------------------------

    def assigned(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        """Start each partition where the ledger (and what waits to be applied) ends."""
        self._sought = True
        return {tp: self._expected.get(tp.partition, 0) for tp in partitions}

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Nothing to drop: the offsets live in the ledger."""

    def process(self, events: list[Event]) -> Outcome:
        changes, bad = self._changes(events)

        def store(offsets: Mapping[TopicPartition, int]) -> None:
            self._pending.extend(changes)
            for tp, offset in offsets.items():
                self._expected[tp.partition] = max(self._expected.get(tp.partition, 0), offset)
            if len(self._pending) >= self.max_batch:
                self._flush()

        return Outcome(bad, store=store)

    def _flush(self) -> None:
        """The pending changes and the offsets they were read up to, in one transaction."""
        offsets = {(self.topic, p): o for p, o in self._expected.items()}
        if self._pending or offsets != {(self.topic, p): o for p, o in self._stored().items()}:
            self._applied += self.ledger.apply_batch(self._pending, offsets)
        self._pending.clear()

    # -- catching up ----------------------------------------------------------------------

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
        loop = self.loop
        self._expected = {p: stored.get(p, 0) for p in ends}
        self._applied, dead_before = 0, loop.reader.dead_lettered
        want = {TopicPartition(self.topic, p) for p in ends}
        # anything may have moved since the last call (a rejoin resets positions)
        for tp in want & loop.reader.consumer.assignment():
            loop.reader.consumer.seek(tp, self._expected[tp.partition])
        joining_since = time.monotonic()
        try:
            while behind := {p for p, end in targets.items() if self._expected[p] < end}:
                if time.monotonic() >= deadline:
                    raise self._late(timeout, targets, behind, want)
                if want <= loop.reader.consumer.assignment():
                    joining_since = time.monotonic()
                elif time.monotonic() - joining_since > _REJOIN_AFTER_S:
                    # kafka-python can miss an assignment it was sent; a new member joins
                    # afresh (the follower commits nothing, so nothing is lost)
                    log.warning("consent follower rejoins its group", group=self.group)
                    loop.close()
                    joining_since = time.monotonic()
                self._sought = False
                read = loop.step(min(_POLL_S, max(0.0, deadline - time.monotonic())))
                if (
                    read == 0
                    and not self._sought
                    and self.bus.kind == "embedded"
                    and want <= loop.reader.consumer.assignment()
                ):
                    # an empty embedded poll is definitive: the rest was compacted away
                    for p in behind:
                        self._expected[p] = targets[p]
                for p in self._stale:  # a rejoin rewound it: back to where the ledger is
                    loop.reader.consumer.seek(TopicPartition(self.topic, p), self._expected[p])
                self._stale.clear()
        finally:
            self._flush()
        log.info(
            "consent ledger caught up",
            topic=self.topic,
            applied=self._applied,
            dead_lettered=loop.reader.dead_lettered - dead_before,
            seconds=round(time.monotonic() - started, 3),
        )
        return self._applied

    def _late(
        self, timeout: float, targets: dict[int, int], behind: set[int],
        want: set[TopicPartition],
    ) -> ConsentLedgerError:
        if not want <= self.loop.reader.consumer.assignment():
            return ConsentLedgerError(
                f"consumer group {self.group} was not given every partition of"
                f" {self.topic} in time (the broker may be slow, or another process"
                " follows this ledger file)"
            )
        return ConsentLedgerError(
            f"consent ledger did not catch up with {self.topic} within {timeout}s"
            f" ({sum(targets[p] - self._expected[p] for p in behind)} message(s)"
            f" behind on partition(s) {sorted(behind)})"
        )

    def _changes(
        self, events: list[Event]
    ) -> tuple[list[ConsentChange | ConsentErased], list[Record]]:
        """Events and tombstones as ledger changes in log order; dead letters for the rest."""
        placed: list[tuple[int, int, ConsentChange | ConsentErased]] = []
        bad: list[Record] = []
        for event in events:
            m = event.message
            if m.offset < self._expected.get(m.partition, 0):  # the ledger has it already
                self._stale.add(m.partition)
                continue
            if event.record_name == TOMBSTONE:
                if m.key is None:
                    log.warning("tombstone without key ignored", topic=m.topic,
                                partition=m.partition, offset=m.offset)
                    continue
                placed.append((m.partition, m.offset,
                               ConsentErased(m.key.decode("utf-8", "replace"))))
                continue
            if event.record_name != _RECORD:
                error, reason = ValueError(f"{event.record_name} is not a ConsentChange"), (
                    "UNKNOWN_EVENT_TYPE"
                )
            else:
                try:
                    placed.append((m.partition, m.offset, ConsentChange.from_avro(event.record)))
                    continue
                except ValidationError as exc:
                    # the message names fields and rules only (no input values)
                    error = ValueError(problem_text(field_errors(exc)))
                    reason = "VALIDATION_FAILED"
            bad.append(self.dead_letters.build(m, error, stage=self.stage, reason=reason))
            log.warning("dead letter", topic=m.topic, partition=m.partition, offset=m.offset,
                        error=reason)
        placed.sort(key=lambda item: (item[0], item[1]))
        return [change for _, _, change in placed], bad
