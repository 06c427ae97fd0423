"""The stream loop: atomic produce + commit on both buses, partitioned router state
restored from its changelog (cold and warm), state written only after the commit."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from hub.bus import Bus, Record, TopicPartition, TopicSpec
from hub.config import load_config
from hub.connect import Connection
from hub.errors import CommitFailed
from hub.events import DebtSignal
from hub.intake import SignalPublisher
from hub.router import Router
from hub.samples import sample_debt
from hub.topics import alerts_topic
from tests.router_proc import read_topics

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
PERSON = "ps1-" + "ab" * 20


def _assigned(consumer_poll: Callable[[], object], assignment: Callable[[], set[TopicPartition]],
              want: set[TopicPartition], timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not want <= assignment():
        assert time.monotonic() < deadline, "partitions not assigned in time"
        consumer_poll()


def test_commit_with_produces_and_commits_together(
    bus_factory: Callable[[], Bus], unique: Callable[[str], str]
) -> None:
    bus = bus_factory()
    source, sink, group = unique("src"), unique("out"), unique("g")
    bus.create_topic(TopicSpec(source, 1))
    bus.create_topic(TopicSpec(sink, 2))
    bus.produce([Record(source, b"in-%d" % i, b"k") for i in range(3)])
    tp = TopicPartition(source, 0)
    consumer = bus.consumer(group, [source], transactional_id=unique("tx"))
    try:
        got = []
        deadline = time.monotonic() + 60
        while len(got) < 3:
            assert time.monotonic() < deadline
            got += consumer.poll(10, 0.5)
        placed = consumer.commit_with(
            [Record(sink, b"out", b"k"), Record(sink, b"explicit", None, partition=1)],
            {tp: 3},
        )
        assert placed[1][0] == 1, "an explicit partition is kept"
    finally:
        consumer.close()
    assert bus.committed(group, source) == {0: 3}
    read = read_topics(bus, {sink: {0: 0, 1: 0}})
    assert sorted(m.value for m in read[sink]) == [b"explicit", b"out"]


def test_embedded_commit_with_refused_after_a_rebalance(
    tmp_path: Path, unique: Callable[[str], str]
) -> None:
    """A member whose partition went to another member produces and commits nothing."""
    from hub.bus.embedded import EmbeddedBus

    bus = EmbeddedBus(tmp_path / "hub.db", session_timeout=30)
    source, sink, group = unique("src"), unique("out"), unique("g")
    bus.create_topic(TopicSpec(source, 2))
    bus.create_topic(TopicSpec(sink, 1))
    first = bus.consumer(group, [source])
    assert len(first.assignment()) == 2
    second = bus.consumer(group, [source])  # joins: the partitions are shared now
    try:
        lost = {tp for tp in first._all_partitions() if tp not in second.assignment()}
        taken = second.assignment()
        with pytest.raises(CommitFailed):
            first.commit_with([Record(sink, b"zombie")], {tp: 1 for tp in taken})
        assert sum(bus.end_offsets(sink).values()) == 0, "nothing produced"
        assert all(v is None for v in bus.committed(group, source).values())
        first.commit_with([Record(sink, b"mine")], {tp: 1 for tp in lost})
        assert sum(bus.end_offsets(sink).values()) == 1
    finally:
        first.close()
        second.close()
        bus.close()


def _publish(conn: Connection, signals: list[DebtSignal]) -> None:
    SignalPublisher(conn.bus, conn.serde).publish([("debt-signal", s) for s in signals])


def _route_all(router: Router, n: int) -> None:
    handled = 0
    deadline = time.monotonic() + 60
    while handled < n:
        assert time.monotonic() < deadline, f"routed {handled} of {n}"
        handled += router.step(timeout=0.5)


def _priors(conn: Connection, router: Router, start: dict[str, dict[int, int]]) -> list[int]:
    read = read_topics(conn.bus, start)
    out = []
    for topic in start:
        for m in read[topic]:
            rec = conn.serde.decode(m.value).record
            if rec["subject_ref"] == PERSON:
                out.append(int(rec["prior_signals_180d"]))
    return sorted(out)


def _signals(rng: random.Random, n: int) -> list[DebtSignal]:
    return [sample_debt(rng, PERSON).model_copy(update={"objection_recorded": False,
                                                         "crisis": False})
            for _ in range(n)]


def test_state_is_restored_from_the_changelog(conn: Connection, tmp_path: Path) -> None:
    """A router on a new machine (empty state dir) counts the person's earlier signals
    from the changelog; a warm restart reads only the changelog's tail."""
    if conn.bus.kind != "embedded":
        pytest.skip("the Kafka variant is the scale-out test")
    config = load_config(EXAMPLE)
    team = config.teams[0].id
    topics = [alerts_topic(t.id) for t in config.teams]
    rng = random.Random(9)
    first = Router(conn, config, tmp_path / "a", group="router-restore")
    first.ensure_topics()
    start = {t: conn.bus.end_offsets(t) for t in topics}
    for signal in _signals(rng, 4):  # one batch each (same-batch counting is not tested here)
        _publish(conn, [signal])
        _route_all(first, 1)
    first.close()
    assert team
    conn.bus.compact(first.state.topic or "")  # the changelog keeps one record per person

    cold = Router(conn, config, tmp_path / "b", group="router-restore")
    _publish(conn, _signals(rng, 1))
    _route_all(cold, 1)
    assert cold.state.restored and sum(r for _, r in cold.state.restored.values()) == 1, (
        "one changelog record (the person's list) restored")
    cold.close()

    warm = Router(conn, config, tmp_path / "a", group="router-restore")
    _publish(conn, _signals(rng, 1))
    _route_all(warm, 1)
    assert sum(r for _, r in warm.state.restored.values()) == 1, "only the tail is read"
    warm.close()
    priors = _priors(conn, warm, start)
    forwarded_per_signal = len(priors) // 6
    assert forwarded_per_signal >= 1
    assert priors == sorted(list(range(6)) * forwarded_per_signal)


