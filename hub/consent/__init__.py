"""Consent: the ledger of consent.v1 that every forwarding decision checks.

- :class:`ConsentLedger`: the latest state of every consent in a local SQLite file
  (``<state_dir>/consent-ledger.db``), with :meth:`ConsentLedger.check`;
- :class:`LedgerFollower`: keeps a ledger caught up with consent.v1 on either bus;
- :func:`publish_consent`: produce a grant or withdrawal to consent.v1.

See ``docs/consent.md``.
"""

from __future__ import annotations

from hub.consent.follower import LedgerFollower, group_for, publish_consent
from hub.consent.ledger import ConsentLedger
from hub.consent.model import (
    LEDGER_FILE,
    ConsentCheck,
    ConsentErased,
    ConsentLedgerError,
    ConsentRecord,
    ConsentStatus,
    ledger_path,
)

__all__ = [
    "LEDGER_FILE",
    "ConsentCheck",
    "ConsentErased",
    "ConsentLedger",
    "ConsentLedgerError",
    "ConsentRecord",
    "ConsentStatus",
    "LedgerFollower",
    "group_for",
    "ledger_path",
    "publish_consent",
]
