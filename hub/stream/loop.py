"""The one consume → process → produce → commit loop.

A :class:`StreamLoop` owns a group consumer and one :class:`Processor`. Per batch (the
checkpoint, in this order):

1. poll; what does not decode becomes a dead letter (one rule, by
   :class:`~hub.consume.AvroConsumer`), kept to be produced with the batch;
2. tell the processor about partitions assigned (it restores their state before it
   sees their records) and revoked (it drops their state);
3. ``processor.process(events)`` → an :class:`Outcome`: records to produce (outputs and
   changelog records) and what to do once they are committed or abandoned;
4. produce and commit: ``exactly-once`` — the records, the dead letters and the batch's
   offsets in one step (:meth:`~hub.bus.base.Consumer.commit_with`: one Kafka or SQLite
   transaction); ``at-least-once`` — produce (acknowledged), then commit;
5. ``outcome.flush(placed)``: the processor writes its local state, with the changelog
   offsets, after the commit (a crash before it is repaired by the next restore).

With ``own_offsets=True`` the processor keeps its offsets itself (the consent follower:
in its ledger file, with the changes): nothing is committed to the group; ``assigned``
returns where each new partition starts, the loop seeks there (what that poll read of
the partitions is read again after the seek), and step 4 is: produce the records, then
``outcome.store(next offsets)``.

Failures are handled here, once: a refused commit (rebalance, fenced) abandons the
batch and rewinds the partitions still owned (their records come again); a bus that is
unavailable is waited for (growing pauses, never a crash); a stop finishes the batch.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, Protocol

import structlog

from hub import metrics
from hub.bus.base import Bus, Record, TopicPartition
from hub.consume import AvroConsumer, Event
from hub.deadletters import DeadLetterWriter
from hub.errors import BusError, CommitFailed, Unavailable
from hub.serde import AvroSerde
from hub.topics import CHANGELOG_PREFIX

__all__ = ["Guarantee", "Outcome", "Processor", "StreamLoop"]

log = structlog.get_logger(__name__)

Guarantee = Literal["exactly-once", "at-least-once"]
_MAX_PAUSE_S = 5.0
#: how long a member may wait for its first partitions before idle time counts anyway
_JOIN_GRACE_S = 30.0


def _nothing(placed: Sequence[tuple[int, int]]) -> None:
    return None


def _nothing_else() -> None:
    return None


@dataclass
class Outcome:
    """What one batch produces: ``records`` (outputs and changelog records, in order);
    ``flush`` runs after the commit with the (partition, offset) of each record;
    ``abandon`` after a failed commit (the batch comes again)."""

    records: list[Record] = field(default_factory=list)
    flush: Callable[[Sequence[tuple[int, int]]], None] = _nothing
    abandon: Callable[[], None] = _nothing_else
    #: ``own_offsets``: keeps the batch's next offsets (instead of a group commit)
    store: Callable[[Mapping[TopicPartition, int]], None] | None = None


class Processor(Protocol):
    """A stage on the loop (the router; see docs/stream.md for writing one)."""

    def process(self, events: list[Event]) -> Outcome:
        """Outputs and state changes of one batch (never produces by itself)."""

    def assigned(self, partitions: set[TopicPartition]) -> Mapping[TopicPartition, int] | None:
        """Partitions given to this member: restore their state before processing (with
        ``own_offsets``: return the offset each one starts at)."""

    def revoked(self, partitions: set[TopicPartition]) -> None:
        """Partitions taken away: drop their state."""


def _outputs_then_changelog(bus: Bus, records: list[Record]) -> list[tuple[int, int]]:
    """At-least-once: the outputs are acknowledged before the state changes that say
    they were made (a crash in between replays them; the other way round it would lose
    them), placements in the order of ``records``."""
    later = [i for i, r in enumerate(records) if r.topic.startswith(CHANGELOG_PREFIX)]
    first = [i for i in range(len(records)) if i not in set(later)]
    placed: list[tuple[int, int]] = [(0, 0)] * len(records)
    for group in (first, later):
        if group:
            for i, where in zip(group, bus.produce([records[i] for i in group]), strict=True):
                placed[i] = where
    return placed


class StreamLoop:
    """Runs one processor over ``topics`` in ``group`` (see the module docstring)."""

    def __init__(
        self,
        bus: Bus,
        serde: AvroSerde,
        group: str,
        topics: Sequence[str],
        processor: Processor,
        *,
        name: str,
        guarantee: Guarantee = "exactly-once",
        transactional_id: str | None = None,
        batch_size: int = 500,
        dead_letters: DeadLetterWriter | None = None,
        decode_stage: str | None = None,
        report_bad: bool = True,
        retry_pause: float = 0.5,
        own_offsets: bool = False,
        tombstones: bool = False,
    ) -> None:
        """``decode_stage``: the dead-letter stage of bytes that do not decode (default
        ``<name>-decode``); ``report_bad=False`` skips those dead letters (a second
        group on the same topic, whose first group writes them); ``retry_pause``: the
        first wait after an unavailable part (doubling up to 5 s); ``own_offsets``: the
        processor keeps its offsets (see the module docstring; at-least-once output);
        ``tombstones``: messages without a value reach the processor (``TOMBSTONE``)."""
        if own_offsets and guarantee == "exactly-once":
            raise ValueError("own_offsets: the processor keeps the offsets; use at-least-once")
        self.bus = bus
        self.serde = serde
        self.group = group
        self.topics = list(topics)
        self.processor = processor
        self.name = name
        self.guarantee = guarantee
        self.transactional_id = transactional_id
        self.batch_size = batch_size
        self.dead_letters = dead_letters or DeadLetterWriter(bus, serde)
        self.decode_stage = decode_stage or f"{name}-decode"
        self.report_bad = report_bad
        self.retry_pause = retry_pause
        self.own_offsets = own_offsets
        self.tombstones = tombstones
        self._reader: AvroConsumer | None = None
        self._owned: set[TopicPartition] = set()
        self._failures = 0

    @property
    def owned(self) -> frozenset[TopicPartition]:
        """The partitions this member owns now (as of its last poll; none once closed).
        A processor's ``revoked`` reads this, never the consumer, which a closed loop
        would open again."""
        return frozenset(self._owned)

    @property
    def reader(self) -> AvroConsumer:
        if self._reader is None:
            tid = self.transactional_id if self.guarantee == "exactly-once" else None
            consumer = self.bus.consumer(self.group, self.topics, transactional_id=tid)
            self._reader = AvroConsumer(consumer, self.serde, self.dead_letters,
                                        stage=self.decode_stage, collect=True,
                                        tombstones=self.tombstones)
        return self._reader

    def _rebalanced(self) -> set[TopicPartition]:
        """Tell the processor what moved; return the partitions sought to its offsets."""
        consumer = self.reader.consumer
        now = consumer.assignment()
        # taken away, including those given back within the same poll (another member
        # may have owned them in between): their state is dropped and restored again
        gone = (self._owned - now) | (consumer.take_revoked() & self._owned)
        self._owned -= gone
        if gone:
            self.processor.revoked(gone)
            log.info("partitions revoked", component=self.name, count=len(gone))
        new = now - self._owned
        self._owned = now
        if not new:
            return set()
        starts = self.processor.assigned(new)
        log.info("partitions assigned", component=self.name, count=len(new))
        if not self.own_offsets or not starts:
            return set()
        for tp, offset in starts.items():
            consumer.seek(tp, offset)
        return set(starts)

    def step(self, timeout: float = 1.0) -> int:
        """One checkpoint; returns the messages read (0: nothing came)."""
        reader = self.reader
        events = reader.poll(self.batch_size, timeout)
        sought = self._rebalanced()
        offsets = dict(reader.next_offsets)
        if sought:  # read before the seek: this poll is read again from the new positions
            self._rewind({tp: o for tp, o in reader.first_offsets.items() if tp not in sought})
            reader.pending = []
            return 0
        if not offsets:
            return 0
        metrics.consumed(self.name, events)
        dead = reader.pending if self.report_bad else []
        reader.pending = []
        try:
            outcome = self.processor.process(events)
        except BaseException:  # e.g. the registry cannot confirm an id, a sink is down
            self._rewind(reader.first_offsets)
            raise
        records = [*dead, *outcome.records]
        try:
            if self.own_offsets:
                placed = self.bus.produce(records) if records else []
                if outcome.store is not None:
                    outcome.store(offsets)
            elif self.guarantee == "exactly-once":
                placed = reader.consumer.commit_with(records, offsets)
            else:
                placed = _outputs_then_changelog(self.bus, records)
                reader.consumer.commit(offsets)
        except BaseException as exc:
            outcome.abandon()
            self._rewind(reader.first_offsets)
            if isinstance(exc, CommitFailed):
                log.warning("commit refused (rebalance or fenced); the batch is read again",
                            component=self.name, group=self.group,
                            error=str(exc)[:300])
                return 0
            raise
        metrics.produced(self.name, records)
        outcome.flush(placed[len(dead):])
        return sum(offsets[tp] - reader.first_offsets[tp] for tp in offsets)

    def _rewind(self, first: dict[TopicPartition, int]) -> None:
        assert self._reader is not None
        owned = self._reader.consumer.assignment()
        for tp, offset in first.items():
            if tp in owned:
                try:
                    self._reader.consumer.seek(tp, offset)
                except BusError as exc:  # revoked meanwhile: its new owner reads it
                    log.warning("cannot rewind", topic=tp.topic, partition=tp.partition,
                                error=type(exc).__name__)

    def run(self, stop: threading.Event, idle_exit: float | None = None,
            on_idle: Callable[[], None] | None = None) -> None:
        """Checkpoints until ``stop`` (or ``idle_exit`` idle seconds); a part that is
        unavailable (bus, registry, a sink: ``BusError``/``Unavailable``) is waited for,
        never a reason to stop; any other error of a batch rewinds it and is raised."""
        idle_since = started = time.monotonic()
        while not stop.is_set():
            try:
                read = self.step(timeout=0.5)
                self._failures = 0
            except (BusError, Unavailable) as exc:  # bus, registry or sink away: transient
                self._failures += 1
                pause = min(_MAX_PAUSE_S, self.retry_pause * 2 ** min(self._failures - 1, 5))
                log.warning("a part is unavailable; the batch is retried", component=self.name,
                            group=self.group, error=type(exc).__name__,
                            detail=str(exc)[:300], retry_in=pause)
                stop.wait(pause)
                continue
            if read or (not self._owned and time.monotonic() - started < _JOIN_GRACE_S):
                idle_since = time.monotonic()  # idle only counts once partitions are owned
            else:
                if on_idle is not None:
                    on_idle()
                if idle_exit is not None and time.monotonic() - idle_since > idle_exit:
                    break

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._owned:
            gone, self._owned = self._owned, set()
            self.processor.revoked(gone)
