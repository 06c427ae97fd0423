"""The inbox's change counter and its times, shared by the alerts' and the cases' stores.

Every write to the inbox raises the counter first (:func:`bump`), which takes the
counter row's lock until the transaction ends: writes are serialised across processes
and instances, and "what changed since N" is one indexed query per table.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

from hub.inbox.tables import CHANGES

__all__ = ["bump", "from_ms", "to_ms"]


def to_ms(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def from_ms(ms: int | None) -> datetime | None:
    return None if ms is None else datetime.fromtimestamp(ms / 1000, UTC)


def bump(conn: sa.Connection) -> int:
    """Raise the change counter (locking its row until the transaction ends)."""
    seq = conn.execute(sa.update(CHANGES).where(CHANGES.c.id == 1)
                       .values(seq=CHANGES.c.seq + 1).returning(CHANGES.c.seq)).scalar_one()
    return int(seq)
