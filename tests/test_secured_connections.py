"""Secured Kafka connections, end to end on a real broker with a SASL_SSL listener.

The broker (``LocalKafka(sasl_ssl=True)``) gets a CA, a broker certificate and a SCRAM
user made at start. The hub works through it with every mechanism (producer,
transactional producer, group consumer, reader, admin and metadata clients, a signal
routed); a wrong password or an untrusted CA ends in seconds with an error naming the
setting; the DEBUG logs and error output of the command line hold no password or token.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from hub.bus.base import Bus, Record, TopicPartition, TopicSpec
from hub.connect import bus_for, connect
from hub.devtools.broker_security import unsecured_token
from hub.devtools.local_kafka import LocalKafka
from hub.errors import BusAccessDenied
from hub.settings import KafkaSettings, Settings
from tests.test_router import route_table

pytestmark = [pytest.mark.kafka, pytest.mark.slow]

MECHANISMS = ["SCRAM-SHA-256", "SCRAM-SHA-512", "PLAIN", "OAUTHBEARER"]
WRONG = "not-the-password-4711"


@pytest.fixture(scope="module")
def broker() -> Iterator[LocalKafka]:
    with LocalKafka(sasl_ssl=True) as kafka:
        yield kafka


@pytest.fixture(scope="module")
def token_file(broker: LocalKafka, tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("oauth") / "token"
    path.write_text(unsecured_token() + "\n")
    return path


def kafka_settings(broker: LocalKafka, mechanism: str = "SCRAM-SHA-512", *,
                   password: str | None = None, cafile: Path | None = None,
                   token_file: Path | None = None) -> KafkaSettings:
    assert broker.security is not None
    common: dict[str, Any] = {"security_protocol": "SASL_SSL", "sasl_mechanism": mechanism,
                              "ssl_cafile": cafile or broker.security.ca_file}
    if mechanism == "OAUTHBEARER":
        return KafkaSettings(**common, sasl_oauth_token_file=token_file)
    return KafkaSettings(**common, sasl_username=broker.security.username,
                         sasl_password=SecretStr(password or broker.security.password))


def env_for(broker: LocalKafka, registry_url: str, **extra: str) -> dict[str, str]:
    assert broker.security is not None
    env = {k: v for k, v in os.environ.items() if not k.startswith("HUB_")}
    env.update({
        "HUB_BUS": f"kafka://{broker.sasl_bootstrap}", "HUB_REGISTRY_URL": registry_url,
        "HUB_KAFKA__SECURITY_PROTOCOL": "SASL_SSL", "HUB_KAFKA__SASL_MECHANISM": "SCRAM-SHA-256",
        "HUB_KAFKA__SASL_USERNAME": broker.security.username,
        "HUB_KAFKA__SASL_PASSWORD": broker.security.password,
        "HUB_KAFKA__SSL_CAFILE": str(broker.security.ca_file),
        "HUB_LOG_LEVEL": "DEBUG", "HUB_LOG_FORMAT": "json",
        "HUB_METRICS__ADDRESS": "127.0.0.1:0", **extra,
    })
    return env


def signalhub(env: dict[str, str], *args: str,
              timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "hub.cli", *args], env=env, text=True,
                          capture_output=True, timeout=timeout, check=False)


def round_trip(bus: Bus, topic: str) -> None:
    """Admin, producer, metadata, group consumer, transactional commit and reader."""
    bus.create_topic(TopicSpec(topic, partitions=1))
    assert topic in bus.list_topics()
    bus.produce([Record(topic, b"one", b"k"), Record(topic, b"two", b"k")])
    assert bus.end_offsets(topic) == {0: 2}
    with bus.consumer(f"{topic}-group", [topic], transactional_id=f"{topic}-txn") as consumer:
        got: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(got) < 2 and time.monotonic() < deadline:
            got += [m.value for m in consumer.poll(10, 1.0)]
        assert got == [b"one", b"two"]
        consumer.commit_with([Record(topic, b"three", b"k")], {TopicPartition(topic, 0): 2})
    # a transaction's offsets read as committed once its markers are written (moments
    # after the commit returns)
    deadline = time.monotonic() + 10
    while bus.committed(f"{topic}-group", topic) != {0: 2} and time.monotonic() < deadline:
        time.sleep(0.1)
    assert bus.committed(f"{topic}-group", topic) == {0: 2}
    with bus.reader({TopicPartition(topic, 0)}) as reader:
        reader.seek(TopicPartition(topic, 0), 0)
        read: list[bytes] = []
        deadline = time.monotonic() + 30
        while len(read) < 3 and time.monotonic() < deadline:
            read += [m.value for m in reader.poll(10, 1.0)]
    assert read == [b"one", b"two", b"three"]


@pytest.mark.parametrize("mechanism", MECHANISMS)
def test_every_client_works_through_sasl_ssl(broker: LocalKafka, token_file: Path,
                                             mechanism: str, unique: Any) -> None:
    settings = Settings(bus=f"kafka://{broker.sasl_bootstrap}",
                        kafka=kafka_settings(broker, mechanism, token_file=token_file))
    bus = bus_for(settings)
    try:
        round_trip(bus, unique(f"secured-{mechanism.lower()}"))
    finally:
        bus.close()


@pytest.mark.registry
def test_a_signal_is_routed_through_sasl_ssl(broker: LocalKafka, apicurio_url: str,
                                             tmp_path: Path) -> None:
    settings = Settings(bus=f"kafka://{broker.sasl_bootstrap}", registry_url=apicurio_url,
                        kafka=kafka_settings(broker, "SCRAM-SHA-256"))
    with connect(settings) as conn:
        routed = route_table(conn, tmp_path / "state", "secured")
        assert routed.router is not None
        routed.router.close()
    forwarded = [a for alerts in routed.alerts.values() for a in alerts]
    assert forwarded, "no alert reached a team through the SASL_SSL listener"
    assert len(routed.audit) == len(routed.event_ids)


def _denied(settings: Settings) -> tuple[BusAccessDenied, float]:
    bus = bus_for(settings)
    started = time.monotonic()
    try:
        with pytest.raises(BusAccessDenied) as caught:
            bus.list_topics()
        return caught.value, time.monotonic() - started
    finally:
        bus.close()


def test_a_wrong_password_is_a_clear_error_within_seconds(broker: LocalKafka) -> None:
    settings = Settings(bus=f"kafka://{broker.sasl_bootstrap}",
                        kafka=kafka_settings(broker, "SCRAM-SHA-512", password=WRONG))
    error, took = _denied(settings)
    assert took < 10
    assert "HUB_KAFKA__SASL_PASSWORD" in str(error) and "refused" in str(error)
    assert WRONG not in str(error)


def test_an_untrusted_ca_is_a_clear_error_within_seconds(broker: LocalKafka,
                                                         tmp_path: Path) -> None:
    import trustme

    other = tmp_path / "other-ca.pem"
    trustme.CA().cert_pem.write_to_path(str(other))
    settings = Settings(bus=f"kafka://{broker.sasl_bootstrap}",
                        kafka=kafka_settings(broker, cafile=other))
    error, took = _denied(settings)
    assert took < 10
    assert "HUB_KAFKA__SSL_CAFILE" in str(error) and "CERTIFICATE_VERIFY_FAILED" in str(error)


@pytest.mark.registry
def test_debug_logs_and_errors_hold_no_secret(broker: LocalKafka, apicurio_url: str,
                                              token_file: Path) -> None:
    assert broker.security is not None
    password, token = broker.security.password, unsecured_token()
    token_file.write_text(token)
    outputs: list[str] = []

    done = signalhub(env_for(broker, apicurio_url), "selftest", "--count", "5")
    outputs.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "read back      5 DebtSignal" in done.stdout
    assert '"logger": "kafka.' in done.stderr and '"level": "debug"' in done.stderr
    # kafka-python's admin client logs its whole configuration at DEBUG: masked
    assert "'sasl_plain_password': '[redacted]'" in done.stderr

    oauth = env_for(broker, apicurio_url, HUB_KAFKA__SASL_MECHANISM="OAUTHBEARER",
                    HUB_KAFKA__SASL_OAUTH_TOKEN_FILE=str(token_file))
    del oauth["HUB_KAFKA__SASL_USERNAME"], oauth["HUB_KAFKA__SASL_PASSWORD"]
    done = signalhub(oauth, "topics", "list")
    outputs.append(done.stdout + done.stderr)
    assert done.returncode == 0, done.stderr[-3000:]

    started = time.monotonic()
    wrong = signalhub(env_for(broker, apicurio_url, HUB_KAFKA__SASL_PASSWORD=WRONG),
                      "topics", "list", timeout=60)
    outputs.append(wrong.stdout + wrong.stderr)
    assert wrong.returncode == 1 and time.monotonic() - started < 30
    last = wrong.stderr.strip().splitlines()[-1]
    assert last.startswith("Error: ") and "HUB_KAFKA__SASL_PASSWORD" in last
    assert "Traceback" not in wrong.stderr

    for text in outputs:
        for secret in (password, token, WRONG):
            assert secret not in text
