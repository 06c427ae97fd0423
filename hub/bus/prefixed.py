"""One environment's share of a bus that several environments use (``HUB_TOPIC_PREFIX``).

:class:`PrefixedBus` wraps a bus and puts the prefix in front of every name it sends to
the backend: topic names, consumer group ids and transactional ids (so two environments
on one Kafka cluster never share a group, fence each other's transactions or read each
other's topics). Everything above the bus keeps the hub's own names (``audit.v1``,
``router``): a message read comes back with its prefix removed, so dead letters, metrics
labels and the dashboards show the same names in every environment; topics without the
prefix are not listed. The prefix is applied here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Literal

from hub.bus.base import Bus, Consumer, Message, Record, TopicPartition, TopicSpec

__all__ = ["PrefixedBus", "PrefixedConsumer"]


class _Names:
    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    def out(self, name: str) -> str:
        return self.prefix + name

    def back(self, name: str) -> str:
        return name.removeprefix(self.prefix)

    def tp_out(self, tp: TopicPartition) -> TopicPartition:
        return TopicPartition(self.out(tp.topic), tp.partition)

    def tp_back(self, tp: TopicPartition) -> TopicPartition:
        return TopicPartition(self.back(tp.topic), tp.partition)

    def offsets_out(self, offsets: Mapping[TopicPartition, int]) -> dict[TopicPartition, int]:
        return {self.tp_out(tp): offset for tp, offset in offsets.items()}

    def record_out(self, record: Record) -> Record:
        return replace(record, topic=self.out(record.topic))

    def message_back(self, message: Message) -> Message:
        return replace(message, topic=self.back(message.topic))


class PrefixedConsumer(Consumer):
    """A consumer of the inner bus that speaks the hub's own topic names."""

    def __init__(self, inner: Consumer, names: _Names) -> None:
        self.inner = inner
        self._names = names

    def poll(self, max_records: int = 500, timeout: float = 1.0) -> list[Message]:
        return [self._names.message_back(m) for m in self.inner.poll(max_records, timeout)]

    def commit(self, offsets: Mapping[TopicPartition, int] | None = None) -> None:
        self.inner.commit(None if offsets is None else self._names.offsets_out(offsets))

    def commit_with(
        self, records: Sequence[Record], offsets: Mapping[TopicPartition, int]
    ) -> list[tuple[int, int]]:
        return self.inner.commit_with([self._names.record_out(r) for r in records],
                                      self._names.offsets_out(offsets))

    def seek(self, tp: TopicPartition, offset: int) -> None:
        self.inner.seek(self._names.tp_out(tp), offset)

    def position(self, tp: TopicPartition) -> int:
        return self.inner.position(self._names.tp_out(tp))

    def assignment(self) -> set[TopicPartition]:
        return {self._names.tp_back(tp) for tp in self.inner.assignment()}

    def close(self) -> None:
        self.inner.close()


class PrefixedBus(Bus):
    """``inner`` with ``prefix`` in front of every topic, group and transactional id."""

    def __init__(self, inner: Bus, prefix: str) -> None:
        self.inner = inner
        self.prefix = prefix
        self.kind = inner.kind
        self._names = _Names(prefix)

    def physical(self, topic: str) -> str:
        """The name ``topic`` has on the backend."""
        return self._names.out(topic)

    def create_topic(self, spec: TopicSpec) -> None:
        self.inner.create_topic(replace(spec, name=self.physical(spec.name)))

    def list_topics(self) -> set[str]:
        return {self._names.back(t) for t in self.inner.list_topics() if t.startswith(self.prefix)}

    def partitions_for(self, topic: str) -> int:
        return self.inner.partitions_for(self.physical(topic))

    def topic_spec(self, topic: str) -> TopicSpec:
        return replace(self.inner.topic_spec(self.physical(topic)), name=topic)

    def alter_topic(self, topic: str, config: Mapping[str, str]) -> None:
        self.inner.alter_topic(self.physical(topic), config)

    def broker_count(self) -> int:
        return self.inner.broker_count()

    def produce(self, records: Iterable[Record]) -> list[tuple[int, int]]:
        return self.inner.produce([self._names.record_out(r) for r in records])

    def consumer(
        self,
        group: str,
        topics: Sequence[str],
        *,
        auto_offset_reset: Literal["earliest", "latest"] = "earliest",
        transactional_id: str | None = None,
    ) -> PrefixedConsumer:
        tid = None if transactional_id is None else self._names.out(transactional_id)
        inner = self.inner.consumer(self._names.out(group), [self.physical(t) for t in topics],
                                    auto_offset_reset=auto_offset_reset,
                                    transactional_id=tid)
        return PrefixedConsumer(inner, self._names)

    def reader(self, partitions: Iterable[TopicPartition]) -> Consumer:
        return PrefixedConsumer(self.inner.reader([self._names.tp_out(tp) for tp in partitions]),
                                self._names)

    def end_offsets(self, topic: str) -> dict[int, int]:
        return self.inner.end_offsets(self.physical(topic))

    def committed(self, group: str, topic: str) -> dict[int, int | None]:
        return self.inner.committed(self._names.out(group), self.physical(topic))

    def compact(self, topic: str) -> None:
        self.inner.compact(self.physical(topic))

    def close(self) -> None:
        self.inner.close()
