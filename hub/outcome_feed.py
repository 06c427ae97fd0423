"""Each source's own outcomes: a cursor-paginated read of ``outcomes.v1`` by source URN.

``outcomes.v1`` holds the outcomes of every source, keyed by the URN of the source that
sent the signal (:mod:`hub.inbox.outcomes`). :func:`read_outcomes` returns only
those of one URN, so a creditor reading its feedback never sees another creditor's
cases; ``GET /v1/outcomes`` of the ingest API serves it per API key (docs/http-api.md,
"Outcomes"). Nothing is stored besides the topic: the feed reads the bus, with a reader
outside any consumer group, so it keeps what the topic keeps (its retention).

The **cursor** is opaque to the source: the next offset to read per partition of
``outcomes.v1``, as URL-safe base64 of a small JSON object. A page ends after ``limit``
outcomes of the source, after ``max_scan`` records of the topic (whoever's), or at the
end of the topic as it was when the request came; ``has_more`` says whether to ask again
at once. The same ``outcome_id`` can come twice (an outcome published again after a
failure): drop the repeat.
"""

from __future__ import annotations

import base64
import binascii
import json
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from hub.bus.base import Bus, TopicPartition
from hub.errors import BusUnavailable, InvalidCursor, SchemaNotFound, SerdeError, TopicNotFound
from hub.serde import AvroSerde
from hub.topics import OUTCOMES

__all__ = ["MAX_LIMIT", "OutcomePage", "decode_cursor", "encode_cursor", "read_outcomes"]

#: the most outcomes one page may ask for
MAX_LIMIT = 1000
#: the most records of the topic (any source's) one page reads
MAX_SCAN = 10_000
#: the fields of an outcome a source gets (``source`` is its own URN: left out)
FIELDS = ("outcome_id", "event_id", "alert_id", "team_id", "outcome", "recorded_at")
_MAX_CURSOR = 4096


@dataclass(frozen=True, slots=True)
class OutcomePage:
    """One page of a source's outcomes and the cursor to read on from."""

    outcomes: list[dict[str, Any]]
    cursor: str
    has_more: bool


def encode_cursor(positions: Mapping[int, int]) -> str:
    """The cursor of ``positions`` (partition -> next offset to read)."""
    text = json.dumps({str(p): o for p, o in sorted(positions.items())}, separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> dict[int, int]:
    """The positions of a cursor from :func:`encode_cursor` (none: the start of every
    partition). Raises InvalidCursor for anything else."""
    if not cursor:
        return {}
    bad = InvalidCursor("not a cursor of this feed: send the cursor of the previous page,"
                        " or none to start at the beginning")
    if len(cursor) > _MAX_CURSOR:
        raise bad
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        data = json.loads(raw)
    except (binascii.Error, ValueError):
        raise bad from None
    if not isinstance(data, dict):
        raise bad
    positions: dict[int, int] = {}
    for key, value in data.items():
        if not (isinstance(key, str) and key.isdigit() and type(value) is int and value >= 0):
            raise bad
        positions[int(key)] = value
    return positions


def _item(record: Mapping[str, Any]) -> dict[str, Any]:
    return {name: record[name] if name == "recorded_at" else str(record[name])
            for name in FIELDS}


def read_outcomes(
    bus: Bus, serde: AvroSerde, source: str, after: str | None = None, *, limit: int = 100,
    max_scan: int = MAX_SCAN, timeout: float = 20.0,
) -> OutcomePage:
    """Up to ``limit`` outcomes of the source URN ``source`` after cursor ``after``, in
    the order of the topic. Raises InvalidCursor for a cursor this feed did not make,
    BusUnavailable when the bus gives nothing within ``timeout`` seconds."""
    if not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be 1-{MAX_LIMIT}")
    start = decode_cursor(after)
    try:
        ends = bus.end_offsets(OUTCOMES)
    except TopicNotFound:  # no team has closed an alert yet
        return OutcomePage([], encode_cursor(start), has_more=False)
    # a position past the end: the topic was made anew; read it from its start
    positions = {p: start.get(p, 0) if start.get(p, 0) <= end else 0 for p, end in ends.items()}
    todo = [TopicPartition(OUTCOMES, p) for p, end in sorted(ends.items()) if positions[p] < end]
    found: list[dict[str, Any]] = []
    if todo:
        stopped_early = _scan(bus, serde, source, todo, positions, ends, found, limit,
                              max_scan, timeout)
        if not stopped_early:  # every partition read to its end
            positions.update(ends)
    has_more = any(positions[p] < end for p, end in ends.items())
    return OutcomePage(found, encode_cursor(positions), has_more)


def _scan(
    bus: Bus, serde: AvroSerde, source: str, todo: list[TopicPartition],
    positions: dict[int, int], ends: Mapping[int, int], found: list[dict[str, Any]],
    limit: int, max_scan: int, timeout: float,
) -> bool:
    """Read ``todo`` from ``positions`` towards ``ends``, appending the source's outcomes
    to ``found`` and moving ``positions`` past each record read. True when it stopped
    early (``limit``, ``max_scan`` or ``timeout`` reached after reading something), False
    when every partition reached its end."""
    key = source.encode()
    reader = bus.reader(todo)
    try:
        for tp in todo:
            reader.seek(tp, positions[tp.partition])
        deadline = time.monotonic() + timeout
        scanned = 0
        while any(reader.position(tp) < ends[tp.partition] for tp in todo):
            if time.monotonic() > deadline:
                if scanned:
                    return True  # a shorter page; has_more tells the source to go on
                raise BusUnavailable(f"{OUTCOMES} could not be read within {timeout:.0f}s")
            batch = reader.poll(min(1000, max_scan - scanned), 0.5)
            for m in batch:
                if m.offset >= ends[m.partition]:
                    continue  # written after the request came: the next page's
                positions[m.partition] = m.offset + 1
                scanned += 1
                if m.key == key and m.value is not None:
                    try:
                        record = serde.decode(m.value).record
                    except (SerdeError, SchemaNotFound):  # not an outcome: skipped
                        record = {}
                    if record.get("source") == source:
                        found.append(_item(record))
                if len(found) >= limit or scanned >= max_scan:
                    return True
    finally:
        reader.close()
    return False
