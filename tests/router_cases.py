"""The policy table: every rule of the example configuration, as data.

Each case is one signal (a sample with some fields changed) and what must happen to it:
per team the reason code of the decision, or the dead-letter reason.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from hub.events import ConsentAction, ConsentChange
from hub.samples import sample_debt, sample_eviction, sample_youth_exit

COVENANT_SOURCE = "urn:nld:oin:00000009999999999001"
OTHER_SOURCE = "urn:nld:oin:00000009999999999777"
TODAY = date.today()
NOW = datetime.now(UTC).replace(microsecond=0)


@dataclass
class Case:
    name: str
    event_type: str
    changes: dict[str, Any]
    decisions: dict[str, str] = field(default_factory=dict)  # team -> reason code
    dead_letter: str | None = None
    urgent: set[str] = field(default_factory=set)
    consents: list[tuple[str, list[str], str, datetime, datetime | None]] = field(
        default_factory=list)  # (action, scope, purpose, valid_from, valid_until)

    @property
    def subject_ref(self) -> str:
        return "ps1-" + hashlib.sha1(self.name.encode()).hexdigest()

    def record(self) -> dict[str, Any]:
        rng = random.Random(self.name)
        make = {"debt-signal": sample_debt, "eviction-risk": sample_eviction,
                "youth-care-exit": sample_youth_exit}[self.event_type]
        base = make(rng, subject_ref=self.subject_ref).to_avro()
        base.update({"postcode": "7512AB", "house_number": 14, "source": OTHER_SOURCE})
        if self.event_type == "eviction-risk":
            base.update({"stage": "RENT_ARREARS", "eviction_date": None, "crisis": False})
        if self.event_type == "debt-signal":
            base.update({"signal_kind": "ARREARS", "crisis": False,
                         "objection_recorded": False, "supply_end_date": None})
        base.update(self.changes)
        return base

    def consent_changes(self) -> list[ConsentChange]:
        out = []
        for i, (action, scope, purpose, start, until) in enumerate(self.consents):
            out.append(ConsentChange(
                event_id=str(uuid.UUID(int=random.Random(f"{self.name}{i}").getrandbits(128))),
                consent_id=f"consent-{self.name}", action=ConsentAction(action),
                subject_ref=self.subject_ref, purpose=purpose, recipient_scope=scope,
                valid_from=start, valid_until=until, source="urn:nld:oin:youth-provider",
                recorded_at=NOW - timedelta(minutes=10 - i), municipality_code="GM9999"))
        return out


DEBT, EVICTION, YOUTH = "debt-signal", "eviction-risk", "youth-care-exit"
YEAR = timedelta(days=365)
GRANT_YOUTH = ("GRANTED", ["jeugd-18plus"], "youth-care-exit-support", NOW - YEAR / 12,
               NOW + YEAR)
NOORD = "wijkteam-noord"
DEBT_TEAM = "schuldhulp-centrum"

CASES = [
    Case("debt-plain", DEBT, {}, {DEBT_TEAM: "FORWARDED"}),
    Case("debt-objection", DEBT, {"objection_recorded": True}, {DEBT_TEAM: "OBJECTION_RECORDED"}),
    Case("debt-end-of-supply", DEBT, {"signal_kind": "END_OF_SUPPLY",
                                      "supply_end_date": TODAY + timedelta(days=28)},
         {DEBT_TEAM: "FORWARDED"}, urgent={DEBT_TEAM}),
    Case("debt-crisis", DEBT, {"crisis": True}, {DEBT_TEAM: "FORWARDED"}, urgent={DEBT_TEAM}),
    Case("debt-postcode-space-lower-case", DEBT, {"postcode": "7512 ab"},
         {DEBT_TEAM: "FORWARDED"}),
    Case("debt-nonsense-postcode", DEBT, {"postcode": "ABC12"}, dead_letter="VALIDATION_FAILED"),
    Case("debt-negative-amount", DEBT, {"arrears_amount_cents": -5},
         dead_letter="VALIDATION_FAILED"),
    Case("debt-dates-out-of-order", DEBT, {"arrears_since": TODAY + timedelta(days=10)},
         dead_letter="VALIDATION_FAILED"),
    Case("debt-unknown-municipality", DEBT, {"postcode": "1011AB"},
         dead_letter="UNKNOWN_MUNICIPALITY"),
    Case("eviction-rent-arrears", EVICTION, {"stage": "RENT_ARREARS"},
         {DEBT_TEAM: "FORWARDED", NOORD: "ROLE_NOT_ALLOWED"}),
    Case("eviction-rent-arrears-objection", EVICTION,
         {"stage": "RENT_ARREARS", "objection_recorded": True},
         {DEBT_TEAM: "OBJECTION_RECORDED", NOORD: "ROLE_NOT_ALLOWED"}),
    Case("eviction-scheduled", EVICTION,
         {"stage": "EVICTION_SCHEDULED", "eviction_date": TODAY + timedelta(days=9)},
         {DEBT_TEAM: "FORWARDED", NOORD: "FORWARDED"}, urgent={DEBT_TEAM, NOORD}),
    Case("eviction-summons-no-consent", EVICTION, {"stage": "SUMMONS"},
         {DEBT_TEAM: "CONSENT_MISSING", NOORD: "CONSENT_MISSING"}),
    Case("eviction-summons-covenant", EVICTION, {"stage": "SUMMONS", "source": COVENANT_SOURCE},
         {DEBT_TEAM: "FORWARDED", NOORD: "FORWARDED"}),
    Case("eviction-judgment-consent", EVICTION, {"stage": "JUDGMENT"},
         {DEBT_TEAM: "FORWARDED", NOORD: "FORWARDED"},
         consents=[("GRANTED", ["GM9999"], "eviction-prevention", NOW - YEAR, NOW + YEAR)]),
    Case("eviction-executed", EVICTION, {"stage": "EXECUTED"},
         {DEBT_TEAM: "ROLE_NOT_ALLOWED", NOORD: "FORWARDED"}),
    Case("eviction-resolved", EVICTION, {"stage": "RESOLVED"},
         {DEBT_TEAM: "NOT_FORWARDED_BY_POLICY", NOORD: "NOT_FORWARDED_BY_POLICY"}),
    Case("eviction-overlap-resolved-by-exclude", EVICTION,
         {"stage": "EXECUTED", "postcode": "7523AB"},
         {DEBT_TEAM: "ROLE_NOT_ALLOWED", "wijkteam-zuid": "FORWARDED"}),
    Case("youth-consent", YOUTH, {}, {"jeugd-18plus": "FORWARDED"}, consents=[GRANT_YOUTH]),
    Case("youth-no-consent", YOUTH, {}, {"jeugd-18plus": "CONSENT_MISSING"}),
    Case("youth-withdrawn-just-before", YOUTH, {}, {"jeugd-18plus": "CONSENT_WITHDRAWN"},
         consents=[GRANT_YOUTH, ("WITHDRAWN", ["jeugd-18plus"], "youth-care-exit-support",
                                 NOW - YEAR / 12, NOW + YEAR)]),
    Case("youth-expired", YOUTH, {}, {"jeugd-18plus": "CONSENT_EXPIRED"},
         consents=[("GRANTED", ["jeugd-18plus"], "youth-care-exit-support", NOW - 2 * YEAR,
                    NOW - YEAR)]),
    Case("youth-other-recipient", YOUTH, {}, {"jeugd-18plus": "CONSENT_OUT_OF_SCOPE"},
         consents=[("GRANTED", ["schuldhulp-centrum"], "youth-care-exit-support",
                    NOW - YEAR, NOW + YEAR)]),
    Case("youth-other-purpose", YOUTH, {}, {"jeugd-18plus": "CONSENT_MISSING"},
         consents=[("GRANTED", ["jeugd-18plus"], "research", NOW - YEAR, NOW + YEAR)]),
]
