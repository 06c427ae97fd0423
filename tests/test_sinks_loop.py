"""The sinks on the stream loop: a failing flush rewinds its batch and delivers it later."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest
from structlog.testing import capture_logs

from connectors.sinks.runner import SinkRunner
from hub.connect import Connection, connect
from hub.events import TeamAlert
from hub.inbox import InboxStore
from hub.settings import Settings
from hub.topics import DEADLETTER, alerts_topic
from tests.test_sinks import make_alert, produce_alerts, read_all, team_config


class FlakyInbox(InboxStore):
    """An inbox whose ``fail_on``-th write fails (a disk error: nothing is written);
    keeps the alert ids of every write that succeeded, and how many were new."""

    def __init__(self, path: Path, fail_on: int) -> None:
        super().__init__(path)
        self.fail_on = fail_on
        self.calls = 0
        self.failed = 0
        self.written: list[tuple[list[str], int]] = []

    def add_many(self, alerts: Iterable[TeamAlert]) -> int:
        batch = list(alerts)
        self.calls += 1
        if self.calls == self.fail_on:
            self.failed += 1
            raise sqlite3.OperationalError("disk I/O error")
        new = super().add_many(batch)
        self.written.append(([a.alert_id for a in batch], new))
        return new


@pytest.fixture
def embedded(tmp_path: Path) -> Iterator[Connection]:
    with connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}")) as connection:
        yield connection


def test_a_failing_flush_is_rewound_and_delivered_later_without_loss_or_duplicate(
    embedded: Connection, tmp_path: Path
) -> None:
    store = FlakyInbox(tmp_path / "inbox.db", fail_on=2)  # the second batch fails once
    runner = SinkRunner(embedded, team_config("team-a"), store, batch_size=2,
                        retry_pause=0.05)
    runner.ensure_topics()
    alerts = [make_alert(minutes=i) for i in range(5)]
    produce_alerts(embedded, "team-a", alerts)

    stop = threading.Event()
    with capture_logs() as logs:
        thread = threading.Thread(target=runner.run, args=(stop,), kwargs={"idle_exit": 1.5})
        thread.start()
        thread.join(timeout=30)
    assert not thread.is_alive()

    assert store.failed == 1
    # every alert reached the inbox once: no write lost, none written twice
    ids = [i for batch, _ in store.written for i in batch]
    assert sorted(ids) == sorted(a.alert_id for a in alerts)
    assert all(new == len(batch) for batch, new in store.written)
    assert {i.alert.alert_id for i in store.list_alerts("team-a")} == {a.alert_id for a in alerts}
    assert store.count("team-a") == 5
    assert runner.handled("team-a") == {"inbox": 5}
    # the failed batch was retried by the loop's rule, not dead-lettered
    waits = [e for e in logs if e["event"] == "a part is unavailable; the batch is retried"]
    assert [e["error"] for e in waits] == ["SinkUnavailable"]
    assert read_all(embedded, DEADLETTER) == []
    # everything committed: the group has nothing left to read
    committed = embedded.bus.committed("sinks-team-a-inbox", alerts_topic("team-a"))
    assert sum(o or 0 for o in committed.values()) == 5
    runner.close()
    store.close()
