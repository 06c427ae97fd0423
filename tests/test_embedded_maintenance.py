"""Embedded-only behaviour: retention and compaction run by themselves as records arrive."""

from __future__ import annotations

import time
from pathlib import Path

from hub.bus import Record, TopicSpec
from hub.bus.embedded import EmbeddedBus


def test_compaction_runs_while_producing(tmp_path: Path) -> None:
    with EmbeddedBus(tmp_path / "hub.db", synchronous="NORMAL") as bus:
        bus.create_topic(TopicSpec("consent.v1", partitions=2, cleanup_policy="compact"))
        for round_ in range(6):
            bus.produce([Record("consent.v1", f"v{round_}".encode(), f"k{i}".encode())
                         for i in range(2_000)])
        # 12,000 records, 2,000 keys: compaction ran at least once on its own
        rows = bus._read("SELECT COUNT(*) FROM messages WHERE topic = 'consent.v1'")[0][0]
        assert rows < 12_000
        bus.compact("consent.v1")
        latest = bus._read("SELECT DISTINCT value FROM messages WHERE topic = 'consent.v1'")
        assert latest == [(b"v5",)]
        assert sum(bus.end_offsets("consent.v1").values()) == 12_000


def test_retention_drops_old_records_but_keeps_offsets(tmp_path: Path) -> None:
    with EmbeddedBus(tmp_path / "hub.db") as bus:
        bus.create_topic(TopicSpec("audit.v1", partitions=1, retention_ms=200))
        bus.produce([Record("audit.v1", b"old", b"k") for _ in range(10)])
        time.sleep(0.3)
        bus.produce([Record("audit.v1", b"new", b"k") for _ in range(5)])
        bus.compact("audit.v1")
        consumer = bus.consumer("reader", ["audit.v1"])
        got = consumer.poll(100, timeout=0.2)
        consumer.close()
        assert [m.value for m in got] == [b"new"] * 5
        assert [m.offset for m in got] == list(range(10, 15))
