"""The embedded bus is safe for several processes on one machine."""

from __future__ import annotations

import multiprocessing as mp
from pathlib import Path

import pytest

from hub.bus import Record, TopicSpec
from hub.bus.embedded import EmbeddedBus


def _produce(path: str, writer: int, count: int) -> None:
    bus = EmbeddedBus(path)
    for start in range(0, count, 50):
        bus.produce([Record("shared", f"{writer}:{i}".encode(), f"k{i % 7}".encode())
                     for i in range(start, start + 50)])
    bus.close()


@pytest.mark.slow
def test_concurrent_producers_in_separate_processes(tmp_path: Path) -> None:
    path = str(tmp_path / "hub.db")
    with EmbeddedBus(path) as bus:
        bus.create_topic(TopicSpec("shared", partitions=3))
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_produce, args=(path, w, 1000)) for w in range(4)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    with EmbeddedBus(path) as bus:
        ends = bus.end_offsets("shared")
        assert sum(ends.values()) == 4000
        consumer = bus.consumer("check", ["shared"])
        seen = []
        while batch := consumer.poll(max_records=5000, timeout=0.2):
            seen.extend(batch)
        consumer.close()
    offsets = {(m.partition, m.offset) for m in seen}
    assert len(offsets) == 4000, "every record has its own offset"
    assert {m.value for m in seen} == {f"{w}:{i}".encode() for w in range(4) for i in range(1000)}
    for p, end in ends.items():  # offsets are dense: 0..end-1 in every partition
        assert sorted(o for q, o in offsets if q == p) == list(range(end))
    # order per writer and key is kept
    last: dict[tuple[bytes, str], int] = {}
    for m in sorted(seen, key=lambda m: (m.partition, m.offset)):
        assert m.value is not None and m.key is not None
        writer, i = m.value.decode().split(":")
        previous = last.get((m.key, writer), -1)
        assert int(i) > previous
        last[(m.key, writer)] = int(i)
