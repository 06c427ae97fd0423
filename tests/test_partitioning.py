"""Both buses place a key where Kafka's default partitioner does (murmur2), and the
Kafka bus's partitioner, which keeps each key's hash, agrees with kafka-python's own."""

from __future__ import annotations

import random
from collections.abc import Callable

from kafka.partitioner.default import DefaultPartitioner

from hub.bus.base import Bus, Record, TopicSpec
from hub.bus.partitioning import KeyHashPartitioner, partition_for_key


class _Cluster:
    """The three questions a kafka-python partitioner asks of the producer's metadata,
    for one topic (the real metadata in the Kafka test below)."""

    def __init__(self, topic: str, partitions: int) -> None:
        self._topic, self._partitions = topic, set(range(partitions))

    def topics(self) -> set[str]:
        return {self._topic}

    def partitions_for_topic(self, topic: str) -> set[int] | None:
        return set(self._partitions) if topic == self._topic else None

    def available_partitions_for_topic(self, topic: str) -> set[int] | None:
        return self.partitions_for_topic(topic)


def _cluster(topic: str, partitions: int) -> _Cluster:
    return _Cluster(topic, partitions)


def test_the_kafka_partitioner_agrees_with_kafka_pythons_default() -> None:
    rnd = random.Random(7)
    ours, theirs = KeyHashPartitioner(), DefaultPartitioner()
    for partitions in (1, 2, 3, 7, 12):
        cluster = _cluster("t", partitions)
        for _ in range(500):
            key = f"ps1-{rnd.getrandbits(160):040x}".encode()
            expected = theirs.partition("t", key, key, b"v", b"v", cluster)
            assert ours.partition("t", key, key, b"v", b"v", cluster) == expected
            assert partition_for_key(key, partitions) == expected
            # asked again (the hash is kept): the same answer
            assert ours.partition("t", key, key, b"v", b"v", cluster) == expected


def test_a_record_without_a_key_goes_to_some_partition() -> None:
    cluster = _cluster("t", 3)
    seen = {KeyHashPartitioner().partition("t", None, None, b"v", b"v", cluster)
            for _ in range(200)}
    assert seen <= {0, 1, 2} and len(seen) > 1


def test_each_bus_places_a_key_where_the_partitioner_says(
        bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("partitioning")
    bus.create_topic(TopicSpec(topic, partitions=3))
    keys = [f"ps1-{n:040x}".encode() for n in range(60)]
    placed = bus.produce([Record(topic, b"v", key) for key in keys])
    assert [p for p, _ in placed] == [partition_for_key(key, 3) for key in keys]
    assert len({p for p, _ in placed}) == 3
