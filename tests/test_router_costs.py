"""Costs on the router's hot path that once grew with the data (bench/router_throughput.py)."""

from __future__ import annotations

import time
from pathlib import Path

from hub.bus import Record, TopicSpec
from hub.bus.embedded import EmbeddedBus


def test_compacting_a_changelog_of_many_people_is_not_quadratic(tmp_path: Path) -> None:
    # a router changelog: one record per person per batch, most people seen once; the
    # newest offset per key used to be looked up by walking the whole partition per row
    with EmbeddedBus(tmp_path / "hub.db", synchronous="OFF") as bus:
        bus.create_topic(TopicSpec("changelog.router.v1", partitions=1, cleanup_policy="compact"))
        keys = [f"ps1-{i:040x}".encode() for i in range(12_000)]
        bus.produce([Record("changelog.router.v1", b"x" * 64, k) for k in keys[:4_000]])
        bus.produce([Record("changelog.router.v1", b"y" * 64, k) for k in keys[:4_000:2]])
        bus.produce([Record("changelog.router.v1", b"z" * 64, k) for k in keys[4_000:]])
        started = time.monotonic()
        bus.compact("changelog.router.v1")
        elapsed = time.monotonic() - started
        rows = bus._read(  # type: ignore[attr-defined]
            "SELECT COUNT(*), COUNT(DISTINCT key) FROM messages")[0]
        assert rows == (12_000, 12_000)
        assert elapsed < 2.0, f"compacting 14,000 records took {elapsed:.1f} s"
