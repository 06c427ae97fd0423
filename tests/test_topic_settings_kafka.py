"""Production topic settings on the real Kafka broker: the prefix on every topic, group
and transactional id; retention.ms and min.insync.replicas on the topics `topics init`
makes (read back with the admin client); a replication factor larger than the cluster
refused naming the setting; zstd compression on the producer."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from kafka import KafkaAdminClient
from kafka.admin import ConfigResource

from hub.bus.base import Record, TopicSpec
from hub.bus.kafka import KafkaBus
from hub.bus.prefixed import PrefixedBus
from hub.cli import main
from hub.config import load_config
from hub.connect import Connection
from hub.errors import ConfigError
from hub.registry.embedded import EmbeddedRegistry
from hub.router import Router
from hub.serde import AvroSerde
from hub.topics import AUDIT, DEADLETTER, SIGNAL_TOPICS, alerts_topic
from tests.router_cases import CASES

pytestmark = pytest.mark.kafka

EXAMPLE = Path(__file__).parent.parent / "examples" / "hub.yaml"
DAY_MS = 86_400_000
DEBT_TEAM = "schuldhulp-centrum"
DEBT = SIGNAL_TOPICS["debt-signal"]


@pytest.fixture
def prefix() -> str:
    return f"t{uuid.uuid4().hex[:8]}."


@pytest.fixture
def admin(kafka_bootstrap: str) -> Iterator[KafkaAdminClient]:
    client = KafkaAdminClient(bootstrap_servers=kafka_bootstrap, client_id="test-topic-settings")
    yield client
    client.close()


def topic_config(admin: KafkaAdminClient, topic: str) -> dict[str, str]:
    """The settings made for ``topic`` (not the broker's defaults)."""
    found = admin.describe_configs([ConfigResource("TOPIC", topic)], config_filter="modified")
    return {k: str(v["value"]) for k, v in found["topic"][topic].items()}


def test_a_routed_signal_ends_up_only_on_prefixed_topics(
    kafka_bootstrap: str, prefix: str, tmp_path: Path, admin: KafkaAdminClient
) -> None:
    raw = KafkaBus(kafka_bootstrap)
    bus = PrefixedBus(KafkaBus(kafka_bootstrap), prefix)
    registry = EmbeddedRegistry(tmp_path / "registry.db")
    conn = Connection(bus, registry, AvroSerde(registry, prefix))
    try:
        router = Router(conn, load_config(EXAMPLE), tmp_path / "state")
        router.ensure_topics()
        plain_before = ({t: sum(raw.end_offsets(t).values()) for t in (AUDIT, DEBT)}
                        if {AUDIT, DEBT} <= raw.list_topics() else {})
        case = next(c for c in CASES if c.name == "debt-plain")
        bus.produce([Record(DEBT, conn.serde.encode(DEBT, "DebtSignal", case.record()),
                            case.subject_ref.encode())])
        handled, deadline = 0, time.monotonic() + 60
        while handled < 1 and time.monotonic() < deadline:
            handled += router.step(timeout=1.0)
        assert handled == 1
        # the router's exactly-once producer has the prefixed transactional id
        transactions = repr(admin.list_transactions())  # every state, per broker
        assert f"'{prefix}signalhub-router-" in transactions, transactions
        router.close()
        names = raw.list_topics()
        wanted = {prefix + t for t in (DEBT, AUDIT, DEADLETTER, alerts_topic(DEBT_TEAM),
                                       "changelog.router.v1")}
        assert wanted <= names
        consumer = bus.consumer("check", [alerts_topic(DEBT_TEAM)])  # <prefix>check
        alerts: list[Any] = []
        for _ in range(6):
            alerts += consumer.poll(100, 0.5)
        consumer.close()
        assert [m.topic for m in alerts] == [alerts_topic(DEBT_TEAM)]  # the hub's own name
        assert sum(raw.end_offsets(prefix + AUDIT).values()) >= 1
        assert sum(o or 0 for o in raw.committed(prefix + "router", prefix + DEBT)
                   .values()) == 1
        for topic, end in plain_before.items():  # nothing went to the unprefixed topics
            assert sum(raw.end_offsets(topic).values()) == end
        assert bus.list_topics() >= {DEBT, AUDIT, alerts_topic(DEBT_TEAM)}
        assert all(not t.startswith(prefix) for t in bus.list_topics())
        subjects = registry.subjects()
        assert subjects and all(s.startswith(prefix) for s in subjects)
    finally:
        conn.close()
        raw.close()


def _init(kafka_bootstrap: str, prefix: str, *extra: str, **env: str) -> tuple[int, str]:
    """Exit code and output (without the log lines) of `signalhub topics init`."""
    result = CliRunner().invoke(
        main, ["topics", "init", "--bus", f"kafka://{kafka_bootstrap}", "--config",
               str(EXAMPLE), *extra],
        env={"HUB_TOPIC_PREFIX": prefix, "HUB_LOG_LEVEL": "WARNING", **env})
    lines = [line for line in result.output.splitlines() if not line.startswith("{")]
    return result.exit_code, "\n".join(lines)


def test_topics_init_sets_retention_and_min_insync_replicas(
    kafka_bootstrap: str, prefix: str, admin: KafkaAdminClient
) -> None:
    with KafkaBus(kafka_bootstrap) as raw:  # made earlier by hand, with other settings
        raw.create_topic(TopicSpec(prefix + AUDIT, 1, retention_ms=7 * DAY_MS))
    code, output = _init(kafka_bootstrap, prefix, HUB_KAFKA__MIN_INSYNC_REPLICAS="1")
    assert code == 0, output
    days = load_config(EXAMPLE).policies["debt-signal"].default.retention_days
    debt = topic_config(admin, prefix + DEBT)
    assert debt["retention.ms"] == str(days * DAY_MS)
    assert debt["min.insync.replicas"] == "1" and debt["segment.ms"] == str(DAY_MS)
    assert topic_config(admin, prefix + "consent.v1")["cleanup.policy"] == "compact"
    assert topic_config(admin, prefix + alerts_topic(DEBT_TEAM))["retention.ms"] == str(
        days * DAY_MS)
    assert f"differs {AUDIT}: retention.ms is {7 * DAY_MS}" in output, output
    assert f"differs {AUDIT}: min.insync.replicas is broker default, wanted 1" in output
    assert f"differs {AUDIT}: partitions is 1, wanted 3 (never changed" in output
    assert topic_config(admin, prefix + AUDIT)["retention.ms"] == str(7 * DAY_MS)

    code, applied = _init(kafka_bootstrap, prefix, "--apply")
    assert code == 0, applied
    audit = topic_config(admin, prefix + AUDIT)
    assert audit["retention.ms"] == str(days * DAY_MS) and audit["min.insync.replicas"] == "1"
    with KafkaBus(kafka_bootstrap) as raw:
        assert raw.partitions_for(prefix + AUDIT) == 1  # never changed
    assert "1 difference(s) left" in applied


def test_a_replication_factor_larger_than_the_cluster_is_refused(
    kafka_bootstrap: str, prefix: str
) -> None:
    code, output = _init(kafka_bootstrap, prefix, HUB_KAFKA__REPLICATION_FACTOR="3")
    assert code != 0, output
    assert "HUB_KAFKA__REPLICATION_FACTOR is 3" in output
    assert "1 broker(s)" in output
    with KafkaBus(kafka_bootstrap, replication_factor=2) as bus:
        with pytest.raises(ConfigError, match="HUB_KAFKA__REPLICATION_FACTOR is 2"):
            bus.create_topic(TopicSpec(prefix + "too-many-replicas"))
        assert prefix + "too-many-replicas" not in bus.list_topics()


@pytest.mark.parametrize("codec", ["zstd", "none"])
def test_compressed_records_round_trip(kafka_bootstrap: str, prefix: str, codec: str) -> None:
    topic = f"{prefix}compressed-{codec}"
    with KafkaBus(kafka_bootstrap, compression_type=codec) as bus:
        assert bus.producer.config["compression_type"] == (None if codec == "none" else codec)
        bus.create_topic(TopicSpec(topic, 1))
        values = [(b"x" * 500 + str(i).encode()) for i in range(200)]
        bus.produce(Record(topic, v, str(i).encode()) for i, v in enumerate(values))
        consumer = bus.consumer(f"{prefix}reader", [topic])
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(got) < len(values) and time.monotonic() < deadline:
            got += [m.value or b"" for m in consumer.poll(500, 1.0)]
        consumer.close()
        assert got == values
