"""Value types of the consent ledger: statuses, check results, consent records.

Times inside the ledger are integer milliseconds since the epoch (UTC), as on the topic
(``timestamp-millis``); the helpers here convert exactly, without float rounding.
"""

from __future__ import annotations

import enum
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from hub.errors import ConsentLedgerError
from hub.state_layout import CONSENT_LEDGER_FILE

__all__ = [
    "LEDGER_FILE",
    "ConsentCheck",
    "ConsentErased",
    "ConsentLedgerError",
    "ConsentRecord",
    "ConsentStatus",
    "STATUS_RANK",
    "aware",
    "from_ms",
    "iso_ms",
    "ledger_path",
    "to_ms",
]

#: file name of the ledger inside the state directory
LEDGER_FILE = CONSENT_LEDGER_FILE
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MILLI = timedelta(milliseconds=1)


class ConsentStatus(enum.StrEnum):
    """Outcome of a consent check."""

    VALID = "VALID"
    MISSING = "MISSING"
    WITHDRAWN = "WITHDRAWN"
    EXPIRED = "EXPIRED"
    NOT_YET_VALID = "NOT_YET_VALID"
    OUT_OF_SCOPE = "OUT_OF_SCOPE"


#: VALID wins; otherwise the most informative status does (higher is better)
STATUS_RANK = {
    ConsentStatus.VALID: 5,
    ConsentStatus.WITHDRAWN: 4,
    ConsentStatus.EXPIRED: 3,
    ConsentStatus.NOT_YET_VALID: 2,
    ConsentStatus.OUT_OF_SCOPE: 1,
    ConsentStatus.MISSING: 0,
}


@dataclass(frozen=True, slots=True)
class ConsentCheck:
    """The answer to "may this go to that team now?"; ``detail`` holds no personal data."""

    status: ConsentStatus
    consent_id: str | None
    detail: str

    @property
    def valid(self) -> bool:
        return self.status is ConsentStatus.VALID


@dataclass(frozen=True, slots=True)
class ConsentErased:
    """A tombstone on consent.v1: the consent is forgotten (erasure after retention)."""

    consent_id: str


@dataclass(frozen=True, slots=True)
class ConsentRecord:
    """The ledger's state of one consent."""

    consent_id: str
    subject_ref: str
    purpose: str
    recipient_scope: tuple[str, ...]
    valid_from: datetime
    valid_until: datetime | None
    withdrawn_at: datetime | None
    source: str
    recorded_at: datetime
    municipality_code: str | None
    event_id: str

    def status_at(self, at: datetime) -> ConsentStatus:
        """Status at ``at`` regardless of recipient: VALID, WITHDRAWN, EXPIRED or
        NOT_YET_VALID."""
        at = aware(at)
        if self.withdrawn_at is not None:
            return ConsentStatus.WITHDRAWN
        if at < self.valid_from:
            return ConsentStatus.NOT_YET_VALID
        if self.valid_until is not None and at >= self.valid_until:
            return ConsentStatus.EXPIRED
        return ConsentStatus.VALID


def ledger_path(state_dir: str | os.PathLike[str]) -> Path:
    """Where the ledger lives in a state directory: ``<state_dir>/consent-ledger.db``."""
    return Path(state_dir) / LEDGER_FILE


def aware(at: datetime) -> datetime:
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError("at must be timezone-aware (e.g. datetime.now(UTC))")
    return at


def to_ms(value: datetime) -> int:
    """Milliseconds since the epoch, exactly (no float rounding)."""
    return (value - _EPOCH) // _MILLI


def from_ms(ms: int) -> datetime:
    return _EPOCH + ms * _MILLI


def iso_ms(ms: int) -> str:
    return from_ms(ms).isoformat().replace("+00:00", "Z")
