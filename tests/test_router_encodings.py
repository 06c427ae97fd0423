"""The router's directly built encodings equal the general ones they stand in for."""

from __future__ import annotations

import json
import random
import uuid

from hub.bus.embedded import decode_headers, encode_headers
from hub.router_state import _decode, _encode


def _json(entries: dict[str, float]) -> bytes:
    return json.dumps({"signals": sorted(entries.items())}, separators=(",", ":")).encode()


def test_changelog_records_are_what_json_dumps_writes() -> None:
    rng = random.Random(5)
    odd_ids = ['a"b', "back\\slash", "é", "tab\t", "~" + str(uuid.uuid4()), ""]
    odd_times = [0.0, -1.5, 1e22, 1.7e9 + 0.123456, float("inf"), 5]
    for _ in range(300):
        entries: dict[str, float] = {}
        for _ in range(rng.randint(1, 4)):
            e = rng.choice([str(uuid.UUID(int=rng.getrandbits(128))), *odd_ids])
            entries[e] = rng.choice([rng.uniform(0, 2e9), *odd_times])  # type: ignore[list-item]
        assert _encode(entries) == _json(entries)
        if all(a == a and abs(a) != float("inf") for a in entries.values()):
            assert _decode(_encode(entries)) == {e: float(a) for e, a in entries.items()}
    assert _encode({}) is None


def test_headers_round_trip() -> None:
    headers = (("ce_id", b"x" * 40), ("content-type", b"application/avro"), ("e", b""))
    assert decode_headers(encode_headers(headers)) == headers
    assert encode_headers(()) is None
