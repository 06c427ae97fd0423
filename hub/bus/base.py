"""The bus protocol: one log abstraction, two backends (embedded SQLite, Apache Kafka).

A topic has a fixed number of partitions; a record's partition is chosen from its key
with Kafka's own murmur2 partitioner (so both backends place keys alike). Consumers read
in a *group*: each group has its own committed offset per partition, and commits are
explicit. ``seek`` moves a consumer's position without committing.
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

    @abc.abstractmethod
    def seek(self, tp: TopicPartition, offset: int) -> None:
        """Move the position of an assigned partition; the next poll reads from there."""

    @abc.abstractmethod
    def position(self, tp: TopicPartition) -> int:
        """Offset of the next message this consumer will read from ``tp``."""

    @abc.abstractmethod
    def assignment(self) -> set[TopicPartition]:
        """Partitions currently assigned to this consumer."""

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
    ) -> Consumer:
        """Join ``group`` reading ``topics``; resume at the group's committed offsets."""

    @abc.abstractmethod
    def end_offsets(self, topic: str) -> dict[int, int]:
        """Next offset to be written, per partition."""

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
