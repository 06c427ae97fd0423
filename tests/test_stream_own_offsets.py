"""The stream loop's own-offsets mode, as the consent follower uses it: nothing is
committed to the group, and an assigned partition starts where the ledger says."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from hub.bus.base import TopicPartition, TopicSpec
from hub.connect import Connection, connect
from hub.consent import ConsentLedger, LedgerFollower, ledger_path, publish_consent
from hub.consume import Event
from hub.settings import Settings
from hub.stream import Outcome, StreamLoop
from hub.topics import DEADLETTER, ensure_topics
from tests.bus_records import read_messages
from tests.test_consent import DAY, change

TOPIC = "consent-own-offsets.v1"


def dead_letters_from(conn: Connection, topic: str) -> int:
    return sum((m.header("dl_origin") or b"").decode().startswith(topic + "/")
               for m in read_messages(conn.bus, DEADLETTER))


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        yield connection


def test_the_follower_starts_at_the_ledgers_offsets_and_commits_nothing(
    embedded: Connection, tmp_path: Path
) -> None:
    ensure_topics(embedded.bus)
    embedded.bus.create_topic(TopicSpec(TOPIC, 1, cleanup_policy="compact"))
    now = datetime.now(UTC)
    for i in range(3):  # offsets 0-2: bytes that would be dead letters if read
        embedded.bus.produce_one(TOPIC, b"not wire format", key=f"junk-{i}".encode())
    for i in range(3, 5):
        publish_consent(embedded.bus, embedded.serde,
                        change(f"c-{i}", valid_from=now - DAY), topic=TOPIC)
    with ConsentLedger(ledger_path(tmp_path)) as ledger:
        # the ledger says it has read offsets 0-2
        ledger.apply_batch([], {(TOPIC, 0): 3})
        with LedgerFollower(embedded.bus, embedded.serde, ledger, topic=TOPIC) as follower:
            assert follower.catch_up(timeout=20) == 2
            assert follower.loop.own_offsets
            assert ledger.offsets() == {(TOPIC, 0): 5}
        assert ledger.get("c-3") is not None and ledger.get("c-4") is not None
        assert dead_letters_from(embedded, TOPIC) == 0  # offsets 0-2 were never read
        # the group has no committed offsets: the ledger file is the only progress
        assert embedded.bus.committed(follower.group, TOPIC) == {0: None}
        publish_consent(embedded.bus, embedded.serde,
                        change("c-5", valid_from=now - DAY), topic=TOPIC)
        with LedgerFollower(embedded.bus, embedded.serde, ledger, topic=TOPIC) as again:
            assert again.catch_up(timeout=20) == 1  # resumed at 5, not at the group's 0
        assert ledger.get("c-5") is not None
        assert dead_letters_from(embedded, TOPIC) == 0


class Keeper:
    """A processor that keeps its offsets in a dict and starts at ``start``."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.seen: list[int] = []
        self.stored: dict[TopicPartition, int] = {}

    def assigned(self, partitions: set[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: self.start for tp in partitions}

    def revoked(self, partitions: set[TopicPartition]) -> None:
        return None

    def process(self, events: list[Event]) -> Outcome:
        self.seen += [e.message.offset for e in events]
        return Outcome(store=self.stored.update)


def test_the_loop_seeks_an_assigned_partition_to_the_processors_offset(
    embedded: Connection,
) -> None:
    ensure_topics(embedded.bus)
    embedded.bus.create_topic(TopicSpec(TOPIC, 1, cleanup_policy="compact"))
    for i in range(3):  # read before the seek, these would be dead letters
        embedded.bus.produce_one(TOPIC, b"not wire format", key=f"junk-{i}".encode())
    for i in range(3, 5):
        publish_consent(embedded.bus, embedded.serde, change(f"c-{i}"), topic=TOPIC)
    keeper = Keeper(start=3)
    loop = StreamLoop(embedded.bus, embedded.serde, "own-offsets", [TOPIC], keeper,
                      name="own", guarantee="at-least-once", own_offsets=True)
    deadline = time.monotonic() + 20
    while len(keeper.seen) < 2 and time.monotonic() < deadline:
        loop.step(timeout=0.2)
    loop.close()
    assert keeper.seen == [3, 4]
    assert keeper.stored == {TopicPartition(TOPIC, 0): 5}
    assert embedded.bus.committed("own-offsets", TOPIC) == {0: None}
    assert dead_letters_from(embedded, TOPIC) == 0
    with pytest.raises(ValueError, match="at-least-once"):
        StreamLoop(embedded.bus, embedded.serde, "g", [TOPIC], keeper, name="own",
                   own_offsets=True)
