"""Reading a topic back in tests: every message on it, or every record decoded.

A throw-away consumer group reads from the start and stops after two empty polls in a
row, so call these once the writes a test waits for are on the bus."""

from __future__ import annotations

import uuid
from typing import Any

from hub.bus.base import Bus, Message
from hub.connect import Connection


def read_messages(bus: Bus, topic: str) -> list[Message]:
    """Every message on ``topic`` (a throw-away consumer group, two idle polls to stop)."""
    consumer = bus.consumer(f"test-{uuid.uuid4().hex[:8]}", [topic])
    out: list[Message] = []
    idle = 0
    while idle < 2:
        batch = consumer.poll(1000, 0.3)
        idle = 0 if batch else idle + 1
        out += batch
    consumer.close()
    return out


def read_records(conn: Connection, topic: str) -> list[dict[str, Any]]:
    """Every record on ``topic``, decoded by ``conn``'s serde."""
    return [conn.serde.decode(m.value).record for m in read_messages(conn.bus, topic)]
