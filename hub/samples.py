"""Synthetic, fictional sample events (no real person behind any of them).

Used by ``signalhub selftest``, the benchmarks and the tests. Pseudonyms are random
hex in the pseudonym format (``ps1-`` + 40 hex), postcodes are drawn from a fictional
municipality's ranges.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta

from hub.events import (
    ConsentAction,
    ConsentChange,
    CreditorType,
    DebtSignal,
    DebtSignalKind,
    EvictionRisk,
    EvictionStage,
    YouthCareExit,
    YouthCareForm,
    YouthSupportNeed,
)

__all__ = ["sample_consent", "sample_debt", "sample_eviction", "sample_youth_exit"]

SOURCE = "urn:nld:oin:00000009999999999000"  # a fictional OIN
MUNICIPALITY = "GM9999"  # not a real CBS code


def _now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def _subject(rng: random.Random) -> str:
    return "ps1-" + "".join(rng.choice("0123456789abcdef") for _ in range(40))


def _postcode(rng: random.Random) -> str:
    return f"{rng.randint(7511, 7548)}{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}"


def sample_debt(rng: random.Random | None = None, subject_ref: str | None = None) -> DebtSignal:
    rng = rng or random.Random()
    today = date.today()
    return DebtSignal(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        source=SOURCE,
        occurred_at=_now(),
        received_at=_now(),
        municipality_code=MUNICIPALITY,
        subject_ref=subject_ref or _subject(rng),
        postcode=_postcode(rng),
        house_number=rng.randint(1, 250),
        creditor_type=rng.choice(list(CreditorType)),
        signal_kind=DebtSignalKind.ARREARS,
        arrears_amount_cents=rng.randint(5_000, 400_000),
        arrears_since=today - timedelta(days=rng.randint(30, 100)),
        signal_date=today,
        crisis=rng.random() < 0.05,
        objection_recorded=rng.random() < 0.03,
    )


def sample_eviction(
    rng: random.Random | None = None, subject_ref: str | None = None
) -> EvictionRisk:
    rng = rng or random.Random()
    stage = rng.choice(list(EvictionStage))
    today = date.today()
    return EvictionRisk(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        source=SOURCE,
        occurred_at=_now(),
        received_at=_now(),
        municipality_code=MUNICIPALITY,
        subject_ref=subject_ref or _subject(rng),
        postcode=_postcode(rng),
        house_number=rng.randint(1, 250),
        stage=stage,
        stage_date=today,
        eviction_date=(
            today + timedelta(days=rng.randint(5, 20))
            if stage is EvictionStage.EVICTION_SCHEDULED
            else None
        ),
        arrears_amount_cents=rng.randint(50_000, 600_000),
        crisis=stage is EvictionStage.EVICTION_SCHEDULED,
        objection_recorded=False,
    )


def sample_youth_exit(
    rng: random.Random | None = None, subject_ref: str | None = None
) -> YouthCareExit:
    rng = rng or random.Random()
    turns_18 = date.today() + timedelta(days=rng.randint(60, 200))
    return YouthCareExit(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        source=SOURCE,
        occurred_at=_now(),
        received_at=_now(),
        municipality_code=MUNICIPALITY,
        subject_ref=subject_ref or _subject(rng),
        postcode=_postcode(rng),
        turns_18_on=turns_18,
        care_form=rng.choice(list(YouthCareForm)),
        planned_end_date=turns_18,
        support_needs=rng.sample(list(YouthSupportNeed), k=2),
        provider_contact_role="mentor",
    )


def sample_consent(
    subject_ref: str, team_id: str, rng: random.Random | None = None
) -> ConsentChange:
    rng = rng or random.Random()
    return ConsentChange(
        event_id=str(uuid.UUID(int=rng.getrandbits(128), version=4)),
        consent_id=f"consent-{rng.getrandbits(32):08x}",
        action=ConsentAction.GRANTED,
        subject_ref=subject_ref,
        purpose="youth-care-exit-support",
        recipient_scope=[team_id],
        valid_from=_now(),
        valid_until=_now() + timedelta(days=365),
        source=SOURCE,
        recorded_at=_now(),
        municipality_code=MUNICIPALITY,
    )
