"""Batch import on a source's machine: rows sealed to the hub instead of pseudonymised.

``signalhub import --seal-to PUBLIC_KEY`` (or ``HUB_INTAKE_PUBLIC_KEY``) runs the same
import as at the hub (:mod:`hub.batch_import`: mapping, rejects file, content-derived
event ids, import ledger) with two parts swapped:

- :class:`~hub.sealed.LocalCheck` instead of the pseudonymiser: the BSN is checked (the
  11-test) and stands in the signal as a local reference keyed with this machine's key
  (``<state_dir>/import-seal.key``, made once, 0600). Event ids derive from the content
  with that reference, so they stay the same run after run and cannot be traced back
  to a BSN by anyone without the key;
- :class:`SealedImportPublisher` instead of the signal publisher: every new row is
  sealed, BSN included, to the hub's intake public key and produced to
  ``intake.sealed.v1``; the hub pseudonymises it (see ``docs/privacy.md``).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel

from hub.bus.base import Bus
from hub.errors import BatchFileError
from hub.intake_keys import Sealer
from hub.sealed import LocalCheck, SealedPublisher, seal_signal, sealed_content
from hub.serde import AvroSerde
from hub.state_layout import IMPORT_SEAL_KEY_FILE
from hub.topics import SEALED_INTAKE

__all__ = ["SEAL_KEY_FILE", "SealedImportPublisher", "local_check_for", "sealed_import"]

#: file name, in the state directory, of this machine's key for local references
SEAL_KEY_FILE = IMPORT_SEAL_KEY_FILE


def local_check_for(state_dir: Path) -> LocalCheck:
    """The :class:`LocalCheck` with this machine's key (made on first use)."""
    path = state_dir / SEAL_KEY_FILE
    try:
        if not path.exists():
            state_dir.mkdir(parents=True, exist_ok=True)
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:
                pass
            else:
                with os.fdopen(fd, "w", encoding="ascii") as file:
                    file.write(secrets.token_hex(32))
        key = bytes.fromhex(path.read_text(encoding="ascii").strip())
    except (OSError, ValueError) as exc:
        raise BatchFileError(f"cannot read or make {path}: check --state-dir /"
                             " HUB_STATE_DIR") from exc
    if len(key) != 32:
        raise BatchFileError(f"{path} holds no usable key; delete it to make a new one")
    return LocalCheck(key)


class SealedImportPublisher:
    """Publishes imported rows sealed to the hub (the counterpart of ImportPublisher)."""

    def __init__(self, bus: Bus, serde: AvroSerde, sealer: Sealer, local: LocalCheck) -> None:
        self.bus = bus
        self.sealer = sealer
        self.local = local
        self._records = SealedPublisher(serde)

    def topic(self, event_type: str) -> str:
        return SEALED_INTAKE

    def publish_with_ids(self, event_type: str, signals: Sequence[tuple[str, BaseModel]]) -> None:
        """Seal and publish (event id, signal) pairs durably, then forget their BSNs."""
        now = datetime.now(UTC)
        sealed = [seal_signal(self.sealer, event_type, str(getattr(signal, "source")),  # noqa: B009
                              sealed_content(signal, self.local, event_id), now)
                  for event_id, signal in signals]
        if sealed:
            self.bus.produce(self._records.records(sealed))
        self.local.forget()


def sealed_import(public_key: str, state_dir: Path, bus: Bus, serde: AvroSerde
                  ) -> tuple[LocalCheck, SealedImportPublisher]:
    """The pseudonymiser and the publisher of a batch import that seals its rows to
    ``public_key``; raises ConfigError for a malformed key."""
    sealer = Sealer(public_key)
    local = local_check_for(state_dir)
    return local, SealedImportPublisher(bus, serde, sealer, local)
