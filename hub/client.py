"""A small client for emitting systems that produce to the hub's Kafka directly.

It validates a signal with the hub's own models, pseudonymises a BSN at once (when the
system holds its municipality's pseudonym secret), encodes it as Confluent-framed Avro
under the registered schema, and produces it keyed by the pseudonym with CloudEvents
headers, retrying with exponential backoff while the bus pushes back::

    from hub.client import HubClient

    with HubClient("kafka://kafka:9092", registry_url="http://registry:8080/apis/ccompat/v7",
                   source="urn:nld:oin:00000001234567890000") as client:
        event_id = client.publish("debt-signal", {"subject_ref": "ps1-...", "postcode": "7512AB",
                                                  ...})
"""

from __future__ import annotations

import random
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Any

from pydantic import BaseModel, SecretStr

from hub.connect import Connection, connect
from hub.errors import Backpressure, BusUnavailable
from hub.intake import SignalPublisher, build_signal
from hub.pseudonym import Pseudonymiser
from hub.settings import Settings

__all__ = ["HubClient"]


class HubClient:
    """Publish signals to the hub's bus with the right schema, framing and key."""

    def __init__(
        self,
        bus: str,
        *,
        source: str,
        registry_url: str | None = None,
        pseudonym_secrets: Mapping[str, str] | None = None,
        max_attempts: int = 6,
        backoff_base: float = 0.2,
        backoff_cap: float = 10.0,
    ) -> None:
        self.source = source
        self.max_attempts = max_attempts
        self.backoff_base = backoff_base
        self.backoff_cap = backoff_cap
        secrets = {k: SecretStr(v) for k, v in (pseudonym_secrets or {}).items()}
        self._pseudonymiser = Pseudonymiser(secrets) if secrets else None
        self._conn: Connection = connect(Settings(bus=bus, registry_url=registry_url))
        self._publisher = SignalPublisher(self._conn.bus, self._conn.serde)

    def publish(self, event_type: str, signal: Mapping[str, Any] | BaseModel) -> str:
        """Validate and publish one signal; return its event id once it is durable.

        Raises IntakeError for an invalid signal (naming each field), and the last
        BusError when the bus stayed unavailable for ``max_attempts`` tries.
        """
        payload = signal.model_dump() if isinstance(signal, BaseModel) else dict(signal)
        model = build_signal(event_type, payload, source=self.source,
                             pseudonymiser=self._pseudonymiser)
        for attempt in range(1, self.max_attempts + 1):
            try:
                return self._publisher.publish([(event_type, model)])[0]
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
