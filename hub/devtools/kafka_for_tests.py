"""A real Apache Kafka broker for tests, from the cheapest source that is available.

``kafka_for_tests()`` yields a :class:`BrokerInfo` and tries, in order:

1. ``HUB_TEST_KAFKA_BOOTSTRAP=host:port``: an existing broker (kind ``external``);
2. testcontainers' Kafka module, only when a Docker engine answers a ping
   (kind ``testcontainers``; image from ``HUB_TEST_KAFKA_IMAGE``);
3. :class:`~hub.devtools.local_kafka.LocalKafka`: Apache Kafka's own jars run with the
   local ``java`` (kind ``local-jars``).

``HUB_TEST_KAFKA_KIND=testcontainers|local-jars`` skips the detection and forces one.
``restartable_kafka()`` always starts a broker of the caller's own from the jars, one that
fault tests may halt and start again on the same data and port
(:meth:`~hub.devtools.local_kafka.LocalKafka.halt`, then ``start()``).
One log line says which broker the tests got, e.g.
``kafka for tests: local-jars Apache Kafka 4.4.0 at 127.0.0.1:39092``.
"""

from __future__ import annotations

import gc
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import structlog

from hub.devtools.local_kafka import (
    LocalKafka,
    LocalKafkaError,
    broker_api_version,
    wait_for_broker,
)

__all__ = [
    "DEFAULT_IMAGE",
    "ENV_BOOTSTRAP",
    "ENV_IMAGE",
    "ENV_KIND",
    "BrokerInfo",
    "docker_available",
    "kafka_for_tests",
    "restartable_kafka",
]

log = structlog.get_logger(__name__)

ENV_BOOTSTRAP = "HUB_TEST_KAFKA_BOOTSTRAP"
ENV_IMAGE = "HUB_TEST_KAFKA_IMAGE"
ENV_KIND = "HUB_TEST_KAFKA_KIND"
# Confluent Platform 8.1 ships Apache Kafka 4.1; testcontainers' KafkaContainer drives
# the cp-kafka image's own start scripts, so it needs a cp-kafka image.
DEFAULT_IMAGE = "confluentinc/cp-kafka:8.1.0"
DOCKER_SOCKET = Path("/var/run/docker.sock")
EXTERNAL_WAIT_S = 30.0


@dataclass(frozen=True)
class BrokerInfo:
    """Where the test broker is and what it is."""

    bootstrap: str
    kind: str  # "external" | "testcontainers" | "local-jars"
    version: str

    def describe(self) -> str:
        """One line for logs: kind, version and address."""
        return f"kafka for tests: {self.kind} {self.version} at {self.bootstrap}"


def docker_available(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers a ping within ``timeout`` seconds.

    Without ``DOCKER_HOST`` and without ``/var/run/docker.sock`` this answers at once,
    without touching the docker SDK (which leaks a socket when the engine is absent).
    """
    host = os.environ.get("DOCKER_HOST", "").strip()
    if not host and not DOCKER_SOCKET.exists():
        return False
    if host.startswith("unix://") and not Path(host.removeprefix("unix://")).exists():
        return False
    try:
        import docker
    except ImportError:
        return False
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        try:
            client = docker.from_env(timeout=max(1, round(timeout)))
            try:
                return bool(client.ping())
            finally:
                client.close()
        except Exception:  # any failure means "no usable engine"
            gc.collect()  # finalize sockets the SDK left open while warnings are ignored
            return False


@contextmanager
def _external(bootstrap: str) -> Iterator[BrokerInfo]:
    wait_for_broker(bootstrap, timeout=EXTERNAL_WAIT_S)
    probed = broker_api_version(bootstrap)
    version = "unknown" if probed == "unknown" else f"Apache Kafka API {probed}"
    yield BrokerInfo(bootstrap=bootstrap, kind="external", version=version)


@contextmanager
def _testcontainers() -> Iterator[BrokerInfo]:
    from testcontainers.community.kafka import KafkaContainer

    image = os.environ.get(ENV_IMAGE, "").strip() or DEFAULT_IMAGE
    with KafkaContainer(image=image).with_kraft() as container:
        bootstrap = str(container.get_bootstrap_server())
        wait_for_broker(bootstrap, timeout=60.0)
        yield BrokerInfo(bootstrap=bootstrap, kind="testcontainers", version=image)


@contextmanager
def _local_jars() -> Iterator[BrokerInfo]:
    with LocalKafka() as kafka:
        version = f"Apache Kafka {kafka.version}"
        yield BrokerInfo(bootstrap=kafka.bootstrap, kind="local-jars", version=version)


def _choose_kind() -> str:
    forced = os.environ.get(ENV_KIND, "").strip()
    if forced:
        if forced not in ("testcontainers", "local-jars"):
            raise LocalKafkaError(f"{ENV_KIND}={forced!r}: use testcontainers or local-jars")
        return forced
    return "testcontainers" if docker_available() else "local-jars"


@contextmanager
def kafka_for_tests() -> Iterator[BrokerInfo]:
    """Yield a running Apache Kafka broker (see the module docstring for the order)."""
    external = os.environ.get(ENV_BOOTSTRAP, "").strip()
    if external:
        source = _external(external)
    elif _choose_kind() == "testcontainers":
        source = _testcontainers()
    else:
        source = _local_jars()
    with source as info:
        log.info(info.describe())
        yield info


@contextmanager
def restartable_kafka() -> Iterator[LocalKafka]:
    """A local broker of the caller's own (Kafka's jars, a temporary work directory kept
    until the end): ``halt()`` stops it, ``start()`` brings it back with the same data on
    the same port. Raises ToolMissing when java or mvn is missing."""
    with LocalKafka() as kafka:
        log.info("kafka for a fault test", bootstrap=kafka.bootstrap, version=kafka.version)
        yield kafka
