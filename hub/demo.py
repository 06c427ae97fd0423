"""Synthetic traffic for ``signalhub demo``: realistic, fictional signals over the HTTP API.

A steady stream of debt signals (a few with the creditor's objection), eviction-risk
signals of every stage, youth-care exits (half of them with a consent granted first), and
a few signals from outside every configured area (they become dead letters). BSNs are
random numbers passing the 11-test; no real person is behind any of them.
"""

from __future__ import annotations

import random
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import httpx

__all__ = ["DemoTraffic", "random_bsn"]

MUNICIPALITY = "GM9999"
_CREDITORS = ["ENERGY", "RENT", "WATER", "HEALTH_INSURANCE_CAK", "OTHER"]
_STAGES = ["RENT_ARREARS", "SUMMONS", "JUDGMENT", "EVICTION_SCHEDULED", "EXECUTED", "RESOLVED"]


def random_bsn(rng: random.Random) -> str:
    """A random nine-digit number that passes the BSN 11-test (fictional)."""
    while True:
        digits = [rng.randint(0, 9) for _ in range(8)]
        if digits[0] == 0:
            continue
        total = sum(d * w for d, w in zip(digits, range(9, 1, -1), strict=True))
        last = total % 11
        if last < 10:
            return "".join(map(str, digits)) + str(last)


def _address(rng: random.Random, outside: bool = False) -> dict[str, Any]:
    pc4 = rng.randint(1011, 1099) if outside else rng.randint(7511, 7548)
    return {"postcode": f"{pc4}{rng.choice('ABCDEFGHJK')}{rng.choice('ABCDEFGHJK')}",
            "house_number": rng.randint(1, 240)}


@dataclass
class DemoTraffic:
    """Posts signals to the ingest API at ``rate`` per second until stopped."""

    base_url: str
    api_key: str
    rate: float = 5.0
    seed: int = 2026
    sent: dict[str, int] = field(default_factory=dict)
    failed: int = 0
    stop_event: threading.Event = field(default_factory=threading.Event)

    def _count(self, key: str) -> None:
        self.sent[key] = self.sent.get(key, 0) + 1

    def _debt(self, rng: random.Random) -> tuple[str, dict[str, Any]]:
        today = date.today()
        kind = "END_OF_SUPPLY" if rng.random() < 0.1 else "ARREARS"
        body = {
            "bsn": random_bsn(rng), "municipality_code": MUNICIPALITY, **_address(rng),
            "creditor_type": "ENERGY" if kind == "END_OF_SUPPLY" else rng.choice(_CREDITORS),
            "signal_kind": kind, "arrears_amount_cents": rng.randint(8_000, 350_000),
            "arrears_since": (today - timedelta(days=rng.randint(30, 100))).isoformat(),
            "signal_date": today.isoformat(), "crisis": rng.random() < 0.05,
            "objection_recorded": rng.random() < 0.08,
        }
        if kind == "END_OF_SUPPLY":
            body["supply_end_date"] = (today + timedelta(days=28)).isoformat()
        return "debt", body

    def _eviction(self, rng: random.Random) -> tuple[str, dict[str, Any]]:
        today = date.today()
        stage = rng.choice(_STAGES)
        body = {"bsn": random_bsn(rng), "municipality_code": MUNICIPALITY, **_address(rng),
                "stage": stage, "stage_date": today.isoformat(),
                "arrears_amount_cents": rng.randint(60_000, 700_000),
                "crisis": stage == "EVICTION_SCHEDULED", "objection_recorded": False}
        if stage == "EVICTION_SCHEDULED":
            body["eviction_date"] = (today + timedelta(days=rng.randint(6, 20))).isoformat()
        return "eviction", body

    def _youth(self, rng: random.Random, client: httpx.Client) -> tuple[str, dict[str, Any]]:
        bsn = random_bsn(rng)
        if rng.random() < 0.5:  # the young person consented to the hand-over
            answer = client.post("/v1/consents", json={
                "bsn": bsn, "municipality_code": MUNICIPALITY,
                "purpose": "youth-care-exit-support", "recipient_scope": ["jeugd-18plus"]})
            self._count("consents granted" if answer.status_code == 202 else "consent errors")
        turns_18 = date.today() + timedelta(days=rng.randint(90, 200))
        return "youth-care-exit", {
            "bsn": bsn, "municipality_code": MUNICIPALITY, "postcode": _address(rng)["postcode"],
            "turns_18_on": turns_18.isoformat(), "planned_end_date": turns_18.isoformat(),
            "care_form": rng.choice(["RESIDENTIAL", "FOSTER", "FAMILY_HOME", "SECURE"]),
            "support_needs": rng.sample(["HOUSING", "INCOME", "DEBT", "EDUCATION_WORK"], k=2),
            "provider_contact_role": "mentor",
        }

    def next_signal(self, rng: random.Random, client: httpx.Client) -> tuple[str, dict[str, Any]]:
        roll = rng.random()
        if roll < 0.55:
            return self._debt(rng)
        if roll < 0.80:
            return self._eviction(rng)
        if roll < 0.95:
            return self._youth(rng, client)
        kind, body = self._debt(rng)  # an address no team covers: a dead letter
        body.update(_address(rng, outside=True))
        return kind, body

    def run(self) -> None:
        rng = random.Random(self.seed)
        headers = {"Authorization": f"Bearer {self.api_key}"}
        with httpx.Client(base_url=self.base_url, headers=headers, timeout=30.0,
                          trust_env=False) as client:
            next_at = time.monotonic()
            while not self.stop_event.is_set():
                kind, body = self.next_signal(rng, client)
                try:
                    answer = client.post(f"/v1/signals/{kind}", json=body)
                    self._count(f"{kind} {'accepted' if answer.status_code == 202 else 'refused'}")
                except httpx.HTTPError:
                    self.failed += 1
                next_at += 1.0 / self.rate
                self.stop_event.wait(max(0.0, next_at - time.monotonic()))
