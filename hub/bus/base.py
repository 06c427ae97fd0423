"""The bus protocol: one log abstraction, two backends (embedded SQLite, Apache Kafka).

A topic has a fixed number of partitions; a record's partition is chosen from its key
with Kafka's own murmur2 partitioner (so both backends place keys alike). Consumers read
in a *group*: each group has its own committed offset per partition, and commits are
explicit. ``seek`` moves a consumer's position without committing.
``Consumer.commit_with`` produces records and commits offsets in one atomic step (one
SQLite transaction on the embedded bus, one Kafka transaction on Kafka): the base of
the exactly-once processing loop (hub/stream).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import TracebackType
from typing import Literal

__all__ = [
    "Bus",
    "Consumer",
    "Headers",
    "Message",
    "PartitionLag",
    "Record",
    "TopicPartition",
    "TopicSpec",
]

Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class TopicPartition:
    topic: str
    partition: int


@dataclass(frozen=True, slots=True)
class Record:
    """What a producer sends."""

    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: Headers = ()
    #: an explicit partition (a changelog record goes to its state partition); None:
    #: chosen from the key
    partition: int | None = None


@dataclass(frozen=True, slots=True)
class Message:
    """What a consumer receives."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None
    headers: Headers = ()
    timestamp_ms: int = 0

    def header(self, name: str) -> bytes | None:
        for k, v in self.headers:
            if k == name:
                return v
        return None


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int = 3
    cleanup_policy: Literal["delete", "compact"] = "delete"
    retention_ms: int | None = None
    config: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class PartitionLag:
    topic: str
    partition: int
    end_offset: int
    committed: int | None

    @property
    def lag(self) -> int:
        return self.end_offset - (self.committed or 0)


class Consumer(abc.ABC):
    """A member of a consumer group reading one or more topics."""

    @abc.abstractmethod
    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        """Return up to ``max_records`` messages after the current position (maybe none)."""

    @abc.abstractmethod
    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        """Commit ``offsets`` (next offset to read) or, if None, the current positions."""

    def commit_with(
        self, records: Sequence[Record], offsets: Mapping[TopicPartition, int]
    ) -> list[tuple[int, int]]:
        """Produce ``records`` and commit ``offsets`` in one step: either both take effect
        or neither does (exactly-once). Returns (partition, offset) of each record.

        Raises :class:`~hub.errors.CommitFailed` when this member no longer owns a
        partition of ``offsets`` (a rebalance, or a newer instance fenced this one):
        nothing was produced or committed and the batch belongs to the new owner."""
        raise NotImplementedError(f"{type(self).__name__} cannot produce and commit atomically")

    @abc.abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Move the position of an assigned partition; the next poll reads from there."""

    @abc.abstractmethod
    def position(self, tp: TopicPartition) -> int:
        """Offset of the next message this consumer will read from ``tp``."""

    @abc.abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """Partitions currently assigned to this consumer."""

    def take_revoked(self) -> set[TopicPartition]:
        """The partitions revoked from this member since the last call, including those
        assigned to it again meanwhile (a rebalance, or the group lost this member and
        took it back, within one poll): another member may have owned them in between,
        so what was kept about them is stale. Empty where a bus never does this."""
        return set()

    def known_ends(self) -> dict[TopicPartition, int]:
        """Without asking the bus: per assigned partition, an offset below which every
        message was in the log already when this consumer last heard from the bus (on
        Kafka the high watermark of the last fetch response); a partition it knows
        nothing of is left out. The router uses it to skip a consent look-up its last
        one already covered (see ``hub.router``)."""
        return {}

    def prepare_outputs(self, topics: Iterable[str]) -> None:
        """Before the first :meth:`commit_with`: load what writing to ``topics`` needs
        (on Kafka the transactional producer's metadata of each topic, otherwise looked
        up topic by topic inside the first transaction). Nothing where a bus needs
        nothing; an unavailable bus is left to the first batch."""
        return None

    @abc.abstractmethod
    def close(self) -> None:
        """Leave the group without committing."""

    def __enter__(self) -> Consumer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class Bus(abc.ABC):
    """A durable, partitioned, replayable log."""

    #: short name of the backend: "embedded" or "kafka"
    kind: str

    @abc.abstractmethod
    def create_topic(self, spec: TopicSpec) -> None:
        """Create the topic if missing (idempotent)."""

    @abc.abstractmethod
    def list_topics(self) -> set[str]:
        """Names of the existing topics."""

    @abc.abstractmethod
    def partitions_for(self, topic: str) -> int:
        """Number of partitions of ``topic``; raises TopicNotFound."""

    def topic_spec(self, topic: str) -> TopicSpec:
        """What the existing ``topic`` is: partitions, cleanup policy, ``retention.ms`` and
        the other settings made for it (not the broker's defaults); raises TopicNotFound."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe topics")

    def alter_topic(self, topic: str, config: Mapping[str, str]) -> None:
        """Set ``config`` (e.g. ``retention.ms``, ``min.insync.replicas``) on the existing
        ``topic``, leaving its other settings and its partitions as they are."""
        raise NotImplementedError(f"{type(self).__name__} cannot alter topics")

    def broker_count(self) -> int:
        """How many brokers the cluster has (1 for the embedded bus)."""
        return 1

    @abc.abstractmethod
    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        """Append records durably; return (partition, offset) for each, in order."""

    def produce_one(
        self,
        topic: str,
        value: bytes | None,
        key: bytes | None = None,
        headers: Headers = (),
    ) -> tuple[int, int]:
        return self.produce([Record(topic, value, key, headers)])[0]

    @abc.abstractmethod
    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        transactional_id: str | None = None,
    ) -> Consumer:
        """Join ``group`` reading ``topics``; resume at the group's committed offsets.

        ``transactional_id`` (Kafka): the consumer gets a transactional producer of that
        id for :meth:`Consumer.commit_with`; a newer instance with the same id fences an
        older one. Keep it stable per group member slot (see hub/stream/slots.py)."""

    def reader(self, partitions: Iterable[TopicPartition]) -> Consumer:
        """A consumer of ``partitions`` outside any group (assigned by hand, it commits
        nothing; reads committed records only): for restoring state from a changelog."""
        raise NotImplementedError(f"{type(self).__name__} has no group-less reader")

    @abc.abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset to be written, per partition (on Kafka: the last stable offset,
        what a ``read_committed`` consumer can reach)."""

    @abc.abstractmethod
    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        """Committed offset of ``group`` per partition (None where nothing is committed)."""

    def lag(self, group: str, topic: str) -> list[PartitionLag]:
        ends = self.end_offsets(topic)
        done = self.committed(group, topic)
        return [PartitionLag(topic, p, ends[p], done.get(p)) for p in sorted(ends)]

    @abc.abstractmethod
    def compact(self, topic: str) -> None:
        """Run compaction now (embedded) or no-op (Kafka's cleaner runs by itself)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Flush and release resources."""

    def __enter__(self) -> Bus:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
