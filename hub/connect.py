"""Open the bus and the schema registry that belong together, from settings.

- embedded bus: the registry lives in the same SQLite file (unless HUB_REGISTRY_URL);
- kafka bus: a Confluent-compatible registry over HTTP (HUB_REGISTRY_URL is required);
- ``HUB_TOPIC_PREFIX``: the bus is a :class:`~hub.bus.prefixed.PrefixedBus` and the
  registry subjects start with the prefix too.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import TracebackType

from hub.bus import Bus, open_bus
from hub.bus.embedded import EmbeddedBus
from hub.bus.prefixed import PrefixedBus
from hub.errors import ConfigError
from hub.registry.base import SchemaRegistry
from hub.serde import AvroSerde
from hub.settings import Settings

__all__ = ["Connection", "bus_for", "connect"]


@dataclass
class Connection:
    bus: Bus
    registry: SchemaRegistry
    serde: AvroSerde

    def close(self) -> None:
        self.registry.close()
        self.bus.close()

    def __enter__(self) -> Connection:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


def bus_for(settings: Settings) -> Bus:
    """The bus alone (no registry), as ``settings`` say, with ``HUB_TOPIC_PREFIX`` and
    its options (for Kafka: timeouts, batching, and the TLS and SASL settings every
    client gets, checked here: a ConfigError names the setting that does not work)."""
    options: dict[str, object] = {}
    if settings.bus.startswith("kafka://"):
        from hub.bus.kafka_security import SECURITY_FIELDS, kafka_security

        options = settings.kafka.model_dump(exclude=set(SECURITY_FIELDS))
        options["security"] = kafka_security(settings.kafka)
    else:
        options = settings.embedded.model_dump()
    bus = open_bus(settings.bus, **options)
    return PrefixedBus(bus, settings.topic_prefix) if settings.topic_prefix else bus


def connect(settings: Settings) -> Connection:
    """The bus, the registry and a serde over them, as ``settings`` say."""
    bus = bus_for(settings)
    inner = bus.inner if isinstance(bus, PrefixedBus) else bus
    embedded_path = inner.path if isinstance(inner, EmbeddedBus) else None
    registry: SchemaRegistry
    if settings.registry_url:
        from hub.registry.http import HttpRegistry

        try:
            registry = HttpRegistry(settings.registry_url, access=settings.registry,
                                    default_compatibility=settings.compatibility)
        except ConfigError:  # credentials in the URL, a bad CA file
            bus.close()
            raise
    elif embedded_path is not None:
        from hub.registry.embedded import EmbeddedRegistry

        registry = EmbeddedRegistry(embedded_path, settings.compatibility)
    else:
        bus.close()
        raise ConfigError(
            "the kafka bus needs a schema registry: set HUB_REGISTRY_URL to a"
            " Confluent-compatible registry, e.g. http://localhost:8090/apis/ccompat/v7"
        )
    return Connection(bus, registry, AvroSerde(registry, settings.topic_prefix,
                                                 schemas_dir=settings.schemas_dir))