def test_state_written_only_after_the_commit(conn: Connection, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """A batch whose commit fails leaves no trace in the state: it is routed again with
    the same counts, and its outputs appear once."""
    if conn.bus.kind != "embedded":
        pytest.skip("embedded only")
    config = load_config(EXAMPLE)
    topics = [alerts_topic(t.id) for t in config.teams]
    router = Router(conn, config, tmp_path / "a", group="router-fail")
    router.ensure_topics()
    start = {t: conn.bus.end_offsets(t) for t in topics}
    rng = random.Random(3)
    for signal in _signals(rng, 2):
        _publish(conn, [signal])
        _route_all(router, 1)
    consumer = router.loop.reader.consumer
    real = consumer.commit_with
    calls = {"n": 0}

    def failing(records: list[Record], offsets: dict[TopicPartition, int]) -> object:
        calls["n"] += 1
        if calls["n"] == 1:
            raise CommitFailed("simulated rebalance")
        return real(records, offsets)

    monkeypatch.setattr(consumer, "commit_with", failing)
    _publish(conn, _signals(rng, 1))
    deadline = time.monotonic() + 30
    while calls["n"] < 2:
        assert time.monotonic() < deadline
        router.step(timeout=0.5)
    router.close()
    priors = _priors(conn, router, start)
    per = len(priors) // 3
    assert priors == sorted([0, 1, 2] * per), "the failed batch counted once, output once"


def test_a_batch_that_fails_unavailable_is_read_again(conn: Connection) -> None:
    """A processor that cannot finish a batch (the registry cannot confirm a schema id)
    loses nothing: the loop waits, reads the batch again and processes it."""
    import threading

    from hub.errors import RegistryUnavailable
    from hub.stream import Outcome, StreamLoop

    topic, out_topic = f"loop-in-{random.getrandbits(32)}", f"loop-out-{random.getrandbits(32)}"
    for name in (topic, out_topic):
        conn.bus.create_topic(TopicSpec(name, 1))
    signals = [sample_debt(random.Random(i)) for i in range(5)]
    conn.bus.produce([Record(topic, conn.serde.encode_model(topic, s), b"k") for s in signals])

    class FailsOnce:
        def __init__(self) -> None:
            self.calls, self.seen = 0, []

        def process(self, events: list) -> Outcome:  # type: ignore[type-arg]
            self.calls += 1
            if self.calls == 1:
                raise RegistryUnavailable("registry down")
            self.seen += [str(e.record["event_id"]) for e in events]
            return Outcome([Record(out_topic, b"x", b"k") for _ in events])

        def assigned(self, partitions: set[TopicPartition]) -> None: ...

        def revoked(self, partitions: set[TopicPartition]) -> None: ...

    processor = FailsOnce()
    loop = StreamLoop(conn.bus, conn.serde, f"g-{random.getrandbits(32)}", [topic], processor,
                      name="test", guarantee="at-least-once")
    stop = threading.Event()
    worker = threading.Thread(target=loop.run, args=(stop,))
    worker.start()
    deadline = time.monotonic() + 60
    while len(processor.seen) < 5 and time.monotonic() < deadline:
        time.sleep(0.1)
    stop.set()
    worker.join(30)
    loop.close()
    assert processor.calls >= 2
    assert sorted(processor.seen) == sorted(str(s.event_id) for s in signals)
    assert sum(conn.bus.end_offsets(out_topic).values()) == 5
