"""Sealed intake: signals sealed to the hub's public key, on topic ``intake.sealed.v1``.

A source system that produces to the bus directly never holds a pseudonym key (with one,
every BSN could be found back by trying all 10^8 valid ones). Instead it validates a
signal as far as it can without the key (:class:`LocalCheck`: fields, types, the BSN
11-test), seals the signal, BSN included, to the hub's intake public key
(:class:`~hub.intake_keys.Sealer`) and produces a :class:`SealedSignal` keyed by its
event id. The hub opens it (:func:`open_signal`), pseudonymises and validates it with
:func:`hub.intake.build_signal` like the HTTP API and publishes the signal to its topic
(``connectors.sources.sealed_intake``). See ``docs/privacy.md``.

The sealed content is UTF-8 JSON::

    {"event_type": "debt-signal", "source": "urn:...", "signal": {...fields, "bsn": ...}}

``event_type`` and ``source`` repeat the record's, so a box cannot be passed off as
another source's or another type's without the hub noticing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from hub import cloudevents
from hub.bus.base import Record
from hub.errors import ConfigError, DecodeError
from hub.events import SealedSignal
from hub.intake_keys import Opener, Sealer
from hub.pseudonym import normalise_bsn
from hub.serde import AvroSerde
from hub.topics import SEALED_INTAKE
from hub.values import MUNICIPALITY_CODE

__all__ = [
    "LocalCheck",
    "SealedPublisher",
    "SealedSignal",
    "open_signal",
    "seal_signal",
    "sealed_content",
]

#: signal fields the hub sets itself (never sealed)
_HUB_FIELDS = frozenset({"received_at", "source"})
#: the sealed content is {..., "signal": {field: value or list of values}}
_MAX_DEPTH = 3


class LocalCheck:
    """Stands in for the hub's :class:`~hub.pseudonym.Pseudonymiser` where there is no
    key (on a source's machine): checks the BSN and gives a local reference in the
    pseudonym format, ``ps1-`` + HMAC-SHA256 with a key of this machine, that never
    leaves it. :meth:`bsn_for` gives the BSN back for sealing. The local key keeps
    content-derived event ids (``signalhub import``) stable and unguessable: pass the
    same ``key`` each run (the importer keeps it in its state directory)."""

    def __init__(self, key: bytes | None = None) -> None:
        self._key = key or secrets.token_bytes(32)
        self._bsns: dict[str, str] = {}

    def subject_ref(self, bsn: str, municipality_code: str) -> str:
        bsn = normalise_bsn(bsn)  # InvalidBsn: the 11-test, as at the hub
        code = municipality_code.strip().upper()
        if not MUNICIPALITY_CODE.match(code):  # the hub has keys for GM codes only
            raise ConfigError("a BSN needs a municipality_code")
        digest = hmac.new(self._key, f"{code}:{bsn}".encode(), hashlib.sha256).hexdigest()
        ref = "ps1-" + digest[:40]
        self._bsns[ref] = bsn
        return ref

    def bsn_for(self, subject_ref: str) -> str | None:
        """The BSN behind a local reference made here (None for any other value)."""
        return self._bsns.get(subject_ref)

    def forget(self) -> None:
        """Drop the remembered BSNs (after each published batch)."""
        self._bsns.clear()


def sealed_content(signal: BaseModel, local: LocalCheck, event_id: str | None = None
                   ) -> dict[str, Any]:
    """The fields to seal for a signal validated with ``local``: as JSON types, the
    local reference replaced by its BSN, without what the hub sets itself."""
    content = signal.model_dump(mode="json", exclude=set(_HUB_FIELDS))
    bsn = local.bsn_for(str(content.get("subject_ref")))
    if bsn is not None:
        del content["subject_ref"]
        content["bsn"] = bsn
    if event_id is not None:
        content["event_id"] = event_id
    return content


def seal_signal(sealer: Sealer, event_type: str, source: str, content: Mapping[str, Any],
                now: datetime | None = None) -> SealedSignal:
    """Seal ``content`` (which holds the ``event_id``) into a record for the bus."""
    plaintext = json.dumps({"event_type": event_type, "source": source,
                            "signal": dict(content)}, separators=(",", ":")).encode()
    return SealedSignal(event_id=str(content["event_id"]), event_type=event_type,
                        source=source, key_id=sealer.key_id,
                        sealed_payload=sealer.seal(plaintext), sent_at=now or datetime.now(UTC))


def _depth(value: object, level: int = 0) -> int:
    """How deep JSON containers nest (stops counting past the limit)."""
    if level > _MAX_DEPTH or not isinstance(value, dict | list):
        return level
    items = value.values() if isinstance(value, dict) else value
    return max((_depth(v, level + 1) for v in items), default=level + 1)


def open_signal(opener: Opener, sealed: SealedSignal) -> dict[str, Any]:
    """The signal's fields (BSN included) from a sealed record. Raises
    :class:`DecodeError` when the box does not open or its content is not what this
    module seals, naming no value."""
    if sealed.key_id != opener.key_id:
        raise DecodeError(f"sealed to the intake key {sealed.key_id}, not to this hub's"
                          f" ({opener.key_id}): the source has an old or another public key")
    plaintext = opener.open(sealed.sealed_payload)
    try:
        content = json.loads(plaintext)
    except (ValueError, RecursionError):
        content = None
    if (not isinstance(content, dict) or not isinstance(content.get("signal"), dict)
            or _depth(content) > _MAX_DEPTH):
        raise DecodeError("the sealed content is not a sealed signal (JSON with a signal)")
    for name in ("event_type", "source"):
        if content.get(name) != getattr(sealed, name):
            raise DecodeError(f"the sealed content's {name} differs from the record's")
    signal: dict[str, Any] = content["signal"]
    if str(signal.get("event_id", "")).lower() != sealed.event_id:
        raise DecodeError("the sealed content's event_id differs from the record's")
    return signal


class SealedPublisher:
    """Produces sealed signals to ``intake.sealed.v1``, keyed by event id."""

    def __init__(self, serde: AvroSerde, topic: str = SEALED_INTAKE) -> None:
        self.serde = serde
        self.topic = topic

    def record(self, sealed: SealedSignal) -> Record:
        return Record(self.topic, self.serde.encode_model(self.topic, sealed),
                      sealed.event_id.encode(), cloudevents.headers(
                          id=sealed.event_id, source=sealed.source,
                          type="nl.signalhub.sealed-signal.v1", time=sealed.sent_at))

    def records(self, sealed: Sequence[SealedSignal]) -> list[Record]:
        return [self.record(s) for s in sealed]
