"""The one place that knows what lies under ``state_dir`` (``HUB_STATE_DIR``).

Two kinds of state live there (docs/store.md):

* the **application stores** (sources and API keys, ingest idempotency, the import
  ledger, inbox, accounts, ...): on SQLite, the embedded default, all of them in one
  file, :attr:`StateLayout.store_database`; on PostgreSQL (``HUB_DATABASE_URL``) none of
  them is under ``state_dir``;
* **stream-local state**, always local SQLite and rebuilt from topics when lost: a
  router's consent ledger and partition state, the HTTP intake's consent ledger, the
  stream slots; plus a few key files (web cookie key, import seal key).

Every path under ``state_dir`` is spelled here and nowhere else.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "CONSENT_LEDGER_FILE",
    "HTTP_CONSENT_LEDGER_FILE",
    "IMPORT_SEAL_KEY_FILE",
    "STORE_FILE",
    "WEB_SECRET_FILE",
    "StateLayout",
    "partition_state_file",
]

#: the SQLite file of every application store (unless HUB_DATABASE_URL names another)
STORE_FILE = "store.db"
#: a router's consent ledger, inside the router's own folder
CONSENT_LEDGER_FILE = "consent-ledger.db"
#: the HTTP intake's consent ledger (stream-local, rebuilt from the consent topic)
HTTP_CONSENT_LEDGER_FILE = "http-consent-ledger.db"
#: the key that signs the web app's session cookies
WEB_SECRET_FILE = "web-secret.key"
#: the X25519 key pair a source's machine seals import rows with
IMPORT_SEAL_KEY_FILE = "import-seal.key"


def partition_state_file(directory: Path, partition: int) -> Path:
    """The SQLite file of one input partition's router state inside ``directory``."""
    return directory / f"p{partition}.db"


@dataclass(frozen=True, slots=True)
class StateLayout:
    """The paths under one state directory."""

    root: Path

    @classmethod
    def of(cls, state_dir: str | os.PathLike[str]) -> StateLayout:
        return cls(Path(state_dir))

    @property
    def store_database(self) -> Path:
        """The SQLite file of the application stores (the embedded default)."""
        return self.root / STORE_FILE

    @property
    def http_consent_ledger(self) -> Path:
        return self.root / HTTP_CONSENT_LEDGER_FILE

    @property
    def web_secret(self) -> Path:
        return self.root / WEB_SECRET_FILE

    @property
    def import_seal_key(self) -> Path:
        return self.root / IMPORT_SEAL_KEY_FILE

    def router(self, index: int | None = None) -> Path:
        """The folder of one router: ``router`` (the only one) or ``router-<index>``."""
        return self.root / ("router" if index is None else f"router-{index}")

    @staticmethod
    def consent_ledger(router_dir: str | os.PathLike[str]) -> Path:
        """A router's consent ledger inside its own folder."""
        return Path(router_dir) / CONSENT_LEDGER_FILE

    @staticmethod
    def router_history(router_dir: str | os.PathLike[str], group: str) -> Path:
        """The folder of a router group's partition state inside the router's folder."""
        return Path(router_dir) / "router" / group

    @staticmethod
    def slots(directory: str | os.PathLike[str]) -> Path:
        """The stream slots' folder inside a component's state folder."""
        return Path(directory) / "slots"
