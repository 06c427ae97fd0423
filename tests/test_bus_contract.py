"""The bus contract: one suite, run unchanged against the embedded and the Kafka backend."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict
from collections.abc import Callable

import pytest

from hub.bus import Bus, Consumer, Message, Record, TopicPartition, TopicSpec
from hub.errors import CommitFailed, TopicNotFound


def drain(consumer: Consumer, expected: int, timeout: float = 30.0) -> list[Message]:
    """Poll until ``expected`` messages arrived (or fail after ``timeout`` seconds)."""
    got: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(got) < expected and time.monotonic() < deadline:
        got.extend(consumer.poll(max_records=1000, timeout=0.5))
    assert len(got) >= expected, f"got {len(got)} of {expected} messages in {timeout}s"
    return got


def quiet(consumer: Consumer, seconds: float = 1.5) -> list[Message]:
    """Whatever arrives within ``seconds`` (to prove that nothing more comes)."""
    got: list[Message] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        got.extend(consumer.poll(max_records=1000, timeout=0.3))
    return got


def test_topic_admin(bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("admin")
    bus.create_topic(TopicSpec(topic, partitions=4, retention_ms=3_600_000))
    bus.create_topic(TopicSpec(topic, partitions=4))  # idempotent
    assert topic in bus.list_topics()
    assert bus.partitions_for(topic) == 4
    assert bus.end_offsets(topic) == {0: 0, 1: 0, 2: 0, 3: 0}
    with pytest.raises(TopicNotFound):
        bus.partitions_for(unique("missing"))


def test_order_is_kept_per_key(bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("order")
    bus.create_topic(TopicSpec(topic, partitions=3))
    keys = [f"person-{i}".encode() for i in range(7)]
    records = [Record(topic, f"{k.decode()}:{n}".encode(), k) for n in range(30) for k in keys]
    placed = bus.produce(records)
    assert len(placed) == len(records)
    with bus.consumer(unique("g"), [topic]) as consumer:
        got = drain(consumer, len(records))
    per_key: dict[bytes, list[int]] = defaultdict(list)
    partitions: dict[bytes, set[int]] = defaultdict(set)
    for m in got:
        assert m.key is not None and m.value is not None
        per_key[m.key].append(int(m.value.split(b":")[1]))
        partitions[m.key].add(m.partition)
    assert all(seq == list(range(30)) for seq in per_key.values())
    assert all(len(p) == 1 for p in partitions.values()), "one key, one partition"


def test_commit_and_restart_resume_at_committed_offset(
    bus_factory: Callable[[], Bus], unique: Callable[[str], str]
) -> None:
    bus = bus_factory()
    topic, group = unique("resume"), unique("g")
    bus.create_topic(TopicSpec(topic, partitions=1))
    bus.produce([Record(topic, str(i).encode(), b"k") for i in range(10)])
    consumer = bus.consumer(group, [topic])
    first = drain(consumer, 10)
    consumer.commit({TopicPartition(topic, 0): first[3].offset + 1})  # processed 0..3
    consumer.close()

    restarted = bus_factory().consumer(group, [topic])
    rest = drain(restarted, 6)
    assert [m.value for m in rest] == [str(i).encode() for i in range(4, 10)]
    restarted.close()


def test_crash_before_commit_redelivers(
    bus_factory: Callable[[], Bus], unique: Callable[[str], str]
) -> None:
    bus = bus_factory()
    topic, group = unique("crash"), unique("g")
    bus.create_topic(TopicSpec(topic, partitions=2))
    bus.produce([Record(topic, str(i).encode(), str(i % 5).encode()) for i in range(20)])
    consumer = bus.consumer(group, [topic])
    seen = drain(consumer, 20)
    consumer.close()  # the process 'dies' before committing anything

    again = bus_factory().consumer(group, [topic])
    redelivered = drain(again, 20)
    assert sorted(m.value for m in redelivered) == sorted(m.value for m in seen)
    again.commit()
    assert quiet(again, 1.0) == []
    again.close()


def test_headers_round_trip(bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("headers")
    bus.create_topic(TopicSpec(topic, partitions=1))
    headers = (("ce_id", b"evt-1"), ("ce_type", b"nl.signalhub.debt-signal"), ("bin", b"\x00\xff"))
    bus.produce([Record(topic, b"v", b"k", headers)])
    with bus.consumer(unique("g"), [topic]) as consumer:
        (m,) = drain(consumer, 1)
    assert tuple(m.headers) == headers
    assert m.header("ce_type") == b"nl.signalhub.debt-signal"
    assert m.header("absent") is None
    assert m.timestamp_ms > 0


def test_lag_per_group_and_partition(bus: Bus, unique: Callable[[str], str]) -> None:
    topic, group = unique("lag"), unique("g")
    bus.create_topic(TopicSpec(topic, partitions=2))
    bus.produce([Record(topic, b"x", str(i).encode()) for i in range(40)])
    assert sum(p.lag for p in bus.lag(group, topic)) == 40
    with bus.consumer(group, [topic]) as consumer:
        got = drain(consumer, 40)
        by_partition: dict[int, list[int]] = defaultdict(list)
        for m in got:
            by_partition[m.partition].append(m.offset)
        # commit half of each partition
        offsets = {TopicPartition(topic, p): len(o) // 2 for p, o in by_partition.items()}
        consumer.commit(offsets)
    lags = {p.partition: p for p in bus.lag(group, topic)}
    for p, o in by_partition.items():
        assert lags[p].end_offset == len(o)
        assert lags[p].committed == len(o) // 2
        assert lags[p].lag == len(o) - len(o) // 2


def test_seek_rereads(bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("seek")
    bus.create_topic(TopicSpec(topic, partitions=1))
    bus.produce([Record(topic, str(i).encode(), b"k") for i in range(5)])
    with bus.consumer(unique("g"), [topic]) as consumer:
        drain(consumer, 5)
        tp = TopicPartition(topic, 0)
        consumer.seek(tp, 2)
        again = drain(consumer, 3)
        assert [m.offset for m in again] == [2, 3, 4]
        assert consumer.position(tp) == 5


@pytest.mark.slow
def test_compaction_keeps_latest_value_per_key(bus: Bus, unique: Callable[[str], str]) -> None:
    topic = unique("compact")
    bus.create_topic(
        TopicSpec(
            topic,
            partitions=1,
            cleanup_policy="compact",
            config={
                "segment.ms": "200",
                "min.cleanable.dirty.ratio": "0.001",
                "min.compaction.lag.ms": "0",
                "delete.retention.ms": "3600000",
            },
        )
    )
    keys = [f"consent-{i}".encode() for i in range(10)]
    bus.produce([Record(topic, b"old", k) for k in keys])
    bus.produce([Record(topic, b"new", k) for k in keys])
    time.sleep(0.5)
    bus.produce([Record(topic, b"roll", b"roll-the-segment")])  # closes the active segment

    deadline = time.monotonic() + 90
    while True:
        bus.compact(topic)
        with bus.consumer(unique("reader"), [topic]) as consumer:
            got = [m for m in drain(consumer, 11) if m.key in keys]
            got += [m for m in quiet(consumer, 0.5) if m.key in keys]
        values: dict[bytes, list[bytes]] = defaultdict(list)
        for m in got:
            assert m.key is not None and m.value is not None
            values[m.key].append(m.value)
        if all(values[k] == [b"new"] for k in keys):
            break
        assert time.monotonic() < deadline, f"not compacted after 90s: {dict(values)}"
        time.sleep(2)
    assert sum(bus.end_offsets(topic).values()) == 21, "offsets survive compaction"


@pytest.mark.slow
def test_group_members_share_the_partitions(
    bus_factory: Callable[[], Bus], unique: Callable[[str], str]
) -> None:
    bus = bus_factory()
    topic, group = unique("share"), unique("g")
    bus.create_topic(TopicSpec(topic, partitions=4))
    first = bus_factory().consumer(group, [topic])
    second = bus_factory().consumer(group, [topic])
    bus.produce([Record(topic, str(i).encode(), str(i).encode()) for i in range(200)])
    got: dict[str, list[Message]] = {"first": [], "second": []}
    deadline = time.monotonic() + 60

    def settled() -> bool:
        a, b = first.assignment(), second.assignment()
        return bool(a and b and not a & b and len(a | b) == 4)

    while time.monotonic() < deadline:
        for name, consumer in (("first", first), ("second", second)):
            batch = consumer.poll(max_records=50, timeout=0.2)
            got[name].extend(batch)
            with contextlib.suppress(CommitFailed):  # a rebalance may refuse a commit
                consumer.commit()
        if sum(map(len, got.values())) >= 200 and settled():
            break
    a, b = first.assignment(), second.assignment()
    first.close()
    second.close()
    assert a and b and not a & b, f"disjoint assignments expected: {a} / {b}"
    assert len(a | b) == 4
    values = [m.value for batch in got.values() for m in batch]
    assert set(values) == {str(i).encode() for i in range(200)}


def test_revoked_partitions_are_reported_even_when_given_back(
    bus_factory: Callable[[], Bus], unique: Callable[[str], str]
) -> None:
    """A member learns which partitions a rebalance took from it, also those it got back
    within the same poll (on Kafka's eager protocol: every partition of every member),
    since another member may have owned them meanwhile (a stream processor then restores
    their state)."""
    bus = bus_factory()
    topic, group = unique("revoke"), unique("g")
    bus.create_topic(TopicSpec(topic, partitions=4))
    first = bus_factory().consumer(group, [topic])
    deadline = time.monotonic() + 60
    while len(first.assignment()) < 4:
        assert time.monotonic() < deadline, "the only member never got every partition"
        first.poll(timeout=0.2)
    first.take_revoked()
    before = first.assignment()
    second = bus_factory().consumer(group, [topic])
    deadline = time.monotonic() + 90  # a rebalance of two members polled in turn
    try:
        while not (first.assignment() and second.assignment()
                   and not first.assignment() & second.assignment()):
            assert time.monotonic() < deadline, "the members never shared the partitions"
            first.poll(timeout=0.2)
            second.poll(timeout=0.2)
        after = first.assignment()
        revoked = first.take_revoked()
        assert before - after and before - after <= revoked
        if bus.kind == "kafka":  # eager rebalancing: the kept ones were revoked as well
            assert after <= revoked
    finally:
        second.close()
        first.close()
