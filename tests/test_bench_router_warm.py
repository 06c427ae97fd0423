"""What the router bench's latency work changed: a loop's consumer loads what writing to
the output topics needs before the first batch (``Consumer.prepare_outputs``; on Kafka
the transactional producer's metadata of every output topic, also for the producer that
replaces a discarded one), ``Router.warm`` names every output topic, and the
transactional producer retries a refused AddPartitionsToTxn after 20 ms, not 100."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from hub.bus.base import Bus, TopicSpec
from hub.bus.kafka import TXN_RETRY_BACKOFF_MS, KafkaBus, KafkaBusConsumer
from hub.config import load_config
from hub.connect import connect
from hub.router import Router
from hub.settings import Settings
from hub.topics import AUDIT, DEADLETTER, alerts_topic

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "hub.yaml"


def test_prepare_outputs_is_harmless_where_nothing_is_needed(
    bus: Bus, unique: Callable[[str], str]
) -> None:
    topic, out = unique("warm-in"), unique("warm-out")
    for name in (topic, out):
        bus.create_topic(TopicSpec(name, 1))
    consumer = bus.consumer(unique("g"), [topic])
    try:
        consumer.prepare_outputs([out])  # never raises, also before any poll
        consumer.prepare_outputs([])
    finally:
        consumer.close()


def test_router_warm_names_every_output_topic(tmp_path: Path) -> None:
    conn = connect(Settings(bus=f"embedded:{tmp_path / 'hub.db'}"))
    config = load_config(EXAMPLE)
    router = Router(conn, config, tmp_path / "state", group="warm-router")
    asked: list[str] = []
    try:
        router.ensure_topics()
        consumer = router.loop.reader.consumer
        consumer.prepare_outputs = asked.extend  # type: ignore[method-assign]
        router.warm()
    finally:
        router.close()
        conn.close()
    expected = {alerts_topic(t.id) for t in config.teams} | {AUDIT, DEADLETTER}
    assert expected <= set(asked)
    assert router.state.topic in asked  # the changelog goes with every batch too


@pytest.mark.kafka
def test_transactional_producer_knows_the_output_topics_before_the_first_batch(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    bus = KafkaBus(kafka_bootstrap)
    source, outs = unique("warm-src"), [unique(f"warm-out{i}") for i in range(3)]
    consumer: KafkaBusConsumer | None = None
    try:
        for name in (source, *outs):
            bus.create_topic(TopicSpec(name, 2))
        consumer = bus.consumer(unique("g"), [source], transactional_id=unique("warm-tid"))
        consumer.prepare_outputs(outs)
        producer = consumer._txn  # noqa: SLF001 - what the first transaction will use
        assert producer is not None
        assert producer.config["retry_backoff_ms"] == TXN_RETRY_BACKOFF_MS
        known = producer._metadata  # noqa: SLF001 - no request needed for these any more
        assert all(known.partitions_for_topic(t) == {0, 1} for t in outs)
        consumer._discard()  # noqa: SLF001 - as after a failed transaction
        consumer.poll(10, 0.2)  # makes the replacement producer (fences the old one)
        again = consumer._txn  # noqa: SLF001
        assert again is not None and again is not producer
        assert all(again._metadata.partitions_for_topic(t) == {0, 1}  # noqa: SLF001
                   for t in outs)
    finally:
        if consumer is not None:
            consumer.close()
        for name in (source, *outs):
            try:
                bus.admin.delete_topics([name])
            except Exception:  # noqa: BLE001 - clean-up only
                pass
        bus.close()


@pytest.mark.kafka
def test_a_producer_config_of_its_own_sets_the_transactional_back_off(
    kafka_bootstrap: str, unique: Callable[[str], str]
) -> None:
    bus = KafkaBus(kafka_bootstrap, producer_config={"retry_backoff_ms": 70})
    try:
        producer = bus.transactional_producer(unique("warm-tid"))
        try:
            assert producer.config["retry_backoff_ms"] == 70
        finally:
            producer.close(timeout=2)
    finally:
        bus.close()
