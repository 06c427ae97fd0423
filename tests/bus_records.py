"""Reading a topic back in tests: every message on it, or every record decoded.

A reader outside any group reads each partition from its start up to the end it had
when the call began (the last stable offset on Kafka), as the hub restores its state
(hub/router_state.py), so call these once the writes a test waits for are on the bus.
It stops as soon as it is there, with no idle polls to wait out.

On Kafka a transaction's commit returns before its commit markers are on every
partition, so the last stable offset can stay behind for a moment after a router's
commit. The end is therefore taken once it has caught up with the high watermark (what
was written, committed or not), waiting at most :data:`SETTLE_S`: a transaction still
open after that is not read."""

from __future__ import annotations

import time
from typing import Any

from kafka import KafkaConsumer
from kafka import TopicPartition as KafkaTP

from hub.bus.base import Bus, Message, TopicPartition
from hub.bus.kafka import KafkaBus
from hub.bus.prefixed import PrefixedBus
from hub.connect import Connection

#: the longest a read may take before the test fails (a broker that stopped answering)
READ_TIMEOUT_S = 60.0
#: the longest the end waits for commit markers still on their way (Kafka)
SETTLE_S = 5.0


def _ends(bus: Bus, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    known = bus.list_topics()
    return {TopicPartition(t, p): end for t in topics if t in known
            for p, end in bus.end_offsets(t).items()}


def _settled_ends(bus: Bus, topics: tuple[str, ...]) -> dict[TopicPartition, int]:
    """The end offsets of ``topics`` now; on Kafka once no commit is on its way."""
    ends = _ends(bus, topics)
    inner, physical = bus, (lambda topic: topic)
    if isinstance(bus, PrefixedBus):
        inner, physical = bus.inner, bus.physical
    if not isinstance(inner, KafkaBus) or not ends:
        return ends
    watermarks = KafkaConsumer(**inner.client_options(
        enable_auto_commit=False, isolation_level="read_uncommitted"))
    try:
        deadline = time.monotonic() + SETTLE_S
        while time.monotonic() < deadline:
            written = watermarks.end_offsets(
                [KafkaTP(physical(tp.topic), tp.partition) for tp in ends])
            if all(ends[tp] >= written[KafkaTP(physical(tp.topic), tp.partition)]
                   for tp in ends):
                break
            time.sleep(0.05)
            ends = _ends(bus, topics)
    finally:
        watermarks.close()
    return ends


def read_messages(bus: Bus, *topics: str, timeout: float = READ_TIMEOUT_S) -> list[Message]:
    """Every message on ``topics`` now, by topic, partition and offset; none of a topic
    that does not exist."""
    ends = {tp: end for tp, end in _settled_ends(bus, topics).items() if end > 0}
    if not ends:
        return []
    reader = bus.reader(ends)
    out: list[Message] = []
    deadline = time.monotonic() + timeout
    try:  # a reader starts at each partition's first offset
        # done by position, not by the last offset seen: with read_committed the last
        # offset of a transactionally written partition is a commit marker, never read
        while any(reader.position(tp) < end for tp, end in ends.items()):
            assert time.monotonic() < deadline, f"{topics} were not read to their end in time"
            out += [m for m in reader.poll(5000, 0.5)
                    if m.offset < ends.get(TopicPartition(m.topic, m.partition), 0)]
    finally:
        reader.close()
    return sorted(out, key=lambda m: (m.topic, m.partition, m.offset))


def read_records(conn: Connection, topic: str) -> list[dict[str, Any]]:
    """Every record on ``topic``, decoded by ``conn``'s serde (tombstones left out)."""
    return [conn.serde.decode(m.value).record for m in read_messages(conn.bus, topic)
            if m.value is not None]
