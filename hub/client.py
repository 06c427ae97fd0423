"""A small client for emitting systems that produce to the hub's bus (Kafka) directly.

The client never holds a pseudonym key: the key stays at the hub (with it, every BSN
could be found back from its pseudonym by trying all valid BSNs). Instead it checks a
signal locally as far as it can without the key (required fields, types, formats, the
BSN 11-test: the hub's own intake validation), seals the whole signal, BSN included, to
the hub's intake public key (an X25519 sealed box: only the hub's private key opens it)
and produces it to ``intake.sealed.v1`` keyed by its event id, Confluent-framed Avro
under the registered ``SealedSignal`` schema, retrying with exponential backoff while
the bus pushes back. The hub opens it, pseudonymises the BSN and publishes the signal to
its signal topic; what it cannot open or finds invalid becomes a dead letter. Get the
public key from the hub's operator (``signalhub keys public``)::

    from hub.client import HubClient

    with HubClient("kafka://kafka:9092", registry_url="http://registry:8080/apis/ccompat/v7",
                   source="urn:nld:oin:00000001234567890000",
                   hub_public_key="kBd0...=") as client:
        event_id = client.publish("debt-signal", {
            "bsn": "123456782", "municipality_code": "GM0153", "postcode": "7512AB",
            "house_number": 14, ...})

The source's identity on the bus is up to the bus's access control (e.g. Kafka ACLs
that let the source write ``intake.sealed.v1`` only). See ``docs/privacy.md``.
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from pydantic import BaseModel

from hub.connect import Connection, connect
from hub.errors import Backpressure, BusUnavailable
from hub.intake import SERVER_SET, build_signal
from hub.intake_keys import Sealer
from hub.sealed import LocalCheck, SealedPublisher, seal_signal, sealed_content
from hub.settings import KafkaSettings, RegistrySettings, given_settings

__all__ = ["HubClient"]


class HubClient:
    """Publish signals sealed to the hub, with the right schema, framing and key.

    Configured by its arguments alone (``kafka``: TLS/SASL of a secured cluster,
    ``registry``: the registry's credentials, ``topic_prefix``): it reads no ``HUB_*``
    variable and no ``.env`` file of the program it runs in."""

    def __init__(
        self,
        bus: str,
        *,
        source: str,
        hub_public_key: str,
        registry_url: str | None = None,
        kafka: KafkaSettings | None = None,
        registry: RegistrySettings | None = None,
        topic_prefix: str = "",
        max_attempts: int = 6,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
    ) -> None:
        self.source = source
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        self._sealer = Sealer(hub_public_key)  # ConfigError for a malformed key
        self._check = LocalCheck()
        settings = given_settings(bus=bus, registry_url=registry_url, topic_prefix=topic_prefix,
                                  kafka=kafka or KafkaSettings(),
                                  registry=registry or RegistrySettings())
        self._conn: Connection = connect(settings)
        self._publisher = SealedPublisher(self._conn.serde)

    def publish(self, event_type: str, signal: Mapping[str, Any] | BaseModel) -> str:
        """Check, seal and publish one signal; return its event id once it is durable.

        Raises IntakeError for an invalid signal (naming each field, never a value), and
        the last BusError when the bus stayed unavailable for ``max_attempts`` tries.
        """
        payload = (signal.model_dump(exclude=set(SERVER_SET)) if isinstance(signal, BaseModel)
                   else dict(signal))
        try:
            model = build_signal(event_type, payload, source=self.source,
                                 pseudonymiser=self._check)
            sealed = seal_signal(self._sealer, event_type, self.source,
                                 sealed_content(model, self._check))
        finally:
            self._check.forget()
        record = self._publisher.record(sealed)
        for attempt in range(1, self.max_attempts + 1):
            try:
                self._conn.bus.produce([record])
                return sealed.event_id
            except (Backpressure, BusUnavailable) as exc:
                if attempt == self.max_attempts:
                    raise
                wait = getattr(exc, "retry_after", 0.0) or random.uniform(
                    0, min(self.backoff_cap, self.backoff_base * 2 ** attempt))
                time.sleep(wait)
        raise AssertionError("unreachable")

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> HubClient:
        return self

    def __exit__(
        self, t: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()
