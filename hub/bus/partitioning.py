"""Where a keyed record goes: Kafka's default partitioner (murmur2 of the key), on both
buses, so that both place a key on the same partition.

kafka-python's own partitioner hashes in pure Python (about 6 µs for a pseudonym) on
every ``send``, and the router sends an alert, a processing record and a changelog
record under the same key: the hash is kept per key here (:func:`partition_for_key`),
and :class:`KeyHashPartitioner` is the Kafka producers' partitioner with it.
"""

from __future__ import annotations

import functools
import random
from typing import Any

from kafka.partitioner.abc import Partitioner
from kafka.partitioner.default import murmur2

__all__ = ["KeyHashPartitioner", "partition_for_key"]


@functools.lru_cache(maxsize=65_536)
def _key_hash(key: bytes) -> int:
    """murmur2 of a key, once per key whatever the topics' partition counts."""
    return int(murmur2(key) & 0x7FFFFFFF)


def partition_for_key(key: bytes | None, partitions: int) -> int:
    """Kafka's default partitioner (murmur2) over ``partitions`` partitions; a record
    without a key goes to one at random."""
    if key is None:
        return random.randrange(partitions)
    return _key_hash(key) % partitions


class KeyHashPartitioner(Partitioner):  # type: ignore[misc]
    """kafka-python's ``DefaultPartitioner`` with the hash of :func:`partition_for_key`:
    the same partition for every key (Kafka's partition ids are 0 .. n-1, as the Java
    client assumes), a random available one for a record without a key."""

    def partition(self, topic: str, key: Any, serialized_key: bytes | None, value: Any,
                  serialized_value: bytes | None, cluster: Any) -> int:
        partitions = cluster.partitions_for_topic(topic)
        if not partitions:
            raise ValueError(f"Topic {topic} not found in ClusterMetadata")
        if serialized_key is not None:
            return _key_hash(serialized_key) % len(partitions)
        available = list(cluster.available_partitions_for_topic(topic))
        return int(random.choice(available or sorted(partitions)))
