"""A real Apache Kafka broker from the project's tooling, exercised with plain kafka-python.

The broker comes from ``kafka_for_tests()`` (an external one, testcontainers, or Kafka's
own jars run locally); see ``hub/devtools/kafka_for_tests.py``.
"""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from hub.devtools.kafka_for_tests import (
    ENV_BOOTSTRAP,
    BrokerInfo,
    docker_available,
    kafka_for_tests,
)
from hub.devtools.local_kafka import (
    LocalKafka,
    ToolMissing,
    find_java,
    kafka_version,
    port_accepts,
)

# kafka-python 3.0 reads its protocol schemas with importlib.resources.read_text/open_text,
# deprecated on Python 3.11/3.12: pyproject's filterwarnings ignores exactly those two.
pytestmark = [pytest.mark.kafka, pytest.mark.slow]


@pytest.fixture(scope="module")
def broker() -> Iterator[BrokerInfo]:
    """A broker of this module's own: its start and stop are what is under test here."""
    with kafka_for_tests() as info:
        yield info


def _consume_one(bootstrap: str, topic: str, timeout_s: float = 60.0) -> Any:
    from kafka import KafkaConsumer

    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=f"smoke-{uuid.uuid4().hex[:8]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    try:
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            for records in consumer.poll(timeout_ms=1000).values():
                if records:
                    consumer.commit()
                    return records[0]
        raise AssertionError(f"no message on {topic} within {timeout_s:.0f}s")
    finally:
        consumer.close()


def test_create_produce_consume(broker: BrokerInfo) -> None:
    from kafka import KafkaAdminClient, KafkaProducer
    from kafka.admin import NewTopic

    topic = f"signalhub-smoke-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=broker.bootstrap, client_id="test-local-kafka")
    try:
        admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        assert topic in admin.list_topics()

        producer = KafkaProducer(bootstrap_servers=broker.bootstrap, acks="all")
        try:
            sent = producer.send(
                topic, key=b"case-1", value=b"signal", headers=[("kind", b"smoke")]
            ).get(timeout=30)
        finally:
            producer.close()

        record = _consume_one(broker.bootstrap, topic)
        assert (record.key, record.value) == (b"case-1", b"signal")
        assert list(record.headers) == [("kind", b"smoke")]
        assert (record.partition, record.offset) == (sent.partition, sent.offset)
    finally:
        admin.close()


def test_broker_info(broker: BrokerInfo) -> None:
    assert broker.kind in ("external", "testcontainers", "local-jars")
    host, _, port = broker.bootstrap.rpartition(":")
    assert host and int(port) > 0
    if broker.kind == "local-jars":
        assert broker.version == f"Apache Kafka {kafka_version()}"
        assert host == "127.0.0.1"


def test_external_broker_from_env(broker: BrokerInfo, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_BOOTSTRAP, broker.bootstrap)
    with kafka_for_tests() as external:
        assert external.kind == "external"
        assert external.bootstrap == broker.bootstrap
        assert external.version.startswith("Apache Kafka API ")


def test_no_docker_engine_is_detected_quickly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "unix:///nonexistent/docker.sock")
    started = time.monotonic()
    assert docker_available() is False
    assert time.monotonic() - started < 1.0


def test_local_kafka_stop_cleans_up() -> None:
    try:
        find_java()
    except ToolMissing as exc:
        pytest.skip(str(exc))
    kafka = LocalKafka()
    with kafka:
        assert kafka.is_running()
        workdir, port = kafka.workdir, kafka.port
        assert workdir is not None and port is not None
        assert (workdir / "server.properties").is_file()
        assert kafka.bootstrap == f"127.0.0.1:{port}"
    assert not kafka.is_running()
    assert not workdir.exists(), "the temporary work directory is removed on stop"
    assert not port_accepts("127.0.0.1", port)
    kafka.stop()  # idempotent


def test_missing_java_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(ToolMissing, match="Java 17 or newer"):
        find_java()
