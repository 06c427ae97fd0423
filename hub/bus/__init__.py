"""The bus: a partitioned, replayable log with consumer groups.

``open_bus(url)`` picks the backend from a URL:

- ``embedded:///var/lib/signalhub/hub.db`` or ``embedded:hub.db`` (or a plain path):
  the SQLite log, the single-machine default;
- ``kafka://host:9092[,host2:9092]``: Apache Kafka.
"""

from __future__ import annotations

from typing import Any

from hub.bus.base import (
    Bus,
    Consumer,
    Headers,
    Message,
    PartitionLag,
    Record,
    TopicPartition,
    TopicSpec,
)
from hub.errors import ConfigError

__all__ = [
    "Bus",
    "Consumer",
    "Headers",
    "Message",
    "PartitionLag",
    "Record",
    "TopicPartition",
    "TopicSpec",
    "open_bus",
]


def open_bus(url: str, **options: Any) -> Bus:
    """Open the bus named by ``url`` (see the module docstring for the forms)."""
    if url.startswith("kafka://"):
        from hub.bus.kafka import KafkaBus

        bootstrap = url.removeprefix("kafka://").rstrip("/")
        if not bootstrap:
            raise ConfigError("kafka bus URL needs a bootstrap address: kafka://host:9092")
        return KafkaBus(bootstrap, **options)
    if "://" in url and not url.startswith("embedded://"):
        raise ConfigError(
            f"unknown bus URL {url!r}: use embedded:///path/hub.db or kafka://host:9092"
        )
    from hub.bus.embedded import EmbeddedBus

    path = url.removeprefix("embedded://").removeprefix("embedded:")
    if not path:
        raise ConfigError("embedded bus URL needs a file: embedded:///path/hub.db")
    return EmbeddedBus(path, **options)
